"""send, resend_unknown and cancel against the simulator."""

from __future__ import annotations

import _thread
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from mobset_campaign import campaign_status, estimate, export_excel
from mobset_campaign._protocol import BEIJING, beijing_now
from mobset_campaign.answers import SendResult
from mobset_campaign.collector import collect
from mobset_campaign.contacts import read_contacts
from mobset_campaign.errors import AuthError, InputError, LedgerError
from mobset_campaign.export import DETAILS_SHEET, SUMMARY_SHEET
from mobset_campaign.ledger import Ledger, default_ledger_path
from mobset_campaign.merge import merge_status
from mobset_campaign.render import render
from mobset_campaign.sender import cancel, resend_unknown, send
from mobset_campaign.simulator import Account, Simulator
from mobset_campaign.summaries import SendSummary

ANY_HOUR = None  # quiet_hours=None: the tests must pass at any time of day


def frame(
    shared: int = 0, personal: int = 0, *, start: int = 0, text: str = "春季促销"
) -> pd.DataFrame:
    phones = [f"1350000{i:04d}" for i in range(start, start + shared + personal)]
    content = [text] * shared + [f"{text} 会员{i}" for i in range(personal)]
    return pd.DataFrame(
        {
            "phone": phones,
            "phone_problem": [None] * len(phones),
            "content": content,
            "parts": [1] * len(phones),
            "sendable": [True] * len(phones),
        }
    )


class Scripted:
    """A client that delegates to a real one, except for chosen SmsSend calls (1-based,
    counted across its clones): an exception to raise instead of sending, or a function
    applied to the real answer."""

    def __init__(
        self, inner: Any, script: dict[int, Any] | None = None, shared: dict[str, Any] | None = None
    ) -> None:
        self.inner = inner
        self.shared = shared or {
            "calls": 0,
            "clones": 0,
            "lock": threading.Lock(),
            "script": script or {},
        }
        self.corp_id = inner.corp_id
        self.login_name = inner.login_name

    def clone(self) -> Scripted:
        with self.shared["lock"]:
            self.shared["clones"] += 1
        return Scripted(self.inner.clone(), shared=self.shared)

    def send(self, phones: list[str], content: str, **kw: Any) -> SendResult:
        with self.shared["lock"]:
            self.shared["calls"] += 1
            action = self.shared["script"].get(self.shared["calls"])
        if isinstance(action, BaseException):
            raise action
        result = self.inner.send(phones, content, **kw)
        return action(result) if callable(action) else result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=7, manual_clock=True) as s:
        yield s


def run(df: pd.DataFrame, client: Any, ledger: Ledger, **kw: Any) -> SendSummary:
    kw.setdefault("campaign", "spring")
    kw.setdefault("quiet_hours", ANY_HOUR)
    kw.setdefault("progress", False)
    return send(df, client, ledger=ledger, **kw)


def closed_window() -> tuple[str, str]:
    """A sending window that opens in an hour (so it is closed now)."""
    now = beijing_now()
    return (
        (now + timedelta(hours=1)).strftime("%H:%M"),
        (now + timedelta(hours=2)).strftime("%H:%M"),
    )


def accepted_phones(sim: Simulator) -> list[str]:
    return [m.phone for m in sim.accepted()]


# ---------------------------------------------------------------------------- input


def test_an_unrendered_frame_is_refused_naming_the_columns(sim: Simulator, ledger: Ledger) -> None:
    raw = pd.DataFrame({"手机": ["13512346789"], "phone": ["13512346789"]})
    with pytest.raises(InputError, match=r"'content', 'parts', 'sendable'.*render\(\)"):
        run(raw, sim.client(), ledger)
    assert sim.requests.get("total", 0) == 0


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"batch_size": 51}, "batch_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"concurrency": 0}, "concurrency"),
        ({"rate": 0}, "rate"),
        ({"rate": "fast"}, "rate"),
        ({"rate": 1e-10}, r"rate=1e-10 is out of range: .* from 0\.001 to 1,000,000"),
        ({"rate": float("nan")}, "rate=nan is out of range"),
        ({"rate": float("inf")}, "rate=inf is out of range"),
        ({"concurrency": 10**6}, "concurrency=1000000 is out of range"),
        ({"campaign": " "}, "campaign"),
        ({"add_num": "12a"}, "add_num"),
        ({"timer_send": "2001-01-01 10:00:00"}, "in the past"),
        ({"timer_send": "next tuesday"}, "not a time"),
        ({"quiet_hours": ("8am", "20:00")}, "time of day"),
        ({"quiet_hours": ("08:00", "08:00")}, "empty window"),
    ],
)
def test_bad_parameters_fail_before_anything_is_sent(
    sim: Simulator, ledger: Ledger, kw: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        run(frame(3), sim.client(), ledger, **kw)
    assert sim.accepted() == []
    assert ledger.campaigns().empty


# ---------------------------------------------------------------------------- batching


def test_shared_text_is_batched_and_personalised_rows_go_alone(
    sim: Simulator, ledger: Ledger
) -> None:
    summary = run(frame(shared=120, personal=5), sim.client(), ledger)
    assert sim.requests["SmsSend"] == 3 + 5  # 50 + 50 + 20, then one per personalised row
    assert sorted(accepted_phones(sim)) == sorted(frame(125)["phone"])
    assert (summary.accepted, summary.requests, summary.parts_billed) == (125, 8, 125)
    assert summary.counts["sent"] == 125 and summary.stopped_reason is None
    batches = ledger.status_frame("spring").groupby("batch_id")["phone"].count()
    assert sorted(batches.tolist()) == [1, 1, 1, 1, 1, 20, 50, 50]


def test_batch_size_is_honoured(sim: Simulator, ledger: Ledger) -> None:
    run(frame(shared=25), sim.client(), ledger, batch_size=10)
    assert sim.requests["SmsSend"] == 3


def test_sending_the_same_frame_again_sends_nothing(sim: Simulator, ledger: Ledger) -> None:
    df = frame(shared=60, personal=3)
    client = sim.client()
    run(df, client, ledger)
    again = run(df, client, ledger)
    assert len(sim.accepted()) == 63
    assert (again.registered, again.requests, again.planned_messages) == (0, 0, 0)
    assert "nothing to send" in str(again)
    # new rows added to the sheet go out, the old ones do not
    bigger = pd.concat([df, frame(personal=2, start=100)], ignore_index=True)
    third = run(bigger, client, ledger)
    assert (third.registered, third.accepted) == (2, 2)
    assert len(sim.accepted()) == 65
    assert len(set(accepted_phones(sim))) == 65


def test_skipped_rows_are_counted_by_reason(sim: Simulator, ledger: Ledger) -> None:
    df = frame(shared=6)
    df.loc[0, "phone_problem"] = "not a mainland mobile"
    df.loc[1, "phone"] = None
    df.loc[1, "phone_problem"] = "empty"
    df.loc[2, "sendable"] = False
    df.loc[3, "content"] = "  "
    ledger.suppress(df.loc[4, "phone"], reason="asked")
    summary = run(df, sim.client(), ledger)
    assert summary.skipped == {  # the same kinds as estimate() counts
        "not a mainland mobile": 1,
        "empty phone cell": 1,
        "not sendable": 1,
        "empty message": 1,
        "opted out": 1,
    }
    assert accepted_phones(sim) == [df.loc[5, "phone"]]
    assert "Skipped 5 rows" in str(summary)


def test_sms_id_zero_rejects_only_that_number(sim: Simulator, ledger: Ledger) -> None:
    df = frame(shared=3)
    df.loc[1, "phone"] = "12012345678"  # the gateway answers SmsId 0 for it
    summary = run(df, sim.client(), ledger)
    assert (summary.accepted, summary.rejected) == (2, 1)
    row = ledger.status_frame("spring").set_index("phone").loc["12012345678"]
    assert row["send_state"] == "rejected"
    assert "SmsId 0" in row["send_error"]
    assert pd.isna(row["sms_id"])
    assert run(df, sim.client(), ledger).requests == 0  # a rejected number is not retried


def test_a_short_sms_id_list_flags_the_missing_numbers_unknown(
    sim: Simulator, ledger: Ledger
) -> None:
    def drop_last(result: SendResult) -> SendResult:
        return SendResult(result.code, result.message, result.numbers[:-1])

    client = Scripted(sim.client(), {1: drop_last})
    summary = run(frame(shared=5), client, ledger)
    assert (summary.accepted, summary.unknown) == (4, 1)
    row = ledger.status_frame("spring").iloc[-1]
    assert row["send_state"] == "unknown" and "listed 4 of 5" in row["send_error"]
    assert run(frame(shared=5), client, ledger).requests == 0


def test_each_worker_uses_its_own_clone(sim: Simulator, ledger: Ledger) -> None:
    client = Scripted(sim.client())
    run(frame(personal=40), client, ledger, concurrency=3)
    assert 1 <= client.shared["clones"] <= 3
    assert client.shared["calls"] == 40


# ---------------------------------------------------------------------------- clean stops


def test_short_balance_stops_before_sending(ledger: Ledger) -> None:
    with Simulator(accounts=[Account(balance=5)], manual_clock=True) as sim:
        summary = run(frame(shared=8), sim.client(), ledger)
        assert sim.accepted() == []
        assert sim.requests.get("SmsSend", 0) == 0
    assert summary.balance == 5
    assert "needs 8" in summary.stopped_reason and "3 short" in summary.stopped_reason
    assert summary.counts["pending"] == 8
    assert "Stopped:" in str(summary)


def test_daily_limit_stops_cleanly_and_the_rest_stays_pending(ledger: Ledger) -> None:
    with Simulator(accounts=[Account(daily_limit=20)], manual_clock=True) as sim:
        client = sim.client()
        summary = run(frame(personal=30), client, ledger, concurrency=1)
        assert summary.accepted == 20 and summary.returned == 1
        assert "-126" in summary.stopped_reason
        assert summary.counts == {**summary.counts, "sent": 20, "pending": 10, "claimed": 0}
        again = run(frame(personal=30), client, ledger, concurrency=1)
        assert again.accepted == 0 and again.stopped_reason
        assert len(set(accepted_phones(sim))) == len(sim.accepted()) == 20


def test_an_auth_error_mid_run_stops_with_the_batch_back_to_pending(
    sim: Simulator, ledger: Ledger
) -> None:
    client = Scripted(sim.client(), {3: AuthError(-105, "帐号验证失败", method="SmsSend")})
    summary = run(frame(personal=6), client, ledger, concurrency=1)
    assert summary.accepted == 2
    assert "-105" in summary.stopped_reason
    assert summary.counts["pending"] == 4
    resumed = run(frame(personal=6), sim.client(), ledger, concurrency=1)
    assert resumed.accepted == 4
    assert len(set(accepted_phones(sim))) == len(sim.accepted()) == 6


def test_a_gateway_that_stays_busy_leaves_everything_pending(
    sim: Simulator, ledger: Ledger
) -> None:
    sim.inject("SmsSend", "busy")
    client = sim.client(max_retries=1, backoff=(0.001, 0.002))
    summary = run(frame(shared=10), client, ledger)
    assert "busy" in summary.stopped_reason
    assert summary.counts["pending"] == 10 and sim.accepted() == []
    sim.clear_faults()
    assert run(frame(shared=10), client, ledger).accepted == 10


def test_a_refused_text_rejects_its_batch_with_the_code(ledger: Ledger) -> None:
    with Simulator(max_content=20, manual_clock=True) as sim:
        df = frame(shared=2)
        df.loc[0, "content"] = "很长" * 20
        summary = run(df, sim.client(), ledger)
    assert (summary.accepted, summary.rejected) == (1, 1)
    row = ledger.status_frame("spring").iloc[0]
    assert (row["send_state"], row["send_code"]) == ("rejected", -110)


def test_a_ledger_failure_after_a_send_stops_the_run_and_never_resends(
    sim: Simulator, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Ledger._write_answer
    calls = {"answers": 0, "pauses": 0}

    def disk_full(self: Ledger, answer: dict[str, Any]) -> None:
        if answer["batch_id"] == 2:  # the second request's answer: every attempt fails
            calls["answers"] += 1
            raise LedgerError("disk full", reason="full")
        original(self, answer)

    def no_wait(seconds: float) -> None:
        calls["pauses"] += 1

    monkeypatch.setattr(Ledger, "_write_answer", disk_full)
    monkeypatch.setattr("mobset_campaign.ledger.recording._pause", no_wait)
    with pytest.raises(LedgerError, match=r"disk full.*kept in \S*send-answer-2-"):
        run(frame(personal=20), sim.client(), ledger, concurrency=1)
    assert calls == {"answers": 1, "pauses": 0}  # a full disk is not waited for: kept at once
    monkeypatch.undo()
    assert sim.requests["SmsSend"] == 2  # stopped at once
    accepted = {m.phone: m.sms_id for m in sim.accepted()}
    [kept] = ledger.kept_answers()
    assert [tuple(n) for n in kept["numbers"]] == list(accepted.items())[1:]
    # the gateway's report arrives before the next send: collect records the kept answer
    # first, so the report finds its message at once
    sim.clock.advance(60)
    collect(sim.client(), ledger, campaign="spring", until=None, min_interval=0, progress=False)
    assert ledger.kept_answers() == [] and ledger.reports_frame(unmatched=True).empty
    summary = run(frame(personal=20), sim.client(), ledger, concurrency=1)
    # the kept answer was recorded first: its message is not unknown and was not resent
    assert (summary.recovered_unknown, summary.accepted) == (0, 18)
    assert len(sim.accepted()) == len(set(accepted_phones(sim))) == 20
    assert ledger.kept_answers() == []
    assert ledger.reports_frame(unmatched=True).empty  # the early report found its message
    states = ledger.status_frame("spring").set_index("phone")
    second = list(accepted)[1]
    assert states.loc[second, "sms_id"] == accepted[second]
    assert states.loc[second, "send_state"] in ("delivered", "failed")
    assert summary.counts["unknown"] == summary.counts["claimed"] == 0
    again = resend_unknown("spring", ledger, sim.client(), quiet_hours=None, progress=False)
    assert (again.reset_unknown, again.requests) == (0, 0)
    assert len(sim.accepted()) == 20


def test_outside_the_window_nothing_is_sent(sim: Simulator, ledger: Ledger) -> None:
    summary = run(frame(shared=3), sim.client(), ledger, quiet_hours=closed_window())
    assert "outside the sending window" in summary.stopped_reason
    assert sim.accepted() == [] and summary.counts["pending"] == 3


@pytest.mark.slow
def test_wait_for_window_waits_then_sends(sim: Simulator, ledger: Ledger) -> None:
    now = beijing_now()
    window = (
        (now + timedelta(seconds=2)).strftime("%H:%M:%S"),
        (now + timedelta(hours=1)).strftime("%H:%M:%S"),
    )
    started = time.monotonic()
    summary = run(frame(shared=3), sim.client(), ledger, quiet_hours=window, wait_for_window=True)
    assert time.monotonic() - started >= 1.0
    assert summary.accepted == 3


def test_ctrl_c_stops_submitting_and_resume_finishes(sim: Simulator, ledger: Ledger) -> None:
    sim.inject("SmsSend", "latency", delay=0.03)
    df = frame(personal=80)

    def interrupt_after_some() -> None:
        while len(sim.accepted()) < 6:
            time.sleep(0.005)
        _thread.interrupt_main()

    threading.Thread(target=interrupt_after_some, daemon=True).start()
    summary = run(df, sim.client(), ledger, concurrency=2)
    assert "interrupted" in summary.stopped_reason
    counts = summary.counts
    assert counts["claimed"] == 0  # the requests in flight were recorded
    assert counts["sent"] == len(sim.accepted()) >= 6
    assert counts["pending"] == 80 - counts["sent"] > 0
    sim.clear_faults()
    resumed = run(df, sim.client(), ledger, concurrency=4)
    assert resumed.counts["sent"] == 80
    assert sorted(accepted_phones(sim)) == sorted(df["phone"])


def test_rate_limits_messages_per_second(sim: Simulator, ledger: Ledger) -> None:
    started = time.monotonic()
    summary = run(frame(personal=90), sim.client(), ledger, rate=60, concurrency=4)
    # one second of burst (60), then 60/s shared by the four workers: at least 0.5 s
    assert time.monotonic() - started >= 0.45
    assert summary.accepted == 90


# ---------------------------------------------------------------------------- resume, resend


def test_claims_left_by_a_crash_become_unknown_and_are_not_resent(
    sim: Simulator, ledger: Ledger
) -> None:
    df = frame(shared=5)
    ledger.ensure_campaign("spring")
    from mobset_campaign.rows import row_keys

    ledger.register(
        "spring",
        [(k, p, c, 1) for k, p, c in zip(row_keys(df), df["phone"], df["content"], strict=True)],
    )
    first = ledger.pending("spring")[:2]
    ledger.claim("spring", [m.id for m in first])  # the process "died" right after this
    summary = run(df, sim.client(), ledger)
    assert summary.recovered_unknown == 2
    assert summary.accepted == 3
    assert sorted(accepted_phones(sim)) == sorted(df["phone"][2:])
    assert "became unknown" in str(summary)


def test_resend_unknown_is_explicit_and_can_pick_numbers(sim: Simulator, ledger: Ledger) -> None:
    sim.inject("SmsSend", "drop_after_accept", times=2)
    df = frame(personal=4)
    client = sim.client()
    summary = run(df, client, ledger, concurrency=1)
    assert summary.unknown == 2 and summary.accepted == 2
    for _ in range(3):  # plain resumes never touch them
        assert run(df, client, ledger).requests == 0
    unknown = merge_status(df, ledger, "spring").query("send_state == 'unknown'")["phone"].tolist()
    again = resend_unknown(
        "spring", ledger, client, phones=unknown[:1], quiet_hours=None, progress=False
    )
    assert (again.reset_unknown, again.accepted) == (1, 1)
    states = ledger.status_frame("spring").set_index("phone")["send_state"]
    assert states[unknown[0]] == "sent" and states[unknown[1]] == "unknown"
    # the documented risk: the gateway had accepted it already, so it went out twice
    assert accepted_phones(sim).count(unknown[0]) == 2
    with pytest.raises(InputError, match="not in"):
        resend_unknown("nope", ledger, client)


# ---------------------------------------------------------------------------- scheduling


def test_scheduled_campaign_can_be_cancelled_50_ids_per_request(
    sim: Simulator, ledger: Ledger
) -> None:
    tomorrow = (beijing_now() + timedelta(days=1)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    df = frame(shared=120)
    before = sim.balance()
    summary = run(df, sim.client(), ledger, timer_send=tomorrow, quiet_hours=("08:00", "20:00"))
    assert summary.accepted == 120
    assert {m.timer_send for m in sim.accepted()} == {tomorrow.replace(tzinfo=BEIJING)}
    assert sim.balance() == before - 120
    # a second frame registered but never sent: cancel() stops it too
    run(frame(shared=3, start=500), sim.client(), ledger, quiet_hours=closed_window())
    result = cancel("spring", ledger, sim.client())
    assert (result.requested, result.cancelled, result.requests) == (120, 120, 3)
    assert result.pending_cancelled == 3
    assert sim.requests["SmsCancel"] == 3
    assert sim.balance() == before  # refunded
    counts = ledger.counts("spring")
    assert counts["cancelled"] == 123 and counts["sent"] == 0
    assert "120 of 120" in str(result)
    assert cancel("spring", ledger, sim.client()).requested == 0


def test_cancel_records_ids_the_gateway_refuses(sim: Simulator, ledger: Ledger) -> None:
    tomorrow = (beijing_now() + timedelta(days=1)).replace(hour=12)
    run(frame(shared=3), sim.client(), ledger, timer_send=tomorrow)
    first = ledger.status_frame("spring")["sms_id"].iloc[0]
    sim.client().cancel([int(first)])  # cancelled behind the ledger's back
    result = cancel("spring", ledger, sim.client())
    assert result.cancelled == 2
    assert list(result.failed) == [
        "-142 短信ID(SmsID)不存在或不属于此用户 (SmsID unknown or not owned by this user)"
    ]


def test_a_scheduled_time_outside_the_window_is_refused(sim: Simulator, ledger: Ledger) -> None:
    late = (beijing_now() + timedelta(days=1)).replace(hour=23, minute=0)
    summary = run(
        frame(shared=2), sim.client(), ledger, timer_send=late, quiet_hours=("08:00", "20:00")
    )
    assert "outside the sending window" in summary.stopped_reason
    assert sim.accepted() == []


# ---------------------------------------------------------------------------- dry run, defaults


def test_dry_run_plans_and_writes_nothing(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    summary = send(
        frame(shared=120, personal=5),
        sim.client(),
        campaign="c",
        dry_run=True,
        progress=False,
        quiet_hours=None,
    )
    assert (summary.planned_messages, summary.planned_batches, summary.planned_parts) == (
        125,
        8,
        125,
    )
    assert summary.balance == sim.balance()
    assert sim.accepted() == [] and sim.requests.get("SmsSend", 0) == 0
    assert not Path(default_ledger_path()).exists()  # a dry run creates no ledger
    assert "Dry run" in str(summary) and "Nothing was sent" in str(summary)
    offline = send(frame(shared=3), None, campaign="c", dry_run=True, progress=False)
    assert offline.planned_messages == 3 and offline.balance is None


def test_without_a_ledger_the_default_file_is_used(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = send(frame(shared=3), sim.client(), campaign="c", progress=False, quiet_hours=None)
    assert first.ledger == default_ledger_path() and first.ledger_created
    assert "a NEW ledger file" in str(first)
    with Ledger(default_ledger_path()) as led:
        assert led.counts("c")["sent"] == 3
    monkeypatch.chdir(tmp_path.parent)  # another folder: the same ledger, nothing resent
    again = send(frame(shared=3), sim.client(), campaign="c", progress=False, quiet_hours=None)
    assert again.requests == 0 and not again.ledger_created
    assert f"Ledger: {default_ledger_path()}" in str(again)
    assert "NEW" not in str(again)


def test_opted_out_after_registration_is_never_sent(sim: Simulator, ledger: Ledger) -> None:
    df = frame(shared=3)
    run(df, sim.client(), ledger, quiet_hours=closed_window())  # registered, not sent
    ledger.suppress(df.loc[0, "phone"], reason="replied TD elsewhere")
    summary = run(df, sim.client(), ledger)
    assert summary.accepted == 2
    assert ledger.counts("spring")["cancelled"] == 1
    assert df.loc[0, "phone"] not in accepted_phones(sim)


def test_sorting_a_sheet_with_duplicates_never_sends_a_row_twice(
    sim: Simulator, ledger: Ledger, tmp_path: Path
) -> None:
    sheet = tmp_path / "contacts.csv"
    sheet.write_text(
        "name,phone\nBob,13512346789\nAnn,13512346789\nCid,13600000001\nDee,+86 136 0000 0001\n",
        encoding="utf-8",
    )
    df = render(read_contacts(sheet), "你好 {{name}}")
    assert df["phone_problem"].notna().sum() == 2  # Ann and Dee: duplicates, not sent
    client = sim.client()
    first = run(df, client, ledger)
    assert first.accepted == 2
    for order in ("name", "phone", "content"):
        for ascending in (True, False):
            again = run(df.sort_values(order, ascending=ascending), client, ledger)
            assert (again.registered, again.requests) == (0, 0)
    # built by hand without the duplicate check: one number on three rows, two alike
    by_hand = frame(personal=2, text="新品")
    by_hand = pd.concat([by_hand, by_hand.iloc[[0, 1, 1]]], ignore_index=True)
    by_hand.loc[2, "content"] = "新品 另一条"
    one = run(by_hand, client, ledger, campaign="hand")
    assert one.accepted == 2 and one.skipped == {"duplicate": 3}  # one message per number
    several = run(by_hand, client, ledger, campaign="several", one_per_number=False)
    assert several.accepted == 3 and several.skipped == {"duplicate": 2}  # distinct texts
    for seed in range(3):
        shuffled = by_hand.sample(frac=1, random_state=seed)
        assert run(shuffled, client, ledger, campaign="hand").requests == 0
        assert run(shuffled, client, ledger, campaign="several").requests == 0
    got = [(m.phone, m.content) for m in sim.accepted()]
    assert sorted(p for p, _ in got[:2]) == ["13512346789", "13600000001"]
    pairs = set(zip(by_hand["phone"], by_hand["content"], strict=True))
    assert len(got[2:]) == 2 + 3 and set(got[4:]) == pairs and len(set(got[4:])) == 3


def test_a_number_gaining_a_second_row_is_not_texted_again(
    sim: Simulator, ledger: Ledger
) -> None:
    client = sim.client()
    df = frame(personal=2, text="通知")
    run(df, client, ledger)
    second = df.iloc[[0]].assign(content="通知 第二条")  # 王先生 → 王太太: the same number
    grown = pd.concat([df, second], ignore_index=True)
    summary = run(grown, client, ledger)
    assert (summary.registered, summary.requests) == (0, 0)
    assert summary.skipped == {"duplicate": 1}
    assert run(grown.iloc[::-1], client, ledger).requests == 0
    assert run(grown.drop(index=0), client, ledger).requests == 0  # the first row removed
    merged = merge_status(grown, ledger, "spring")
    assert merged["send_state"].tolist() == ["sent", "sent", "skipped"]
    assert merged["send_error"].iloc[2] == "duplicate of row 2"
    assert len(sim.accepted()) == 2


def test_several_texts_to_one_number_only_when_asked(sim: Simulator, ledger: Ledger) -> None:
    client = sim.client()
    df = frame(personal=2, text="通知")
    run(df, client, ledger, one_per_number=False)
    grown = pd.concat([df, df.iloc[[0]].assign(content="通知 第二条")], ignore_index=True)
    summary = run(grown, client, ledger)  # the campaign keeps its choice
    assert (summary.registered, summary.accepted) == (1, 1)  # only the new text went out
    assert run(grown.iloc[::-1], client, ledger).requests == 0
    assert run(pd.concat([grown, grown]), client, ledger).requests == 0  # same pairs: never
    with pytest.raises(InputError, match="one_per_number"):
        run(grown, client, ledger, one_per_number=True)
    contents = [(m.phone, m.content) for m in sim.accepted()]
    assert len(contents) == len(set(contents)) == 3


def test_text_edited_after_sending_is_not_sent_again(sim: Simulator, ledger: Ledger) -> None:
    run(frame(shared=3), sim.client(), ledger)
    summary = run(frame(shared=3, text="改过的文字"), sim.client(), ledger)
    assert summary.changed_after_send == 3 and summary.requests == 0
    assert "not sent again" in str(summary)


def test_summary_reads_well_in_text_and_html(sim: Simulator, ledger: Ledger) -> None:
    df = frame(shared=4)
    df.loc[0, "phone_problem"] = "<not a mobile>"
    summary = run(df, sim.client(), ledger)
    text = str(summary)
    assert "3 accepted" in text and "1 request," in text and "Skipped 1 row" in text
    page = summary._repr_html_()
    assert "&lt;not a mobile&gt;" in page and "<table>" in page
    assert summary.messages_per_second > 0 and summary.requests_per_second > 0


def test_progress_bar_does_not_get_in_the_way(
    sim: Simulator, ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    run(frame(shared=3), sim.client(), ledger, progress=True)
    assert "sending spring" in capsys.readouterr().err


# ---------------------------------------------------------------------------- one per number


def test_two_lists_concatenated_text_a_number_once(
    sim: Simulator, ledger: Ledger, tmp_path: Path
) -> None:
    """Issue 9, item 1: two read_contacts results, one number written two ways."""
    first = read_contacts(pd.DataFrame({"手机": ["13500000001", "13500000002"]}))
    second = read_contacts(pd.DataFrame({"手机": ["+86 135-0000-0001", "13500000003"]}))
    both = render(pd.concat([first, second], ignore_index=True), "周末活动，欢迎光临")
    assert both["phone_problem"].isna().all()  # each list was clean on its own
    assert estimate(both).not_sendable == {"duplicate": 1}
    summary = run(both, sim.client(), ledger)
    assert summary.accepted == 3 and summary.skipped == {"duplicate": 1}
    assert sorted(accepted_phones(sim)) == ["13500000001", "13500000002", "13500000003"]
    merged = merge_status(both, ledger, "spring")
    assert merged["send_error"].iloc[2] == "duplicate of row 2"
    status = campaign_status(ledger, "spring")
    assert status.skipped == {"duplicate": 1} and "skipped rows" in str(status)
    book = openpyxl.load_workbook(export_excel(merged, tmp_path / "c.xlsx"))
    summary_cells = [c.value for row in book[SUMMARY_SHEET].iter_rows() for c in row]
    assert "重复号码 duplicate" in summary_cells  # the summary counts by kind of reason,
    detail_cells = [c.value for row in book[DETAILS_SHEET].iter_rows() for c in row]
    assert "duplicate of row 2" in detail_cells  # the details keep the example


def test_a_cleared_phone_problem_does_not_send_a_duplicate(sim: Simulator, ledger: Ledger) -> None:
    contacts = read_contacts(pd.DataFrame({"手机": ["13500000001", "135 0000 0001"]}))
    assert contacts["phone_problem"].iloc[1] == "duplicate of row 2"
    cleared = render(contacts.assign(phone_problem=None), "周末活动，欢迎光临")
    summary = run(cleared, sim.client(), ledger)
    assert (summary.accepted, summary.skipped) == (1, {"duplicate": 1})
    assert accepted_phones(sim) == ["13500000001"]
    assert run(cleared.iloc[::-1], sim.client(), ledger).requests == 0


# ------------------------------------------------------------------ the default sending window


EDGES = [
    ("07:59:59", False),
    ("08:00:00", True),
    ("13:00:00", True),
    ("19:59:59", True),
    ("20:00:00", False),
    ("23:30:00", False),
    ("00:00:00", False),
]


def _at(hms: str) -> Any:
    """A clock stopped at ``hms`` on 2026-12-02, Beijing time (naive = Beijing)."""
    stopped = datetime.strptime(f"2026-12-02 {hms}", "%Y-%m-%d %H:%M:%S")
    return lambda: stopped


@pytest.mark.parametrize(("hms", "open_"), EDGES)
def test_by_default_send_sends_only_between_8_and_20_beijing(
    sim: Simulator, ledger: Ledger, hms: str, open_: bool
) -> None:
    """No quiet_hours given: the default window, checked at fixed Beijing times on both
    sides of each edge (the machine's own time zone plays no part)."""
    summary = send(frame(shared=3), sim.client(), campaign="w", ledger=ledger, progress=False,
                   clock=_at(hms))  # fmt: skip
    if open_:
        assert summary.accepted == 3 and summary.stopped_reason is None
    else:
        assert summary.accepted == 0 and len(sim.accepted()) == 0
        assert f"it is {hms[:5]} in Beijing, outside the sending window 08:00–20:00" in (
            summary.stopped_reason or ""
        )
        assert "wait_for_window=True" in summary.stopped_reason  # Python's words in Python


def test_the_window_closing_during_a_run_leaves_the_rest_pending(
    sim: Simulator, ledger: Ledger
) -> None:
    before, after = _at("19:59:58")(), _at("20:00:00")()
    ticks = iter([before] * 4)  # a few reads of the clock, then it is 20:00
    summary = send(frame(personal=10), sim.client(), campaign="w", ledger=ledger, concurrency=1,
                   progress=False, clock=lambda: next(ticks, after))  # fmt: skip
    assert 0 < summary.accepted < 10
    assert "the sending window 08:00–20:00 Beijing time closed" in summary.stopped_reason
    assert summary.counts["pending"] == 10 - summary.accepted


def test_a_clock_that_is_not_a_clock_is_an_input_error(sim: Simulator, ledger: Ledger) -> None:
    with pytest.raises(InputError, match="clock"):
        send(frame(shared=1), sim.client(), campaign="w", ledger=ledger, clock="08:00")
    with pytest.raises(InputError, match="clock"):
        send(frame(shared=1), sim.client(), campaign="w", ledger=ledger, clock=lambda: "08:00")


def test_the_send_summary_counts_duplicates_without_an_unfilled_row(
    sim: Simulator, ledger: Ledger, tmp_path: Path
) -> None:
    """Regression: a send summary was reported to read "1 duplicate of row N"; it counts
    duplicates by kind (the row each one repeats stays in merge_status' send_error)."""
    from mobset_campaign.language import using_language

    sheet = tmp_path / "contacts.csv"
    sheet.write_text("name,phone\nBob,13512346789\nAnn,13512346789\n", encoding="utf-8")
    by_hand = frame(personal=1, text="新品")
    by_hand = pd.concat([by_hand, by_hand], ignore_index=True)  # a duplicate read_contacts missed
    client = sim.client()
    for df, campaign in (
        (render(read_contacts(sheet), "你好 {{name}}"), "sheet"),
        (by_hand, "hand"),
    ):
        summary = run(df, client, ledger, campaign=campaign)
        assert summary.skipped == {"duplicate": 1}
        status = campaign_status(ledger, campaign)
        for language, said in (("en", "1 duplicate"), ("zh", "重复号码 1")):
            with using_language(language):
                texts = [str(summary), summary._repr_html_(), str(status), status._repr_html_()]
            for text in texts:
                assert said in text
                assert not re.search(r"of row(?! \d)|row N\b|\{row\}|第 ?N ?行", text), text
    assert merge_status(by_hand, ledger, "hand")["send_error"].iloc[1] == "duplicate of row 2"
