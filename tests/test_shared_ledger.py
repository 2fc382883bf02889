"""One campaign, one PostgreSQL ledger, several machines' worth of processes.

The multi-host crash test of issue 11: three ``send`` processes share one campaign through one
PostgreSQL ledger (each holds a lease; claims skip rows another claim holds), two ``collect``
processes store into the shared inbox, and ``status`` reads while they run. At random one of
them is killed (SIGKILL or SIGTERM for senders; SIGTERM or SIGHUP for collectors) and
restarted. The simulator runs in another process, so its lists of accepted messages and of
handed-out reports are the gateway's truth.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from _crash_sender import CAMPAIGN, campaign_frame
from test_reliability import _client, _control, _interrupt, _start_worker, sim_process  # noqa: F401

from mobset_campaign import Ledger, collect
from mobset_campaign._protocol import BEIJING
from mobset_campaign.cli import main

ROLES = ["send", "send", "send", "collect", "collect"]


@pytest.mark.slow
def test_three_senders_two_collectors_one_postgres_ledger_with_kills(
    sim_process: str,  # noqa: F811
    postgres_db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = 1200
    url = sim_process
    _control(url, "/_sim/fault", {"method": "SmsSend", "fault": "latency", "delay": 0.3})
    ledger_url = postgres_db_url
    stop = tmp_path / "stop"
    rng = random.Random(20261203)
    started: dict[int, datetime] = {}
    procs: dict[int, Any] = {}
    try:
        for i, role in enumerate(ROLES):
            started[i] = datetime.now(BEIJING)
            procs[i] = _start_worker(role, ledger_url, rows, stop, url)
        killed_runs: list[tuple[datetime, datetime]] = []
        while _control(url, "/_sim/stats")["requests"].get("SmsSend", 0) < 6:
            time.sleep(0.01)  # the first kill surely lands with requests in flight
        procs[0].kill()
        procs[0].communicate(timeout=60)
        killed_runs.append((started[0], datetime.now(BEIJING)))
        started[0] = datetime.now(BEIJING)
        procs[0] = _start_worker("send", ledger_url, rows, stop, url)
        statuses = 0
        done = False
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0.15, 0.5))
            if rng.random() < 0.3:  # an analyst looks while it runs: read-only, never blocking
                assert main(["status", "--ledger", ledger_url, "--campaign", CAMPAIGN]) == 0
                statuses += 1
                capsys.readouterr()
            i = rng.choice(list(procs))
            proc = procs[i]
            if ROLES[i] == "send" and proc.poll() is not None:
                done = done or "DONE" in proc.communicate()[0]
                if done:
                    continue
            elif proc.poll() is None and _interrupt(proc, ROLES[i], ROLES[i] == "send", rng):
                killed_runs.append((started[i], datetime.now(BEIJING)))
            started[i] = datetime.now(BEIJING)
            procs[i] = _start_worker(ROLES[i], ledger_url, rows, stop, url)
        stop.touch()
        for i, proc in procs.items():
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, f"{ROLES[i]}: {err[-2000:]}"
            done = done or "DONE" in out
    finally:  # a failed check leaves no worker running, nor its pipes open
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=60)
    stop.unlink()
    while not done:  # the campaign runs to its end once the kills stop
        proc = _start_worker("send", ledger_url, rows, stop, url)
        out, _ = proc.communicate(timeout=300)
        done = "DONE" in out
    time.sleep(3.5)  # the last reports come due (the simulator's report delay is 1–3 s)
    with Ledger(ledger_url) as ledger:
        collect(ledger=ledger, client=_client(url), until=None, min_interval=0, pace=0,
                progress=False)  # fmt: skip
        messages = ledger.status_frame(CAMPAIGN)
        reports = Counter(map(tuple, ledger.reports_frame()[["sms_id", "status"]].to_numpy()))
        unknown_batches = ledger._read(
            "SELECT claimed_at FROM batches WHERE error = 'interrupted before the answer was "
            "recorded'"
        )
        holders = ledger.holders(CAMPAIGN)
    accepted = _control(url, "/_sim/accepted")
    per_phone = Counter(m["phone"] for m in accepted)
    # nobody chose resend_unknown here: a number is never accepted twice, whoever claimed it
    assert max(per_phone.values()) == 1, per_phone.most_common(3)
    sendable = int((campaign_frame(rows)["phone_problem"].isna()).sum())
    assert len(messages) == sendable and messages["phone"].is_unique
    assert not messages["send_state"].isin(["pending", "claimed"]).any(), (
        messages["send_state"].value_counts().to_dict()
    )
    known = {int(i) for i in messages["sms_id"].dropna()}
    assert known <= {int(m["sms_id"]) for m in accepted}
    assert unknown_batches, "the first SIGKILL left no request unknown: the test proves nothing"
    for (claimed_at,) in unknown_batches:  # unknown only where a run was killed
        when = datetime.fromisoformat(claimed_at)
        assert any(start <= when <= kill for start, kill in killed_runs), claimed_at
    handed = Counter(map(tuple, _control(url, "/_sim/handed_out")))
    assert not handed - reports, f"reports lost: {sorted(handed - reports)[:5]}"
    assert not [h for h in holders if h.alive()], "a live lease was left behind"
    print(
        f"multi-host crash test: {len(killed_runs)} SIGKILLs, {len(accepted)} accepted by "
        f"3 senders, none twice, {len(unknown_batches)} batches unknown, {statuses} status "
        f"reads, {sum(handed.values())} reports, none lost"
    )


def test_a_sender_whose_database_connection_drops_keeps_its_answers_and_resumes(
    postgres_db_url: str,
) -> None:
    import threading

    import pandas as pd
    import psycopg

    from mobset_campaign import send
    from mobset_campaign.errors import LedgerError
    from mobset_campaign.simulator import Simulator

    n = 60
    df = pd.DataFrame({
        "phone": [f"1390000{i:04d}" for i in range(n)], "phone_problem": [None] * n,
        "content": [f"通知 会员{i}" for i in range(n)], "parts": [1] * n, "sendable": [True] * n,
    })  # fmt: skip
    with Simulator(seed=41, manual_clock=True) as sim, Ledger(postgres_db_url) as ledger:
        sim.inject("SmsSend", "latency", delay=0.2)
        pid = ledger._conn._raw.info.backend_pid

        def cut_when_sending() -> None:
            while len(sim.accepted()) < 5:
                time.sleep(0.01)
            with psycopg.connect(postgres_db_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

        cutter = threading.Thread(target=cut_when_sending)
        cutter.start()
        with pytest.raises(LedgerError) as stopped:
            send(df, sim.client(), campaign="c", ledger=ledger, quiet_hours=None,
                 progress=False, concurrency=4)  # fmt: skip
        cutter.join()
        assert "connection" in str(stopped.value)
        accepted_before = {m.phone: m.sms_id for m in sim.accepted()}
        sim.clear_faults()
        with Ledger(postgres_db_url) as again:  # the next start records what was kept first
            kept = again.kept_answers()
            summary = send(df, sim.client(), campaign="c", ledger=again, quiet_hours=None,
                           progress=False)  # fmt: skip
            states = again.status_frame("c").set_index("phone")
        assert kept, "no answer was in flight when the connection dropped: the test proves nothing"
        counts = Counter(m.phone for m in sim.accepted())
        assert max(counts.values()) == 1 and len(counts) == n  # none sent twice, none lost
        for phone, sms_id in accepted_before.items():  # every accepted answer was recorded
            assert states.loc[phone, "sms_id"] == sms_id
        assert summary.recovered_unknown == 0  # every claim in flight got its answer back
