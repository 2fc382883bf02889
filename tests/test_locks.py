"""One run per campaign: send, resend_unknown and cancel hold the campaign's lock; a second
run is told who holds it, or waits; a dead holder's lock is taken over, and only then may its
claims turn unknown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

from mobset_campaign import Ledger, Simulator, _engine, cancel, resend_unknown, send
from mobset_campaign.errors import CampaignBusyError, LedgerError
from mobset_campaign.ledger.locks import LEASE
from mobset_campaign.summaries import SendSummary


def _rows(n: int, start: int = 0) -> pd.DataFrame:
    phones = [f"1370000{i:04d}" for i in range(start, start + n)]
    return pd.DataFrame(
        {"phone": phones, "content": ["周末活动通知"] * n, "parts": [1] * n, "sendable": [True] * n}
    )


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=31, manual_clock=True) as s:
        yield s


def _holder_process(
    path: Path | str, campaign: str, *, claim: bool = True, hold: float = 60,
    command: str = "send",
) -> subprocess.Popen[str]:  # fmt: skip
    """Another process that takes a lease on the campaign (and claims one message), then
    sleeps."""
    script = textwrap.dedent(
        f"""
        import time
        from mobset_campaign.ledger import Ledger
        led = Ledger({str(path)!r})
        holder = led.lock_campaign({campaign!r}, {command!r})
        if {claim!r}:
            pending = led.pending({campaign!r})
            led.claim({campaign!r}, [pending[0].id], holder=holder)
        print("HELD", flush=True)
        time.sleep({hold!r})
        led.unlock_campaign(holder)
        print("RELEASED", flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "HELD", line + (proc.stderr.read() if proc.stderr else "")
    return proc


def _registered(path: Path | str, campaign: str = "c", n: int = 3) -> None:
    with Ledger(path) as led:
        led.ensure_campaign(campaign)
        led.register(campaign, [(p, p, "hi", 1) for p in _rows(n)["phone"]])


def test_a_second_sender_shares_the_campaign_and_the_rest_are_told_who_holds_it(
    sim: Simulator, ledger_url: str
) -> None:
    _registered(ledger_url)
    proc = _holder_process(ledger_url, "c")  # a live sender with one claim in flight
    try:
        with Ledger(ledger_url) as ledger:
            for other in (
                lambda: resend_unknown("c", ledger, sim.client(), quiet_hours=None, progress=False),
                lambda: cancel("c", ledger, sim.client()),
                lambda: ledger.recover_claims("c"),  # its live claims must not turn unknown
            ):
                with pytest.raises(CampaignBusyError) as busy:
                    other()
                assert busy.value.pid == proc.pid and busy.value.command == "send"
                assert str(proc.pid) in str(busy.value)
                assert socket.gethostname() in str(busy.value)
            summary = send(_rows(3), sim.client(), campaign="c", ledger=ledger,
                           quiet_hours=None, progress=False)  # fmt: skip
            # the second sender sent the two rows still pending, and left the live
            # sender's claim alone: it is neither unknown nor sent twice
            assert (summary.accepted, summary.recovered_unknown) == (2, 0)
            assert ledger.counts("c")["claimed"] == 1 and ledger.counts("c")["unknown"] == 0
            assert len(sim.accepted()) == 2
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def test_a_send_is_refused_while_resend_unknown_or_cancel_holds_the_campaign(
    sim: Simulator, ledger_url: str
) -> None:
    _registered(ledger_url)
    proc = _holder_process(ledger_url, "c", claim=False, command="cancel")
    try:
        with Ledger(ledger_url) as ledger, pytest.raises(CampaignBusyError) as busy:
            send(_rows(3), sim.client(), campaign="c", ledger=ledger, quiet_hours=None,
                 progress=False)  # fmt: skip
        assert busy.value.command == "cancel" and sim.accepted() == []
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def test_a_killed_holder_is_taken_over_and_only_its_claims_turn_unknown(
    sim: Simulator, ledger_url: str
) -> None:
    path = ledger_url
    _registered(path)
    proc = _holder_process(path, "c")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    with Ledger(path) as ledger:
        summary = send(_rows(3), sim.client(), campaign="c", ledger=ledger, quiet_hours=None,
                       progress=False)  # fmt: skip
        assert summary.recovered_unknown == 1 and summary.accepted == 2
        assert ledger.holder("c") is None  # given back at the end


def test_a_run_waits_for_the_campaign_when_asked(sim: Simulator, ledger_url: str) -> None:
    path = ledger_url
    _registered(path)
    proc = _holder_process(path, "c", claim=False, hold=1.0, command="resend_unknown")
    try:
        with Ledger(path) as ledger:
            started = time.monotonic()
            summary = send(_rows(3), sim.client(), campaign="c", ledger=ledger, quiet_hours=None,
                           progress=False, wait_for_lock=30)  # fmt: skip
            assert summary.accepted == 3 and time.monotonic() - started > 0.5
    finally:
        proc.communicate(timeout=10)


def test_resend_unknown_during_a_send_in_another_process_is_refused(
    tmp_path: Path,
) -> None:
    """The hole the adversarial test found: resend_unknown turned a live send's claims
    unknown and sent them again. Now it is refused while the send runs."""
    path = tmp_path / "l.sqlite"
    with Simulator(seed=32, manual_clock=True) as sim:
        sim.inject("SmsSend", "latency", delay=0.3)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MOBSET_")},
            "MOBSET_CORP_ID": str(sim.account.corp_id),
            "MOBSET_LOGIN_NAME": sim.account.login_name,
            "MOBSET_PASSWORD": sim.account.password,
            "MOBSET_BASE_URL": sim.url,
        }
        script = textwrap.dedent(
            f"""
            import pandas as pd
            from mobset_campaign import Ledger, MobsetClient, send
            n = 40
            df = pd.DataFrame({{"phone": [f"1370000{{i:04d}}" for i in range(n)],
                               "content": [f"通知{{i}}" for i in range(n)],
                               "parts": [1] * n, "sendable": [True] * n}})
            with Ledger({str(path)!r}) as led:
                print("START", flush=True)
                print(send(df, MobsetClient.from_env(), campaign="c", ledger=led,
                           quiet_hours=None, progress=False, concurrency=2), flush=True)
            """
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline().strip() == "START"
        deadline = time.monotonic() + 20
        while not sim.accepted() and time.monotonic() < deadline:
            time.sleep(0.05)
        with Ledger(path) as ledger, pytest.raises(CampaignBusyError):
            resend_unknown("c", ledger, sim.client(), quiet_hours=None, progress=False)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "40 accepted" in out, err
        counts = Counter(m.phone for m in sim.accepted())
        assert len(counts) == 40 and max(counts.values()) == 1


def test_a_holder_on_another_host_lives_while_it_beats(ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:
        ledger.ensure_campaign("c")
        now = datetime.now(UTC)
        with ledger._tx() as cur:
            cur.execute(
                "INSERT INTO campaign_locks VALUES ('c', 'tok', 'send', 'elsewhere', 1, NULL, ?, ?)",
                (now.isoformat(), now.isoformat()),
            )
        with pytest.raises(CampaignBusyError, match="elsewhere"):
            ledger.lock_campaign("c", "cancel")
        fellow = ledger.lock_campaign("c", "send")  # senders share a campaign
        ledger.unlock_campaign(fellow)
        old = (now - timedelta(seconds=LEASE + 5)).isoformat()
        with ledger._tx() as cur:
            cur.execute("UPDATE campaign_locks SET heartbeat = ?", (old,))
        mine = ledger.lock_campaign("c", "cancel")  # its lease ran out: taken over
        assert ledger.holder("c").token == mine.token  # type: ignore[union-attr]
        ledger.unlock_campaign(mine)


def test_a_run_that_lost_the_campaign_stops_claiming(ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:
        _registered(ledger_url)
        mine = ledger.lock_campaign("c", "send")
        with ledger._tx() as cur:  # another run took it over, taking this one for dead
            cur.execute("UPDATE campaign_locks SET holder = 'someone-else'")
        ids = [m.id for m in ledger.pending("c")]
        with pytest.raises(LedgerError, match="no longer holds it"):
            ledger.claim("c", ids, holder=mine)
        assert ledger.counts("c")["claimed"] == 0


class _CountingLedger(Ledger):
    """The real ledger, counting the claims that found every row already taken."""

    empty_claims = 0

    def claim(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        got = super().claim(*args, **kwargs)
        if not got.messages:
            type(self).empty_claims += 1
        return got


def test_senders_sharing_a_campaign_do_not_claim_their_way_through_each_others_rows(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two senders of one campaign, each its own text per row (one request per row). Once
    # one reaches rows the other sent, it reads what is still pending and moves on, instead
    # of one empty claim (a transaction) per request the other sent: before, the two made
    # about one empty claim per row between them.
    n = 240
    phones = [f"1360000{i:04d}" for i in range(n)]
    df = pd.DataFrame(
        {"phone": phones, "content": [f"会员{i}：本周积分翻倍" for i in range(n)],
         "parts": [1] * n, "sendable": [True] * n}
    )  # fmt: skip
    _CountingLedger.empty_claims = 0
    bars: list[tuple[int, int]] = []  # each run's progress bar at its end: full
    run = _engine.Engine.run

    def watched(engine: _engine.Engine, batches: list[Any]) -> None:
        try:
            run(engine, batches)
        finally:
            bars.append((engine.bar.n, engine.bar.total))

    monkeypatch.setattr(_engine.Engine, "run", watched)
    with Simulator(seed=5) as simulator:
        simulator.inject("SmsSend", "latency", delay=0.01)
        with Ledger(ledger_url) as led:  # registered first, so both plan the same rows
            # a send at 03:00 Beijing, outside its window, registers and sends nothing
            send(df, simulator.client(), campaign="two", ledger=led, progress=False,
                 quiet_hours=("08:00", "20:00"), clock=lambda: datetime(2024, 1, 1, 3, 0))  # fmt: skip
        summaries: list[SendSummary] = []
        errors: list[BaseException] = []

        def one_sender() -> None:
            try:
                with _CountingLedger(ledger_url) as led:
                    summaries.append(send(df, simulator.client(), campaign="two", ledger=led,
                                          concurrency=2, quiet_hours=None, progress=True))  # fmt: skip
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=one_sender) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        accepted = Counter(m.phone for m in simulator.accepted())
    assert sorted(accepted) == phones and set(accepted.values()) == {1}
    for summary in summaries:  # each sent a share, and says who sent the rest of its plan
        assert isinstance(summary, SendSummary)
        assert summary.accepted > 0, str(summary)
        assert summary.accepted + summary.sent_by_others == summary.planned_messages
        assert f"{summary.sent_by_others:,} messages of this run's plan were claimed first" in str(
            summary
        )
    assert _CountingLedger.empty_claims <= 12, _CountingLedger.empty_claims
    assert len(bars) == 2 and all(n == total for n, total in bars), bars


def test_senders_of_one_process_taking_leases_at_once_never_remove_each_other(
    ledger_url: str,
) -> None:
    # A lease row became visible before its run counted as alive in its own process, so a
    # second send() starting meanwhile in another thread removed it as dead, and the first
    # stopped with "no longer holds it".
    _registered(ledger_url)
    held: list[object] = []
    gate = threading.Barrier(6)

    def take() -> None:
        with Ledger(ledger_url) as led:
            gate.wait(30)
            for _ in range(10):
                holder = led.lock_campaign("c", "send")
                held.append(holder)
                assert holder.alive()

    threads = [threading.Thread(target=take) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with Ledger(ledger_url) as led:
        tokens = {h.token for h in led.holders("c")}
    assert len(held) == 60 and tokens == {h.token for h in held}  # type: ignore[attr-defined]


class _WatchingLedger(Ledger):
    """The real ledger, checking after every committed transaction that each lease of this
    process it holds is alive: the moment another thread could read the row."""

    dead_after_commit: ClassVar[list[str]] = []

    @contextmanager
    def _tx(self, **kwargs):  # type: ignore[no-untyped-def, override]
        with super()._tx(**kwargs) as cur:
            yield cur
        for holder in self.holders("c"):
            if holder.pid == os.getpid() and not holder.alive():
                self.dead_after_commit.append(holder.token)


def test_a_lease_counts_as_alive_from_the_moment_its_row_is_committed(ledger_url: str) -> None:
    _registered(ledger_url)
    with _WatchingLedger(ledger_url) as led:
        holder = led.lock_campaign("c", "send")
        assert holder.alive() and not _WatchingLedger.dead_after_commit
        led.unlock_campaign(holder)
