"""Read a campaign workbook (:func:`mobset_campaign.export_excel`) back into typed frames.

:func:`read_campaign_workbook` undoes what the export did for a human reader: the
headers become field names again (``发送状态 send_state``, or ``发送状态`` in a Chinese
workbook, → ``send_state``), the details split over ``明细 Details``, ``明细 Details (2)``
… (``明细``, ``Details`` in a Chinese or an English workbook) are one frame again, phones and
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

import json
import math
import os
import re
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from ._i18n import gettext as _
from ._labels import chinese
from ._xlsx import FIELD_LABELS, GUARD_PROPERTY, GUARDED, header_text
from ._xlsx_summary import DATA_HEADING
from .errors import InputError
from .export import LABELS_PROPERTY, OWN_HEADERS_PROPERTY, REPLY_LABELS, sheet_title
from .language import LABEL_LANGUAGES
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
_PART = re.compile(r" \((\d+)\)$")


class CampaignWorkbook(NamedTuple):
    """The frames of a campaign workbook."""

    details: pd.DataFrame
    replies: pd.DataFrame
    summary: pd.DataFrame | None


def _labelled(labels: str) -> dict[str, str]:
    """Header → field for the package's columns, as a workbook in ``labels`` writes them
    (a bilingual header is read in every workbook: a Chinese one writes it for a label
    that is also a user's column name)."""
    messages = [*FIELD_LABELS.items(), *((n, m) for n, m in REPLY_LABELS.items())]
    found = {header_text(name, "bilingual", message): name for name, message in messages}
    if labels == "zh":
        found |= {chinese(message): name for name, message in messages}
    return found


def field_name(header: str, labels: str = "bilingual") -> str:
    """The field a header cell names: ``send_state`` for ``发送状态 send_state`` (and, with
    ``labels="zh"``, for ``发送状态``); a user's own header as it is.

    >>> field_name("发送状态 send_state"), field_name("姓名"), field_name("发送状态", "zh")
    ('send_state', '姓名', 'send_state')
    """
    return _labelled(labels).get(header, header)


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
    return [name for _part, name in sorted(parts)]


def _unguard(value: Any, strip: bool) -> Any:
    """A text without the apostrophe the guard put before it (``strip``: the workbook was
    written with the apostrophe guard)."""
    if strip and isinstance(value, str) and value.startswith("'") and GUARDED.match(value):
        return value[1:]
    return value


def _properties(source: Path) -> dict[str, str]:
    """The workbook's custom document properties (texts) by name."""
    try:
        with zipfile.ZipFile(source) as archive:
            root = ElementTree.fromstring(archive.read("docProps/custom.xml"))
    except (KeyError, OSError, zipfile.BadZipFile, ElementTree.ParseError):
        return {}
    found = {}
    for prop in root:
        name = prop.get("name")
        if name is not None and len(prop):
            found[name] = prop[0].text or ""
    return found


def _labels_of(names: list[str], recorded: str | None) -> str:
    """The workbook's label language: as recorded, else the one its details sheet is
    named in (bilingual when none is)."""
    if recorded in LABEL_LANGUAGES:
        return str(recorded)
    for labels in LABEL_LANGUAGES:
        if _sheets(names, sheet_title("details", labels)):
            return labels
    return "bilingual"


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
        raise InputError(
            _("{where}: {value!r} is not a date and time.").format(where=where, value=bad)
        )
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
        raise InputError(
            _("{where}: expected whole numbers, found {values!r}.").format(
                where=where, values=values[:3]
            )
        )
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


def _typed(rows: list[list[Any]], where: str, strip: bool, headers: dict[str, str]) -> pd.DataFrame:
    texts = [str(_unguard(h, strip)) for h in rows[0]] if rows else []
    header = [headers.get(text, text) for text in texts]
    while header and header[-1] == "":
        header.pop()
    width = len(header)
    body = [row[:width] + [""] * (width - len(row)) for row in rows[1:]]
    while body and all(_is_blank(v) for v in body[-1]):
        body.pop()
    columns: dict[str, pd.Series] = {}
    for i, name in enumerate(header):
        values = [row[i] for row in body]
        at = _("{where}, column {name!r}").format(where=where, name=name)
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
    headings = (chinese(DATA_HEADING), DATA_HEADING)
    for row in rows[1:]:
        first = row[0] if row else ""
        if isinstance(first, str) and first.startswith(headings):
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
    """Read a workbook written by :func:`~mobset_campaign.export_excel` into typed frames,
    whatever its labels (bilingual, Chinese or English).

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
        raise InputError(_("Cannot read {path!r}: there is no such file.").format(path=str(source)))
    try:
        book = CalamineWorkbook.from_path(str(source))
    except Exception as exc:  # calamine's own error types: not a workbook it can read
        raise InputError(
            _(
                "Cannot read {path!r} as an Excel workbook: {reason}. Give the .xlsx file "
                "export_excel wrote."
            ).format(path=str(source), reason=exc)
        ) from exc
    names = list(book.sheet_names)
    properties = _properties(source)
    labels = _labels_of(names, properties.get(LABELS_PROPERTY))
    details = _sheets(names, sheet_title("details", labels))
    if not details:
        raise InputError(
            _(
                "{path!r} is not a campaign workbook written by export_excel: it has no "
                "{sheet!r} sheet (its sheets: {names})."
            ).format(
                path=str(source),
                sheet=sheet_title("details"),
                names=", ".join(map(repr, names)) or _("none"),
            )
        )
    headers = _labelled(labels)
    try:
        for own in json.loads(properties.get(OWN_HEADERS_PROPERTY, "[]")):
            headers.pop(own, None)  # a user's column named like a label: theirs
    except (ValueError, TypeError):
        pass

    def rows(name: str) -> list[list[Any]]:
        return book.get_sheet_by_name(name).to_python(skip_empty_area=False)

    def typed(name: str) -> pd.DataFrame:
        where = _("{file}, sheet {sheet!r}").format(file=source.name, sheet=name)
        return _typed(rows(name), where, strip, headers)

    strip = properties.get(GUARD_PROPERTY, "apostrophe") == "apostrophe"
    parts = [typed(name) for name in details]
    if any(list(p.columns) != list(parts[0].columns) for p in parts[1:]):
        raise InputError(
            _(
                "{path!r}: the details sheets do not have the same columns; was one edited? "
                "Each of {sheets} needs the header of the first."
            ).format(path=str(source), sheets=", ".join(details))
        )
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if "send_state" in frame.columns and len(parts) > 1:
        frame["send_state"] = _states(frame["send_state"].astype(object).tolist())
    reply_parts = [typed(name) for name in _sheets(names, sheet_title("replies", labels))]
    replies = pd.concat(reply_parts, ignore_index=True) if reply_parts else pd.DataFrame()
    summary_sheet = sheet_title("summary", labels)
    summary = _summary(rows(summary_sheet), strip) if summary_sheet in names else None
    return CampaignWorkbook(details=frame, replies=replies, summary=summary)
