"""Templates → the exact text each contact receives, with its length, parts and warnings.

Templates are Jinja2, rendered in a :class:`~jinja2.sandbox.SandboxedEnvironment` with
:class:`~jinja2.StrictUndefined`; every column of the frame is a variable (``{{ 姓名 }}``).
Contact values are data: a cell holding ``{{ config }}`` comes out literally.

How a value is shown when a placeholder prints it (both render paths use these rules):

* missing (None, NaN, NaT, NA) → nothing;
* an integer, or a float with an integral value → digits only (``1200.0`` → ``1200``);
* another float → Python's shortest form (``1200.5``);
* a date, or a datetime at midnight → ``YYYY-MM-DD``; another datetime → ``YYYY-MM-DD HH:MM``
  (``:SS`` added when the seconds are not zero); a time → ``HH:MM``;
* text → as it is.

Filters for Chinese SMS, beside Jinja's own (``upper``, ``truncate``, ``replace``, …):

* ``date(fmt='%Y-%m-%d')``: ``{{ 到期日 | date('%m月%d日') }}`` → ``06月30日``; ``%-m``/``%-d``/
  ``%-H`` drop the leading zero (``6月30日``). Accepts dates, datetimes and text such as
  ``2024-06-30``, ``2024/6/30``, ``2024年6月30日`` or ``20240630``.
* ``thousands(decimals=None)``: ``12345`` → ``12,345``; ``thousands(2)`` → ``12,345.00``.
* ``default(value)`` (alias ``d``): replaces a missing or blank cell (unlike Jinja's, which only
  replaces undefined names).
* ``mask(start=3, end=4, char='*')``: ``13512346789`` → ``135****6789``.

Speed: a template that only prints columns, optionally through ``default`` and ``mask``, is
rendered by concatenating whole columns (the *fast path*); anything else (``{% if %}``,
other filters, expressions) goes through Jinja row by row. Both give identical text.

Column names as placeholders: a placeholder is a Jinja name, so it is compared with each
column name as text (``str(column)``). A column whose name is not a valid name (a number such
as the ``0``/``1`` of ``header=None``, or text with spaces) cannot be printed: ``{{ 0 }}`` is
the literal 0. Rename such columns first (``df.rename(columns={0: "姓名"})``).

Text columns in comparisons: CSV/text files are read as text, so ``{% if 积分 > 500 %}``
compares text with a number and fails (the error names the column); convert in the template
with Jinja's ``int``/``float`` filters: ``{% if 积分 | int > 500 %}`` (an empty cell counts
as 0; text that is not a number, such as ``1,200``, also gives 0).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import jinja2
import numpy as np
import pandas as pd
from jinja2 import StrictUndefined, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from .errors import InputError
from .segments import (
    DEFAULT_RULES,
    SegmentRules,
    bracket_signature,
    count_arrays,
)

__all__ = [
    "DEFAULT_OPT_OUT",
    "MARKETING_WORDS",
    "OPT_OUT_WORDS",
    "TEMPLATE_SUFFIXES",
    "available_templates",
    "display_value",
    "load_template",
    "render",
    "template_dirs",
]

DEFAULT_OPT_OUT = "拒收请回复R"
TEMPLATE_SUFFIXES = (".txt", ".j2", ".jinja", ".jinja2", ".tpl")

#: Phrases that count as an opt-out (拒收请回复R, 回T退订, 回TD退订, 退订回N, …).
OPT_OUT_WORDS = ("退订", "拒收", "回T", "回复T", "unsubscribe")
#: Words that make a text marketing: a heuristic (promotions, coupons, events, sales).
MARKETING_WORDS = (
    "优惠", "折", "促销", "特价", "限时", "秒杀", "抢购", "福利", "红包", "券", "满减", "包邮",
    "低至", "钜惠", "狂欢", "抽奖", "大促", "上新", "新品", "会员日", "活动", "邀请", "邀您",
    "免费", "领取", "兑换", "sale", "promo",
)  # fmt: skip
_OPT_OUT = re.compile("|".join(map(re.escape, OPT_OUT_WORDS)), re.IGNORECASE)
_MARKETING = re.compile("|".join(map(re.escape, MARKETING_WORDS)), re.IGNORECASE)

OUTPUT_COLUMNS = ("content", "chars", "parts", "warnings", "sendable")
_FAST_FILTERS = ("default", "d", "mask")


# ----------------------------------------------------------------- showing a value


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return isinstance(value, np.datetime64) and np.isnat(value)


def _time_text(value: dt.time | dt.datetime) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def display_value(value: object) -> str:
    """How a placeholder shows a cell (the rules are in the module docstring).

    >>> display_value(1200.0), display_value(1200.5), display_value(None)
    ('1200', '1200.5', '')
    >>> display_value(pd.Timestamp("2024-06-30")), display_value(dt.datetime(2024, 6, 30, 9, 5))
    ('2024-06-30', '2024-06-30 09:05')
    """
    if isinstance(value, str):
        return value
    if _is_missing(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        return str(int(f)) if f.is_integer() and abs(f) < 1e16 else str(f)
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, dt.datetime):
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.strftime("%Y-%m-%d")
        return f"{value:%Y-%m-%d} {_time_text(value)}"
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.time):
        return _time_text(value)
    if isinstance(value, Decimal):
        return display_value(float(value)) if value == value.to_integral_value() else str(value)
    return str(value)


def _context_value(value: object) -> object:
    """A cell as Jinja sees it: missing → None, numpy scalars → Python ones."""
    if _is_missing(value):
        return None
    if isinstance(value, np.generic):
        return value.item() if not isinstance(value, np.datetime64) else pd.Timestamp(value)
    return value


# ------------------------------------------------------------------------- filters

_DATE_TEXT = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_COMPACT_DATE = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})\s*$")


def _as_datetime(value: object) -> dt.datetime | dt.date:
    if isinstance(value, dt.datetime | dt.date):
        return value
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value).to_pydatetime()
    if isinstance(value, str):
        match = _DATE_TEXT.match(value) or _COMPACT_DATE.match(value)
        if match:
            year, month, day = (int(g) for g in match.groups())
            rest = value[match.end() :].strip()
            try:
                base = dt.datetime(year, month, day)
                if rest:
                    clock = dt.time.fromisoformat(rest if len(rest) > 5 else rest + ":00")
                    base = dt.datetime.combine(base.date(), clock)
                return base
            except ValueError:
                pass
    raise ValueError(f"{value!r} is not a date")


def _date_filter(value: object, fmt: str = "%Y-%m-%d") -> str:
    if _is_missing(value) or (isinstance(value, str) and not value.strip()):
        return ""
    when = _as_datetime(value)
    for code, attr in (("%-m", "month"), ("%-d", "day"), ("%-H", "hour"), ("%-M", "minute")):
        if code in fmt:
            fmt = fmt.replace(code, str(getattr(when, attr, 0)))
    return when.strftime(fmt)


def _thousands_filter(value: object, decimals: int | None = None) -> str:
    if _is_missing(value) or (isinstance(value, str) and not value.strip()):
        return ""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = float(value.replace(",", "").strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None
    if decimals is None:
        return f"{int(number):,}" if number.is_integer() else f"{number:,}"
    return f"{number:,.{int(decimals)}f}"


def _default_filter(value: object, fallback: object = "", boolean: bool = False) -> object:
    """A missing or blank cell → ``fallback`` (``boolean`` is accepted for Jinja's spelling)."""
    if isinstance(value, jinja2.Undefined) or not display_value(value).strip():
        return fallback
    if boolean and not value:
        return fallback
    return value


def _mask_text(text: str, start: int = 3, end: int = 4, char: str = "*") -> str:
    if len(text) <= start + end:
        return text
    return text[:start] + char * (len(text) - start - end) + (text[-end:] if end else "")


def _mask_filter(value: object, start: int = 3, end: int = 4, char: str = "*") -> str:
    return _mask_text(display_value(value), start, end, char)


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, finalize=display_value, autoescape=False)
    env.filters.update(
        date=_date_filter,
        thousands=_thousands_filter,
        default=_default_filter,
        d=_default_filter,
        mask=_mask_filter,
    )
    return env


_ENV = _environment()


# ------------------------------------------------------------------- finding templates


def template_dirs() -> list[Path]:
    """Where a template named by file name is looked up, in order: ``./templates`` under the
    current folder, the repository's ``templates/`` folder, then the copies in the package."""
    here = Path(__file__).resolve()
    found: list[Path] = []
    for folder in (
        Path.cwd() / "templates",
        here.parents[1] / "templates",
        here.parent / "templates",
    ):
        if folder not in found:
            found.append(folder)
    return found


def available_templates() -> list[str]:
    """File names of the templates found in :func:`template_dirs` (first wins)."""
    names: dict[str, None] = {}
    for folder in template_dirs():
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() in TEMPLATE_SUFFIXES and path.is_file():
                    names.setdefault(path.name, None)
    return list(names)


def _read_template_file(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"Template '{path}' is neither UTF-8 nor GBK text; save it as UTF-8."
            ) from exc


def load_template(template: str | Path) -> tuple[str, str]:
    """``(source, label)`` for template text, a path, or a name under :func:`template_dirs`.

    A ``str`` is a file name when it has no line break and no ``{{``/``{%`` and either ends
    in a template suffix (``.txt``, ``.j2``, …) or is the stem of an available template;
    otherwise it is the template text itself.
    """
    if isinstance(template, str):
        looks_like_text = "\n" in template or "{{" in template or "{%" in template
        stems = {Path(n).stem: n for n in available_templates()}
        if looks_like_text or not (
            template.lower().endswith(TEMPLATE_SUFFIXES) or template in stems
        ):
            return template, "the template text"
        template = Path(stems.get(template, template))
    path = template.expanduser()
    candidates = [path] if path.is_absolute() or path.exists() else []
    if not path.is_absolute() and len(path.parts) == 1:
        candidates += [folder / path for folder in template_dirs()]
    for candidate in candidates:
        if candidate.is_file():
            return _read_template_file(candidate), f"template '{candidate}'"
    available = available_templates()
    raise InputError(
        f"Template '{template}' was not found (looked in: "
        f"{', '.join(str(d) for d in template_dirs())}). Available templates: "
        f"{', '.join(available) if available else '(none)'}."
    )


# ------------------------------------------------------------------------ rendering


def _compile(source: str, label: str) -> tuple[jinja2.Template, nodes.Template]:
    try:
        ast = _ENV.parse(source)
        return _ENV.from_string(ast), ast
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(
            f"{label.capitalize()} has a syntax error on line {exc.lineno}: {exc.message}"
        ) from exc


def _check_names(ast: nodes.Template, columns: Sequence[Any], label: str) -> dict[str, Any]:
    """``{placeholder: column}`` for every column the template uses (compared as text)."""
    names = meta.find_undeclared_variables(ast) - set(_ENV.globals)
    texts = [str(c) for c in columns]
    unknown = sorted(n for n in names if n not in texts)
    if unknown:
        listed = ", ".join(f"{{{{ {n} }}}}" for n in unknown)
        hints = [
            f" {{{{ {n} }}}} is the message render() writes, not an input column"
            + (
                f"; your own '{n}' column is kept as {n}_original: write {{{{ {n}_original }}}}."
                if f"{n}_original" in texts
                else "."
            )
            for n in unknown
            if n in OUTPUT_COLUMNS
        ]
        raise InputError(
            f"{label.capitalize()} uses {listed}, which {'is' if len(unknown) == 1 else 'are'} "
            f"not a column. Columns: {', '.join(texts)}. Rename the placeholder or "
            "the column." + "".join(hints)
        )
    twice = sorted(n for n in names if texts.count(n) > 1)
    if twice:
        raise InputError(
            f"{label.capitalize()} uses {', '.join(twice)}, but the frame has more than one "
            "column with that name; rename the duplicates."
        )
    shadowed = sorted(n for n in names if n in _READ_COLUMNS and f"{n}_original" in texts)
    if shadowed:
        raise InputError(
            f"{label.capitalize()} uses "
            + ", ".join(
                f"{{{{ {n} }}}}, which is the {_READ_COLUMNS[n]} read_contacts() added, while "
                f"your own '{n}' column was renamed {n}_original"
                for n in shadowed
            )
            + ". Write {{ "
            + "_original }} / {{ ".join(shadowed)
            + "_original }} for your column, or drop/rename the _original column if you meant "
            "the tool's."
        )
    numbered = sorted(
        {
            str(node.value)
            for output in ast.find_all(nodes.Output)
            for node in output.nodes
            if isinstance(node, nodes.Const)
            and isinstance(node.value, int)
            and str(node.value) in texts
        }
    )
    if numbered:
        raise InputError(
            f"{label.capitalize()} has "
            + ", ".join(f"{{{{ {n} }}}}" for n in numbered)
            + ", which prints the number itself, not the column of that name: a placeholder "
            "must be a name. Rename the column first, e.g. df.rename(columns={"
            + numbered[0]
            + ": '姓名'}), or read the file with its header row."
        )
    lookup = {str(c): c for c in columns}
    return {n: lookup[n] for n in sorted(names)}


_READ_COLUMNS = {"row": "row number", "phone": "checked number", "phone_problem": "number problem"}


def _unguarded_names(ast: nodes.Template) -> set[str]:
    """Names printed somewhere without a guard against an empty cell.

    Guarded uses: ``{{ x | default(…) }}`` (or ``d``), ``{{ x or … }}``, any use inside
    ``{% if x %}…{% endif %}`` / ``… if x else …`` (the test mentions the name), and the
    test itself (it is not printed). Jinja's ``or``/``if`` take a cell of spaces as filled;
    cells read from files are stripped, so that only matters for frames built by hand.
    """
    found: set[str] = set()

    def visit(node: nodes.Node, guarded: frozenset[str]) -> None:
        if isinstance(node, nodes.Name):
            if node.ctx == "load" and node.name not in guarded:
                found.add(node.name)
            return
        if isinstance(node, nodes.Filter) and node.name in ("default", "d"):
            if not isinstance(node.node, nodes.Name) and node.node is not None:
                visit(node.node, guarded)
            for child in (*node.args, *(k.value for k in node.kwargs)):
                visit(child, guarded)
            return
        if isinstance(node, nodes.Or):
            if not isinstance(node.left, nodes.Name):
                visit(node.left, guarded)
            visit(node.right, guarded)
            return
        if isinstance(node, nodes.If | nodes.CondExpr):
            names = [node.test, *node.test.find_all(nodes.Name)]  # find_all skips the node
            tested = guarded | {n.name for n in names if isinstance(n, nodes.Name)}
            for field, value in node.iter_fields():
                if field == "test":
                    continue
                for part in value if isinstance(value, list) else [value]:
                    if isinstance(part, nodes.Node):
                        visit(part, tested)
            return
        for sub in node.iter_child_nodes():
            visit(sub, guarded)

    visit(ast, frozenset())
    return found


def _empty_cell_warnings(
    frame: pd.DataFrame, used: dict[str, Any], ast: nodes.Template, out: np.ndarray
) -> np.ndarray:
    """Add ``empty <column>`` to the rows where a printed, unguarded column is blank."""
    unguarded = _unguarded_names(ast)
    for name, column in used.items():
        if name not in unguarded:
            continue
        shown = _display_column(cast(pd.Series, frame[column]))
        blank = np.fromiter((not v or v.isspace() for v in shown), dtype=bool, count=len(shown))
        out = _add_warning(out, blank, f"empty {name}")
    return out


def _arithmetic_names(ast: nodes.Template) -> list[str]:
    """Names compared or calculated with directly (``x > 500``, ``x + 1``), in order."""
    names: list[str] = []
    for node in ast.find_all((nodes.Compare, nodes.BinExpr, nodes.Operand)):
        for field in ("expr", "left", "right"):
            child = getattr(node, field, None)
            if isinstance(child, nodes.Name) and child.name not in names:
                names.append(child.name)
    return names


_Piece = tuple[str, Any, list[tuple[str, tuple[Any, ...]]]]


def _fast_plan(ast: nodes.Template) -> list[_Piece] | None:
    """The template as literal text and column substitutions, or None if it needs Jinja."""
    plan: list[_Piece] = []
    for node in ast.body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                plan.append(("text", child.data, []))
                continue
            if isinstance(child, nodes.Const):
                plan.append(("text", display_value(child.value), []))
                continue
            filters: list[tuple[str, tuple[Any, ...]]] = []
            while isinstance(child, nodes.Filter):
                if (
                    child.name not in _FAST_FILTERS
                    or child.kwargs
                    or child.dyn_args
                    or child.dyn_kwargs
                    or not all(isinstance(a, nodes.Const) for a in child.args)
                ):
                    return None
                filters.append((child.name, tuple(cast(nodes.Const, a).value for a in child.args)))
                inner = child.node
                if inner is None:
                    return None
                child = inner
            if not isinstance(child, nodes.Name):
                return None
            plan.append(("column", child.name, filters[::-1]))
    return plan


def _object_array(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _display_column(column: pd.Series) -> np.ndarray:
    """Vectorised :func:`display_value` over a column → object array of str."""
    dtype = column.dtype
    if pd.api.types.is_object_dtype(dtype):
        values = column.to_numpy(dtype=object)
        if pd.api.types.infer_dtype(values, skipna=True) == "string":
            return np.where(pd.isna(values), "", values)
        return np.array([display_value(v) for v in values], dtype=object)
    if pd.api.types.is_string_dtype(dtype):
        return column.to_numpy(dtype=object, na_value="")
    if pd.api.types.is_bool_dtype(dtype) and isinstance(dtype, np.dtype):
        return column.astype(bool).astype(str).to_numpy(dtype=object)
    if pd.api.types.is_integer_dtype(dtype) and isinstance(dtype, np.dtype):
        return _object_array(list(map(str, column.to_numpy().tolist())))
    if pd.api.types.is_float_dtype(dtype) and isinstance(dtype, np.dtype):
        values = column.to_numpy()
        out = np.full(len(values), "", dtype=object)
        finite = np.isfinite(values)
        whole = finite & (values == np.floor(values)) & (np.abs(values) < 1e16)
        out[whole] = list(map(str, values[whole].astype(np.int64).tolist()))
        other = ~whole & ~np.isnan(values)
        if other.any():
            out[other] = [display_value(v) for v in values[other].tolist()]
        return out
    if (isinstance(dtype, np.dtype) and dtype.kind == "M") or isinstance(dtype, pd.DatetimeTZDtype):
        codes, uniques = pd.factorize(column)
        shown = np.array([display_value(u) for u in uniques] + [""], dtype=object)
        return shown[codes]
    values = column.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) == "string":
        return np.where(pd.isna(values), "", values)
    return np.array([display_value(v) for v in values], dtype=object)


def _fast_render(df: pd.DataFrame, plan: list[_Piece]) -> tuple[np.ndarray, list[Any]]:
    """Whole-column rendering; returns the content and its pieces (text or arrays)."""
    pieces: list[Any] = []
    for kind, value, filters in plan:
        if kind == "text":
            pieces.append(value)
            continue
        piece = _display_column(cast(pd.Series, df[value]))
        for name, args in filters:
            if name in ("default", "d"):
                if len(args) > 1 and args[1]:
                    raise _NeedsJinja
                fallback = display_value(args[0]) if args else ""
                blank = np.fromiter((not v.strip() for v in piece), dtype=bool, count=len(piece))
                piece = np.where(blank, fallback, piece)
            else:
                piece = np.array([_mask_text(v, *args) for v in piece], dtype=object)
        pieces.append(piece)
    columns = [p for p in pieces if not isinstance(p, str)]
    if not columns:
        return np.full(len(df), "".join(pieces), dtype=object), pieces
    # one str.format call per row builds each message in a single allocation
    layout = "".join(
        p.replace("{", "{{").replace("}", "}}") if isinstance(p, str) else "{}" for p in pieces
    )
    content = np.empty(len(df), dtype=object)
    content[:] = list(map(layout.format, *columns))
    return content, pieces


class _NeedsJinja(Exception):
    """A filter argument the fast path does not cover; render with Jinja instead."""


def _jinja_render(
    df: pd.DataFrame,
    tpl: jinja2.Template,
    used: dict[str, Any],
    label: str,
    ast: nodes.Template,
) -> np.ndarray:
    columns = {
        n: [_context_value(v) for v in df[c].to_numpy(dtype=object)] for n, c in used.items()
    }
    rows = df["row"].to_numpy() if "row" in df.columns else np.arange(len(df)) + 2
    out = np.empty(len(df), dtype=object)
    for i in range(len(df)):
        context = {n: columns[n][i] for n in used}
        try:
            out[i] = tpl.render(context)
        except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError, KeyError) as exc:
            hint = _type_hint(ast, context) if isinstance(exc, TypeError) else ""
            raise InputError(
                f"{label.capitalize()} failed on row {rows[i]}: {str(exc).rstrip('.')}. "
                + (
                    hint
                    or "Fix that cell or the template (a default filter handles empty cells: "
                    "{{ x | default('…') }})."
                )
            ) from exc
    return out


def _type_hint(ast: nodes.Template, context: dict[str, Any]) -> str:
    """What to do when a comparison or sum met text or an empty cell (else ``""``)."""
    for name in _arithmetic_names(ast):
        value = context.get(name, 0)
        if isinstance(value, str) or value is None:
            what = f"holds the text {value!r}" if value is not None else "is empty"
            return (
                f"Column {name} {what} on this row; columns read from CSV/text files are "
                f"always text. Convert it in the template: {{% if {name} | int > 500 %}} "
                f"or {{{{ {name} | int + 1 }}}} (| float for decimals; an empty cell counts as 0)."
            )
    return ""


def _strip_and_normalise(content: np.ndarray) -> np.ndarray:
    if any("\r" in t for t in content if "\r" in t):
        content = _object_array([t.replace("\r\n", "\n").replace("\r", "\n") for t in content])
    return _object_array(list(map(str.strip, content)))


def render(
    df: pd.DataFrame,
    template: str | Path,
    *,
    signature: str | None = None,
    opt_out: bool | str | None = None,
    long_sms: bool = True,
    embed_signature: bool = False,
    rules: SegmentRules = DEFAULT_RULES,
) -> pd.DataFrame:
    """Render the message of every row and count what it will cost; the input is not changed.

    Args:
        df: contacts from :func:`~mobset_campaign.read_contacts` (needs its ``phone`` and
            ``phone_problem`` columns).
        template: template text, a :class:`~pathlib.Path`, or a file name found in
            ``templates/`` (see :func:`load_template`).
        signature: the account's signature without brackets (``"广州首易"``), counted as
            ``【广州首易】``. ``None`` means not known yet: lengths are counted without it and
            :func:`~mobset_campaign.estimate` warns (it can get it from the client).
        opt_out: ``True`` appends ``拒收请回复R``; a string appends that text; ``None`` adds
            nothing. It is part of the content (it is sent), and not added twice when the
            text already has it.
        long_sms: count as one long SMS (the default) or as separate 70-character messages.
        embed_signature: put ``【signature】`` at the start of ``content`` (for gateways that
            do not add it themselves); it is then counted once, as part of the content.
        rules: counting limits (:class:`~mobset_campaign.segments.SegmentRules`).

    Returns:
        A new frame with every original column and row, plus ``content`` (the text as sent,
        ``\\r\\n`` normalised, surrounding blank space removed), ``chars`` (counted with the
        signature and the opt-out text), ``parts`` (billed per number), ``warnings`` (short
        reasons joined by ``"; "``, or ``""``) and ``sendable`` (a number without problem,
        a non-empty text within ``rules.max_chars``). Rendering again replaces these columns.
        If the input has its own column with one of these names and is not the output of an
        earlier ``render`` (``attrs["sms"]`` set, or all five present), that column is kept
        as ``<name>_original`` (as :func:`~mobset_campaign.read_contacts` does for ``phone``
        and ``row``); the template reaches it as ``{{ content_original }}``.

        Rows where a column the template prints is missing or blank get the warning
        ``empty <column>`` (they stay sendable), unless every use of that column is guarded:
        ``{{ x | default('…') }}``, ``{{ x or '…' }}``, or inside ``{% if x %}``.

    Raises:
        InputError: unknown placeholder (named, with the columns), template syntax error,
            a cell a filter cannot use (with its row), a comparison of a text column with
            a number (naming the column and the ``| int`` fix), a frame without ``phone``,
            a template that is not text or a path, or a placeholder ``{{ row }}``/
            ``{{ phone }}``/``{{ phone_problem }}`` while the user's own column of that name
            was renamed ``<name>_original`` by ``read_contacts`` (ambiguous: write
            ``{{ row_original }}`` for the user's column, or drop that column).

    >>> from mobset_campaign.contacts import read_contacts
    >>> df = read_contacts(pd.DataFrame({"姓名": ["张三", "李四", "王五"],
    ...                                  "手机": ["13512346789", "13612345678", ""]}))
    >>> out = render(df, "{{ 姓名 }}您好，您的快递已到。", signature="广州首易")
    >>> out["content"].tolist()
    ['张三您好，您的快递已到。', '李四您好，您的快递已到。', '王五您好，您的快递已到。']
    >>> out["chars"].tolist(), out["parts"].tolist(), out["sendable"].tolist()
    ([18, 18, 18], [1, 1, 1], [True, True, False])
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(
            f"render() needs a DataFrame as its first argument, not {type(df).__name__}."
        )
    if "phone" not in df.columns or "phone_problem" not in df.columns:
        raise InputError(
            "render() needs the phone and phone_problem columns that read_contacts() adds; "
            "call read_contacts(df) first (it also accepts a DataFrame)."
        )
    if not isinstance(template, str | os.PathLike):
        shown = "None" if template is None else type(template).__name__
        raise InputError(f"render: template must be text, a path or a template name, not {shown}")
    source, label = load_template(template)
    tpl, ast = _compile(source, label)
    df = _keep_user_columns(df)
    columns = [c for c in df.columns if c not in OUTPUT_COLUMNS]
    used = _check_names(ast, columns, label)
    plan = _fast_plan(ast)
    content: np.ndarray | None = None
    pieces: list[Any] | None = None
    if plan is not None:
        try:
            content, pieces = _fast_render(
                df, [(k, used.get(v, v) if k == "column" else v, f) for k, v, f in plan]
            )
        except _NeedsJinja:
            content = None
    if content is None:
        content = _jinja_render(df, tpl, used, label, ast)
    content = _strip_and_normalise(content)

    suffix = DEFAULT_OPT_OUT if opt_out is True else (opt_out or "")
    suffix = suffix.strip() if isinstance(suffix, str) else ""
    if suffix:
        has = np.fromiter(
            map(str.__contains__, content, itertools.repeat(suffix)), dtype=bool, count=len(content)
        )
        content = np.where(has | (content == ""), content, content + suffix)
    sig = bracket_signature(signature, rules)
    if embed_signature and sig:
        body = content
        content = np.where(content == "", content, sig + content)
        counted_sig = ""
    else:
        body = content
        counted_sig = sig

    chars, parts, wide = count_arrays(content, counted_sig, long_sms=long_sms, rules=rules)
    empty = body == ""  # content is stripped
    too_long = chars > rules.max_chars
    typical = _typical_parts(parts, empty)
    warnings = _warnings(body, chars, parts, empty, too_long, wide, typical, rules)
    marketing = _marketing_mask(body, empty, pieces, bool(suffix))
    warnings = _add_warning(warnings, marketing, "marketing text without opt-out")
    warnings = _empty_cell_warnings(df, used, ast, warnings)
    result = df.copy(deep=False)
    result["content"] = pd.Series(content, index=df.index, dtype="str")
    result["chars"] = pd.Series(chars, index=df.index, dtype="int64")
    result["parts"] = pd.Series(parts, index=df.index, dtype="int64")
    result["warnings"] = pd.Series(warnings, index=df.index, dtype="str")
    ok_phone = df["phone"].notna().to_numpy() & df["phone_problem"].isna().to_numpy()
    result["sendable"] = pd.Series(ok_phone & ~empty & ~too_long, index=df.index, dtype=bool)
    result.attrs = dict(df.attrs)
    result.attrs.update(
        sms={
            "template": label,
            "signature": signature,
            "opt_out": suffix or None,
            "long_sms": long_sms,
            "embed_signature": bool(embed_signature and sig),
            "rules": rules,
            "typical_parts": typical,
            "fast_path": pieces is not None,
        },
    )
    return result


def _keep_user_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Rename the user's own ``content``/``chars``/… columns to ``<name>_original``.

    A frame from an earlier :func:`render` (``attrs["sms"]`` set, or all five output columns
    present) is left alone: rendering again replaces its output columns.
    """
    if df.attrs.get("sms") or all(c in df.columns for c in OUTPUT_COLUMNS):
        return df
    clashes = [c for c in OUTPUT_COLUMNS if c in df.columns]
    if not clashes:
        return df
    taken = {str(c) for c in df.columns}
    renames: dict[str, str] = {}
    for name in clashes:
        new, n = f"{name}_original", 2
        while new in taken:
            new, n = f"{name}_original{n}", n + 1
        taken.add(new)
        renames[name] = new
    return df.rename(columns=renames)


def _typical_parts(parts: np.ndarray, empty: np.ndarray) -> int:
    counted = parts[~empty]
    if len(counted) == 0:
        return 0
    values, counts = np.unique(counted, return_counts=True)
    return int(values[np.argmax(counts)])


def _add_warning(out: np.ndarray, mask: np.ndarray, text: str | np.ndarray) -> np.ndarray:
    if not mask.any():
        return out
    current = out[mask]
    out = out.copy()
    out[mask] = np.where(current == "", text, current + "; " + text)
    return out


def _warnings(
    body: np.ndarray,
    chars: np.ndarray,
    parts: np.ndarray,
    empty: np.ndarray,
    too_long: np.ndarray,
    wide: np.ndarray,
    typical: int,
    rules: SegmentRules,
) -> np.ndarray:
    n = len(body)
    out = np.full(n, "", dtype=object)
    out = _add_warning(out, empty, "empty message")
    if too_long.any():
        counts = chars[too_long].astype(str).astype(object)
        out = _add_warning(out, too_long, "too long: " + counts + f" chars (max {rules.max_chars})")
    pushed = ~empty & (parts > typical)
    if pushed.any():
        counts = parts[pushed].astype(str).astype(object)
        out = _add_warning(
            out, pushed, counts + f" parts where most rows have {typical} (personalisation)"
        )
    out = _add_warning(out, wide, "emoji/rare character (counts 2, some phones reject it)")
    joined = "".join(body)
    if "【" in joined or "】" in joined:
        brackets = np.fromiter(("【" in t or "】" in t for t in body), dtype=bool, count=n)
        out = _add_warning(out, brackets, "【】 in the text (reads as a signature)")
    return out


def _marketing_mask(
    body: np.ndarray, empty: np.ndarray, pieces: list[Any] | None, has_suffix: bool
) -> np.ndarray:
    """Rows whose text is marketing (:data:`MARKETING_WORDS`) without an opt-out phrase.

    On the fast path the template's literal text and each column's distinct values are
    searched once instead of every row; rows are only scanned one by one when the data
    itself brings the marketing words or the opt-out.
    """
    none = np.zeros(len(body), dtype=bool)
    if has_suffix or len(body) == 0:
        return none
    if pieces is not None:
        literal = "".join(p for p in pieces if isinstance(p, str))
        if _OPT_OUT.search(literal):
            return none
        data = ["\0".join(pd.unique(p)) for p in pieces if not isinstance(p, str)]
        data_marketing = any(_MARKETING.search(d) for d in data)
        data_opt_out = any(_OPT_OUT.search(d) for d in data)
        literal_marketing = _MARKETING.search(literal) is not None
        if not literal_marketing and not data_marketing:
            return none
        if literal_marketing and not data_opt_out:
            return ~empty
    return np.fromiter(
        (bool(_MARKETING.search(t)) and not _OPT_OUT.search(t) for t in body),
        dtype=bool,
        count=len(body),
    )
