"""Which row is which, and why a row is not sent — what send, merge, estimate and the export
agree on.

**Row keys.** :func:`mobset_campaign.send` registers each sendable row as a message under a
key, and :func:`mobset_campaign.merge_status` finds the row's message again by the same key:

* A row with a ``phone_problem`` (e.g. ``read_contacts``' "duplicate of row N") or without a
  number has no key: it is never registered, and it never takes part in the numbering below,
  so the row ``read_contacts`` kept is always the plain number.
* A number on one keyed row: the key is the number (:func:`phone_key`, ``13512346789``).
* A number on several keyed rows (a frame built without ``read_contacts``' duplicate check):
  each row's key is the number plus ``#`` and an 8-hex-digit hash of its text (BLAKE2b, 4-byte
  digest: ``13512346789#347ca058`` for "hi"); rows with the same number *and* the same text
  add ``#2``, ``#3``… (such rows are interchangeable: their order cannot matter).

No key depends on the order of the rows, so this survives what users actually do between two
runs: re-reading the same spreadsheet, re-rendering the template, sorting or filtering rows,
adding new rows. For a number on one row the key ignores the text: a campaign texts each
row's person at most once, so editing the template after some messages went out never sends
those people a second copy (messages still pending take the new text). When a number gains
or loses a second row (so its key form changes), :func:`resolve_row_keys` matches the row to
the message with the same number and exactly the same text, so a text that went out is not
sent again. The frame's index is not used (it changes on re-reading).

**Skip reasons.** :func:`skip_reasons` says, for every row, why it cannot be sent — as a
:class:`Skip` code and as words — in one order: a phone problem, no number, opted out, an
empty message, too long, not sendable. Summaries count the codes; the words are written here
only.

**Columns.** :func:`require_columns` names what a frame lacks and what it has;
:func:`keep_user_columns` renames a user's own column that clashes with one the package adds
to ``<name>_original``.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Protocol

import numpy as np
import pandas as pd

from ._cells import is_missing
from .errors import InputError
from .phones import problem_kind
from .segments import DEFAULT_RULES, SegmentRules

__all__ = [
    "FrameRows",
    "Known",
    "RowIdentity",
    "Skip",
    "SkipReasons",
    "is_present",
    "keep_user_columns",
    "not_registered",
    "phone_key",
    "require_columns",
    "resolve_row_keys",
    "row_keys",
    "skip_reasons",
]


# ------------------------------------------------------------------------ phone keys


def phone_key(value: object) -> str:
    """A phone number as the ledger stores it: digits only, without a +86/0086/86 prefix.

    This is a storage key, not a check (:func:`mobset_campaign.normalise_phones` checks).

    >>> phone_key("+86 135-1234-6789"), phone_key("8613512346789")
    ('13512346789', '13512346789')
    """
    text = str(value)
    if len(text) == 11 and text.isascii() and text.isdigit():
        return text  # the common, already clean case
    text = unicodedata.normalize("NFKC", text).strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def is_present(value: object) -> bool:
    """Not None, NaN, NaT or NA (a list or any other object is present).

    >>> is_present(None), is_present(float("nan")), is_present(""), is_present([])
    (False, False, True, True)
    """
    return not is_missing(value)


def _texts(values: Iterable[object]) -> list[str]:
    return [str(v) if is_present(v) else "" for v in values]


# ------------------------------------------------------------------------ a frame's rows


@dataclass(frozen=True)
class FrameRows:
    """What identifies each row of a frame, computed once (see the module docstring).

    Attributes:
        phones: the phone key of each row, ``None`` where there is no number.
        problems: the ``phone_problem`` text, ``None`` where there is none.
        texts: the ``content`` as send() registers it (``""`` where missing).
        keys: the row key, ``None`` for a row that is never registered.
    """

    phones: list[str | None]
    problems: list[str | None]
    texts: list[str]
    keys: list[str | None]

    @classmethod
    def of(cls, df: pd.DataFrame) -> FrameRows:
        """The rows of ``df`` (needs a ``phone`` column; ``phone_problem`` and ``content``
        are used when present)."""
        require_columns(df, ("phone",), "row_keys")
        n = len(df)
        phones = [phone_key(v) or None if is_present(v) else None for v in df["phone"].tolist()]
        problems: list[str | None] = [None] * n
        if "phone_problem" in df.columns:
            problems = [str(v) if is_present(v) else None for v in df["phone_problem"].tolist()]
        texts = _texts(df["content"].tolist()) if "content" in df.columns else [""] * n
        return cls(phones, problems, texts, _keys(phones, problems, texts))

    def identities(self) -> list[RowIdentity]:
        """Each row as a :class:`RowIdentity` (key, phone, text)."""
        return [
            RowIdentity(k, p, t) for k, p, t in zip(self.keys, self.phones, self.texts, strict=True)
        ]


def _keys(
    phones: Sequence[str | None], problems: Sequence[str | None], texts: Sequence[str]
) -> list[str | None]:
    keyed = [
        None if trouble is not None else phone
        for phone, trouble in zip(phones, problems, strict=True)
    ]
    series = pd.Series(keyed, dtype=object)
    shared = (series.duplicated(keep=False) & series.notna()).to_numpy()
    keys: list[str | None] = list(keyed)
    if not shared.any():
        return keys
    seen: dict[tuple[str, str], int] = {}
    for i in np.flatnonzero(shared).tolist():
        phone, digest = str(keyed[i]), _digest(texts[i])
        seen[phone, digest] = k = seen.get((phone, digest), 0) + 1
        keys[i] = f"{phone}#{digest}" if k == 1 else f"{phone}#{digest}#{k}"
    return keys


def _digest(text: str) -> str:
    """An 8-hex-digit BLAKE2b hash of a row's text (stable across runs and machines)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=4).hexdigest()


def row_keys(df: pd.DataFrame) -> pd.Series:
    """The stable key of each row (the rule is in the module docstring).

    Rows without a phone or with a ``phone_problem`` get a missing key (they are never
    registered). A number on several rows is told apart by a hash of each row's
    ``content``, never by the rows' order.

    >>> row_keys(pd.DataFrame({"phone": ["13512346789", None, "13612346789", "13512346789"],
    ...                        "content": ["hi", "hi", "hi", "hello"]})).tolist()
    ['13512346789#347ca058', nan, '13612346789', '13512346789#ea6706f7']
    """
    return pd.Series(FrameRows.of(df).keys, index=df.index, dtype="str")


# ------------------------------------------------------------------------ matching keys


class RowIdentity(NamedTuple):
    """A row as the ledger knows it: its key, phone key and text."""

    key: str | None
    phone: str | None
    text: str


class Known(NamedTuple):
    """A registered message as :func:`resolve_row_keys` needs it: number and text."""

    phone: str
    content: str


class _HasText(Protocol):
    """A registered message: its number and the text registered for it."""

    @property
    def phone(self) -> str: ...  # pragma: no cover - protocol

    @property
    def content(self) -> str: ...  # pragma: no cover - protocol


def resolve_row_keys(
    rows: Sequence[RowIdentity],
    known: Mapping[str, _HasText],
    *,
    usable: Sequence[bool] | None = None,
) -> list[str | None]:
    """The key each row's message is (or will be) registered under.

    ``known`` maps the campaign's registered keys to their messages. A number on one row has
    the plain key, a number on several rows keys carrying a hash of the text, so adding a
    second row for a number (or removing one) changes the key form. A row whose key is not
    registered (or is registered with another text) takes the key of a message not yet
    taken to the same number with exactly the same text, so a text that went out is never
    sent again because of that change. Other rows keep their key.

    ``usable`` marks the rows send() registers (all, by default). Those are matched first;
    the others (say, a row opted out after it was sent) are then matched among the messages
    left, and get ``None`` when none is.

    >>> resolve_row_keys([RowIdentity("135#ab", "135", "hi"), RowIdentity("135#cd", "135", "new")],
    ...                  {"135": Known("135", "hi")})
    ['135', '135#cd']
    """
    if usable is None or all(usable):
        return _resolve(rows, known)
    first = _resolve(
        [r if ok else r._replace(key=None) for r, ok in zip(rows, usable, strict=True)], known
    )
    assigned = {k for k in first if k is not None}
    rest = {k: v for k, v in known.items() if k not in assigned}
    second = _resolve(
        [r._replace(key=None) if ok else r for r, ok in zip(rows, usable, strict=True)], rest
    )
    return [
        a if ok else (b if b not in assigned else None)
        for a, b, ok in zip(first, second, usable, strict=True)
    ]


def _resolve(rows: Sequence[RowIdentity], known: Mapping[str, _HasText]) -> list[str | None]:
    keys = [row.key for row in rows]
    need = [
        i
        for i, row in enumerate(rows)
        if row.key is not None and (row.key not in known or known[row.key].content != row.text)
    ]
    if not need or not known:
        return keys
    taken = {key for key in keys if key is not None and key in known}
    phones = {rows[i].phone for i in need}
    spare: dict[tuple[str, str], list[str]] = {}
    for key, message in known.items():
        if message.phone in phones and key not in taken:
            spare.setdefault((message.phone, message.content), []).append(key)
    if not spare:
        return keys
    for candidates in spare.values():
        candidates.sort(key=lambda k: (len(k), k), reverse=True)  # pop() gives the plainest
    for i in need:
        found = spare.get((str(rows[i].phone), rows[i].text))
        if found:
            keys[i] = found.pop()
    return keys


# ------------------------------------------------------------------------ skip reasons


class Skip(StrEnum):
    """Why a row is not sent, in the order the checks are made."""

    PHONE = "phone problem"  #: the row's ``phone_problem`` (read_contacts' check)
    NO_PHONE = "no phone number"
    OPTED_OUT = "opted out"  #: the number is on the suppression list
    EMPTY_MESSAGE = "empty message"
    TOO_LONG = "too long"  #: longer than the rules allow (``sendable`` is false)
    NOT_SENDABLE = "not sendable"  #: ``sendable`` is false for another reason


@dataclass(frozen=True)
class SkipReasons:
    """Why each row of a frame is not sent (see :func:`skip_reasons`).

    Attributes:
        kinds: a :class:`Skip` per row, missing where the row can be sent.
        texts: the reason in words (the text a merged frame's ``send_error`` shows).
    """

    kinds: pd.Series
    texts: pd.Series

    @property
    def sendable(self) -> pd.Series:
        """True where nothing stops the row."""
        return self.kinds.isna()

    def groups(self) -> dict[str, int]:
        """Rows not sent, counted by kind of reason, most common first: a phone problem
        counts under its own kind (``duplicate``, ``not a mainland mobile`` …)."""
        labels = [
            problem_kind(text) if kind == Skip.PHONE else str(kind)
            for kind, text in zip(self.kinds.tolist(), self.texts.tolist(), strict=True)
            if is_present(kind)
        ]
        counts = pd.Series(labels, dtype=object).value_counts(sort=True)
        return {str(k): int(v) for k, v in counts.items()}


def skip_reasons(
    df: pd.DataFrame,
    suppressed: Collection[str] = frozenset(),
    *,
    rows: FrameRows | None = None,
    sendable: np.ndarray | None = None,
    too_long: np.ndarray | None = None,
) -> SkipReasons:
    """Why each row cannot be sent (missing where it can).

    In order: the ``phone_problem`` text, "no phone number", "opted out" (the number is in
    ``suppressed``), "empty message", then for a row whose ``sendable`` is false "too long"
    (its ``chars`` are above ``rules.max_chars``) or "not sendable" — worded
    ``not sendable: <its warnings>`` when it has warnings.

    Args:
        df: a frame with a ``phone`` column (``phone_problem``, ``content``, ``sendable``,
            ``chars`` and ``warnings`` are used when present).
        suppressed: phone keys that must not be texted (the ledger's opt-out list).
        rows: :meth:`FrameRows.of` of ``df`` when the caller has it already.
        sendable: overrides the ``sendable`` column (estimate recounts it).
        too_long: overrides which rows are too long (estimate recounts it).

    >>> df = pd.DataFrame({"phone": ["13512346789", None, "13612345678", "13712345678"],
    ...                    "phone_problem": [None, "empty", None, None],
    ...                    "content": ["hi", "hi", " ", "hi"], "sendable": [True, False, True, False]})
    >>> skip_reasons(df).texts.tolist()
    [nan, 'empty', 'empty message', 'not sendable']
    """
    rows = rows if rows is not None else FrameRows.of(df)
    n = len(df)
    has_problem = np.fromiter((p is not None for p in rows.problems), dtype=bool, count=n)
    no_phone = np.fromiter((p is None for p in rows.phones), dtype=bool, count=n)
    opted = np.fromiter((p in suppressed for p in rows.phones), dtype=bool, count=n)
    empty = np.fromiter((not t.strip() for t in rows.texts), dtype=bool, count=n)
    if "content" not in df.columns:
        empty[:] = False
    if sendable is None:
        sendable = (
            df["sendable"].astype("boolean").fillna(False).to_numpy(dtype=bool)
            if "sendable" in df.columns
            else np.ones(n, dtype=bool)
        )
    if too_long is None:
        too_long = _too_long(df)
    blocked = ~np.asarray(sendable, dtype=bool)
    checks = [
        (has_problem, Skip.PHONE),
        (no_phone, Skip.NO_PHONE),
        (opted, Skip.OPTED_OUT),
        (empty, Skip.EMPTY_MESSAGE),
        (blocked & too_long, Skip.TOO_LONG),
        (blocked, Skip.NOT_SENDABLE),
    ]
    kinds = np.full(n, None, dtype=object)
    texts = np.full(n, None, dtype=object)
    for mask, kind in reversed(checks):  # the first check that holds wins
        kinds[mask] = kind
        texts[mask] = str(kind)
    if has_problem.any():
        texts[has_problem] = np.array(rows.problems, dtype=object)[has_problem]
    unsendable = np.flatnonzero((kinds == Skip.TOO_LONG) | (kinds == Skip.NOT_SENDABLE))
    if len(unsendable):
        warnings = _texts(df["warnings"].iloc[unsendable]) if "warnings" in df.columns else []
        for k, i in enumerate(unsendable.tolist()):
            said = warnings[k].strip() if warnings else ""
            texts[i] = f"{Skip.NOT_SENDABLE}: {said}" if said else str(Skip.NOT_SENDABLE)
    index = df.index
    return SkipReasons(
        kinds=pd.Series(kinds, index=index, dtype=object),
        texts=pd.Series(texts, index=index, dtype="str"),
    )


def not_registered(campaign: str | None) -> str:
    """Why a row that could be sent has no message in the ledger."""
    where = f"campaign {campaign!r}" if campaign is not None else "the campaign"
    return (
        f"not registered in {where} (send() has not been run with this row, or it was a dry run)"
    )


def _too_long(df: pd.DataFrame) -> np.ndarray:
    """Rows whose counted ``chars`` are above the limit ``render`` applied."""
    if "chars" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    settings = df.attrs.get("sms")
    rules = settings.get("rules") if isinstance(settings, dict) else None
    limit = (rules if isinstance(rules, SegmentRules) else DEFAULT_RULES).max_chars
    chars = pd.to_numeric(df["chars"], errors="coerce").to_numpy(dtype="float64", na_value=0)
    return chars > limit


# ------------------------------------------------------------------------ columns


def require_columns(
    df: object,
    columns: Sequence[str],
    where: str,
    *,
    hint: str = "Read it with read_contacts() and call render() first.",
) -> pd.DataFrame:
    """``df`` itself, after checking it is a DataFrame with every one of ``columns``.

    Raises:
        InputError: naming what is missing and what the frame has, then ``hint``.
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{where}: expected a pandas DataFrame, got {type(df).__name__}.")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"{where}: the frame has no {', '.join(repr(c) for c in missing)} column"
            f"{'s' if len(missing) > 1 else ''} (it has {', '.join(map(str, df.columns))}). "
            + hint
        )
    return df


def keep_user_columns(df: pd.DataFrame, names: Iterable[str]) -> tuple[pd.DataFrame, dict]:
    """Rename the user's own columns called like one the package is about to add.

    Each of ``names`` present in ``df`` becomes ``<name>_original`` (``_original2``, … when
    that is taken too). Returns the frame (the same object when nothing clashed) and the
    renames made.

    >>> out, renames = keep_user_columns(pd.DataFrame({"phone": [1], "status": [2]}), ["status"])
    >>> list(out.columns), renames
    (['phone', 'status_original'], {'status': 'status_original'})
    """
    clashes = [name for name in names if name in df.columns]
    if not clashes:
        return df, {}
    taken = {str(c) for c in df.columns}
    renames: dict[str, str] = {}
    for name in clashes:
        new, n = f"{name}_original", 2
        while new in taken:
            new, n = f"{name}_original{n}", n + 1
        taken.add(new)
        renames[name] = new
    return df.rename(columns=renames), renames
