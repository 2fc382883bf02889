"""read_contacts on real files written by the tests: every row comes out sendable or explained."""

from __future__ import annotations

import datetime as dt
import warnings
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import xlwt

from mobset_campaign.contacts import read_contacts
from mobset_campaign.errors import InputError, InputWarning

SAMPLE = Path(__file__).resolve().parents[1] / "mobset_campaign" / "data" / "sample_contacts.csv"


def write_xlsx(path: Path, rows: list[list[object]], merges: tuple[str, ...] = ()) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "会员"
    for row in rows:
        sheet.append(row)
    for merge in merges:
        sheet.merge_cells(merge)
    book.save(path)
    return path


def problems(df: pd.DataFrame) -> dict[int, str]:
    """{Excel row: problem} for the rows with one."""
    bad = df[df["phone_problem"].notna()]
    return dict(zip(bad["row"].tolist(), bad["phone_problem"].tolist(), strict=True))


# ------------------------------------------------------------------------- workbooks


def test_xlsx_numbers_stored_as_floats_text_and_mixed(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "会员.xlsx",
        [
            ["姓名", "手机号码", "积分", "到期日"],
            ["张三", 13512346789, 1200, dt.date(2026, 12, 31)],  # a number cell
            ["李四", "13612345678", 300, dt.date(2026, 12, 30)],  # text
            ["王五", "1.35123E+10", 50, dt.date(2026, 12, 29)],  # text that lost digits
            ["赵六", "'13712345678", 8, dt.date(2026, 12, 28)],  # apostrophe kept as text
            ["钱七", "+86 138-1234-5678", 0, dt.date(2026, 12, 27)],
            ["孙八", 13912345678.0, 99, dt.date(2026, 12, 26)],
        ],
    )
    df = read_contacts(path)
    assert df["phone"].tolist() == [
        "13512346789",
        "13612345678",
        np.nan,
        "13712345678",
        "13812345678",
        "13912345678",
    ]
    assert problems(df) == {4: "digits lost in the spreadsheet: 1.35123E+10"}
    # the phone column is text as the user saw it, never 1.3512346789e10
    assert df["手机号码"].tolist()[0] == "13512346789"
    assert df["积分"].dtype == "int64"
    assert pd.api.types.is_datetime64_any_dtype(df["到期日"])
    assert df["row"].tolist() == [2, 3, 4, 5, 6, 7]
    assert list(df.columns) == [
        "姓名",
        "手机号码",
        "积分",
        "到期日",
        "phone",
        "phone_problem",
        "row",
    ]


def test_blank_rows_are_skipped_but_rows_keep_their_excel_numbers(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "c.xlsx",
        [
            ["姓名", "手机"],
            ["甲", "13512346789"],
            [None, None],
            ["乙", "13612345678"],
            [None, "   "],
            ["丙", "13512346789"],
            [None, None],
        ],
    )
    df = read_contacts(path)
    assert df["姓名"].tolist() == ["甲", "乙", "丙"]
    assert df["row"].tolist() == [2, 4, 6]
    assert problems(df) == {6: "duplicate of row 2"}
    assert df.attrs["blank_rows_skipped"] == 2


def test_a_table_that_starts_away_from_a1(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["C3"], sheet["D3"] = "姓名", "手机"
    sheet["C4"], sheet["D4"] = "张三", 13512346789
    sheet["C5"], sheet["D5"] = "李四", "13512346789"
    book.save(tmp_path / "offset.xlsx")
    df = read_contacts(tmp_path / "offset.xlsx")
    assert list(df.columns)[:2] == ["姓名", "手机"]
    assert df["row"].tolist() == [4, 5]
    assert problems(df) == {5: "duplicate of row 4"}


def test_title_row_and_merged_two_row_header(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "merged.xlsx",
        [
            ["2026年会员名单", None, None, None],
            ["姓名", "联系方式", None, "积分"],
            [None, "手机", "邮箱", None],
            ["张三", 13512346789, "a@example.com", 1200],
            ["李四", "13612345678", "b@example.com", 300.5],
        ],
        merges=("A1:D1", "B2:C2", "A2:A3", "D2:D3"),
    )
    df = read_contacts(path)
    assert list(df.columns)[:4] == ["姓名", "手机", "邮箱", "积分"]
    assert df["phone"].tolist() == ["13512346789", "13612345678"]
    assert df["row"].tolist() == [4, 5]
    assert df["积分"].tolist() == [1200.0, 300.5]


def test_a_merged_header_over_two_data_columns_names_both(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "m.xlsx",
        [
            ["姓名", "电话", None],
            ["张三", "13512346789", "020-12345678"],
            ["李四", "13612345678", ""],
        ],
        merges=("B1:C1",),
    )
    df = read_contacts(path)
    assert list(df.columns)[:3] == ["姓名", "电话", "电话.1"]
    # the mobile column wins over the landline column with the same header
    assert df.attrs["phone_column"] == "电话"
    assert df["phone_problem"].isna().all()


def test_xls_written_by_xlwt(tmp_path: Path) -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("名单")
    for j, name in enumerate(["姓名", "手机号码", "积分"]):
        sheet.write(0, j, name)
    sheet.write(1, 0, "张三")
    sheet.write(1, 1, 13512346789.0)
    sheet.write(1, 2, 1200)
    sheet.write(2, 0, "李四")
    sheet.write(2, 1, "020-12345678")
    sheet.write(2, 2, 5)
    book.save(str(tmp_path / "old.xls"))
    df = read_contacts(tmp_path / "old.xls")
    assert df["phone"].tolist()[0] == "13512346789"
    assert problems(df) == {3: "not a mainland mobile: 020-12345678 (a landline)"}


def test_ods_and_xlsm_and_a_misnamed_xlsx(tmp_path: Path) -> None:
    frame = pd.DataFrame({"姓名": ["张三", "李四"], "mobile": ["13512346789", "13612345678"]})
    frame.to_excel(tmp_path / "c.ods", engine="odf", index=False)
    assert read_contacts(tmp_path / "c.ods")["phone"].tolist() == ["13512346789", "13612345678"]
    frame.to_excel(tmp_path / "c.xlsx", index=False)
    (tmp_path / "c.xlsm").write_bytes((tmp_path / "c.xlsx").read_bytes())
    (tmp_path / "really_xlsx.xls").write_bytes((tmp_path / "c.xlsx").read_bytes())
    for name in ("c.xlsm", "really_xlsx.xls"):
        assert read_contacts(tmp_path / name)["phone"].notna().all(), name


def test_sheet_by_name_and_position(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "说明"
    first.append(["本文件为会员名单"])
    second = book.create_sheet("名单")
    second.append(["姓名", "手机"])
    second.append(["张三", "13512346789"])
    book.save(tmp_path / "two.xlsx")
    assert read_contacts(tmp_path / "two.xlsx", sheet_name="名单")["phone"].tolist() == [
        "13512346789"
    ]
    assert len(read_contacts(tmp_path / "two.xlsx", sheet_name=1)) == 1
    with pytest.raises(InputError) as err:
        read_contacts(tmp_path / "two.xlsx", sheet_name="Sheet1")
    assert (
        "two.xlsx" in str(err.value) and "'说明'" in str(err.value) and "'名单'" in str(err.value)
    )
    with pytest.raises(InputError, match=r"no sheet number 5.*说明, 名单"):
        read_contacts(tmp_path / "two.xlsx", sheet_name=5)


@pytest.mark.slow
def test_a_sheet_of_50000_rows(tmp_path: Path) -> None:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("big")
    sheet.append(["姓名", "手机号码", "门店", "积分"])
    for i in range(50_000):
        number = 13_500_000_000 + i
        cell: object = number if i % 2 else str(number)
        if i % 5000 == 17:
            cell = "1.35123E+10"
        sheet.append([f"会员{i}", cell, "天河店", i % 7000])
    book.save(tmp_path / "big.xlsx")
    df = read_contacts(tmp_path / "big.xlsx")
    assert len(df) == 50_000
    assert df["row"].iloc[-1] == 50_001
    assert df["phone_problem"].notna().sum() == 10
    assert df["phone"].iloc[1] == "13500000001"
    assert df["积分"].dtype == "int64"


# ---------------------------------------------------------------------- text files


def test_gbk_csv_from_chinese_excel(tmp_path: Path) -> None:
    text = "姓名,手机号码,门店\r\n张三,13512346789,天河店\r\n李四,1.3612345678E10,越秀店\r\n"
    (tmp_path / "gbk.csv").write_bytes(text.encode("gbk"))
    df = read_contacts(tmp_path / "gbk.csv")
    assert df["姓名"].tolist() == ["张三", "李四"]
    assert df["门店"].tolist() == ["天河店", "越秀店"]
    assert df["phone"].tolist() == ["13512346789", "13612345678"]


def test_bom_csv_keeps_the_first_header_clean(tmp_path: Path) -> None:
    (tmp_path / "bom.csv").write_bytes("手机号码,姓名\n13512346789,张三\n".encode("utf-8-sig"))
    df = read_contacts(tmp_path / "bom.csv")
    assert list(df.columns)[:2] == ["手机号码", "姓名"]
    assert df.attrs["phone_column"] == "手机号码"


def test_utf16_tab_text_and_semicolon_csv(tmp_path: Path) -> None:
    (tmp_path / "unicode.txt").write_bytes("姓名\t手机\n张三\t13512346789\n".encode("utf-16"))
    assert read_contacts(tmp_path / "unicode.txt")["phone"].tolist() == ["13512346789"]
    (tmp_path / "semi.csv").write_text("姓名;手机\n张三;13512346789\n李四;\n", encoding="utf-8")
    df = read_contacts(tmp_path / "semi.csv")
    assert problems(df) == {3: "empty"}


def test_csv_columns_stay_text(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text(
        "姓名,手机,门店编号,积分\n张三,13512346789,0012,1200\n", encoding="utf-8"
    )
    df = read_contacts(tmp_path / "c.csv")
    assert df["门店编号"].tolist() == ["0012"]  # leading zeros survive
    assert df["积分"].tolist() == ["1200"]


def test_the_shipped_sample_has_the_expected_damage() -> None:
    df = read_contacts(SAMPLE)
    assert len(df) == 40
    assert problems(df) == {
        9: "digits lost in the spreadsheet: 1.35123E+10",
        18: "not a mainland mobile: 020-87654321 (a landline)",
        21: "empty",
        24: "duplicate of row 7",
        36: "not a mainland mobile: 1381234567 (10 digits)",
    }
    repaired = dict(zip(df["row"], df["phone"], strict=True))
    assert repaired[5] == "13512346789"  # 1.3512346789E10
    assert repaired[12] == "13922884417"  # +86 139-2288-4417
    assert repaired[15] == "18620335562"  # full-width digits
    assert repaired[27] == "13802569971"  # apostrophe
    assert repaired[33] == "15915817730"  # 0086 and spaces


# ------------------------------------------------------------ columns and frames


@pytest.mark.parametrize(
    "header", ["联系电话", "Mobile", "手机号码(必填)", "客户手机", "Phone Number"]
)
def test_phone_column_found_by_header(header: str) -> None:
    frame = pd.DataFrame({"备注": ["VIP"], header: ["13512346789"], "座机": ["020-12345678"]})
    assert read_contacts(frame).attrs["phone_column"] == header


def test_phone_column_found_by_contents_and_overridden() -> None:
    frame = pd.DataFrame(
        {"A": ["张三", "李四", "王五"], "B": ["13512346789", "13612345678", "x"], "C": [1, 2, 3]}
    )
    assert read_contacts(frame).attrs["phone_column"] == "B"
    other = pd.DataFrame({"手机": ["x", "y"], "备用": ["13512346789", "13612345678"]})
    assert read_contacts(other, phone_column="备用")["phone"].notna().all()
    with pytest.raises(InputError, match=r"phone_column='电话' is not a column.*手机, 备用"):
        read_contacts(other, phone_column="电话")


def test_no_phone_column_names_the_file_and_lists_columns(tmp_path: Path) -> None:
    (tmp_path / "names.csv").write_text("姓名,城市\n张三,广州\n李四,深圳\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_contacts(tmp_path / "names.csv")
    message = str(err.value)
    assert "names.csv" in message and "姓名, 城市" in message and "phone_column" in message


def test_header_none_numbers_the_columns(tmp_path: Path) -> None:
    (tmp_path / "bare.csv").write_text("张三,13512346789\n李四,13612345678\n", encoding="utf-8")
    df = read_contacts(tmp_path / "bare.csv", header=None)
    assert list(df.columns)[:2] == [0, 1]
    assert df["row"].tolist() == [1, 2]
    assert df["phone"].notna().all()


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("bare.csv", "13512346789\n13612345678\n13712345678\n"),
        ("two.csv", "13512346789,张三\n13612345678,李四\n13712345678,王五\n"),
        ("ids.csv", "1001,13512346789\n1002,13612345678\n1003,13712345678\n"),
        ("bare.xlsx", [[13512346789], [13612345678], [13712345678]]),
        ("float.xlsx", [[13512346789.0, "张三"], [13612345678.0, "李四"], [13712345678, "王五"]]),
    ],
)
def test_a_list_without_a_header_row_keeps_its_first_number(
    tmp_path: Path, name: str, rows: str | list[list[object]]
) -> None:
    path = tmp_path / name
    if isinstance(rows, str):
        path.write_text(rows, encoding="utf-8")
    else:
        write_xlsx(path, rows)
    with pytest.warns(InputWarning, match=r"row 1 holds data \(1"):
        df = read_contacts(path)
    assert df["phone"].tolist() == ["13512346789", "13612345678", "13712345678"]
    assert df["row"].tolist() == [1, 2, 3]
    assert df["phone_problem"].isna().all()
    assert df.attrs["notes"] and name in df.attrs["notes"][0]
    assert all(isinstance(c, int) for c in df.columns[: -3])


def test_a_real_header_is_not_taken_for_data(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text(
        "手机,2024积分,会员号\n13512346789,12,0001\n", encoding="utf-8"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        df = read_contacts(tmp_path / "h.csv")
        assert list(df.columns[:3]) == ["手机", "2024积分", "会员号"] and df.attrs["notes"] == []
        forced = read_contacts(tmp_path / "h.csv", header=None)  # asked for: no note
    assert forced["row"].tolist() == [1, 2] and forced["phone"].tolist()[1] == "13512346789"
    (tmp_path / "n.csv").write_text("13512346789\n13612345678\n", encoding="utf-8")
    kept = read_contacts(tmp_path / "n.csv", header=0, phone_column="13512346789")
    assert kept["phone"].tolist() == ["13612345678"]  # header=0 is obeyed as written
    with pytest.raises(InputError, match="header="):
        read_contacts(tmp_path / "n.csv", header="none")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('手机,姓名\n13512346789,"张三\n13612345678,李四\n', "line 2 is never closed"),
        (
            '手机,姓名\n13512346789,"张三\n13612345678,李四\n13712345678,"王五\n',
            "line 2 has a quoted cell that runs over 3 lines",
        ),
        ('手机,备注\n13512346789,"' + "长" * 140_000 + '"\n', "longer than 131,072"),
    ],
)
def test_a_broken_quote_in_a_csv_is_one_clear_error(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "q.csv").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=match) as err:
        read_contacts(tmp_path / "q.csv")
    assert "q.csv" in str(err.value) and "\n" not in str(err.value)


def test_a_stray_quote_inside_a_cell_is_read_as_excel_reads_it(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text(
        '手机,姓名\n13512346789,"张三"先生\n13612345678,李"四\n', encoding="utf-8"
    )
    df = read_contacts(tmp_path / "s.csv")
    assert df["姓名"].tolist() == ["张三先生", '李"四']
    assert df["row"].tolist() == [2, 3]


def test_a_dataframe_is_not_mutated_and_keeps_order_and_index() -> None:
    frame = pd.DataFrame(
        {
            "姓名": ["乙", "甲", "丙"],
            "phone": [13512346789.0, np.nan, 13612345678.0],
            "x": [3, 1, 2],
        },
        index=[7, 3, 5],
    )
    before = frame.copy()
    df = read_contacts(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert list(df.index) == [7, 3, 5]
    assert list(df.columns) == ["姓名", "phone_original", "x", "phone", "phone_problem", "row"]
    assert df["phone_original"].tolist() == ["13512346789", np.nan, "13612345678"]
    assert df["phone"].tolist() == ["13512346789", np.nan, "13612345678"]
    assert df["row"].tolist() == [2, 3, 4]


def test_suppress_numbers_and_a_ledger_like_object() -> None:
    frame = pd.DataFrame(
        {"手机": ["13512346789", "13612345678", "13712345678", "13512346789", "13812345678"]}
    )
    df = read_contacts(frame, suppress=["+86 135-1234-6789", "020-12345678", 13712345678.0])
    assert df["phone_problem"].tolist()[:4] == ["opted out", np.nan, "opted out", "opted out"]

    class Ledger:
        def suppressed_phones(self) -> set[str]:
            return {"13812345678"}

    assert read_contacts(frame, suppress=Ledger())["phone_problem"].iloc[4] == "opted out"
    with pytest.raises(InputError, match=r"digits were lost.*1\.35123E\+10"):
        read_contacts(frame, suppress=["1.35123E+10"])


def test_reading_a_read_frame_again_adds_new_opt_outs_and_keeps_problems() -> None:
    first = read_contacts(
        pd.DataFrame({"手机": ["13512346789", "1.35123E+10", "13612345678", "13512346789"]})
    )
    again = read_contacts(first, suppress=["13612345678"])
    assert list(again.columns) == list(first.columns)
    assert again["phone_problem"].tolist() == [
        np.nan,
        "digits lost in the spreadsheet: 1.35123E+10",
        "opted out",
        "duplicate of row 2",
    ]
    assert again["row"].tolist() == [2, 3, 4, 5]


# -------------------------------------------------------------------------- errors


def test_missing_file_and_folder_and_type(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"'.*nope\.xlsx' does not exist"):
        read_contacts(tmp_path / "nope.xlsx")
    with pytest.raises(InputError, match="is a folder"):
        read_contacts(tmp_path)
    (tmp_path / "list.pdf").write_bytes(b"%PDF-1.4")
    with pytest.raises(InputError, match=r"list\.pdf' has an unsupported type '\.pdf'.*\.xlsx"):
        read_contacts(tmp_path / "list.pdf")


def test_encrypted_and_corrupt_workbooks(tmp_path: Path) -> None:
    # an encrypted .xlsx is an OLE2 compound file, not a zip
    (tmp_path / "secret.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096))
    with pytest.raises(InputError, match=r"secret\.xlsx' is encrypted.*password"):
        read_contacts(tmp_path / "secret.xlsx")
    (tmp_path / "broken.xlsx").write_bytes(b"this is not a workbook")
    with pytest.raises(InputError, match=r"broken\.xlsx' could not be read.*save it again"):
        read_contacts(tmp_path / "broken.xlsx")
    with zipfile.ZipFile(tmp_path / "hollow.xlsx", "w") as z:
        z.writestr("hello.txt", "no workbook in here")
    with pytest.raises(InputError, match=r"hollow\.xlsx' could not be read"):
        read_contacts(tmp_path / "hollow.xlsx")
    (tmp_path / "zero.xlsx").write_bytes(b"")
    with pytest.raises(InputError, match=r"zero\.xlsx' is an empty file"):
        read_contacts(tmp_path / "zero.xlsx")
    (tmp_path / "web.xls").write_text("<html><table><tr><td>手机</td></tr></table></html>")
    with pytest.raises(InputError, match=r"web\.xls' is a web page"):
        read_contacts(tmp_path / "web.xls")


def test_empty_sheet_and_header_only(tmp_path: Path) -> None:
    openpyxl.Workbook().save(tmp_path / "empty.xlsx")
    with pytest.raises(InputError, match=r"empty\.xlsx'.*empty"):
        read_contacts(tmp_path / "empty.xlsx")
    write_xlsx(tmp_path / "header.xlsx", [["姓名", "手机"]])
    with pytest.raises(InputError, match=r"header\.xlsx' has column names but no contacts"):
        read_contacts(tmp_path / "header.xlsx")
    (tmp_path / "blank.csv").write_text("\n\n  \n", encoding="utf-8")
    with pytest.raises(InputError, match=r"blank\.csv' is empty"):
        read_contacts(tmp_path / "blank.csv")


@pytest.mark.parametrize("module", ["mobset_campaign.contacts"])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_duplicate_column_names_are_refused_naming_them(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        [["张三", "13512346789", "13812345678"]], columns=["姓名", "手机号码", "手机号码"]
    )
    with pytest.raises(InputError, match=r"The DataFrame .* '手机号码' \(2 times\)\. Rename"):
        read_contacts(frame)
    path = tmp_path / "dup.csv"
    path.write_text("姓名,手机号码,手机号码\n张三,13512346789,13812345678\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"dup\.csv' .* '手机号码' \(columns B, C\)\. Rename"):
        read_contacts(path)


def test_a_source_of_the_wrong_type_names_the_parameter() -> None:
    with pytest.raises(InputError, match=r"read_contacts: source must be .*DataFrame, not list"):
        read_contacts([1, 2, 3])  # type: ignore[arg-type]
