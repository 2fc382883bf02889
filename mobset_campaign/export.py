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

``labels=`` chooses the language of the sheet names, headers, summary and charts:
``"bilingual"`` (the default, as above), ``"zh"`` (``明细``, ``发送状态``) or ``"en"``
(``Details``, and the field names as headers: ``send_state``). A user's own columns keep
their names in every choice.

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
import json
import os
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
from xlsxwriter.exceptions import FileCreateError  # type: ignore[import-untyped]
from xlsxwriter.workbook import Workbook  # type: ignore[import-untyped]

from ._files import replace_atomically
from ._i18n import N_
from ._i18n import gettext as _
from ._labels import chinese, label
from ._xlsx import (
    FIELD_LABELS,
    GUARD_PROPERTY,
    PACKAGE_FIELDS,
    WORKBOOK_OPTIONS,
    Column,
    FormulaGuard,
    Styles,
    display_width,
    header_text,
    plan_column,
    write_table,
)
from ._xlsx_summary import labelled_summary, write_summary
from .errors import InputError
from .language import label_language
from .ledger import STATUS_FRAME_COLUMNS
from .outcomes import replies_data, status_data
from .render import OUTPUT_COLUMNS

__all__ = [
    "DETAILS_SHEET",  # noqa: F822 (made by __getattr__)
    "LABELS_PROPERTY",
    "MAX_SHEET_ROWS",
    "OWN_HEADERS_PROPERTY",
    "REPLIES_SHEET",  # noqa: F822 (made by __getattr__)
    "REPLY_LABELS",
    "SHEETS",
    "SUMMARY_SHEET",  # noqa: F822 (made by __getattr__)
    "display_width",
    "export_excel",
    "sheet_name",
    "sheet_title",
]

#: The sheets' names (English message ids): ``明细 Details``, ``明细`` or ``Details``.
SHEETS = {"summary": N_("Summary"), "details": N_("Details"), "replies": N_("Replies")}
#: Data rows per sheet (Excel's 1,048,576 rows less the header); more continue on the next
#: sheet, ``明细 Details (2)``. A module constant, so a test can lower it.
MAX_SHEET_ROWS = 1_048_575
_MAX_COLS = 16_384
#: Labels of the replies sheet's own columns where they differ from the details'.
REPLY_LABELS = {"content": N_("Reply text")}
#: The document properties that record a workbook's label language (when not bilingual)
#: and, in a Chinese workbook, the user's headers that read like a package column's label.
LABELS_PROPERTY = "mobset_campaign labels"
OWN_HEADERS_PROPERTY = "mobset_campaign own headers"


def sheet_title(key: str, labels: str = "bilingual") -> str:
    """The name of a sheet (``summary``, ``details``, ``replies``) in ``labels``."""
    return label(SHEETS[key], labels)


def __getattr__(name: str) -> str:
    """``DETAILS_SHEET``, ``SUMMARY_SHEET``, ``REPLIES_SHEET``: the bilingual sheet names
    (``明细 Details``), made when asked (the catalog is read then, not at import)."""
    key = {"DETAILS_SHEET": "details", "SUMMARY_SHEET": "summary", "REPLIES_SHEET": "replies"}
    if name in key:
        return sheet_title(key[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def _headers(names: list[str], labels: str, messages: dict[str, str]) -> list[str]:
    """The header of each column: a user's own name as it is; a package column's label.
    In Chinese, a package column whose label is also a user's column name (or another
    header) keeps its bilingual header (``手机号 phone``), so the two stay apart."""
    package = [name in PACKAGE_FIELDS for name in names]
    headers = [
        header_text(name, labels, messages.get(name)) if ours else name
        for name, ours in zip(names, package, strict=True)
    ]
    if labels == "zh":
        seen: dict[str, int] = {}
        for header in headers:
            seen[header] = seen.get(header, 0) + 1
        headers = [
            header_text(name, "bilingual", messages.get(name)) if ours and seen[h] > 1 else h
            for name, ours, h in zip(names, package, headers, strict=True)
        ]
    return headers


def _columns(
    df: pd.DataFrame, labels: str = "bilingual", messages: dict[str, str] | None = None
) -> list[Column]:
    names = [str(c) for c in df.columns]
    headers = _headers(names, labels, messages or {})
    return [
        plan_column(df.iloc[:, i], name, user=name not in PACKAGE_FIELDS, header=headers[i])
        for i, name in enumerate(names)
    ]


def _own_headers(columns: list[Column]) -> list[str]:
    """The user's headers that a reader would take for a package column's Chinese label."""
    chinese_labels = {chinese(m) for m in (*FIELD_LABELS.values(), *REPLY_LABELS.values())}
    return sorted(
        {c.header for c in columns if c.name not in PACKAGE_FIELDS and c.header in chinese_labels}
    )


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
            _(
                "Cannot write {path!r}: it is a folder. Give a file name such as {example!r}."
            ).format(path=str(path), example=str(path / "campaign.xlsx"))
        )
    if path.suffix.lower() != ".xlsx":
        raise InputError(
            _(
                "Cannot write {path!r}: an Excel workbook needs the .xlsx extension "
                "(Excel refuses to open it otherwise). Use e.g. {example!r}."
            ).format(path=str(path), example=str(path.with_suffix(".xlsx")))
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            _(
                "Cannot create the folder {folder!r} for the workbook: {reason}. "
                "Choose a folder you can write to."
            ).format(folder=str(path.parent), reason=exc.strerror or exc)
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


def _png_images(
    data: Any, campaign: str | None, replies: pd.DataFrame | None, labels: str
) -> list[Any]:
    from .plots import draw_all, root_figure  # matplotlib loads only when pictures are asked

    images = []
    for axes in draw_all(data, campaign, replies=replies, labels=labels).values():
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
    labels: str = "bilingual",
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
        labels: the language of the sheet names, headers, summary and charts:
            ``"bilingual"`` (default: ``明细 Details``, ``发送状态 send_state``), ``"zh"``
            (``明细``, ``发送状态``) or ``"en"`` (``Details``, ``send_state``). The user's
            own columns keep their names; :func:`~mobset_campaign.read_campaign_workbook`
            reads all three.

    Returns:
        The path of the written workbook.

    Raises:
        InputError: the path is a folder, not ``.xlsx``, cannot be written (open in
            Excel, no permission), the frame has more columns than a sheet holds, or
            ``labels`` is none of the three.
    """
    labels = label_language(labels)
    if formula_guard not in ("apostrophe", "style"):
        raise InputError(
            _("formula_guard must be 'apostrophe' or 'style', got {value!r}.").format(
                value=formula_guard
            )
        )
    frame = status_data(df, campaign)
    if replies is None:
        replies = replies_data(df, campaign)
    if replies is not None and not isinstance(replies, pd.DataFrame):
        raise InputError(
            _("replies= must be a DataFrame, got {kind}.").format(kind=type(replies).__name__)
        )
    if frame.shape[1] > _MAX_COLS:
        raise InputError(
            _(
                "The frame has {n:,} columns; an Excel sheet holds at most {most:,}. "
                "Export fewer columns (e.g. df[[...]])."
            ).format(n=frame.shape[1], most=_MAX_COLS)
        )
    if (charts or pictures) and not summary:
        raise InputError(
            _("charts=True and pictures=True draw in the summary sheet: keep summary=True.")
        )
    target = _check_target(Path(path))
    reply_table = replies if replies is not None else _replies_table(frame)
    table = (
        labelled_summary(labels, frame, campaign, price_per_part=price_per_part, replies=replies)
        if summary
        else None
    )
    images = _png_images(frame, campaign, replies, labels) if pictures else []
    detail_columns = _columns(frame, labels)
    reply_columns = _columns(reply_table, labels, REPLY_LABELS)
    own = _own_headers(detail_columns + reply_columns) if labels == "zh" else []

    def write(handle: BinaryIO) -> None:
        book = Workbook(handle, WORKBOOK_OPTIONS)
        try:
            styles = Styles(book, formula_guard)
            book.set_custom_property(GUARD_PROPERTY, formula_guard)
            if labels != "bilingual":
                book.set_custom_property(LABELS_PROPERTY, labels)
            if own:
                book.set_custom_property(OWN_HEADERS_PROPERTY, json.dumps(own, ensure_ascii=False))
            summary_sheet = (
                book.add_worksheet(sheet_title("summary", labels)) if table is not None else None
            )
            details = _add_tables(book, sheet_title("details", labels), len(frame))
            reply_sheets = _add_tables(book, sheet_title("replies", labels), len(reply_table))
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
                    labels=labels,
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
            _(
                "Cannot write the workbook {path!r}: permission denied. If the file is open "
                "in Excel or WPS, close it and export again; otherwise check the permissions "
                "of the file and of {folder!r}, or choose another path."
            ).format(path=str(target), folder=str(target.parent))
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
    return InputError(
        _(
            "Cannot write the workbook {path!r}: {reason}. Check the disk and the folder, "
            "then export again."
        ).format(path=str(target), reason=reason)
    )
