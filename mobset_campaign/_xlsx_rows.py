"""Rows of a sheet written as XML straight into XlsxWriter's row file.

In ``constant_memory`` mode XlsxWriter keeps one row in memory and appends each finished
row, as ``<row><c>…</c></row>`` XML, to a temporary file that becomes the sheet's
``<sheetData>`` when the workbook closes. Through its API every cell costs a method call,
a dimension check, a row check, an attribute list and a few regular expressions; for a
campaign of a million rows that is most of the export. :func:`write_rows` writes a chunk
of rows — already typed, cleaned and formatted by :class:`mobset_campaign._xlsx.Column` —
as the very same XML in one string per chunk, and tells the sheet where it stands (its
dimensions, its last row), so XlsxWriter carries on as if it had written them itself.

:func:`can_write_rows` says whether this XlsxWriter's sheet looks as expected (constant
memory, the attributes used here, plain rows); if not, the caller writes cell by cell
through the API. ``tests/test_export.py`` checks that both give the same sheet XML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from xlsxwriter.utility import xl_col_to_name  # type: ignore[import-untyped]
from xlsxwriter.worksheet import Worksheet  # type: ignore[import-untyped]

__all__ = ["can_write_rows", "write_rows"]

_NEEDED = ("_write_single_row", "_check_dimensions", "previous_row", "fh", "table", "row_info")
_LITERAL_ESCAPE = re.compile(r"(_x[0-9a-fA-F]{4}_)")  # as XlsxWriter: "_x0041_" stays literal
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")


def can_write_rows(ws: Worksheet) -> bool:
    """Whether ``ws`` is a constant-memory sheet whose rows :func:`write_rows` can write."""
    return (
        bool(getattr(ws, "constant_memory", False))
        and all(hasattr(ws, name) for name in _NEEDED)
        and getattr(ws, "excel_version", 2007) != 2010
        and getattr(ws, "default_row_height", None) == getattr(ws, "original_row_height", None)
        and not ws.row_info
        and not getattr(ws, "comments", None)
    )


def _escape(text: str) -> str:
    """What XlsxWriter does to an inline string: ``_xHHHH_`` kept literal, control
    characters escaped, then ``&``, ``<``, ``>`` as entities."""
    if "_x" in text:
        text = _LITERAL_ESCAPE.sub(r"_x005F\1", text)
    if _CONTROL.search(text):
        text = _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)
    if "&" in text or "<" in text or ">" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def _string(ref: str, style: str, text: str) -> str:
    text = _escape(text)
    keep = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{keep}>{text}</t></is></c>'


def _number(ref: str, style: str, number: Any) -> str:
    return f'<c r="{ref}"{style}><v>{number:.16G}</v></c>'


def _boolean(ref: str, style: str, flag: Any) -> str:
    return f'<c r="{ref}"{style} t="b"><v>{1 if flag else 0}</v></c>'


_CELL = {"s": _string, "n": _number, "b": _boolean}


def _column_xml(
    letter: str,
    rows: Sequence[str],
    kind: str,
    values: Sequence[Any],
    formats: Sequence[Any],
    styles: dict[int, str],
) -> list[str]:
    """One column of the chunk: the XML of each of its cells ("" for a blank one)."""

    def style(fmt: Any) -> str:
        if fmt is None:
            return ""
        key = id(fmt)
        if key not in styles:
            styles[key] = f' s="{fmt._get_xf_index()}"'
        return styles[key]

    if kind == "mixed":
        return [
            "" if value is None else _CELL[value[0]](f"{letter}{row}", style(fmt), value[1])
            for row, value, fmt in zip(rows, values, formats, strict=True)
        ]
    cell = _CELL[kind]
    if kind == "s":  # the common case: each distinct (text, format) is escaped once
        bodies: dict[tuple[int, int], str] = {}
        out = []
        for row, text, fmt in zip(rows, values, formats, strict=True):
            if text is None:
                out.append("")
                continue
            key = (id(text), id(fmt))
            body = bodies.get(key)
            if body is None:
                body = bodies[key] = _string("", style(fmt), text)[len('<c r=""') :]
            out.append(f'<c r="{letter}{row}"{body}')
        return out
    return [
        "" if value is None else cell(f"{letter}{row}", style(fmt), value)
        for row, value, fmt in zip(rows, values, formats, strict=True)
    ]


def write_rows(
    ws: Worksheet, plan: Sequence[tuple[int, str, list[Any], list[Any]]], first: int, count: int
) -> None:
    """Write ``count`` rows from sheet row ``first`` (0-based) on: ``plan`` holds, per
    column, ``(col, kind, values, formats)`` as :meth:`Column.cells` gives them."""
    if count <= 0 or not plan:
        return
    ws._write_single_row(first)  # the rows XlsxWriter still holds (the header) go first
    rows = [str(first + 1 + i) for i in range(count)]
    styles: dict[int, str] = {}
    columns = [
        _column_xml(xl_col_to_name(col), rows, kind, values, formats, styles)
        for col, kind, values, formats in plan
    ]
    out = []
    last = -1
    for i, cells in enumerate(zip(*columns, strict=True)):
        body = "".join(cells)
        if body:
            out.append(f'<row r="{rows[i]}">{body}</row>')
            last = i
    if last < 0:
        return
    ws.fh.write("".join(out))
    cols = [col for col, *_ in plan]
    ws._check_dimensions(first, min(cols))
    ws._check_dimensions(first + last, max(cols))
    ws.previous_row = first + last
