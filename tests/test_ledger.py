"""The ledger: durable state, migrations, idempotent parsing, opt-outs, frames, threads."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from mobset_campaign._protocol import BEIJING
from mobset_campaign.answers import Reply, Report
from mobset_campaign.errors import InputError, LedgerError
from mobset_campaign.ledger import Ledger, Outcome, is_opt_out
from mobset_campaign.ledger._schema import MIGRATIONS


def _register(led: Ledger, campaign: str, n: int, content: str = "hi") -> None:
    led.ensure_campaign(campaign)
    led.register(campaign, [(f"1350000{i:04d}", f"1350000{i:04d}", content, 1) for i in range(n)])


def _send_all(led: Ledger, campaign: str, first_id: int = 1000, account: str = "a") -> None:
    msgs = led.pending(campaign)
    batch, claimed = led.claim(campaign, [m.id for m in msgs], account=account)
    led.record_answer(
        batch,
        [
            Outcome(mid, "sent", first_id + i, len(claimed), None)
            for i, (mid, _) in enumerate(claimed)
        ],
        code=len(claimed),
        message="ok",
    )


# ---------------------------------------------------------------------------- files


def test_file_ledger_uses_wal_and_records_migrations(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger(path) as led:
        assert [m[0] for m in led.migrations()] == [n for n, _, _ in MIGRATIONS]
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT id, name FROM migrations").fetchall()[0] == (1, "initial schema")
    con.close()
    with Ledger(path) as again:  # reopening applies nothing twice
        assert len(again.migrations()) == len(MIGRATIONS)


def test_a_ledger_of_the_first_release_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("CREATE TABLE migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied_at TEXT NOT NULL)")  # fmt: skip
    for statement in MIGRATIONS[0][2].split(";"):
        con.execute(statement)
    con.execute("INSERT INTO migrations VALUES (1, 'initial schema', '2026-11-01')")
    con.execute("INSERT INTO campaigns (name, created, updated) VALUES ('c', 'x', 'x')")
    con.execute("INSERT INTO messages (campaign, row_key, phone, content, parts, registered_at) "
                "VALUES ('c', '13512346789', '13512346789', 'hi', 1, 'x')")  # fmt: skip
    con.close()
    with Ledger(path) as led:
        assert [m[0] for m in led.migrations()] == [n for n, _, _ in MIGRATIONS]
        assert led.counts("c")["pending"] == 1
        assert led.campaign_options("c") == {
            "add_num": None, "timer_send": None, "long_sms": True, "one_per_number": None
        }  # fmt: skip
        # a campaign from before the rule still gets one message per number from now on
        reg = led.register("c", [("13512346789#x", "13512346789", "new", 1)])
        assert (reg.new, reg.refused) == (0, (0,))


def test_a_status_15_message_of_an_older_ledger_becomes_undetermined(tmp_path: Path) -> None:
    """Migration 3 rebuilds the messages table (a CHECK cannot change in place) with its
    indexes and every reference to it intact; a status-15 message counted as failed
    before becomes undetermined, a status-13 one stays failed."""
    path = tmp_path / "v2.sqlite"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("CREATE TABLE migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied_at TEXT NOT NULL)")  # fmt: skip
    for number, name, sql in MIGRATIONS[:2]:
        for statement in sql.split(";"):
            con.execute(statement)
        con.execute("INSERT INTO migrations VALUES (?, ?, 'x')", (number, name))
    con.execute("INSERT INTO campaigns (name, created, updated) VALUES ('c', 'x', 'x')")
    con.execute("INSERT INTO inbox (method, body, received_at) VALUES ('SmsGetReport', '{}', 'x')")
    for i, status in enumerate((15, 13, 12)):
        con.execute(
            "INSERT INTO messages (campaign, row_key, phone, content, parts, registered_at, "
            "state, sms_id, status) VALUES ('c', ?, ?, 'hi', 1, 'x', ?, ?, ?)",
            (f"1351234678{i}", f"1351234678{i}", "delivered" if status == 12 else "failed",
             100 + i, status),
        )  # fmt: skip
        con.execute("INSERT INTO reports (inbox_id, seq, sms_id, status, message_id) "
                    "VALUES (1, ?, ?, ?, ?)", (i, 100 + i, status, i + 1))  # fmt: skip
    con.close()
    with Ledger(path) as led:
        assert [m[0] for m in led.migrations()] == [n for n, _, _ in MIGRATIONS]
        counts = led.counts("c")
        assert (counts["undetermined"], counts["failed"], counts["delivered"]) == (1, 1, 1)
        assert led.reports_frame()["row_key"].tolist() == [f"1351234678{i}" for i in range(3)]
    con = sqlite3.connect(path)
    indexes = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                          "AND tbl_name = 'messages' AND sql IS NOT NULL")}  # fmt: skip
    assert indexes == {"messages_state", "messages_sms_id", "messages_phone", "messages_batch"}
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    assert "messages_new" not in str(con.execute("SELECT sql FROM sqlite_master").fetchall())
    con.close()


def test_the_default_ledger_does_not_depend_on_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Ledger() as led:
        assert led.created
        led.suppress("13512346789")
        first = Path(led.path)
    assert first == Path(os.environ["XDG_DATA_HOME"]) / "mobset-campaign" / "ledger.sqlite"
    elsewhere = tmp_path / "another" / "folder"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    with Ledger() as led:  # the same ledger from any folder, not a new empty one
        assert not led.created and Path(led.path) == first
        assert led.suppressed_phones() == {"13512346789"}
    monkeypatch.setenv("MOBSET_LEDGER", str(tmp_path / "team.sqlite"))
    with Ledger() as led:
        assert Path(led.path) == tmp_path / "team.sqlite" and led.created
    assert not list(tmp_path.glob("*.sqlite-*")) or (tmp_path / "team.sqlite").exists()


def test_campaign_names_are_compared_after_nfkc_and_trimming(ledger: Ledger) -> None:
    ledger.ensure_campaign("积分12月")
    ledger.register("积分12月", [("13500000001", "13500000001", "hi", 1)])
    for name in ("积分12月 ", " 积分１２月", "积分１２月\t"):
        assert ledger.counts(name)["pending"] == 1
        assert ledger.campaign_options(name) is not None
    assert list(ledger.campaigns()["name"]) == ["积分12月"]
    with pytest.raises(InputError, match="name"):
        ledger.counts("  ")


def test_a_ledger_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    Ledger(path).close()
    con = sqlite3.connect(path)
    con.execute("INSERT INTO migrations VALUES (99, 'future', '2099')")
    con.commit()
    con.close()
    with pytest.raises(LedgerError, match="newer mobset_campaign"):
        Ledger(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "contacts.xlsx"
    path.write_bytes(b"PK\x03\x04 this is a workbook, not a ledger" * 100)
    with pytest.raises(LedgerError, match=r"contacts\.xlsx"):
        Ledger(path)


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="does not exist"):
        Ledger(tmp_path / "nope" / "l.sqlite")


def test_a_closed_ledger_says_so() -> None:
    led = Ledger(":memory:")
    led.close()
    led.close()  # idempotent
    with pytest.raises(LedgerError, match="closed"):
        led.suppressed_phones()


# ---------------------------------------------------------------------------- suppression


def test_suppression_normalises_and_keeps_the_first_reason(ledger: Ledger) -> None:
    assert ledger.suppress(["+86 135-1234-6789", "8613612346789"], reason="complaint") == 2
    assert ledger.suppress("13512346789", reason="again") == 0
    assert ledger.suppressed_phones() == {"13512346789", "13612346789"}
    frame = ledger.suppression_frame()
    assert frame.set_index("phone").loc["13512346789", "reason"] == "complaint"
    assert str(frame["added_at"].dt.tz) == "Asia/Shanghai"
    assert ledger.unsuppress(["13512346789", "13900000000"]) == 1
    assert ledger.suppressed_phones() == {"13612346789"}


@pytest.mark.parametrize(
    "text",
    [
        "R",
        "r",
        "T",
        "t",
        "TD",
        "td",
        "Td",
        "N",
        "n",
        "退订",
        "取消",
        " TD ",
        "ＴＤ",
        "ｔｄ。",
        "退订！",
        "【退订】",
        "td.",
        "  取消\n",
        "R!!",
        "“退订”",
    ],
)
def test_opt_out_words(text: str) -> None:
    assert is_opt_out(text)


@pytest.mark.parametrize(
    "text", ["", "收到", "RT", "T D", "请退订", "退订吧", "取消订单", "Thanks", "No", "TDD", None]
)
def test_not_opt_out(text: str | None) -> None:
    assert not is_opt_out(text)


# ---------------------------------------------------------------------------- messages


def test_register_is_idempotent_and_never_touches_sent_text(ledger: Ledger) -> None:
    ledger.ensure_campaign("c")
    rows = [("13500000001", "13500000001", "hi", 1), ("13500000002", "13500000002", "hi", 1)]
    first = ledger.register("c", rows)
    assert (first.new, first.unchanged) == (2, 0)
    assert ledger.register("c", rows).unchanged == 2
    assert len(ledger.status_frame("c")) == 2
    # send one; then the template changes: the pending one takes the new text, the sent one not
    batch, claimed = ledger.claim("c", [ledger.pending("c")[0].id])
    ledger.record_answer(batch, [Outcome(claimed[0][0], "sent", 7, 1, None)], code=1, message="")
    changed = [(k, p, "hello", 2) for k, p, _, _ in rows]
    result = ledger.register("c", changed)
    assert (result.new, result.updated, result.changed_after_send) == (0, 1, 1)
    frame = ledger.status_frame("c").set_index("row_key")
    assert frame.loc["13500000001", "content"] == "hi"
    assert frame.loc["13500000002", "content"] == "hello"
    assert frame.loc["13500000002", "parts"] == 2


def test_register_refuses_a_second_message_for_a_number(ledger: Ledger) -> None:
    ledger.ensure_campaign("c")
    p = "13500000001"
    assert ledger.register("c", [(p, p, "hi", 1)]).new == 1
    # whatever key a caller makes up, the number has its message: refused, not registered
    result = ledger.register("c", [(f"{p}#aa", p, "hi", 1), (f"{p}#bb", p, "new", 1)])
    assert (result.new, result.refused) == (0, (0, 1))
    # an edited text on the same key updates the pending message (never a new one)
    assert ledger.register("c", [(p, p, "edited", 1)]).updated == 1
    assert ledger.counts("c")["pending"] == 1
    # a campaign with several texts per number: each distinct text once
    ledger.ensure_campaign("m", one_per_number=False)
    rows = [(f"{p}#1", p, "a", 1), (f"{p}#2", p, "b", 1), (f"{p}#3", p, "a", 1)]
    many = ledger.register("m", rows, one_per_number=False)
    assert (many.new, many.refused) == (2, (2,))


def test_claim_takes_only_pending_and_cancels_opted_out(ledger: Ledger) -> None:
    _register(ledger, "c", 3)
    ids = [m.id for m in ledger.pending("c")]
    ledger.suppress("13500000002")
    _, claimed = ledger.claim("c", ids)
    assert [p for _, p in claimed] == ["13500000000", "13500000001"]
    def batch_rows() -> int:
        return int(ledger._read("SELECT COUNT(*) FROM batches", ())[0][0])

    batches_before = batch_rows()
    again_id, again = ledger.claim("c", ids)
    assert again == []  # nothing claimed twice
    assert again_id == 0  # and no batch recorded for a claim that found nothing pending
    assert batch_rows() == batches_before
    states = ledger.status_frame("c").set_index("phone")["send_state"]
    assert states.to_dict() == {
        "13500000000": "claimed",
        "13500000001": "claimed",
        "13500000002": "cancelled",
    }
    assert ledger.status_frame("c").set_index("phone").loc["13500000002", "send_error"] == (
        "opted out before sending"
    )


def test_interrupted_claims_become_unknown(ledger: Ledger) -> None:
    _register(ledger, "c", 2)
    ledger.claim("c", [ledger.pending("c")[0].id])
    assert ledger.recover_claims("c") == 1
    counts = ledger.counts("c")
    assert (counts["unknown"], counts["pending"], counts["claimed"]) == (1, 1, 0)
    assert ledger.recover_claims("c") == 0


def test_fail_batch_back_to_pending_or_unknown(ledger: Ledger) -> None:
    _register(ledger, "c", 4)
    ids = [m.id for m in ledger.pending("c")]
    b1, _ = ledger.claim("c", ids[:2])
    b2, _ = ledger.claim("c", ids[2:])
    assert ledger.fail_batch(b1, "pending", code=-190, error="busy") == 2
    assert ledger.fail_batch(b2, "unknown", code=None, error="timeout") == 2
    assert ledger.counts("c")["pending"] == 2
    assert ledger.counts("c")["unknown"] == 2
    with pytest.raises(ValueError):
        ledger.fail_batch(b1, "sent", code=None, error="")


def test_concurrent_claims_from_threads_never_overlap(ledger_url: str) -> None:
    with Ledger(ledger_url) as led:
        _register(led, "c", 200)
        ids = [m.id for m in led.pending("c")]
        got: list[int] = []
        lock = threading.Lock()

        def worker() -> None:
            for start in range(0, len(ids), 7):
                _, claimed = led.claim("c", ids[start : start + 7])
                with lock:
                    got.extend(mid for mid, _ in claimed)

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(got) == sorted(ids)  # every message claimed exactly once


def test_two_ledger_objects_on_one_file_share_claims(ledger_url: str) -> None:
    with Ledger(ledger_url) as a, Ledger(ledger_url) as b:
        _register(a, "c", 5)
        ids = [m.id for m in b.pending("c")]
        _, first = a.claim("c", ids)
        _, second = b.claim("c", ids)
        assert len(first) == 5
        assert second == []


# ---------------------------------------------------------------------------- inbox


def _report(sms_id: int, status: int, minute: int = 0) -> Report:
    when = datetime(2024, 5, 1, 10, minute, tzinfo=BEIJING)
    return Report(sms_id, status, when, {12: "DELIVRD", 10: "", 13: "UNDELIV"}.get(status, "X"))


def test_reports_are_applied_once_and_unknown_ids_kept(ledger: Ledger) -> None:
    _register(ledger, "c", 2)
    _send_all(ledger, "c")
    body = ledger.store_raw("SmsGetReport", '{"code": "3"}', account="a")
    assert ledger.unparsed()[0][0] == body
    reports = [_report(1000, 12), _report(1001, 13), _report(555, 12)]
    applied = ledger.apply_reports(body, reports, account="a")
    assert (applied.new, applied.matched) == (3, 2)
    again = ledger.apply_reports(body, reports, account="a")
    assert again.new == 0  # the same body parsed twice changes nothing
    assert ledger.unparsed() == []
    frame = ledger.status_frame("c").set_index("sms_id")
    assert frame.loc[1000, "send_state"] == "delivered"
    assert frame.loc[1001, "send_state"] == "failed"
    assert frame.loc[1001, "ex_status"] == "UNDELIV"
    assert frame.loc[1000, "status_text"] == "12 接收成功 (delivered)"
    assert str(frame["report_time"].dt.tz) == "Asia/Shanghai"
    unmatched = ledger.reports_frame(unmatched=True)
    assert unmatched["sms_id"].tolist() == [555]
    assert len(ledger.reports_frame()) == 3


def test_reports_that_arrive_before_the_answer_is_recorded_find_their_message(
    ledger: Ledger,
) -> None:
    _register(ledger, "c", 3)
    batch, claimed = ledger.claim("c", [m.id for m in ledger.pending("c")], account="a")
    # a collector fetched the reports before the sender wrote the gateway's answer
    mine = ledger.store_raw("SmsGetReport", "1", account="a")
    ledger.apply_reports(mine, [_report(1000, 10, minute=1), _report(1000, 12, minute=2)])
    anyone = ledger.store_raw("SmsGetReport", "2", account="")
    ledger.apply_reports(anyone, [_report(1001, 13)])
    other = ledger.store_raw("SmsGetReport", "3", account="b")  # another account's SmsId
    ledger.apply_reports(other, [_report(1002, 12)], account="b")
    assert len(ledger.reports_frame(unmatched=True)) == 4
    ledger.record_answer(
        batch,
        [Outcome(mid, "sent", 1000 + i, 3, None) for i, (mid, _) in enumerate(claimed)],
        code=3,
        message="ok",
    )
    frame = ledger.status_frame("c").set_index("sms_id")
    assert frame.loc[1000, ["send_state", "status"]].tolist() == ["delivered", 12]
    assert frame.loc[1001, "send_state"] == "failed"
    assert frame.loc[1002, "send_state"] == "sent"
    assert ledger.reports_frame(unmatched=True)["sms_id"].tolist() == [1002]


def _refuse_answers(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every attempt to write an SmsSend answer fails as with a locked ledger; the pauses
    between attempts are recorded instead of slept."""
    pauses: list[float] = []

    def locked(self: Ledger, answer: dict[str, object]) -> None:
        raise LedgerError("the ledger is busy (database is locked)", reason="locked")

    monkeypatch.setattr(Ledger, "_write_answer", locked)
    monkeypatch.setattr("mobset_campaign.ledger.recording._pause", pauses.append)
    return pauses


def test_an_answer_the_ledger_refuses_is_kept_beside_it_and_recorded_on_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger(path) as led:
        _register(led, "c", 2)
        batch, claimed = led.claim("c", [m.id for m in led.pending("c")], account="a")
        pauses = _refuse_answers(monkeypatch)
        outcomes = [Outcome(claimed[0][0], "sent", 4242, 1, None)]
        outcomes.append(Outcome(claimed[1][0], "rejected", None, 1, "SmsId 0"))
        with pytest.raises(LedgerError, match=r"database is locked.*kept in .*send-answer-1-"):
            led.record_answer(
                batch,
                outcomes,
                code=1,
                message="ok",
                numbers=[(claimed[0][1], 4242), (claimed[1][1], 0)],
            )
        assert len(pauses) >= 2  # retried with a pause between attempts
        monkeypatch.undo()
        [file] = list(tmp_path.glob("l.sqlite.send-answer-*.json"))
        assert json.loads(file.read_text(encoding="utf-8"))["numbers"] == [
            [claimed[0][1], 4242],
            [claimed[1][1], 0],
        ]
        assert led.counts("c")["claimed"] == 2
    with Ledger(path) as again:  # a later run: the answer is recorded before claims go unknown
        assert again.recover_claims("c") == 0
        states = again.status_frame("c")[["send_state", "sms_id"]].to_dict("records")
        assert states == [
            {"send_state": "sent", "sms_id": 4242},
            {"send_state": "rejected", "sms_id": None},
        ]
        assert not file.exists() and again.kept_answers() == []
        assert again.apply_kept_answers() == 0


def test_an_unreadable_kept_answer_stops_the_resume_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger(path) as led:
        _register(led, "c", 1)
        led.claim("c", [m.id for m in led.pending("c")])
        bad = tmp_path / "l.sqlite.send-answer-1-x.json"
        bad.write_text("{not json", encoding="utf-8")
        with pytest.raises(LedgerError, match=r"send-answer-1-x\.json.*cannot be read"):
            led.recover_claims("c")
        assert led.counts("c")["claimed"] == 1  # not turned unknown meanwhile


def test_a_late_interim_report_does_not_undo_a_final_one(ledger: Ledger) -> None:
    _register(ledger, "c", 1)
    _send_all(ledger, "c")
    b1 = ledger.store_raw("SmsGetReport", "x", account="a")
    ledger.apply_reports(b1, [_report(1000, 12, minute=5)], account="a")
    b2 = ledger.store_raw("SmsGetReport", "y", account="a")
    ledger.apply_reports(b2, [_report(1000, 10, minute=1)], account="a")
    row = ledger.status_frame("c").iloc[0]
    assert (row["send_state"], row["status"]) == ("delivered", 12)
    assert ledger.final_progress("c") == (1, 1)


def test_reports_match_the_latest_message_with_that_sms_id(ledger: Ledger) -> None:
    # two simulator runs hand out the same SmsIds; the report belongs to the newest message
    _register(ledger, "old", 1)
    _send_all(ledger, "old")
    _register(ledger, "new", 1)
    _send_all(ledger, "new")
    body = ledger.store_raw("SmsGetReport", "x", account="a")
    ledger.apply_reports(body, [_report(1000, 12)], account="a")
    assert ledger.status_frame("new")["send_state"].tolist() == ["delivered"]
    assert ledger.status_frame("old")["send_state"].tolist() == ["sent"]


def test_replies_attribution_opt_out_and_frames(ledger: Ledger) -> None:
    _register(ledger, "spring", 2)
    _send_all(ledger, "spring", first_id=1000)
    _register(ledger, "summer", 1)
    _send_all(ledger, "summer", first_id=2000)
    soon = datetime.now(BEIJING) + timedelta(minutes=1)
    replies = [
        Reply("13500000000", "106900", "", soon, "好的"),
        Reply("+8613500000000", "106900", "", soon + timedelta(seconds=5), " ＴＤ "),
        Reply("13500000001", "106900", "", soon, "收到"),
        Reply("13999999999", "106900", "", soon, "谁?"),
    ]
    body = ledger.store_raw("SmsGetRecv", "raw", account="a")
    applied = ledger.apply_replies(body, replies, account="a")
    assert (applied.new, applied.matched, applied.opt_outs) == (4, 3, 1)
    assert ledger.apply_replies(body, replies, account="a").new == 0
    assert ledger.suppressed_phones() == {"13500000000"}
    # 13500000000 got both campaigns: its replies go to the most recent one (summer)
    summer = ledger.status_frame("summer").iloc[0]
    assert (summer["reply"], summer["reply_count"], summer["opted_out"]) == (" ＴＤ ", 2, True)
    spring = ledger.status_frame("spring").set_index("phone")
    assert spring.loc["13500000001", "reply"] == "收到"
    assert spring.loc["13500000000", "reply_count"] == 0
    assert spring.loc["13500000000", "opted_out"]  # the opt-out spans campaigns
    frame = ledger.replies_frame()
    assert list(frame.columns) == [
        "phone",
        "recv_time",
        "content",
        "add_num",
        "recv_number",
        "opt_out",
        "campaign",
        "sms_id",
    ]
    assert frame["opt_out"].tolist() == [False, False, False, True]
    assert frame["campaign"].isna().sum() == 1  # the stranger's reply is kept, unattributed
    assert ledger.replies_frame("spring")["phone"].tolist() == ["13500000001"]
    assert str(frame["sms_id"].dtype) == "Int64"


def test_replies_prefer_the_campaign_sent_with_their_add_num(ledger: Ledger) -> None:
    for name, add in (("a", "11"), ("b", "22")):
        _register(ledger, name, 1)
        msgs = ledger.pending(name)
        batch, claimed = ledger.claim(name, [m.id for m in msgs], account="x", add_num=add)
        ledger.record_answer(
            batch,
            [Outcome(claimed[0][0], "sent", 5 if name == "a" else 6, 1, None)],
            code=1,
            message="",
        )
    body = ledger.store_raw("SmsGetRecv", "raw", account="x")
    ledger.apply_replies(body, [Reply("13500000000", "10690011", "11", None, "好")], account="x")
    assert ledger.replies_frame("a")["content"].tolist() == ["好"]
    assert ledger.replies_frame("b").empty


def _sent_at(
    led: Ledger, campaign: str, sms_id: int, answered: datetime, timer: datetime | None = None
) -> None:
    """One message to 13500000000, answered by the gateway at ``answered``."""
    led.ensure_campaign(campaign, timer_send=None if timer is None else timer.isoformat())
    led.register(campaign, [("13500000000", "13500000000", campaign, 1)])
    mid = led.pending(campaign)[0].id
    batch, _ = led.claim(
        campaign, [mid], account="a", timer_send=None if timer is None else timer.isoformat()
    )
    led.record_answer(
        batch, [Outcome(mid, "sent", sms_id, 1, None)], code=1, message="", answered_at=answered
    )


def _reply(led: Ledger, when: datetime, content: str) -> None:
    body = led.store_raw("SmsGetRecv", f"raw {when} {content}", account="a")
    led.apply_replies(body, [Reply("13500000000", "106900", "", when, content)], account="a")


def test_a_reply_goes_to_the_message_that_went_out_last_counting_timer_send(
    ledger: Ledger,
) -> None:
    day1 = datetime(2025, 3, 1, 9, 0, tzinfo=BEIJING)
    # 'promo' is scheduled on day 1 for day 2 at 10:00; 'notice' goes out on day 1 at 12:00
    _sent_at(ledger, "promo", 111, day1, timer=day1 + timedelta(days=1, hours=1))
    _sent_at(ledger, "notice", 222, day1 + timedelta(hours=3))
    # 'flash' was scheduled for day 2 at 09:00, then cancelled: it never went out
    _sent_at(ledger, "flash", 333, day1, timer=day1 + timedelta(days=1))
    [(flash, _, _)] = ledger.scheduled("flash")
    ledger.record_cancel([(flash, 1, None)])
    assert ledger.counts("flash")["cancelled"] == 1
    _reply(ledger, day1 + timedelta(hours=3, minutes=30), "收到通知")  # the promo not out yet
    _reply(ledger, day1 + timedelta(days=1, hours=1, minutes=5), "TD")  # answers the promo
    frame = ledger.replies_frame()
    assert frame["campaign"].tolist() == ["notice", "promo"]
    assert frame["sms_id"].tolist() == [222, 111]
    assert ledger.suppression_frame()["source"].tolist() == ["promo"]


def test_a_reply_older_than_every_message_is_kept_unattributed(ledger: Ledger) -> None:
    day1 = datetime(2025, 3, 1, 9, 0, tzinfo=BEIJING)
    _sent_at(ledger, "late", 333, day1 + timedelta(days=5))
    _reply(ledger, day1, "hello")
    _reply(ledger, day1 + timedelta(hours=1), "退订")
    frame = ledger.replies_frame()
    assert frame["content"].tolist() == ["hello", "退订"]  # both stored
    assert frame["campaign"].isna().all() and frame["sms_id"].isna().all()
    assert ledger.replies_frame("late").empty
    assert ledger.status_frame("late")["reply_count"].tolist() == [0]
    # the opt-out still counts, with no campaign as its source
    optout = ledger.suppression_frame()
    assert optout["phone"].tolist() == ["13500000000"] and optout["source"].isna().all()


def test_status_frame_columns_and_types(ledger: Ledger) -> None:
    _register(ledger, "c", 2)
    frame = ledger.status_frame("c")
    assert list(frame.columns) == [
        "row_key",
        "phone",
        "content",
        "parts",
        "batch_id",
        "sms_id",
        "send_state",
        "send_code",
        "send_error",
        "status",
        "status_text",
        "sent_time",
        "report_time",
        "ex_status",
        "reply",
        "reply_time",
        "reply_count",
        "opted_out",
    ]
    assert frame["send_state"].tolist() == ["pending", "pending"]
    for col in ("sms_id", "send_code", "status", "reply_count", "parts", "batch_id"):
        assert str(frame[col].dtype) == "Int64", col
    for col in ("sent_time", "report_time", "reply_time"):
        assert str(frame[col].dtype).endswith("Asia/Shanghai]"), col
    assert frame["opted_out"].dtype == bool
    empty = ledger.status_frame("nothing")
    assert list(empty.columns) == list(frame.columns) and empty.empty


def test_campaigns_frame_counts_states(ledger: Ledger) -> None:
    _register(ledger, "a", 3)
    _send_all(ledger, "a")
    _register(ledger, "b", 2)
    frame = ledger.campaigns().set_index("name")
    assert frame.loc["a", "sent"] == 3 and frame.loc["a", "pending"] == 0
    assert frame.loc["b", "pending"] == 2 and frame.loc["b", "messages"] == 2
    assert isinstance(frame.loc["a", "created"], pd.Timestamp)


def _sync_level_of_each_transaction(statements: list[str]) -> list[tuple[str, list[str]]]:
    """(synchronous level in force, the statements) for each BEGIN … COMMIT seen."""
    level, current, found = "?", None, []
    for sql in statements:
        text = " ".join(sql.split())
        if text.upper().startswith("PRAGMA SYNCHRONOUS ="):
            level = text.split("=")[1].strip().upper()
        elif text.upper() == "BEGIN IMMEDIATE":
            current = []
            found.append((level, current))
        elif current is not None:
            current.append(text)
    return found


def test_claims_and_fetched_bodies_are_durable_and_the_journal_is_wal(tmp_path: Path) -> None:
    """A claim must be on disk before its request leaves, a fetched body before it is
    parsed: their commits run with synchronous=FULL, in WAL mode. Weakening either fails."""
    path = tmp_path / "l.sqlite"
    with Ledger(path) as led:
        led.ensure_campaign("c")
        led.register("c", [("13500000001", "13500000001", "hi", 1)])
        statements: list[str] = []
        led._conn.set_trace_callback(statements.append)
        led.claim("c", [led.pending("c")[0].id])
        led.store_raw("SmsGetReport", '{"code": 0}')
        led._conn.set_trace_callback(None)
        assert led._read("PRAGMA journal_mode")[0][0] == "wal"
    durable = {
        kind: level
        for level, body in _sync_level_of_each_transaction(statements)
        for kind in ("claimed", "INSERT INTO inbox")
        if any(kind in sql for sql in body)
    }
    assert durable == {"claimed": "FULL", "INSERT INTO inbox": "FULL"}
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


# ---------------------------------------------------------------------------- PostgreSQL


def test_a_postgres_ledger_never_shows_its_password(postgres_db_url: str) -> None:
    url = postgres_db_url.replace("postgres@", "postgres:s3cret-pw@", 1)
    with Ledger(url) as led:
        assert led.is_postgres and led.created
        assert "s3cret" not in repr(led) and "s3cret" not in led.path and "***" in led.path
        assert "s3cret" not in led.location
    with Ledger(url) as again:
        assert not again.created and [m[0] for m in again.migrations()] == [1, 2, 3, 4]
    wrong = url.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(LedgerError) as err:
        Ledger(wrong)
    assert "s3cret" not in str(err.value) and "no_such_database" in str(err.value)


def test_processes_claiming_one_campaign_on_postgres_never_take_a_row_twice(
    postgres_db_url: str,
) -> None:
    with Ledger(postgres_db_url) as led:
        _register(led, "c", 300)
    script = f"""
import sys
from mobset_campaign.ledger import Ledger
with Ledger({postgres_db_url!r}) as led:
    ids = [m.id for m in led.pending("c")]
    got = []
    for start in range(0, len(ids), 10):
        _, claimed = led.claim("c", ids[start:start + 10])
        got += [mid for mid, _ in claimed]
print(",".join(map(str, got)))
"""
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    got = [int(x) for out in outs for x in out.split(",") if x]
    assert len(got) == len(set(got)) == 300  # each row claimed once, by one process


def test_a_read_only_postgres_ledger_reads_and_refuses_writes(postgres_db_url: str) -> None:
    with Ledger(postgres_db_url) as led:
        _register(led, "c", 3)
    with Ledger(postgres_db_url, read_only=True) as ro:
        assert ro.counts("c")["pending"] == 3
        with pytest.raises(LedgerError, match="read-only") as err:
            ro.ensure_campaign("d")
        assert err.value.reason == "readonly"


def test_a_lost_connection_is_one_ledger_error(postgres_db_url: str) -> None:
    import psycopg

    with Ledger(postgres_db_url) as led:
        _register(led, "c", 2)
        pid = led._conn._raw.info.backend_pid
        with psycopg.connect(postgres_db_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(LedgerError) as err:
            led.ensure_campaign("d")
        assert err.value.reason == "connection" and "connection" in str(err.value)


def test_a_postgres_statement_left_running_by_a_signal_is_settled(postgres_db_url: str) -> None:
    # A stop signal that lands after psycopg sent a statement but before it waits for the
    # answer leaves the connection busy, and the clean stop's own statements then failed
    # with "another command is already in progress" (a collector exited 1 on SIGHUP). The
    # next statement on such a connection cancels and reads the one left running.
    with Ledger(postgres_db_url) as led:
        led._conn._raw.pgconn.send_query(b"SELECT pg_sleep(30)")  # sent, never waited for
        started = time.monotonic()
        with pytest.raises(LedgerError):
            led._read("SELECT 1")  # the statement that finds it busy fails ...
        assert led._read("SELECT 1") == [(1,)]  # ... and leaves it settled
        assert time.monotonic() - started < 10  # cancelled, not waited out
        led.ensure_campaign("after")  # writes go on too
