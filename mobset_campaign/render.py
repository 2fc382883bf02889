"""Templates → the exact text each contact receives, with its length, parts and warnings.

:func:`render` fills a template (see :mod:`mobset_campaign.templates` for the Jinja2
environment, the filters and how a cell shows) for every row, counts each message with the
signature (:mod:`mobset_campaign.segments`) and checks it (:mod:`mobset_campaign.checks`).

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

import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import jinja2
import numpy as np
import pandas as pd
from jinja2 import nodes
from jinja2.sandbox import SecurityError

from ._cells import object_array
from ._i18n import N_, ngettext
from ._i18n import gettext as _
from ._protocol import normalise_newlines
from .checks import Check, blank_cells, check_messages, marketing_mask
from .errors import InputError
from .rows import keep_user_columns
from .segments import DEFAULT_RULES, SegmentRules, bracket_signature, count_arrays
from .templates import (
    ENVIRONMENT,
    compile_template,
    context_value,
    display_column,
    display_value,
    free_names,
    load_template,
    mask_text,
)

__all__ = ["DEFAULT_OPT_OUT", "OUTPUT_COLUMNS", "render"]

DEFAULT_OPT_OUT = "拒收请回复R"
#: The columns render adds, in order.
OUTPUT_COLUMNS = ("content", "chars", "parts", "warnings", "sendable")
_FAST_FILTERS = ("default", "d", "mask")


# ------------------------------------------------------------------- the template's names


def _check_names(ast: nodes.Template, columns: Sequence[Any], label: str) -> dict[str, Any]:
    """``{placeholder: column}`` for every column the template uses (compared as text)."""
    texts = [str(c) for c in columns]
    # a column shadows Jinja's global of the same name (a column named range is the column)
    names = {n for n in free_names(ast) if n in texts or n not in ENVIRONMENT.globals}
    _no_printed_globals(ast, texts, label)
    unknown = sorted(n for n in names if n not in texts)
    if unknown:
        listed = ", ".join(f"{{{{ {n} }}}}" for n in unknown)
        hints = [
            " "
            + (
                _(
                    "{{{{ {name} }}}} is the message render() writes, not an input column; your "
                    "own '{name}' column is kept as {name}_original: write "
                    "{{{{ {name}_original }}}}."
                )
                if f"{n}_original" in texts
                else _("{{{{ {name} }}}} is the message render() writes, not an input column.")
            ).format(name=n)
            for n in unknown
            if n in OUTPUT_COLUMNS
        ]
        said = ngettext(
            "{label} uses {listed}, which is not a column. Columns: {columns}. Rename the "
            "placeholder or the column.",
            "{label} uses {listed}, which are not columns. Columns: {columns}. Rename the "
            "placeholders or the columns.",
            len(unknown),
        )
        raise InputError(
            said.format(label=label.capitalize(), listed=listed, columns=", ".join(texts))
            + "".join(hints)
        )
    twice = sorted(n for n in names if texts.count(n) > 1)
    if twice:
        raise InputError(
            _(
                "{label} uses {names}, but the frame has more than one column with that name; "
                "rename the duplicates."
            ).format(label=label.capitalize(), names=", ".join(twice))
        )
    shadowed = sorted(n for n in names if n in _READ_COLUMNS and f"{n}_original" in texts)
    if shadowed:
        which = ", ".join(
            _(
                "{{{{ {name} }}}}, which is the {what} read_contacts() added, while your own "
                "'{name}' column was renamed {name}_original"
            ).format(name=n, what=_(_READ_COLUMNS[n]))
            for n in shadowed
        )
        raise InputError(
            _(
                "{label} uses {which}. Write {originals} for your column, or drop/rename the "
                "_original column if you meant the tool's."
            ).format(
                label=label.capitalize(),
                which=which,
                originals=" / ".join(f"{{{{ {n}_original }}}}" for n in shadowed),
            )
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
            _(
                "{label} has {listed}, which prints the number itself, not the column of that "
                "name: a placeholder must be a name. Rename the column first, e.g. "
                "df.rename(columns={{{number}: '姓名'}}), or read the file with its header row."
            ).format(
                label=label.capitalize(),
                listed=", ".join(f"{{{{ {n} }}}}" for n in numbered),
                number=numbered[0],
            )
        )
    lookup = {str(c): c for c in columns}
    return {n: lookup[n] for n in sorted(names)}


_READ_COLUMNS = {
    "row": N_("row number"),
    "phone": N_("checked number"),
    "phone_problem": N_("number problem"),
}


def _no_printed_globals(ast: nodes.Template, texts: Sequence[str], label: str) -> None:
    """InputError for ``{{ dict }}``, ``{{ namespace }}``, ``{{ self }}``…: printing one of
    Jinja's own objects (not calling it) is a placeholder that meant a column."""
    printed = set()
    for output in ast.find_all(nodes.Output):
        for child in output.nodes:
            while isinstance(child, nodes.Filter) and child.node is not None:
                child = child.node
            if (
                isinstance(child, nodes.Name)
                and child.name not in texts
                and (child.name in ENVIRONMENT.globals or child.name in ("self", "loop", "caller"))
            ):
                printed.add(child.name)
    if printed:
        listed = ", ".join(f"{{{{ {n} }}}}" for n in sorted(printed))
        said = ngettext(
            "{label} prints {listed}: that is Jinja's own name, not a column, and would print a "
            "Python object into the SMS. Columns: {columns}. Rename the placeholder to the "
            "column you meant.",
            "{label} prints {listed}: those are Jinja's own names, not columns, and would print "
            "a Python object into the SMS. Columns: {columns}. Rename the placeholders to the "
            "columns you meant.",
            len(printed),
        )
        raise InputError(
            said.format(label=label.capitalize(), listed=listed, columns=", ".join(texts))
        )


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


# ------------------------------------------------------------------- the fast path


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


def _fast_plan(ast: nodes.Template, used: dict[str, Any]) -> list[_Piece] | None:
    """The template as literal text and column substitutions, or None if it needs Jinja
    (``used`` maps each placeholder that is a column to the column)."""
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
            if not isinstance(child, nodes.Name) or child.name not in used:
                return None
            plan.append(("column", used[child.name], filters[::-1]))
    return plan


def _fast_render(df: pd.DataFrame, plan: list[_Piece]) -> tuple[np.ndarray, list[Any]]:
    """Whole-column rendering; returns the content and its pieces (text or arrays)."""
    pieces: list[Any] = []
    for kind, value, filters in plan:
        if kind == "text":
            pieces.append(value)
            continue
        piece = display_column(cast(pd.Series, df[value]))
        for name, args in filters:
            if name in ("default", "d"):
                if len(args) > 1 and args[1]:
                    raise _NeedsJinja
                fallback = display_value(args[0]) if args else ""
                blank = np.fromiter((not v.strip() for v in piece), dtype=bool, count=len(piece))
                piece = np.where(blank, fallback, piece)
            else:
                piece = np.array([mask_text(v, *args) for v in piece], dtype=object)
        pieces.append(piece)
    columns = [p for p in pieces if not isinstance(p, str)]
    if not columns:
        content = np.empty(len(df), dtype=object)
        content.fill("".join(pieces))  # one text for every row: held once, not once a row
        return content, pieces
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
    columns = {n: [context_value(v) for v in df[c].to_numpy(dtype=object)] for n, c in used.items()}
    rows = df["row"].to_numpy() if "row" in df.columns else np.arange(len(df)) + 2
    out = np.empty(len(df), dtype=object)
    for i in range(len(df)):
        context = {n: columns[n][i] for n in used}
        try:
            out[i] = tpl.render(context)
        except Exception as exc:  # whatever a template does wrong is the template's error
            hint = _type_hint(ast, context) if isinstance(exc, TypeError) else ""
            if isinstance(exc, RecursionError | MemoryError | AssertionError | SecurityError):
                hint = _("Fix the template.")
            raise InputError(
                _("{label} failed on row {row}: {why}.").format(
                    label=label.capitalize(), row=rows[i], why=_why(exc)
                )
                + " "
                + (
                    hint
                    or _(
                        "Fix that cell or the template (a default filter handles empty cells: "
                        "{{{{ x | default('…') }}}})."
                    ).format()
                )
            ) from exc
    return out


def _why(exc: Exception) -> str:
    """A template failure in words (Jinja's own asserts and Python's limits say little)."""
    if isinstance(exc, RecursionError):
        return _("a macro calls itself without end (RecursionError)")
    if isinstance(exc, MemoryError):
        return _("the template built a text too large for memory")
    text = str(exc).rstrip(".")
    if isinstance(exc, AssertionError):  # e.g. truncate(-1): "expected length >= 3, got -1"
        return _("a filter was given an argument it cannot use ({reason})").format(
            reason=text or "assertion failed"
        )
    if isinstance(
        exc, jinja2.TemplateError | InputError | ArithmeticError | ValueError | TypeError
    ):
        return text
    return f"{text} ({type(exc).__name__})"


def _type_hint(ast: nodes.Template, context: dict[str, Any]) -> str:
    """What to do when a comparison or sum met text or an empty cell (else ``""``)."""
    for name in _arithmetic_names(ast):
        value = context.get(name, 0)
        if isinstance(value, str) or value is None:
            if value is None:
                said = _(
                    "Column {name} is empty on this row; columns read from CSV/text files are "
                    "always text. Convert it in the template: {{% if {name} | int > 500 %}} or "
                    "{{{{ {name} | int + 1 }}}} (| float for decimals; an empty cell counts as 0)."
                )
            else:
                said = _(
                    "Column {name} holds the text {value!r} on this row; columns read from "
                    "CSV/text files are always text. Convert it in the template: "
                    "{{% if {name} | int > 500 %}} or {{{{ {name} | int + 1 }}}} (| float for "
                    "decimals; an empty cell counts as 0)."
                )
            return said.format(name=name, value=value)
    return ""


def _distinct(content: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``codes, texts`` with ``texts[codes] == content``, each distinct text once. (A dict,
    not pandas' hash table: that caches a UTF-8 copy inside every Chinese string it
    hashes, which doubles its memory and changes what ``count_arrays`` measures.)"""
    seen: dict[str, int] = {}
    codes = np.fromiter(
        (seen.setdefault(t, len(seen)) for t in content), dtype=np.int64, count=len(content)
    )
    return codes, object_array(list(seen))


def _strip_and_normalise(content: np.ndarray) -> np.ndarray:
    if any(True for t in content if "\r" in t):  # the filter runs without a yield per row
        content = object_array([normalise_newlines(t) for t in content])
    return object_array(list(map(str.strip, content)))


def _encodable(
    content: np.ndarray,
    df: pd.DataFrame,
    used: dict[str, Any],
    label: str,
    parameters: dict[str, object],
) -> None:
    """InputError naming the row and column (or the parameter) of a character that cannot
    be sent: a lone surrogate (``\ud800``, left by a broken copy-paste or a damaged file)
    has no UTF-8 form, so the request could not even be built."""
    for name, value in parameters.items():
        if isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InputError(
                    _(
                        "render: {name}= holds a broken character ({character!r} at position "
                        "{position}) that no SMS can carry; type it again."
                    ).format(name=name, character=value[exc.start], position=exc.start + 1)
                ) from exc
    try:
        "\n".join(content).encode("utf-8")  # one pass in C over every message
        return
    except UnicodeEncodeError:
        pass
    rows = df["row"].to_numpy() if "row" in df.columns else np.arange(len(df)) + 2
    for i, text in enumerate(content):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = text[exc.start]
            where = [str(c) for c in used.values() if bad in display_value(df[c].iloc[i])]
            place = _("column {names}").format(names=", ".join(where)) if where else label
            raise InputError(
                _(
                    "Row {row}: {place} holds a broken character ({character!r}, half of a "
                    "character pair, as a damaged file or a bad copy-paste leaves) that no SMS "
                    "can carry. Retype that cell (or remove the character) and render again."
                ).format(row=rows[i], place=place, character=bad)
            ) from exc


# ------------------------------------------------------------------- render


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
        reasons in the language of messages, joined by ``"; "`` — ``"；"`` in Chinese — or
        ``""``) and ``sendable`` (a number without problem,
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
            _("render() needs a DataFrame as its first argument, not {type}.").format(
                type=type(df).__name__
            )
        )
    if "phone" not in df.columns or "phone_problem" not in df.columns:
        raise InputError(
            _(
                "render() needs the phone and phone_problem columns that read_contacts() adds; "
                "call read_contacts(df) first (it also accepts a DataFrame)."
            )
        )
    if not isinstance(template, str | os.PathLike):
        shown = "None" if template is None else type(template).__name__
        raise InputError(
            _("render: template must be text, a path or a template name, not {type}").format(
                type=shown
            )
        )
    source, label = load_template(template)
    tpl, ast = compile_template(source, label)
    if not (df.attrs.get("sms") or all(c in df.columns for c in OUTPUT_COLUMNS)):
        df = keep_user_columns(df, OUTPUT_COLUMNS)[0]  # not the output of an earlier render
    columns = [c for c in df.columns if c not in OUTPUT_COLUMNS]
    used = _check_names(ast, columns, label)
    plan = _fast_plan(ast, used)
    content: np.ndarray | None = None
    pieces: list[Any] | None = None
    if plan is not None:
        try:
            content, pieces = _fast_render(df, plan)
        except _NeedsJinja:
            content = None
    if content is None:
        content = _jinja_render(df, tpl, used, label, ast)
    content = _strip_and_normalise(content)

    suffix = DEFAULT_OPT_OUT if opt_out is True else (opt_out or "")
    suffix = suffix.strip() if isinstance(suffix, str) else ""
    # each distinct text once: a text shared by many rows is changed and held once
    codes, texts = _distinct(content)
    if suffix:
        has = np.fromiter(
            map(str.__contains__, texts, itertools.repeat(suffix)), dtype=bool, count=len(texts)
        )
        texts = np.where(has | (texts == ""), texts, texts + suffix)
    sig = bracket_signature(signature, rules)
    content = texts[codes]
    _encodable(content, df, used, label, {"signature": signature, "opt_out": suffix})
    body = content  # what the checks read: the text without an embedded signature
    counted_sig = sig
    if embed_signature and sig:
        content = np.where(texts == "", texts, sig + texts)[codes]
        counted_sig = ""

    chars, parts, wide = count_arrays(content, counted_sig, long_sms=long_sms, rules=rules)
    empty = body == ""  # content is stripped
    printed = _unguarded_names(ast)
    unguarded = {n: c for n, c in used.items() if n in printed}
    checks = check_messages(
        body,
        chars,
        parts,
        wide,
        rules,
        marketing=marketing_mask(body, empty, pieces, bool(suffix)),
        empty_cells=blank_cells(df, unguarded),
    )
    too_long = checks.masks[Check.TOO_LONG]
    result = df.copy(deep=False)
    result["content"] = pd.Series(content, index=df.index, dtype="str")
    result["chars"] = pd.Series(chars, index=df.index, dtype="int64")
    result["parts"] = pd.Series(parts, index=df.index, dtype="int64")
    result["warnings"] = pd.Series(checks.words(), index=df.index, dtype="str")
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
            "typical_parts": checks.typical,
            "fast_path": pieces is not None,
            "unguarded_columns": dict(unguarded),
        },
    )
    return result
