"""A contact file → rows of cells, as the user's spreadsheet program would show them.

Workbooks (``.xlsx``, ``.xlsm``, ``.xlsb``, ``.xls``, ``.ods``) are read with python-calamine,
text files (``.csv``, ``.txt``, ``.tsv``) with the standard library after the encoding has been
detected (UTF-8, UTF-8 with BOM, UTF-16 with BOM as Excel's "Unicode text" export writes it,
or GB18030/GBK as Chinese Excel writes CSV). What the cells mean (header, phone column,
types) is :mod:`mobset_campaign.contacts`' job.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import python_calamine

from ._advice import say
from ._i18n import gettext as _
from ._i18n import ngettext
from .errors import InputError

__all__ = ["TEXT_SUFFIXES", "WORKBOOK_SUFFIXES", "Table", "read_file"]

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"


class Table:
    """Raw cells of one sheet: ``cells[i]`` is sheet row ``i + 1``."""

    def __init__(
        self, cells: list[list[Any]], merged: Sequence[tuple[tuple[int, int], tuple[int, int]]]
    ) -> None:
        self.cells = cells
        self.merged = list(merged)


def read_file(path: Path, sheet_name: str | int) -> Table:
    where = f"'{path}'"
    if not path.exists():
        raise InputError(
            _(
                "Contact file {where} does not exist (the current folder is '{folder}'). "
                "Check the name and the folder."
            ).format(where=where, folder=Path.cwd())
        )
    if path.is_dir():
        raise InputError(
            _("{where} is a folder; give the path of the contact file inside it.").format(
                where=where
            )
        )
    suffix = path.suffix.lower()
    if suffix not in WORKBOOK_SUFFIXES + TEXT_SUFFIXES:
        kinds = ", ".join(WORKBOOK_SUFFIXES + TEXT_SUFFIXES)
        if suffix:
            raise InputError(
                _(
                    "Contact file {where} has an unsupported type '{suffix}'; save it as one "
                    "of {kinds}."
                ).format(where=where, suffix=suffix, kinds=kinds)
            )
        raise InputError(
            _(
                "Contact file {where} has no type (no suffix such as .xlsx or .csv); save it "
                "as one of {kinds}."
            ).format(where=where, kinds=kinds)
        )
    data = path.read_bytes()
    if suffix in TEXT_SUFFIXES:
        if isinstance(sheet_name, str):
            raise InputError(
                _("{where} is a text file and has no sheets; drop {flag}.").format(
                    where=where, flag=say("sheet_name")
                )
            )
        return _read_text(data, where)
    return _read_workbook(data, suffix, sheet_name, where)


def _read_workbook(data: bytes, suffix: str, sheet_name: str | int, where: str) -> Table:
    if not data:
        raise InputError(
            _("Workbook {where} is an empty file (0 bytes); export it again.").format(where=where)
        )
    if data.startswith(_OLE2) and suffix in (".xlsx", ".xlsm", ".xlsb"):
        raise InputError(
            _(
                "Workbook {where} is encrypted (password-protected). Open it in Excel, remove "
                "the password (File > Info > Protect Workbook > Encrypt with Password, clear "
                "it) and save it again, or export the sheet as CSV."
            ).format(where=where)
        )
    if suffix == ".xls" and not data.startswith((_OLE2, _ZIP)):
        head = data[:512].lstrip().lower()
        if head.startswith((b"<", b"\xef\xbb\xbf<")):
            raise InputError(
                _(
                    "{where} is a web page (HTML) saved with an .xls name, as some web systems "
                    "export. Open it in Excel and save it as .xlsx, then read that file."
                ).format(where=where)
            )
        return _read_text(data, where)  # a CSV or tab-separated text named .xls
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except python_calamine.PasswordError as exc:
        raise InputError(
            _(
                "Workbook {where} is encrypted (password-protected): {error}. Remove the "
                "password in Excel and save it again."
            ).format(where=where, error=exc)
        ) from exc
    except python_calamine.CalamineError as exc:
        raise InputError(
            _(
                "Workbook {where} could not be read; it is corrupt or not really a {suffix} "
                "file ({error}). Open it in Excel or WPS and save it again as .xlsx."
            ).format(where=where, suffix=suffix, error=exc)
        ) from exc
    names = list(book.sheet_names)
    if isinstance(sheet_name, int):
        if not -len(names) <= sheet_name < len(names):
            raise InputError(
                ngettext(
                    "Workbook {where} has {n} sheet, so there is no sheet number {number}; its "
                    "sheets are: {names}.",
                    "Workbook {where} has {n} sheets, so there is no sheet number {number}; its "
                    "sheets are: {names}.",
                    len(names),
                ).format(where=where, n=len(names), number=sheet_name, names=", ".join(names))
            )
        name = names[sheet_name]
    elif sheet_name in names:
        name = sheet_name
    else:
        raise InputError(
            _("Workbook {where} has no sheet named '{sheet}'; its sheets are: {names}.").format(
                where=where, sheet=sheet_name, names=", ".join(repr(n) for n in names)
            )
        )
    try:
        sheet = book.get_sheet_by_name(name)
        cells = sheet.to_python(skip_empty_area=False)
        merged = sheet.merged_cell_ranges or []
    except python_calamine.CalamineError as exc:
        raise InputError(
            _(
                "Sheet '{sheet}' of workbook {where} could not be read ({error}); open the file "
                "in Excel and save it again."
            ).format(sheet=name, where=where, error=exc)
        ) from exc
    if not cells:
        raise InputError(
            _("Sheet '{sheet}' of workbook {where} is empty; pick another sheet.").format(
                sheet=name, where=where
            )
        )
    return Table(cells, merged)


def _decode(data: bytes, where: str) -> str:
    if data.startswith(codecs.BOM_UTF8):
        encoding, data = "utf-8", data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "gb18030"  # Chinese Excel saves CSV in GBK, a subset of GB18030
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            _(
                "Text file {where} is neither UTF-8 nor GBK/GB18030 (undecodable byte at "
                "position {position}). Save it again as 'CSV UTF-8' from Excel."
            ).format(where=where, position=exc.start)
        ) from exc


def _read_text(data: bytes, where: str) -> Table:
    text = _decode(data, where)
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if not lines:
        raise InputError(
            _("Text file {where} is empty; export the contact list again.").format(where=where)
        )

    def score(delimiter: str) -> float:
        counts = sorted(line.count(delimiter) for line in lines)
        return float(counts[len(counts) // 2])

    delimiter = max(",\t;|", key=score) if any(score(d) for d in ",\t;|") else ","
    read = _records(text, delimiter, where, strict=True)
    if read is None:  # a stray quote such as "张三"先生: read leniently, as Excel would
        read = _records(text, delimiter, where, strict=False)
        assert read is not None
    cells, starts = read
    _no_swallowed_lines(cells, starts, delimiter, where)
    return Table(cells, [])


def _records(
    text: str, delimiter: str, where: str, *, strict: bool
) -> tuple[list[list[str]], list[int]] | None:
    """Every record of the text and the line each starts on, or None when ``strict``
    parsing met a stray quote.

    Raises:
        InputError: a quote opened and never closed (the rest of the file would become one
            cell), or a cell over the csv module's field limit; naming the line.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=strict)
    cells: list[list[str]] = []
    lines: list[int] = []
    starts = 1  # the line the record being read starts on
    shared = _SharedCells()
    try:
        for record in reader:
            cells.append(record)
            lines.append(starts)
            starts = reader.line_num + 1
            if len(cells) % _BLOCK == 0:
                shared.share(cells[-_BLOCK:])
    except csv.Error as exc:
        if "field limit" in str(exc):
            raise InputError(
                _(
                    "Text file {where}: the record starting on line {line} has a cell longer "
                    "than {limit:,} characters, which no contact list holds. Usually a quote "
                    '(") opens there and never closes, swallowing the lines after it; fix that '
                    "line, or open the file in Excel and save it again as CSV."
                ).format(where=where, line=starts, limit=csv.field_size_limit())
            ) from None
        if "unexpected end of data" in str(exc):
            raise InputError(
                _(
                    'Text file {where}: a quote (") opened in the record starting on line '
                    "{line} is never closed, so every line after it would become one cell and "
                    "those contacts would be lost. Close or remove that quote, or open the file "
                    "in Excel and save it again as CSV."
                ).format(where=where, line=starts)
            ) from None
        return None
    shared.share(cells[len(cells) - len(cells) % _BLOCK :])
    return cells, lines


#: Records read between two passes of :class:`_SharedCells`.
_BLOCK = 10_000


class _SharedCells:
    """Holds each distinct text of a column once: a column of a few stores, names or dates
    repeated over a million rows keeps a few thousand strings, not a million. A column
    whose first block is mostly distinct (numbers, ids) is left alone."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str] | None] = []

    def share(self, rows: list[list[str]]) -> None:
        if not rows:
            return
        width = max(map(len, rows))
        self.seen.extend({} for _n in range(width - len(self.seen)))
        for j, seen in enumerate(self.seen):
            if seen is None:
                continue
            for row in rows:
                if j < len(row):
                    row[j] = seen.setdefault(row[j], row[j])
            if len(seen) * 2 > len(rows) or len(seen) > 100_000:
                self.seen[j] = None  # mostly distinct: sharing would only cost time


_RECORD_INSIDE = re.compile(r"\n[^\n]*1[3-9]\d{9}")


def _no_swallowed_lines(
    cells: list[list[str]], lines: list[int], delimiter: str, where: str
) -> None:
    """InputError when a quoted cell spans lines that look like records of their own (a
    later line holds the delimiter and a mobile number): a quote opened by mistake that
    a later stray quote happened to close, silently merging the contacts in between."""
    for i, record in enumerate(cells):
        for cell in record:
            if "\n" in cell and delimiter in cell and _RECORD_INSIDE.search(cell):
                first = cell.split("\n", 2)[1][:60]
                raise InputError(
                    _(
                        "Text file {where}: the record starting on line {line} has a quoted "
                        "cell that runs over {n} lines holding contacts of their own (e.g. "
                        '{example!r}), so those contacts would be lost. A quote (") opens there '
                        "by mistake: remove it, or open the file in Excel and save it again as "
                        "CSV."
                    ).format(where=where, line=lines[i], n=cell.count(chr(10)) + 1, example=first)
                )
