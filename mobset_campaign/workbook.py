"""Read a campaign workbook (:func:`mobset_campaign.export_excel`) back into typed frames.

:func:`read_campaign_workbook` undoes what the export did for a human reader: the
bilingual headers become field names again (``发送状态 send_state`` → ``send_state``), the
details split over ``明细 Details``, ``明细 Details (2)`` … are one frame again, phones and
ids are text, datetimes are Beijing time (naive, as the workbook shows them), states are a
categorical in the order a report lists them, counts are nullable integers, and the
apostrophe the formula guard put before a risky text is taken off again. The cells are
read with python-calamine (fast, no styles needed).

>>> import tempfile, pathlib
>>> from mobset_campaign import export_excel
>>> frame = pd.DataFrame({"姓名": ["张伟"], "phone": ["13800138000"],
...                       "send_state": ["delivered"], "reply": ["=1+1"]})
>>> path = export_excel(frame, pathlib.Path(tempfile.mkdtemp()) / "c.xlsx")
>>> book = read_campaign_workbook(path)
>>> book.details.loc[0, "phone"], book.details.loc[0, "reply"], str(book.details["send_state"].dtype)
('13800138000', '=1+1', 'category')
"""

from __future__ import annotations

import math
import os
import re
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ._xlsx import FIELD_LABELS, GUARD_PROPERTY, GUARDED
from .errors import InputError
from .export import DETAILS_SHEET, REPLIES_SHEET, SUMMARY_SHEET
from .states import ROW_STATES, STATE_LABELS

__all__ = ["CampaignWorkbook", "field_name", "read_campaign_workbook"]

_TEXT = frozenset(
    {
        "phone",
        "sms_id",
        "recv_number",
        "add_num",
        "row_key",
        "phone_problem",
        "content",
        "warnings",
        "send_error",
        "status_text",
        "ex_status",
        "reply",
        "campaign",
    }
)
_TIMES = frozenset({"sent_time", "report_time", "reply_time", "recv_time"})
_INTEGERS = frozenset({"row", "chars", "parts", "batch_id", "send_code", "status", "reply_count"})
_FLAGS = frozenset({"sendable", "opted_out", "opt_out"})
_LABELLED = {f"{label} {name}": name for name, label in FIELD_LABELS.items()}
_LABELLED |= {"回复内容 content": "content"}
_DATA_HEADING = "图表数据"
_PART = re.compile(r" \((\d+)\)$")


class CampaignWorkbook(NamedTuple):
    """The frames of a campaign workbook."""

    details: pd.DataFrame
    replies: pd.DataFrame
    summary: pd.DataFrame | None


def field_name(header: str) -> str:
    """The field a header cell names: ``send_state`` for ``发送状态 send_state``; a user's
    own header as it is.

    >>> field_name("发送状态 send_state"), field_name("姓名")
    ('send_state', '姓名')
    """
    return _LABELLED.get(header, header)


def _sheets(names: list[str], base: str) -> list[str]:
    parts = []
    for name in names:
        if name == base:
            parts.append((1, name))
        elif (
            name.startswith(base)
            and (match := _PART.search(name[len(base) :]))
            and name == f"{base} ({match.group(1)})"
        ):
            parts.append((int(match.group(1)), name))
    return [name for _, name in sorted(parts)]


def _unguard(value: Any, strip: bool) -> Any:
    """A text without the apostrophe the guard put before it (``strip``: the workbook was
    written with the apostrophe guard)."""
    if strip and isinstance(value, str) and value.startswith("'") and GUARDED.match(value):
        return value[1:]
    return value


def _guard_of(source: Path) -> str:
    """The formula guard recorded in the workbook's custom properties (apostrophe when
    none is recorded)."""
    try:
        with zipfile.ZipFile(source) as archive:
            xml = archive.read("docProps/custom.xml").decode("utf-8")
    except (KeyError, OSError, zipfile.BadZipFile):
        return "apostrophe"
    found = re.search(
        rf'name="{re.escape(GUARD_PROPERTY)}"[^>]*>\s*<vt:lpwstr>(\w+)</vt:lpwstr>', xml
    )
    return found.group(1) if found else "apostrophe"


def _is_blank(value: Any) -> bool:
    return value is None or value == ""


def _integral(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and (math.isfinite(value) and float(value).is_integer())
    )


def _cells(values: list[Any]) -> tuple[pd.Series, str]:
    """A column's cells as an object Series (blank cells missing) and the kind of value
    pandas finds in the others (``string``, ``integer``, ``floating``, ``datetime`` …)."""
    cells = pd.Series(values, dtype=object)
    blank = cells.eq("").to_numpy(dtype=bool, copy=True)
    if blank.any():
        cells = cells.copy()
        cells[blank] = None
    return cells, pd.api.types.infer_dtype(cells, skipna=True)


def _unguarded(texts: pd.Series, strip: bool) -> pd.Series:
    if strip:
        quoted = texts.str.startswith("'").fillna(False).to_numpy(dtype=bool)
        if quoted.any():
            texts = texts.copy()
            texts[quoted] = [_unguard(t, strip) for t in texts[quoted].tolist()]
    return texts


def _as_text(values: list[Any], strip: bool = False) -> pd.Series:
    cells, kind = _cells(values)
    if kind in ("string", "empty"):
        return _unguarded(cells, strip).astype("str")
    out = [
        None
        if _is_blank(v)
        else str(int(v))
        if _integral(v)
        else v.isoformat(sep=" ")
        if isinstance(v, datetime)
        else str(_unguard(v, strip))
        for v in values
    ]
    return pd.Series(out, dtype="str")


def _as_times(values: list[Any], where: str) -> pd.Series:
    cells, kind = _cells(values)
    if kind not in ("datetime", "date", "empty"):
        bad = next(v for v in cells.dropna() if not isinstance(v, (datetime, date)))
        raise InputError(f"{where}: {bad!r} is not a date and time.")
    times = pd.Series(pd.to_datetime(cells), index=cells.index).astype("datetime64[us]")
    return times.dt.round("ms")


_NUMBERS = ("integer", "floating", "mixed-integer-float", "empty")


def _whole(numbers: pd.Series) -> bool:
    present = numbers.dropna().to_numpy(dtype=float)
    return bool(np.isfinite(present).all() and (present % 1 == 0).all())


def _as_integers(values: list[Any], where: str) -> pd.Series:
    cells, kind = _cells(values)
    numbers = pd.to_numeric(cells, errors="coerce") if kind in _NUMBERS else None
    if numbers is None or not _whole(numbers):
        raise InputError(f"{where}: expected whole numbers, found {values[:3]!r}.")
    return numbers.astype("Int64")


def _as_flags(values: list[Any]) -> pd.Series:
    cells, kind = _cells(values)
    if kind in ("boolean", "empty"):
        flags = cells.astype("boolean")
    else:
        flags = pd.Series([None if _is_blank(v) else bool(v) for v in values], dtype="boolean")
    return flags.astype(bool) if flags.notna().all() else flags


def _guess(values: list[Any], strip: bool) -> pd.Series:
    """A user's column: the type its cells share, else Python objects."""
    cells, kind = _cells(values)
    if kind in ("string", "empty"):
        return _unguarded(cells, strip).astype("str")
    if kind == "boolean":
        return _as_flags(values)
    if kind in _NUMBERS:
        numbers = pd.to_numeric(cells)
        return numbers.astype("Int64") if _whole(numbers) else numbers.astype(float)
    if kind in ("datetime", "date"):
        return pd.Series(pd.to_datetime(cells), index=cells.index).astype("datetime64[us]")
    return pd.Series([None if _is_blank(v) else _unguard(v, strip) for v in values], dtype=object)


def _states(values: list[Any]) -> pd.Series:
    text = _as_text(values)
    known = [s for s in STATE_LABELS if s in ROW_STATES]
    extra = sorted(set(text.dropna()) - set(known))
    return pd.Series(pd.Categorical(text, categories=[*known, *extra]))


def _typed(rows: list[list[Any]], where: str, strip: bool) -> pd.DataFrame:
    header = [field_name(str(_unguard(h, strip))) for h in rows[0]] if rows else []
    while header and header[-1] == "":
        header.pop()
    width = len(header)
    body = [row[:width] + [""] * (width - len(row)) for row in rows[1:]]
    while body and all(_is_blank(v) for v in body[-1]):
        body.pop()
    columns: dict[str, pd.Series] = {}
    for i, name in enumerate(header):
        values = [row[i] for row in body]
        at = f"{where}, column {name!r}"
        if name == "send_state":
            columns[name] = _states(values)
        elif name in _TIMES:
            columns[name] = _as_times(values, at)
        elif name in _INTEGERS:
            columns[name] = _as_integers(values, at)
        elif name in _FLAGS:
            columns[name] = _as_flags(values)
        elif name in _TEXT:
            columns[name] = _as_text(values, strip)
        else:
            columns[name] = _guess(values, strip)
    return pd.DataFrame(columns, columns=header)


def _summary(rows: list[list[Any]], strip: bool) -> pd.DataFrame:
    out = []
    section = None
    for row in rows[1:]:
        first = row[0] if row else ""
        if isinstance(first, str) and first.startswith(_DATA_HEADING):
            break
        cells = [*row, "", "", ""][:3]
        if _is_blank(cells[0]):
            continue
        if _is_blank(cells[1]):
            section = str(cells[0])
            continue
        value = None if cells[1] == "—" else _unguard(cells[1], strip)
        if isinstance(value, float) and value.is_integer() and not isinstance(value, bool):
            value = int(value)
        share = None if _is_blank(cells[2]) else float(cells[2])
        out.append((section, str(_unguard(cells[0], strip)), value, share))
    frame = pd.DataFrame(out, columns=["section", "item", "value", "share"])
    frame["value"] = frame["value"].astype(object)
    frame["share"] = frame["share"].astype(float)
    return frame


def read_campaign_workbook(path: str | os.PathLike[str]) -> CampaignWorkbook:
    """Read a workbook written by :func:`~mobset_campaign.export_excel` into typed frames.

    Returns:
        ``details`` (every details sheet, in order, as one frame; the package's columns
        under their field names), ``replies`` and ``summary`` (``section``, ``item``,
        ``value``, ``share``; ``None`` when the workbook has no summary sheet).

    Raises:
        InputError: the file is missing, not an ``.xlsx`` workbook, or not a campaign
            workbook (no ``明细 Details`` sheet); the message names the file.
    """
    from python_calamine import CalamineWorkbook

    source = Path(path)
    if not source.is_file():
        raise InputError(f"Cannot read {str(source)!r}: there is no such file.")
    try:
        book = CalamineWorkbook.from_path(str(source))
    except Exception as exc:  # calamine's own error types: not a workbook it can read
        raise InputError(
            f"Cannot read {str(source)!r} as an Excel workbook: {exc}. Give the .xlsx "
            f"file export_excel wrote."
        ) from exc
    names = list(book.sheet_names)
    details = _sheets(names, DETAILS_SHEET)
    if not details:
        raise InputError(
            f"{str(source)!r} is not a campaign workbook written by export_excel: it has no "
            f"{DETAILS_SHEET!r} sheet (its sheets: {', '.join(map(repr, names)) or 'none'})."
        )

    def rows(name: str) -> list[list[Any]]:
        return book.get_sheet_by_name(name).to_python(skip_empty_area=False)

    strip = _guard_of(source) == "apostrophe"
    parts = [_typed(rows(name), f"{source.name}, sheet {name!r}", strip) for name in details]
    if any(list(p.columns) != list(parts[0].columns) for p in parts[1:]):
        raise InputError(
            f"{str(source)!r}: the details sheets do not have the same columns; was one "
            f"edited? Each of {', '.join(details)} needs the header of the first."
        )
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if "send_state" in frame.columns and len(parts) > 1:
        frame["send_state"] = _states(frame["send_state"].astype(object).tolist())
    reply_parts = [
        _typed(rows(name), f"{source.name}, sheet {name!r}", strip)
        for name in _sheets(names, REPLIES_SHEET)
    ]
    replies = pd.concat(reply_parts, ignore_index=True) if reply_parts else pd.DataFrame()
    summary = _summary(rows(SUMMARY_SHEET), strip) if SUMMARY_SHEET in names else None
    return CampaignWorkbook(details=frame, replies=replies, summary=summary)
