"""Templates: where they are found, the Jinja2 environment they run in, and how a cell shows.

Templates are Jinja2, rendered in a :class:`~jinja2.sandbox.SandboxedEnvironment` with
:class:`~jinja2.StrictUndefined`; every column of the frame is a variable (``{{ 姓名 }}``).
Contact values are data: a cell holding ``{{ config }}`` comes out literally.

How a value is shown when a placeholder prints it (:func:`display_value`, and its vectorised
twin :func:`display_column`; both render paths use these rules):

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

A template is template text, a path, or a file name found in :func:`template_dirs`
(:func:`load_template`); four ship in ``templates/``.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
from jinja2 import StrictUndefined, meta, nodes
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from ._cells import cell_text, is_missing, object_array
from ._i18n import gettext as _
from .errors import InputError

__all__ = [
    "ENVIRONMENT",
    "TEMPLATE_SUFFIXES",
    "available_templates",
    "compile_template",
    "context_value",
    "display_column",
    "display_value",
    "free_names",
    "load_template",
    "mask_text",
    "template_dirs",
]

TEMPLATE_SUFFIXES = (".txt", ".j2", ".jinja", ".jinja2", ".tpl")


# ----------------------------------------------------------------- showing a value


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
    if is_missing(value):
        return ""
    if isinstance(value, bool | np.bool_ | int | np.integer | float | np.floating):
        return cell_text(value)  # as a spreadsheet shows it: 1200.0 is 1200
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


def context_value(value: object) -> object:
    """A cell as Jinja sees it: missing → None, numpy scalars → Python ones."""
    if is_missing(value):
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
    raise InputError(_("{value!r} is not a date").format(value=value))


def _date_filter(value: object, fmt: str = "%Y-%m-%d") -> str:
    if is_missing(value) or (isinstance(value, str) and not value.strip()):
        return ""
    when = _as_datetime(value)
    for code, attr in (("%-m", "month"), ("%-d", "day"), ("%-H", "hour"), ("%-M", "minute")):
        if code in fmt:
            fmt = fmt.replace(code, str(getattr(when, attr, 0)))
    return when.strftime(fmt)


def _thousands_filter(value: object, decimals: int | None = None) -> str:
    if is_missing(value) or (isinstance(value, str) and not value.strip()):
        return ""
    if isinstance(value, bool):
        raise InputError(_("{value!r} is not a number").format(value=value))
    try:
        number = float(value.replace(",", "").strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(_("{value!r} is not a number").format(value=value)) from None
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


def mask_text(text: str, start: int = 3, end: int = 4, char: str = "*") -> str:
    """``text`` with all but its first ``start`` and last ``end`` characters replaced by ``char``.

    Raises:
        InputError: ``start``/``end`` not whole numbers from 0 to 100, or ``char`` not text.
    """
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise InputError(
                _(
                    "mask({name}=…) must be a whole number from 0 to 100, not {value!r}: "
                    "{example} keeps the first 3 and the last 4 characters."
                ).format(name=name, value=value, example="{{ 手机 | mask(3, 4) }}")
            )
    if not isinstance(char, str):
        raise InputError(
            _("mask(char=…) must be text such as '*', not {value!r}.").format(value=char)
        )
    if len(text) <= start + end:
        return text
    return text[:start] + char * (len(text) - start - end) + (text[-end:] if end else "")


def _mask_filter(value: object, start: int = 3, end: int = 4, char: str = "*") -> str:
    return mask_text(display_value(value), start, end, char)


#: The longest text or list a template expression may build: far above any SMS (500
#: characters), far below what would exhaust memory (``{{ 'x' * 10**10 }}``).
MAX_BUILT = 100_000
#: The largest exponent ``**`` takes (``{{ 9 ** 9 ** 9 }}`` would compute for hours).
MAX_EXPONENT = 1_000


class _Sandbox(SandboxedEnvironment):
    """The sandbox, with ``*`` and ``**`` bounded: a template cannot make the run hang or
    exhaust memory (the error names the row like any other template error)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: object, right: object) -> object:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(
                    _("the exponent {exponent} is above {limit}; this is an SMS template").format(
                        exponent=right, limit=MAX_EXPONENT
                    )
                )
            return super().call_binop(context, operator, left, right)
        for seq, count in ((left, right), (right, left)):
            if (
                isinstance(seq, str | list | tuple)
                and isinstance(count, int)
                and len(seq) * count > MAX_BUILT
            ):
                raise SecurityError(
                    _(
                        "repeating a text or list {count} times would build {n:,} items (the "
                        "limit is {limit:,}); this is an SMS template"
                    ).format(count=count, n=len(seq) * count, limit=MAX_BUILT)
                )
        return super().call_binop(context, operator, left, right)


def _environment() -> SandboxedEnvironment:
    env = _Sandbox(undefined=StrictUndefined, finalize=display_value, autoescape=False)
    env.filters.update(
        date=_date_filter,
        thousands=_thousands_filter,
        default=_default_filter,
        d=_default_filter,
        mask=_mask_filter,
    )
    return env


ENVIRONMENT = _environment()
# the same sandbox without globals, only to list a template's names (its code generator
# folds constants: a plain Environment would compute {{ 'x' * 10**10 }} while looking)
_NAMES_ONLY = _environment()
_NAMES_ONLY.globals.clear()


def free_names(ast: nodes.Template) -> set[str]:
    """Every name the template reads without setting it, Jinja's globals included
    (``meta.find_undeclared_variables`` leaves those out, so a column named ``range`` would
    print the function instead of the column)."""
    tracker = meta.TrackingCodeGenerator(_NAMES_ONLY)
    tracker.visit(ast)
    return tracker.undeclared_identifiers


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
                _("Template '{path}' is neither UTF-8 nor GBK text; save it as UTF-8.").format(
                    path=path
                )
            ) from exc


def load_template(template: str | Path) -> tuple[str, str]:
    """``(source, label)`` for template text, a path, or a name under :func:`template_dirs`.

    A ``str`` is a file name when it has no line break and no ``{{``/``{%`` and either ends
    in a template suffix (``.txt``, ``.j2``, …) or is the stem of an available template;
    otherwise it is the template text itself. The label is in the language of messages.
    """
    if isinstance(template, str):
        looks_like_text = "\n" in template or "{{" in template or "{%" in template
        stems = {Path(n).stem: n for n in available_templates()}
        if looks_like_text or not (
            template.lower().endswith(TEMPLATE_SUFFIXES) or template in stems
        ):
            return template, _("the template text")
        template = Path(stems.get(template, template))
    path = template.expanduser()
    candidates = [path] if path.is_absolute() or path.exists() else []
    if not path.is_absolute() and len(path.parts) == 1:
        candidates += [folder / path for folder in template_dirs()]
    for candidate in candidates:
        if candidate.is_file():
            return _read_template_file(candidate), _("template '{path}'").format(
                path=candidate
            )
    available = available_templates()
    folders = ", ".join(str(d) for d in template_dirs())
    if not available:
        raise InputError(
            _(
                "Template '{template}' was not found (looked in: {folders}). No templates are "
                "available there."
            ).format(template=template, folders=folders)
        )
    raise InputError(
        _(
            "Template '{template}' was not found (looked in: {folders}). Available templates: "
            "{names}."
        ).format(template=template, folders=folders, names=", ".join(available))
    )


def compile_template(source: str, label: str) -> tuple[jinja2.Template, nodes.Template]:
    """The compiled template and its syntax tree; ``label`` names it in errors.

    Raises:
        InputError: a syntax error, with its line.
    """
    try:
        ast = ENVIRONMENT.parse(source)
        return ENVIRONMENT.from_string(ast), ast
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(
            _("{label} has a syntax error on line {line}: {error}").format(
                label=label[:1].upper() + label[1:], line=exc.lineno, error=exc.message
            )
        ) from exc


def display_column(column: pd.Series) -> np.ndarray:
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
        return object_array(list(map(str, column.to_numpy().tolist())))
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
