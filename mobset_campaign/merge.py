"""Put the ledger's view of a campaign back beside the spreadsheet's rows.

**Row keys.** :func:`mobset_campaign.send` registers each sendable row under a key, and
:func:`merge_status` finds the row's message again by the same key. The key is the row's
normalised phone number; the n-th repeat of the same number in a frame gets ``"#n"``
appended (``13512346789``, ``13512346789#2``). This survives what users actually do between
two runs: re-reading the same spreadsheet, re-rendering the template, sorting or filtering
rows, adding new rows. It deliberately ignores the text: a campaign texts each row's person
at most once, so editing the template after some messages went out never sends those people
a second copy (messages still pending take the new text). To send a new text to the same
people, use a new campaign name. The frame's index is not used (it changes on re-reading).
"""

from __future__ import annotations

import pandas as pd

from .errors import InputError
from .ledger import Ledger, normalise_phone

__all__ = ["merge_status", "row_keys", "skip_reasons"]

#: Columns merge_status adds, in order.
STATUS_COLUMNS = (
    "sms_id",
    "send_state",
    "send_code",
    "send_error",
    "status",
    "status_text",
    "sent_time",
    "report_time",
    "ex_status",
    "reply",
    "reply_time",
    "reply_count",
    "opted_out",
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
    """The stable key of each row: the phone, plus ``#n`` for its n-th repeat in the frame.

    Rows without a phone get a missing key (they are never registered).

    >>> row_keys(pd.DataFrame({"phone": ["13512346789", None, "13512346789"]})).tolist()
    ['13512346789', nan, '13512346789#2']
    """
    _require(df, ("phone",), "row_keys")
    seen: dict[str, int] = {}
    values: list[str | None] = []
    for phone in _phones(df).tolist():
        if phone is None:
            values.append(None)
            continue
        seen[phone] = n = seen.get(phone, 0) + 1
        values.append(phone if n == 1 else f"{phone}#{n}")
    return pd.Series(values, index=df.index, dtype="str")


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


def merge_status(df: pd.DataFrame, ledger: Ledger, campaign: str) -> pd.DataFrame:
    """The input frame plus each row's sending, delivery and reply status.

    Adds ``sms_id``, ``send_state``, ``send_code``, ``send_error``, ``status``,
    ``status_text``, ``sent_time``, ``report_time``, ``ex_status``, ``reply`` (the latest),
    ``reply_time``, ``reply_count`` and ``opted_out``. Rows are matched to the campaign's
    messages by their row key (see the module docstring). Rows never registered get
    ``send_state`` "skipped" and the reason in ``send_error``. Same rows, same order, same
    index; the input is not modified; calling it again (after more reports arrived, or on
    its own output) gives a fresh answer without duplicating rows or columns.

    >>> from mobset_campaign.ledger import Ledger
    >>> ledger = Ledger(":memory:")
    >>> df = pd.DataFrame({"phone": ["13512346789", None], "content": ["hi", "hi"],
    ...                    "phone_problem": [None, "empty"]})
    >>> merged = merge_status(df, ledger, "spring")
    >>> merged["send_state"].tolist(), merged["send_error"].iloc[1]
    (['skipped', 'skipped'], 'empty')
    """
    _require(df, ("phone",), "merge_status")
    out = df.drop(columns=[c for c in STATUS_COLUMNS if c in df.columns])
    keys = row_keys(df)
    status = ledger.status_frame(campaign).set_index("row_key")
    found = keys.isin(status.index)
    picked = status.reindex(keys.where(found, "\x00missing").tolist())
    picked.index = df.index
    reasons = skip_reasons(df, ledger.suppressed_phones())
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
    phones = _phones(df)
    suppressed = ledger.suppressed_phones()
    out["opted_out"] = phones.map(lambda p: p is not None and p in suppressed).astype(bool)
    out["reply_count"] = picked["reply_count"].where(found, 0).astype("Int64")
    return out
