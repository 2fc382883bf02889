"""Group commit: concurrent claims and answers share one transaction and one fsync, and
still nothing is returned before it is durable, and one caller's failure is nobody else's.

To make a group without relying on timing, a test holds the ledger's lock (as any other
transaction of the ledger would) while its threads queue their works: the leader waits
for the lock, and takes everything queued when it gets it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_ledger import _sync_level_of_each_transaction

from mobset_campaign.errors import LedgerError
from mobset_campaign.ledger import Ledger, Outcome
from mobset_campaign.sender import send
from mobset_campaign.simulator import Simulator

N = 8  # the engine's default-sized pool


def _pending(led: Ledger, n: int, campaign: str = "c") -> list[int]:
    led.ensure_campaign(campaign)
    led.register(campaign, [(f"k{i}", f"1350000{i:04d}", f"hi {i}", 1) for i in range(n)])
    return [m.id for m in led.pending(campaign)]


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    """Wait for the threads to get somewhere (a guard against a hang, not a timing check)."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.001)


@contextmanager
def _statements(led: Ledger) -> Iterator[list[str]]:
    """The SQL a SQLite ledger runs meanwhile (none is traced on PostgreSQL)."""
    found: list[str] = []
    if not led.is_postgres:
        led._conn.set_trace_callback(found.append)
    try:
        yield found
    finally:
        if not led.is_postgres:
            led._conn.set_trace_callback(None)


def _assert_full(led: Ledger, sql: list[str]) -> None:
    """The traced transactions committed with synchronous=FULL: set so in the trace, or set
    before it and unchanged since (the level in effect now)."""
    levels = {level for level, body in _sync_level_of_each_transaction(sql) if body}
    assert levels <= {"FULL", "?"} and levels, sql
    assert led._read("PRAGMA synchronous")[0][0] == 2  # FULL


def _together(led: Ledger, calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads of their own, released together into one group: each
    call's result, or the exception it raised."""
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:  # handed back to the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    with led._lock:  # a transaction in the way: the works queue up behind it
        for t in threads:
            t.start()
        _wait_for(lambda: len(led._group._queue) == len(calls), "every work queued")
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive()
    return results


def test_claims_and_answers_of_concurrent_threads_share_one_durable_commit(
    ledger: Ledger,
) -> None:
    ids = _pending(ledger, N)
    before = ledger._group.commits
    with _statements(ledger) as sql:
        claims = _together(ledger, [lambda i=i: ledger.claim("c", [i], account="a") for i in ids])
    assert all(not isinstance(c, Exception) for c in claims), claims
    assert sorted(m.message_id for c in claims for m in c.messages) == ids
    assert len({c.batch_id for c in claims}) == N
    assert ledger.counts("c")["claimed"] == N
    assert ledger._group.commits - before == 1  # eight claims, one transaction
    if not ledger.is_postgres:  # what SQLite itself ran: one COMMIT, with synchronous=FULL
        assert sum(s.strip().upper() == "COMMIT" for s in sql) == 1
        _assert_full(ledger, sql)

    with _statements(ledger) as sql:
        answers = _together(
            ledger,
            [
                lambda c=c: ledger.record_answer(
                    c.batch_id,
                    [Outcome(c.messages[0].message_id, "sent", 5000 + c.batch_id, 0, None)],
                    code=1,
                    message="ok",
                )
                for c in claims
            ],
        )
    assert answers == [None] * N
    assert ledger.counts("c")["sent"] == N
    assert ledger._group.commits - before == 2
    if not ledger.is_postgres:  # answers are durable too: fsync'ed before the run counts them
        assert sum(s.strip().upper() == "COMMIT" for s in sql) == 1
        _assert_full(ledger, sql)


def test_one_callers_failure_neither_loses_nor_commits_the_others_work(
    ledger: Ledger,
) -> None:
    ids = _pending(ledger, N)
    gone = ledger.lock_campaign("c", "send")
    ledger.unlock_campaign(gone)  # a run that no longer holds the campaign may not claim
    calls: list[Callable[[], Any]] = [
        lambda i=i: ledger.claim("c", [i], account="a") for i in ids[:-1]
    ]
    calls.insert(3, lambda: ledger.claim("c", [ids[-1]], account="a", holder=gone))
    results = _together(ledger, calls)
    failed = results.pop(3)
    assert isinstance(failed, LedgerError) and "no longer holds" in str(failed)
    assert all(not isinstance(r, Exception) and len(r.messages) == 1 for r in results), results
    assert sorted(r.messages[0].message_id for r in results) == ids[:-1]
    states = dict(ledger._read("SELECT id, state FROM messages"))
    assert {states[i] for i in ids[:-1]} == {"claimed"}
    assert states[ids[-1]] == "pending"  # nothing of the failed claim was written
    batches = ledger._read("SELECT COUNT(*) FROM batches WHERE campaign = 'c'")[0][0]
    assert batches == N - 1


def test_a_failure_before_any_work_ran_reaches_every_caller_once(tmp_path: Path) -> None:
    """A ledger another program holds: every queued claim gets the lock error at once
    instead of each waiting the busy timeout again alone."""
    path = tmp_path / "l.sqlite"
    with Ledger(path) as led:
        ids = _pending(led, 3)
        led._conn.execute("PRAGMA busy_timeout = 50")
        other = Ledger(path)
        other._conn.execute("BEGIN IMMEDIATE")  # another writer holds the file
        try:
            before = led._group.commits
            results = _together(led, [lambda i=i: led.claim("c", [i]) for i in ids])
        finally:
            other._conn.execute("ROLLBACK")
            other.close()
        assert all(isinstance(r, LedgerError) and r.reason == "locked" for r in results)
        assert led._group.commits == before
        assert led.counts("c")["pending"] == 3  # and afterwards it works again
        assert len(led.claim("c", ids).messages) == 3


_CHILD = """
import os, signal, sys, threading, time
from mobset_campaign.ledger import Ledger
led = Ledger(sys.argv[1])
if not led.is_postgres:  # a disk slow to sync: a claim returned before its COMMIT dies with it
    slow = lambda sql: time.sleep(0.3) if sql.strip().upper() == "COMMIT" else None
    led._conn.set_trace_callback(slow)
ids = [m.id for m in led.pending("c")]
def claim(i):
    batch, got = led.claim("c", [i], account="a")
    # the first claim back: say which, and die at once (no cleanup, nothing flushed later)
    os.write(1, f"{batch} {got[0].message_id}\\n".encode())
    os.kill(os.getpid(), signal.SIGKILL)
threads = [threading.Thread(target=claim, args=(i,)) for i in ids]
with led._lock:
    for t in threads:
        t.start()
    while len(led._group._queue) < len(ids):
        pass
for t in threads:
    t.join()
"""


def test_a_claim_is_committed_before_claim_returns_even_if_the_process_dies_then(
    ledger_url: str,
) -> None:
    with Ledger(ledger_url) as led:
        _pending(led, N)
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, ledger_url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    batch, message = map(int, child.stdout.split("\n")[0].split())
    with Ledger(ledger_url) as led:
        row = led._read("SELECT state, batch_id FROM messages WHERE id = ?", (message,))
        assert row == [("claimed", batch)]
        assert led.counts("c")["claimed"] == N  # the whole group was committed


def test_a_real_send_at_concurrency_8_takes_fewer_commits_than_claims_and_answers(
    tmp_path: Path,
) -> None:
    rows = 240
    df = pd.DataFrame(
        {
            "phone": [f"1350000{i:04d}" for i in range(rows)],
            "content": [f"春季促销 会员{i}" for i in range(rows)],  # one request per row
            "parts": [1] * rows,
            "sendable": [True] * rows,
        }
    )
    with Simulator(seed=7, manual_clock=True) as sim, Ledger(tmp_path / "l.sqlite") as led:
        sim.inject("SmsSend", "latency", delay=0.01)  # requests overlap, as over a network
        summary = send(
            df,
            sim.client(),
            campaign="c",
            ledger=led,
            concurrency=N,
            quiet_hours=None,
            progress=False,
        )
        assert summary.accepted == rows and summary.requests == rows
        assert led.counts("c")["sent"] == rows
        assert led._group.works >= 2 * rows  # every claim and every answer went through it
        assert led._group.commits < led._group.works


def test_postgres_transactions_commit_durably_unless_told_otherwise(postgres_db_url: str) -> None:
    # The transaction's start is one round trip (BEGIN, the level, the serial lock); the
    # durable level is the session's own, whatever the server's default (the test server's
    # is off), and a non-durable transaction says off for itself only. Answers take the
    # serial lock shared: beside each other, never beside a serial transaction.
    seen = {}
    with Ledger(postgres_db_url) as ledger:
        for durable in (True, False):
            for serial in (True, "shared", False):
                with ledger._tx(durable=durable, serial=serial) as cur:
                    level = cur.execute("SHOW synchronous_commit").fetchone()[0]
                    locks = cur.execute(
                        "SELECT mode FROM pg_locks WHERE locktype = 'advisory' AND pid = "
                        "pg_backend_pid()"
                    ).fetchall()
                seen[durable, serial] = (level, [m for (m,) in locks])
        assert ledger._read("SHOW synchronous_commit")[0][0] == "on"  # none left behind
    assert seen == {
        (True, True): ("on", ["ExclusiveLock"]),
        (True, "shared"): ("on", ["ShareLock"]),
        (True, False): ("on", []),
        (False, True): ("off", ["ExclusiveLock"]),
        (False, "shared"): ("off", ["ShareLock"]),
        (False, False): ("off", []),
    }


def test_answers_of_two_senders_run_beside_each_other_but_not_beside_a_collector(
    postgres_db_url: str,
) -> None:
    with Ledger(postgres_db_url) as one, Ledger(postgres_db_url) as two:
        two._conn.execute("SET lock_timeout = 300")  # the ledger's own waits 30 s
        with one._tx(durable=True, serial="shared"):
            with two._tx(durable=True, serial="shared") as cur:  # does not wait for one
                cur.execute("SELECT 1")
            # a serial transaction (a collector's) waits for the answer: here it times out
            with pytest.raises(LedgerError) as waited, two._tx(serial=True):
                pass
        assert waited.value.reason == "locked"
