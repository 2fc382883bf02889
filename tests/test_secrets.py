"""No password or SecretKey anywhere a campaign writes: ledger, workbook, summaries, logs."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import mobset_campaign as mc
from mobset_campaign import _protocol


@pytest.mark.slow
def test_a_whole_campaign_writes_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    keys: set[str] = set()
    real = _protocol.secret_key

    def spy(corp_id: int | str, password: str, timestamp: str) -> str:
        key = real(corp_id, password, timestamp)
        keys.add(key)
        return key

    monkeypatch.setattr(_protocol, "secret_key", spy)
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG), mc.Simulator(seed=9, report_delay=(0.0, 0.2)) as sim:
        password = sim.account.password
        client = sim.client()
        contacts = mc.read_contacts(
            pd.DataFrame(
                {"姓名": ["甲", "乙", "丙"], "手机": ["13512346789", "13900000001", "020-1234567"]}
            )
        )
        frame = mc.render(
            contacts,
            "{{姓名}}您好，本周会员日全场九折。",
            signature=client.get_sign(),
            opt_out=True,
        )
        ledger_path = tmp_path / "ledger.sqlite"
        with mc.Ledger(ledger_path) as ledger:
            estimate = mc.estimate(frame, client=client)
            sent = mc.send(
                frame, client, campaign="c", ledger=ledger, quiet_hours=None, progress=False
            )
            sim.inject_reply("13512346789", "退订")
            collected = mc.collect(
                client, ledger, campaign="c", timeout=5, min_interval=0.1, progress=False
            )
            merged = mc.merge_status(frame, ledger, "c")
            workbook = mc.export_excel(
                merged, tmp_path / "c.xlsx", replies=ledger.replies_frame("c")
            )
            status = mc.campaign_status(ledger, "c")
            for obj in (client, estimate, sent, collected, status):
                texts += [str(obj), repr(obj), getattr(obj, "_repr_html_", lambda: "")()]
    texts += [r.getMessage() for r in caplog.records]
    assert keys, "the spy saw no request"
    blobs = [b for p in tmp_path.glob("ledger.sqlite*") for b in [p.read_bytes()]]
    with zipfile.ZipFile(workbook) as book:
        blobs += [book.read(name) for name in book.namelist()]
    everything_text = "\n".join(texts)
    for secret in {password, *keys, *(k.upper() for k in keys)}:
        assert secret not in everything_text
        needle = secret.encode()
        assert not any(needle in blob for blob in blobs), "a secret reached a file"
