"""Put the ledger's view of a campaign back beside the spreadsheet's rows.

**Row keys.** :func:`mobset_campaign.send` registers each sendable row under a key, and
:func:`merge_status` finds the row's message again by the same key. The rule:

* A row with a ``phone_problem`` (e.g. ``read_contacts``' "duplicate of row N") or without
  a number has no key: it is never registered, and it never takes part in the numbering
  below, so the row ``read_contacts`` kept is always the plain number.
* A number on one keyed row: the key is the normalised number (``13512346789``).
* A number on several keyed rows (a frame built without ``read_contacts``' duplicate check):
  each row's key is the number plus ``#`` and an 8-hex-digit hash of its text (BLAKE2b,
  4-byte digest: ``13512346789#347ca058`` for "hi"); rows with the same number *and* the
  same text add ``#2``, ``#3``… (such rows are interchangeable: their order cannot matter).

No key depends on the order of the rows, so this survives what users actually do between
two runs: re-reading the same spreadsheet, re-rendering the template, sorting or filtering
rows, adding new rows. For a number on one row the key ignores the text: a campaign texts
each row's person at most once, so editing the template after some messages went out never
sends those people a second copy (messages still pending take the new text). To send a new
text to the same people, use a new campaign name. When a number gains or loses a second row
(so its key form changes), the ledger matches the row to the message with the same number
and exactly the same text (see :func:`mobset_campaign.ledger.resolve_row_keys`), so a text
that went out is not sent again. The frame's index is not used (it changes on re-reading).
"""

from __future__ import annotations

import hashlib
from collections import Counter

import pandas as pd

from .errors import InputError
from .ledger import STATUS_FRAME_COLUMNS, Ledger, normalise_phone, resolve_row_keys

__all__ = ["merge_status", "row_keys", "skip_reasons"]

#: Columns merge_status adds, in order: the ledger's status columns less those that
#: describe the message itself (the frame already has its phone and content).
STATUS_COLUMNS = tuple(
    c for c in STATUS_FRAME_COLUMNS if c not in ("row_key", "phone", "content", "parts", "batch_id")
)


def _phones(df: pd.DataFrame) -> pd.Series:
    """The ``phone`` column normalised to digits, missing where there is no number."""

    def one(value: object) -> str | None:
        if not _present(value):
            return None
        text = str(value)
        if len(text) == 11 and text.isascii() and text.isdigit():
            return text  # the common, already clean case
        return normalise_phone(text) or None

    return pd.Series([one(v) for v in df["phone"].tolist()], index=df.index, dtype="object")


def row_keys(df: pd.DataFrame) -> pd.Series:
    """The stable key of each row (the rule is in the module docstring).

    Rows without a phone or with a ``phone_problem`` get a missing key (they are never
    registered). A number on several rows is told apart by a hash of each row's
    ``content``, never by the rows' order.

    >>> row_keys(pd.DataFrame({"phone": ["13512346789", None, "13612346789", "13512346789"],
    ...                        "content": ["hi", "hi", "hi", "hello"]})).tolist()
    ['13512346789#347ca058', nan, '13612346789', '13512346789#ea6706f7']
    """
    # Keys written before this rule numbered repeats by row order ("#2", "#3"); such a
    # pre-release ledger is matched by text where it can be (resolve_row_keys), otherwise
    # those rows count as new. There were no released users.
    _require(df, ("phone",), "row_keys")
    n = len(df)
    problem = df["phone_problem"].tolist() if "phone_problem" in df else [None] * n
    phones = [
        None if _present(trouble) else phone
        for phone, trouble in zip(_phones(df).tolist(), problem, strict=True)
    ]
    rows = Counter(p for p in phones if p is not None)
    content = df["content"].tolist() if "content" in df else [None] * n
    seen: dict[tuple[str, str], int] = {}
    values: list[str | None] = []
    for phone, text in zip(phones, content, strict=True):
        if phone is None:
            values.append(None)
        elif rows[phone] == 1:
            values.append(phone)
        else:
            digest = _digest(text)
            seen[phone, digest] = k = seen.get((phone, digest), 0) + 1
            values.append(f"{phone}#{digest}" if k == 1 else f"{phone}#{digest}#{k}")
    return pd.Series(values, index=df.index, dtype="str")


def _digest(text: object) -> str:
    """An 8-hex-digit BLAKE2b hash of a row's text (stable across runs and machines)."""
    data = str(text).encode("utf-8") if _present(text) else b""
    return hashlib.blake2b(data, digest_size=4).hexdigest()


def _key_list(keys: pd.Series) -> list[str | None]:
    """Row keys as a list, ``None`` where missing."""
    return [None if pd.isna(k) else str(k) for k in keys.tolist()]


def _resolve(
    keys: list[str | None],
    phones: list[str | None],
    texts: list[str],
    usable: list[bool],
    known: dict[str, tuple[str, str]],
) -> list[str | None]:
    """The key each row's message is registered under, as :func:`mobset_campaign.send`
    resolved it: the sendable rows first (exactly the rows send() registers), then the
    others (e.g. a row opted out after it was sent) among the messages left."""
    first = resolve_row_keys(
        [
            (k if ok else None, p, t)
            for k, p, t, ok in zip(keys, phones, texts, usable, strict=True)
        ],
        known,
    )
    assigned = {k for k in first if k is not None}
    if len(assigned) == len(keys) or all(usable):
        return first
    rest = {k: v for k, v in known.items() if k not in assigned}
    second = resolve_row_keys(
        [
            (None if ok else k, p, t)
            for k, p, t, ok in zip(keys, phones, texts, usable, strict=True)
        ],
        rest,
    )
    return [
        a if ok else (b if b not in assigned else None)
        for a, b, ok in zip(first, second, usable, strict=True)
    ]


def _texts(df: pd.DataFrame) -> list[str]:
    """The ``content`` column as the sender registers it (``""`` where missing)."""
    if "content" not in df:
        return [""] * len(df)
    return [str(v) if _present(v) else "" for v in df["content"].tolist()]


def skip_reasons(
    df: pd.DataFrame, suppressed: set[str] | frozenset[str] = frozenset()
) -> pd.Series:
    """Why each row cannot be sent (missing where it can).

    In order: the ``phone_problem`` text (or "no phone number"), "opted out" (the number is
    in ``suppressed``), "empty message", "not sendable" (``sendable`` is false; the row's
    ``warnings`` are added when there are any).
    """
    n = len(df)
    reasons: list[str | None] = [None] * n
    phones = _phones(df).tolist()
    problem = df["phone_problem"].tolist() if "phone_problem" in df else [None] * n
    content = df["content"].tolist() if "content" in df else [""] * n
    sendable = df["sendable"].tolist() if "sendable" in df else [True] * n
    warnings = df["warnings"].tolist() if "warnings" in df else [None] * n
    for i in range(n):
        if _present(problem[i]):
            reasons[i] = str(problem[i])
        elif phones[i] is None:
            reasons[i] = "no phone number"
        elif phones[i] in suppressed:
            reasons[i] = "opted out"
        elif not _present(content[i]) or not str(content[i]).strip():
            reasons[i] = "empty message"
        elif not _truthy(sendable[i]):
            text = _warning_text(warnings[i])
            reasons[i] = f"not sendable: {text}" if text else "not sendable"
    return pd.Series(reasons, index=df.index, dtype="str")


def _present(value: object) -> bool:
    if value is None:
        return False
    try:
        return not bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return True  # a list or similar: present


def _truthy(value: object) -> bool:
    return _present(value) and bool(value)


def _warning_text(value: object) -> str:
    if isinstance(value, (list, tuple, set)):
        return "; ".join(str(v) for v in value if _present(v))
    return str(value) if _present(value) and str(value).strip() else ""


def _require(df: pd.DataFrame, columns: tuple[str, ...], where: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{where}: expected a pandas DataFrame, got {type(df).__name__}.")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"{where}: the frame has no {', '.join(repr(c) for c in missing)} column"
            f"{'s' if len(missing) > 1 else ''} (it has {', '.join(map(str, df.columns))}). "
            "Read it with read_contacts() and call render() first."
        )


def _make_room(df: pd.DataFrame) -> pd.DataFrame:
    """Drop the status columns of an earlier merge; keep a user's same-named columns."""
    clashes = [c for c in STATUS_COLUMNS if c in df.columns]
    if not clashes:
        return df.copy()
    if "send_state" in df.columns:  # the output of an earlier merge_status: refresh it
        return df.drop(columns=clashes)
    renames: dict[str, str] = {}
    for col in clashes:
        new = f"{col}_original"
        n = 2
        while new in df.columns or new in renames.values():
            new = f"{col}_original{n}"
            n += 1
        renames[col] = new
    return df.rename(columns=renames)


def merge_status(df: pd.DataFrame, ledger: Ledger, campaign: str) -> pd.DataFrame:
    """The input frame plus each row's sending, delivery and reply status.

    Adds ``sms_id``, ``send_state``, ``send_code``, ``send_error``, ``status``,
    ``status_text``, ``sent_time``, ``report_time``, ``ex_status``, ``reply`` (the latest),
    ``reply_time``, ``reply_count`` and ``opted_out``. Rows are matched to the campaign's
    messages by their row key (see the module docstring). Rows never registered get
    ``send_state`` "skipped" and the reason in ``send_error``. Same rows, same order, same
    index; the input is not modified; calling it again (after more reports arrived, or on
    its own output) gives a fresh answer without duplicating rows or columns. A column of
    the user's that happens to share one of those names (a ``status`` or ``reply`` of their
    own) is kept as ``<name>_original``, as ``read_contacts`` does for ``phone``.

    >>> from mobset_campaign.ledger import Ledger
    >>> ledger = Ledger(":memory:")
    >>> df = pd.DataFrame({"phone": ["13512346789", None], "content": ["hi", "hi"],
    ...                    "phone_problem": [None, "empty"]})
    >>> merged = merge_status(df, ledger, "spring")
    >>> merged["send_state"].tolist(), merged["send_error"].iloc[1]
    (['skipped', 'skipped'], 'empty')
    """
    _require(df, ("phone",), "merge_status")
    out = _make_room(df)
    computed = row_keys(df)
    frame = ledger.status_frame(campaign)
    known = dict(
        zip(
            frame["row_key"].tolist(),
            zip(frame["phone"].tolist(), frame["content"].tolist(), strict=True),
            strict=True,
        )
    )
    phones = _phones(df)
    suppressed = ledger.suppressed_phones()
    reasons = skip_reasons(df, suppressed)
    keys = pd.Series(
        _resolve(_key_list(computed), phones.tolist(), _texts(df), reasons.isna().tolist(), known),
        index=df.index,
        dtype="str",
    )
    status = frame.set_index("row_key")
    found = keys.isin(status.index)
    picked = status.reindex(keys.where(found, "\x00missing").tolist())
    picked.index = df.index
    fallback = (
        f"not registered in campaign {campaign!r} (send() has not been run with this row, or "
        "it was a dry run)"
    )
    for col in STATUS_COLUMNS:
        out[col] = picked[col]
    out["send_state"] = picked["send_state"].where(found, "skipped").astype("str")
    out["send_error"] = (
        picked["send_error"].where(found, reasons.where(reasons.notna(), fallback)).astype("str")
    )
    out["opted_out"] = phones.map(lambda p: p is not None and p in suppressed).astype(bool)
    out["reply_count"] = picked["reply_count"].where(found, 0).astype("Int64")
    return out
