"""collect: reports and replies into the ledger, nothing lost, nothing counted twice."""

from __future__ import annotations

import _thread
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mobset_campaign.collector as collector_module
from mobset_campaign.answers import RawAnswer
from mobset_campaign.collector import collect
from mobset_campaign.errors import InputError, LedgerError
from mobset_campaign.ledger import Ledger
from mobset_campaign.merge import merge_status
from mobset_campaign.sender import send
from mobset_campaign.simulator import Simulator

FINAL_ONLY = {(12, "DELIVRD"): 0.8, (13, "UNDELIV"): 0.2}


def frame(n: int, *, start: int = 0, text: str = "会员日通知") -> pd.DataFrame:
    phones = [f"1390000{i:04d}" for i in range(start, start + n)]
    return pd.DataFrame(
        {"phone": phones, "content": [text] * n, "parts": [1] * n, "sendable": [True] * n}
    )


def send_quietly(df: pd.DataFrame, client: Any, ledger: Ledger, **kw: Any) -> None:
    kw.setdefault("campaign", "c")
    summary = send(df, client, ledger=ledger, quiet_hours=None, progress=False, **kw)
    assert summary.stopped_reason is None


def test_collect_until_every_message_is_final(ledger: Ledger) -> None:
    with Simulator(
        seed=1,
        time_scale=200,
        report_delay=(1, 4),
        outcomes=FINAL_ONLY,
        interim_share=0.5,
        reply_rate=0,
    ) as sim:
        client = sim.client()
        send_quietly(frame(80), client, ledger)
        summary = collect(
            client, ledger, campaign="c", timeout=20, min_interval=0.02, progress=False
        )
    assert summary.stopped_reason is None and summary.done
    assert (summary.accepted, summary.final, summary.waiting) == (80, 80, 0)
    counts = ledger.counts("c")
    assert counts["delivered"] + counts["failed"] == 80 and counts["sent"] == 0
    frame_ = ledger.status_frame("c")
    delivered = frame_[frame_["send_state"] == "delivered"]
    assert set(delivered["status"]) == {12} and set(delivered["ex_status"]) == {"DELIVRD"}
    assert frame_["report_time"].notna().all()
    assert "80 of 80" in str(summary)


def test_until_none_drains_full_pages_once(ledger: Ledger) -> None:
    with Simulator(
        seed=2, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY, reply_rate=0
    ) as sim:
        client = sim.client()
        send_quietly(frame(130), client, ledger)
        sim.clock.advance(5)
        summary = collect(client, ledger, until=None, min_interval=60, progress=False)
        assert sim.requests["SmsGetReport"] == 3  # 50 + 50 + 30: fetched again while full
        assert sim.requests["SmsGetRecv"] == 1
    assert summary.reports == summary.reports_matched == 130
    assert summary.fetches == 4 and summary.stopped_reason is None


def test_reports_for_ids_this_ledger_never_sent_are_kept(ledger: Ledger) -> None:
    with Simulator(seed=3, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY) as sim:
        client = sim.client()
        client.send(["13700000001", "13700000002"], "another tool on the same account")
        sim.clock.advance(5)
        summary = collect(
            client, ledger, until=None, min_interval=0, progress=False, allow_empty_ledger=True
        )
    assert (summary.reports, summary.reports_unmatched) == (2, 2)
    kept = ledger.reports_frame(unmatched=True)
    assert len(kept) == 2 and kept["campaign"].isna().all()
    assert "did not send were kept" in str(summary)


def test_opt_out_replies_suppress_the_number_for_later_campaigns(ledger: Ledger) -> None:
    with Simulator(seed=4, manual_clock=True, report_delay=(1, 1), reply_rate=0) as sim:
        client = sim.client()
        df = frame(3)
        send_quietly(df, client, ledger, add_num="77")
        sim.inject_reply("13900000000", "Ｔｄ！", add_num="77")
        sim.inject_reply("13900000001", "几点开始?", add_num="77")
        sim.inject_reply("13900000001", "好的 谢谢", add_num="77")
        summary = collect(client, ledger, until=None, min_interval=0, progress=False)
        assert (summary.replies, summary.replies_matched, summary.opt_outs) == (3, 3, 1)
        assert ledger.suppressed_phones() == {"13900000000"}
        merged = merge_status(df, ledger, "c").set_index("phone")
        assert merged.loc["13900000001", "reply"] == "好的 谢谢"
        assert merged.loc["13900000001", "reply_count"] == 2
        assert merged.loc["13900000000", "opted_out"]
        # the next campaign skips the number that opted out
        nxt = send(df, client, campaign="next", ledger=ledger, quiet_hours=None, progress=False)
        assert nxt.skipped == {"opted out": 1} and nxt.accepted == 2
    replies = ledger.replies_frame("c")
    assert replies["opt_out"].tolist() == [True, False, False]
    assert set(replies["add_num"]) == {"77"}


def test_an_error_answer_is_stored_and_reported_not_looped_on(ledger: Ledger) -> None:
    with Simulator(
        seed=5, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY, reply_rate=0
    ) as sim:
        client = sim.client()
        send_quietly(frame(4), client, ledger)
        sim.inject("SmsGetReport", "malformed", times=1)
        sim.clock.advance(5)
        summary = collect(client, ledger, until=None, min_interval=0, progress=False)
        assert len(summary.errors) == 1 and "SmsGetReport" in summary.errors[0]
        inbox = ledger.inbox_frame()
        bad = inbox[inbox["error"].notna()]
        assert len(bad) == 1 and "Runtime Error" in bad["body"].iloc[0]
        # the vendor hands each report out once: the malformed answer lost these four, and
        # a later collect neither crashes on the stored body nor parses it again
        again = collect(
            client, ledger, campaign="c", timeout=0.3, min_interval=0.05, progress=False
        )
        assert again.errors == [] and again.bodies_recovered == 0
        assert again.waiting == 4 and "timeout" in again.stopped_reason
        assert 2 <= sim.requests["SmsGetReport"] <= 12  # paced by min_interval, no tight loop


def test_a_refused_account_stops_collecting(ledger: Ledger) -> None:
    with Simulator(seed=6) as sim:
        from mobset_campaign.client import MobsetClient

        wrong = MobsetClient(sim.account.corp_id, sim.account.login_name, "wrong", base_url=sim.url)
        summary = collect(
            wrong, ledger, timeout=30, min_interval=0.01, progress=False, allow_empty_ledger=True
        )
        assert sim.requests["SmsGetReport"] == 1
    assert "refused the account" in summary.stopped_reason and "-105" in summary.stopped_reason
    assert ledger.inbox_frame()["error_code"].tolist() == [-105]


def test_timeout_says_how_many_are_still_without_a_final_status(ledger: Ledger) -> None:
    with Simulator(
        seed=7, time_scale=100, report_delay=(1, 1), outcomes=FINAL_ONLY, reply_rate=0
    ) as sim:
        client = sim.client()
        sim.set_outcome("13900000002", None)  # never a report
        send_quietly(frame(5), client, ledger)
        summary = collect(
            client, ledger, campaign="c", timeout=0.5, min_interval=0.05, progress=False
        )
    assert (summary.final, summary.waiting) == (4, 1)
    assert summary.stopped_reason.startswith("timeout (0.5 s")
    assert "with 1 accepted message still without a final status" in summary.stopped_reason
    assert "1 still without one" in str(summary)
    assert "Stopped" in summary._repr_html_()


def _interrupt_when(ready: Any, delay: float = 0.0) -> None:
    """Ctrl-C the main thread once ``ready()`` holds (then after ``delay`` s): a fixed timer
    would land outside collect on a loaded machine."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while not ready() and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay)
        _thread.interrupt_main()

    threading.Thread(target=watch, daemon=True).start()


def test_ctrl_c_while_waiting_returns_a_summary(ledger: Ledger) -> None:
    with Simulator(seed=8, manual_clock=True) as sim:
        client = sim.client()
        send_quietly(frame(2), client, ledger)
        # both methods were fetched once: collect is in its 10 s wait
        _interrupt_when(lambda: sim.requests["SmsGetRecv"] >= 1, delay=0.2)
        started = time.monotonic()
        summary = collect(client, ledger, campaign="c", min_interval=10, progress=False)
    assert time.monotonic() - started < 5
    assert "interrupted" in summary.stopped_reason and summary.waiting == 2


def test_ctrl_c_during_a_fetch_still_stores_the_answer(ledger: Ledger) -> None:
    with Simulator(seed=8, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY) as sim:
        client = sim.client()
        send_quietly(frame(3), client, ledger)
        sim.clock.advance(5)
        sim.inject("SmsGetReport", "latency", delay=0.6, times=1)
        _interrupt_when(lambda: sim.requests["SmsGetReport"] >= 1)  # the fetch is on the wire
        first = collect(client, ledger, campaign="c", min_interval=10, progress=False)
        assert "interrupted (Ctrl-C)" in first.stopped_reason
        # the gateway handed the three reports out once; they were committed and applied
        # before the Ctrl-C took effect
        assert len(ledger.inbox_frame()) == 1 and first.reports == 3
        second = collect(client, ledger, campaign="c", until=None, min_interval=0, progress=False)
    assert second.bodies_recovered == 0 and second.done


def test_progress_bar_counts_final_statuses(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    with Simulator(seed=9, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY) as sim:
        client = sim.client()
        send_quietly(frame(3), client, ledger)
        sim.clock.advance(5)
        collect(client, ledger, campaign="c", timeout=5, min_interval=0.01)
    assert "final statuses c" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"until": "all"}, "until"),
        ({"timeout": -1}, "timeout"),
        ({"min_interval": -1}, "min_interval"),
        ({"timeout": 1e300}, r"timeout=1e\+300 is out of range"),
        ({"min_interval": float("nan")}, "min_interval=nan is out of range"),
        ({"pace": 10**12}, "pace=1000000000000 is out of range"),
        ({"campaign": "nope"}, "not in"),
    ],
)
def test_bad_parameters(ledger: Ledger, kw: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        collect(object(), ledger, progress=False, **kw)


# ---------------------------------------------------------------------------- a locked ledger


@pytest.fixture
def file_ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "l.sqlite") as led:
        led._conn.execute("PRAGMA busy_timeout = 200")  # stands in for the 30 s wait
        yield led


@contextmanager
def other_writer(ledger: Ledger) -> Iterator[sqlite3.Connection]:
    """Another process holding the ledger's write lock until the block ends."""
    other = sqlite3.connect(ledger.path, isolation_level=None, check_same_thread=False)
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


def unsaved_files(ledger: Ledger) -> list[Path]:
    folder = Path(ledger.path).parent
    return sorted(folder.glob(Path(ledger.path).name + ".unsaved-*"))


def lock_after_fetch(client: Any, other: sqlite3.Connection) -> None:
    """The other process takes the write lock right after the gateway handed reports out."""
    fetch = client.fetch_reports

    def fetch_then_lock() -> Any:
        raw = fetch()
        if not other.in_transaction:
            other.execute("BEGIN IMMEDIATE")
        return raw

    client.fetch_reports = fetch_then_lock


def test_a_locked_ledger_stops_collect_before_anything_is_fetched(file_ledger: Ledger) -> None:
    with Simulator(seed=10, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY) as sim:
        client = sim.client()
        send_quietly(frame(3), client, file_ledger)
        sim.clock.advance(5)
        with other_writer(file_ledger) as other:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(LedgerError, match="nothing was fetched or lost"):
                collect(client, file_ledger, until=None, min_interval=0, progress=False)
            assert sim.requests["SmsGetReport"] == 0  # the gateway still holds the reports
        summary = collect(client, file_ledger, campaign="c", until=None, progress=False)
    assert summary.reports == 3 and summary.done


def test_a_body_the_locked_ledger_would_not_take_is_saved_then_imported_once(
    file_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collector_module, "_STORE_RETRY_SECONDS", 0.3)
    with Simulator(seed=11, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY) as sim:
        client = sim.client()
        send_quietly(frame(4), client, file_ledger)
        sim.clock.advance(5)
        with other_writer(file_ledger) as other:
            lock_after_fetch(client, other)
            with pytest.raises(LedgerError) as caught:
                collect(client, file_ledger, until=None, min_interval=0, progress=False)
        (saved,) = unsaved_files(file_ledger)
        assert saved.name.startswith("l.sqlite.unsaved-SmsGetReport-")
        assert str(saved) in str(caught.value) and "next collect" in str(caught.value)
        body = json.loads(saved.read_text("utf-8"))["body"]
        assert body.count("SmsId") == 4
        assert file_ledger.inbox_frame().empty  # the ledger took nothing ...
        client = sim.client()
        assert client.get_reports() == []  # ... and the gateway will not hand them out again
        summary = collect(client, file_ledger, campaign="c", until=None, progress=False)
        assert (summary.bodies_imported, summary.reports, summary.done) == (1, 4, True)
        assert "Imported 1 body saved to a file" in str(summary)
        assert unsaved_files(file_ledger) == []
        again = collect(client, file_ledger, until=None, progress=False)
    assert (again.bodies_imported, again.reports) == (0, 0)
    assert len(file_ledger.reports_frame()) == 4
    assert file_ledger.inbox_frame()["body"].tolist().count(body) == 1


def test_a_saved_body_already_committed_is_not_imported_twice(
    file_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collector_module, "_STORE_RETRY_SECONDS", 0.2)
    with Simulator(seed=12, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY) as sim:
        client = sim.client()
        send_quietly(frame(2), client, file_ledger)
        sim.clock.advance(5)
        with other_writer(file_ledger) as other:
            lock_after_fetch(client, other)
            with pytest.raises(LedgerError):
                collect(client, file_ledger, until=None, min_interval=0, progress=False)
        (saved,) = unsaved_files(file_ledger)
        copy = saved.read_bytes()
        first = collect(sim.client(), file_ledger, until=None, progress=False)
        assert (first.bodies_imported, first.reports) == (1, 2)
        saved.write_bytes(copy)  # as if the import committed but died before deleting it
        second = collect(sim.client(), file_ledger, until=None, progress=False)
    assert (second.bodies_imported, second.reports) == (0, 0)
    assert unsaved_files(file_ledger) == []
    assert len(file_ledger.reports_frame()) == 2


def test_a_lock_released_while_retrying_stores_the_body_directly(
    file_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collector_module, "_STORE_RETRY_SECONDS", 30)
    with Simulator(seed=13, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY) as sim:
        client = sim.client()
        send_quietly(frame(3), client, file_ledger)
        sim.clock.advance(5)
        with other_writer(file_ledger) as other:
            lock_after_fetch(client, other)
            release = threading.Timer(0.5, other.execute, ("ROLLBACK",))
            release.start()
            summary = collect(client, file_ledger, campaign="c", until=None, progress=False)
            release.join()
    assert summary.reports == 3 and summary.done and summary.bodies_imported == 0
    assert unsaved_files(file_ledger) == []


def test_a_memory_ledger_that_cannot_store_puts_the_body_in_the_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = Ledger(":memory:")
    monkeypatch.setattr(collector_module, "_STORE_RETRY_SECONDS", 0.1)

    def locked(*args: Any, **kw: Any) -> int:
        raise LedgerError("The ledger :memory: is locked (database is locked); try again.")

    with Simulator(seed=14, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY) as sim:
        client = sim.client()
        send_quietly(frame(1), client, ledger)
        sim.clock.advance(5)
        monkeypatch.setattr(ledger, "store_raw", locked)
        with pytest.raises(LedgerError, match="keep it") as caught:
            collect(client, ledger, until=None, min_interval=0, progress=False)
    sms_id = int(ledger.status_frame("c")["sms_id"].iloc[0])
    assert str(sms_id) in str(caught.value)


def test_an_unreadable_saved_file_is_left_in_place_and_reported(file_ledger: Ledger) -> None:
    bad = Path(file_ledger.path + ".unsaved-SmsGetReport-20250101T000000000000Z-1.json")
    bad.write_text("{not json", encoding="utf-8")
    with Simulator(seed=15, manual_clock=True) as sim:
        summary = collect(
            sim.client(), file_ledger, until=None, progress=False, allow_empty_ledger=True
        )
    assert bad.exists() and str(bad) in summary.errors[0] and "not imported" in summary.errors[0]


# ---------------------------------------------------------------------------- one bad item


def with_bad_items(client: Any, *bad: Any, method: str = "fetch_reports") -> None:
    """The next answer of ``method`` carries ``bad`` items among the real ones."""
    fetch = getattr(client, method)

    def fetch_with_bad_items() -> RawAnswer:
        setattr(client, method, fetch)  # once
        raw = fetch()
        data = json.loads(raw.text)
        details = data.get("Details") or []
        data["Details"] = details[:1] + list(bad) + details[1:]
        code = "Code" if "Code" in data else "code"
        data[code] = len(data["Details"])  # the gateway counts what it handed out
        return RawAnswer(raw.method, json.dumps(data, ensure_ascii=False), raw.received_at)

    setattr(client, method, fetch_with_bad_items)


def test_one_bad_report_item_does_not_stop_the_others(ledger: Ledger) -> None:
    bad = {"SmsId": "12a", "Status": "12", "ReportTime": "2025-01-01 10:00:00", "ExStatus": "X"}
    with Simulator(seed=16, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY) as sim:
        client = sim.client()
        send_quietly(frame(3), client, ledger)
        sim.clock.advance(5)
        with_bad_items(client, bad)
        summary = collect(client, ledger, campaign="c", until=None, progress=False)
        again = collect(client, ledger, until=None, progress=False)
    assert summary.reports == 3 and summary.done
    assert len(summary.errors) == 1
    assert "item 2 of 4 skipped" in summary.errors[0] and "'12a'" in summary.errors[0]
    assert "Error: SmsGetReport: item 2 of 4" in str(summary)
    inbox = ledger.inbox_frame()
    assert '"12a"' in inbox["body"].iloc[0] and inbox["parsed_at"].notna().all()
    assert again.errors == [] and again.bodies_recovered == 0  # parsed once, never again


def test_a_body_whose_every_item_is_bad_is_an_error_answer(ledger: Ledger) -> None:
    with Simulator(seed=17, manual_clock=True) as sim:
        client = sim.client()
        with_bad_items(client, {"SmsId": "x", "Status": "12"}, {"SmsId": "1", "Status": None})
        summary = collect(client, ledger, until=None, progress=False, allow_empty_ledger=True)
    assert len(summary.errors) == 1 and "SmsId is not an integer" in summary.errors[0]
    inbox = ledger.inbox_frame()
    assert inbox["error"].notna().sum() == 1


def test_one_bad_reply_item_does_not_stop_the_others(ledger: Ledger) -> None:
    with Simulator(seed=18, manual_clock=True, reply_rate=0) as sim:
        client = sim.client()
        send_quietly(frame(2), client, ledger)
        sim.inject_reply("13900000000", "TD")
        sim.inject_reply("13900000001", "收到")
        with_bad_items(client, "not an object", method="fetch_replies")
        summary = collect(client, ledger, until=None, progress=False)
    assert (summary.replies, summary.opt_outs) == (2, 1)
    assert ledger.suppressed_phones() == {"13900000000"}
    assert len(summary.errors) == 1 and "item 2 of 3 skipped" in summary.errors[0]


def test_collecting_into_a_ledger_that_sent_nothing_is_refused(tmp_path: Path) -> None:
    with Simulator(seed=11, manual_clock=True) as sim, Ledger(tmp_path / "new.sqlite") as empty:
        sim.client().send(["13512346789"], "别的工具发的")
        sim.clock.advance(60)
        with pytest.raises(InputError, match=r"new\.sqlite has sent nothing.*fetched only once"):
            collect(sim.client(), empty, until=None, progress=False)
        assert sim.requests["SmsGetReport"] == 0  # nothing was taken from the gateway
        summary = collect(sim.client(), empty, until=None, progress=False, allow_empty_ledger=True)
        assert summary.reports == 1


# ---------------------------------------------------------------------------- issue 9


def _env_for(sim: Simulator) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBSET_")}
    env.update(sim.env())
    return env


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_stop_signal_during_a_fetch_keeps_the_page(tmp_path: Path, signame: str) -> None:
    """SIGTERM/SIGHUP while a report page is in flight: the page is committed, then collect
    stops cleanly (before, the process died and the page was lost for good)."""
    import signal
    import subprocess
    import sys

    path = tmp_path / "l.sqlite"
    with Simulator(seed=61, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY) as sim:
        with Ledger(path) as led:
            send_quietly(frame(10), sim.client(), led)
        sim.clock.advance(5)
        sim.inject("SmsGetReport", "latency", delay=1.5, times=1)
        script = (
            "import sys\n"
            "from mobset_campaign import Ledger, MobsetClient, collect\n"
            f"with Ledger({str(path)!r}) as led:\n"
            "    print('GO', flush=True)\n"
            "    s = collect(MobsetClient.from_env(), led, until=None, progress=False)\n"
            "print(s.stopped_reason, flush=True)\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=_env_for(sim),
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline().strip() == "GO"
        deadline = time.monotonic() + 20
        while sim.requests.get("SmsGetReport", 0) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # the request is in the gateway's hands now
        proc.send_signal(getattr(signal, signame))
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert f"interrupted ({signame})" in out
        with Ledger(path) as led:
            assert len(led.reports_frame()) == 10  # the page in flight was kept
            assert led.final_progress("c") == (10, 10)


def test_a_truncated_page_gives_up_only_the_damaged_items(ledger: Ledger) -> None:
    with Simulator(seed=62, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY) as sim:
        client = sim.client()
        send_quietly(frame(40), client, ledger)
        sim.clock.advance(5)
        sim.inject("SmsGetReport", "truncated", times=1)
        summary = collect(client, ledger, until=None, min_interval=0, pace=0, progress=False)
    stored = len(ledger.reports_frame())
    assert 10 <= stored < 40  # every complete report of the first half was applied
    assert summary.reports == stored and summary.unreadable == 40 - stored
    assert f"{40 - stored} more could not be read" in " ".join(summary.errors)
    assert "cut off" in str(summary) and f"{40 - stored} items handed out" in str(summary)
    bodies = ledger.inbox_frame()
    assert bodies["parsed_at"].notna().all() and bodies["error"].isna().all()


def test_a_page_whose_code_promises_missing_items_is_an_error_after_it_is_stored(
    ledger: Ledger,
) -> None:
    """The vendor text: Code >= 0 is the number of items returned. A page of one report
    whose Details come empty (the simulator's miscount fault) is a ProtocolError, never a
    silent empty page; the body is stored first."""
    with Simulator(seed=63, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY) as sim:
        client = sim.client()
        send_quietly(frame(1), client, ledger)
        sim.clock.advance(5)
        sim.inject("SmsGetReport", "miscount", times=1)
        summary = collect(client, ledger, until=None, min_interval=0, pace=0, progress=False)
    assert "Code says 1 item was handed out but it holds none" in summary.errors[0]
    inbox = ledger.inbox_frame().query("method == 'SmsGetReport'")
    assert '"code":"1"' in inbox["body"].iloc[0].replace(" ", "").lower()
    assert "Code says 1" in inbox["error"].iloc[0]
    assert summary.reports == 0 and summary.unreadable == 1


def test_a_page_holding_fewer_items_than_its_code_applies_those_and_counts_the_rest(
    ledger: Ledger,
) -> None:
    with Simulator(seed=65, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY) as sim:
        client = sim.client()
        send_quietly(frame(40), client, ledger)
        sim.clock.advance(5)
        sim.inject("SmsGetReport", "miscount", times=1)
        summary = collect(client, ledger, until=None, min_interval=0, pace=0, progress=False)
    assert summary.reports == 20 and summary.unreadable == 20
    assert "Code says 40 items but it holds 20" in " ".join(summary.errors)
    assert len(ledger.reports_frame()) == 20


class _Timed:
    """A client that notes when each report fetch went out."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.times = inner, []

    def fetch_reports(self) -> RawAnswer:
        self.times.append(time.monotonic())
        return self.inner.fetch_reports()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_full_pages_are_drained_at_a_bounded_pace(ledger: Ledger) -> None:
    with Simulator(seed=64, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY) as sim:
        send_quietly(frame(120), sim.client(), ledger)
        sim.clock.advance(5)
        client = _Timed(sim.client())
        summary = collect(client, ledger, until=None, pace=0.25, progress=False)
    assert summary.reports == 120 and len(client.times) == 3  # 50 + 50 + 20
    gaps = [b - a for a, b in zip(client.times, client.times[1:], strict=False)]
    assert min(gaps) >= 0.25


def test_the_interval_is_never_cut_short_to_meet_a_timeout(ledger: Ledger) -> None:
    with Simulator(seed=65, manual_clock=True, outcomes={(None, ""): 1.0}) as sim:
        send_quietly(frame(3), sim.client(), ledger)  # no report ever comes
        client = _Timed(sim.client())
        summary = collect(
            client, ledger, campaign="c", timeout=1.0, min_interval=0.6, progress=False
        )
    # rounds at 0 s and 0.6 s; a third would come after the timeout, so none is squeezed in
    gaps = [b - a for a, b in zip(client.times, client.times[1:], strict=False)]
    assert len(client.times) == 2 and min(gaps) >= 0.6
    assert summary.stopped_reason.startswith("timeout")


def test_a_pace_that_outlives_the_retention_is_warned_about(ledger: Ledger) -> None:
    with Simulator(seed=66, manual_clock=True) as sim:
        send_quietly(frame(60), sim.client(), ledger)
        summary = collect(sim.client(), ledger, until=None, pace=100_000, progress=False)
    assert any("48 hours" in w for w in summary.warnings)
    assert "Warning: draining 60 reports" in str(summary)
    assert collector_module.retention_warning(1_000_000, 1.0) is None
    assert collector_module.retention_warning(1_000_000, 30.0) is not None  # 7 days


def test_a_campaign_still_being_sent_is_not_final(ledger: Ledger) -> None:
    """collect --campaign X beside a send of X: pending messages keep it waiting."""
    with Simulator(seed=67, manual_clock=True, report_delay=(1, 1), outcomes=FINAL_ONLY) as sim:
        send_quietly(frame(3), sim.client(), ledger)
        ledger.register("c", [(p, p, "later", 1) for p in frame(2, start=50)["phone"]])
        sim.clock.advance(5)
        summary = collect(
            sim.client(), ledger, campaign="c", timeout=0.3, min_interval=0.05, progress=False
        )
    assert (summary.final, summary.waiting, summary.unsent) == (3, 0, 2)
    assert not summary.done and "2 not sent yet" in summary.stopped_reason
    assert "2 messages not sent yet" in str(summary)


def test_status_15_is_final_but_neither_delivered_nor_failed(
    ledger: Ledger, tmp_path: Path
) -> None:
    """Status 15 (未知状态) ends the wait for a report, and is its own outcome in merge,
    status, every rate, the workbook and the charts — never counted as failed."""
    import openpyxl

    from mobset_campaign import campaign_status, export_excel
    from mobset_campaign.outcomes import summary_table
    from mobset_campaign.plots import plot_delivery_time, plot_funnel

    mixed = {(12, "DELIVRD"): 0.5, (13, "UNDELIV"): 0.25, (15, "UNKNOWN"): 0.25}
    with Simulator(seed=70, manual_clock=True, report_delay=(1, 1), outcomes=mixed) as sim:
        client = sim.client()
        df = frame(40)
        send_quietly(df, client, ledger)
        sim.clock.advance(5)
        summary = collect(client, ledger, campaign="c", min_interval=0, timeout=5, progress=False)
        sent = dict(sim.handed_out())
    assert summary.done and summary.waiting == 0  # nobody waits for a status 15
    by_status = pd.Series(list(sent.values())).value_counts()
    n15, n13, n12 = (int(by_status.get(s, 0)) for s in (15, 13, 12))
    assert n15 and n13 and n12

    merged = merge_status(df, ledger, "c")
    assert (merged["send_state"] == "undetermined").sum() == n15
    assert (merged["send_state"] == "failed").sum() == n13
    status = campaign_status(ledger, "c")
    assert status.by_state["undetermined"] == n15 and status.by_state["failed"] == n13
    assert status.failure_rate == n13 / 40 and status.undetermined_rate == n15 / 40
    assert status.delivery_rate == n12 / 40 and status.waiting == 0
    assert "undetermined" in str(status) and "failure rate" in str(status)

    table = summary_table(merged, "c").set_index("item")["value"]
    assert table["发送失败 Failed"] == n13
    assert table["状态未知 Undetermined (status 15)"] == n15
    assert table["失败率 Failure rate"] == n13 / 40
    assert table["待最终回执 Awaiting a final report"] == 0

    out = tmp_path / "c.xlsx"
    export_excel(merged, out, campaign="c")
    book = openpyxl.load_workbook(out)
    cells = [c.value for row in book.worksheets[0].iter_rows() for c in row]
    assert "状态未知 Undetermined (status 15)" in cells
    details = [c.value for row in book.worksheets[1].iter_rows() for c in row]
    assert details.count("undetermined") == n15

    legend = [t.get_text() for t in plot_funnel(merged, "c").get_legend().get_texts()]
    assert any("undetermined" in t for t in legend)
    legend = [t.get_text() for t in plot_delivery_time(merged, "c").get_legend().get_texts()]
    assert any("undetermined" in t for t in legend) and any("failed" in t for t in legend)
