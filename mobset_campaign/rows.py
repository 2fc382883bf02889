"""Which row is which, and why a row is not sent — what send, merge, estimate and the export
agree on.

**One message per number.** Within a campaign a number receives at most one message, whatever
the frame's history (two lists concatenated, a ``phone_problem`` cleared by a script, a
second row added for the same number after the template was edited). The rows of a frame
that share a number are one *group*; :func:`assign_messages` gives the group's message to
one row and marks the others ``duplicate of row N`` (N: the row that has the message):

* when the number already has a message in the campaign, the row with exactly that text
  gets it (else the first row: the text was edited after it went out);
* otherwise the first row, in the frame's order, gets a new message.

A campaign may instead send several *different* texts to one number (``one_per_number=False``
in :func:`mobset_campaign.send`); then a group is one number with one text, and identical
(number, text) pairs are still never sent twice. The ledger checks the same rule again when
it registers the messages (:meth:`mobset_campaign.ledger.Ledger.register`).

**Message keys.** A message is registered under the number (:func:`phone_key`,
``13512346789``), or with several texts per number under the number plus ``#`` and an
8-hex-digit BLAKE2b hash of the text (``13512346789#347ca058`` for "hi"). A row with a
``phone_problem`` or without a number has no key and is never registered. Keys never depend
on the order of rows or on the frame's index, so re-reading, re-sorting, filtering or
re-rendering the sheet finds the same messages, and a text that went out is never sent again.

**Skip reasons.** :func:`skip_reasons` says, for every row, why it cannot be sent — as a
:class:`Skip` code and as words — in one order: a phone problem, no number, opted out, an
empty message, too long, not sendable, a duplicate of another row. Summaries count the codes;
the words, in the language of messages (:mod:`mobset_campaign.skips`), are written here only.

**Columns.** :func:`require_columns` names what a frame lacks and what it has;
:func:`keep_user_columns` renames a user's own column that clashes with one the package adds
to ``<name>_original``.
"""

from __future__ import annotations

import hashlib
import operator
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple, Protocol

import numpy as np
import pandas as pd

from ._cells import is_missing, object_array
from ._i18n import N_, ngettext
from ._i18n import gettext as _
from .errors import InputError
from .phones import problem_kind
from .segments import DEFAULT_RULES, SegmentRules
from .skips import Skip, SkipWords, not_registered

__all__ = [
    "Assignment",
    "FrameRows",
    "Known",
    "KnownMessages",
    "Skip",
    "SkipReasons",
    "assign_known",
    "assign_messages",
    "is_present",
    "keep_user_columns",
    "message_key",
    "not_registered",
    "phone_key",
    "require_columns",
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


def _digest(text: str) -> str:
    """An 8-hex-digit BLAKE2b hash of a row's text (stable across runs and machines)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=4).hexdigest()


def message_key(phone: str, text: str, *, one_per_number: bool = True) -> str:
    """The key a new message is registered under (see the module docstring).

    >>> message_key("13512346789", "hi"), message_key("13512346789", "hi", one_per_number=False)
    ('13512346789', '13512346789#347ca058')
    """
    return phone if one_per_number else f"{phone}#{_digest(text)}"


# ------------------------------------------------------------------------ a frame's rows


@dataclass(frozen=True)
class FrameRows:
    """What identifies each row of a frame, read once (see the module docstring).

    Attributes:
        phones: the phone key of each row, ``None`` where there is no number.
        problems: the ``phone_problem`` text, ``None`` where there is none.
        texts: the ``content`` as send() registers it (``""`` where missing).
        numbers: the row number a user sees: the ``row`` column ``read_contacts`` adds, else
            the position + 2 (as if written to a sheet under a header row).
    """

    phones: list[str | None]
    problems: list[str | None]
    texts: list[str]
    numbers: list[int]

    @classmethod
    def of(cls, df: pd.DataFrame) -> FrameRows:
        """The rows of ``df`` (needs a ``phone`` column; ``phone_problem``, ``content`` and
        ``row`` are used when present)."""
        require_columns(df, ("phone",), "row_keys")
        n = len(df)
        phones = _present_texts(df["phone"], None)
        odd = np.flatnonzero(~pd.isna(phones))
        odd = odd[~_plain_numbers(phones[odd])]  # only those need phone_key
        phones[odd] = [phone_key(v) or None for v in phones[odd].tolist()]
        problems: list[str | None] = [None] * n
        if "phone_problem" in df.columns:
            problems = _present_texts(df["phone_problem"], None).tolist()
        texts = _present_texts(df["content"], "").tolist() if "content" in df.columns else [""] * n
        numbers = list(range(2, n + 2))
        if "row" in df.columns:
            given = pd.to_numeric(df["row"], errors="coerce")
            if given.notna().all():
                numbers = given.astype("int64").tolist()
        return cls(phones.tolist(), problems, texts, numbers)


def _objects(values: Iterable[str]) -> np.ndarray:
    """An object array of the values (a Series without a Python loop)."""
    if isinstance(values, pd.Series | pd.Index):
        return values.to_numpy(dtype=object)
    return object_array(list(values))


def _plain_numbers(texts: np.ndarray) -> np.ndarray:
    """Which texts are exactly 11 ASCII digits (vectorised: fixed-width code points)."""
    if not len(texts):
        return np.zeros(0, dtype=bool)
    fixed = texts.astype("U12")  # longer texts are cut to 12 characters: not 11 either
    points = fixed.view(np.uint32).reshape(len(fixed), 12)
    digits = ((points[:, :11] >= ord("0")) & (points[:, :11] <= ord("9"))).all(axis=1)
    return digits & (points[:, 11] == 0)


def _present_texts(column: pd.Series, missing: str | None) -> np.ndarray:
    """A column as an object array of ``str``, ``missing`` where a cell is missing."""
    values = column.to_numpy(dtype=object).copy()
    present = ~pd.isna(values)
    values[~present] = None
    if column.dtype != "str":
        at = np.flatnonzero(present)
        values = values.copy()
        values[at] = [v if v.__class__ is str else str(v) for v in values[at].tolist()]
    if missing is not None:
        values = np.where(present, values, missing)
    return values


# ------------------------------------------------------------------------ messages of rows


class Known(NamedTuple):
    """A registered message as :func:`assign_messages` needs it: number and text."""

    phone: str
    content: str


@dataclass(frozen=True)
class KnownMessages:
    """A campaign's registered messages as three columns of equal length (key, number,
    text), for :func:`assign_messages` without a Python object per message
    (``merge_status`` passes the ledger's status frame this way)."""

    keys: np.ndarray
    phones: np.ndarray
    contents: np.ndarray

    @classmethod
    def of(
        cls, keys: Iterable[str], phones: Iterable[str], contents: Iterable[str]
    ) -> KnownMessages:
        return cls(_objects(keys), _objects(phones), _objects(contents))

    def as_dict(self) -> dict[str, Known]:
        """The same messages as a mapping of key → :class:`Known`."""
        return dict(zip(self.keys.tolist(), map(Known, self.phones, self.contents), strict=True))


class _HasText(Protocol):
    """A registered message: its number and the text registered for it."""

    @property
    def phone(self) -> str: ...  # pragma: no cover - protocol

    @property
    def content(self) -> str: ...  # pragma: no cover - protocol


class Assignment(NamedTuple):
    """Which message each row has (see :func:`assign_messages`)."""

    keys: list[str | None]  #: the key of the row's message; None: no message
    duplicate_of: list[int | None]  #: for a duplicate row, the number of the row that has it


def assign_messages(
    rows: FrameRows,
    known: Mapping[str, _HasText] | KnownMessages,
    *,
    one_per_number: bool = True,
    usable: Sequence[bool] | np.ndarray | None = None,
) -> Assignment:
    """Give each row the message it has or will have, one per number (or per number and
    text) — the rule is in the module docstring.

    ``known`` maps the campaign's registered keys to their messages, in registration order.
    ``usable`` marks the rows send() may register (all rows with a number and no phone
    problem, by default); the others get a message only when it is theirs already (say, a
    row opted out after it was sent), so :func:`mobset_campaign.merge_status` shows it.

    Whole columns at once (a million rows in about a second) when each number has at most
    one registered message (each number and text, with ``one_per_number=False``), which is
    what the ledger keeps; row by row otherwise (an old ledger, a hand-made ``known``).

    >>> rows = FrameRows(["135", "135", "136"], [None] * 3, ["hi", "hi 2", "yo"], [2, 3, 4])
    >>> assign_messages(rows, {})
    Assignment(keys=['135', None, '136'], duplicate_of=[None, 2, None])
    >>> assign_messages(rows, {"135": Known("135", "hi 2")}).duplicate_of
    [3, None, None]
    """
    return _assign(rows, known, one_per_number=one_per_number, usable=usable)[0]


def assign_known(
    rows: FrameRows,
    known: KnownMessages,
    *,
    one_per_number: bool = True,
    usable: Sequence[bool] | np.ndarray | None = None,
) -> tuple[Assignment, np.ndarray]:
    """:func:`assign_messages`, and for each row the position in ``known`` of its message
    (-1: none registered), which :func:`mobset_campaign.merge_status` looks its status up
    by.

    >>> known = KnownMessages.of(["136", "135"], ["136", "135"], ["yo", "hi"])
    >>> rows = FrameRows(["135", "135", "137"], [None] * 3, ["hi", "hi", "yo"], [2, 3, 4])
    >>> assign_known(rows, known)[1].tolist()
    [1, -1, -1]
    """
    return _assign(rows, known, one_per_number=one_per_number, usable=usable)


def _assign(
    rows: FrameRows,
    known: Mapping[str, _HasText] | KnownMessages,
    *,
    one_per_number: bool,
    usable: Sequence[bool] | np.ndarray | None,
) -> tuple[Assignment, np.ndarray]:
    """:func:`assign_known` for any ``known``."""
    n = len(rows.phones)
    phones = object_array(list(rows.phones))
    has_phone = ~pd.isna(phones)
    ok = has_phone & pd.isna(object_array(list(rows.problems)))
    late = ok.copy()  # rows send() would not register now, but whose message went out before
    if usable is not None:
        ok &= np.asarray(usable, dtype=bool)
    late &= ~ok
    texts = object_array(list(rows.texts))
    if isinstance(known, KnownMessages):
        known_keys, known_phones, known_texts = known.keys, known.phones, known.contents
    else:
        known_keys = object_array(list(known))
        known_phones = object_array([m.phone for m in known.values()])
        known_texts = object_array([m.content for m in known.values()])
    if one_per_number:
        groups, known_groups = phones, known_phones
    else:
        groups = _pairs(phones, texts, ok | late)
        known_groups = _pairs(known_phones, known_texts, np.ones(len(known_keys), dtype=bool))
    known_index = pd.Index(known_groups)
    if not known_index.is_unique:
        mapping = known.as_dict() if isinstance(known, KnownMessages) else known
        found = _assign_row_by_row(rows, mapping, one_per_number=one_per_number, usable=usable)
        where = pd.Index(known_keys).get_indexer(object_array(found.keys))
        return found, where

    keys = np.full(n, None, dtype=object)
    where = np.full(n, -1, dtype=np.int64)  # the position of each row's message in known
    duplicate_of = np.full(n, None, dtype=object)
    at = np.flatnonzero(ok)
    if len(at):
        message = known_index.get_indexer(groups[at])  # the group's message, -1: none yet
        has = message >= 0
        # a group code per row: its message's position, else a number after them all
        codes = np.where(has, message, 0)
        if not has.all():
            codes[~has] = len(known_keys) + pd.factorize(groups[at[~has]])[0]
        # the row holding the text that went out keeps the message, else the group's first
        same = np.zeros(len(at), dtype=bool)
        same[has] = texts[at[has]] == known_texts[message[has]]
        first = _first_per_group(codes, np.ones(len(at), dtype=bool))
        first_same = _first_per_group(codes, same)
        holder = np.where(first_same >= 0, first_same, first)  # per group, a position in at
        holders = holder[codes] == np.arange(len(at))
        held, their = at[holders], message[holders]
        keys[held[their >= 0]] = known_keys[their[their >= 0]]
        where[held[their >= 0]] = their[their >= 0]
        fresh = held[their < 0]
        keys[fresh] = [
            message_key(p, t, one_per_number=one_per_number)
            for p, t in zip(phones[fresh].tolist(), texts[fresh].tolist(), strict=True)
        ]
        numbers = np.asarray(rows.numbers, dtype=object)
        dup = at[~holders]
        duplicate_of[dup] = numbers[at[holder[codes[~holders]]]]
        taken = np.zeros(len(known_keys), dtype=bool)
        taken[their[their >= 0]] = True
    else:
        taken = np.zeros(len(known_keys), dtype=bool)
    later = np.flatnonzero(late)
    if len(later):
        message = known_index.get_indexer(groups[later])
        mine = message >= 0
        mine[mine] = ~taken[message[mine]]
        if not one_per_number:  # only the message with this very text is the row's
            mine[mine] = texts[later[mine]] == known_texts[message[mine]]
        found = later[mine]
        first = ~pd.Series(message[mine]).duplicated().to_numpy()  # the first row takes it
        keys[found[first]] = known_keys[message[mine][first]]
        where[found[first]] = message[mine][first]
    return Assignment(keys.tolist(), duplicate_of.tolist()), where


def _pairs(phones: np.ndarray, texts: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``phone`` + NUL + ``text`` where asked (a number and text as one group key)."""
    out = np.full(len(phones), None, dtype=object)
    idx = np.flatnonzero(where)
    out[idx] = [f"{p}\0{t}" for p, t in zip(phones[idx].tolist(), texts[idx].tolist(), strict=True)]
    return out


def _first_per_group(codes: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per group code, the first position where ``mask`` holds (-1: none)."""
    size = int(codes.max(initial=-1)) + 1
    first = np.full(size, len(codes), dtype=np.int64)
    positions = np.flatnonzero(mask)
    np.minimum.at(first, codes[positions], positions)
    first[first == len(codes)] = -1
    return first


def _assign_row_by_row(
    rows: FrameRows,
    known: Mapping[str, _HasText],
    *,
    one_per_number: bool = True,
    usable: Sequence[bool] | np.ndarray | None = None,
) -> Assignment:
    """:func:`assign_messages` one row at a time, for a ``known`` that holds several
    messages for one number (or number and text)."""
    n = len(rows.phones)
    ok = [
        rows.phones[i] is not None
        and rows.problems[i] is None
        and (usable is None or bool(usable[i]))
        for i in range(n)
    ]
    by_phone: dict[str, list[str]] = {}
    for key, message in known.items():
        by_phone.setdefault(message.phone, []).append(key)
    keys: list[str | None] = [None] * n
    duplicate_of: list[int | None] = [None] * n
    taken: set[str] = set()
    groups: dict[tuple[str, str], list[int]] = {}
    for i in range(n):
        if ok[i]:
            phone = str(rows.phones[i])
            groups.setdefault((phone, "" if one_per_number else rows.texts[i]), []).append(i)
    for (phone, text), members in groups.items():
        existing = [
            k for k in by_phone.get(phone, ()) if one_per_number or known[k].content == text
        ]
        free = list(members)
        holders = []
        for key in existing:
            match = next((i for i in free if rows.texts[i] == known[key].content), None)
            if match is not None:
                keys[match] = key
                free.remove(match)
                holders.append(match)
        if not holders:
            first = free.pop(0)
            keys[first] = (
                existing[0]
                if existing
                else message_key(phone, rows.texts[first], one_per_number=one_per_number)
            )
            holders.append(first)
        taken.update(str(keys[i]) for i in holders)
        for i in free:
            duplicate_of[i] = rows.numbers[min(holders)]
    # rows send() would not register now, but whose message went out before
    for i in range(n):
        if ok[i] or rows.phones[i] is None or rows.problems[i] is not None:
            continue
        mine = [k for k in by_phone.get(str(rows.phones[i]), ()) if k not in taken]
        same = [k for k in mine if known[k].content == rows.texts[i]]
        found = same or (mine if one_per_number else [])
        if found:
            keys[i] = found[0]
            taken.add(found[0])
    return Assignment(keys, duplicate_of)


def row_keys(df: pd.DataFrame, *, one_per_number: bool = True) -> pd.Series:
    """The key each row's message would be registered under in a new campaign (missing for
    a row that gets no message: no number, a phone problem, or a duplicate of another row).

    >>> row_keys(pd.DataFrame({"phone": ["13512346789", None, "13612346789", "13512346789"],
    ...                        "content": ["hi", "hi", "hi", "hello"]})).tolist()
    ['13512346789', nan, '13612346789', nan]
    """
    assignment = assign_messages(FrameRows.of(df), {}, one_per_number=one_per_number)
    return pd.Series(assignment.keys, index=df.index, dtype="str")


# ------------------------------------------------------------------------ skip reasons


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

    def with_duplicates(self, duplicate_of: Sequence[int | None]) -> SkipReasons:
        """These reasons, and ``duplicate of row N`` for each sendable row whose number's
        message another row has (see :func:`assign_messages`)."""
        kinds = self.kinds.copy()
        texts = self.texts.astype(object)
        others = object_array(list(duplicate_of))
        at = np.flatnonzero(~pd.isna(others) & pd.isna(kinds.to_numpy(dtype=object)))
        if len(at):
            kinds.iloc[at] = Skip.DUPLICATE
            texts.iloc[at] = SkipWords().duplicates(others[at].tolist())
        return replace(self, kinds=kinds, texts=texts.astype("str"))

    def refused(self, rows: Sequence[int]) -> SkipReasons:
        """These reasons, with the rows at the positions ``rows`` refused by the ledger
        (their number had a message in the campaign already)."""
        kinds = self.kinds.copy()
        texts = self.texts.astype(object)
        said = SkipWords().of(Skip.ALREADY_MESSAGED)
        for i in rows:
            kinds.iat[i] = Skip.ALREADY_MESSAGED
            texts.iat[i] = said
        return replace(self, kinds=kinds, texts=texts.astype("str"))

    def groups(self) -> dict[str, int]:
        """Rows not sent, counted by kind of reason, most common first: a phone problem
        counts under its own kind (``duplicate``, ``not a mainland mobile`` …)."""
        labels = [
            problem_kind(text) if kind in (Skip.PHONE, Skip.DUPLICATE) else str(kind)
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
    phones = object_array(list(rows.phones))
    has_problem = ~pd.isna(object_array(list(rows.problems)))
    no_phone = pd.isna(phones)
    opted = pd.Series(phones).isin(list(suppressed)).to_numpy(dtype=bool) & ~no_phone
    # blank: nothing left once stripped (no pandas hashing: it caches each text's UTF-8,
    # which changes the sizes segments reads non-BMP characters from)
    empty = np.fromiter(map(str.isspace, rows.texts), dtype=bool, count=n)
    empty |= np.fromiter(map(operator.not_, rows.texts), dtype=bool, count=n)
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
    words = SkipWords()  # in the language of messages, looked up once
    for mask, kind in reversed(checks):  # the first check that holds wins
        kinds[mask] = kind
        texts[mask] = words.of(kind)
    if has_problem.any():
        texts[has_problem] = np.array(rows.problems, dtype=object)[has_problem]
    unsendable = np.flatnonzero((kinds == Skip.TOO_LONG) | (kinds == Skip.NOT_SENDABLE))
    if len(unsendable):
        warnings = _texts(df["warnings"].iloc[unsendable]) if "warnings" in df.columns else []
        for k, i in enumerate(unsendable.tolist()):
            texts[i] = words.not_sendable(warnings[k].strip() if warnings else "")
    index = df.index
    return SkipReasons(
        kinds=pd.Series(kinds, index=index, dtype=object),
        texts=pd.Series(texts, index=index, dtype="str"),
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


#: What :func:`require_columns` advises by default (a message id, translated where said).
_READ_AND_RENDER = N_("Read it with read_contacts() and call render() first.")


def require_columns(
    df: object,
    columns: Sequence[str],
    where: str,
    *,
    hint: str | None = None,
) -> pd.DataFrame:
    """``df`` itself, after checking it is a DataFrame with every one of ``columns``.

    ``hint`` is said after what is missing, as given (translated by the caller); by default
    "Read it with read_contacts() and call render() first." in the language of messages.

    Raises:
        InputError: naming what is missing and what the frame has, then ``hint``.
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(
            _("{where}: expected a pandas DataFrame, got {type}.").format(
                where=where, type=type(df).__name__
            )
        )
    missing = [c for c in columns if c not in df.columns]
    if missing:
        said = ngettext(
            "{where}: the frame has no {columns} column (it has {have}).",
            "{where}: the frame has no {columns} columns (it has {have}).",
            len(missing),
        ).format(
            where=where,
            columns=", ".join(repr(c) for c in missing),
            have=", ".join(map(str, df.columns)),
        )
        hint = _(_READ_AND_RENDER) if hint is None else hint
        raise InputError(f"{said} {hint}" if hint else said)
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
