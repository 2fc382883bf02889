"""Put the ledger's view of a campaign back beside the spreadsheet's rows.

:func:`merge_status` finds each row's message by the same rule :func:`mobset_campaign.send`
registered it with (:func:`mobset_campaign.rows.assign_messages`: one message per number,
the row with the text that went out first), so the same sheet re-read, re-sorted or
re-rendered finds the same messages. A row that never became a message gets the state
``skipped`` and the reason in ``send_error`` (``duplicate of row N`` for a second row of a
number that has its message).
"""

from __future__ import annotations

import pandas as pd

from ._gc import cycle_collector_paused
from .ledger import STATUS_FRAME_COLUMNS, Ledger
from .rows import (
    FrameRows,
    KnownMessages,
    assign_known,
    keep_user_columns,
    not_registered,
    require_columns,
    skip_reasons,
)
from .states import SKIPPED

__all__ = ["STATUS_COLUMNS", "merge_status"]

#: Columns merge_status adds, in order: the ledger's status columns less those that
#: describe the message itself (the frame already has its phone and content).
STATUS_COLUMNS = tuple(
    c for c in STATUS_FRAME_COLUMNS if c not in ("row_key", "phone", "content", "parts", "batch_id")
)


def _make_room(df: pd.DataFrame) -> pd.DataFrame:
    """Drop the status columns of an earlier merge; keep a user's same-named columns."""
    if "send_state" in df.columns:  # the output of an earlier merge_status: refresh it
        return df.drop(columns=[c for c in STATUS_COLUMNS if c in df.columns])
    out, _renames = keep_user_columns(df, STATUS_COLUMNS)
    return out.copy(deep=False) if out is df else out  # copy-on-write: df stays as it is


def merge_status(df: pd.DataFrame, ledger: Ledger, campaign: str) -> pd.DataFrame:
    """The input frame plus each row's sending, delivery and reply status.

    Adds ``sms_id``, ``send_state``, ``send_code``, ``send_error``, ``status``,
    ``status_text``, ``sent_time``, ``report_time``, ``ex_status``, ``reply`` (the latest),
    ``reply_time``, ``reply_count`` and ``opted_out``. Rows are matched to the campaign's
    messages by their row key (see :mod:`mobset_campaign.rows`). Rows never registered get
    ``send_state`` "skipped" and the reason in ``send_error``. Same rows, same order, same
    index; the input is not modified; calling it again (after more reports arrived, or on
    its own output) gives a fresh answer without duplicating rows or columns. A column of
    the user's that happens to share one of those names (a ``status`` or ``reply`` of their
    own) is kept as ``<name>_original``, as ``read_contacts`` does for ``phone``. A frame
    without ``content`` (contacts as read, not rendered) also gets each message's
    ``content`` and ``parts`` from the ledger, which keeps every text it sent.

    >>> from mobset_campaign.ledger import Ledger
    >>> ledger = Ledger(":memory:")
    >>> df = pd.DataFrame({"phone": ["13512346789", None], "content": ["hi", "hi"],
    ...                    "phone_problem": [None, "empty"]})
    >>> merged = merge_status(df, ledger, "spring")
    >>> merged["send_state"].tolist(), merged["send_error"].iloc[1]
    (['skipped', 'skipped'], 'empty')
    """
    require_columns(df, ("phone",), "merge_status")
    with cycle_collector_paused():  # millions of objects, none in a cycle (see _gc)
        return _merged(df, ledger, campaign)


def _merged(df: pd.DataFrame, ledger: Ledger, campaign: str) -> pd.DataFrame:
    out = _make_room(df)
    rows = FrameRows.of(df)
    frame = ledger.status_frame(campaign)
    known = KnownMessages.of(frame["row_key"], frame["phone"], frame["content"])
    options = ledger.campaign_options(campaign) or {}
    one_per_number = options.get("one_per_number") is not False
    suppressed = ledger.suppressed_phones()
    first = skip_reasons(df, suppressed, rows=rows)
    assignment, at = assign_known(
        rows, known, one_per_number=one_per_number, usable=first.sendable.to_numpy()
    )
    reasons = first.with_duplicates(assignment.duplicate_of)
    found = pd.Series(at >= 0, index=df.index)
    picked = frame.reindex(at)  # -1 is no message: every column missing there
    picked.index = df.index
    fallback = not_registered(campaign)
    for col in STATUS_COLUMNS:
        out[col] = picked[col]
    for col in ("content", "parts"):  # a contacts frame, not rendered: the text that went out
        if col not in df.columns:
            out[col] = picked[col].where(found)
    out["send_state"] = picked["send_state"].where(found, SKIPPED).astype("str")
    texts = reasons.texts
    out["send_error"] = picked["send_error"].where(found, texts.where(texts.notna(), fallback))
    out["send_error"] = out["send_error"].astype("str")
    phones = pd.Series(rows.phones, index=df.index, dtype=object)
    out["opted_out"] = phones.isin(suppressed).astype(bool)
    out["reply_count"] = picked["reply_count"].where(found, 0).astype("Int64")
    return out
