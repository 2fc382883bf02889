"""outcomes: what a merged frame means (sendable, accepted, delivered, skipped and why) and
the campaign in numbers — the same for the workbook and the charts."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from _campaign_frames import FakeLedger, merged_frame, replies_frame

from mobset_campaign._money import EXCEL_MONEY_FORMAT, format_money
from mobset_campaign.cli import main
from mobset_campaign.contacts import read_contacts
from mobset_campaign.errors import InputError
from mobset_campaign.estimate import estimate
from mobset_campaign.ledger import Ledger
from mobset_campaign.outcomes import (
    UNIT_FORMATS,
    accepted_mask,
    delivered_mask,
    reason_kind,
    replies_data,
    sendable_mask,
    skipped_reasons,
    status_data,
    summarize,
    summary_table,
)
from mobset_campaign.render import render
from mobset_campaign.rows import Skip
from mobset_campaign.simulator import Simulator


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return merged_frame(300)


def test_summary_table_is_a_tidy_typed_table(frame: pd.DataFrame) -> None:
    table = summary_table(frame, "spring-sale", price_per_part=0.1)
    assert list(table.columns) == ["section", "item", "value", "share", "unit"]
    assert table["section"].iloc[0] == "概况 Overview"
    by_item = table.set_index("item")
    assert by_item.loc["预计费用 Estimate (parts planned × price)", "value"] == pytest.approx(
        frame.loc[frame["sendable"], "parts"].sum() * 0.1
    )
    assert by_item.loc["单价 Price per part", "unit"] == "price"
    assert set(table["unit"]) <= set(UNIT_FORMATS)
    assert UNIT_FORMATS["money"] == EXCEL_MONEY_FORMAT == '"¥"#,##0.00'


def test_summary_table_keeps_the_price_s_precision_and_the_second(frame: pd.DataFrame) -> None:
    now = datetime(2026, 12, 3, 11, 57, 46, 987654)
    by_item = summary_table(frame, price_per_part=0.045, now=now).set_index("item")["value"]
    billed = int(frame.loc[accepted_mask(frame), "parts"].sum())
    assert by_item["费用 Cost (parts accepted × price)"] == float(
        Decimal(billed) * Decimal("0.045")
    )
    assert by_item["单价 Price per part"] == 0.045
    assert by_item["导出时间 Exported at (Beijing)"] == datetime(2026, 12, 3, 11, 57, 46)


def test_summarize_shows_what_the_workbook_shows(frame: pd.DataFrame) -> None:
    now = datetime(2026, 12, 3, 11, 57, 46, 987654)
    shown = summarize(frame, "spring-sale", price_per_part=0.045, now=now)
    typed = summary_table(frame, "spring-sale", price_per_part=0.045, now=now)
    assert list(shown.columns) == ["section", "item", "value", "share", "meaning"]  # no unit
    assert shown[["section", "item"]].values.tolist() == typed[["section", "item"]].values.tolist()
    cells = shown.to_numpy().ravel().tolist()
    assert all(isinstance(cell, str) for cell in cells)
    assert not [c for c in cells if re.search(r"\bnan\b|<NA>|\bNone\b|NaT", c)]
    by_item = shown.set_index("item")
    assert by_item.loc["导出时间 Exported at (Beijing)", "value"] == "2026-12-03 11:57:46"
    n = len(frame)
    delivered = int(delivered_mask(frame).sum())
    assert by_item.loc["已送达 Delivered", "value"] == f"{delivered:,}"
    assert by_item.loc["已送达 Delivered", "share"] == f"{delivered / n:.1%} of rows"
    rate = by_item.loc["送达率 Delivery rate", "value"]
    assert rate == f"{delivered / int(accepted_mask(frame).sum()):.1%}"
    status = shown[shown["section"] == "回执状态 By delivery status"]
    assert status["share"].str.fullmatch(r"\d+\.\d% of accepted").all()
    assert by_item.loc["行数 Rows", "share"] == ""  # no share: empty, not NaN
    cost = typed.set_index("item").loc["费用 Cost (parts accepted × price)", "value"]
    assert by_item.loc["费用 Cost (parts accepted × price)", "value"] == format_money(cost)
    assert by_item.loc["单价 Price per part", "value"] == "¥0.045"


def test_summarize_a_frame_before_sending() -> None:
    df = pd.DataFrame(
        {
            "phone": ["13800138000", None, "13900139000"],
            "phone_problem": [None, "empty", None],
            "parts": [1, 1, 2],
        }
    )
    by_item = summary_table(df).set_index("item")
    assert by_item.loc["可发送 Sendable", "value"] == 2
    assert by_item.loc["跳过 Skipped", "value"] == 1
    assert by_item.loc["计划条数 Parts planned (sendable rows)", "value"] == 3
    assert "送达率 Delivery rate" not in by_item.index  # nothing sent: no rate to show
    assert summarize(df).set_index("item").loc["号码为空 empty phone cell", "value"] == "1"
    with pytest.raises(InputError, match="price_per_part"):
        summarize(df, price_per_part=-1)


def test_a_rate_with_nothing_to_divide_by_is_a_dash_not_nan() -> None:
    df = pd.DataFrame({"phone": ["13800138000"], "send_state": ["pending"], "parts": [1]})
    assert summary_table(df).set_index("item").loc["送达率 Delivery rate", "value"] is None
    assert summarize(df).set_index("item").loc["送达率 Delivery rate", "value"] == "—"


def test_skipped_rows_are_counted_by_kind_with_the_examples_left_to_the_details() -> None:
    df = pd.DataFrame(
        {
            "phone": [None, None, "13512346789", "13512346789", None, "13612345678"],
            "phone_problem": [
                "not a mainland mobile: 020-12345678 (a landline)",
                "not a mainland mobile: 0755-7654321 (a landline)",
                None,
                "duplicate of row 4",
                "不是手机号码 not a mainland mobile",  # a user's own wording, Chinese first
                None,
            ],
            "sendable": [False, False, True, False, False, False],
            "send_state": ["skipped", "skipped", "delivered", "skipped", "skipped", "skipped"],
        }
    )
    reasons = summary_table(df, "spring").query("section == '跳过原因 Skipped by reason'")
    assert dict(zip(reasons["item"], reasons["value"], strict=True)) == {
        "不是手机号 not a mainland mobile": 3,
        "重复号码 duplicate": 1,
        "不可发送 not sendable": 1,
    }
    assert reasons["share"].tolist() == pytest.approx([3 / 6, 1 / 6, 1 / 6])
    # the examples stay in the reasons of the rows (the details sheet's send_error)
    assert skipped_reasons(df).iloc[1] == "not a mainland mobile: 0755-7654321 (a landline)"


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("not a mainland mobile: 020-12345678 (a landline)", "不是手机号 not a mainland mobile"),
        ("empty", "号码为空 empty phone cell"),
        ("空号码 empty", "号码为空 empty phone cell"),
        (
            "digits lost in the spreadsheet: 1.35123E+10",
            "号码位数丢失 digits lost in the spreadsheet",
        ),
        ("several numbers in one cell: 135…, 136…", "一格多个号码 several numbers in one cell"),
        ("duplicate of row 12", "重复号码 duplicate"),
        ("opted out", "已退订 opted out"),
        ("已退订 opted out earlier", "已退订 opted out"),
        ("no phone number", "没有号码 no phone number"),
        ("empty message", "短信为空 empty message"),
        ("too long", "超长 too long"),
        ("not sendable: emoji or rare characters (count 2)", "不可发送 not sendable"),
        ("already messaged in this campaign", "本活动已发过 already messaged in this campaign"),
        ("bounced last month: see CRM", "bounced last month"),
    ],
)
def test_every_reason_the_package_writes_has_a_kind(reason: str, kind: str) -> None:
    assert reason_kind(reason) == kind


def test_every_kind_of_skip_reason_has_its_chinese_words() -> None:
    for skip in Skip:
        if skip is not Skip.PHONE:  # phone problems are named by their own kind
            kind = reason_kind(str(skip))
            assert kind.endswith(str(skip)) and not kind[0].isascii(), kind


def test_no_url_or_python_name_in_any_summary_cell(frame: pd.DataFrame) -> None:
    """A row that was never registered says so in words, not with a campaign repr and a
    call of send(); nothing else internal reaches the summary either."""
    never_sent = frame.assign(send_state=frame["send_state"].astype(object))
    rows = never_sent.index[never_sent["phone"].notna()][:3]
    never_sent.loc[rows, ["send_state", "send_error", "sms_id", "status"]] = [
        "skipped",
        None,
        None,
        None,
    ]
    ledger = FakeLedger({"spring-sale": (never_sent, replies_frame(never_sent))})
    for table in (summary_table(ledger, "spring-sale"), summarize(ledger, "spring-sale")):
        texts = [str(c) for c in table[["section", "item", "value"]].to_numpy().ravel()]
        internal = [
            t for t in texts if re.search(r"://|[A-Za-z_]\(|object at 0x|'spring-sale'|\(none\)", t)
        ]
        assert not internal, internal
    reasons = summarize(ledger, "spring-sale").set_index("item")
    assert reasons.loc["未登记 not registered (not sent yet, or only a dry run)", "value"] == "3"


def test_masks_follow_the_states_and_work_without_them(frame: pd.DataFrame) -> None:
    accepted = accepted_mask(frame)
    assert accepted.equals(frame["send_state"].isin(["sent", "delivered", "failed"]))
    assert (delivered_mask(frame) <= accepted).all()
    bare = frame[["phone", "phone_problem", "sms_id", "status"]]
    has_id = bare["sms_id"].fillna(0).ne(0).astype(bool)
    assert accepted_mask(bare).tolist() == has_id.tolist()
    assert delivered_mask(bare).tolist() == bare["status"].eq(12).fillna(False).tolist()
    sendable = bare["phone"].notna() & bare["phone_problem"].isna()
    assert sendable_mask(bare).tolist() == sendable.tolist()


def test_a_skipped_row_keeps_the_reason_merge_recorded(frame: pd.DataFrame) -> None:
    reasons = skipped_reasons(frame, "spring")
    skipped = frame["send_state"] == "skipped"
    assert reasons[skipped].notna().all() and reasons[~skipped].isna().all()
    recorded = frame["send_error"].notna() & skipped
    assert reasons[recorded].equals(frame.loc[recorded, "send_error"].astype(object))


def test_a_ledger_is_read_through_its_frames(frame: pd.DataFrame) -> None:
    ledger = FakeLedger({"spring": (frame, replies_frame(frame))})
    assert status_data(ledger, "spring").equals(frame)
    assert replies_data(ledger, "spring") is not None
    assert replies_data(frame) is None
    with pytest.raises(InputError, match="campaign="):
        status_data(ledger)
    with pytest.raises(InputError, match="DataFrame"):
        status_data(42)


def test_one_amount_in_the_estimate_the_summary_and_the_go_live_confirmation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """5 parts at ¥0.045 are ¥0.225: every report shows ¥0.23 (a float would show 0.22)."""
    contacts = tmp_path / "contacts.csv"
    phones = ["13512346789", "13612345678", "13712345678", "13812345678", "13912345678"]
    pd.DataFrame({"手机": [*phones, "020-12345678"], "姓名": list("甲乙丙丁戊己")}).to_csv(
        contacts, index=False
    )
    template, price, ledger_path = "{{ 姓名 }}您好，快递已到", 0.045, tmp_path / "l.sqlite"
    command = ["send", str(contacts), "-t", template, "-c", "c", "--ledger", str(ledger_path)]
    command += ["--price", str(price), "--quiet-hours", "off", "--send"]
    with Simulator(seed=5) as sim:
        for name, value in sim.env().items():
            monkeypatch.setenv(name, value)
        assert main(command) == 0  # the CLI prints the estimate, then sends
        confirmation = capsys.readouterr().out
        client = sim.client()
        frame = render(read_contacts(contacts), template, signature=client.get_sign())
        est = estimate(frame, client=client, price_per_part=price)
    with Ledger(ledger_path) as ledger:
        shown = summarize(ledger, "c", price_per_part=price).set_index("item")["value"]
    assert est.total_parts == 5 and est.cost_text == "¥0.23"
    assert re.search(rf"^  cost +{re.escape(est.cost_sentence() or '-')}$", confirmation, re.M)
    assert est.cost_sentence() == "¥0.23 at ¥0.045 per part"
    assert shown["预计费用 Estimate (parts planned × price)"] == est.cost_text
    assert shown["费用 Cost (parts accepted × price)"] == est.cost_text
    assert shown["单价 Price per part"] == "¥0.045"
