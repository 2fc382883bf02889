"""The ledger as DataFrames: one row per message, reply, report, inbox body, campaign or
opted-out number, typed (nullable integers, ``str`` text, Asia/Shanghai datetimes).

These are read-only views; nothing here writes. :func:`mobset_campaign.merge_status` puts
:meth:`Frames.status_frame` back beside the spreadsheet's rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._protocol import BEIJING
from ..codes import describe_status
from ..states import MESSAGE_STATES
from ._store import Store, campaign_name

__all__ = ["REPLY_COLUMNS", "STATUS_FRAME_COLUMNS", "Frames"]

#: The columns of :meth:`Frames.status_frame`, in order.
STATUS_FRAME_COLUMNS = (
    "row_key",
    "phone",
    "content",
    "parts",
    "batch_id",
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
#: The columns of :meth:`Frames.replies_frame`, in order.
REPLY_COLUMNS = (
    "phone",
    "recv_time",
    "content",
    "add_num",
    "recv_number",
    "opt_out",
    "campaign",
    "sms_id",
)


def _times(values: pd.Series) -> pd.Series:
    """ISO strings (with offset) → tz-aware Asia/Shanghai datetimes (NaT when missing)."""
    parsed = pd.to_datetime(values.astype("object"), format="ISO8601", utc=True, errors="coerce")
    return parsed.dt.tz_convert(BEIJING).dt.as_unit("us")


def _int64(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.astype("object"), errors="raise").astype("Int64")


def _text(values: pd.Series) -> pd.Series:
    """The pandas ``str`` dtype, missing values kept missing."""
    return values.astype("object").astype("str")


def _status_text(status: pd.Series) -> pd.Series:
    """The vendor's words for each status code (missing where there is no status)."""
    codes = status.dropna().unique()
    words = {code: describe_status(int(code)) for code in codes}
    return _shared(status.map(words).astype("object").astype("str"))


def _shared(values: pd.Series) -> pd.Series:
    """The same text column, each distinct text held once in memory (a column of a
    million copies of one message or one state costs a million pointers, not a million
    strings)."""
    codes, uniques = pd.factorize(values.astype("object"))
    if len(uniques) * 2 > len(values):
        return values
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:-1] = np.asarray(uniques, dtype=object)
    table[-1] = None  # code -1: missing
    return pd.Series(table[codes], index=values.index, dtype="str")


#: Rows of the status frame read at a time.
_CHUNK = 50_000
_STATUS_SQL = """
    SELECT m.id, m.row_key, CASE WHEN m.phone = m.row_key THEN NULL ELSE m.phone END AS phone,
           m.content, m.parts, m.batch_id, m.sms_id,
           m.state AS send_state, m.send_code, m.send_error, m.status,
           m.sent_at AS sent_time, m.report_time, m.ex_status
    FROM messages m WHERE {campaign} = ? AND m.id > ? ORDER BY m.id LIMIT ?
"""
_REPLIES_SQL = """
    SELECT r.message_id, r.content, r.recv_time, r.id FROM replies r
    JOIN messages m ON m.id = r.message_id WHERE m.campaign = ?
"""


def _latest_replies(replies: pd.DataFrame) -> pd.DataFrame:
    """Per message id: the latest reply (``reply``, ``reply_time``: by time, then the
    last stored) and ``reply_count``."""
    replies = replies.sort_values(
        ["message_id", "recv_time", "id"], ascending=[True, False, False], na_position="last"
    )
    by_message = replies.groupby("message_id", sort=False)
    latest = by_message.head(1).set_index("message_id")
    return pd.DataFrame(
        {
            "reply": latest["content"],
            "reply_time": latest["recv_time"],
            "reply_count": by_message.size(),
        }
    )


def _typed_status(df: pd.DataFrame, replies: pd.DataFrame, opted: set[str]) -> pd.DataFrame:
    """One slice of the status frame with its columns typed (texts that repeat, such as
    the states or a text shared by many rows, held once) and its replies joined."""
    latest = replies.reindex(df["id"])
    df["reply"] = latest["reply"].to_numpy(dtype=object)
    df["reply_time"] = latest["reply_time"].to_numpy(dtype=object)
    df["reply_count"] = latest["reply_count"].fillna(0).to_numpy(dtype="int64")
    for col in ("parts", "batch_id", "sms_id", "send_code", "status", "reply_count"):
        df[col] = _int64(df[col])
    for col in ("sent_time", "report_time", "reply_time"):
        df[col] = _times(df[col])
    df["reply"] = _text(df["reply"])
    for col in ("content", "send_state", "send_error", "ex_status"):
        df[col] = _shared(_text(df[col]))
    return df.drop(columns="id")


class Frames(Store):
    """Read-only views of the ledger (a part of :class:`~mobset_campaign.ledger.Ledger`)."""

    def status_frame(self, campaign: str) -> pd.DataFrame:
        """One row per message of the campaign, in registration order.

        Columns: row_key, phone, content, parts, batch_id, sms_id, send_state, send_code
        (the gateway's Code for the message's request: ≥ 0 is how many it accepted, negative
        the error), send_error, status (the last report's Status), status_text, sent_time
        (when the gateway answered), report_time, ex_status, reply (the latest), reply_time,
        reply_count, opted_out. Times are tz-aware Asia/Shanghai.
        """
        campaign = campaign_name(campaign)
        # replies and opt-outs are few: read apart and joined here, which spares a million
        # correlated sub-queries
        replies = _latest_replies(self._frame(_REPLIES_SQL, (campaign,)))
        opted = {row[0] for row in self._read("SELECT phone FROM suppression")}
        # SQLite: walk the id order (``+`` keeps it off the campaign index, which would sort
        # the whole campaign again for every slice); PostgreSQL plans this well as it is
        sql = _STATUS_SQL.format(campaign="m.campaign" if self.is_postgres else "+m.campaign")
        chunks: list[pd.DataFrame] = []
        # the two texts unique to each message wait as fixed-width arrays and become Python
        # strings only at the end: made between the slices' temporaries, a million of them
        # would pin three times their size in half-empty memory pages
        unique: dict[str, list[np.ndarray]] = {"row_key": [], "phone": []}
        after = 0
        while True:  # in slices of the id order, so no million rows of tuples at once
            chunk = self._frame(sql, (campaign, after, _CHUNK))
            if len(chunk) == 0 and chunks:
                break
            after = int(chunk["id"].iloc[-1]) if len(chunk) else after
            keys = chunk.pop("row_key").to_numpy(dtype=object)
            phones = chunk.pop("phone").to_numpy(dtype=object)  # missing: the key itself
            unique["row_key"].append(keys.astype(str))
            unique["phone"].append(np.where(pd.isna(phones), keys, phones).astype(str))
            chunks.append(_typed_status(chunk, replies, opted))
            del chunk
            if len(chunks[-1]) < _CHUNK:
                break
        df = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
        del chunks
        for col, parts in unique.items():
            df[col] = pd.Series(np.concatenate(parts), dtype="str")
            parts.clear()
        df["opted_out"] = df["phone"].isin(opted).to_numpy(dtype=bool)
        df["status_text"] = _status_text(df["status"])
        return df[list(STATUS_FRAME_COLUMNS)].reset_index(drop=True)

    def replies_frame(self, campaign: str | None = None) -> pd.DataFrame:
        """Every stored reply (or those attributed to one campaign), oldest first.

        Columns: phone, recv_time, content, add_num, recv_number, opt_out, campaign, sms_id.
        Replies not attributed to any message have no campaign and no sms_id.
        """
        campaign = None if campaign is None else campaign_name(campaign)
        sql = (
            "SELECT r.phone, r.recv_time, r.content, r.add_num, r.recv_number, r.opt_out, "
            "m.campaign, m.sms_id FROM replies r LEFT JOIN messages m ON m.id = r.message_id"
        )
        params: tuple[Any, ...] = ()
        if campaign is not None:
            sql += " WHERE m.campaign = ?"
            params = (campaign,)
        df = self._frame(sql + " ORDER BY r.recv_time NULLS FIRST, r.id", params)
        df["recv_time"] = _times(df["recv_time"])
        df["opt_out"] = df["opt_out"].astype(bool)
        df["sms_id"] = _int64(df["sms_id"])
        for col in ("phone", "content", "add_num", "recv_number", "campaign"):
            df[col] = _text(df[col])
        return df[list(REPLY_COLUMNS)].reset_index(drop=True)

    def reports_frame(self, *, unmatched: bool = False) -> pd.DataFrame:
        """Every stored report: sms_id, status, status_text, report_time, ex_status,
        campaign, row_key (missing for SmsIds this ledger did not send); ``unmatched=True``
        keeps only those."""
        sql = (
            "SELECT r.sms_id, r.status, r.report_time, r.ex_status, m.campaign, m.row_key "
            "FROM reports r LEFT JOIN messages m ON m.id = r.message_id"
        )
        if unmatched:
            sql += " WHERE r.message_id IS NULL"
        df = self._frame(sql + " ORDER BY r.id")
        df["sms_id"] = _int64(df["sms_id"])
        df["status"] = _int64(df["status"])
        df["report_time"] = _times(df["report_time"])
        df.insert(2, "status_text", _status_text(df["status"]))
        return df

    def inbox_frame(self) -> pd.DataFrame:
        """Every stored gateway body: id, method, received_at, parsed_at, items, error_code,
        error, body."""
        df = self._frame(
            "SELECT id, method, received_at, parsed_at, items, error_code, error, body "
            "FROM inbox ORDER BY id"
        )
        df["received_at"] = _times(df["received_at"])
        df["parsed_at"] = _times(df["parsed_at"])
        return df

    def suppression_frame(self) -> pd.DataFrame:
        """The opt-out list: phone, reason, source, added_at."""
        df = self._frame(
            "SELECT phone, reason, source, added_at FROM suppression ORDER BY added_at"
        )
        df["added_at"] = _times(df["added_at"])
        return df

    def campaigns(self) -> pd.DataFrame:
        """One row per campaign: name, created, messages, parts, and a column per state."""
        base = self._frame(
            "SELECT c.name, c.created, COUNT(m.id) AS messages, "
            "CAST(COALESCE(SUM(m.parts), 0) AS BIGINT) AS parts "
            "FROM campaigns c LEFT JOIN messages m ON m.campaign = c.name GROUP BY c.name "
            "ORDER BY c.created, c.name"
        )
        by_state = self._frame(
            "SELECT campaign, state, COUNT(*) AS n FROM messages GROUP BY campaign, state"
        )
        for state in MESSAGE_STATES:
            sub = by_state[by_state["state"] == state].set_index("campaign")["n"]
            base[state] = base["name"].map(sub).fillna(0).astype("int64")
        base["created"] = _times(base["created"])
        base["messages"] = base["messages"].astype("int64")
        base["parts"] = base["parts"].astype("int64")
        return base
