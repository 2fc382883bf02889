"""read_campaign_workbook: an exported workbook read back into typed frames, the same
campaign as merge_status gave (round trip), over several details sheets, and clear errors
for a file that is not one of ours."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from _campaign_frames import HOSTILE_REPLIES, merged_frame, replies_frame

import mobset_campaign.export as export
from mobset_campaign import read_campaign_workbook
from mobset_campaign.collector import collect
from mobset_campaign.errors import InputError
from mobset_campaign.export import DETAILS_SHEET, REPLIES_SHEET, SUMMARY_SHEET, export_excel
from mobset_campaign.ledger import Ledger
from mobset_campaign.merge import merge_status
from mobset_campaign.sender import send
from mobset_campaign.simulator import Simulator
from mobset_campaign.states import ROW_STATES

TEXT_FIELDS = ("phone", "sms_id", "content", "send_error", "status_text", "ex_status", "reply")
TIME_FIELDS = ("sent_time", "report_time", "reply_time")


def _expected_text(series: pd.Series) -> list[object]:
    """What a text column reads back as: text, missing for NA and "", CR as LF."""
    out = []
    for value in series.astype(object).tolist():
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            out.append(None)
        else:
            text = str(value).replace("\r\n", "\n").replace("\r", "\n")
            out.append(text or None)
    return out


def _read_text(series: pd.Series) -> list[object]:
    return [None if pd.isna(v) else v for v in series.astype(object).tolist()]


def assert_round_trip(merged: pd.DataFrame, details: pd.DataFrame) -> None:
    """``details`` (read back) holds ``merged`` (merge_status output), typed."""
    assert list(details.columns) == list(merged.columns)
    assert len(details) == len(merged)
    for name in TEXT_FIELDS:
        if name in merged.columns:
            assert _read_text(details[name]) == _expected_text(merged[name]), name
            assert pd.api.types.is_string_dtype(details[name].dtype), name
    for name in TIME_FIELDS:
        if name not in merged.columns:
            continue
        got = details[name]
        assert pd.api.types.is_datetime64_dtype(got.dtype) and got.dt.tz is None, name
        want = merged[name].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
        assert (got.isna() == want.isna().to_numpy()).all(), name
        gap = (got - want.reset_index(drop=True).astype(got.dtype)).abs().max()
        assert pd.isna(gap) or gap < pd.Timedelta(milliseconds=1), name
    assert isinstance(details["send_state"].dtype, pd.CategoricalDtype)
    assert set(details["send_state"].cat.categories) >= set(ROW_STATES)
    assert details["send_state"].astype(str).tolist() == merged["send_state"].astype(str).tolist()
    for name in ("parts", "status", "send_code", "reply_count"):
        if name in merged.columns:
            assert str(details[name].dtype) == "Int64", name
            want = pd.array(merged[name], dtype="Int64")
            assert details[name].astype(object).where(details[name].notna(), None).tolist() == [
                None if pd.isna(v) else int(v) for v in want
            ], name
    assert details["opted_out"].tolist() == merged["opted_out"].astype(bool).tolist()


# ------------------------------------------------------------------ a real merge_status


@pytest.fixture
def campaign() -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """A campaign sent to the simulator, reports and replies collected, merged."""
    df = pd.DataFrame(
        {
            "姓名": ["张三", "李四", "王五", "赵六", "钱七"],
            "会员号": ["00123", "45678", "00999", "12345", "77777"],
            "积分": ["120", "3500", "", "-8", "0"],
            "生日": ["1990-01-02", "1985-12-31", "", "2001-07-15", "1999-09-09"],
            "phone": ["13512340001", "13512340002", None, "13512340004", "13512340005"],
            "phone_problem": [None, None, "空号码 empty", None, None],
        }
    )
    df["content"] = "【活动】" + df["姓名"] + "您好"
    df["parts"] = 1
    df["sendable"] = df["phone"].notna()
    with Simulator(seed=3, manual_clock=True, report_delay=(1, 1), reply_rate=0.0) as sim:
        client = sim.client()
        with Ledger(":memory:") as ledger:
            send(df, client, campaign="c", ledger=ledger, quiet_hours=None, progress=False)
            sim.clock.advance(5)
            sim.inject_reply("13512340001", '=HYPERLINK("http://x","y")')
            sim.inject_reply("13512340002", "退订")
            collect(client, ledger, campaign="c", until=None, min_interval=0, progress=False)
            merged = merge_status(df, ledger, "c")
            replies = ledger.replies_frame("c")
        client.close()
    yield merged, replies


def test_merge_status_output_round_trips(
    campaign: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    merged, replies = campaign
    assert merged["reply"].notna().sum() == 2 and merged["report_time"].notna().sum() == 4
    path = export_excel(merged, tmp_path / "c.xlsx", replies=replies, campaign="c")
    book = read_campaign_workbook(path)
    assert_round_trip(merged, book.details)
    # the user's columns keep their meaning: ids as text, numbers as numbers, dates as dates
    assert book.details["会员号"].tolist() == ["00123", "45678", "00999", "12345", "77777"]
    assert book.details["积分"].astype(object).where(
        book.details["积分"].notna(), None
    ).tolist() == [
        120,
        3500,
        None,
        -8,
        0,
    ]
    birthdays = book.details["生日"]
    assert pd.api.types.is_datetime64_dtype(birthdays.dtype)
    assert birthdays.iloc[0] == pd.Timestamp("1990-01-02") and pd.isna(birthdays.iloc[2])
    # the replies sheet, typed the same way
    assert list(book.replies.columns) == list(replies.columns)
    assert book.replies["content"].tolist() == replies["content"].tolist()
    assert book.replies["phone"].tolist() == replies["phone"].tolist()
    assert book.replies["opt_out"].tolist() == replies["opt_out"].astype(bool).tolist()
    # the summary, by item
    summary = book.summary.set_index("item")
    assert summary.loc["行数 Rows", "value"] == 5
    assert summary.loc["活动 Campaign", "value"] == "c"
    assert summary.loc["送达率 Delivery rate", "value"] == pytest.approx(
        (merged["send_state"] == "delivered").sum()
        / merged["send_state"].isin(["sent", "delivered", "failed", "undetermined"]).sum()
    )


def test_hostile_texts_read_back_as_they_were(tmp_path: Path) -> None:
    merged = merged_frame(120, seed=5)
    rows = merged.index[merged["send_state"] == "delivered"][: len(HOSTILE_REPLIES)]
    merged.loc[rows, "reply"] = HOSTILE_REPLIES
    merged.loc[rows[0], "姓名"] = "'=already quoted"  # a user's own apostrophe survives too
    for guard in ("apostrophe", "style"):
        path = export_excel(merged, tmp_path / f"{guard}.xlsx", formula_guard=guard)
        details = read_campaign_workbook(path).details
        assert_round_trip(merged, details)
        assert details.loc[rows[0], "姓名"] == "'=already quoted"


def test_a_frame_shaped_like_merge_status_round_trips(tmp_path: Path) -> None:
    merged = merged_frame(300)
    replies = replies_frame(merged)
    path = export_excel(merged, tmp_path / "m.xlsx", replies=replies, price_per_part=0.05)
    book = read_campaign_workbook(path)
    assert_round_trip(merged, book.details)
    assert book.details["会员号"].tolist() == merged["会员号"].tolist()  # leading zeros kept
    assert book.details["积分"].tolist() == merged["积分"].tolist()
    assert len(book.replies) == len(replies)


# ------------------------------------------------------------------ more rows than a sheet


def test_details_continue_on_more_sheets_and_read_back_as_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "MAX_SHEET_ROWS", 7)
    merged = merged_frame(20)
    replies = replies_frame(merged).head(3)
    path = export_excel(merged, tmp_path / "big.xlsx", replies=replies)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [
        SUMMARY_SHEET,
        DETAILS_SHEET,
        f"{DETAILS_SHEET} (2)",
        f"{DETAILS_SHEET} (3)",
        REPLIES_SHEET,
    ]
    sizes = [wb[name].max_row - 1 for name in wb.sheetnames[1:4]]
    assert sizes == [7, 7, 6]
    for name in wb.sheetnames[1:4]:
        ws = wb[name]
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref == f"A1:Y{ws.max_row}"
        assert ws["A1"].value == "姓名" and ws["A1"].font.b
    assert wb[f"{DETAILS_SHEET} (2)"]["A2"].value == merged["姓名"].iloc[7]
    book = read_campaign_workbook(path)
    assert_round_trip(merged, book.details)
    assert book.details["姓名"].tolist() == merged["姓名"].tolist()


# ------------------------------------------------------------------ not one of ours


def test_a_workbook_that_is_not_ours_is_a_clear_error(tmp_path: Path) -> None:
    other = tmp_path / "other.xlsx"
    pd.DataFrame({"a": [1]}).to_excel(other, sheet_name="Sheet1", index=False)
    with pytest.raises(InputError, match="not a campaign workbook") as info:
        read_campaign_workbook(other)
    assert str(other) in str(info.value) and "Sheet1" in str(info.value)

    text = tmp_path / "notes.xlsx"
    text.write_text("just text", encoding="utf-8")
    with pytest.raises(InputError, match="as an Excel workbook") as info:
        read_campaign_workbook(text)
    assert str(text) in str(info.value)

    with pytest.raises(InputError, match="no such file"):
        read_campaign_workbook(tmp_path / "missing.xlsx")


def test_a_workbook_without_summary_reads_back(tmp_path: Path) -> None:
    merged = merged_frame(30)
    path = export_excel(merged, tmp_path / "plain.xlsx", summary=False)
    book = read_campaign_workbook(path)
    assert book.summary is None
    assert_round_trip(merged, book.details)


def test_a_workbook_read_back_exports_to_the_same_workbook(tmp_path: Path) -> None:
    """What read_campaign_workbook gives (categorical states, naive times, text ids) is a
    frame export_excel takes as it is: exporting it again reads back the same."""
    merged = merged_frame(120, seed=9)
    first = read_campaign_workbook(
        export_excel(merged, tmp_path / "1.xlsx", replies=replies_frame(merged))
    )
    second = read_campaign_workbook(
        export_excel(first.details, tmp_path / "2.xlsx", replies=first.replies)
    )
    pd.testing.assert_frame_equal(first.details, second.details)
    pd.testing.assert_frame_equal(first.replies, second.replies)
