"""collect: reports and replies into the ledger, nothing lost, nothing counted twice."""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from mobset_campaign.collector import collect
from mobset_campaign.errors import InputError
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


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with Ledger(":memory:") as led:
        yield led


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
        summary = collect(client, ledger, until=None, min_interval=0, progress=False)
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
        summary = collect(wrong, ledger, timeout=30, min_interval=0.01, progress=False)
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
    assert summary.stopped_reason.startswith("timeout after 0.5 s with 1 accepted message")
    assert "1 still without one" in str(summary)
    assert "Stopped" in summary._repr_html_()


def test_ctrl_c_while_waiting_returns_a_summary(ledger: Ledger) -> None:
    with Simulator(seed=8, manual_clock=True) as sim:
        client = sim.client()
        send_quietly(frame(2), client, ledger)
        threading.Timer(0.3, _thread.interrupt_main).start()
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
        threading.Timer(0.2, _thread.interrupt_main).start()
        first = collect(client, ledger, campaign="c", min_interval=10, progress=False)
        assert "interrupted" in first.stopped_reason
        # the gateway handed the three reports out once; they were committed before Ctrl-C
        assert len(ledger.inbox_frame()) == 1
        second = collect(client, ledger, campaign="c", until=None, min_interval=0, progress=False)
    assert second.bodies_recovered == 1 and second.reports == 3 and second.done


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
        ({"campaign": "nope"}, "not in"),
    ],
)
def test_bad_parameters(ledger: Ledger, kw: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        collect(object(), ledger, progress=False, **kw)
