"""The ledger as DataFrames: one row per message, reply, report, inbox body, campaign or
opted-out number, typed (nullable integers, ``str`` text, Asia/Shanghai datetimes).

These are read-only views; nothing here writes. :func:`mobset_campaign.merge_status` puts
:meth:`Frames.status_frame` back beside the spreadsheet's rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._cells import object_array
from .._gc import cycle_collector_paused
from .._protocol import BEIJING
from ..codes import describe_status
from ..states import MESSAGE_STATES
from . import _postgres
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
    codes, found = pd.factorize(status.astype("Int64"))
    words = [describe_status(int(code)) for code in found.tolist()]
    return _shared_texts(object_array([*words, None])[codes], index=status.index)


def _shared_texts(values: np.ndarray, index: pd.Index | None = None) -> pd.Series:
    """An object array of texts (``None`` or NaN: missing) as a ``str`` column, each
    distinct text held once in memory (a column of a million copies of one message or one
    state costs a million pointers, not a million strings)."""
    codes, uniques = pd.factorize(values)
    if len(uniques) * 2 > len(values):
        return pd.Series(values, index=index, dtype="str")
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:-1] = np.asarray(uniques, dtype=object)
    table[-1] = None  # code -1: missing
    return pd.Series(table[codes], index=index, dtype="str")


#: Rows of the status frame read at a time.
_CHUNK = 50_000
#: What SQL returns for a missing number (NULL would make a column of Python objects):
#: int64's least value, which is also numpy's NaT
_MISSING = "(-9223372036854775807 - 1)"
_NAT = np.iinfo(np.int64).min
_SQLITE_BYTES = "COALESCE(CAST({0} AS BLOB), X'')"
_INT_COLUMNS = ("parts", "batch_id", "sms_id", "send_code", "status")
_TEXT_COLUMNS = ("send_state", "send_error", "ex_status")
_TIME_COLUMNS = ("sent_time", "report_time")
_STATUS_SQL = """
    SELECT m.id, m.row_key, CASE WHEN m.phone = m.row_key THEN NULL ELSE m.phone END,
           CASE WHEN m.content = ? THEN NULL ELSE m.content END,
           {ints}, m.state, m.send_error, m.ex_status, {times}
    FROM messages m WHERE {campaign} = ? AND m.id > ? ORDER BY m.id LIMIT ?
"""
_REPLIES_SQL = """
    SELECT r.message_id, r.content, r.recv_time, r.id FROM replies r
    JOIN messages m ON m.id = r.message_id WHERE m.campaign = ?
"""


def _status_sql(postgres: bool) -> str:
    """The status frame's query: numbers never NULL (:data:`_MISSING` instead), times as
    UTF-8 bytes (empty where NULL) for :func:`_iso_us`."""
    as_bytes = _postgres.TEXT_BYTES if postgres else _SQLITE_BYTES
    # SQLite: walk the id order (``+`` keeps it off the campaign index, which would sort
    # the whole campaign again for every slice); PostgreSQL plans this well as it is
    return _STATUS_SQL.format(
        ints=", ".join(f"COALESCE(m.{c}, {_MISSING})" for c in _INT_COLUMNS),
        times=", ".join(as_bytes.format(c) for c in ("m.sent_at", "m.report_time")),
        campaign="m.campaign" if postgres else "+m.campaign",
    )


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


def _int_array(values: np.ndarray) -> pd.arrays.IntegerArray:
    """int64 values, :data:`_NAT` where missing → ``Int64``."""
    return pd.arrays.IntegerArray(values, values == _NAT)


#: The ledger's own form of a time (``iso``): ``2026-03-01T10:00:00.020+08:00``, 29
#: bytes; where its digits are, and what stands between them
_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 24, 25, 27, 28])
_SEPARATORS = {4: b"-", 7: b"-", 10: b"T", 13: b":", 16: b":", 19: b".", 26: b":"}


def _two(b: np.ndarray, at: int) -> np.ndarray:
    """The two-digit numbers at byte ``at`` (``b``: byte, time)."""
    return b[at].astype(np.int64) * 10 + b[at + 1] - 11 * ord("0")


def _month_starts(months: np.ndarray) -> np.ndarray:
    """Days from 1970-01-01 to the first day of each month (counted from January of year
    0, proleptic Gregorian; H. Hinnant's ``days_from_civil``)."""
    year, month = months // 12, months % 12 + 1
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _iso_us(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Times as the ledger stores them (``S30`` bytes, empty: missing) → microseconds
    since 1970 UTC (int64, NaT's value where missing), and which are of another form (the
    caller reads those with pandas; their microseconds here are meaningless).

    >>> us, other = _iso_us(np.array([b"1970-01-01T08:00:01.500+08:00", b"", b"x"], "S30"))
    >>> us[0], us[1] == _NAT, other.tolist()
    (np.int64(1500000), np.True_, [False, False, True])
    """
    # byte by byte, each a contiguous row: the checks and sums below run at memory speed
    b = np.ascontiguousarray(raw.view(np.uint8).reshape(len(raw), 30).T)
    empty = b[0] == 0
    digits = (b[_DIGITS] - np.uint8(ord("0"))) <= 9  # uint8: a byte below "0" wraps
    own = np.logical_and.reduce(digits, axis=0) & (b[29] == 0)
    for at, sep in _SEPARATORS.items():
        own &= b[at] == ord(sep)
    own &= (b[23] == ord("+")) | (b[23] == ord("-"))
    month, day, hour, minute, second = (_two(b, at) for at in (5, 8, 11, 14, 17))
    off_hours, off_minutes = _two(b, 24), _two(b, 27)
    own &= (month >= 1) & (month <= 12) & (day >= 1) & (hour < 24) & (minute < 60)
    own &= (second < 60) & (off_hours < 24) & (off_minutes < 60)
    months = (_two(b, 0) * 100 + _two(b, 2)) * 12 + month - 1
    if not own.any():
        return np.full(len(raw), _NAT, dtype=np.int64), ~empty
    lo, hi = int(months[own].min()), int(months[own].max())
    nth = np.where(own, months, lo) - lo
    starts = _month_starts(np.arange(lo, hi + 2))  # and the month after the last
    own &= day <= (starts[nth + 1] - starts[nth])
    seconds = (((starts[nth] + day - 1) * 24 + hour) * 60 + minute) * 60 + second
    milli = _two(b, 20) * 10 + b[22] - ord("0")
    offset = np.where(b[23] == ord("-"), -60, 60) * (off_hours * 60 + off_minutes)
    us = np.where(empty, _NAT, ((seconds - offset) * 1000 + milli) * 1000)
    return us, ~own & ~empty


def _time_series(us: np.ndarray, other: dict[int, bytes]) -> pd.Series:
    """Microseconds since 1970 (see :func:`_iso_us`) and, by position, the stored times
    of another form → tz-aware Asia/Shanghai, as :func:`_times` reads them."""
    if other:
        at = np.fromiter(other, dtype=np.int64, count=len(other))
        texts = [t.decode("utf-8") for t in other.values()]
        parsed = _times(pd.Series(texts, dtype=object)).dt.tz_convert("UTC")
        us[at] = parsed.dt.tz_localize(None).to_numpy("M8[us]").view("int64")
    utc = pd.Series(us.view("M8[us]")).dt.tz_localize("UTC")
    return utc.dt.tz_convert(BEIJING)


class _Texts:
    """A text column gathered slice by slice as codes and each slice's distinct texts, so
    a text repeated on many rows (a state, a vendor word) is kept once, not once per row
    read: :func:`_shared_texts` of the whole column at the end."""

    def __init__(self) -> None:
        self.codes: list[np.ndarray] = []
        self.distinct: list[np.ndarray] = []

    def add(self, values: np.ndarray) -> None:
        codes, distinct = pd.factorize(values)  # missing: -1
        self.codes.append(codes)
        self.distinct.append(np.asarray(distinct, dtype=object))

    def column(self) -> pd.Series:
        everything = np.concatenate([*self.distinct, np.empty(0, dtype=object)])
        same, distinct = pd.factorize(everything)  # one code per text across the slices
        table = np.append(same, -1)  # -1 stays missing
        codes, start = [], 0
        for part, seen in zip(self.codes, self.distinct, strict=True):
            codes.append(table[np.where(part < 0, len(everything), part + start)])
            start += len(seen)
        where = np.concatenate([*codes, np.empty(0, dtype=np.intp)])
        texts = np.empty(len(distinct) + 1, dtype=object)
        texts[:-1] = np.asarray(distinct, dtype=object)
        texts[-1] = None
        return _shared_texts(texts[where])


class _StatusColumns:
    """The status frame's columns, gathered slice by slice as numpy arrays and made
    pandas columns once at the end."""

    def __init__(self) -> None:
        self.ids: list[np.ndarray] = []
        # the two texts unique to each message wait as fixed-width arrays and become
        # Python strings only at the end: made between the slices' temporaries, a million
        # of them would pin three times their size in half-empty memory pages
        self.keys: list[np.ndarray] = []
        self.phones: list[np.ndarray] = []
        self.contents = _Texts()
        self.ints: dict[str, list[np.ndarray]] = {c: [] for c in _INT_COLUMNS}
        self.texts = {c: _Texts() for c in _TEXT_COLUMNS}
        #: each time column's microseconds (see :func:`_iso_us`), slice by slice
        self.times: dict[str, list[np.ndarray]] = {c: [] for c in _TIME_COLUMNS}
        #: the times not of the ledger's form, whole, by position (pandas reads them)
        self.other: dict[str, dict[int, bytes]] = {c: {} for c in _TIME_COLUMNS}
        self.count = 0
        #: the text the query leaves out (NULL) when a message has it: the last one read
        self.content = ""

    def add(self, rows: list[tuple[Any, ...]]) -> None:
        """One slice of the query's rows."""
        width = 4 + len(_INT_COLUMNS) + len(_TEXT_COLUMNS) + len(_TIME_COLUMNS)
        table = np.empty((len(rows), width), dtype=object)  # one copy of the pointers,
        table[:] = rows if rows else table  # then each column converted at C speed
        self.ids.append(table[:, 0].astype(np.int64))
        keys = table[:, 1]
        phones = table[:, 2]  # missing: the key itself
        self.keys.append(keys.astype(str))
        self.phones.append(np.where(pd.isna(phones), keys, phones).astype(str))
        contents = table[:, 3].copy()
        contents[pd.isna(contents)] = self.content
        if len(contents):
            self.content = contents[-1]
        self.contents.add(contents)
        at = 4
        for col in _INT_COLUMNS:
            self.ints[col].append(table[:, at].astype(np.int64))
            at += 1
        for col in _TEXT_COLUMNS:
            self.texts[col].add(table[:, at])
            at += 1
        for col in _TIME_COLUMNS:
            fixed = table[:, at].astype("S30")  # a longer time is cut: of another form
            us, other = _iso_us(fixed)
            for i in np.flatnonzero(other).tolist():
                self.other[col][self.count + i] = table[i, at]
            self.times[col].append(us)
            at += 1
        self.count += len(rows)

    def frame(self) -> pd.DataFrame:
        """The columns so far as a frame (the id, no replies or opt-outs yet)."""
        df = pd.DataFrame({"id": np.concatenate(self.ids)})
        df["row_key"] = pd.Series(np.concatenate(self.keys), dtype="str")
        df["phone"] = pd.Series(np.concatenate(self.phones), dtype="str")
        df["content"] = self.contents.column()
        for col in _INT_COLUMNS:
            df[col] = _int_array(np.concatenate(self.ints[col]))
        for col in _TEXT_COLUMNS:
            df[col] = self.texts[col].column()
        for col in _TIME_COLUMNS:
            df[col] = _time_series(np.concatenate(self.times[col]), self.other[col])
        return df


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
        replies = self._frame(_REPLIES_SQL, (campaign,))
        latest = _latest_replies(replies)
        latest["reply_time"] = _times(latest["reply_time"])
        opted = {row[0] for row in self._read("SELECT phone FROM suppression")}
        sql = _status_sql(self.is_postgres)
        columns = _StatusColumns()
        after = 0
        with cycle_collector_paused():
            while True:  # in slices of the id order, so no million rows of tuples at once
                rows = self._read(sql, (columns.content, campaign, after, _CHUNK))
                columns.add(rows)
                if len(rows) < _CHUNK:
                    break
                after = int(rows[-1][0])
                del rows
            df = columns.frame()
            del columns
        mine = latest.reindex(df.pop("id"))
        df["reply"] = _text(pd.Series(mine["reply"].to_numpy(dtype=object)))
        df["reply_time"] = mine["reply_time"].array
        df["reply_count"] = _int64(pd.Series(mine["reply_count"].fillna(0).to_numpy("int64")))
        df["opted_out"] = df["phone"].isin(opted).to_numpy(dtype=bool)
        df["status_text"] = _status_text(df["status"])
        return df[list(STATUS_FRAME_COLUMNS)]

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
