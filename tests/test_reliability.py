"""Reliability: SIGKILL mid-campaign, the fault matrix, a collector killed before parsing,
and the batching invariants. Each test proves a promise of the ledger:

* no number is ever accepted twice for the same campaign message;
* no row is lost: each ends sent, rejected, unknown, or skipped with a reason;
* no fetched report or reply is lost, and none is counted twice.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobset_campaign._protocol import BEIJING
from mobset_campaign.answers import SendResult, SentNumber
from mobset_campaign.collector import collect
from mobset_campaign.errors import AnswerKeptError, LedgerError
from mobset_campaign.ledger import Ledger, Outcome, PendingMessage
from mobset_campaign.merge import merge_status
from mobset_campaign.plan import plan_batches, regroup
from mobset_campaign.sender import resend_unknown, send
from mobset_campaign.simulator import Simulator

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _crash_sender import CAMPAIGN, campaign_frame  # noqa: E402

FINAL_ONLY = {(12, "DELIVRD"): 0.9, (13, "UNDELIV"): 0.1}


# ---------------------------------------------------------------------------- crash test


def _env(url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBSET_")}
    if url is not None:
        env.update(
            MOBSET_CORP_ID="300003",
            MOBSET_LOGIN_NAME="demo",
            MOBSET_PASSWORD="demo-password",
            MOBSET_BASE_URL=url,
        )
    return env


@pytest.fixture
def sim_process() -> Iterator[str]:
    """A simulator in another process; yields its base URL (http://127.0.0.1:PORT)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mobset_campaign.simulator", "--port", "0", "--seed", "11"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line, line + (proc.stderr.read() if proc.stderr else "")
        url = line.split("listening on", 1)[1].strip()
        yield url
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # also closes the pipes


def _control(url: str, path: str, data: dict[str, Any] | None = None) -> Any:
    root = url.split("/SDK3/")[0]
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(root + path, data=body, method="GET" if data is None else "POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as answer:
        return json.loads(answer.read().decode())


def _start_sender(ledger: Path, rows: int, url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_crash_sender.py"), str(ledger), str(rows)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(url),
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if first.strip() != "READY":
        proc.wait(timeout=30)
        pytest.fail(f"the sender did not start: {first}{proc.stderr.read() if proc.stderr else ''}")
    return proc


@pytest.mark.slow
def test_sigkill_at_random_moments_never_sends_twice_or_loses_a_row(
    sim_process: str, tmp_path: Path
) -> None:
    rows = 2000
    url = sim_process
    _control(url, "/_sim/fault", {"method": "SmsSend", "fault": "latency", "delay": 0.05})
    path = tmp_path / "crash.sqlite"
    rng = random.Random(20240501)
    kills = 0
    finished = False
    killed_runs: list[tuple[datetime, datetime]] = []  # (started, killed), Beijing time
    while kills < 12:
        started = datetime.now(BEIJING)
        proc = _start_sender(path, rows, url)
        try:
            proc.wait(timeout=rng.uniform(0.1, 0.45))
            finished = True  # it ran to the end before the kill came
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            killed_runs.append((started, datetime.now(BEIJING)))
            kills += 1
        out, err = proc.communicate(timeout=30)
        if finished:
            assert proc.returncode == 0, err
            break
        assert proc.returncode == -signal.SIGKILL
    assert kills >= 10, f"only {kills} kills landed before the campaign finished"
    if not finished:  # the last resume runs to the end
        proc = _start_sender(path, rows, url)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert "DONE" in out, out + err

    accepted = _control(url, "/_sim/accepted")
    per_phone = Counter(m["phone"] for m in accepted)
    assert per_phone and max(per_phone.values()) == 1, "a number was accepted twice"

    df = campaign_frame(rows)
    with Ledger(path) as ledger:
        merged = merge_status(df, ledger, CAMPAIGN)
        status = ledger.status_frame(CAMPAIGN)
    states = Counter(merged["send_state"])
    assert set(states) <= {"sent", "rejected", "unknown", "skipped"}, states
    assert sum(states.values()) == rows
    skipped = merged[merged["send_state"] == "skipped"]
    assert (skipped["send_error"] == "not a mainland mobile").all()
    assert len(skipped) == int((df["phone_problem"].notna()).sum())
    # every accepted number is one the ledger calls sent (with that SmsId) or unknown
    by_phone = status.set_index("phone")
    ids = {m["phone"]: m["sms_id"] for m in accepted}
    sent = by_phone[by_phone["send_state"] == "sent"]
    assert {p: int(i) for p, i in sent["sms_id"].items()} == {
        p: i for p, i in ids.items() if p in sent.index
    }
    assert set(ids) <= set(sent.index) | set(by_phone.index[by_phone["send_state"] == "unknown"])
    assert set(sent.index) <= set(ids)
    # the refused numbers were rejected, not lost
    refused = merged[merged["phone"].str.startswith("120")]
    assert set(refused["send_state"]) <= {"rejected", "unknown"}
    assert (refused["send_state"] == "rejected").sum() > 0
    unknown = states.get("unknown", 0)
    print(f"crash test: {kills} kills, final states {dict(states)}")
    # every unknown message belongs to a request that was in flight when a run was killed:
    # claimed during that run, never answered, at most `concurrency` (4) of them per kill
    import sqlite3

    con = sqlite3.connect(path)
    batches = con.execute(
        "SELECT id, claimed_at, size, error FROM batches WHERE state = 'unknown'"
    ).fetchall()
    in_unknown = con.execute(
        "SELECT COUNT(*) FROM messages WHERE state = 'unknown' AND batch_id IN "
        "(SELECT id FROM batches WHERE state = 'unknown')"
    ).fetchone()[0]
    con.close()
    assert in_unknown == unknown
    per_kill = Counter()
    for _, claimed_at, _, error in batches:
        assert error == "interrupted before the answer was recorded"
        when = datetime.fromisoformat(claimed_at)
        runs = [i for i, (start, kill) in enumerate(killed_runs) if start <= when <= kill]
        assert runs, f"an unknown request claimed at {claimed_at} was not in flight at a kill"
        per_kill[runs[0]] += 1
    assert all(n <= 4 for n in per_kill.values()), per_kill


# ---------------------------------------------------------------------------- fault matrix


def _rows(n: int, text: str = "周末活动通知") -> pd.DataFrame:
    phones = [f"1370000{i:04d}" for i in range(n)]
    return pd.DataFrame(
        {"phone": phones, "content": [text] * n, "parts": [1] * n, "sendable": [True] * n}
    )


def _send(df: pd.DataFrame, client: Any, ledger: Ledger, **kw: Any) -> Any:
    kw = {"batch_size": 10, "concurrency": 1, **kw}
    return send(df, client, campaign="m", ledger=ledger, quiet_hours=None, progress=False, **kw)


def test_busy_is_retried_and_accepted_once(ledger: Ledger) -> None:
    with Simulator(seed=1, manual_clock=True) as sim:
        sim.inject("SmsSend", "busy", times=2)
        client = sim.client(backoff=(0.001, 0.005))
        summary = _send(_rows(30), client, ledger)
        assert summary.accepted == 30 and summary.stopped_reason is None
        assert sim.requests["SmsSend"] == 3 + 2
        assert Counter(m.phone for m in sim.accepted()).most_common(1)[0][1] == 1


@pytest.mark.parametrize(
    ("fault", "accepted_by_gateway"),
    [
        ("drop_after_accept", True),
        ("truncated", True),
        ("malformed", True),
        ("slow", True),
        ("http500", False),
    ],
)
def test_an_unreadable_answer_marks_the_batch_unknown_and_never_resends(
    ledger: Ledger, fault: str, accepted_by_gateway: bool
) -> None:
    with Simulator(seed=2, manual_clock=True) as sim:
        sim.inject("SmsSend", fault, times=1, delay=0.6 if fault == "slow" else None)
        client = sim.client(timeout=(2, 0.3))
        df = _rows(30)
        summary = _send(df, client, ledger)
        assert (summary.accepted, summary.unknown) == (20, 10)
        for _ in range(3):  # three resumes: nothing is sent again
            assert _send(df, client, ledger).requests == 0
        unknown = ledger.status_frame("m").query("send_state == 'unknown'")["phone"]
        counts = Counter(m.phone for m in sim.accepted())
        assert max(counts.values()) == 1
        assert all(counts[p] == int(accepted_by_gateway) for p in unknown)
        assert sim.requests["SmsSend"] == 3


@pytest.mark.parametrize(
    ("fault", "lost_with_it", "counted"),
    [
        ("busy", 0, True),  # refused before anything was handed out
        ("http500", 0, True),
        ("truncated", None, True),  # the items before the cut are kept, the rest counted
        ("miscount", 20, True),  # Details hold half of what Code says was handed out
        ("malformed", 40, False),  # handed out, then an HTML page: the client cannot count
        ("drop_after_accept", 40, False),
        ("slow", 40, False),
    ],
)
def test_a_damaged_report_page_loses_only_what_was_damaged_and_says_so(
    ledger: Ledger, fault: str, lost_with_it: int | None, counted: bool
) -> None:
    """The collect side of the fault matrix: whatever happens to one SmsGetReport answer,
    every report that reached the client intact is in the ledger, the raw body of every
    answer is in the inbox, the summary counts (or, when it cannot, names) what was handed
    out and could not be read, and the next collect drains the rest."""
    final = {(12, "DELIVRD"): 0.8, (13, "UNDELIV"): 0.2}
    with Simulator(seed=66, manual_clock=True, report_delay=(1, 1), outcomes=final) as sim:
        client = sim.client(timeout=(2, 0.3), backoff=(0.001, 0.002))
        _send(_rows(40, "周末活动"), client, ledger, batch_size=50)
        sim.clock.advance(5)
        sim.inject("SmsGetReport", fault, times=1, delay=0.6 if fault == "slow" else None)
        first = collect(client, ledger, until=None, min_interval=0, pace=0, progress=False)
        handed = {sms_id for sms_id, _ in sim.handed_out()}
        stored = set(ledger.reports_frame()["sms_id"])
        assert stored <= handed
        gone = handed - stored
        lost = len(gone)
        if lost_with_it is not None:
            assert lost == lost_with_it
        if counted:
            assert first.unreadable == lost
        else:
            assert first.errors and lost == 40
            said = " ".join(first.errors)
            assert "cannot be fetched again" in said or "raw body is kept" in said
        inbox = ledger.inbox_frame()
        assert inbox["parsed_at"].notna().all()  # every body that came back was handled
        sim.clock.advance(5)
        collect(client, ledger, until=None, min_interval=0, pace=0, progress=False)
        everything = {sms_id for sms_id, _ in sim.handed_out()}
        assert len(everything) == 40  # the gateway handed out every report once
        assert set(ledger.reports_frame()["sms_id"]) == everything - gone
        assert len(ledger.reports_frame()) == 40 - lost


def test_fewer_sms_ids_than_numbers_are_flagged_and_not_resent(ledger: Ledger) -> None:
    with Simulator(seed=3, manual_clock=True) as sim:
        sim.inject("SmsSend", "short_id_list", times=1)  # accepts 10, answers 9 SmsIds
        client = sim.client()
        df = _rows(10)
        summary = _send(df, client, ledger)
        assert (summary.accepted, summary.unknown) == (9, 1)
        for _ in range(3):
            assert _send(df, client, ledger).requests == 0
        assert len(sim.accepted()) == 10  # the gateway took all ten: none must go again
        unknown = ledger.status_frame("m").query("send_state == 'unknown'")
        assert len(unknown) == 1 and unknown["send_error"].str.len().iloc[0] > 0


# ---------------------------------------------------------------------------- locked ledger


class _LockedAfterAnswer:
    """A client whose chosen SmsSend answer (1-based) comes back while another process
    holds the ledger's write lock (taken by ``lock()``)."""

    def __init__(self, inner: Any, lock: Any, at: int, calls: list[int] | None = None) -> None:
        self.inner, self.lock, self.at = inner, lock, at
        self.calls = [] if calls is None else calls

    def clone(self) -> _LockedAfterAnswer:
        return _LockedAfterAnswer(self.inner.clone(), self.lock, self.at, self.calls)

    def send(self, *args: Any, **kw: Any) -> Any:
        result = self.inner.send(*args, **kw)
        self.calls.append(1)
        if len(self.calls) == self.at:
            self.lock()
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def locked_ledger(tmp_path: Path) -> Iterator[tuple[Ledger, Any]]:
    """A file ledger with a short busy timeout, and a second connection that can hold it."""
    import sqlite3

    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as led:
        led._conn.execute("PRAGMA busy_timeout = 50")
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        yield led, other
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


def test_an_answer_held_up_by_a_locked_ledger_is_retried(
    locked_ledger: tuple[Ledger, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, other = locked_ledger
    released: list[float] = []

    def release(seconds: float) -> None:  # the other process finishes during the pause
        released.append(seconds)
        other.execute("ROLLBACK")

    monkeypatch.setattr("mobset_campaign.ledger.recording._pause", release)
    with Simulator(seed=4, manual_clock=True) as sim:
        client = _LockedAfterAnswer(sim.client(), lambda: other.execute("BEGIN IMMEDIATE"), 2)
        summary = _send(_rows(30), client, ledger)
        assert len(released) == 1 and summary.stopped_reason is None
        assert summary.accepted == 30 and summary.counts["sent"] == 30
        assert not list(Path(ledger.path).parent.glob("*.send-answer-*"))


def test_an_answer_a_locked_ledger_refuses_is_kept_and_recorded_by_the_next_run(
    locked_ledger: tuple[Ledger, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, other = locked_ledger
    monkeypatch.setattr("mobset_campaign.ledger.recording._pause", lambda seconds: None)
    with Simulator(seed=5, manual_clock=True, report_delay=(1, 1)) as sim:
        client = _LockedAfterAnswer(sim.client(), lambda: other.execute("BEGIN IMMEDIATE"), 2)
        df = _rows(30)
        with pytest.raises(LedgerError, match=r"locked.*kept in .*ledger\.sqlite\.send-answer-"):
            _send(df, client, ledger)
        other.execute("ROLLBACK")  # the other program is done
        [kept] = Path(ledger.path).parent.glob("ledger.sqlite.send-answer-*.json")
        second = sim.accepted()[10:20]  # the second request's ten numbers
        saved = json.loads(kept.read_text(encoding="utf-8"))["numbers"]
        assert saved == [[m.phone, m.sms_id] for m in second]
        sim.clock.advance(5)
        # collect records the kept answer first, so the reports it fetches find their messages
        collect(sim.client(), ledger, until=None, min_interval=0, progress=False)
        assert not kept.exists() and ledger.reports_frame(unmatched=True).empty
        summary = _send(df, sim.client(), ledger)
        assert (summary.recovered_unknown, summary.accepted) == (0, 10)
        merged = merge_status(df, ledger, "m").set_index("phone")
        assert merged["sms_id"].notna().all()
        assert (
            merged.loc[[m.phone for m in second], "send_state"].isin(["delivered", "failed"]).all()
        )
        assert (merged["send_state"] == "unknown").sum() == 0
        assert Counter(m.phone for m in sim.accepted()).most_common(1)[0][1] == 1
        assert len(sim.accepted()) == 30


def test_answers_grouped_into_a_commit_the_ledger_refuses_are_each_kept_and_none_lost(
    locked_ledger: tuple[Ledger, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight workers' answers queue into one group while another program holds the ledger:
    the group cannot begin, so each answer is retried and kept in a side file of its own
    (none lost, none merged with another's); the next run records every one."""
    from test_group_commit import _together

    ledger, other = locked_ledger
    monkeypatch.setattr("mobset_campaign.ledger.recording._pause", lambda seconds: None)
    ledger.ensure_campaign("m")
    ledger.register("m", [(f"1350000{i:04d}", f"1350000{i:04d}", f"hi {i}", 1) for i in range(8)])
    claims = [ledger.claim("m", [m.id]) for m in ledger.pending("m")]
    other.execute("BEGIN IMMEDIATE")
    results = _together(
        ledger,
        [
            lambda c=c: ledger.record_answer(
                c.batch_id,
                [Outcome(c.messages[0].message_id, "sent", 7000 + c.batch_id, 1, None)],
                code=1,
                message="ok",
                numbers=[(c.messages[0].phone, 7000 + c.batch_id)],
            )
            for c in claims
        ],
    )
    other.execute("ROLLBACK")  # the other program is done
    assert all(isinstance(r, AnswerKeptError) and not r.lost for r in results), results
    kept = list(Path(ledger.path).parent.glob("ledger.sqlite.send-answer-*.json"))
    saved = sorted(json.loads(k.read_text(encoding="utf-8"))["numbers"][0][1] for k in kept)
    assert saved == sorted(7000 + c.batch_id for c in claims)  # one file per answer
    assert ledger.counts("m")["claimed"] == 8
    assert ledger.recover_claims("m") == 0  # recorded first: no claim turns unknown
    assert ledger.counts("m")["sent"] == 8
    assert not list(Path(ledger.path).parent.glob("ledger.sqlite.send-answer-*"))


# ---------------------------------------------------------------------------- a full ledger


def _personal(n: int) -> pd.DataFrame:
    df = _rows(n)
    df["content"] = [f"周末活动通知{i}" for i in range(n)]
    return df


def test_every_worker_s_accepted_answers_survive_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrency 4, the ledger refuses every answer after the 5th and no side file can be
    written (a full disk): every accepted SmsId of every worker goes to the reserve and is
    listed, and the next run records them before anything else — nothing is sent twice."""
    import mobset_campaign.ledger.recording as recording

    monkeypatch.setattr(recording, "_pause", lambda seconds: None)
    path = tmp_path / "ledger.sqlite"
    written = recording.Recording._write_answer
    calls: list[int] = []

    def full(self: Any, answer: dict[str, Any]) -> None:
        calls.append(1)
        if len(calls) > 5:
            raise LedgerError("The ledger could not be written (database or disk is full)")
        written(self, answer)

    def no_room(target: Path, data: object) -> None:
        raise OSError(28, "No space left on device", str(target))

    with Simulator(seed=41, manual_clock=True) as sim:
        sim.inject("SmsSend", "latency", delay=0.05)
        df = _personal(60)
        with Ledger(path) as ledger:
            monkeypatch.setattr(recording.Recording, "_write_answer", full)
            monkeypatch.setattr(recording, "write_json_durably", no_room)
            with pytest.raises(AnswerKeptError) as kept:
                send(df, sim.client(), campaign="m", ledger=ledger, quiet_hours=None,
                     progress=False, concurrency=4)  # fmt: skip
            monkeypatch.undo()
        accepted = {m.phone: m.sms_id for m in sim.accepted()}
        recorded = 5
        # every answer the ledger refused is listed, and kept (none lost)
        assert len(kept.value.accepted) == len(accepted) - recorded >= 2
        assert dict(kept.value.accepted) == {
            p: i for p, i in accepted.items() if p in dict(kept.value.accepted)
        }
        assert kept.value.lost == [] and all("reserve" in k for k in kept.value.kept_in)
        assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("*.send-answer-*"))
        with Ledger(path) as ledger:
            summary = send(df, sim.client(), campaign="m", ledger=ledger, quiet_hours=None,
                           progress=False, concurrency=4)  # fmt: skip
            frame = ledger.status_frame("m").set_index("phone")
        assert summary.recovered_unknown == 0  # recorded first: no claim turned unknown
        assert Counter(m.phone for m in sim.accepted()).most_common(1)[0][1] == 1
        assert len(sim.accepted()) == 60 and frame["send_state"].eq("sent").all()
        assert {p: int(i) for p, i in frame["sms_id"].items()} == {
            m.phone: m.sms_id for m in sim.accepted()
        }


def test_a_ledger_that_fills_up_mid_campaign_loses_no_sms_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attack from the issue: SQLite's max_page_count fills the ledger while four workers
    send. Every worker's answer in flight is kept and listed; the next run records them and
    sends the rest; no accepted SmsId is lost or resent."""
    monkeypatch.setattr("mobset_campaign.ledger.recording._pause", lambda seconds: None)
    path = tmp_path / "ledger.sqlite"
    with Simulator(seed=42, manual_clock=True) as sim:
        df = _personal(400)
        with Ledger(path) as ledger:
            ledger.ensure_campaign("m")
            ledger.register("m", [(p, p, t, 1) for p, t in zip(df.phone, df.content, strict=True)])
            pages = ledger._read("PRAGMA page_count")[0][0]
            ledger._conn.execute(f"PRAGMA max_page_count = {pages + 4}")
            sim.inject("SmsSend", "latency", delay=0.02)  # four requests in flight at a time
            with pytest.raises(AnswerKeptError) as full:
                send(df, sim.client(), campaign="m", ledger=ledger, quiet_hours=None,
                     progress=False, concurrency=4, batch_size=1)  # fmt: skip
            assert "full" in str(full.value) and "\n" not in str(full.value)
            recorded = set(ledger.status_frame("m").dropna(subset=["sms_id"])["phone"])
        # every number the gateway accepted is recorded or kept — whichever worker sent it
        kept = dict(full.value.accepted)
        assert not full.value.lost and len(full.value.kept_in) >= 1
        assert {m.phone for m in sim.accepted()} == recorded | set(kept)
        with Ledger(path) as ledger:  # a new connection: room again
            again = send(df, sim.client(), campaign="m", ledger=ledger, quiet_hours=None,
                         progress=False, concurrency=4)  # fmt: skip
            frame = ledger.status_frame("m").set_index("phone")
        assert again.recovered_unknown == 0 and not list(tmp_path.glob("*.send-answer-*"))
        ids = Counter(m.phone for m in sim.accepted())
        assert len(ids) == 400 and max(ids.values()) == 1, "a number was accepted twice"
        assert {p: int(i) for p, i in frame["sms_id"].items()} == {
            m.phone: m.sms_id for m in sim.accepted()
        }


# ---------------------------------------------------------------------------- collector killed


class Killed(BaseException):
    """Stands in for the process dying (not caught by anything in the package)."""


def _sent_and_reported(sim: Simulator, ledger: Ledger, n: int) -> None:
    summary = send(
        _rows(n), sim.client(), campaign="m", ledger=ledger, quiet_hours=None, progress=False
    )
    assert summary.accepted == n
    sim.clock.advance(10)


def test_collector_killed_between_commit_and_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "l.sqlite"
    with Simulator(
        seed=4, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY, reply_rate=0
    ) as sim:
        first = Ledger(path)
        _sent_and_reported(sim, first, 120)
        import mobset_campaign.collector as collector_module

        def die(method: str, body: str) -> Any:
            raise Killed

        monkeypatch.setattr(collector_module, "parse_items", die)
        with pytest.raises(Killed):
            collect(sim.client(), first, until=None, min_interval=0, progress=False)
        monkeypatch.undo()
        # "a new process": the old connection is abandoned, not closed cleanly
        with Ledger(path) as ledger:
            assert len(ledger.unparsed()) == 1
            summary = collect(
                sim.client(), ledger, campaign="m", until=None, min_interval=0, progress=False
            )
            assert summary.bodies_recovered == 1
            assert summary.reports == 120 and summary.done
            again = collect(
                sim.client(), ledger, campaign="m", until=None, min_interval=0, progress=False
            )
            assert (again.reports, again.bodies_recovered) == (0, 0)
            reports = ledger.reports_frame()
            assert len(reports) == 120 and reports["sms_id"].is_unique
        first.close()


def test_collector_killed_inside_the_apply_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        Simulator(
            seed=5, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY, reply_rate=0
        ) as sim,
        Ledger(tmp_path / "l.sqlite") as ledger,
    ):
        _sent_and_reported(sim, ledger, 40)
        calls = {"n": 0}
        original = Ledger._match_message

        def flaky(self: Ledger, *args: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 25:
                raise Killed
            return original(self, *args)

        monkeypatch.setattr(Ledger, "_match_message", flaky)
        with pytest.raises(Killed):
            collect(sim.client(), ledger, until=None, min_interval=0, progress=False)
        monkeypatch.undo()
        assert ledger.reports_frame().empty  # the half-applied body was rolled back
        summary = collect(
            sim.client(), ledger, campaign="m", until=None, min_interval=0, progress=False
        )
        assert summary.bodies_recovered == 1 and summary.reports == 40 and summary.done


@pytest.mark.slow
def test_collector_process_dies_after_commit(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Simulator(
        seed=6, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY, reply_rate=0
    ) as sim:
        with Ledger(path) as ledger:
            _sent_and_reported(sim, ledger, 30)
        script = textwrap.dedent(
            f"""
            import os
            import mobset_campaign.collector as c
            from mobset_campaign.client import MobsetClient
            from mobset_campaign.ledger import Ledger
            c.parse_items = lambda method, body: os._exit(9)   # die right after the commit
            c.collect(MobsetClient.from_env(), Ledger({str(path)!r}), until=None,
                      min_interval=0, progress=False)
            """
        )
        proc = subprocess.run(
            [sys.executable, "-c", script],
            env=_env(sim.url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 9, proc.stderr
        with Ledger(path) as ledger:
            summary = collect(
                sim.client(), ledger, campaign="m", until=None, min_interval=0, progress=False
            )
            assert summary.bodies_recovered == 1 and summary.reports == 30 and summary.done


# ---------------------------------------------------------------------------- properties


messages = st.lists(
    st.tuples(
        st.sampled_from([f"1350000{i:04d}" for i in range(12)]),
        st.sampled_from(["甲", "乙", "丙"]),
    ),
    max_size=300,
)


@given(messages, st.integers(1, 50))
def test_planner_never_exceeds_50_or_repeats_a_number(
    items: list[tuple[str, str]], batch_size: int
) -> None:
    pending = [PendingMessage(i, phone, text, 1) for i, (phone, text) in enumerate(items)]
    plan = plan_batches(pending, batch_size)
    for batch in plan:
        assert 1 <= len(batch) <= batch_size <= 50
        assert len(set(batch.phones)) == len(batch.phones)
        assert {m.content for m in batch.messages} == {batch.content}
    planned = sorted(m.id for b in plan for m in b.messages)
    assert planned == list(range(len(items)))  # every message exactly once
    for text in {t for _, t in items}:  # and no more requests than needed
        group = [p for p, t in items if t == text]
        need = max(-(-len(group) // batch_size), max(Counter(group).values()))
        assert sum(1 for b in plan if b.content == text) == need


@given(messages, st.integers(1, 50), st.data())
def test_regrouping_keeps_every_request_with_a_pending_message_once(
    items: list[tuple[str, str]], batch_size: int, data: st.DataObject
) -> None:
    pending = [PendingMessage(i, phone, text, 1) for i, (phone, text) in enumerate(items)]
    plan = plan_batches(pending, batch_size)
    still = set(data.draw(st.lists(st.sampled_from(range(len(items))), unique=True)) if items else [])
    rest = regroup(plan, still)
    wanted = [b for b in plan if any(m.id in still for m in b.messages)]
    assert sorted(map(id, rest)) == sorted(map(id, wanted))  # each kept once, no other
    if wanted and len(wanted) == len(plan):  # nothing taken: half the plan, then the rest
        assert rest == plan[len(plan) // 2 :] + plan[: len(plan) // 2]


class Recorder:
    """A fake client that records every SmsSend request and accepts every number."""

    corp_id, login_name = 1, "rec"

    def __init__(self) -> None:
        self.requests: list[list[str]] = []
        self.next_id = 1

    def clone(self) -> Recorder:
        return self

    def get_balance(self) -> int:
        return 10**9

    def send(self, phones: list[str], content: str, **kw: Any) -> SendResult:
        self.requests.append(list(phones))
        numbers = []
        for phone in phones:
            numbers.append(SentNumber(phone, self.next_id))
            self.next_id += 1
        return SendResult(len(phones), "ok", numbers)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages, st.integers(1, 50), st.integers(1, 4), st.booleans())
def test_send_never_puts_more_than_50_or_a_repeat_in_a_request(
    items: list[tuple[str, str]], batch_size: int, concurrency: int, one_per_number: bool
) -> None:
    df = pd.DataFrame(
        {
            "phone": [p for p, _ in items],
            "content": [t for _, t in items],
            "parts": [1] * len(items),
            "sendable": [True] * len(items),
        }
    )
    client = Recorder()
    with Ledger(":memory:") as ledger:
        summary = send(
            df,
            client,
            campaign="p",
            ledger=ledger,
            batch_size=batch_size,
            concurrency=concurrency,
            quiet_hours=None,
            progress=False,
            one_per_number=one_per_number,
        )
        # one message per number (or per distinct number and text), whatever the rows
        distinct = {p for p, _ in items} if one_per_number else set(items)
        assert summary.accepted == len(distinct)
        assert summary.skipped.get("duplicate", 0) == len(items) - len(distinct)
    for request in client.requests:
        assert len(request) <= batch_size and len(set(request)) == len(request)
    assert sum(len(r) for r in client.requests) == len(distinct)
    if one_per_number:
        sent = [p for r in client.requests for p in r]
        assert len(sent) == len(set(sent))


# ---------------------------------------------------------------------------- stop signals


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_stop_signal_stops_a_send_cleanly(tmp_path: Path, signame: str) -> None:
    """SIGTERM or SIGHUP mid-send: the requests in flight are recorded, the rest left
    pending, and the next run sends only the rest."""
    path = tmp_path / "ledger.sqlite"
    with Simulator(seed=71, manual_clock=True) as sim:
        sim.inject("SmsSend", "latency", delay=0.3)
        script = textwrap.dedent(
            f"""
            import pandas as pd
            from mobset_campaign import Ledger, MobsetClient, send
            df = pd.DataFrame({{"phone": [f"1370000{{i:04d}}" for i in range(40)],
                               "content": [f"周末活动通知{{i}}" for i in range(40)],
                               "parts": [1] * 40, "sendable": [True] * 40}})
            with Ledger({str(path)!r}) as led:
                print("GO", flush=True)
                s = send(df, MobsetClient.from_env(), campaign="m", ledger=led,
                         quiet_hours=None, progress=False, concurrency=2)
            print(s.stopped_reason, flush=True)
            """
        )
        env = _env()
        env.update(sim.env())
        proc = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline().strip() == "GO"
        while len(sim.accepted()) < 2:
            time.sleep(0.02)
        proc.send_signal(getattr(signal, signame))
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert f"interrupted ({signame})" in out
        first = {m.phone for m in sim.accepted()}
        assert 2 <= len(first) < 40
        with Ledger(path) as ledger:
            counts = ledger.counts("m")
            assert counts["claimed"] == counts["unknown"] == 0  # every request answered
            assert counts["sent"] == len(first) and counts["pending"] == 40 - len(first)
            sim.clear_faults()
            again = _send(_personal(40), sim.client(), ledger, concurrency=2)
        assert again.accepted == 40 - len(first)
        assert Counter(m.phone for m in sim.accepted()).most_common(1)[0][1] == 1


@pytest.mark.slow
def test_ctrl_c_works_when_sigint_was_ignored_by_whoever_started_the_run() -> None:
    """A background job from a script starts with SIGINT ignored; send and collect install
    the handler they need, so the Ctrl-C tests neither fail nor hang there."""
    tests = [
        "tests/test_sender.py::test_ctrl_c_stops_submitting_and_resume_finishes",
        "tests/test_collector.py::test_ctrl_c_while_waiting_returns_a_summary",
        "tests/test_collector.py::test_ctrl_c_during_a_fetch_still_stores_the_answer",
    ]
    code = (
        "import signal, sys, pytest\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', *{tests!r}]))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=HERE.parent, capture_output=True, text=True,
        timeout=180, env=_env(),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "6 passed" in run.stdout  # each on both ledger backends


# ---------------------------------------------------------------------------- four at once


def _interrupt(proc: Any, role: str, sender: bool, rng: random.Random) -> bool:
    """Stop a worker as a crash or an operator would: a sender by SIGKILL or SIGTERM, a
    collector by SIGTERM or SIGHUP. One not killed must stop cleanly. True when killed."""
    how = rng.choice([signal.SIGKILL, signal.SIGTERM] if sender else [signal.SIGTERM, signal.SIGHUP])
    proc.send_signal(how)
    _out, err = proc.communicate(timeout=60)
    if how == signal.SIGKILL:
        return True
    assert proc.returncode == 0, f"{role} did not stop cleanly on {how.name}: {err[-2000:]}"
    return False


def _start_worker(role: str, ledger: Path, rows: int, stop: Path, url: str) -> Any:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_crash_workers.py"), role, str(ledger), str(rows), str(stop)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(url),
    )  # fmt: skip
    assert proc.stdout is not None
    first = proc.stdout.readline()
    if first.strip() != "READY":
        proc.wait(timeout=30)
        pytest.fail(f"the {role} worker did not start: {first}{proc.stderr.read()}")
    return proc


@pytest.mark.slow
def test_send_resend_and_two_collects_at_once_with_kills(sim_process: str, tmp_path: Path) -> None:
    """Issue 9's crash test: a send, a resend_unknown and two collects of one campaign run at
    once in four processes; at random one of them gets SIGKILL or SIGTERM and is restarted.

    Proven afterwards, from the simulator and the ledger:
    * a number got a second message only when its first request was lost in a SIGKILL (the
      ledger never learnt its SmsId) and resend_unknown — the explicit decision — sent it
      again; no live request was ever taken for unknown;
    * every report the gateway handed out is in the ledger. (Collectors get SIGTERM or
      SIGHUP: a SIGKILL while a page is on the wire loses that page in any client.)
    """
    rows = 1500
    url = sim_process
    _control(url, "/_sim/fault", {"method": "SmsSend", "fault": "latency", "delay": 0.15})
    path = tmp_path / "crash.sqlite"
    stop = tmp_path / "stop"
    roles = ["send", "resend", "collect", "collect"]
    rng = random.Random(20261202)
    started: dict[int, datetime] = {}
    procs: dict[int, Any] = {}
    for i, role in enumerate(roles):
        started[i] = datetime.now(BEIJING)  # before the start: a worker works once READY
        procs[i] = _start_worker(role, path, rows, stop, url)
    killed_runs: list[tuple[datetime, datetime]] = []
    while _control(url, "/_sim/stats")["requests"].get("SmsSend", 0) < 3:
        time.sleep(0.01)  # the first kill surely lands with requests in flight
    procs[0].kill()
    procs[0].communicate(timeout=60)
    killed_runs.append((started[0], datetime.now(BEIJING)))
    started[0] = datetime.now(BEIJING)
    procs[0] = _start_worker("send", path, rows, stop, url)
    sent = False
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(0.15, 0.5))
        i = rng.choice(list(procs))
        proc = procs[i]
        if roles[i] == "send" and proc.poll() is not None:
            sent = sent or "DONE" in proc.communicate()[0]
            if sent:
                continue
        elif proc.poll() is None and _interrupt(proc, roles[i], roles[i] in ("send", "resend"), rng):
            killed_runs.append((started[i], datetime.now(BEIJING)))
        started[i] = datetime.now(BEIJING)
        procs[i] = _start_worker(roles[i], path, rows, stop, url)
    stop.touch()
    for i, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{roles[i]}: {err[-2000:]}"
        sent = sent or "DONE" in out
    stop.unlink()
    while not sent:  # the campaign runs to its end once the kills stop
        proc = _start_worker("send", path, rows, stop, url)
        out, err = proc.communicate(timeout=300)
        sent = "DONE" in out
    time.sleep(3.5)  # the last reports come due (the simulator's report delay is 1–3 s)
    with Ledger(path) as ledger:
        resend_unknown(CAMPAIGN, ledger, _client(url), quiet_hours=None, progress=False)
        time.sleep(3.5)  # in case the resender had not got to them all
        collect(ledger=ledger, client=_client(url), until=None, min_interval=0, pace=0,
                progress=False)  # fmt: skip
        messages = ledger.status_frame(CAMPAIGN).set_index("phone")
        reports = Counter(map(tuple, ledger.reports_frame()[["sms_id", "status"]].to_numpy()))
        import sqlite3

        con = sqlite3.connect(path)
        resends = dict(con.execute("SELECT phone, resends FROM messages").fetchall())
        unknown_batches = con.execute(
            "SELECT claimed_at FROM batches WHERE error = 'interrupted before the answer was "
            "recorded'"
        ).fetchall()
        con.close()
    accepted = _control(url, "/_sim/accepted")
    per_phone: dict[str, list[int]] = {}
    for m in accepted:
        per_phone.setdefault(m["phone"], []).append(int(m["sms_id"]))
    twice = {p: ids for p, ids in per_phone.items() if len(ids) > 1}
    for phone, ids in twice.items():
        assert len(ids) <= 1 + resends[phone], f"{phone} got {len(ids)} messages"
        known = messages.loc[phone, "sms_id"]
        assert ids[0] != known, f"{phone}'s first message was recorded, yet it was sent again"
    assert unknown_batches, "the first SIGKILL left no request unknown: the test proves nothing"
    assert not (messages["status"] == "unknown").any(), "resend_unknown left unknown messages"
    for (claimed_at,) in unknown_batches:
        when = datetime.fromisoformat(claimed_at)
        assert any(start <= when <= kill for start, kill in killed_runs), (
            f"a request claimed at {claimed_at} turned unknown but no run was killed then"
        )
    handed = Counter(map(tuple, _control(url, "/_sim/handed_out")))
    assert not handed - reports, f"reports lost: {sorted(handed - reports)[:5]}"
    print(
        f"four-process crash test: {len(killed_runs)} SIGKILLs, {len(accepted)} accepted, "
        f"{len(unknown_batches)} batches unknown, {len(twice)} numbers resent after a lost answer, "
        f"{sum(handed.values())} reports, none lost"
    )


def _client(url: str) -> Any:
    from mobset_campaign.client import MobsetClient

    return MobsetClient.from_env(_env(url))
