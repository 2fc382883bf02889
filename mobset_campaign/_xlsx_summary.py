"""The summary sheet of the campaign workbook: the campaign in numbers, and native Excel
charts drawn from a small data table written below them on the same sheet.

The four charts are the notebook's four (:mod:`mobset_campaign.plots`), as Excel charts an
analyst can restyle, copy into a report or point at other cells:

- **发送漏斗 Funnel** — rows, sendable, accepted, delivered, replied (horizontal bars);
- **发送状态 Send states** — rows per ``send_state``, each bar in its state's colour;
- **送达用时 Delivery time** — delivered and failed reports by time from sending to report;
- **回复时间 Replies over time** — replies and opt-outs per clock-time slot of one day
  (``10:00``, ``10:10`` …) or per day (``06-15``) for a longer campaign: the time axis is
  text written by us, so it never reads as Excel's serial numbers.

Every label follows the workbook's label language (``labels=``: bilingual like the sheet
names by default, or Chinese, or English); every text goes through the same inert-text
rule as the details (:func:`mobset_campaign._xlsx.inert`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from xlsxwriter.format import Format  # type: ignore[import-untyped]
from xlsxwriter.workbook import Workbook  # type: ignore[import-untyped]
from xlsxwriter.worksheet import Worksheet  # type: ignore[import-untyped]

from ._i18n import N_
from ._labels import label
from ._protocol import BEIJING
from ._xlsx import Styles, display_width, header_text, inert
from .outcomes import (
    SECTION_BASES,
    UNIT_FORMATS,
    accepted_mask,
    delivered_mask,
    failed_mask,
    replied_mask,
    reply_times,
    sendable_mask,
    summary_table,
)
from .report_labels import section_bases
from .states import STATE_COLOURS, STATE_LABELS, state_label

__all__ = [
    "CHART_TITLES",
    "DATA_HEADING",
    "SUMMARY_TITLE",
    "chart_tables",
    "data_heading",
    "labelled_summary",
    "write_summary",
]

#: Title of each chart (English message ids), in the order they stand on the sheet.
CHART_TITLES = {
    "funnel": N_("Funnel"),
    "status": N_("Send states"),
    "delivery_time": N_("Delivery time (sent → report)"),
    "replies": N_("Replies over time (Beijing)"),
}
#: The summary sheet's title.
SUMMARY_TITLE = N_("Campaign summary")
#: The heading above the charts' data tables: its short form starts the bilingual heading
#: (``图表数据 Chart data (…)``), and is what a reader looks for.
DATA_HEADING = N_("Chart data")
_DATA_NOTE = N_("Chart data (the charts on the right are drawn from these cells)")
_SHARE = N_("share")
_MISSING = "—"
_CHART_ROWS = 22  # rows a chart takes, with a gap below
_CHART_SIZE = {"x_scale": 1.3, "y_scale": 1.45}
_DELAY_BINS = (0, 5, 10, 30, 60, 300, 1800, 7200, math.inf)
_DELAY_LABELS = (
    N_("< 5 s"),
    N_("5–10 s"),
    N_("10–30 s"),
    N_("30–60 s"),
    N_("1–5 min"),
    N_("5–30 min"),
    N_("30 min–2 h"),
    N_("≥ 2 h"),
)
_SLOTS = (("10min", "%H:%M"), ("30min", "%H:%M"), ("1h", "%H:%M"))

Cell = tuple[Any, Format | None]


# --------------------------------------------------------------------------------------
# the charts' data


def _units(labels: str) -> str:
    """Time spans read the same in both languages: a bilingual workbook shows the English."""
    return "en" if labels == "bilingual" else labels


def _funnel(frame: pd.DataFrame, labels: str) -> pd.DataFrame:
    stages = [
        (label(N_("Rows"), labels), len(frame)),
        (label(N_("Sendable"), labels), int(sendable_mask(frame).sum())),
        (label(N_("Accepted"), labels), int(accepted_mask(frame).sum())),
        (label(N_("Delivered"), labels), int(delivered_mask(frame).sum())),
        (label(N_("Replied"), labels), int(replied_mask(frame).sum())),
    ]
    return pd.DataFrame(stages, columns=[label(N_("stage"), labels), label(N_("rows"), labels)])


def _states(frame: pd.DataFrame, labels: str) -> pd.DataFrame:
    state_head, rows_head = header_text("send_state", labels), label(N_("rows"), labels)
    if "send_state" not in frame.columns:
        return pd.DataFrame(columns=[state_head, rows_head])
    counts = frame["send_state"].astype("string").str.strip().str.lower().value_counts()
    order = [s for s in STATE_LABELS if s in counts.index]
    order += sorted(str(s) for s in counts.index if s not in STATE_LABELS)
    return pd.DataFrame(
        {
            state_head: [state_label(s, labels) for s in order],
            rows_head: [int(counts[s]) for s in order],
            "state": order,
        }
    )


def _delays(frame: pd.DataFrame, labels: str) -> pd.DataFrame:
    units = _units(labels)
    table = pd.DataFrame(
        {label(N_("time to report"), labels): [label(m, units) for m in _DELAY_LABELS]}
    )
    series = ((N_("delivered"), delivered_mask), (N_("failed"), failed_mask))
    for message, mask in series:
        name = label(message, labels)
        counts = np.zeros(len(_DELAY_LABELS), dtype=int)
        if {"sent_time", "report_time"} <= set(frame.columns):
            sent = pd.to_datetime(frame["sent_time"], errors="coerce")
            report = pd.to_datetime(frame["report_time"], errors="coerce")
            seconds = (report - sent).dt.total_seconds()[mask(frame)].dropna()
            seconds = seconds[seconds >= 0]
            binned = pd.cut(seconds, _DELAY_BINS, right=False, labels=False)
            found = binned.value_counts()
            for at, count in zip(found.index.tolist(), found.tolist(), strict=True):
                counts[int(at)] = count
        table[name] = counts
    return table


def _replies(frame: pd.DataFrame, replies: pd.DataFrame | None, labels: str) -> pd.DataFrame:
    """Replies (and opt-outs) per slot: clock times within one day, else days."""
    columns = [label(m, labels) for m in (N_("time"), N_("replies"), N_("opt-outs"))]
    source = reply_times(
        replies if replies is not None and "recv_time" in replies.columns else frame
    )
    stamps, opted = source["time"], source["opt_out"]
    if stamps.empty:
        return pd.DataFrame(columns=columns)
    one_day = stamps.min().normalize() == stamps.max().normalize()
    span = stamps.max() - stamps.min()
    if one_day:
        freq, pattern = next(
            ((f, p) for f, p in _SLOTS if span / pd.Timedelta(f) <= 24), ("1h", "%H:%M")
        )
    else:
        freq = "1D"
        same_year = stamps.min().year == stamps.max().year
        pattern = "%m-%d" if same_year else "%Y-%m-%d"
    slots = stamps.dt.floor(freq)
    every = pd.date_range(slots.min(), slots.max(), freq=freq)
    counts = slots.value_counts().reindex(every, fill_value=0)
    opt_counts = slots[opted.to_numpy()].value_counts().reindex(every, fill_value=0)
    return pd.DataFrame(
        {
            columns[0]: [t.strftime(pattern) for t in every],
            columns[1]: counts.to_numpy(dtype=int),
            columns[2]: opt_counts.to_numpy(dtype=int),
        }
    )


def chart_tables(
    frame: pd.DataFrame, replies: pd.DataFrame | None, labels: str = "bilingual"
) -> dict[str, pd.DataFrame]:
    """The data table behind each chart (first column: the categories; then one column
    per series), keyed like :data:`CHART_TITLES`, labelled in ``labels``."""
    return {
        "funnel": _funnel(frame, labels),
        "status": _states(frame, labels),
        "delivery_time": _delays(frame, labels),
        "replies": _replies(frame, replies, labels),
    }


def data_heading(labels: str) -> str:
    """The heading above the charts' data: ``图表数据 Chart data (the charts on the right
    are drawn from these cells)`` (bilingual), its Chinese, or its English."""
    return label(_DATA_NOTE, labels, short=DATA_HEADING)


# --------------------------------------------------------------------------------------
# the summary table in the workbook's labels


def labelled_summary(
    labels: str,
    frame: pd.DataFrame,
    campaign: str | None,
    *,
    price_per_part: float | None,
    replies: pd.DataFrame | None,
) -> pd.DataFrame:
    """:func:`~mobset_campaign.outcomes.summary_table` with its sections and items in
    ``labels``, and a ``base`` column: what each section's share is a fraction of."""
    table = summary_table(
        frame, campaign, price_per_part=price_per_part, replies=replies, labels=labels
    )
    bases = section_bases(labels)
    share = label(_SHARE, labels)
    table["base"] = [bases.get(str(section), share) for section in table["section"]]
    return table


# --------------------------------------------------------------------------------------
# the sheet


class _Grid:
    """The sheet's cells, collected first and written in row order (constant memory)."""

    def __init__(self) -> None:
        self.rows: dict[int, dict[int, Cell]] = {}
        self.next = 0

    def put(self, row: int, col: int, value: Any, fmt: Format | None = None) -> None:
        self.rows.setdefault(row, {})[col] = (value, fmt)

    def line(self, *cells: Cell | None) -> int:
        row = self.next
        for col, cell in enumerate(cells):
            if cell is not None:
                self.put(row, col, *cell)
        self.next += 1
        return row

    def write(self, ws: Worksheet, styles: Styles) -> None:
        for row in sorted(self.rows):
            for col, (value, fmt) in sorted(self.rows[row].items()):
                _write(ws, styles, row, col, value, fmt)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _write(
    ws: Worksheet, styles: Styles, row: int, col: int, value: Any, fmt: Format | None
) -> None:
    if _missing(value):
        ws.write_string(row, col, _MISSING, fmt)
    elif isinstance(value, Decimal) and value.is_finite():
        ws.write_number(row, col, float(value), fmt)
    elif isinstance(value, (bool, np.bool_)):
        ws.write_boolean(row, col, bool(value), fmt)
    elif isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value):
        ws.write_number(row, col, float(value) if isinstance(value, np.floating) else value, fmt)
    elif isinstance(value, (datetime, date)):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert(BEIJING).tz_localize(None)
        ws.write_datetime(row, col, stamp.to_pydatetime(), fmt or styles.date)
    else:
        text, quoted = inert(str(value), styles.guard)
        ws.write_string(row, col, text, styles.quoted if quoted else fmt)


def _formats(styles: Styles) -> dict[str, Format]:
    add = styles.add
    return {
        "title": add({"bold": True, "font_size": 14}),
        "section": add({"bold": True, "font_color": "#1F4E78", "font_size": 12}),
        "share_head": add({"italic": True, "font_color": "#7F7F7F"}),
        "share": add({"italic": True, "font_color": "#7F7F7F", "num_format": "0.0%"}),
        "table_head": add({"bold": True, "bg_color": "#D9E1F2", "bottom": 1}),
        "count": add({"num_format": "#,##0"}),
        **{f"unit:{unit}": add({"num_format": fmt}) for unit, fmt in UNIT_FORMATS.items()},
    }


def _summary_rows(grid: _Grid, table: pd.DataFrame, fmt: dict[str, Format], labels: str) -> None:
    grid.line((label(SUMMARY_TITLE, labels), fmt["title"]))
    for section, part in table.groupby("section", sort=False):
        grid.line()
        share_head = None
        if part["share"].notna().any():
            base = (
                part["base"].iloc[0]
                if "base" in part.columns
                else SECTION_BASES.get(str(section), label(_SHARE, labels))
            )
            share_head = (base, fmt["share_head"])
        grid.line((str(section), fmt["section"]), None, share_head)
        for item, value, share, unit in zip(
            part["item"], part["value"], part["share"], part["unit"], strict=True
        ):
            unit = str(unit)
            if unit == "text" or _missing(value):
                value_cell: Cell = (value, None)
            elif unit == "datetime":
                value_cell = (value, fmt["unit:datetime"])
            else:
                value_cell = (value, fmt.get(f"unit:{unit}"))
            share_cell = None if _missing(share) else (float(share), fmt["share"])
            grid.line((str(item), None), value_cell, share_cell)


def _data_tables(
    grid: _Grid, tables: dict[str, pd.DataFrame], fmt: dict[str, Format], labels: str
) -> dict[str, tuple[int, int, int]]:
    """Write each chart's table; returns its (header row, first, last data row)."""
    grid.line()
    grid.line((data_heading(labels), fmt["section"]))
    where = {}
    for key, table in tables.items():
        grid.line()
        grid.line((label(CHART_TITLES[key], labels), fmt["share_head"]))
        shown = [c for c in table.columns if c != "state"]
        head = grid.line(*[(c, fmt["table_head"]) for c in shown])
        for values in table[shown].itertuples(index=False):
            grid.line(*[(v, fmt["count"] if i else None) for i, v in enumerate(values)])
        where[key] = (head, head + 1, head + len(table))
    return where


def _add_charts(
    book: Workbook,
    ws: Worksheet,
    tables: dict[str, pd.DataFrame],
    where: dict[str, tuple[int, int, int]],
    labels: str,
) -> None:
    for k, (key, table) in enumerate(tables.items()):
        head, first, last = where[key]
        shown = [c for c in table.columns if c != "state"]
        if key == "funnel":
            chart = book.add_chart({"type": "bar"})
        elif key == "delivery_time":
            chart = book.add_chart({"type": "column", "subtype": "stacked"})
        else:
            chart = book.add_chart({"type": "column"})
        if last < first:  # nothing to draw: an empty series keeps the chart valid
            last = first
        for col in range(1, len(shown)):
            series: dict[str, Any] = {
                "name": [ws.get_name(), head, col],
                "categories": [ws.get_name(), first, 0, last, 0],
                "values": [ws.get_name(), first, col, last, col],
                "data_labels": {"value": True} if key in ("funnel", "status") else None,
            }
            if series["data_labels"] is None:
                del series["data_labels"]
            if key == "status" and "state" in table.columns:
                series["points"] = [
                    {
                        "fill": {"color": f"#{STATE_COLOURS.get(s, ('D9D9D9', ''))[0]}"},
                        "border": {"color": f"#{STATE_COLOURS.get(s, ('', '404040'))[1]}"},
                    }
                    for s in table["state"]
                ]
            elif key == "delivery_time":
                series["fill"] = {"color": "#63BE7B" if col == 1 else "#F8696B"}
            elif key == "funnel":
                series["fill"] = {"color": "#5B9BD5"}
            chart.add_series(series)
        chart.set_title({"name": label(CHART_TITLES[key], labels), "name_font": {"size": 12}})
        if key == "funnel":
            chart.set_y_axis({"reverse": True})
            chart.set_legend({"none": True})
        elif key == "status":
            chart.set_legend({"none": True})
        else:
            chart.set_legend({"position": "bottom"})
        if key == "replies":
            chart.set_x_axis({"num_font": {"rotation": -45}})
        chart.set_size(_CHART_SIZE)
        ws.insert_chart(1 + k * _CHART_ROWS, 4, chart)


def write_summary(
    book: Workbook,
    ws: Worksheet,
    styles: Styles,
    table: pd.DataFrame,
    frame: pd.DataFrame,
    replies: pd.DataFrame | None,
    *,
    charts: bool,
    images: Sequence[Any] = (),
    labels: str = "bilingual",
) -> None:
    """The summary table (:func:`labelled_summary`), then (with ``charts``) the charts'
    data and the charts beside it, then the PNG ``images`` (file-like) below the charts;
    every label in ``labels``."""
    fmt = _formats(styles)
    longest = max((display_width(str(item)) for item in table["item"]), default=0)
    for col, width in enumerate((min(max(46, longest + 2), 90), 22, 20, 3)):
        ws.set_column(col, col, width)  # the longest label fits (status 7 is 60 wide)
    grid = _Grid()
    _summary_rows(grid, table, fmt, labels)
    if charts:
        tables = chart_tables(frame, replies, labels)
        where = _data_tables(grid, tables, fmt, labels)
    grid.write(ws, styles)
    if charts:
        _add_charts(book, ws, tables, where, labels)
    first = 1 + (len(CHART_TITLES) * _CHART_ROWS if charts else 0)
    for i, image in enumerate(images):
        ws.insert_image(first + i * 24, 4, f"chart{i + 1}.png", {"image_data": image})
