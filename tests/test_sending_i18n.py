"""The sending side speaks Chinese when asked: a busy campaign, a bad ``timer_send``, the
checks before sending (balance, window), resend and cancel refusals, a lost lease and the
ledger copy's report — and stays English by default. Real simulator, real ledgers."""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mobset_campaign as mc
from mobset_campaign import Ledger, Simulator, cancel, resend_unknown, send
from mobset_campaign._protocol import beijing_now
from mobset_campaign.collector import collect, retention_warning
from mobset_campaign.errors import CampaignBusyError, InputError, LedgerError
from mobset_campaign.ledger.copying import copy_ledger
from mobset_campaign.plan import SendWindow
from mobset_campaign.simulator import Account
from mobset_campaign.summaries import SendSummary

CJK = re.compile(r"[\u4e00-\u9fff]")
#: English words that only a sentence left untranslated would hold (names and flags
#: in a Chinese message have none of them as a word of their own; paths are stripped first).
ENGLISH = re.compile(r"\b(the|is|was|nothing|again|before|could|must|not a)\b")
#: Paths are no language, whatever folders they pass through (CI's checkout is in /check/).
PATH = re.compile(r"(?:[A-Za-z]:)?[/\\][\w./\\-]*")


def chinese(text: str | None) -> str:
    assert text is not None
    assert CJK.search(text), text
    assert not ENGLISH.search(PATH.sub(" ", text)), text
    return text


def english(text: str | None) -> str:
    assert text is not None
    assert not CJK.search(text), text
    return text


def rows(n: int) -> pd.DataFrame:
    phones = [f"1350000{i:04d}" for i in range(n)]
    return pd.DataFrame(
        {"phone": phones, "content": ["春季促销"] * n, "parts": [1] * n, "sendable": [True] * n}
    )


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=7, manual_clock=True) as s:
        yield s


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.sqlite") as led:
        yield led


def run(client: Any, ledger: Ledger, n: int = 3, **kw: Any) -> SendSummary:
    kw.setdefault("quiet_hours", None)
    return send(rows(n), client, campaign="spring", ledger=ledger, progress=False, **kw)


def closed_window() -> tuple[str, str]:
    now = beijing_now()
    return (
        (now + timedelta(hours=1)).strftime("%H:%M"),
        (now + timedelta(hours=2)).strftime("%H:%M"),
    )


# ---------------------------------------------------------------------------- busy campaign


def test_a_busy_campaign_is_told_in_chinese_and_stays_english_by_default(
    sim: Simulator, ledger: Ledger
) -> None:
    ledger.ensure_campaign("spring")
    with ledger.campaign_locked("spring", "cancel"):
        with mc.using_language("zh"), pytest.raises(CampaignBusyError) as busy:
            run(sim.client(), ledger)
        text = chinese(str(busy.value))
        assert "'spring'" in text and str(busy.value.pid) in text and "cancel" in text
        # the message is made again when unpickled, in the language of that moment
        with mc.using_language("zh"):
            again = pickle.loads(pickle.dumps(busy.value))
        assert isinstance(again, CampaignBusyError) and str(again) == text
        assert (again.command, again.pid) == ("cancel", busy.value.pid)
        with pytest.raises(CampaignBusyError) as busy:
            run(sim.client(), ledger)
        assert english(str(busy.value)).startswith("Campaign 'spring' is busy: cancel")
    assert sim.accepted() == []


def test_resend_and_cancel_refusals_in_chinese(sim: Simulator, ledger: Ledger) -> None:
    client = sim.client()
    with mc.using_language("zh"):
        with pytest.raises(InputError) as missing:
            resend_unknown("nope", ledger, client, quiet_hours=None, progress=False)
        assert "'nope'" in chinese(str(missing.value)).split("：", 1)[1]
        assert str(missing.value).startswith("resend_unknown：")
        with pytest.raises(InputError) as missing:
            cancel("nope", ledger, client)
        assert chinese(str(missing.value)).startswith("cancel：")
    with pytest.raises(InputError) as missing:
        resend_unknown("nope", ledger, client)
    assert english(str(missing.value)).startswith("resend_unknown: campaign 'nope' is not in")


def test_resend_unknown_while_a_send_holds_the_campaign_is_refused_in_chinese(
    sim: Simulator, ledger: Ledger
) -> None:
    run(sim.client(), ledger)
    with (
        ledger.campaign_locked("spring", "send"),
        mc.using_language("zh"),
        pytest.raises(CampaignBusyError) as busy,
    ):
        resend_unknown("spring", ledger, sim.client(), quiet_hours=None, progress=False)
    assert "send" in chinese(str(busy.value))


def test_a_lost_lease_is_told_in_chinese(ledger: Ledger) -> None:
    ledger.ensure_campaign("c")
    ledger.register("c", [(p, p, "hi", 1) for p in rows(2)["phone"]])
    mine = ledger.lock_campaign("c", "send")
    with ledger._tx() as cur:  # another run took it over, taking this one for dead
        cur.execute("UPDATE campaign_locks SET holder = 'someone-else'")
    ids = [m.id for m in ledger.pending("c")]
    with mc.using_language("zh"), pytest.raises(LedgerError) as lost:
        ledger.claim("c", ids, holder=mine)
    assert "'c'" in chinese(str(lost.value))
    with pytest.raises(LedgerError, match="no longer holds it"):
        ledger.claim("c", ids, holder=mine)


# ---------------------------------------------------------------------------- timer_send


@pytest.mark.parametrize(
    ("timer_send", "english_text"),
    [
        ("next tuesday", "is not a time in the form 'YYYY-MM-DD HH:MM:SS'"),
        ("2001-01-01 10:00:00", "timer_send 2001-01-01 10:00:00 (Beijing) is in the past"),
    ],
)
def test_a_bad_timer_send_is_refused_in_chinese(
    sim: Simulator, ledger: Ledger, timer_send: str, english_text: str
) -> None:
    with mc.using_language("zh"), pytest.raises(InputError) as bad:
        run(sim.client(), ledger, timer_send=timer_send)
    text = chinese(str(bad.value))
    assert "timer_send" in text and "北京时间" in text
    if "2001" in timer_send:
        assert "2001年1月1日 10:00:00" in text  # a date as a Chinese reader writes it
    with pytest.raises(InputError) as bad:
        run(sim.client(), ledger, timer_send=timer_send)
    assert english_text in english(str(bad.value))
    assert sim.accepted() == []


def test_parameter_refusals_in_chinese(sim: Simulator, ledger: Ledger) -> None:
    for kw in (
        {"batch_size": 51},
        {"add_num": "12a"},
        {"quiet_hours": ("8am", "20:00")},
        {"quiet_hours": ("08:00", "08:00")},
        {"wait_for_lock": -1},
    ):
        with mc.using_language("zh"), pytest.raises(InputError) as bad:
            run(sim.client(), ledger, **kw)
        chinese(str(bad.value))
        with pytest.raises(InputError) as bad:
            run(sim.client(), ledger, **kw)
        english(str(bad.value))


# ---------------------------------------------------------------------------- preflight


def test_a_short_balance_stops_in_chinese(ledger: Ledger) -> None:
    with Simulator(accounts=[Account(balance=5)], manual_clock=True) as sim:
        with mc.using_language("zh"):
            summary = run(sim.client(), ledger, n=8)
        assert sim.accepted() == []
    reason = chinese(summary.stopped_reason)
    assert "余额为 5 条" in reason and "需要 8 条" in reason and "差 3 条" in reason
    assert "send()" in reason
    with Simulator(accounts=[Account(balance=5)], manual_clock=True) as sim:
        summary = run(sim.client(), ledger, n=8)
    assert "the balance is 5 parts but this send needs 8 (3 short)" in english(
        summary.stopped_reason
    )


def test_a_dry_run_short_of_balance_says_so_in_chinese(ledger: Ledger) -> None:
    with Simulator(accounts=[Account(balance=5)], manual_clock=True) as sim, mc.using_language("zh"):
        summary = run(sim.client(), ledger, n=8, dry_run=True)
    reason = chinese(summary.stopped_reason)
    assert "余额（5 条）" in reason and "少 3 条" in reason


def test_outside_the_window_nothing_is_sent_and_it_says_so_in_chinese(
    sim: Simulator, ledger: Ledger
) -> None:
    with mc.using_language("zh"):
        summary = run(sim.client(), ledger, quiet_hours=closed_window())
        window = str(SendWindow.parse(closed_window()))
    reason = chinese(summary.stopped_reason)
    assert "北京时间" in reason and window in reason and "quiet_hours=None" in reason
    summary = run(sim.client(), ledger, quiet_hours=closed_window())
    assert "outside the sending window" in english(summary.stopped_reason)
    assert sim.accepted() == []


def test_a_scheduled_time_outside_the_window_is_refused_in_chinese(
    sim: Simulator, ledger: Ledger
) -> None:
    late = (beijing_now() + timedelta(days=1)).replace(hour=23, minute=0, second=0)
    with mc.using_language("zh"):
        summary = run(sim.client(), ledger, timer_send=late, quiet_hours=("08:00", "20:00"))
    reason = chinese(summary.stopped_reason)
    assert "北京时间 08:00–20:00" in reason and f"{late.day}日 23:00:00" in reason
    assert sim.accepted() == []


# ---------------------------------------------------------------------------- collect, copy


def test_collect_refusals_and_warnings_in_chinese(sim: Simulator, ledger: Ledger) -> None:
    with mc.using_language("zh"):
        with pytest.raises(InputError) as empty:
            collect(sim.client(), ledger, until=None, progress=False)
        assert "allow_empty_ledger=True" in chinese(str(empty.value))
        with pytest.raises(InputError) as until:
            collect(sim.client(), ledger, until="soon", progress=False)
        chinese(str(until.value))
        assert "48 小时" in chinese(retention_warning(1_000_000, 30.0))
    with pytest.raises(InputError, match="has sent nothing"):
        collect(sim.client(), ledger, until=None, progress=False)


def test_the_ledger_copy_report_in_chinese(sim: Simulator, tmp_path: Path) -> None:
    source = tmp_path / "a.sqlite"
    with Ledger(source) as ledger:
        run(sim.client(), ledger)
    with mc.using_language("zh"):
        report = copy_ledger(source, tmp_path / "b.sqlite")
        text = str(report)
        with pytest.raises(InputError) as same:
            copy_ledger(source, source)
    assert "已复制发送台账" in text and "合计" in text and "已核对" in text
    chinese(str(same.value))
    assert "verified: every table" in english(str(report))
