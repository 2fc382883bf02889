"""The campaign workbook: what a marketer sees when opening it in Excel, reloaded with
openpyxl (and, for formulas, read straight from the sheet XML)."""

from __future__ import annotations

import re
import stat
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from _campaign_frames import HOSTILE_REPLIES, FakeLedger, merged_frame, replies_frame

from mobset_campaign._money import EXCEL_MONEY_FORMAT
from mobset_campaign.errors import InputError
from mobset_campaign.export import (
    DETAILS_SHEET,
    REPLIES_SHEET,
    SUMMARY_SHEET,
    display_width,
    export_excel,
)
from mobset_campaign.outcomes import reason_kind, summary_table
from mobset_campaign.workbook import field_name


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return merged_frame(300)


@pytest.fixture(scope="module")
def workbook_path(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("xl") / "spring.xlsx"
    export_excel(
        frame,
        out,
        replies=replies_frame(frame),
        campaign="spring-sale",
        price_per_part=0.05,
    )
    return out


@pytest.fixture(scope="module")
def book(workbook_path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(workbook_path)


def header(ws) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Field name → column number (the header shows ``发送状态 send_state``)."""
    return {field_name(cell.value): cell.column for cell in ws[1]}


def column(ws, name: str) -> list:  # type: ignore[no-untyped-def]
    col = header(ws)[name]
    return [row[0] for row in ws.iter_rows(min_row=2, min_col=col, max_col=col)]


def summary_items(ws) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    """The summary table's items (the charts' data tables below it left out)."""
    items = {}
    for row in ws.iter_rows(min_row=2, max_col=3):
        if str(row[0].value).startswith("图表数据"):
            break
        if row[0].value is not None:
            items[row[0].value] = (row[1].value, row[2].value)
    return items


# ---------------------------------------------------------------------------------------
# the details sheet


def test_sheets_summary_first_then_details_then_replies(book: openpyxl.Workbook) -> None:
    assert book.sheetnames == [SUMMARY_SHEET, DETAILS_SHEET, REPLIES_SHEET]


def test_details_keep_every_column_and_row_in_order(book, frame: pd.DataFrame) -> None:
    ws = book[DETAILS_SHEET]
    assert [field_name(c.value) for c in ws[1]] == list(frame.columns)
    assert ws.max_row == len(frame) + 1
    assert [c.value for c in column(ws, "姓名")] == frame["姓名"].tolist()


def test_phones_ids_and_digit_strings_are_text_cells(book, frame: pd.DataFrame) -> None:
    ws = book[DETAILS_SHEET]
    for name in ("phone", "手机号码", "会员号", "sms_id"):
        cells = [c for c in column(ws, name) if c.value is not None]
        assert cells, name
        digit_cells = [c for c in cells if str(c.value).isdigit()]
        assert digit_cells, name
        for cell in digit_cells:
            assert cell.data_type == "s", (name, cell.value)
            assert cell.number_format == "@", (name, cell.value)
    # leading zeros survive, 16-digit SmsIds keep every digit
    assert [c.value for c in column(ws, "会员号")] == frame["会员号"].tolist()
    ids = [c.value for c in column(ws, "sms_id") if c.value is not None]
    assert ids == [str(v) for v in frame["sms_id"].dropna()]
    assert all(len(v) == 16 for v in ids)


def test_small_and_negative_numbers_stay_numbers(book, frame: pd.DataFrame) -> None:
    ws = book[DETAILS_SHEET]
    points = column(ws, "积分")
    assert [c.value for c in points] == frame["积分"].tolist()
    assert all(c.data_type == "n" for c in points)
    assert any(c.value < 0 for c in points)
    assert all(c.data_type == "n" for c in column(ws, "parts"))


def test_dates_are_real_excel_datetimes_in_beijing_time(book, frame: pd.DataFrame) -> None:
    ws = book[DETAILS_SHEET]
    cells = column(ws, "report_time")
    expected = frame["report_time"].dt.tz_localize(None)
    for cell, want in zip(cells, expected, strict=True):
        if pd.isna(want):
            assert cell.value is None
            continue
        assert cell.is_date and isinstance(cell.value, datetime)
        assert cell.value.tzinfo is None
        assert abs(pd.Timestamp(cell.value) - want) < pd.Timedelta(milliseconds=1)
        assert "yy" in cell.number_format and "hh" in cell.number_format


def test_utc_times_are_shown_in_beijing_time(tmp_path: Path) -> None:
    df = pd.DataFrame({"report_time": pd.to_datetime(["2024-06-15 02:00:00"]).tz_localize(UTC)})
    out = export_excel(df, tmp_path / "t.xlsx", summary=False)
    cell = openpyxl.load_workbook(out)[DETAILS_SHEET]["A2"]
    assert cell.value == datetime(2024, 6, 15, 10, 0)


def test_header_is_bold_frozen_and_filtered(book, frame: pd.DataFrame) -> None:
    ws = book[DETAILS_SHEET]
    assert ws.freeze_panes == "A2"
    last = openpyxl.utils.get_column_letter(frame.shape[1])
    assert ws.auto_filter.ref == f"A1:{last}{len(frame) + 1}"
    assert all(cell.font.b for cell in ws[1])
    replies = book[REPLIES_SHEET]
    assert replies.freeze_panes == "A2" and replies.auto_filter.ref.startswith("A1:")


def test_send_states_are_coloured(book, frame: pd.DataFrame) -> None:
    ws = book[DETAILS_SHEET]
    fills: dict[str, set[str]] = {}
    for cell in column(ws, "send_state"):
        fills.setdefault(cell.value, set()).add(cell.fill.fgColor.rgb[-6:])
    assert fills["delivered"] == {"C6EFCE"}  # green
    assert fills["failed"] == fills["rejected"] == {"FFC7CE"}  # red
    assert fills["unknown"] == {"FFEB9C"}  # amber
    assert fills["pending"] == fills["claimed"] == {"D9D9D9"}  # grey
    assert fills["skipped"] == {"F2F2F2"}  # light grey
    assert len({next(iter(v)) for v in fills.values()}) >= 6


def test_column_widths_fit_and_count_chinese_double(book) -> None:
    ws = book[DETAILS_SHEET]
    widths = {
        field_name(ws.cell(1, col).value): ws.column_dimensions[
            openpyxl.utils.get_column_letter(col)
        ].width
        for col in range(1, ws.max_column + 1)
    }
    assert widths["phone"] >= 12  # 11 digits + margin: no ####### or 1.38E+10
    assert widths["content"] == pytest.approx(60, abs=1)  # long texts are capped
    assert widths["phone_problem"] >= display_width("不是手机号码 not a mainland mobile")
    assert widths["report_time"] >= 19
    assert display_width("张伟") == 4 and display_width("ab") == 2


def test_input_frame_is_not_modified(frame: pd.DataFrame, tmp_path: Path) -> None:
    before = frame.copy()
    export_excel(frame, tmp_path / "x.xlsx", charts=False)
    pd.testing.assert_frame_equal(frame, before)


def test_big_integer_columns_become_text_but_amounts_stay_numbers(tmp_path: Path) -> None:
    df = pd.DataFrame({"手机": [13800138000, 13900139000], "金额": [-12, 30]})
    out = export_excel(df, tmp_path / "ints.xlsx", summary=False)
    ws = openpyxl.load_workbook(out)[DETAILS_SHEET]
    assert (ws["A2"].value, ws["A2"].data_type, ws["A2"].number_format) == (
        "13800138000",
        "s",
        "@",
    )
    assert (ws["B2"].value, ws["B2"].data_type) == (-12, "n")


def test_mixed_object_columns(tmp_path: Path) -> None:
    aware = datetime(2024, 6, 15, 2, 0, tzinfo=UTC)
    df = pd.DataFrame(
        {"混合": pd.Series([aware, Decimal("1.5"), None, float("inf"), b"\xe4\xbd\xa0", "", "007"])}
    )
    out = export_excel(df, tmp_path / "mixed.xlsx", summary=False)
    values = [c.value for c in column(openpyxl.load_workbook(out)[DETAILS_SHEET], "混合")]
    assert values == [datetime(2024, 6, 15, 10, 0), 1.5, None, "inf", "你", None, "007"]


def test_empty_frame_exports(tmp_path: Path) -> None:
    df = merged_frame(20).iloc[:0]
    out = export_excel(df, tmp_path / "empty.xlsx")
    book = openpyxl.load_workbook(out)
    assert book[DETAILS_SHEET].max_row == 1
    assert summary_items(book[SUMMARY_SHEET])["行数 Rows"][0] == 0


# ---------------------------------------------------------------------------------------
# formula injection


# XML turns a carriage return into a line feed on reading; both are still inert
HOSTILE_AS_READ = {text.replace("\r", "\n") for text in HOSTILE_REPLIES}


def hostile_frame() -> tuple[pd.DataFrame, pd.DataFrame]:
    df = merged_frame(60, seed=3)
    rows = df.index[df["send_state"] == "delivered"][: len(HOSTILE_REPLIES)]
    df.loc[rows, "reply"] = HOSTILE_REPLIES
    df.loc[rows, "姓名"] = HOSTILE_REPLIES  # user data too, not only replies
    df["=cmd|' /C calc'!A0"] = "x"  # a column header from a hostile spreadsheet
    df.loc[rows[0], "城市"] = "#N/A"  # would become an Excel error value
    replies = replies_frame(df)
    return df, replies


@pytest.mark.parametrize("guard", ["apostrophe", "style"])
def test_hostile_texts_are_inert_text_cells_in_every_sheet(tmp_path: Path, guard: str) -> None:
    df, replies = hostile_frame()
    out = export_excel(df, tmp_path / "hostile.xlsx", replies=replies, formula_guard=guard)
    book = openpyxl.load_workbook(out)
    found = 0
    for ws in book:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                assert cell.data_type != "e", (ws.title, cell.coordinate, cell.value)
                if not isinstance(cell.value, str):
                    continue
                original = cell.value[1:] if guard == "apostrophe" else cell.value
                if original in HOSTILE_AS_READ or original.startswith("=cmd"):
                    found += 1
                    assert cell.data_type == "s"
                    if guard == "apostrophe":
                        assert cell.value == "'" + original
                    else:
                        assert cell.quotePrefix
                elif cell.value.startswith(("=", "+", "-", "@", "\t", "\r")):
                    # anything else risky (e.g. our own "-110 ..." error texts) is inert too
                    assert guard == "style" and cell.quotePrefix, (ws.title, cell.value)
    # 姓名 and reply in the details, content in the replies sheet, plus the header
    assert found == 3 * len(HOSTILE_REPLIES) + 1
    city = column(book[DETAILS_SHEET], "城市")
    assert "#N/A" in [c.value for c in city]


def test_the_workbook_never_turns_a_string_into_a_formula_url_or_number() -> None:
    from mobset_campaign._xlsx import WORKBOOK_OPTIONS

    assert WORKBOOK_OPTIONS["constant_memory"] is True
    for option in ("strings_to_formulas", "strings_to_urls", "strings_to_numbers"):
        assert WORKBOOK_OPTIONS[option] is False, option


def test_no_formula_element_in_the_sheet_xml(tmp_path: Path) -> None:
    df, replies = hostile_frame()
    out = export_excel(df, tmp_path / "hostile.xlsx", replies=replies, formula_guard="style")
    with zipfile.ZipFile(out) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == 3
        for name in sheets:
            xml = archive.read(name).decode("utf-8")
            assert "<f>" not in xml and "<f " not in xml, name
            assert 't="e"' not in xml, name
        assert "HYPERLINK" in "".join(archive.read(n).decode() for n in sheets)


def test_control_characters_and_overlong_texts_are_made_safe(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {"reply": ["bell\x07 and nul\x00", "", "x" * 40_000, "ok\nline two"]}, dtype="string"
    )
    out = export_excel(df, tmp_path / "odd.xlsx", summary=False)
    values = [c.value for c in column(openpyxl.load_workbook(out)[DETAILS_SHEET], "reply")]
    assert values[0] == "bell\ufffd and nul\ufffd"
    assert values[1] is None  # an empty text is a blank cell
    assert len(values[2]) == 32_767 and values[2].endswith("cell limit]")
    assert values[3] == "ok\nline two"


# ---------------------------------------------------------------------------------------
# the summary


def test_summary_sheet_numbers_match_the_frame(book, frame: pd.DataFrame) -> None:
    items = summary_items(book[SUMMARY_SHEET])
    state = frame["send_state"]
    accepted = int(state.isin(["sent", "delivered", "failed"]).sum())
    delivered = int((state == "delivered").sum())
    assert items["活动 Campaign"][0] == "spring-sale"
    assert isinstance(items["导出时间 Exported at (Beijing)"][0], datetime)
    assert items["行数 Rows"][0] == len(frame)
    assert items["可发送 Sendable"][0] == int(frame["sendable"].sum())
    assert items["已提交 Accepted by the gateway"][0] == accepted
    assert items["已送达 Delivered"][0] == delivered
    assert items["送达率 Delivery rate"][0] == pytest.approx(delivered / accepted)
    replied = int(frame["reply"].notna().sum())
    assert items["回复率 Reply rate"][0] == pytest.approx(replied / accepted)
    assert items["退订 Opted out"][0] == int(frame["opted_out"].sum())
    assert items["收到回复 Replies received"][0] == len(replies_frame(frame))
    billed = int(frame.loc[state.isin(["sent", "delivered", "failed"]), "parts"].sum())
    assert items["计费条数 Parts accepted (billed)"][0] == billed
    assert items["费用 Cost (parts accepted × price)"][0] == pytest.approx(billed * 0.05)
    for name, count in state.value_counts().items():
        label = next(k for k in items if isinstance(k, str) and k.startswith(f"{name} "))
        assert items[label][0] == count
        assert items[label][1] == pytest.approx(count / len(frame))
    assert items["12 接收成功 (delivered)"][0] == int((frame["status"] == 12).sum())
    assert items["DELIVRD"][0] == int((frame["ex_status"] == "DELIVRD").sum())
    # skipped rows are counted by kind of reason; the examples stay in the details
    empty = reason_kind("空号码 empty")
    assert items[empty][0] == int((frame["phone_problem"] == "空号码 empty").sum())


def test_summary_cells_are_formatted(book) -> None:
    ws = book[SUMMARY_SHEET]
    cells = {}
    for row in ws.iter_rows(min_row=2, max_col=3):
        if str(row[0].value).startswith("图表数据"):
            break
        cells[row[0].value] = row
    assert cells["送达率 Delivery rate"][1].number_format == "0.0%"
    # the cell keeps the exact amount, the format rounds once (¥1,234.58)
    assert cells["费用 Cost (parts accepted × price)"][1].number_format == EXCEL_MONEY_FORMAT
    assert cells["可发送 Sendable"][2].number_format == "0.0%"
    assert ws["A1"].font.b


def test_zero_accepted_gives_no_rate_not_a_crash(tmp_path: Path) -> None:
    df = pd.DataFrame({"phone": ["13800138000"], "send_state": ["pending"], "parts": [1]})
    by_item = summary_table(df).set_index("item")
    assert pd.isna(by_item.loc["送达率 Delivery rate", "value"])
    out = export_excel(df, tmp_path / "pending.xlsx")
    assert summary_items(openpyxl.load_workbook(out)[SUMMARY_SHEET])["送达率 Delivery rate"][0] == (
        "—"
    )


def test_summary_false_leaves_it_out(frame: pd.DataFrame, tmp_path: Path) -> None:
    out = export_excel(frame, tmp_path / "nosummary.xlsx", summary=False)
    assert openpyxl.load_workbook(out).sheetnames == [DETAILS_SHEET, REPLIES_SHEET]
    with pytest.raises(InputError, match="summary"):
        export_excel(frame, tmp_path / "x.xlsx", summary=False, charts=True)


# ---------------------------------------------------------------------------------------
# the replies sheet


def test_replies_sheet_from_the_replies_frame(book, frame: pd.DataFrame) -> None:
    ws = book[REPLIES_SHEET]
    replies = replies_frame(frame)
    assert [field_name(c.value) for c in ws[1]] == list(replies.columns)
    assert ws.max_row == len(replies) + 1
    phones = column(ws, "phone")
    assert all(c.data_type == "s" and c.number_format == "@" for c in phones)
    assert all(c.is_date for c in column(ws, "recv_time"))
    assert [c.value for c in column(ws, "opt_out")] == replies["opt_out"].tolist()


def test_replies_sheet_built_from_the_frame_without_replies(
    frame: pd.DataFrame, tmp_path: Path
) -> None:
    out = export_excel(frame, tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(out)[REPLIES_SHEET]
    names = [field_name(c.value) for c in ws[1]]
    assert names[0] == "phone" and "姓名" in names
    assert {"recv_time", "content", "reply_count", "opt_out", "sms_id"} <= set(names)
    assert ws.max_row == int(frame["reply"].notna().sum()) + 1
    contents = {c.value for c in column(ws, "content")}
    assert "'" + '=HYPERLINK("http://x","y")' in contents


def test_a_ledger_and_a_campaign_are_enough(frame: pd.DataFrame, tmp_path: Path) -> None:
    ledger = FakeLedger({"spring-sale": (frame, replies_frame(frame))})
    out = export_excel(ledger, tmp_path / "ledger.xlsx", campaign="spring-sale")
    assert ("status_frame", "spring-sale") in ledger.calls
    assert ("replies_frame", "spring-sale") in ledger.calls
    book = openpyxl.load_workbook(out)
    assert book[DETAILS_SHEET].max_row == len(frame) + 1
    assert book[REPLIES_SHEET].max_row == len(replies_frame(frame)) + 1
    with pytest.raises(InputError, match="campaign"):
        export_excel(ledger, tmp_path / "ledger.xlsx")
    with pytest.raises(InputError, match="DataFrame"):
        export_excel([1, 2], tmp_path / "list.xlsx")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# the file


def test_creates_parent_folders_and_returns_the_path(frame: pd.DataFrame, tmp_path: Path) -> None:
    target = tmp_path / "out" / "deeper" / "campaign.xlsx"
    assert export_excel(frame.head(5), str(target)) == target
    assert target.is_file()
    probe = tmp_path / "probe.txt"
    probe.write_text("")  # a file made the ordinary way: the user's umask
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(probe.stat().st_mode)


def test_a_failed_write_keeps_the_old_workbook(
    frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "campaign.xlsx"
    export_excel(frame.head(5), target)
    before = target.read_bytes()

    def broken_close(self):  # type: ignore[no-untyped-def]
        self.filename.write(b"PK half a zip")  # written into an open temporary file
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xlsxwriter.Workbook, "close", broken_close)
    with pytest.raises(InputError, match=re.escape(str(target))) as info:
        export_excel(frame, target)
    assert "No space left" in str(info.value)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["campaign.xlsx"]  # no temp left


def test_a_workbook_open_in_excel_gives_a_clear_error(
    frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mobset_campaign.export as export

    def locked(src, dst):  # type: ignore[no-untyped-def]
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(export.os, "replace", locked)
    target = tmp_path / "open.xlsx"
    with pytest.raises(InputError, match="close it") as info:
        export_excel(frame.head(3), target)
    assert str(target) in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp, "it is a folder"),
        (lambda tmp: tmp / "campaign.csv", ".xlsx"),
        (lambda tmp: tmp / "file.txt" / "campaign.xlsx", "Cannot create the folder"),
    ],
)
def test_unusable_paths_are_input_errors(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "file.txt").write_text("not a folder")
    target = make(tmp_path)
    with pytest.raises(InputError, match=re.escape(message)) as info:
        export_excel(pd.DataFrame({"a": [1]}), target)
    assert str(target) in str(info.value) or str(target.parent) in str(info.value)


def test_a_folder_without_write_permission_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(self):  # type: ignore[no-untyped-def]
        raise PermissionError(13, "Permission denied", str(self.filename))

    monkeypatch.setattr(xlsxwriter.Workbook, "close", denied)
    with pytest.raises(InputError, match="permission denied") as info:
        export_excel(pd.DataFrame({"a": [1]}), tmp_path / "x.xlsx")
    assert str(tmp_path) in str(info.value)


# ---------------------------------------------------------------------------------------
# issue 12: native charts, bilingual headers, the user's columns keep their meaning


def _chart_xml(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        names = sorted(n for n in archive.namelist() if n.startswith("xl/charts/chart"))
        return [archive.read(n).decode("utf-8") for n in names]


def test_summary_has_four_native_charts_drawn_from_its_own_cells(
    workbook_path: Path, book, frame: pd.DataFrame
) -> None:
    charts = _chart_xml(workbook_path)
    assert len(charts) == 4
    titles = [
        "发送漏斗 Funnel",
        "发送状态 Send states",
        "送达用时 Delivery time",
        "回复时间 Replies",
    ]
    for xml, title in zip(charts, titles, strict=True):
        assert title in xml
        refs = re.findall(r"<c:f>(.*?)</c:f>", xml)
        assert refs and all(ref.startswith("'汇总 Summary'!") for ref in refs), refs
    with zipfile.ZipFile(workbook_path) as archive:
        assert not [n for n in archive.namelist() if n.startswith("xl/media/")]  # no PNGs
    # the funnel's data table holds the same numbers as the frame
    ws = book[SUMMARY_SHEET]
    rows = [[c.value for c in row] for row in ws.iter_rows(max_col=3)]
    start = next(i for i, r in enumerate(rows) if str(r[0]).startswith("图表数据"))
    table = {r[0]: r[1] for r in rows[start:] if isinstance(r[1], int | float)}
    assert table["行数 Rows"] == len(frame)
    assert table["已送达 Delivered"] == int((frame["send_state"] == "delivered").sum())
    assert table["delivered 已送达"] == int((frame["send_state"] == "delivered").sum())
    # replies over time: clock times of one day, as text, never serial numbers
    slots = [
        r[0] for r in rows[start:] if isinstance(r[0], str) and re.fullmatch(r"\d\d:\d\d", r[0])
    ]
    assert len(slots) >= 3


def test_charts_false_leaves_them_out(frame: pd.DataFrame, tmp_path: Path) -> None:
    out = export_excel(frame.head(30), tmp_path / "nocharts.xlsx", charts=False)
    assert _chart_xml(out) == []
    items = summary_items(openpyxl.load_workbook(out)[SUMMARY_SHEET])
    assert items["行数 Rows"][0] == 30


def test_the_package_columns_have_bilingual_headers(book, frame: pd.DataFrame) -> None:
    names = [c.value for c in book[DETAILS_SHEET][1]]
    assert "发送状态 send_state" in names and "回执时间 report_time" in names
    assert "手机号 phone" in names and "短信内容 content" in names
    assert names[:5] == ["姓名", "手机号码", "城市", "会员号", "积分"]  # the user's as they are
    assert [field_name(n) for n in names] == list(frame.columns)
    replies = [c.value for c in book[REPLIES_SHEET][1]]
    assert "回复内容 content" in replies and "收到时间 recv_time" in replies


def test_long_status_labels_fit(book, frame: pd.DataFrame) -> None:
    ws = book[DETAILS_SHEET]
    width = {
        field_name(ws.cell(1, col).value): ws.column_dimensions[
            openpyxl.utils.get_column_letter(col)
        ].width
        for col in range(1, ws.max_column + 1)
    }
    for name in ("status_text", "send_error", "send_state"):
        longest = max(display_width(str(v)) for v in frame[name].dropna())
        assert width[name] >= min(longest, 59), name


def test_no_internal_names_or_missing_markers_in_any_cell(tmp_path: Path) -> None:
    df = merged_frame(80, seed=11)
    df["备注"] = pd.array([pd.NA, "ok"] * 40, dtype="string")
    df["金额"] = [float("nan"), 1.5] * 40
    out = export_excel(df, tmp_path / "clean.xlsx", price_per_part=0.045)
    book = openpyxl.load_workbook(out)
    for ws in book:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    for marker in ("<NA>", "nan", "NaT", "None", "http://", "https://", "sqlite"):
                        assert marker != cell.value and f"{marker}" not in cell.value.split(), (
                            ws.title,
                            cell.coordinate,
                            cell.value,
                        )


@pytest.fixture(scope="module")
def contact_sheet(
    tmp_path_factory: pytest.TempPathFactory,
) -> openpyxl.worksheet.worksheet.Worksheet:
    df = pd.DataFrame(
        {
            "邮编": ["510000", "010010", ""],  # a leading zero: text
            "zip_code": ["510000", "200000", "100000"],  # canonical, but the name says code
            "金额": ["12.5", "-3", "0"],
            "身份证": ["440101199001011234", "44010119900101123X", ""],  # 18 digits: text
            "数量": ["1", "", "20"],
            "混合": ["12", "abc", "3"],
            "生日": ["1990-01-02", "2001-12-31", ""],
            "登记时间": ["2024-06-15 10:00:00", "2024-06-15T11:30", "2024-06-16 08:05:09"],
            "坏日期": ["2024-02-30", "2024-03-01", ""],
            "大数": ["1234567890123", "5", "6"],  # 13 digits: an id, not an amount
            "价格": ["3.50", "2", "1"],  # a trailing zero: written as typed
            "会员": ["007", "123", "456"],
            "phone": ["13800138000", "13900139000", "13700137000"],
        },
        dtype="string",
    )
    out = export_excel(df, tmp_path_factory.mktemp("contacts") / "contacts.xlsx", summary=False)
    return openpyxl.load_workbook(out)[DETAILS_SHEET]


@pytest.mark.parametrize(
    ("name", "expected", "kind"),
    [
        ("邮编", ["510000", "010010", None], "s"),
        ("zip_code", ["510000", "200000", "100000"], "s"),
        ("金额", [12.5, -3, 0], "n"),
        ("身份证", ["440101199001011234", "44010119900101123X", None], "s"),
        ("数量", [1, None, 20], "n"),
        ("混合", ["12", "abc", "3"], "s"),
        ("坏日期", ["2024-02-30", "2024-03-01", None], "s"),
        ("大数", ["1234567890123", "5", "6"], "s"),
        ("价格", ["3.50", "2", "1"], "s"),
        ("会员", ["007", "123", "456"], "s"),
        ("phone", ["13800138000", "13900139000", "13700137000"], "s"),
    ],
)
def test_contact_columns_keep_their_meaning(
    contact_sheet, name: str, expected: list, kind: str
) -> None:  # type: ignore[no-untyped-def]
    cells = column(contact_sheet, name)
    assert [c.value for c in cells] == expected
    assert {c.data_type for c in cells if c.value is not None} == {kind}
    if kind == "s":
        assert all(c.number_format == "@" for c in cells if c.value is not None)


def test_iso_date_columns_become_real_dates(contact_sheet) -> None:  # type: ignore[no-untyped-def]
    days = column(contact_sheet, "生日")
    assert [c.value for c in days] == [datetime(1990, 1, 2), datetime(2001, 12, 31), None]
    assert days[0].is_date and days[0].number_format == "yyyy-mm-dd"  # no 00:00:00
    times = column(contact_sheet, "登记时间")
    assert [c.value for c in times] == [
        datetime(2024, 6, 15, 10, 0),
        datetime(2024, 6, 15, 11, 30),
        datetime(2024, 6, 16, 8, 5, 9),
    ]
    assert times[0].number_format == "yyyy-mm-dd hh:mm:ss"


def _sheet_xml(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        return {n: archive.read(n) for n in names}


@pytest.mark.parametrize("guard", ["apostrophe", "style"])
def test_rows_written_directly_are_what_xlsxwriter_writes_cell_by_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, guard: str
) -> None:
    import mobset_campaign._xlsx as cells

    df, replies = hostile_frame()
    df["混合"] = pd.Series(
        [1, "a_x0041_b", 2.5, None, True, "<&>", " lead", "trail\n"] * 7 + [3, 4, 5, 6]
    )
    df["生日"] = pd.array(["1990-01-02", ""] * 30, dtype="string")
    direct = export_excel(
        df, tmp_path / "direct.xlsx", replies=replies, summary=False, formula_guard=guard
    )
    monkeypatch.setattr(cells, "can_write_rows", lambda ws: False)
    api = export_excel(
        df, tmp_path / "api.xlsx", replies=replies, summary=False, formula_guard=guard
    )
    assert _sheet_xml(direct) == _sheet_xml(api)


def test_the_summary_labels_fit_their_column(book) -> None:  # type: ignore[no-untyped-def]
    ws = book[SUMMARY_SHEET]
    items = [row[0].value for row in ws.iter_rows(min_row=2, max_col=1) if row[0].value]
    longest = max(display_width(str(item)) for item in items)
    assert ws.column_dimensions["A"].width >= min(longest, 88)
