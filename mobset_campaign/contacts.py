"""Read a contact list from a spreadsheet, a CSV/text file or a DataFrame, and check its numbers.

:func:`read_contacts` is the entry point. Workbooks (``.xlsx``, ``.xlsm``, ``.xlsb``, ``.xls``,
``.ods``) and text files (``.csv``, ``.txt``, ``.tsv``) are read into rows of cells by
:mod:`mobset_campaign.sheets`; this module finds the header, the columns and their types, and
checks the numbers (repair and validation are in :mod:`mobset_campaign.phones`).
"""

from __future__ import annotations

import os
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from ._advice import say
from ._cells import cell_text, is_missing, object_array
from ._i18n import gettext as _
from ._i18n import ngettext
from .errors import InputError, InputWarning
from .phones import (
    DIGITS_LOST,
    DUPLICATE,
    OPTED_OUT,
    integer_texts,
    normalise_phones,
    problem_parts,
    problem_text,
)
from .rows import keep_user_columns
from .sheets import Table, read_file

__all__ = ["PHONE_HEADERS", "read_contacts"]


#: Header names recognised as the phone column, best first (compared after removing spaces,
#: ``*``, colons and a trailing "(必填)", case-insensitively).
PHONE_HEADERS = (
    "手机号码", "手机号", "手机", "移动电话", "手机电话", "联系手机", "会员手机", "会员手机号",
    "客户手机", "收件人手机", "收货人手机", "mobile", "mobilephone", "mobileno", "mobilenumber",
    "cellphone", "cell", "电话", "联系电话", "电话号码", "联系方式", "收件人电话", "收货人电话",
    "客户电话", "phone", "phonenumber", "phoneno", "tel", "telephone", "号码",
)  # fmt: skip
_HEADER_HINTS = ("手机", "mobile", "cell", "电话", "phone", "号码")
_OUR_COLUMNS = ("phone", "phone_problem", "row")


class SuppressionSource(Protocol):
    """Anything with a ``suppressed_phones()`` method, e.g. the campaign ledger."""

    def suppressed_phones(self) -> set[str]: ...  # pragma: no cover - protocol


def read_contacts(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    phone_column: str | int | None = None,
    sheet_name: str | int = 0,
    header: int | Literal["auto"] | None = "auto",
    suppress: Iterable[object] | SuppressionSource | None = None,
) -> pd.DataFrame:
    """Read contacts and check every phone number; rows are never dropped silently.

    Args:
        source: a file path (``.xlsx``/``.xlsm``/``.xlsb``/``.xls``/``.ods``/``.csv``/
            ``.txt``/``.tsv``) or a DataFrame (not modified).
        phone_column: the column holding the numbers. By default it is found from its header
            (手机号码, 手机, 电话, mobile, phone, … see :data:`PHONE_HEADERS`) or, failing that,
            from its contents (the column where most values are mainland mobiles).
        sheet_name: sheet name or 0-based position (workbooks only).
        header: which non-blank row holds the column names (0 = the first; ``None`` = no
            header, columns are numbered 0, 1, …). The default ``"auto"`` reads the first
            non-blank row as the header unless that row is itself data (a cell holds a
            mainland mobile number, or every cell is a whole number): a file of bare numbers
            is then read without a header, so its first number stays a contact, and an
            :class:`~mobset_campaign.errors.InputWarning` says so (also in
            ``df.attrs["notes"]``). With ``"auto"`` or 0, a lone title cell above the real
            header (``会员名单`` over ``姓名 | 手机 | …``) is recognised and skipped, and a
            two-row header whose top cells are merged (``联系方式`` over ``手机 | 邮箱``)
            gives the lower names.
        suppress: numbers that must not be texted (any format, normalised like the phone
            column), or an object with a ``suppressed_phones()`` method such as the ledger.
            Their rows get the problem ``opted out``. An entry whose digits were lost in a
            spreadsheet raises :class:`InputError` (it cannot be matched safely); entries that
            are not mainland mobiles are ignored, as no contact can match them.

    Returns:
        A new frame with every original column and row in order (rows that are entirely
        blank are skipped; ``df.attrs["blank_rows_skipped"]`` counts them), plus:

        * ``phone``: the 11-digit number, or missing (``str`` dtype, missing is NaN);
        * ``phone_problem``: missing when the number is fine, else the reason: ``empty``,
          ``not a mainland mobile: …``, ``digits lost in the spreadsheet: …``, ``several
          numbers in one cell: …``, ``duplicate of row N`` (the first occurrence is kept),
          ``opted out``;
        * ``row``: the row number as Excel shows it (the header is in row 1 of a plain
          sheet; for a CSV the record number counting the header as 1; for a DataFrame the
          position + 2, as if it were written to a sheet with its header in row 1).

        The phone column itself is converted to text as the user saw it (a number cell
        ``13512346789.0`` becomes ``13512346789``). Other columns get pandas types
        (numbers, dates, ``str``); in CSV/text files every column stays text. Spaces around
        text cells are removed. If the source already had a column named ``phone``,
        ``phone_problem`` or ``row`` that is not from an earlier ``read_contacts``, it is
        kept as ``<name>_original``. Reading a frame that ``read_contacts`` produced checks
        it again (useful with a new ``suppress`` list) and keeps its earlier problems.

    Raises:
        InputError: missing file, unsupported type, encrypted or corrupt workbook, empty
            sheet, unknown sheet name, or no phone column; each names the file.

    >>> df = pd.DataFrame({"姓名": ["张三", "李四", "王五"],
    ...                    "手机": ["135 1234 6789", "1.35123E+10", "+86 135-1234-6789"]})
    >>> read_contacts(df)[["phone", "phone_problem", "row"]]
             phone                                phone_problem  row
    0  13512346789                                          NaN    2
    1          NaN  digits lost in the spreadsheet: 1.35123E+10    3
    2  13512346789                           duplicate of row 2    4
    """
    if isinstance(source, pd.DataFrame):
        _no_duplicate_names(list(source.columns), _("the DataFrame"))
        frame, rows, where = _from_dataframe(source)
        attrs: dict[str, Any] = {"source": "DataFrame", "blank_rows_skipped": 0}
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        where = f"'{path}'"
        table = read_file(path, sheet_name)
        if header != "auto" and not (
            header is None or (isinstance(header, int) and not isinstance(header, bool))
        ):
            raise InputError(
                _(
                    "header={header!r}: give the 0-based non-blank row of the column names, "
                    "None for a file without one, or 'auto' (the default)."
                ).format(header=header)
            )
        frame, rows, skipped, phone_column, notes = _table_to_frame(
            table, header, where, phone_column
        )
        attrs = {"source": str(path), "blank_rows_skipped": skipped, "notes": notes}
        for note in notes:
            warnings.warn(note, InputWarning, stacklevel=2)
    else:
        raise InputError(
            _(
                "read_contacts: source must be a file path (str or pathlib.Path) or a pandas "
                "DataFrame, not {kind}. Build a frame first, e.g. "
                "pd.DataFrame({{'手机': numbers}})."
            ).format(kind=type(source).__name__)
        )
    return _check_numbers(frame, rows, where, phone_column, suppress, attrs)


# ------------------------------------------------------------- rows of cells -> a frame


def _table_to_frame(
    table: Table, header: int | str | None, where: str, phone_column: str | int | None
) -> tuple[pd.DataFrame, np.ndarray, int, Any, list[str]]:
    """The frame, the sheet row number of each of its rows, how many blank rows were skipped
    between the header and the last contact, the phone column (already text) and notes on
    how the sheet was read."""
    cells, table.cells = table.cells, []
    lengths = set(map(len, cells))
    width = max(lengths, default=0)
    if len(lengths) > 1:
        cells = [r + [""] * (width - len(r)) for r in cells]
    grid = np.empty((len(cells), width), dtype=object)
    grid[:] = cells
    # the grid holds the cells now; dropping the row lists early spares the garbage
    # collector from walking 100,000 of them on every full collection below
    del cells
    blank = np.zeros(grid.shape, dtype=bool)
    for j in range(width):
        column = grid[:, j]
        if pd.api.types.infer_dtype(column, skipna=False) == "string":
            grid[:, j] = column = object_array(list(map(str.strip, column)))
        else:
            grid[:, j] = column = object_array(
                [v.strip() if v.__class__ is str else v for v in column]
            )
        blank[:, j] = (column == "") | pd.isna(column)
    filled = np.flatnonzero(~blank.all(axis=1))
    if len(filled) == 0:
        raise InputError(
            _("{where} has no data: the sheet is empty. Pick the right sheet or file.").format(
                where=where
            )
        )

    notes: list[str] = []
    row: int | None = header if not isinstance(header, str) else 0
    if header == "auto":
        example = _data_in_row(grid[filled[0]][~blank[filled[0]]])
        if example is not None:
            row = None
            at = int(filled[0]) + 1
            notes.append(
                _(
                    "{where}: row {row} holds data ({example}), not column names, so the file "
                    "was read without a header row: row {row} is a contact and the columns are "
                    "numbered 0, 1, …. If it really is the header, give its columns names that "
                    "are not numbers (or pass {header})."
                ).format(where=_capital(where), row=at, example=example, header=say("header", 0))
            )
    spread: set[int] = set()
    if row is None:
        labels: list[Any] = ["\0"] * width
        last_header = -1
        body = filled
    else:
        if not 0 <= row < len(filled):
            raise InputError(
                ngettext(
                    "{where} has {n} non-blank row, so {given} is past the end; use {first} for "
                    "a header in the first row, or {none} for none.",
                    "{where} has {n} non-blank rows, so {given} is past the end; use {first} for "
                    "a header in the first row, or {none} for none.",
                    len(filled),
                ).format(
                    where=where,
                    n=len(filled),
                    given=say("header", row),
                    first=say("header", 0),
                    none=say("header", None),
                )
            )
        first = 1 if row == 0 and _is_title(blank, filled) else row
        labels, first, spread = _labels(grid, blank, filled, first, table.merged, width)
        last_header = int(filled[first])
        body = filled[first + 1 :]
    if len(body) == 0:
        raise InputError(
            _(
                "{where} has column names but no contacts below them; check the sheet or {none}."
            ).format(where=where, none=say("header", None))
        )
    # a column with neither a name nor any data is spreadsheet formatting, not a column
    keep = [j for j in range(width) if not (labels[j] == "\0" and blank[body, j].all())]
    if row is None:
        names: list[Any] = list(range(len(keep)))
    else:
        texts = [_label_text(labels[j], j) for j in keep]
        # a merged header cell spread over several columns repeats its name legitimately
        typed = [(t, j) for t, j in zip(texts, keep, strict=True) if j not in spread]
        _no_duplicate_names(
            [t for t, _j in typed], where, [_column_letter(j) for _t, j in typed]
        )
        names = _unique_names(texts)
    raw = {name: (grid[body, j], blank[body, j]) for name, j in zip(names, keep, strict=True)}
    if row is None and isinstance(phone_column, str) and phone_column.isdigit():
        phone_column = int(phone_column)  # numbered columns, named from the command line
    if phone_column is None:
        phone_column = _find_phone_column(
            list(raw), lambda c: pd.Series(raw[c][0][~raw[c][1]][:200], dtype=object), where
        )
    elif phone_column not in raw:
        raise InputError(
            _("{given} is not a column of {where}; columns: {columns}.").format(
                given=say("phone_column", phone_column),
                where=where,
                columns=", ".join(map(str, raw)),
            )
        )
    data = {
        name: _as_text(pd.Series(np.where(missing, None, values), dtype=object))
        if name == phone_column
        else _column(values, missing)
        for name, (values, missing) in raw.items()
    }
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(body)))
    skipped = int(body[-1] - last_header - len(body))
    return frame, body + 1, skipped, phone_column, notes


def _data_in_row(cells: np.ndarray) -> str | None:
    """The cell that shows a would-be header row is data (a mainland mobile number, else
    the first cell when every cell is a whole number), or None for a real header."""
    texts = _as_text(pd.Series(cells, dtype=object))
    valid = normalise_phones(texts)["phone"].notna().to_numpy()
    if valid.any():
        return str(texts[int(np.argmax(valid))])
    if len(texts) and all(t.isascii() and t.isdigit() for t in texts):
        return str(texts[0])
    return None


def _is_title(blank: np.ndarray, filled: np.ndarray) -> bool:
    """A single filled cell above a row with several: a title such as ``会员名单``."""
    if len(filled) < 3:
        return False
    return int((~blank[filled[0]]).sum()) == 1 and int((~blank[filled[1]]).sum()) >= 2


def _labels(
    grid: np.ndarray,
    blank: np.ndarray,
    filled: np.ndarray,
    first: int,
    merged: Sequence[tuple[tuple[int, int], tuple[int, int]]],
    width: int,
) -> tuple[list[Any], int, set[int]]:
    """Column labels from the header row (merged cells spread over their columns).

    Returns the labels, the position in ``filled`` of the last header row and the columns
    whose label came from a merged cell spread over several columns. An empty label
    is ``"\\0"`` (replaced by ``Unnamed: j`` later, or the column is dropped if it is empty).
    """
    r = int(filled[first])
    labels: list[Any] = [grid[r, j] if not blank[r, j] else "\0" for j in range(width)]
    spread: set[int] = set()
    for (r0, c0), (r1, c1) in merged:
        if r0 <= r <= r1 and c1 > c0:
            for j in range(c0, min(c1, width - 1) + 1):
                labels[j] = grid[r0, c0] if not blank[r0, c0] else labels[j]
                spread.add(j)
    if spread and first + 1 < len(filled):
        nxt = int(filled[first + 1])
        sub = [j for j in range(width) if not blank[nxt, j]]
        looks_like_labels = all(
            isinstance(grid[nxt, j], str) and not any(ch.isdigit() for ch in grid[nxt, j])
            for j in sub
        )
        if nxt == r + 1 and sub and set(sub) <= spread and looks_like_labels:
            for j in sub:
                labels[j] = grid[nxt, j]
            return labels, first + 1, spread - set(sub)
    return labels, first, spread


def _column_letter(j: int) -> str:
    """``0`` → ``A``, ``26`` → ``AA`` (as Excel names columns)."""
    letters = ""
    j += 1
    while j:
        j, rest = divmod(j - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _no_duplicate_names(
    names: Sequence[Any], where: str, places: Sequence[str] | None = None
) -> None:
    """InputError naming every column name used more than once (and where, for files)."""
    seen: dict[Any, list[int]] = {}
    for i, name in enumerate(names):
        seen.setdefault(name, []).append(i)
    twice = {name: at for name, at in seen.items() if len(at) > 1}
    if not twice:
        return
    shown = _("; ").join(
        _("'{name}' (columns {columns})").format(
            name=name, columns=", ".join(places[i] for i in at)
        )
        if places is not None
        else ngettext("'{name}' ({n} time)", "'{name}' ({n} times)", len(at)).format(
            name=name, n=len(at)
        )
        for name, at in twice.items()
    )
    raise InputError(
        _(
            "{where} has more than one column with the same name: {names}. Rename them so each "
            "column has its own name (e.g. 手机号码 and 手机号码2), then read the contacts again."
        ).format(where=_capital(where), names=shown)
    )


def _capital(where: str) -> str:
    """``where`` starting a sentence (``the DataFrame`` → ``The DataFrame``)."""
    return where[:1].upper() + where[1:]


def _label_text(label: Any, j: int) -> str:
    if isinstance(label, str):
        return f"Unnamed: {j}" if label == "\0" else label
    return cell_text(label)


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            candidate = f"{name}.{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}.{seen[name]}"
            seen[candidate] = 0
            out.append(candidate)
        else:
            seen[name] = 0
            out.append(name)
    return out


def _column(values: np.ndarray, missing: np.ndarray) -> pd.Series:
    """Cells of one column → a typed Series (as pandas would type them)."""
    values = values.copy()
    values[missing] = None
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("string", "empty"):
        return pd.Series(values, dtype="str")
    if kind in ("integer", "floating", "mixed-integer-float", "decimal"):
        numbers = pd.to_numeric(pd.Series(values, dtype=object)).astype("float64")
        arr = numbers.to_numpy()
        if not missing.any() and np.all(arr == np.floor(arr)) and np.all(np.abs(arr) < 2**53):
            return pd.Series(arr.astype("int64"))
        return numbers
    if kind in ("date", "datetime", "datetime64"):
        return pd.Series(pd.to_datetime(pd.Series(values, dtype=object)))
    if kind == "boolean" and not missing.any():
        return pd.Series(values.astype(bool))
    out = [
        int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2**53 else v for v in values
    ]
    return pd.Series(out, dtype=object)


# ------------------------------------------------------------------- numbers and problems


def _from_dataframe(df: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, str]:
    frame = df.copy(deep=False)
    if "row" in frame.columns and "phone_problem" in frame.columns:
        rows = pd.to_numeric(frame["row"], errors="coerce").to_numpy()
    else:
        rows = np.arange(len(frame)) + 2
    return frame, rows, _("the DataFrame")


def _normalised_header(label: object) -> str:
    text = unicodedata.normalize("NFKC", str(label)).lower()
    text = re.sub(r"\(必填\)|\(required\)|[\s*:_\-]", "", text)
    return text


def _find_phone_column(columns: list[Any], sample: Callable[[Any], pd.Series], where: str) -> Any:
    """The phone column by its header, else by its contents (``sample`` gives some values)."""
    columns = [c for c in columns if c not in ("phone_problem", "row")]

    def valid_share(column: Any) -> float:
        values = sample(column)
        if len(values) == 0:
            return 0.0
        return float(normalise_phones(values)["phone"].notna().mean())

    ranked = []
    for position, column in enumerate(columns):
        key = _normalised_header(column)
        if key in PHONE_HEADERS:
            ranked.append((0, PHONE_HEADERS.index(key), position, column))
        else:
            hints = [i for i, hint in enumerate(_HEADER_HINTS) if hint in key]
            if hints:
                ranked.append((1, hints[0], position, column))
    if ranked:
        ranked.sort(key=lambda t: (t[0], t[1], -valid_share(t[3]), t[2]))
        return ranked[0][3]
    shares = [(valid_share(c), -i, c) for i, c in enumerate(columns)]
    best = max(shares, key=lambda t: (t[0], t[1]), default=None)
    if best is not None and best[0] >= 0.5:
        return best[2]
    raise InputError(
        _(
            "No phone column found in {where}: no header looks like 手机号码/手机/电话/mobile/phone "
            "and no column mostly holds mainland mobile numbers. Columns: {columns}. "
            "Pass {flag}."
        ).format(
            where=where, columns=", ".join(map(str, columns)), flag=say("phone_column", "<name>")
        )
    )


def _suppressed(suppress: Iterable[object] | SuppressionSource | None) -> set[str]:
    if suppress is None:
        return set()
    if hasattr(suppress, "suppressed_phones"):
        return {str(p) for p in suppress.suppressed_phones()}
    items = [suppress] if isinstance(suppress, str | bytes) else list(suppress)
    checked = normalise_phones(pd.Series(items, dtype=object))
    lost = checked["phone_problem"].str.startswith(problem_parts(DIGITS_LOST)[0], na=False)
    if lost.any():
        shown = ", ".join(map(str, pd.Series(items, dtype=object)[lost].head(5)))
        n = int(lost.sum())
        raise InputError(
            ngettext(
                "The suppress list has {n} number whose digits were lost in a spreadsheet "
                "({numbers}); it cannot be matched safely. Fix the list (format the column as "
                "text) and try again.",
                "The suppress list has {n} numbers whose digits were lost in a spreadsheet "
                "({numbers}); they cannot be matched safely. Fix the list (format the column "
                "as text) and try again.",
                n,
            ).format(n=n, numbers=shown)
        )
    return set(checked["phone"].dropna())


def _check_numbers(
    frame: pd.DataFrame,
    rows: np.ndarray,
    where: str,
    phone_column: str | int | None,
    suppress: Iterable[object] | SuppressionSource | None,
    attrs: dict[str, Any],
) -> pd.DataFrame:
    again = "phone" in frame.columns and "phone_problem" in frame.columns
    if phone_column is None:
        phone_column = (
            "phone"
            if again
            else _find_phone_column(
                list(frame.columns), lambda c: frame[c].dropna().head(200), where
            )
        )
    elif phone_column not in frame.columns:
        raise InputError(
            _("{given} is not a column of {where}; columns: {columns}.").format(
                given=say("phone_column", phone_column),
                where=where,
                columns=", ".join(map(str, frame.columns)),
            )
        )
    earlier = frame["phone_problem"] if again else None
    text = _as_text(frame[phone_column])
    checked = normalise_phones(text)
    phone = checked["phone"].to_numpy(dtype=object)
    problem = checked["phone_problem"].to_numpy(dtype=object)
    if earlier is not None:
        problem = np.where(earlier.notna().to_numpy(), earlier.to_numpy(dtype=object), problem)
        phone = np.where(earlier.notna().to_numpy(), frame["phone"].to_numpy(dtype=object), phone)

    ok = pd.isna(problem) & ~pd.isna(phone)
    phones = pd.Series(phone, dtype=object)
    dup = ok & phones.where(ok).duplicated(keep="first").to_numpy()
    if dup.any():
        firsts = ok & ~dup
        first_row = pd.Series(rows[firsts], index=phone[firsts])
        head, tail = problem_parts(DUPLICATE)
        problem[dup] = head + phones[dup].map(first_row).astype("int64").astype(str) + tail
    blocked = _suppressed(suppress)
    if blocked:
        out = phones.isin(blocked).to_numpy() & (pd.isna(problem) | dup)
        problem[out] = problem_text(OPTED_OUT)

    result = frame.copy(deep=False)
    if not again:
        result, renames = keep_user_columns(result, _OUR_COLUMNS)
        phone_column = renames.get(phone_column, phone_column)
        result[phone_column] = text
    result["phone"] = pd.Series(phone, index=result.index, dtype="str")
    result["phone_problem"] = pd.Series(problem, index=result.index, dtype="str")
    if not again or "row" not in result.columns:
        result["row"] = pd.Series(rows, index=result.index).astype("int64")
    result.attrs = dict(frame.attrs)
    result.attrs.update(attrs, phone_column=phone_column)
    return result


def _as_text(column: pd.Series) -> pd.Series:
    """The phone column as the text the user saw (``13512346789.0`` → ``13512346789``)."""
    if column.dtype == "str":
        return column
    values = column.to_numpy(dtype=object)
    out = values.copy()
    other = np.fromiter((v.__class__ is not str for v in values), dtype=bool, count=len(values))
    floats = other & np.fromiter(
        (v.__class__ is float for v in values), dtype=bool, count=len(values)
    )
    if floats.any():  # exact 11-digit integers, vectorised; the rest below
        digits = integer_texts(values[floats].astype("float64"))
        done = np.flatnonzero(floats)[digits != ""]
        out[done] = digits[digits != ""]
        other[done] = False
    if other.any():
        out[other] = [None if is_missing(v) else cell_text(v) for v in values[other]]
    return pd.Series(out, index=column.index, dtype="str")
