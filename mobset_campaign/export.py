"""The campaign workbook: details, summary and replies, safe to open in Excel.

:func:`export_excel` writes a merged frame (contacts + send/delivery/reply columns, see
``merge_status``) to an ``.xlsx`` file with three sheets:

- ``明细 Details`` — every column and row of the frame; phones, SmsIds and digit strings as
  text cells (``@``), dates as real Excel datetimes in Beijing time, a frozen bold header,
  an autofilter, column widths that count CJK characters double, and the ``send_state``
  cell coloured (delivered green, failed/rejected red, unknown amber, pending grey, ...).
- ``汇总 Summary`` — the table from :func:`mobset_campaign.outcomes.summarize` (counts by
  send state and delivery status, skip reasons, parts, cost, delivery and reply rates,
  opt-outs), optionally with the charts of :mod:`mobset_campaign.plots` embedded.
- ``回复 Replies`` — the replies frame when given, else the latest reply of each row.

Replies come from strangers, so every string cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return is written as inert text (OWASP's CSV/formula-injection
rule): by default the text gets a leading apostrophe, which survives a later "Save as CSV";
with ``formula_guard="style"`` the text is kept exactly and the cell is marked as text
(string type plus Excel's quote-prefix flag) instead. Either way no cell is ever a formula.
Characters XML cannot hold (control characters, lone surrogates) become U+FFFD, texts
longer than Excel's 32,767-character cell limit are cut with a marker, and a carriage
return reads back as a line feed (XML normalises line ends; Excel shows both as a break).

>>> import tempfile, pathlib
>>> frame = pd.DataFrame({"姓名": ["张伟", "李娜"], "phone": ["13800138000", "13900139000"],
...                       "send_state": ["delivered", "failed"], "reply": ["=1+1", pd.NA]})
>>> out = export_excel(frame, pathlib.Path(tempfile.mkdtemp()) / "campaign.xlsx")
>>> out.name
'campaign.xlsx'
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell import Cell, WriteOnlyCell  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.worksheet._write_only import WriteOnlyWorksheet  # type: ignore[import-untyped]

from ._files import replace_atomically
from ._protocol import BEIJING
from .errors import InputError
from .ledger import STATUS_FRAME_COLUMNS
from .outcomes import SECTION_BASES, replies_data, status_data, summarize
from .render import OUTPUT_COLUMNS
from .states import STATE_COLOURS

__all__ = ["DETAILS_SHEET", "REPLIES_SHEET", "SUMMARY_SHEET", "display_width", "export_excel"]

DETAILS_SHEET = "明细 Details"
SUMMARY_SHEET = "汇总 Summary"
REPLIES_SHEET = "回复 Replies"

_RISKY_START = ("=", "+", "-", "@", "\t", "\r")
# what openpyxl would otherwise turn into an error cell
_EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"})
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_DIGITS = re.compile(r"[0-9]+")
_MAX_CELL = 32_767
_TRUNCATED = "…[truncated: longer than Excel's 32,767-character cell limit]"
_MAX_ROWS = 1_048_576
_MAX_COLS = 16_384
_BIG_INT = 10**10  # integer columns at or above this are identifiers: written as text
_TEXT_COLUMNS = frozenset({"phone", "sms_id", "recv_number", "add_num"})
_DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
_WIDTH_SAMPLE = 2_000

FormulaGuard = Literal["apostrophe", "style"]


# --------------------------------------------------------------------------------------
# cell conversion


def display_width(text: str) -> int:
    """Columns ``text`` takes in a spreadsheet: East Asian wide/full-width characters
    count double.

    >>> display_width("abc"), display_width("张伟"), display_width("短信 SMS")
    (3, 4, 8)
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _clean_text(text: str) -> str:
    if _ILLEGAL_XML.search(text):
        text = _ILLEGAL_XML.sub("\ufffd", text)
    if len(text) > _MAX_CELL:
        text = text[: _MAX_CELL - len(_TRUNCATED)] + _TRUNCATED
    return text


class _CellFactory:
    """Builds the few styled cells of a write-only sheet from shared style templates."""

    def __init__(self, ws: WriteOnlyWorksheet, guard: FormulaGuard) -> None:
        self.ws = ws
        self.guard = guard
        self.text_style = self._template(number_format="@")
        self.quoted_style = self._template(number_format="@", quotePrefix=True)
        self.date_style = self._template(number_format=_DATE_FORMAT)
        self.state_styles = {
            state: self._template(
                fill=PatternFill("solid", start_color=fill, end_color=fill),
                font=Font(color=font),
            )
            for state, (fill, font) in STATE_COLOURS.items()
        }

    def _template(self, **attrs: Any) -> Any:
        cell = WriteOnlyCell(self.ws)
        for name, value in attrs.items():
            setattr(cell, name, value)
        return cell._style

    def text(self, value: str, *, as_text: bool = False, style: Any = None) -> str | Cell:
        """A string as an inert text cell (plain ``str`` when nothing is needed)."""
        value = _clean_text(value)
        risky = value.startswith(_RISKY_START)
        if risky and self.guard == "apostrophe":
            value = "'" + value
            risky = False
        if not (risky or as_text or style is not None or value in _EXCEL_ERRORS):
            return value
        if style is None:
            style = self.quoted_style if risky else self.text_style
        cell = Cell(self.ws, row=1, column=1, value=value, style_array=style)
        cell.data_type = "s"  # never a formula, never an error value
        return cell

    def date(self, value: datetime | date) -> Cell:
        return Cell(self.ws, row=1, column=1, value=value, style_array=self.date_style)

    def convert(self, value: Any) -> Any:
        """Any Python value to what the sheet stores (the slow, general path)."""
        if value is None or value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, np.integer)):
            number = int(value)
            return self.text(str(number), as_text=True) if abs(number) >= _BIG_INT else number
        if isinstance(value, (float, np.floating)):
            real = float(value)
            if math.isnan(real):
                return None
            return real if math.isfinite(real) else self.text(str(real))
        if isinstance(value, Decimal):
            return value if value.is_finite() else self.text(str(value))
        if isinstance(value, str):
            if not value:
                return None  # a blank cell, not an empty text
            return self.text(value, as_text=bool(_DIGITS.fullmatch(value)))
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value = value.astimezone(BEIJING).replace(tzinfo=None)
            return self.date(value)
        if isinstance(value, date):
            return self.date(value)
        if isinstance(value, (time, timedelta)):
            return value
        if isinstance(value, np.datetime64):
            return self.convert(pd.Timestamp(value))
        if isinstance(value, pd.Timedelta):
            return value.to_pytimedelta()
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8", errors="replace"))
        return self.text(str(value))


def _column_values(series: pd.Series, name: str, cells: _CellFactory) -> list[Any]:
    """One column as the list of values/cells to write, vectorised where the dtype allows."""
    n = len(series)
    if n == 0:
        return []
    notna = series.notna().to_numpy()
    dtype = series.dtype
    if name == "send_state":
        out: list[Any] = [None] * n
        for i, value in enumerate(series.astype("object").tolist()):
            if notna[i]:
                text = str(value)
                out[i] = cells.text(text, style=cells.state_styles.get(text.strip().lower()))
        return out
    if isinstance(dtype, pd.DatetimeTZDtype):
        local = series.dt.tz_convert(BEIJING).dt.tz_localize(None)
        return [cells.date(v) if ok else None for v, ok in zip(local.tolist(), notna, strict=True)]
    if pd.api.types.is_datetime64_dtype(dtype):
        return [cells.date(v) if ok else None for v, ok in zip(series.tolist(), notna, strict=True)]
    if pd.api.types.is_bool_dtype(dtype):
        return [bool(v) if ok else None for v, ok in zip(series.tolist(), notna, strict=True)]
    if pd.api.types.is_integer_dtype(dtype):
        values = series.astype("object").tolist()
        as_text = name in _TEXT_COLUMNS or bool(
            (series.dropna().abs() >= _BIG_INT).any() if notna.any() else False
        )
        if as_text:
            return [
                cells.text(str(v), as_text=True) if ok else None
                for v, ok in zip(values, notna, strict=True)
            ]
        return [int(v) if ok else None for v, ok in zip(values, notna, strict=True)]
    if pd.api.types.is_float_dtype(dtype):
        reals = series.astype("float64").to_numpy()
        if np.isfinite(reals[notna]).all():
            return [float(v) if ok else None for v, ok in zip(reals.tolist(), notna, strict=True)]
        return [cells.convert(v) for v in reals.tolist()]
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        strings = series.astype("string")
        values = series.astype("object").tolist()
        flagged = (
            (
                strings.str.startswith(_RISKY_START)
                | strings.str.fullmatch(r"[0-9]+")
                | strings.str.contains(_ILLEGAL_XML.pattern, regex=True)
                | (strings.str.len() > _MAX_CELL)
                | strings.isin(list(_EXCEL_ERRORS))
            )
            .fillna(False)
            .to_numpy(dtype=bool)
        )
        as_text = name in _TEXT_COLUMNS
        notna = notna & (strings.str.len() > 0).fillna(False).to_numpy(dtype=bool)  # "": blank
        out = [None if not ok else v for v, ok in zip(values, notna, strict=True)]
        for at in np.flatnonzero(flagged | (notna & as_text)).tolist():
            text = values[at]
            out[at] = cells.text(text, as_text=as_text or bool(_DIGITS.fullmatch(text)))
        return out
    # object, categorical and anything else: value by value
    values = series.astype("object").tolist()
    if name in _TEXT_COLUMNS:
        return [
            None if not ok else cells.text(_plain_id(v), as_text=True)
            for v, ok in zip(values, notna, strict=True)
        ]
    return [cells.convert(v) if ok else None for v, ok in zip(values, notna, strict=True)]


def _plain_id(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _column_width(header: str, values: Sequence[Any], series: pd.Series) -> float:
    widest = display_width(header) + 2  # room for the filter button
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
        series.dtype
    ):
        return max(widest, 20)
    for value in values[:_WIDTH_SAMPLE]:
        if value is None:
            continue
        if isinstance(value, Cell):
            value = value.value
        if isinstance(value, (datetime, date)):
            width = 20
        elif isinstance(value, float):
            width = len(f"{value:.6g}")
        else:
            width = display_width(str(value).split("\n", 1)[0])
        widest = max(widest, width)
    return float(min(max(widest + 1, 8), 60))


# --------------------------------------------------------------------------------------
# sheets

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", start_color="D9E1F2", end_color="D9E1F2")
_HEADER_BORDER = Border(bottom=Side(style="thin", color="8EA9DB"))
_SECTION_FONT = Font(bold=True, color="1F4E78", size=12)
_TITLE_FONT = Font(bold=True, size=14)
_SHARE_FONT = Font(italic=True, color="7F7F7F")


def _header_cells(ws: WriteOnlyWorksheet, cells: _CellFactory, names: Iterable[str]) -> list:
    row = []
    for name in names:
        value = _clean_text(name)
        if value.startswith(_RISKY_START) and cells.guard == "apostrophe":
            value = "'" + value
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.border = _HEADER_BORDER
        cell.alignment = Alignment(vertical="center")
        if value.startswith(_RISKY_START):
            cell.quotePrefix = True
        row.append(cell)
    return row


def _write_table(ws: WriteOnlyWorksheet, df: pd.DataFrame, guard: FormulaGuard) -> None:
    """A frame as a filterable table with a frozen header (write-only: widths first)."""
    cells = _CellFactory(ws, guard)
    headers = [str(c) for c in df.columns]
    columns = [_column_values(df.iloc[:, i], headers[i], cells) for i in range(df.shape[1])]
    for i, header in enumerate(headers):
        letter = get_column_letter(i + 1)
        ws.column_dimensions[letter].width = _column_width(header, columns[i], df.iloc[:, i])
    ws.freeze_panes = "A2"
    if headers:
        last = get_column_letter(len(headers))
        ws.auto_filter.ref = f"A1:{last}{len(df) + 1}"
    ws.append(_header_cells(ws, cells, headers))
    for row in zip(*columns, strict=True):
        ws.append(row)


_UNIT_FORMATS = {
    "count": "#,##0",
    "parts": "#,##0",
    "ratio": "0.0%",
    "money": "#,##0.00",
    "datetime": _DATE_FORMAT,
}


def _summary_value(ws: WriteOnlyWorksheet, cells: _CellFactory, value: Any, unit: str) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "text":
        return cells.text(str(value))
    if unit == "datetime":
        return cells.convert(value)
    cell = WriteOnlyCell(ws, value=value)
    cell.number_format = _UNIT_FORMATS.get(unit, "General")
    return cell


def _write_summary(
    ws: WriteOnlyWorksheet, table: pd.DataFrame, guard: FormulaGuard, images: list[Any]
) -> None:
    cells = _CellFactory(ws, guard)
    for letter, width in (("A", 46), ("B", 22), ("C", 20), ("D", 3)):
        ws.column_dimensions[letter].width = width
    title = WriteOnlyCell(ws, value="短信活动汇总 Campaign summary")
    title.font = _TITLE_FONT
    ws.append([title])
    for section, part in table.groupby("section", sort=False):
        ws.append([])
        head = WriteOnlyCell(ws, value=str(section))
        head.font = _SECTION_FONT
        share_head = None
        if part["share"].notna().any():
            share_head = WriteOnlyCell(ws, value=SECTION_BASES.get(str(section), "占比 share"))
            share_head.font = _SHARE_FONT
        ws.append([head, None, share_head])
        for item, value, share, unit in zip(
            part["item"], part["value"], part["share"], part["unit"], strict=True
        ):
            share_cell = None
            if not pd.isna(share):
                share_cell = WriteOnlyCell(ws, value=float(share))
                share_cell.number_format = "0.0%"
                share_cell.font = _SHARE_FONT
            ws.append(
                [cells.text(str(item)), _summary_value(ws, cells, value, str(unit)), share_cell]
            )
    for i, image in enumerate(images):
        image.anchor = f"E{2 + i * 24}"
        ws.add_image(image)


def _replies_table(df: pd.DataFrame) -> pd.DataFrame:
    """The replies sheet built from a merged frame: one row per row that has a reply."""
    known = {*STATUS_FRAME_COLUMNS, *OUTPUT_COLUMNS, "phone_problem"}
    contact = [c for c in df.columns if c not in known]
    columns = {
        "phone": "phone",
        **{c: c for c in contact},
        "reply_time": "recv_time",
        "reply": "content",
        "reply_count": "reply_count",
        "opted_out": "opt_out",
        "sms_id": "sms_id",
    }
    present = {src: dst for src, dst in columns.items() if src in df.columns}
    if "reply" not in df.columns and "reply_time" not in df.columns:
        return pd.DataFrame(columns=["phone", "recv_time", "content", "opt_out", "sms_id"])
    has = df["reply"].notna() if "reply" in df.columns else df["reply_time"].notna()
    return df.loc[has, list(present)].rename(columns=present).reset_index(drop=True)


# --------------------------------------------------------------------------------------
# the file


def _check_target(path: Path) -> Path:
    if path.is_dir():
        raise InputError(
            f"Cannot write {str(path)!r}: it is a folder. Give a file name such as "
            f"{str(path / 'campaign.xlsx')!r}."
        )
    if path.suffix.lower() != ".xlsx":
        raise InputError(
            f"Cannot write {str(path)!r}: an Excel workbook needs the .xlsx extension "
            f"(Excel refuses to open it otherwise). Use e.g. {str(path.with_suffix('.xlsx'))!r}."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"Cannot create the folder {str(path.parent)!r} for the workbook: "
            f"{exc.strerror or exc}. Choose a folder you can write to."
        ) from exc
    return path


def _save_atomically(workbook: Workbook, path: Path) -> None:
    try:
        replace_atomically(path, workbook.save)
    except PermissionError as exc:
        raise InputError(
            f"Cannot write the workbook {str(path)!r}: permission denied. If the file is "
            f"open in Excel or WPS, close it and export again; otherwise check the "
            f"permissions of the file and of {str(path.parent)!r}, or choose another path."
        ) from exc
    except OSError as exc:
        raise InputError(
            f"Cannot write the workbook {str(path)!r}: {exc.strerror or exc}. "
            f"Check the disk and the folder, then export again."
        ) from exc


def _discard(workbook: Workbook) -> None:
    """After a failure: close the half-written sheets and delete their temporary files, so
    nothing is left in the temp folder or complains at garbage collection. The original
    error is being re-raised; a second error while tidying up must not replace it."""
    for ws in workbook.worksheets:
        writer = getattr(ws, "_writer", None)
        if writer is None:
            continue
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            if not ws.closed:
                ws.close()
        with contextlib.suppress(OSError, ValueError):
            writer.cleanup()


def _chart_images(data: Any, campaign: str | None, replies: pd.DataFrame | None) -> list[Any]:
    from openpyxl.drawing.image import Image  # type: ignore[import-untyped]

    from .plots import draw_all, root_figure  # matplotlib loads only when charts are asked for

    images = []
    for axes in draw_all(data, campaign, replies=replies).values():
        buffer = io.BytesIO()
        root_figure(axes).savefig(buffer, format="png", dpi=100)
        buffer.seek(0)
        images.append(Image(buffer))
    return images


def export_excel(
    df: pd.DataFrame | Any,
    path: str | os.PathLike[str],
    *,
    summary: bool = True,
    replies: pd.DataFrame | None = None,
    charts: bool = False,
    price_per_part: float | None = None,
    campaign: str | None = None,
    formula_guard: FormulaGuard = "apostrophe",
) -> Path:
    """Write the campaign workbook (details, summary, replies) and return its path.

    The file is written to a temporary file next to ``path`` and moved into place, so a
    crash never leaves half a workbook; missing parent folders are created. ``df`` is
    not modified.

    Args:
        df: the merged frame (``merge_status``), or a ledger with ``campaign=``.
        path: where to write; must end in ``.xlsx``. An existing file is replaced.
        summary: add the ``汇总 Summary`` sheet (see :func:`summarize`).
        replies: the replies frame for the ``回复 Replies`` sheet; by default the ledger's
            (when ``df`` is a ledger) or the latest reply of each row of the frame.
        charts: embed the PNG charts of :mod:`mobset_campaign.plots` in the summary sheet
            (needs ``summary=True``).
        price_per_part: adds cost rows to the summary.
        campaign: the campaign name (shown in the summary; required with a ledger).
        formula_guard: ``"apostrophe"`` (default) prefixes risky texts with ``'``, which
            stays inert even after a "Save as CSV"; ``"style"`` keeps the text exact and
            relies on the cell being a text cell with Excel's quote-prefix flag.

    Returns:
        The path of the written workbook.

    Raises:
        InputError: the path is a folder, not ``.xlsx``, cannot be written (open in
            Excel, no permission), or the frame is too large for one sheet.
    """
    if formula_guard not in ("apostrophe", "style"):
        raise InputError(f"formula_guard must be 'apostrophe' or 'style', got {formula_guard!r}.")
    frame = status_data(df, campaign)
    if replies is None:
        replies = replies_data(df, campaign)
    if replies is not None and not isinstance(replies, pd.DataFrame):
        raise InputError(f"replies= must be a DataFrame, got {type(replies).__name__}.")
    if len(frame) + 1 > _MAX_ROWS or frame.shape[1] > _MAX_COLS:
        raise InputError(
            f"The frame has {len(frame):,} rows and {frame.shape[1]:,} columns; one Excel "
            f"sheet holds at most {_MAX_ROWS - 1:,} rows and {_MAX_COLS:,} columns. "
            f"Export it in parts (e.g. df.iloc[:1_000_000])."
        )
    if charts and not summary:
        raise InputError("charts=True embeds the charts in the summary sheet: keep summary=True.")
    target = _check_target(Path(path))

    workbook = Workbook(write_only=True)
    try:
        # the summary opens first: the numbers (and charts) a reader wants to see
        summary_sheet = workbook.create_sheet(SUMMARY_SHEET) if summary else None
        details = workbook.create_sheet(DETAILS_SHEET)
        replies_sheet = workbook.create_sheet(REPLIES_SHEET)
        if summary_sheet is not None:
            table = summarize(frame, campaign, price_per_part=price_per_part, replies=replies)
            images = _chart_images(frame, campaign, replies) if charts else []
            _write_summary(summary_sheet, table, formula_guard, images)
        _write_table(details, frame, formula_guard)
        reply_table = replies if replies is not None else _replies_table(frame)
        _write_table(replies_sheet, reply_table, formula_guard)
        _save_atomically(workbook, target)
    except BaseException:
        _discard(workbook)
        raise
    return target
