"""The cells of the campaign workbook: how each column of a frame becomes typed Excel cells,
written with XlsxWriter in ``constant_memory`` mode (row after row, nothing kept behind).

Each column is looked at once, as a whole (:func:`plan_column`): its dtype, its name and,
for the user's own columns, its values decide what it is written as — text, number, date,
boolean, a coloured state, or (an ``object`` column of mixed Python values) cell by cell.
Its cells are then made a chunk of rows at a time (:meth:`Column.cells`): each distinct
text is cleaned, made inert and given its format once (``pd.factorize``, then one array
lookup spreads them over the rows), dates become Excel serial numbers in one array
operation. :func:`write_table` hands each chunk, in row order as ``constant_memory``
requires, to :func:`mobset_campaign._xlsx_rows.write_rows`, which appends it to the sheet
as XML in one write (the same bytes XlsxWriter's cell-by-cell API writes, which remains
the fallback).

The rules a cell follows:

- **Inert text.** A text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return gets a leading apostrophe (``guard="apostrophe"``, survives a "Save as CSV"; a
  text already starting with apostrophes before such a character gets one more, so the
  reader can take exactly one off), or keeps its text with Excel's quote-prefix flag
  (``guard="style"``). The guard is recorded in the workbook's custom properties. The workbook is opened
  with ``strings_to_formulas``, ``strings_to_urls`` and ``strings_to_numbers`` off, so a
  string is only ever a string cell.
- **XML-safe.** Characters XML cannot hold become U+FFFD, a carriage return a line feed;
  a text longer than Excel's 32,767-character cell limit (counted in UTF-16 units, as Excel
  counts) is cut, with a marker saying so.
- **Phones and ids stay text** (``@`` format): the package's phone and id columns, integer
  columns holding numbers of 11 digits or more, and every digit string.
- **The user's columns keep their meaning** (:func:`contact_kind`): a text column whose
  every non-empty cell is a canonical number (no leading zero, at most 15 digits, an
  integer part of at most 10 digits, i.e. not a phone) and whose name does not say it
  holds phones, ids or codes is written as numbers; one whose every cell is an ISO date or
  date-time as real dates (``yyyy-mm-dd`` when no cell has a time). Anything else is text.
- **Dates** are Excel serial numbers in Beijing time (time-zone aware values converted,
  then naive) with a date format.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd
from xlsxwriter.format import Format  # type: ignore[import-untyped]
from xlsxwriter.workbook import Workbook  # type: ignore[import-untyped]
from xlsxwriter.worksheet import Worksheet  # type: ignore[import-untyped]

from ._i18n import N_
from ._labels import label
from ._protocol import BEIJING
from ._xlsx_rows import can_write_rows, write_rows
from .ledger.frames import REPLY_COLUMNS, STATUS_FRAME_COLUMNS
from .render import OUTPUT_COLUMNS
from .states import STATE_COLOURS

__all__ = [
    "DATE_FORMAT",
    "DAY_FORMAT",
    "FIELD_LABELS",
    "GUARDED",
    "GUARD_PROPERTY",
    "PACKAGE_FIELDS",
    "WORKBOOK_OPTIONS",
    "Cells",
    "Column",
    "FormulaGuard",
    "Styles",
    "clean_text",
    "display_width",
    "header_text",
    "inert",
    "plan_column",
    "write_table",
]

FormulaGuard = Literal["apostrophe", "style"]

#: Options of every workbook we write: a string is only ever a string cell.
WORKBOOK_OPTIONS: dict[str, Any] = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": False,
}

DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
DAY_FORMAT = "yyyy-mm-dd"
_DURATION_FORMAT = "[h]:mm:ss"
RISKY_START = ("=", "+", "-", "@", "\t", "\r")
#: Texts that already start with apostrophes before a risky character (or a line end) get
#: one more under the apostrophe guard, so that taking one off when reading is exact.
GUARDED = re.compile(r"'+[=+\-@\t\r\n]")
#: The document property that records the guard a workbook was written with.
GUARD_PROPERTY = "mobset_campaign formula_guard"
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NEEDS_CLEANING = re.compile(r"[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_DIGITS = re.compile(r"[0-9]+")
_MAX_CELL = 32_767
_TRUNCATED = "…[truncated: longer than Excel's 32,767-character cell limit]"
_BIG_INT = 10**10  # integers at or above this are identifiers: written as text
_EXCEL_EPOCH_DAYS = 25_569  # 1970-01-01 as an Excel serial (1900 date system)
_FIRST_SERIAL = 61  # 1900-03-01: Excel's serials are exact from here on
_WIDTH_SAMPLE = 2_000
_WIDTH_LONGEST = 50

#: The columns the package adds (render, read_contacts, merge_status, the ledger's frames).
PACKAGE_FIELDS: frozenset[str] = frozenset(
    {*STATUS_FRAME_COLUMNS, *OUTPUT_COLUMNS, *REPLY_COLUMNS, "phone_problem", "row"}
)
_TEXT_FIELDS = frozenset({"phone", "sms_id", "recv_number", "add_num", "row_key"})
_STATE_FIELDS = frozenset({"send_state"})
#: The label of each column the package adds, as an English message id; the header shows
#: its Chinese and the field name: ``发送状态 send_state`` (bilingual), ``发送状态`` (zh) or
#: ``send_state`` (en).
FIELD_LABELS: dict[str, str] = {
    "row": N_("Row number"),
    "row_key": N_("Row key"),
    "phone": N_("Mobile number"),
    "phone_problem": N_("Number problem"),
    "content": N_("Message text"),
    "chars": N_("Characters"),
    "parts": N_("Billed parts"),
    "warnings": N_("Warnings"),
    "sendable": N_("Sendable"),
    "batch_id": N_("Batch"),
    "sms_id": N_("SMS ID"),
    "send_state": N_("Send state"),
    "send_code": N_("Send return code"),
    "send_error": N_("Send problem"),
    "status": N_("Report code"),
    "status_text": N_("Report status"),
    "sent_time": N_("Sent at"),
    "report_time": N_("Report time"),
    "ex_status": N_("Carrier code"),
    "reply": N_("Latest reply"),
    "reply_time": N_("Reply time"),
    "reply_count": N_("Reply count"),
    "opted_out": N_("Has opted out"),
    "recv_time": N_("Received at"),
    "add_num": N_("Extension number"),
    "recv_number": N_("Receiving number"),
    "opt_out": N_("Opt-out"),
    "campaign": N_("Campaign"),
}
#: A header naming phones, ids or codes: its digit strings stay text whatever they look like.
_ID_NAME = re.compile(
    r"phone|mobile|tel|fax|\bid\b|_id\b|^id|ids?$|code|zip|post|number|no\.?$|"
    r"手机|电话|号码|号$|编号|证|卡号|代码|邮编|账号|帐号|单号|qq|微信",
    re.IGNORECASE,
)
_CANONICAL_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]{0,9})(?:\.[0-9]*[1-9])?")
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?)?"
)


def header_text(name: str, labels: str = "bilingual", message: str | None = None) -> str:
    """What the header row shows for a column the package adds: ``发送状态 send_state``
    (``labels="bilingual"``), ``发送状态`` (``"zh"``) or ``send_state`` (``"en"``); the label
    is ``message`` (an English message id) when given, else the field's own
    (:data:`FIELD_LABELS`); a name without a label shows as it is."""
    message = message or FIELD_LABELS.get(name)
    return label(message, labels, english=name) if message else name


# --------------------------------------------------------------------------------------
# text


def display_width(text: str) -> int:
    """Columns ``text`` takes in a spreadsheet: East Asian wide/full-width characters
    count double.

    >>> display_width("abc"), display_width("张伟"), display_width("短信 SMS")
    (3, 4, 8)
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def clean_text(text: str) -> str:
    """``text`` as a cell can hold it: XML-illegal characters as U+FFFD, line ends as
    line feeds (XML would turn a carriage return into one anyway), cut (with a marker) to
    Excel's 32,767 characters, counted as Excel counts them (UTF-16)."""
    if _ILLEGAL_XML.search(text):
        text = _ILLEGAL_XML.sub("\ufffd", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > _MAX_CELL // 2 and _utf16_len(text) > _MAX_CELL:
        keep = _MAX_CELL - len(_TRUNCATED)
        while _utf16_len(text[:keep]) > _MAX_CELL - len(_TRUNCATED):
            keep -= 1
        text = text[:keep] + _TRUNCATED
    return text


def inert(text: str, guard: FormulaGuard) -> tuple[str, bool]:
    """A cleaned text made inert: ``(text, needs the quote-prefix flag)``."""
    risky = text.startswith(RISKY_START)  # before cleaning: a carriage return is risky
    text = clean_text(text)
    if guard == "apostrophe" and (risky or GUARDED.match(text)):
        return "'" + text, False
    return text, risky


# --------------------------------------------------------------------------------------
# formats


class Styles:
    """The workbook's shared formats (XlsxWriter keeps one record per distinct format)."""

    def __init__(self, book: Workbook, guard: FormulaGuard) -> None:
        self.book = book
        self.guard = guard
        self.text = book.add_format({"num_format": "@"})
        self.quoted = book.add_format({"num_format": "@", "quote_prefix": True})
        self.date = book.add_format({"num_format": DATE_FORMAT})
        self.day = book.add_format({"num_format": DAY_FORMAT})
        self.duration = book.add_format({"num_format": _DURATION_FORMAT})
        header = {
            "bold": True,
            "bg_color": "#D9E1F2",
            "bottom": 1,
            "bottom_color": "#8EA9DB",
            "valign": "vcenter",
        }
        self.header = book.add_format(header)
        self.header_quoted = book.add_format({**header, "quote_prefix": True})
        self.states = {
            state: book.add_format(
                {"bg_color": f"#{fill}", "font_color": f"#{font}", "num_format": "@"}
            )
            for state, (fill, font) in STATE_COLOURS.items()
        }
        # number the formats now, in this order, whichever way the cells are written
        for fmt in (self.text, self.quoted, self.date, self.day, self.duration):
            fmt._get_xf_index()
        for fmt in (self.header, self.header_quoted, *self.states.values()):
            fmt._get_xf_index()

    def add(self, properties: dict[str, Any]) -> Format:
        return self.book.add_format(properties)


# --------------------------------------------------------------------------------------
# columns

Kind = Literal["text", "number", "date", "day", "bool", "state", "duration", "mixed"]
Cells = tuple[str, list[Any], list[Any]]


@dataclass
class Column:
    """One column of a table: its header, what its cells are written as, its width."""

    name: str
    header: str
    kind: Kind
    series: pd.Series
    widest: int = 0
    sampled: int = 0  # values looked at for the width so far (the first chunk's, mostly)
    as_text: bool = False  # a text column of phones or ids
    _state_formats: dict[str, Format] = field(default_factory=dict)

    def width(self) -> float:
        header = display_width(self.header) + 2  # room for the filter button
        if self.kind == "date":
            body = 20
        elif self.kind == "day":
            body = 11
        else:
            body = self.widest
        return float(min(max(max(header, body) + 1, 8), 60))

    def cells(self, styles: Styles, start: int, stop: int) -> Cells:
        """Rows ``start:stop`` as ``(kind, values, formats)``: kind ``s`` (text), ``n``
        (number), ``b`` (boolean) or ``mixed`` (each value a ``(kind, value)`` pair);
        a value of None is a blank cell."""
        part = self.series.iloc[start:stop]
        n = len(part)
        if self.kind in ("text", "state"):
            return self._text_cells(styles, part)
        if self.kind in ("date", "day"):
            fmt = styles.date if self.kind == "date" else styles.day
            serials = _excel_serials(part)
            values = [None if math.isnan(v) else v for v in serials.tolist()]
            early = ~np.isnan(serials) & (serials < _FIRST_SERIAL)
            if early.any():  # before 1900-03-01 Excel's calendar is off by a day: as text
                texts = _naive(part).dt.strftime("%Y-%m-%d %H:%M:%S").tolist()
                return self._mixed_of(
                    styles,
                    [
                        None if v is None else ("s", texts[i], styles.text) if early[i] else v
                        for i, v in enumerate(values)
                    ],
                    fmt,
                )
            self._widen_numbers(values)
            return "n", values, [fmt] * n
        if self.kind == "number":
            values = part.astype(object).where(part.notna(), None).tolist()
            self._widen_numbers(values)
            return "n", values, [None] * n
        if self.kind == "bool":
            values = part.astype(object).where(part.notna(), None).tolist()
            self.widest = max(self.widest, 5)
            return "b", [None if v is None else bool(v) for v in values], [None] * n
        if self.kind == "duration":
            days = part.dt.total_seconds().to_numpy(dtype=float) / 86_400
            values = [None if math.isnan(v) else v for v in days.tolist()]
            self.widest = max(self.widest, 10)
            return "n", values, [styles.duration] * n
        # mixed: value by value
        cells = [_convert(v, styles) for v in part.astype(object).tolist()]
        return self._mixed_of(styles, cells, None)

    def _mixed_of(self, styles: Styles, cells: list[Any], fmt: Format | None) -> Cells:
        values: list[Any] = []
        formats: list[Any] = []
        for cell in cells:
            if cell is None:
                values.append(None)
                formats.append(None)
            elif isinstance(cell, tuple):
                kind, value, cell_format = cell
                values.append((kind, value))
                formats.append(cell_format)
                width = 20 if cell_format in (styles.date, styles.day) else None
                self.widest = max(self.widest, width or _value_width(value))
            else:  # a bare serial (dates)
                values.append(("n", cell))
                formats.append(fmt)
                self.widest = max(self.widest, 20)
        return "mixed", values, formats

    def _widen_numbers(self, values: list[Any]) -> None:
        sample = values[: max(_WIDTH_SAMPLE - self.sampled, 0)]
        self.sampled += len(sample)
        for value in sample:
            if value is not None:
                self.widest = max(self.widest, _value_width(value))

    def _text_cells(self, styles: Styles, part: pd.Series) -> Cells:
        """Text cells, worked out once per distinct text (a column of states, cities or
        one shared message has a handful): cleaned, made inert, given a format; then
        spread back over the rows with one array lookup."""
        codes, uniques = pd.factorize(part, use_na_sentinel=True)
        texts = _unique_texts(uniques, ids=self.as_text)
        apostrophe = styles.guard == "apostrophe"
        states = self._state_format(styles) if self.kind == "state" else None
        cells: list[Any] = []
        formats: list[Any] = []
        for raw in texts:
            risky = raw.startswith(RISKY_START)  # before cleaning: a carriage return is risky
            text = clean_text(raw) if _NEEDS_CLEANING.search(raw) or len(raw) > 16_000 else raw
            if apostrophe and (risky or (text[:1] == "'" and GUARDED.match(text))):
                text, risky = "'" + text, False
            cells.append(text or None)  # "" is a blank cell
            if risky:
                formats.append(styles.quoted)
            elif states is not None:
                formats.append(states.get(text.strip().lower(), styles.text))
            else:
                formats.append(styles.text)
        self._widen_texts(cells)
        value_table = np.array([*cells, None], dtype=object)  # code -1 (missing): blank
        format_table = np.array([*formats, None], dtype=object)
        return "s", value_table[codes].tolist(), format_table[codes].tolist()

    def _state_format(self, styles: Styles) -> dict[str, Format]:
        if not self._state_formats:
            self._state_formats = dict(styles.states)
        return self._state_formats

    def _widen_texts(self, texts: list[str | None]) -> None:
        """Widen for the first texts seen and, in every chunk, its longest ones."""
        sample = texts[: max(_WIDTH_SAMPLE - self.sampled, 0)]
        self.sampled += len(sample)
        if len(texts) <= _WIDTH_LONGEST:
            sample = texts
        elif len(texts) > len(sample):
            lengths = np.fromiter((len(t or "") for t in texts), dtype=np.int64, count=len(texts))
            top = np.argpartition(lengths, -_WIDTH_LONGEST)[-_WIDTH_LONGEST:]
            sample = sample + [texts[i] for i in top.tolist()]
        for value in sample:
            if value is not None:
                self.widest = max(self.widest, display_width(value.split("\n", 1)[0][:80]))


def _unique_texts(uniques: Any, *, ids: bool) -> list[str]:
    """The distinct values of a column as texts (an id column's whole floats without
    ``.0``)."""
    out = []
    for value in list(uniques):
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, (int, np.integer)) or (
            ids and isinstance(value, (float, np.floating)) and float(value).is_integer()
        ):
            out.append(str(int(value)))
        else:
            out.append(str(value))
    return out


def _value_width(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, float):
        return len(f"{value:.6g}")
    if isinstance(value, (int, np.integer)):
        return len(str(value))
    return display_width(str(value).split("\n", 1)[0][:80])


def _writer(ws: Worksheet, kind: str) -> Callable[..., Any]:
    """XlsxWriter's cell writer for a kind of value (its undecorated form when it has one:
    the public one first checks for "A1"-style arguments, on every cell)."""
    method = {"s": "string", "n": "number", "b": "boolean"}[kind]
    return getattr(ws, f"_write_{method}", None) or getattr(ws, f"write_{method}")


def _writers(ws: Worksheet) -> dict[str, Callable[..., Any]]:
    plain = {kind: _writer(ws, kind) for kind in ("s", "n", "b")}

    def mixed(row: int, col: int, value: tuple[str, Any], fmt: Any) -> Any:
        return plain[value[0]](row, col, value[1], fmt)

    return {**plain, "mixed": mixed}


def _naive(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert(BEIJING).dt.tz_localize(None)
    return series


def _excel_serials(series: pd.Series) -> np.ndarray:
    """Datetimes (aware: in Beijing time) as Excel serial day numbers (NaN where missing)."""
    local = _naive(series).astype("datetime64[us]")
    micros = local.to_numpy().view("int64").astype("float64")
    micros[local.isna().to_numpy()] = np.nan
    return micros / 86_400e6 + _EXCEL_EPOCH_DAYS


def _convert(value: Any, styles: Styles) -> Any:
    """Any Python value to ``("s"|"n"|"b", value, format)`` (the slow, general path)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return ("b", bool(value), None)
    if isinstance(value, (int, np.integer)):
        number = int(value)
        if abs(number) >= _BIG_INT:
            return ("s", str(number), styles.text)
        return ("n", number, None)
    if isinstance(value, (float, np.floating, Decimal)):
        real = float(value)
        if math.isnan(real) and not isinstance(value, Decimal):
            return None
        return ("n", real, None) if math.isfinite(real) else ("s", str(value), styles.text)
    if isinstance(value, str):
        if not value:
            return None
        text, quoted = inert(value, styles.guard)
        return ("s", text, styles.quoted if quoted else styles.text)
    if isinstance(value, (datetime, np.datetime64)):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert(BEIJING).tz_localize(None)
        serial = float(_excel_serials(pd.Series([stamp]))[0])
        if serial < _FIRST_SERIAL:
            return ("s", stamp.isoformat(sep=" "), styles.text)
        return ("n", serial, styles.date)
    if isinstance(value, date):
        serial = float(_excel_serials(pd.Series([pd.Timestamp(value)]))[0])
        return ("n", serial, styles.day) if serial >= _FIRST_SERIAL else None
    if isinstance(value, (timedelta, pd.Timedelta)):
        return ("n", pd.Timedelta(value).total_seconds() / 86_400, styles.duration)
    if isinstance(value, time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
        return ("n", seconds / 86_400, styles.add({"num_format": "hh:mm:ss"}))
    if isinstance(value, bytes):
        return _convert(value.decode("utf-8", errors="replace"), styles)
    return _convert(str(value), styles)


# --------------------------------------------------------------------------------------
# deciding what a column is


def contact_kind(series: pd.Series, name: str) -> Kind:
    """What a user's text column is written as: ``number``, ``date``, ``day`` or ``text``
    (see the module docstring)."""
    strings = series.astype("string").str.strip()
    filled = strings[strings.notna() & (strings != "")]
    if filled.empty:
        return "text"
    if (
        not _ID_NAME.search(name)
        and filled.str.fullmatch(_CANONICAL_NUMBER.pattern).all()
        and (filled.str.count(r"[0-9]") <= 15).all()
    ):
        return "number"
    if filled.str.fullmatch(_ISO_DATETIME.pattern).all():
        parsed = pd.to_datetime(filled, format="ISO8601", errors="coerce")
        if parsed.notna().all() and (parsed >= pd.Timestamp("1900-03-01")).all():
            return "day" if filled.str.fullmatch(_ISO_DAY.pattern).all() else "date"
    return "text"


def plan_column(
    series: pd.Series,
    name: str,
    *,
    user: bool,
    header: str | None = None,
) -> Column:
    """Decide, once for the whole column, what its cells are written as.

    ``user`` is False for the columns the package adds (their meaning is known; no guessing
    from their values). The header is ``header`` when given, else the user's own name, or
    for a package column its bilingual label (:func:`header_text`)."""
    dtype = series.dtype
    if header is None:
        header = name if user else header_text(name)
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        if pd.api.types.is_string_dtype(cats.dtype) or pd.api.types.is_object_dtype(cats.dtype):
            series = series.astype("string")
        else:
            series = series.astype(cats.dtype) if not series.isna().any() else series.astype(object)
        dtype = series.dtype
    if name in _STATE_FIELDS and not user:
        return Column(name, header, "state", series)
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        kind: Kind = "date"
        if user:
            naive = _naive(series).dropna()
            if len(naive) and (naive == naive.dt.normalize()).all():
                kind = "day"
        return Column(name, header, kind, series)
    if pd.api.types.is_timedelta64_dtype(dtype):
        return Column(name, header, "duration", series)
    if pd.api.types.is_bool_dtype(dtype):
        return Column(name, header, "bool", series)
    ids = name in _TEXT_FIELDS and not user
    if pd.api.types.is_integer_dtype(dtype):
        big = bool(series.notna().any() and (series.dropna().abs() >= _BIG_INT).any())
        if ids or big:
            return Column(name, header, "text", series, as_text=True)
        return Column(name, header, "number", series)
    if pd.api.types.is_float_dtype(dtype):
        if ids:
            return Column(name, header, "text", series, as_text=True)
        finite = np.isfinite(series.dropna().to_numpy(dtype=float)).all()
        return Column(name, header, "number" if finite else "mixed", series)
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return _text_column(series, name, header, user=user, ids=ids)
    if pd.api.types.is_object_dtype(dtype):
        kinds = {type(v) for v in series.dropna().head(_WIDTH_SAMPLE).tolist()}
        if kinds <= {str} and all(isinstance(v, str) for v in series.dropna().tolist()):
            return _text_column(series, name, header, user=user, ids=ids)
        if ids:
            ints = pd.to_numeric(series, errors="coerce")
            if ints.notna().sum() == series.notna().sum():
                return Column(name, header, "text", ints, as_text=True)
    return Column(name, header, "mixed", series)


def _text_column(series: pd.Series, name: str, header: str, *, user: bool, ids: bool) -> Column:
    if user:
        kind = contact_kind(series, name)
        if kind in ("number", "date", "day"):
            strings = series.astype("string").str.strip()
            strings = strings.where(strings != "")
            if kind == "number":
                return Column(name, header, "number", pd.Series(pd.to_numeric(strings)))
            return Column(name, header, kind, pd.Series(pd.to_datetime(strings, format="ISO8601")))
    return Column(name, header, "text", series, as_text=ids)


# --------------------------------------------------------------------------------------
# writing


def write_header(ws: Worksheet, styles: Styles, columns: Sequence[Column]) -> None:
    """The bold header row, inert like every other text."""
    for col, column in enumerate(columns):
        text, quoted = inert(column.header, styles.guard)
        ws.write_string(0, col, text, styles.header_quoted if quoted else styles.header)


def write_table(
    ws: Worksheet,
    styles: Styles,
    columns: Sequence[Column],
    start: int,
    stop: int,
    *,
    chunk: int = 5_000,
    fast: bool = True,
) -> None:
    """Rows ``start:stop`` of the columns as a filterable table with a frozen header.

    Each chunk of rows is written as sheet XML straight into XlsxWriter's row file
    (:func:`mobset_campaign._xlsx_rows.write_rows`) when ``fast`` and this XlsxWriter
    allows it, else cell by cell through XlsxWriter's API; both give the same file."""
    write_header(ws, styles, columns)
    ws.freeze_panes(1, 0)
    if columns:
        ws.autofilter(0, 0, stop - start, len(columns) - 1)
    writers = _writers(ws)
    direct = fast and can_write_rows(ws)
    for first in range(start, stop, chunk):
        last = min(first + chunk, stop)
        plan = [(col, *column.cells(styles, first, last)) for col, column in enumerate(columns)]
        if direct:
            write_rows(ws, plan, first - start + 1, last - first)
            continue
        cells = [(col, writers[kind], values, formats) for col, kind, values, formats in plan]
        offset = 1 - start
        for i in range(last - first):
            row = first + i + offset
            for col, write, values, formats in cells:
                value = values[i]
                if value is not None:
                    write(row, col, value, formats[i])
    for col, column in enumerate(columns):
        ws.set_column(col, col, column.width())
