"""The charts: drawn from a realistic merged frame and from empty ones, saved as PNGs,
Chinese labels rendered with a font that has the glyphs, embedded in the workbook."""

from __future__ import annotations

import io
import itertools
import re
import warnings
from pathlib import Path

import matplotlib as mpl
import numpy as np
import openpyxl
import pandas as pd
import pytest
from _campaign_frames import FakeLedger, merged_frame, replies_frame
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from mobset_campaign import plots
from mobset_campaign.errors import InputError
from mobset_campaign.export import SUMMARY_SHEET, export_excel
from mobset_campaign.plots import (
    plot_delivery_time,
    plot_funnel,
    plot_replies,
    plot_status,
    save_plots,
)

PNG = b"\x89PNG\r\n\x1a\n"
CHARTS = [plot_funnel, plot_status, plot_delivery_time, plot_replies]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return merged_frame(300)


def texts(ax: Axes) -> list[str]:
    figure = plots.root_figure(ax)
    figure.draw_without_rendering()
    return [t.get_text() for t in figure.findobj(Text) if t.get_text()]


def png_bytes(ax: Axes) -> bytes:
    buffer = io.BytesIO()
    plots.root_figure(ax).savefig(buffer, format="png")
    return buffer.getvalue()


def missing_glyphs(artist: Text) -> list[str]:
    """Characters of ``artist`` that none of the fonts it asks for can draw."""
    props = artist.get_fontproperties()
    charmaps = []
    for family in props.get_family():
        single = props.copy()
        single.set_family(family)
        try:
            path = font_manager.findfont(single, fallback_to_default=False)
        except ValueError:
            continue
        charmaps.append(set(font_manager.get_font(path).get_charmap()))
    return [
        ch
        for ch in artist.get_text()
        if not ch.isspace() and not any(ord(ch) in charmap for charmap in charmaps)
    ]


# ---------------------------------------------------------------------------------------
# a realistic campaign


def test_funnel_shows_each_step_and_its_losses(frame: pd.DataFrame) -> None:
    ax = plot_funnel(frame, "spring-sale", labels="bilingual")
    assert isinstance(ax, Axes)
    shown = texts(ax)
    assert ax.get_title(loc="left") == "送达漏斗 Delivery funnel · spring-sale"
    state = frame["send_state"]
    delivered = int((state == "delivered").sum())
    accepted = int(state.isin(["sent", "delivered", "failed"]).sum())
    assert f"{len(frame):,} (100.0%)" in shown
    assert f"{delivered:,} ({delivered / len(frame):.1%})" in shown
    assert f"{accepted:,} ({accepted / len(frame):.1%})" in shown
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "行数\nRows",
        "可发送\nSendable",
        "已提交\nAccepted",
        "已送达\nDelivered",
    ]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"网关拒绝 rejected", "结果未知 unknown", "发送失败 failed"} <= set(legend)
    # every bar of a step is as long as the step before it
    ends: dict[float, float] = {}
    for bar in ax.patches:
        y = round(bar.get_y() + bar.get_height() / 2, 3)
        ends[y] = max(ends.get(y, 0), bar.get_x() + bar.get_width())
    lengths = [ends[y] for y in sorted(ends, reverse=True)]
    assert lengths[0] == lengths[1] == len(frame)
    assert lengths[2] == int(frame["sendable"].sum())
    assert lengths[3] == accepted


def test_status_uses_the_vendor_texts(frame: pd.DataFrame) -> None:
    ax = plot_status(frame, labels="bilingual")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "12 接收成功" in labels and "13 接收失败" in labels
    assert "10 发送成功 (中间状态 interim)" in [label.replace("\n", " ") for label in labels]
    assert labels[-1] == "未收到回执 no report yet"
    widths = sorted(int(bar.get_width()) for bar in ax.patches)
    assert widths[-1] == int((frame["status"] == 12).sum())
    accepted = frame["send_state"].isin(["sent", "delivered", "failed"])
    assert sum(widths) == int(accepted.sum())


def test_delivery_time_marks_the_median(frame: pd.DataFrame) -> None:
    ax = plot_delivery_time(frame, labels="bilingual")
    delay = (frame["report_time"] - frame["sent_time"]).dt.total_seconds().dropna()
    median_line = next(line for line in ax.get_lines() if line.get_linestyle() == "--")
    assert median_line.get_xdata()[0] == pytest.approx(delay.median())
    assert ax.get_xscale() == "log"  # a few reports took hours: a long tail
    assert sum(bar.get_height() for bar in ax.patches) == len(delay)
    assert f"n = {len(delay):,}" in texts(ax)
    assert "(秒 s)" in ax.get_xlabel()


def test_no_chart_text_is_math_text(frame: pd.DataFrame) -> None:
    """A log axis labels plain numbers, and a campaign name with dollar signs stays text:
    math text reads badly and, without the STIX fonts, prints a warning in the notebook."""
    ax = plot_delivery_time(frame, "Promo $5 off $20")
    figure = ax.get_figure(root=True)
    assert figure is not None
    figure.draw_without_rendering()
    labels = [t.get_text() for t in ax.get_xticklabels(which="both") if t.get_text()]
    assert labels and not any("$" in label for label in labels), labels
    assert "10" in labels or "100" in labels, labels
    title = ax._left_title  # the chart titles sit on the left
    assert "$5 off $20" in title.get_text() and not title.get_parse_math()


def test_delivery_time_in_minutes_with_clock_skew() -> None:
    sent = pd.Timestamp("2024-06-15 10:00", tz="Asia/Shanghai")
    df = pd.DataFrame(
        {
            "sent_time": [sent] * 4,
            "report_time": [sent + pd.Timedelta(minutes=m) for m in (3, 5, 8)]
            + [sent - pd.Timedelta(seconds=2)],
            "send_state": ["delivered"] * 4,
        }
    )
    ax = plot_delivery_time(df, labels="bilingual")
    assert "(分钟 min)" in ax.get_xlabel()
    assert ax.get_xscale() == "linear"
    assert any("1 negative (clock skew)" in t for t in texts(ax))


def test_whole_second_reports_leave_no_gaps_between_bars() -> None:
    sent = pd.Timestamp("2024-06-15 10:00", tz="Asia/Shanghai")
    seconds = [s for s in range(1, 15) for _ in range(s % 4 + 1)]  # the gateway's precision
    df = pd.DataFrame(
        {
            "sent_time": [sent] * len(seconds),
            "report_time": [sent + pd.Timedelta(seconds=s) for s in seconds],
            "status": [12] * len(seconds),
        }
    )
    ax = plot_delivery_time(df)
    green = [b for b in ax.patches if b.get_facecolor()[:3] == mpl.colors.to_rgb("#2e7d32")]
    filled = sorted(b.get_x() + b.get_width() / 2 for b in green if b.get_height() > 0)
    assert filled == list(range(1, 15))  # one bar per second, none empty in between


def test_replies_over_time_with_opt_outs(frame: pd.DataFrame) -> None:
    replies = replies_frame(frame)
    ax = plot_replies(frame, replies=replies, labels="bilingual")
    heights = [bar.get_height() for bar in ax.patches]
    assert sum(heights) == len(replies)
    red = [
        b.get_height() for b in ax.patches if b.get_facecolor()[:3] == mpl.colors.to_rgb("#c62828")
    ]
    assert sum(red) == int(replies["opt_out"].sum())
    assert ax.get_title(loc="left").startswith(f"回复 Replies {len(replies)}")
    assert "北京时间" in ax.get_xlabel()


def test_replies_from_the_merged_frame_alone(frame: pd.DataFrame) -> None:
    ax = plot_replies(frame, freq="1h")
    assert sum(bar.get_height() for bar in ax.patches) == int(frame["reply"].notna().sum())
    assert "bins of 1h" in ax.get_xlabel()
    with pytest.raises(InputError, match="freq"):
        plot_replies(frame, freq="soon")


def test_replies_spread_over_weeks_get_wider_bins() -> None:
    times = pd.date_range("2024-06-01", periods=40, freq="13h", tz="Asia/Shanghai")
    replies = pd.DataFrame({"recv_time": times, "opt_out": [False] * 39 + [True]})
    ax = plot_replies(replies)
    assert "bins of 12h" in ax.get_xlabel()
    assert sum(bar.get_height() for bar in ax.patches) == 40


# ---------------------------------------------------------------------------------------
# nothing to show yet


def pending_frame() -> pd.DataFrame:
    df = merged_frame(30)
    df["send_state"] = np.where(df["sendable"], "pending", "skipped")
    for name in ("sms_id", "status", "reply_count"):
        df[name] = pd.array([pd.NA] * len(df), dtype="Int64")
    for name in ("sent_time", "report_time", "reply_time"):
        df[name] = pd.NaT
    df["reply"] = pd.array([pd.NA] * len(df), dtype="string")
    df["opted_out"] = False
    return df


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.__name__)
def test_an_empty_frame_draws_a_no_data_chart(chart) -> None:  # type: ignore[no-untyped-def]
    ax = chart(merged_frame(10).iloc[:0], "new-campaign", labels="bilingual")
    assert "暂无数据 No data yet" in texts(ax)
    assert png_bytes(ax).startswith(PNG)


@pytest.mark.parametrize("chart", CHARTS[1:], ids=lambda c: c.__name__)
def test_before_any_report_or_reply_draws_a_no_data_chart(chart) -> None:  # type: ignore[no-untyped-def]
    ax = chart(pending_frame(), labels="bilingual")
    shown = texts(ax)
    assert "暂无数据 No data yet" in shown
    assert any("collect()" in t for t in shown)


def test_the_funnel_of_a_campaign_not_sent_yet() -> None:
    df = pending_frame()
    ax = plot_funnel(df, labels="bilingual")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "未发送 not sent yet" in legend
    assert "0 (0.0%)" in texts(ax)


def test_a_frame_without_time_columns() -> None:
    ax = plot_delivery_time(pd.DataFrame({"phone": ["13800138000"]}))
    assert any("sent_time" in t for t in texts(ax))
    ax = plot_replies(pd.DataFrame({"phone": ["13800138000"]}), labels="bilingual")
    assert "暂无数据 No data yet" in texts(ax)


# ---------------------------------------------------------------------------------------
# Chinese labels


def test_chinese_labels_have_their_glyphs(frame: pd.DataFrame) -> None:
    assert plots.CJK_FONT == "Noto Sans CJK SC"  # the font mplfonts ships
    checked = 0
    for chart in CHARTS:
        ax = chart(
            frame,
            "春季促销",
            labels="bilingual",
            **({"replies": replies_frame(frame)} if chart is plot_replies else {}),
        )
        figure = plots.root_figure(ax)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            png_bytes(ax)
        assert not [w for w in caught if "missing from font" in str(w.message)], chart.__name__
        for artist in figure.findobj(Text):
            if artist.get_text().isascii():
                continue
            assert missing_glyphs(artist) == [], (chart.__name__, artist.get_text())
            checked += 1
    assert checked >= 20


def test_the_glyph_check_would_catch_a_font_without_chinese() -> None:
    figure = Figure()
    ax = figure.add_subplot()
    title = ax.set_title(
        "接收成功", fontproperties=font_manager.FontProperties(family="DejaVu Sans")
    )
    assert missing_glyphs(title) == list("接收成功")
    with pytest.warns(UserWarning, match="missing from font"):
        figure.savefig(io.BytesIO(), format="png")


def test_global_matplotlib_settings_are_left_alone(frame: pd.DataFrame) -> None:
    import matplotlib.pyplot as plt

    before = dict(mpl.rcParams)
    figures = plt.get_fignums()
    for chart in CHARTS:
        chart(frame)
    assert dict(mpl.rcParams) == before
    assert plt.get_fignums() == figures  # pyplot never saw our figures


def test_use_cjk_font_opts_in_for_your_own_charts() -> None:
    with mpl.rc_context():
        plots.use_cjk_font()
        assert mpl.rcParams["font.family"][-1] == plots.CJK_FONT
        figure = Figure()
        title = figure.add_subplot().set_title("送达率 delivery rate")
        assert missing_glyphs(title) == []
    assert plots.CJK_FONT not in mpl.rcParams["font.family"]


# ---------------------------------------------------------------------------------------
# axes, ledgers, files


def test_drawing_on_your_own_axes(frame: pd.DataFrame) -> None:
    figure = Figure(figsize=(12, 8))
    grid = figure.subplots(2, 2)
    for chart, ax in zip(CHARTS, grid.flat, strict=True):
        assert chart(frame, ax=ax) is ax
    assert all(ax.patches for ax in grid.flat)
    with pytest.raises(InputError, match="Axes"):
        plot_funnel(frame, ax="top-left")  # type: ignore[arg-type]


def test_a_ledger_and_a_campaign_are_enough(frame: pd.DataFrame) -> None:
    ledger = FakeLedger({"spring-sale": (frame, replies_frame(frame))})
    ax = plot_replies(ledger, "spring-sale")
    assert sum(bar.get_height() for bar in ax.patches) == len(replies_frame(frame))
    assert plot_status(ledger, "spring-sale").patches
    with pytest.raises(InputError, match="campaign"):
        plot_funnel(ledger)


def test_a_chart_shows_itself_in_jupyter(frame: pd.DataFrame) -> None:
    ax = plot_status(frame)
    assert ax._repr_png_().startswith(PNG)  # type: ignore[attr-defined]


def test_save_plots_writes_four_readable_pngs(frame: pd.DataFrame, tmp_path: Path) -> None:
    paths = save_plots(frame, tmp_path / "charts", "spring-sale", replies=replies_frame(frame))
    assert [p.name for p in paths] == [
        "funnel.png",
        "status.png",
        "delivery_time.png",
        "replies.png",
    ]
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size[0] >= 1000 and image.size[1] >= 600
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == sorted(p.name for p in paths)
    again = save_plots(frame.iloc[:0], tmp_path / "charts", prefix="empty_", dpi=50)
    assert all(p.name.startswith("empty_") and p.is_file() for p in again)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="Cannot create the folder"):
        save_plots(frame, tmp_path / "file" / "charts")


def test_chart_pictures_are_embedded_when_asked(frame: pd.DataFrame, tmp_path: Path) -> None:
    # the workbook's charts are native Excel charts (test_export); pictures=True adds the PNGs
    out = export_excel(frame, tmp_path / "charts.xlsx", pictures=True, replies=replies_frame(frame))
    ws = openpyxl.load_workbook(out)[SUMMARY_SHEET]
    images = ws._images
    assert len(images) == 4
    anchors = [image.anchor._from for image in images]
    assert {a.col for a in anchors} == {4}  # column E, beside the table
    assert len({a.row for a in anchors}) == 4  # one below the other


def test_saved_charts_get_the_users_umask(tmp_path: Path) -> None:
    import os

    from mobset_campaign.plots import save_plots

    old = os.umask(0o022)
    try:
        paths = save_plots(pd.DataFrame(), tmp_path)
    finally:
        os.umask(old)
    assert paths and all((p.stat().st_mode & 0o777) == 0o644 for p in paths)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


# ---------------------------------------------------------------------------------------
# what a reader sees: titles, notes, labels, the time axis

LONG_CAMPAIGN = "2026年双十二会员积分到期提醒-广州天河旗舰店-第二批次-spring-sale-guangzhou"


def visible_texts(ax: Axes) -> list[Text]:
    figure = plots.root_figure(ax)
    figure.draw_without_rendering()
    return [t for t in figure.findobj(Text) if t.get_text().strip() and t.get_visible()]


def overlap(a: Text, b: Text) -> bool:
    box_a, box_b = a.get_window_extent(), b.get_window_extent()
    return bool(box_a.overlaps(box_b))


def chart_cases() -> list[tuple[str, Axes]]:
    frame = merged_frame(300)
    skewed = frame.copy()
    skewed.loc[skewed.index[:5], "report_time"] = skewed.loc[skewed.index[:5], "sent_time"] - (
        pd.Timedelta(seconds=3)
    )
    cases = []
    for campaign, labels in ((None, "zh"), ("spring", "en"), (LONG_CAMPAIGN, "bilingual")):
        for chart in CHARTS:
            cases.append((f"{chart.__name__}-{campaign}", chart(frame, campaign, labels=labels)))
            empty = chart(frame.iloc[:0], campaign, labels=labels)
            cases.append((f"{chart.__name__}-empty-{campaign}", empty))
        cases.append((f"skew-{campaign}", plot_delivery_time(skewed, campaign, labels=labels)))
    return cases


def test_titles_never_overlap_notes_or_any_other_text_and_stay_in_the_figure() -> None:
    """Every chart, with no campaign, a short one and a long one, with data and without."""
    noted = 0
    for name, ax in chart_cases():
        shown = visible_texts(ax)
        figure_box = plots.root_figure(ax).bbox
        title = next(t for t in shown if t.get_text() == ax.get_title(loc="left"))
        notes = [t for t in shown if t.get_gid() == "mobset-note"]
        noted += len(notes)
        box = title.get_window_extent()
        assert figure_box.x0 <= box.x0 and box.x1 <= figure_box.x1, name
        assert box.y1 <= figure_box.y1 and box.y0 >= ax.bbox.y1, name  # above the plot
        for other in shown:
            if other is not title:
                assert not overlap(title, other), f"{name}: title runs into {other.get_text()!r}"
        for note in notes:
            note_box = note.get_window_extent()
            assert figure_box.x0 <= note_box.x0 and note_box.x1 <= figure_box.x1, name
            for other in shown:
                if other is not note:
                    assert not overlap(note, other), f"{name}: note runs into {other.get_text()!r}"
    assert noted >= 6  # the delivery-time charts carry their notes


def test_long_status_labels_fit() -> None:
    df = pd.DataFrame(
        {
            "phone": ["13512346789", "13612345678", "13712345678", "13812345678"],
            "send_state": ["failed", "sent", "delivered", "sent"],
            "status": [7, 1, 12, pd.NA],
        }
    )
    ax = plot_status(df, LONG_CAMPAIGN)
    visible_texts(ax)
    figure_box = plots.root_figure(ax).bbox
    labels = [t for t in ax.get_yticklabels() if t.get_text()]
    assert any("审核不能通过" in t.get_text() for t in labels)
    for label in labels:
        box = label.get_window_extent()
        assert box.x0 >= figure_box.x0 and box.width <= figure_box.width / 4, label.get_text()
    for a, b in itertools.pairwise(labels):
        assert not overlap(a, b)
    assert ax.bbox.width >= figure_box.width * 0.6  # the bars keep most of the figure


def replies_at(start: str, n: int, every: str) -> pd.DataFrame:
    times = pd.date_range(start, periods=n, freq=every, tz="Asia/Shanghai")
    return pd.DataFrame({"recv_time": times, "opt_out": [False] * (n - 1) + [True]})


def tick_labels(ax: Axes) -> list[str]:
    visible_texts(ax)
    low, high = ax.get_xlim()
    return [
        t.get_text()
        for t in ax.get_xticklabels()
        if t.get_text() and low <= t.get_position()[0] <= high
    ]


@pytest.mark.parametrize(
    ("start", "n", "every", "pattern", "one_day"),
    [
        ("2026-12-03 20:44", 40, "37s", r"2[01]:\d\d", True),  # was "45 50 55 21:10 05"
        ("2026-12-03 21:10:05", 30, "2s", r"21:1\d:\d\d", True),  # a minute: to the second
        ("2026-12-03 08:00", 60, "11min", r"\d\d:\d\d", True),
        ("2026-12-03 00:02", 30, "3min", r"0[01]:\d\d", True),  # just after midnight
        ("2026-12-03 22:10", 40, "4min", r"12-0[34] \d\d:\d\d", False),  # past midnight
        ("2026-12-03", 40, "13h", r"2026-12-\d\d", False),  # weeks: dates
    ],
)
def test_the_replies_time_axis_reads_as_clock_times_or_dates(
    start: str, n: int, every: str, pattern: str, one_day: bool
) -> None:
    ax = plot_replies(replies_at(start, n, every))
    labels = tick_labels(ax)
    assert len(labels) >= 3 and len(set(labels)) == len(labels), labels
    assert all(re.fullmatch(pattern, label) for label in labels), labels
    assert ("2026-12-03" in ax.get_xlabel()) == one_day  # the day, said once
