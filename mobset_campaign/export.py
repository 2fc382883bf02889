"""The campaign workbook: details, summary and replies, safe to open in Excel.

:func:`export_excel` writes a merged frame (contacts + send/delivery/reply columns, see
``merge_status``) to an ``.xlsx`` file with XlsxWriter in constant-memory mode (each row
goes to disk as soon as it is complete), with these sheets:

- ``汇总 Summary`` — the campaign in numbers (counts by send state and delivery status,
  skip reasons, parts, cost, delivery and reply rates, opt-outs) and four native Excel
  charts (funnel, send states, delivery time, replies over time) drawn from a small data
  table on the same sheet, so an analyst can restyle them or point them elsewhere.
- ``明细 Details`` — every column and row of the frame; past :data:`MAX_SHEET_ROWS` rows the
  details continue on ``明细 Details (2)``, ``(3)`` … The columns the package adds have a
  bilingual header (``发送状态 send_state``); phones, SmsIds and digit strings are text
  cells (``@``), dates real Excel datetimes in Beijing time, the header is frozen, bold and
  filtered, widths count CJK characters double, and the ``send_state`` cell is coloured
  (delivered green, failed/rejected red, unknown amber, pending grey, ...). The user's own
  columns keep their meaning: numbers stay numbers and ISO dates become dates, while
  phones, ids and codes stay text (see :mod:`mobset_campaign._xlsx`).
- ``回复 Replies`` — the replies frame when given, else the latest reply of each row.

Replies come from strangers, so every string cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return is written as inert text (OWASP's CSV/formula-injection
rule): by default the text gets a leading apostrophe, which survives a later "Save as CSV";
with ``formula_guard="style"`` the text is kept exactly and the cell is marked as text
(quote-prefix flag) instead. XlsxWriter's ``strings_to_formulas``, ``strings_to_urls`` and
``strings_to_numbers`` are off, so no cell is ever a formula. Characters XML cannot hold
(control characters, lone surrogates) become U+FFFD, texts longer than Excel's
32,767-character cell limit are cut with a marker, and a carriage return reads back as a
line feed (XML normalises line ends; Excel shows both as a break).

:func:`mobset_campaign.read_campaign_workbook` reads such a workbook back into typed frames.

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
import os
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
from xlsxwriter.exceptions import FileCreateError  # type: ignore[import-untyped]
from xlsxwriter.workbook import Workbook  # type: ignore[import-untyped]

from ._files import replace_atomically
from ._xlsx import (
    GUARD_PROPERTY,
    PACKAGE_FIELDS,
    WORKBOOK_OPTIONS,
    Column,
    FormulaGuard,
    Styles,
    display_width,
    plan_column,
    write_table,
)
from ._xlsx_summary import write_summary
from .errors import InputError
from .ledger import STATUS_FRAME_COLUMNS
from .outcomes import replies_data, status_data, summary_table
from .render import OUTPUT_COLUMNS

__all__ = [
    "DETAILS_SHEET",
    "MAX_SHEET_ROWS",
    "REPLIES_SHEET",
    "SUMMARY_SHEET",
    "display_width",
    "export_excel",
    "sheet_name",
]

DETAILS_SHEET = "明细 Details"
SUMMARY_SHEET = "汇总 Summary"
REPLIES_SHEET = "回复 Replies"
#: Data rows per sheet (Excel's 1,048,576 rows less the header); more continue on the next
#: sheet, ``明细 Details (2)``. A module constant, so a test can lower it.
MAX_SHEET_ROWS = 1_048_575
_MAX_COLS = 16_384
#: Labels of the replies sheet's own columns where they differ from the details'.
_REPLY_LABELS = {"content": "回复内容", "phone": "手机号", "sms_id": "短信编号"}


def sheet_name(base: str, part: int) -> str:
    """The name of the ``part``-th sheet (1-based) of a table: ``明细 Details (2)``."""
    return base if part == 1 else f"{base} ({part})"


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


def _columns(df: pd.DataFrame, labels: dict[str, str] | None = None) -> list[Column]:
    labels = labels or {}
    names = [str(c) for c in df.columns]
    return [
        plan_column(
            df.iloc[:, i],
            name,
            user=name not in PACKAGE_FIELDS,
            label=labels.get(name),
        )
        for i, name in enumerate(names)
    ]


def _add_tables(book: Workbook, base: str, rows: int) -> list[tuple[Any, int, int]]:
    """Create the sheets of one table: one per :data:`MAX_SHEET_ROWS` rows, each with the
    rows ``start:stop`` it will hold."""
    per_sheet = max(int(MAX_SHEET_ROWS), 1)
    bounds = list(range(0, rows, per_sheet)) or [0]
    return [
        (book.add_worksheet(sheet_name(base, k + 1)), start, min(start + per_sheet, rows))
        for k, start in enumerate(bounds)
    ]


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


def _discard(book: Workbook) -> None:
    """After a failure: close the sheets' row files and delete them, so nothing is left in
    the temp folder. The original error is being re-raised; a second error while tidying
    up must not replace it."""
    for ws in book.worksheets():
        handle = getattr(ws, "row_data_fh", None)
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if handle is not None:
                handle.close()
        name = getattr(ws, "row_data_filename", None)
        if name:
            with contextlib.suppress(OSError):
                os.unlink(name)
    book.fileclosed = True  # nothing left to close: no warning at garbage collection


def _png_images(data: Any, campaign: str | None, replies: pd.DataFrame | None) -> list[Any]:
    from .plots import draw_all, root_figure  # matplotlib loads only when pictures are asked

    images = []
    for axes in draw_all(data, campaign, replies=replies).values():
        buffer = io.BytesIO()
        root_figure(axes).savefig(buffer, format="png", dpi=100)
        buffer.seek(0)
        images.append(buffer)
    return images


def export_excel(
    df: pd.DataFrame | Any,
    path: str | os.PathLike[str],
    *,
    summary: bool = True,
    replies: pd.DataFrame | None = None,
    charts: bool | None = None,
    pictures: bool = False,
    price_per_part: float | None = None,
    campaign: str | None = None,
    formula_guard: FormulaGuard = "apostrophe",
) -> Path:
    """Write the campaign workbook (summary, details, replies) and return its path.

    The file is written to a temporary file next to ``path`` and moved into place, so a
    crash never leaves half a workbook; missing parent folders are created. ``df`` is
    not modified.

    Args:
        df: the merged frame (``merge_status``), or a ledger with ``campaign=``.
        path: where to write; must end in ``.xlsx``. An existing file is replaced.
        summary: add the ``汇总 Summary`` sheet (see :func:`~mobset_campaign.outcomes.summary_table`).
        replies: the replies frame for the ``回复 Replies`` sheet; by default the ledger's
            (when ``df`` is a ledger) or the latest reply of each row of the frame.
        charts: native Excel charts in the summary sheet (funnel, send states, delivery
            time, replies). By default they come with the summary; ``False`` leaves them
            out; ``True`` asks for them (and needs ``summary=True``).
        pictures: also embed the matplotlib PNGs of :mod:`mobset_campaign.plots` (the
            charts a notebook shows) below the native charts; off by default.
        price_per_part: adds cost rows to the summary.
        campaign: the campaign name (shown in the summary; required with a ledger).
        formula_guard: ``"apostrophe"`` (default) prefixes risky texts with ``'``, which
            stays inert even after a "Save as CSV"; ``"style"`` keeps the text exact and
            relies on the cell being a text cell with Excel's quote-prefix flag.

    Returns:
        The path of the written workbook.

    Raises:
        InputError: the path is a folder, not ``.xlsx``, cannot be written (open in
            Excel, no permission), or the frame has more columns than a sheet holds.
    """
    if formula_guard not in ("apostrophe", "style"):
        raise InputError(f"formula_guard must be 'apostrophe' or 'style', got {formula_guard!r}.")
    frame = status_data(df, campaign)
    if replies is None:
        replies = replies_data(df, campaign)
    if replies is not None and not isinstance(replies, pd.DataFrame):
        raise InputError(f"replies= must be a DataFrame, got {type(replies).__name__}.")
    if frame.shape[1] > _MAX_COLS:
        raise InputError(
            f"The frame has {frame.shape[1]:,} columns; an Excel sheet holds at most "
            f"{_MAX_COLS:,}. Export fewer columns (e.g. df[[...]])."
        )
    if (charts or pictures) and not summary:
        raise InputError(
            "charts=True and pictures=True draw in the summary sheet: keep summary=True."
        )
    target = _check_target(Path(path))
    reply_table = replies if replies is not None else _replies_table(frame)
    table = (
        summary_table(frame, campaign, price_per_part=price_per_part, replies=replies)
        if summary
        else None
    )
    images = _png_images(frame, campaign, replies) if pictures else []

    def write(handle: BinaryIO) -> None:
        book = Workbook(handle, WORKBOOK_OPTIONS)
        try:
            styles = Styles(book, formula_guard)
            book.set_custom_property(GUARD_PROPERTY, formula_guard)
            summary_sheet = book.add_worksheet(SUMMARY_SHEET) if table is not None else None
            detail_columns = _columns(frame)
            details = _add_tables(book, DETAILS_SHEET, len(frame))
            reply_columns = _columns(reply_table, _REPLY_LABELS)
            reply_sheets = _add_tables(book, REPLIES_SHEET, len(reply_table))
            for ws, start, stop in details:
                write_table(ws, styles, detail_columns, start, stop)
            for ws, start, stop in reply_sheets:
                write_table(ws, styles, reply_columns, start, stop)
            if summary_sheet is not None and table is not None:
                write_summary(
                    book,
                    summary_sheet,
                    styles,
                    table,
                    frame,
                    replies,
                    charts=charts is not False,
                    images=images,
                )
            book.close()
        except BaseException:
            _discard(book)
            raise

    try:
        replace_atomically(target, write)
    except FileCreateError as exc:
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else exc
        raise _write_error(target, cause) from exc
    except OSError as exc:
        raise _write_error(target, exc) from exc
    return target


def _write_error(target: Path, exc: BaseException) -> InputError:
    if isinstance(exc, PermissionError):
        return InputError(
            f"Cannot write the workbook {str(target)!r}: permission denied. If the file is "
            f"open in Excel or WPS, close it and export again; otherwise check the "
            f"permissions of the file and of {str(target.parent)!r}, or choose another path."
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
    return InputError(
        f"Cannot write the workbook {str(target)!r}: {reason}. "
        f"Check the disk and the folder, then export again."
    )
