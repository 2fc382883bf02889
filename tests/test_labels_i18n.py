"""The labels of the workbook and the charts in Chinese, English or both: ``labels=`` of
export_excel (bilingual by default), of the plot functions (the language of messages by
default), and read_campaign_workbook reading a workbook written with any of the three."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from _campaign_frames import merged_frame, replies_frame

import mobset_campaign as mc
from mobset_campaign import read_campaign_workbook
from mobset_campaign.errors import InputError
from mobset_campaign.export import (
    DETAILS_SHEET,
    REPLIES_SHEET,
    SUMMARY_SHEET,
    export_excel,
    sheet_title,
)
from mobset_campaign.plots import draw_all, plot_funnel, plot_status, save_plots
from mobset_campaign.workbook import field_name

CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")
USER_COLUMNS = ["姓名", "手机号码", "城市", "会员号", "积分"]  # merged_frame's own columns


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return merged_frame(120)


@pytest.fixture(scope="module")
def books(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("labels")
    return {
        labels: export_excel(
            frame,
            folder / f"{labels}.xlsx",
            replies=replies_frame(frame),
            campaign="spring-sale",
            price_per_part=0.05,
            labels=labels,
        )
        for labels in ("bilingual", "zh", "en")
    }


def _charts(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        names = sorted(n for n in archive.namelist() if n.startswith("xl/charts/chart"))
        titles = []
        for name in names:
            xml = archive.read(name).decode("utf-8")
            title = re.search(r"<c:title>.*?</c:title>", xml, re.S)
            assert title is not None
            titles.append("".join(re.findall(r"<a:t>(.*?)</a:t>", title.group(0))))
        return titles


def _summary_labels(ws) -> list[str]:  # type: ignore[no-untyped-def]
    """The summary sheet's own texts: its title, sections, items, share headings, chart
    data headings (not the values, not the vendor's status texts)."""
    out = []
    for row in ws.iter_rows(max_col=3):
        for cell in row:
            if isinstance(cell.value, str) and not re.match(r"\d+ ", cell.value):
                out.append(cell.value)
    return out


# ---------------------------------------------------------------------------------------
# the workbook


def test_bilingual_is_the_default_and_unchanged(books: dict[str, Path]) -> None:
    book = openpyxl.load_workbook(books["bilingual"])
    assert book.sheetnames == ["汇总 Summary", "明细 Details", "回复 Replies"]
    assert book.sheetnames == [SUMMARY_SHEET, DETAILS_SHEET, REPLIES_SHEET]
    header = [c.value for c in book[DETAILS_SHEET][1]]
    assert header[:5] == USER_COLUMNS
    assert {
        "手机号 phone",
        "发送状态 send_state",
        "回执时间 report_time",
        "短信内容 content",
    } <= set(header)
    replies = [c.value for c in book[REPLIES_SHEET][1]]
    assert {"回复内容 content", "收到时间 recv_time", "手机号 phone"} <= set(replies)
    assert _charts(books["bilingual"]) == [
        "发送漏斗 Funnel",
        "发送状态 Send states",
        "送达用时 Delivery time (sent → report)",
        "回复时间 Replies over time (Beijing)",
    ]
    summary = [c.value for c in book[SUMMARY_SHEET]["A"] if c.value]
    assert summary[0] == "短信活动汇总 Campaign summary"
    assert any(t.startswith("图表数据 Chart data (the charts on the right") for t in summary), (
        summary
    )


def test_a_chinese_workbook_has_chinese_sheets_headers_and_labels(
    books: dict[str, Path], frame: pd.DataFrame
) -> None:
    book = openpyxl.load_workbook(books["zh"])
    assert book.sheetnames == ["汇总", "明细", "回复"]
    header = [c.value for c in book["明细"][1]]
    assert header[:5] == USER_COLUMNS  # the user's own, as they are
    package = header[5:]
    assert len(package) == len(frame.columns) - 5
    assert all(CJK.search(h) and not LATIN.search(h) for h in package), package
    assert "发送状态" in package and "手机号" in package and "回执时间" in package
    replies = [c.value for c in book["回复"][1]]
    assert {"回复内容", "收到时间", "手机号"} <= set(replies)
    titles = _charts(books["zh"])
    assert titles == ["发送漏斗", "发送状态", "送达用时", "回复时间"]
    labels = _summary_labels(book["汇总"])
    assert labels[0] == "短信活动汇总"
    codes = re.compile(r"[A-Z]{2,}[A-Z0-9:]*")  # the carriers' ExStatus codes: data
    english = [
        t for t in labels if LATIN.search(t) and t != "spring-sale" and not codes.fullmatch(t)
    ]
    assert not [t for t in english if re.search(r"[A-Za-z]{3,}", t)], english


def test_an_english_workbook_has_english_sheets_and_field_names(
    books: dict[str, Path], frame: pd.DataFrame
) -> None:
    book = openpyxl.load_workbook(books["en"])
    assert book.sheetnames == ["Summary", "Details", "Replies"]
    header = [c.value for c in book["Details"][1]]
    assert header == list(frame.columns)  # the field names (and the user's own columns)
    replies = [c.value for c in book["Replies"][1]]
    assert {"content", "recv_time", "phone"} <= set(replies)
    assert _charts(books["en"]) == [
        "Funnel",
        "Send states",
        "Delivery time (sent → report)",
        "Replies over time (Beijing)",
    ]
    labels = _summary_labels(book["Summary"])
    assert labels[0] == "Campaign summary"
    chinese = [t for t in labels if CJK.search(t)]
    assert not chinese, chinese


@pytest.mark.parametrize("labels", ["bilingual", "zh", "en"])
def test_every_label_choice_reads_back_the_same(
    books: dict[str, Path], frame: pd.DataFrame, labels: str
) -> None:
    reference = read_campaign_workbook(books["bilingual"])
    book = read_campaign_workbook(books[labels])
    assert list(book.details.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(book.details, reference.details)
    pd.testing.assert_frame_equal(book.replies, reference.replies)
    assert book.summary is not None and reference.summary is not None
    assert len(book.summary) == len(reference.summary)
    assert book.summary["value"].tolist()[2:] == reference.summary["value"].tolist()[2:]


def test_a_chinese_workbook_keeps_a_users_column_named_like_a_label(tmp_path: Path) -> None:
    frame = merged_frame(20)
    frame.insert(0, "手机号", frame["phone"])  # the user's own column, named like ours
    frame.insert(1, "活动", "双十二")  # named like the campaign column, which is absent
    out = export_excel(frame, tmp_path / "zh.xlsx", labels="zh", summary=False)
    header = [c.value for c in openpyxl.load_workbook(out)["明细"][1]]
    assert header[:2] == ["手机号", "活动"]
    assert "手机号 phone" in header  # ours, told apart from the user's
    details = read_campaign_workbook(out).details
    assert list(details.columns) == list(frame.columns)
    assert details["活动"].tolist() == ["双十二"] * 20
    assert details["手机号"].tolist() == details["phone"].tolist()


def test_sheet_names_and_field_names_in_each_language() -> None:
    assert [sheet_title("details", x) for x in ("bilingual", "zh", "en")] == [
        "明细 Details",
        "明细",
        "Details",
    ]
    assert field_name("发送状态 send_state") == "send_state"
    assert field_name("发送状态") == "发送状态"  # could be a user's column in a bilingual book
    assert field_name("发送状态", "zh") == "send_state"
    assert field_name("回复内容", "zh") == "content"


def test_a_wrong_label_choice_is_a_clear_error(frame: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="'bilingual', 'zh' or 'en'"):
        export_excel(frame.head(3), tmp_path / "x.xlsx", labels="fr")
    with pytest.raises(InputError, match="'bilingual', 'zh' or 'en'"):
        plot_funnel(frame.head(3), labels="klingon")
    assert export_excel(frame.head(3), tmp_path / "y.xlsx", labels="中文").exists()


def test_workbook_errors_in_chinese(tmp_path: Path) -> None:
    with mc.using_language("zh"), pytest.raises(InputError) as caught:
        export_excel(pd.DataFrame({"a": [1]}), tmp_path / "out.csv")
    assert "扩展名" in str(caught.value) and "extension" not in str(caught.value)
    with mc.using_language("zh"), pytest.raises(InputError) as caught:
        read_campaign_workbook(tmp_path / "missing.xlsx")
    assert "文件不存在" in str(caught.value)
    with pytest.raises(InputError, match="there is no such file"):
        read_campaign_workbook(tmp_path / "missing.xlsx")


# ---------------------------------------------------------------------------------------
# the charts


def test_a_charts_title_in_each_language(frame: pd.DataFrame) -> None:
    def title(**kwargs: str) -> str:
        return plot_funnel(frame, "双十二", **kwargs).get_title(loc="left")

    assert title(labels="zh") == "送达漏斗 · 双十二"
    assert title(labels="en") == "Delivery funnel · 双十二"
    assert title(labels="bilingual") == "送达漏斗 Delivery funnel · 双十二"
    assert title() == "Delivery funnel · 双十二"  # the tests' language: English
    with mc.using_language("zh"):
        assert title() == "送达漏斗 · 双十二"  # None: the language of messages


def test_chinese_charts_have_no_english_words(frame: pd.DataFrame) -> None:
    drawn = draw_all(frame, replies=replies_frame(frame), labels="zh")
    for name, ax in drawn.items():
        texts = [ax.get_title(loc="left"), ax.get_xlabel(), ax.get_ylabel()]
        texts += [t.get_text() for t in ax.get_yticklabels()]
        legend = ax.get_legend()
        if legend is not None:
            texts += [t.get_text() for t in legend.get_texts()]
        words = [t for t in texts if re.search(r"[A-Za-z]{3,}", t.replace("collect()", ""))]
        assert not words, (name, words)
    status = plot_status(frame, labels="zh")
    ticks = [t.get_text() for t in status.get_yticklabels()]
    assert "未收到回执" in ticks or any("（中间状态）" in t for t in ticks), ticks
    replies = drawn["replies"].get_xlabel()
    assert replies.startswith("北京时间") and "分钟" in replies, replies


def test_save_plots_follows_the_labels(frame: pd.DataFrame, tmp_path: Path) -> None:
    written = save_plots(frame.head(40), tmp_path, labels="bilingual", dpi=40)
    assert [p.name for p in written] == [
        "funnel.png",
        "status.png",
        "delivery_time.png",
        "replies.png",
    ]
    with pytest.raises(InputError):
        save_plots(frame.head(3), tmp_path, labels="de")
