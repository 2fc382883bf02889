"""The campaign ledger: one SQLite file that remembers everything sent and fetched.

The ledger is what makes a campaign safe to interrupt. It holds

* **campaigns** and their **messages** (one per spreadsheet row: a stable row key, phone,
  content, parts, state, batch, SmsId, the gateway's code and text, timestamps);
* **batches**: one row per SmsSend request (who claimed it, when the gateway answered, its
  code, the TimerSend/AddNum used);
* the **inbox**: the raw body of every SmsGetReport/SmsGetRecv answer, committed before it
  is parsed, because the gateway hands out each report and reply once only;
* parsed **reports** and **replies** (unique per body and position, so parsing a body again
  changes nothing), including reports for SmsIds this ledger never sent;
* the **suppression** (opt-out) list, which spans campaigns.

Message states::

    pending ──claim──▶ claimed ──answer──▶ sent ──report──▶ delivered / failed
       ▲                  │                  └──cancel──▶ cancelled
       └──nothing accepted┤──SmsId 0 / code──▶ rejected
                          └──no answer / crash──▶ unknown  (never re-sent automatically)

The claim is committed (``synchronous=FULL``) before its request goes out, so after a crash
the ledger knows which requests *may* have reached the gateway: those messages become
``unknown`` and only :func:`mobset_campaign.resend_unknown` sends them again. An answer the
ledger cannot take (locked, disk full) is retried, then kept in a file beside it and recorded
before the next resume turns claims ``unknown`` (:meth:`Ledger.record_answer`).

SQLite details: WAL mode, explicit ``BEGIN IMMEDIATE`` transactions, ``synchronous=FULL`` for
claims and inbox bodies (``NORMAL`` elsewhere: losing such a commit to a power cut leaves a
message ``claimed``, which turns ``unknown`` — never a second send), numbered migrations
recorded in the ``migrations`` table. One connection guarded by a lock makes a ledger safe
to share between threads; other processes may open the same file (WAL, busy timeout).

>>> with Ledger(":memory:") as ledger:
...     ledger.suppress(["13512346789"], reason="asked by phone")
...     sorted(ledger.suppressed_phones())
1
['13512346789']
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ._protocol import BEIJING
from .codes import describe_status, is_final_status
from .errors import LedgerError

if TYPE_CHECKING:
    from .status import CampaignStatus

__all__ = [
    "DEFAULT_LEDGER_PATH",
    "MESSAGE_STATES",
    "Ledger",
    "is_opt_out",
    "normalise_phone",
]

DEFAULT_LEDGER_PATH = "mobset_ledger.sqlite"

_log = logging.getLogger(__name__)

#: Pauses (seconds) between attempts to record an SmsSend answer; each attempt also waits
#: up to the busy timeout (30 s) for another process's write lock.
_ANSWER_RETRY_DELAYS: tuple[float, ...] = (0.5, 2.0, 5.0)
#: An SmsSend answer that could not be recorded is kept in ``<ledger path>.send-answer-*.json``.
_KEPT_ANSWER = ".send-answer-"


def _pause(seconds: float) -> None:
    """Wait between attempts to record an answer (tests replace it)."""
    time.sleep(seconds)


#: Every state a message can be in (see the module docstring for the transitions).
MESSAGE_STATES = (
    "pending",
    "claimed",
    "sent",
    "delivered",
    "failed",
    "rejected",
    "unknown",
    "cancelled",
)
#: States in which the gateway accepted the message (it has an SmsId).
ACCEPTED_STATES = ("sent", "delivered", "failed")

_OPT_OUT_WORDS = frozenset({"R", "T", "TD", "N", "退订", "取消"})

# ---------------------------------------------------------------------------- migrations

_MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "initial schema",
        """
        CREATE TABLE campaigns (
            name        TEXT PRIMARY KEY,
            created     TEXT NOT NULL,
            updated     TEXT NOT NULL,
            add_num     TEXT,
            timer_send  TEXT,
            long_sms    INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE batches (
            id          INTEGER PRIMARY KEY,
            campaign    TEXT NOT NULL REFERENCES campaigns(name),
            account     TEXT NOT NULL DEFAULT '',
            size        INTEGER NOT NULL,
            state       TEXT NOT NULL,   -- claimed, answered, rejected, unknown, released, empty
            claimed_at  TEXT NOT NULL,
            answered_at TEXT,
            elapsed     REAL,
            code        INTEGER,
            message     TEXT,
            error       TEXT,
            timer_send  TEXT,
            add_num     TEXT,
            long_sms    INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE messages (
            id            INTEGER PRIMARY KEY,
            campaign      TEXT NOT NULL REFERENCES campaigns(name),
            row_key       TEXT NOT NULL,
            phone         TEXT NOT NULL,
            content       TEXT NOT NULL,
            parts         INTEGER NOT NULL,
            state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN
                          ('pending','claimed','sent','delivered','failed','rejected',
                           'unknown','cancelled')),
            batch_id      INTEGER REFERENCES batches(id),
            account       TEXT,
            sms_id        INTEGER,
            send_code     INTEGER,
            send_error    TEXT,
            registered_at TEXT NOT NULL,
            claimed_at    TEXT,
            sent_at       TEXT,
            status        INTEGER,
            report_time   TEXT,
            ex_status     TEXT,
            cancel_status INTEGER,
            cancel_error  TEXT,
            cancel_time   TEXT,
            resends       INTEGER NOT NULL DEFAULT 0,
            UNIQUE (campaign, row_key)
        );
        CREATE INDEX messages_state ON messages (campaign, state);
        CREATE INDEX messages_sms_id ON messages (sms_id) WHERE sms_id IS NOT NULL;
        CREATE INDEX messages_phone ON messages (phone, sent_at);
        CREATE INDEX messages_batch ON messages (batch_id);
        CREATE TABLE inbox (
            id          INTEGER PRIMARY KEY,
            method      TEXT NOT NULL,
            account     TEXT NOT NULL DEFAULT '',
            body        TEXT NOT NULL,
            received_at TEXT NOT NULL,
            parsed_at   TEXT,
            items       INTEGER,
            error_code  INTEGER,
            error       TEXT
        );
        CREATE INDEX inbox_unparsed ON inbox (id) WHERE parsed_at IS NULL;
        CREATE TABLE reports (
            id          INTEGER PRIMARY KEY,
            inbox_id    INTEGER NOT NULL REFERENCES inbox(id),
            seq         INTEGER NOT NULL,
            sms_id      INTEGER NOT NULL,
            status      INTEGER NOT NULL,
            report_time TEXT,
            ex_status   TEXT,
            message_id  INTEGER REFERENCES messages(id),
            UNIQUE (inbox_id, seq)
        );
        CREATE INDEX reports_sms_id ON reports (sms_id);
        CREATE TABLE replies (
            id          INTEGER PRIMARY KEY,
            inbox_id    INTEGER NOT NULL REFERENCES inbox(id),
            seq         INTEGER NOT NULL,
            phone       TEXT NOT NULL,
            recv_number TEXT,
            add_num     TEXT,
            recv_time   TEXT,
            content     TEXT,
            opt_out     INTEGER NOT NULL DEFAULT 0,
            message_id  INTEGER REFERENCES messages(id),
            UNIQUE (inbox_id, seq)
        );
        CREATE INDEX replies_message ON replies (message_id);
        CREATE TABLE suppression (
            phone     TEXT PRIMARY KEY,
            reason    TEXT NOT NULL,
            source    TEXT,
            added_at  TEXT NOT NULL
        );
        """,
    ),
)


# ---------------------------------------------------------------------------- helpers


def _now() -> str:
    return datetime.now(BEIJING).isoformat(timespec="milliseconds")


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=BEIJING)
    return when.astimezone(BEIJING).isoformat(timespec="milliseconds")


#: How far a reply's time may precede the message it answers (gateway vs local clocks).
_REPLY_SKEW = timedelta(minutes=5)
_LONG_AGO = datetime(1970, 1, 1, tzinfo=BEIJING)


def _when(text: str | None) -> datetime:
    """A stored ISO time as an aware datetime (naive = Beijing; missing = long ago)."""
    if not text:
        return _LONG_AGO
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=BEIJING)


def normalise_phone(value: object) -> str:
    """A phone number as the ledger stores it: digits only, without a +86/0086/86 prefix.

    >>> normalise_phone("+86 135-1234-6789"), normalise_phone("8613512346789")
    ('13512346789', '13512346789')
    """
    text = unicodedata.normalize("NFKC", str(value)).strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def _strip_edges(text: str) -> str:
    """Drop whitespace, punctuation and symbols at both ends."""

    def junk(ch: str) -> bool:
        return ch.isspace() or unicodedata.category(ch)[0] in "PSZC"

    start, end = 0, len(text)
    while start < end and junk(text[start]):
        start += 1
    while end > start and junk(text[end - 1]):
        end -= 1
    return text[start:end]


def is_opt_out(content: object) -> bool:
    """True when a reply asks to stop: R, T, TD, N, 退订 or 取消, in any case or width,
    with surrounding spaces or punctuation.

    >>> [is_opt_out(t) for t in ["td", " ＴＤ。", "退订!", "请问退订吗", "Thanks"]]
    [True, True, True, False, False]
    """
    if content is None:
        return False
    text = _strip_edges(unicodedata.normalize("NFKC", str(content)))
    return text.upper() in _OPT_OUT_WORDS


def _times(values: pd.Series) -> pd.Series:
    """ISO strings (with offset) → tz-aware Asia/Shanghai datetimes (NaT when missing)."""
    parsed = pd.to_datetime(values.astype("object"), format="ISO8601", utc=True, errors="coerce")
    return parsed.dt.tz_convert(BEIJING).dt.as_unit("us")


def _int64(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.astype("object"), errors="raise").astype("Int64")


def _text(values: pd.Series) -> pd.Series:
    """The pandas ``str`` dtype, missing values kept missing."""
    return values.astype("object").astype("str")


def resolve_row_keys(
    rows: Sequence[tuple[str | None, str | None, str]],
    known: dict[str, tuple[str, str]],
) -> list[str | None]:
    """Match a frame's rows to the campaign's messages when their key form changed.

    ``rows`` are ``(row key, normalised phone, text)`` as :func:`mobset_campaign.row_keys`
    computes them; ``known`` maps the campaign's registered keys to ``(phone, text)``. A
    number on one row has the plain key, a number on several rows keys carrying a hash of
    the text, so adding a second row for a number (or removing one) changes the key form.
    A row whose key is not registered (or is registered with another text) takes the key of
    an unclaimed message to the same number with exactly the same text, so a text that
    went out is never sent again because of that change. Other rows keep their key.

    >>> resolve_row_keys([("135#ab", "135", "hi"), ("135#cd", "135", "new")],
    ...                  {"135": ("135", "hi")})
    ['135', '135#cd']
    """
    keys = [key for key, _, _ in rows]
    need = [
        i
        for i, (key, _, text) in enumerate(rows)
        if key is not None and (key not in known or known[key][1] != text)
    ]
    if not need or not known:
        return keys
    taken = {key for key in keys if key is not None and key in known}
    phones = {rows[i][1] for i in need}
    spare: dict[tuple[str, str], list[str]] = {}
    for key, (phone, text) in known.items():
        if phone in phones and key not in taken:
            spare.setdefault((phone, text), []).append(key)
    if not spare:
        return keys
    for candidates in spare.values():
        candidates.sort(key=lambda k: (len(k), k), reverse=True)  # pop() gives the plainest
    for i in need:
        _, number, wanted = rows[i]
        found = spare.get((str(number), wanted))
        if found:
            keys[i] = found.pop()
    return keys


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Registered:
    """What :meth:`Ledger.register` did: rows new to the campaign, pending rows whose text
    was updated, and rows already past pending whose text differs from what was sent.
    ``keys`` are the rows' keys as registered, in the given order (see
    :func:`resolve_row_keys`)."""

    new: int
    updated: int
    unchanged: int
    changed_after_send: int
    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """A message waiting to be sent."""

    id: int
    phone: str
    content: str
    parts: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result for one message of an answered batch."""

    message_id: int
    state: str
    sms_id: int | None
    code: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Applied:
    """What parsing one stored body changed."""

    items: int  # reports or replies in the body
    new: int  # newly stored (0 when the body had been parsed before)
    matched: int  # reports/replies tied to a message of this ledger
    opt_outs: int = 0  # numbers newly added to the suppression list


# ---------------------------------------------------------------------------- the ledger


def write_json_durably(target: Path, data: object) -> None:
    """Write ``data`` as JSON to ``target`` so that it survives a crash or a power cut:
    a ``.partial`` sibling, flushed and fsync'ed, renamed into place, and the folder fsync'ed.

    Used for what the ledger could not take (a send answer, a fetched body): the gateway
    will not hand it out again.
    """
    partial = target.with_name(target.name + ".partial")
    with open(partial, "x", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, target)
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


class Ledger:
    """The SQLite ledger of one account.

    Args:
        path: the database file (created with its folder's permission; default
            ``./mobset_ledger.sqlite``), or ``":memory:"`` for a throw-away ledger.

    Raises:
        LedgerError: the file cannot be opened, is not a ledger, or was written by a newer
            version of mobset_campaign.

    A ledger may be shared between threads (one connection behind a lock) and opened by
    several processes at once (SQLite WAL). Use it as a context manager or call
    :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_LEDGER_PATH) -> None:
        self.path = str(path) if str(path) == ":memory:" else str(Path(path))
        self._lock = threading.RLock()
        self._sync = ""
        self._closed = False
        self._kept: list[dict[str, Any]] = []  # answers kept aside by a ":memory:" ledger
        if self.path != ":memory:":
            folder = Path(self.path).resolve().parent
            if not folder.is_dir():
                raise LedgerError(
                    f"Cannot create the ledger {self.path}: the folder {folder} does not exist. "
                    "Create it or pass another path to Ledger()."
                )
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA busy_timeout = 30000")
            self._conn.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise LedgerError(
                        f"The ledger {self.path} cannot use WAL mode (got {mode!r}); put it on "
                        "a local disk."
                    )
            self._set_sync("FULL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn_close_quietly()
            raise LedgerError(
                f"Cannot open the ledger {self.path}: {exc}. Is it a mobset_campaign ledger? "
                "Pass another path to Ledger() or move the file away."
            ) from exc
        except LedgerError:
            self._conn_close_quietly()
            raise

    # -- plumbing -----------------------------------------------------------------------

    def _conn_close_quietly(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()

    def _set_sync(self, level: str) -> None:
        if self._sync != level:
            self._conn.execute(f"PRAGMA synchronous = {level}")
            self._sync = level

    @contextmanager
    def _tx(self, *, durable: bool = False) -> Iterator[sqlite3.Cursor]:
        """One write transaction (``BEGIN IMMEDIATE``); ``durable`` = synchronous FULL."""
        with self._lock:
            self._check_open()
            self._set_sync("FULL" if durable else "NORMAL")
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise LedgerError(
                    f"The ledger {self.path} is locked by another process ({exc}); try again."
                ) from exc
            try:
                yield cur
            except BaseException:
                self._conn.rollback()
                raise
            else:
                cur.execute("COMMIT")
            finally:
                cur.close()

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            self._check_open()
            return self._conn.execute(sql, params).fetchall()

    def _frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        with self._lock:
            self._check_open()
            cur = self._conn.execute(sql, params)
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
        return pd.DataFrame.from_records(rows, columns=cols)

    def _check_open(self) -> None:
        if self._closed:
            raise LedgerError(f"The ledger {self.path} is closed; open a new Ledger().")

    def _migrate(self) -> None:
        with self._lock:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS migrations ("
                "id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            done = {row[0] for row in self._conn.execute("SELECT id FROM migrations")}
            known = {number for number, _, _ in _MIGRATIONS}
            newer = sorted(done - known)
            if newer:
                raise LedgerError(
                    f"The ledger {self.path} was written by a newer mobset_campaign (migration "
                    f"{newer[-1]}); upgrade mobset_campaign to use it."
                )
            for number, name, sql in _MIGRATIONS:
                if number in done:
                    continue
                cur = self._conn.cursor()
                cur.execute("BEGIN IMMEDIATE")
                try:
                    if cur.execute("SELECT 1 FROM migrations WHERE id = ?", (number,)).fetchone():
                        cur.execute("ROLLBACK")
                        continue  # another process applied it meanwhile
                    for statement in sql.split(";"):
                        if statement.strip():
                            cur.execute(statement)
                    cur.execute(
                        "INSERT INTO migrations (id, name, applied_at) VALUES (?, ?, ?)",
                        (number, name, _now()),
                    )
                    cur.execute("COMMIT")
                except BaseException:
                    self._conn.rollback()
                    raise

    def migrations(self) -> list[tuple[int, str, str]]:
        """The applied migrations: (number, name, applied_at)."""
        rows = self._read("SELECT id, name, applied_at FROM migrations ORDER BY id")
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.path!r})"

    # -- suppression --------------------------------------------------------------------

    def suppressed_phones(self) -> set[str]:
        """Every opted-out number (the list spans campaigns)."""
        return {row[0] for row in self._read("SELECT phone FROM suppression")}

    def suppress(
        self,
        phones: str | Iterable[str],
        *,
        reason: str = "added by hand",
        source: str | None = None,
    ) -> int:
        """Add numbers to the opt-out list; returns how many were new.

        Numbers are normalised (``+86 135-1234-6789`` → ``13512346789``); a number already
        listed keeps its first reason.
        """
        items = [phones] if isinstance(phones, str) else list(phones)
        clean = [p for p in (normalise_phone(x) for x in items) if p]
        if not clean:
            return 0
        with self._tx() as cur:
            before = cur.execute("SELECT COUNT(*) FROM suppression").fetchone()[0]
            cur.executemany(
                "INSERT OR IGNORE INTO suppression (phone, reason, source, added_at) "
                "VALUES (?, ?, ?, ?)",
                [(p, reason, source, _now()) for p in clean],
            )
            after = cur.execute("SELECT COUNT(*) FROM suppression").fetchone()[0]
        return int(after - before)

    def unsuppress(self, phones: str | Iterable[str]) -> int:
        """Remove numbers from the opt-out list (e.g. listed by mistake); returns how many."""
        items = [phones] if isinstance(phones, str) else list(phones)
        clean = [(p,) for p in (normalise_phone(x) for x in items) if p]
        with self._tx() as cur:
            before = cur.execute("SELECT COUNT(*) FROM suppression").fetchone()[0]
            cur.executemany("DELETE FROM suppression WHERE phone = ?", clean)
            after = cur.execute("SELECT COUNT(*) FROM suppression").fetchone()[0]
        return int(before - after)

    def suppression_frame(self) -> pd.DataFrame:
        """The opt-out list: phone, reason, source, added_at."""
        df = self._frame(
            "SELECT phone, reason, source, added_at FROM suppression ORDER BY added_at"
        )
        df["added_at"] = _times(df["added_at"])
        return df

    # -- campaigns and registration ------------------------------------------------------

    def ensure_campaign(
        self,
        name: str,
        *,
        add_num: str | None = None,
        timer_send: str | None = None,
        long_sms: bool = True,
    ) -> None:
        """Create the campaign, or update its sending options (used by a later resend)."""
        now = _now()
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO campaigns (name, created, updated, add_num, timer_send, long_sms) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET updated = excluded.updated, "
                "add_num = excluded.add_num, timer_send = excluded.timer_send, "
                "long_sms = excluded.long_sms",
                (name, now, now, add_num, timer_send, int(long_sms)),
            )

    def campaign_options(self, name: str) -> dict[str, Any] | None:
        """The campaign's last sending options (add_num, timer_send, long_sms), or None."""
        rows = self._read(
            "SELECT add_num, timer_send, long_sms FROM campaigns WHERE name = ?", (name,)
        )
        if not rows:
            return None
        add_num, timer_send, long_sms = rows[0]
        return {"add_num": add_num, "timer_send": timer_send, "long_sms": bool(long_sms)}

    def lookup(self, campaign: str) -> dict[str, tuple[int, str, str, str]]:
        """row_key → (message id, state, phone, content) for every message of the campaign."""
        return {
            row[0]: (row[1], row[2], row[3], row[4])
            for row in self._read(
                "SELECT row_key, id, state, phone, content FROM messages WHERE campaign = ?",
                (campaign,),
            )
        }

    def register(self, campaign: str, rows: Iterable[tuple[str, str, str, int]]) -> Registered:
        """Add ``(row_key, phone, content, parts)`` rows to the campaign, idempotently.

        A key already registered adds nothing. If its message is still ``pending`` and the
        text changed (the template was edited before sending) the new text replaces the old;
        a message already past pending is never touched (its text went out). A row whose key
        form changed (its number gained or lost a second row) is matched to the message with
        the same number and text first (see :func:`resolve_row_keys`); the returned
        :class:`Registered` lists the keys used.
        """
        rows = list(rows)
        now = _now()
        with self._tx() as cur:
            existing = {
                r[0]: (r[1], r[2], r[3], r[4])
                for r in cur.execute(
                    "SELECT row_key, id, state, content, phone FROM messages WHERE campaign = ?",
                    (campaign,),
                )
            }
            keys = resolve_row_keys(
                [(key, phone, content) for key, phone, content, _ in rows],
                {k: (v[3], v[2]) for k, v in existing.items()} if existing else {},
            )
            new: list[tuple[Any, ...]] = []
            updates: list[tuple[Any, ...]] = []
            unchanged = changed_after = 0
            for key, (_, phone, content, parts) in zip(keys, rows, strict=True):
                old = existing.get(str(key))
                if old is None:
                    new.append((campaign, key, phone, content, int(parts), now))
                    existing[str(key)] = (-1, "pending", content, phone)
                elif old[2] == content:
                    unchanged += 1
                elif old[1] == "pending":
                    updates.append((content, int(parts), old[0]))
                else:
                    changed_after += 1
            cur.executemany(
                "INSERT INTO messages (campaign, row_key, phone, content, parts, registered_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                new,
            )
            cur.executemany(
                "UPDATE messages SET content = ?, parts = ? WHERE id = ? AND state = 'pending'",
                updates,
            )
        return Registered(
            len(new), len(updates), unchanged, changed_after, tuple(str(k) for k in keys)
        )

    def recover_claims(self, campaign: str) -> int:
        """Turn ``claimed`` messages left by an interrupted run into ``unknown``.

        Their request may have reached the gateway, so they are never re-sent automatically
        (:func:`mobset_campaign.resend_unknown` is the explicit decision). SmsSend answers
        kept aside because the ledger could not be written (see :meth:`record_answer`) are
        recorded first, so their messages end ``sent`` instead. Returns the count of
        messages turned ``unknown``.
        """
        self.apply_kept_answers()
        now = _now()
        with self._tx(durable=True) as cur:
            cur.execute(
                "UPDATE batches SET state = 'unknown', error = 'interrupted before the answer was "
                "recorded', answered_at = COALESCE(answered_at, ?) WHERE campaign = ? AND "
                "state = 'claimed'",
                (now, campaign),
            )
            cur.execute(
                "UPDATE messages SET state = 'unknown', send_error = 'the run was interrupted "
                "after this message was claimed; it may or may not have been accepted' "
                "WHERE campaign = ? AND state = 'claimed'",
                (campaign,),
            )
            return int(cur.rowcount)

    def pending(self, campaign: str, row_keys: Iterable[str] | None = None) -> list[PendingMessage]:
        """Pending messages of the campaign in registration order (optionally only some keys)."""
        rows = self._read(
            "SELECT id, row_key, phone, content, parts FROM messages WHERE campaign = ? AND "
            "state = 'pending' ORDER BY id",
            (campaign,),
        )
        wanted = None if row_keys is None else set(row_keys)
        return [
            PendingMessage(r[0], r[2], r[3], int(r[4]))
            for r in rows
            if wanted is None or r[1] in wanted
        ]

    def cancel_suppressed(self, campaign: str) -> int:
        """Pending messages to opted-out numbers become ``cancelled``; returns the count."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE messages SET state = 'cancelled', send_error = 'opted out before "
                "sending' WHERE campaign = ? AND state = 'pending' AND phone IN "
                "(SELECT phone FROM suppression)",
                (campaign,),
            )
            return int(cur.rowcount)

    # -- sending ----------------------------------------------------------------------

    def claim(
        self,
        campaign: str,
        message_ids: Sequence[int],
        *,
        account: str = "",
        timer_send: str | None = None,
        add_num: str | None = None,
        long_sms: bool = True,
    ) -> tuple[int, list[tuple[int, str]]]:
        """Claim pending messages for one request, durably, *before* the request goes out.

        Only messages still ``pending`` are claimed (another process may have taken some);
        messages whose number opted out meanwhile become ``cancelled``. Returns the batch id
        and the claimed ``(message id, phone)`` pairs in the given order (empty: send
        nothing).
        """
        now = _now()
        ids = list(message_ids)
        marks = ",".join("?" * len(ids))
        with self._tx(durable=True) as cur:
            cur.execute(
                f"UPDATE messages SET state = 'cancelled', send_error = 'opted out before "
                f"sending' WHERE id IN ({marks}) AND state = 'pending' AND phone IN "
                "(SELECT phone FROM suppression)",
                ids,
            )
            cur.execute(
                "INSERT INTO batches (campaign, account, size, state, claimed_at, timer_send, "
                "add_num, long_sms) VALUES (?, ?, 0, 'claimed', ?, ?, ?, ?)",
                (campaign, account, now, timer_send, add_num, int(long_sms)),
            )
            batch_id = int(cur.lastrowid or 0)
            cur.execute(
                f"UPDATE messages SET state = 'claimed', batch_id = ?, claimed_at = ?, "
                f"account = ? WHERE id IN ({marks}) AND state = 'pending'",
                (batch_id, now, account, *ids),
            )
            got = dict(
                cur.execute(
                    "SELECT id, phone FROM messages WHERE batch_id = ? AND state = 'claimed'",
                    (batch_id,),
                ).fetchall()
            )
            claimed = [(i, got[i]) for i in ids if i in got]
            cur.execute(
                "UPDATE batches SET size = ?, state = ? WHERE id = ?",
                (len(claimed), "claimed" if claimed else "empty", batch_id),
            )
        return batch_id, claimed

    def record_answer(
        self,
        batch_id: int,
        outcomes: Sequence[Outcome],
        *,
        code: int,
        message: str,
        elapsed: float | None = None,
        answered_at: datetime | None = None,
        numbers: Sequence[tuple[str, int]] = (),
    ) -> None:
        """Record the gateway's answer to a batch: one :class:`Outcome` per message.

        ``numbers`` is the answer's raw SmsIdList as ``(phone, SmsId)``. Reports already
        stored for the new SmsIds (a collector may fetch them before the answer is written)
        are applied to their messages. Writing is idempotent (only messages of the batch
        still ``claimed`` or ``unknown`` change), so a locked ledger is simply retried.

        If the answer still cannot be written, it is **kept** — in a file beside the ledger,
        ``<ledger path>.send-answer-<batch>-….json`` (fsync'ed), or in memory for a
        ``":memory:"`` ledger — and :meth:`recover_claims` (the start of the next
        :func:`~mobset_campaign.send` or :func:`~mobset_campaign.resend_unknown`) records it
        before any claim turns ``unknown``: the SmsIds the gateway gave are never lost, and
        the messages are never sent again.

        Raises:
            LedgerError: the answer could not be written; the message says where it was
                kept (or, failing even that, lists the accepted numbers and SmsIds).
        """
        answer: dict[str, Any] = {
            "what": "an SmsSend answer mobset_campaign.send could not record in the ledger",
            "ledger": self.path if self.path == ":memory:" else str(Path(self.path).resolve()),
            "batch_id": int(batch_id),
            "code": int(code),
            "message": str(message),
            "elapsed": elapsed,
            "answered_at": _iso(answered_at) or _now(),
            "numbers": [[str(phone), int(sms_id)] for phone, sms_id in numbers],
            "outcomes": [[o.message_id, o.state, o.sms_id, o.code, o.error] for o in outcomes],
        }
        last: Exception | None = None
        for delay in (*_ANSWER_RETRY_DELAYS, None):
            try:
                self._write_answer(answer)
                return
            except (LedgerError, sqlite3.Error) as exc:
                last = exc
                if delay is None or self._closed:
                    break
                _pause(delay)
        accepted = sum(1 for o in outcomes if o.sms_id)
        where = self._keep_answer(answer, last)
        cause = str(last).rstrip(".")
        raise LedgerError(
            f"Could not record the gateway's answer to request {batch_id} ({accepted} "
            f"number{'' if accepted == 1 else 's'} accepted) in the ledger {self.path}: {cause}. "
            f"The answer was kept {where}; the next send() or resend_unknown() on this ledger "
            "records it first (do not move or delete it). Until then its messages stay "
            "claimed and are not sent again. Find what holds the ledger (another program "
            "writing it?) and run send() again."
        ) from last

    def _write_answer(self, answer: dict[str, Any]) -> None:
        """One transaction: the answer's outcomes, its batch, and stored reports it unlocks."""
        batch_id = answer["batch_id"]
        when = answer["answered_at"]
        with self._tx() as cur:
            cur.executemany(
                "UPDATE messages SET state = ?, sms_id = ?, send_code = ?, send_error = ?, "
                "sent_at = ? WHERE id = ? AND batch_id = ? AND state IN ('claimed', 'unknown')",
                [
                    (state, sms_id, code, error, when, mid, batch_id)
                    for mid, state, sms_id, code, error in answer["outcomes"]
                ],
            )
            cur.execute(
                "UPDATE batches SET state = 'answered', answered_at = ?, elapsed = ?, code = ?, "
                "message = ?, error = NULL WHERE id = ?",
                (when, answer["elapsed"], answer["code"], answer["message"], batch_id),
            )
            self._match_stored_reports(cur, batch_id)

    def _match_stored_reports(self, cur: sqlite3.Cursor, batch_id: int) -> None:
        """Apply reports stored unmatched for SmsIds this batch was just given (same account,
        or a report fetched without one), in the order they arrived."""
        found = cur.execute(
            "SELECT r.id, m.id, r.status, r.report_time, r.ex_status FROM messages m "
            "JOIN reports r ON r.sms_id = m.sms_id AND r.message_id IS NULL "
            "JOIN inbox i ON i.id = r.inbox_id "
            "WHERE m.batch_id = ? AND m.sms_id IS NOT NULL "
            "AND (i.account = COALESCE(m.account, '') OR i.account = '') ORDER BY r.id",
            (batch_id,),
        ).fetchall()
        for report_id, mid, status, when, ex_status in found:
            row = cur.execute(
                "SELECT status, report_time, state FROM messages WHERE id = ?", (mid,)
            ).fetchone()
            self._apply_status(cur, mid, row, int(status), when, ex_status)
            cur.execute("UPDATE reports SET message_id = ? WHERE id = ?", (mid, report_id))

    def _keep_answer(self, answer: dict[str, Any], error: Exception | None) -> str:
        """Keep an answer the ledger would not take; where it was kept (for the message)."""
        answer = {**answer, "error": str(error)}
        if self.path == ":memory:":
            with self._lock:
                self._kept.append(answer)
            return "in memory (a ':memory:' ledger has no folder), on this Ledger object"
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        prefix = self._kept_prefix()
        target = Path(f"{prefix}{answer['batch_id']}-{stamp}-{os.getpid()}.json")
        try:
            write_json_durably(target, answer)
        except OSError as exc:
            pairs = ", ".join(f"{phone}: {sms_id}" for phone, sms_id in answer["numbers"])
            raise LedgerError(
                f"Could not record the gateway's answer to request {answer['batch_id']} in the "
                f"ledger {self.path} ({error}), nor save it to {target} ({exc}). The gateway "
                f"accepted (phone: SmsId) {pairs or 'no number'}; keep this list. Those "
                "messages turn 'unknown' on the next run: do not resend_unknown() them."
            ) from exc
        return f"in {target}"

    def _kept_prefix(self) -> Path:
        path = Path(self.path).resolve()
        return path.with_name(path.name + _KEPT_ANSWER)

    def kept_answers(self) -> list[dict[str, Any]]:
        """SmsSend answers kept aside because the ledger could not be written, oldest first.

        Each is a dict with ``batch_id``, ``code``, ``message``, ``answered_at``,
        ``numbers`` (``[phone, SmsId]`` pairs) and ``outcomes``; files also carry ``path``.
        :meth:`recover_claims` records them.

        Raises:
            LedgerError: a kept file cannot be read (it is left in place).
        """
        with self._lock:
            found: list[dict[str, Any]] = [dict(a) for a in self._kept]
        if self.path == ":memory:":
            return found
        prefix = self._kept_prefix()
        names = sorted(
            name
            for name in os.listdir(prefix.parent)
            if name.startswith(prefix.name) and name.endswith(".json")
        )
        for path in (prefix.parent / name for name in names):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                answer = {key: data[key] for key in _ANSWER_KEYS}
                answer["batch_id"] = int(answer["batch_id"])
                answer["outcomes"] = [
                    [int(mid), str(state), sms_id, code, error]
                    for mid, state, sms_id, code, error in answer["outcomes"]
                ]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise LedgerError(
                    f"{path} should hold an SmsSend answer kept by send() but cannot be read "
                    f"({type(exc).__name__}: {exc}). Look at it: it lists numbers the gateway "
                    "accepted. Move it away to send again; its messages then turn 'unknown'."
                ) from exc
            found.append({**answer, "path": str(path)})
        return found

    def apply_kept_answers(self) -> int:
        """Record the SmsSend answers kept aside (see :meth:`record_answer`); how many.

        Idempotent: an answer recorded before (say, by a run that stopped before deleting its
        file) changes nothing. A kept file is deleted once its answer is committed.

        Raises:
            LedgerError: the ledger still cannot be written, or a kept file cannot be read;
                nothing is lost, the next call tries again.
        """
        applied = 0
        for answer in self.kept_answers():
            self._write_answer(answer)
            applied += 1
            path = answer.get("path")
            if path is None:
                with self._lock:
                    self._kept = [a for a in self._kept if a["batch_id"] != answer["batch_id"]]
                continue
            try:
                Path(path).unlink()
            except FileNotFoundError:
                pass  # another process recorded it and deleted the file meanwhile
            except OSError as exc:  # e.g. Windows: still open elsewhere; recording it is harmless
                _log.warning("recorded the kept answer %s but could not delete it: %s", path, exc)
        return applied

    def fail_batch(
        self,
        batch_id: int,
        state: str,
        *,
        code: int | None,
        error: str,
        elapsed: float | None = None,
    ) -> int:
        """End a batch without per-number results.

        ``state`` is ``"rejected"`` (the gateway refused the whole request), ``"unknown"``
        (it may have been accepted) or ``"pending"`` (nothing was accepted: the messages go
        back to pending for a later run). Returns the number of messages changed.
        """
        if state not in ("rejected", "unknown", "pending"):
            raise ValueError(f"fail_batch: state {state!r}")
        now = _now()
        with self._tx() as cur:
            if state == "pending":
                cur.execute(
                    "UPDATE messages SET state = 'pending', batch_id = NULL, claimed_at = NULL, "
                    "send_code = ?, send_error = ? WHERE batch_id = ? AND state = 'claimed'",
                    (code, f"not sent yet: {error}", batch_id),
                )
            else:
                cur.execute(
                    "UPDATE messages SET state = ?, send_code = ?, send_error = ?, sent_at = ? "
                    "WHERE batch_id = ? AND state = 'claimed'",
                    (state, code, error, now, batch_id),
                )
            changed = int(cur.rowcount)
            cur.execute(
                "UPDATE batches SET state = ?, answered_at = ?, elapsed = ?, code = ?, error = ? "
                "WHERE id = ?",
                ("released" if state == "pending" else state, now, elapsed, code, error, batch_id),
            )
        return changed

    def reset_unknown(self, campaign: str, phones: Iterable[str] | None = None) -> list[str]:
        """Move ``unknown`` messages back to ``pending`` (the explicit resend decision).

        Returns the row keys moved. Only :func:`mobset_campaign.resend_unknown` calls this.
        """
        rows = self._read(
            "SELECT id, row_key, phone, send_error FROM messages WHERE campaign = ? AND "
            "state = 'unknown' ORDER BY id",
            (campaign,),
        )
        wanted = None if phones is None else {normalise_phone(p) for p in phones}
        chosen = [r for r in rows if wanted is None or r[2] in wanted]
        with self._tx(durable=True) as cur:
            cur.executemany(
                "UPDATE messages SET state = 'pending', batch_id = NULL, claimed_at = NULL, "
                "resends = resends + 1, send_error = ? WHERE id = ? AND state = 'unknown'",
                [(f"resent after an unknown outcome ({r[3]})", r[0]) for r in chosen],
            )
        return [r[1] for r in chosen]

    def scheduled(self, campaign: str) -> list[tuple[int, int, str]]:
        """Accepted messages with a TimerSend: (message id, sms_id, timer_send ISO)."""
        return [
            (r[0], r[1], r[2])
            for r in self._read(
                "SELECT m.id, m.sms_id, b.timer_send FROM messages m JOIN batches b ON "
                "b.id = m.batch_id WHERE m.campaign = ? AND m.state = 'sent' AND "
                "m.sms_id IS NOT NULL AND b.timer_send IS NOT NULL ORDER BY m.id",
                (campaign,),
            )
        ]

    def record_cancel(self, results: Sequence[tuple[int, int, str | None]]) -> None:
        """Record SmsCancel results: (message id, status, error text). Status 1 = cancelled."""
        now = _now()
        with self._tx() as cur:
            cur.executemany(
                "UPDATE messages SET cancel_status = ?, cancel_error = ?, cancel_time = ?, "
                "state = CASE WHEN ? = 1 AND state = 'sent' THEN 'cancelled' ELSE state END "
                "WHERE id = ?",
                [(status, error, now, status, mid) for mid, status, error in results],
            )

    def cancel_pending(self, campaign: str, reason: str) -> int:
        """Pending messages of the campaign become ``cancelled`` (never sent); the count."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE messages SET state = 'cancelled', send_error = ? WHERE campaign = ? AND "
                "state = 'pending'",
                (reason, campaign),
            )
            return int(cur.rowcount)

    def counts(self, campaign: str) -> dict[str, int]:
        """Messages of the campaign by state (every state present, zeros included)."""
        out = dict.fromkeys(MESSAGE_STATES, 0)
        for state, n in self._read(
            "SELECT state, COUNT(*) FROM messages WHERE campaign = ? GROUP BY state", (campaign,)
        ):
            out[state] = int(n)
        return out

    def final_progress(self, campaign: str | None = None) -> tuple[int, int]:
        """(accepted messages, of which with a final status) for a campaign or the ledger.

        Accepted messages are those with an SmsId in ``sent``/``delivered``/``failed``.
        """
        where = "state IN ('sent', 'delivered', 'failed') AND sms_id IS NOT NULL"
        params: tuple[Any, ...] = ()
        if campaign is not None:
            where += " AND campaign = ?"
            params = (campaign,)
        rows = self._read(f"SELECT status FROM messages WHERE {where}", params)
        final = sum(1 for (s,) in rows if s is not None and is_final_status(int(s)))
        return len(rows), final

    # -- inbox, reports and replies ------------------------------------------------------

    def store_raw(
        self, method: str, text: str, received_at: datetime | None = None, *, account: str = ""
    ) -> int:
        """Commit a fetched body durably, before anything parses it; returns its inbox id."""
        with self._tx(durable=True) as cur:
            cur.execute(
                "INSERT INTO inbox (method, account, body, received_at) VALUES (?, ?, ?, ?)",
                (method, account, text, _iso(received_at) or _now()),
            )
            return int(cur.lastrowid or 0)

    def unparsed(self) -> list[tuple[int, str, str, str]]:
        """Bodies committed but not yet parsed: (inbox id, method, body, account)."""
        return [
            (r[0], r[1], r[2], r[3])
            for r in self._read(
                "SELECT id, method, body, account FROM inbox WHERE parsed_at IS NULL ORDER BY id"
            )
        ]

    def mark_unparseable(self, inbox_id: int, code: int | None, error: str) -> None:
        """A body that is an error answer or junk: kept, marked, never parsed again."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE inbox SET parsed_at = ?, items = 0, error_code = ?, error = ? "
                "WHERE id = ? AND parsed_at IS NULL",
                (_now(), code, error, inbox_id),
            )

    def _match_message(
        self, cur: sqlite3.Cursor, sms_id: int, account: str
    ) -> tuple[int, int | None, str | None, str] | None:
        row = cur.execute(
            "SELECT id, status, report_time, state FROM messages WHERE sms_id = ? AND "
            "(account = ? OR ? = '') ORDER BY sent_at DESC, id DESC LIMIT 1",
            (sms_id, account, account),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2], row[3])

    def apply_reports(self, inbox_id: int, reports: Sequence[Any], *, account: str = "") -> Applied:
        """Store parsed reports of one inbox body and update their messages (idempotent).

        ``reports`` are :class:`mobset_campaign.client.Report`. A report for an SmsId this
        ledger did not send is kept unmatched. A final status is never replaced by a later
        non-final one; otherwise the newest report wins.
        """
        new = matched = 0
        with self._tx() as cur:
            done = cur.execute("SELECT parsed_at FROM inbox WHERE id = ?", (inbox_id,)).fetchone()
            if done is None or done[0] is not None:
                return Applied(len(reports), 0, 0)
            for seq, rep in enumerate(reports):
                when = _iso(rep.report_time)
                target = self._match_message(cur, int(rep.sms_id), account)
                cur.execute(
                    "INSERT OR IGNORE INTO reports (inbox_id, seq, sms_id, status, report_time, "
                    "ex_status, message_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        inbox_id,
                        seq,
                        int(rep.sms_id),
                        int(rep.status),
                        when,
                        rep.ex_status,
                        None if target is None else target[0],
                    ),
                )
                if cur.rowcount == 0:
                    continue
                new += 1
                if target is None:
                    continue
                matched += 1
                self._apply_status(cur, target[0], target[1:], int(rep.status), when, rep.ex_status)
            cur.execute(
                "UPDATE inbox SET parsed_at = ?, items = ? WHERE id = ?",
                (_now(), len(reports), inbox_id),
            )
        return Applied(len(reports), new, matched)

    @staticmethod
    def _apply_status(
        cur: sqlite3.Cursor,
        mid: int,
        old: tuple[Any, ...],
        status: int,
        when: str | None,
        ex_status: str | None,
    ) -> None:
        """Put one report onto its message (``old`` = its status, report_time, state): a
        final status is never replaced by a later non-final one; else the newest wins."""
        old_status, old_time, state = old
        if old_status is not None:
            if is_final_status(int(old_status)) and not is_final_status(status):
                return
            if old_time and when and when < old_time and is_final_status(int(old_status)):
                return
        if state in ACCEPTED_STATES:
            new_state = (
                "delivered" if status == 12 else "failed" if is_final_status(status) else "sent"
            )
        else:
            new_state = state  # e.g. cancelled: keep, but remember the status
        cur.execute(
            "UPDATE messages SET status = ?, report_time = ?, ex_status = ?, state = ? "
            "WHERE id = ?",
            (status, when, ex_status, new_state, mid),
        )

    def apply_replies(self, inbox_id: int, replies: Sequence[Any], *, account: str = "") -> Applied:
        """Store parsed replies of one inbox body (idempotent), attribute each to the last
        message that went out to that phone before it — at its TimerSend time if scheduled
        (preferring the reply's AddNum when messages were sent with one; none when the reply
        is older than every message) — and add opt-out replies to the suppression list (with
        the campaign as source, or none for an unattributed reply)."""
        new = matched = opt_outs = 0
        with self._tx() as cur:
            done = cur.execute("SELECT parsed_at FROM inbox WHERE id = ?", (inbox_id,)).fetchone()
            if done is None or done[0] is not None:
                return Applied(len(replies), 0, 0)
            for seq, rep in enumerate(replies):
                phone = normalise_phone(rep.phone) or str(rep.phone)
                when = _iso(rep.recv_time)
                target = self._attribute(cur, phone, str(rep.add_num or ""), when, account)
                opt = is_opt_out(rep.content)
                cur.execute(
                    "INSERT OR IGNORE INTO replies (inbox_id, seq, phone, recv_number, add_num, "
                    "recv_time, content, opt_out, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        inbox_id,
                        seq,
                        phone,
                        rep.recv_number,
                        rep.add_num,
                        when,
                        rep.content,
                        int(opt),
                        target,
                    ),
                )
                if cur.rowcount == 0:
                    continue
                new += 1
                matched += target is not None
                if opt:
                    source = None
                    if target is not None:
                        source = cur.execute(
                            "SELECT campaign FROM messages WHERE id = ?", (target,)
                        ).fetchone()[0]
                    cur.execute(
                        "INSERT OR IGNORE INTO suppression (phone, reason, source, added_at) "
                        "VALUES (?, ?, ?, ?)",
                        (phone, f"replied {str(rep.content).strip()!r}", source, _now()),
                    )
                    opt_outs += cur.rowcount
            cur.execute(
                "UPDATE inbox SET parsed_at = ?, items = ? WHERE id = ?",
                (_now(), len(replies), inbox_id),
            )
        return Applied(len(replies), new, matched, opt_outs)

    @staticmethod
    def _attribute(
        cur: sqlite3.Cursor, phone: str, add_num: str, when: str | None, account: str
    ) -> int | None:
        """The message a reply answers: the last one that reached the phone before the reply.

        A message "went out" at its TimerSend time when it was scheduled, else when the
        gateway accepted it (a scheduled promo answered tomorrow belongs to the promo, not to
        a notice sent today). Messages cancelled before their time never went out. A reply
        older than every message (beyond a few minutes of clock skew) answers none of them:
        ``None``, the reply stays unattributed. Among the candidates, those sent with the
        reply's AddNum win.
        """
        rows = cur.execute(
            "SELECT m.id, COALESCE(b.timer_send, m.sent_at), COALESCE(b.add_num, '') "
            "FROM messages m LEFT JOIN batches b ON b.id = m.batch_id WHERE m.phone = ? AND "
            "m.sms_id IS NOT NULL AND m.state != 'cancelled' AND (m.account = ? OR ? = '')",
            (phone, account, account),
        ).fetchall()
        candidates = [(_when(out), int(mid), str(num)) for mid, out, num in rows]
        if when is not None:
            # a reply cannot answer a message that went out after it (clock skew allowed)
            bound = _when(when) + _REPLY_SKEW
            candidates = [c for c in candidates if c[0] <= bound]
        if add_num:
            same = [c for c in candidates if c[2] == add_num]
            candidates = same or candidates
        if not candidates:
            return None
        return max(candidates)[1]

    # -- frames -------------------------------------------------------------------------

    def status_frame(self, campaign: str) -> pd.DataFrame:
        """One row per message of the campaign, in registration order.

        Columns: row_key, phone, content, parts, batch_id, sms_id, send_state, send_code
        (the gateway's Code for the message's request: ≥ 0 is how many it accepted, negative
        the error), send_error, status (the last report's Status), status_text, sent_time
        (when the gateway answered), report_time, ex_status, reply (the latest), reply_time,
        reply_count, opted_out. Times are tz-aware Asia/Shanghai.
        """
        df = self._frame(
            """
            SELECT m.row_key, m.phone, m.content, m.parts, m.batch_id, m.sms_id,
                   m.state AS send_state, m.send_code, m.send_error, m.status,
                   m.sent_at AS sent_time, m.report_time, m.ex_status,
                   (SELECT r.content FROM replies r WHERE r.message_id = m.id
                    ORDER BY r.recv_time DESC, r.id DESC LIMIT 1) AS reply,
                   (SELECT r.recv_time FROM replies r WHERE r.message_id = m.id
                    ORDER BY r.recv_time DESC, r.id DESC LIMIT 1) AS reply_time,
                   (SELECT COUNT(*) FROM replies r WHERE r.message_id = m.id) AS reply_count,
                   EXISTS (SELECT 1 FROM suppression s WHERE s.phone = m.phone) AS opted_out
            FROM messages m WHERE m.campaign = ? ORDER BY m.id
            """,
            (campaign,),
        )
        for col in ("parts", "batch_id", "sms_id", "send_code", "status", "reply_count"):
            df[col] = _int64(df[col])
        for col in ("sent_time", "report_time", "reply_time"):
            df[col] = _times(df[col])
        for col in (
            "row_key",
            "phone",
            "content",
            "send_state",
            "send_error",
            "ex_status",
            "reply",
        ):
            df[col] = _text(df[col])
        df["opted_out"] = df["opted_out"].astype(bool)
        df.insert(
            list(df.columns).index("status") + 1,
            "status_text",
            pd.Series(
                [describe_status(int(s)) if pd.notna(s) else None for s in df["status"]],
                index=df.index,
                dtype="str",
            ),
        )
        return df[list(STATUS_FRAME_COLUMNS)].reset_index(drop=True)

    def replies_frame(self, campaign: str | None = None) -> pd.DataFrame:
        """Every stored reply (or those attributed to one campaign), oldest first.

        Columns: phone, recv_time, content, add_num, recv_number, opt_out, campaign, sms_id.
        Replies not attributed to any message have no campaign and no sms_id.
        """
        sql = (
            "SELECT r.phone, r.recv_time, r.content, r.add_num, r.recv_number, r.opt_out, "
            "m.campaign, m.sms_id FROM replies r LEFT JOIN messages m ON m.id = r.message_id"
        )
        params: tuple[Any, ...] = ()
        if campaign is not None:
            sql += " WHERE m.campaign = ?"
            params = (campaign,)
        df = self._frame(sql + " ORDER BY r.recv_time, r.id", params)
        df["recv_time"] = _times(df["recv_time"])
        df["opt_out"] = df["opt_out"].astype(bool)
        df["sms_id"] = _int64(df["sms_id"])
        for col in ("phone", "content", "add_num", "recv_number", "campaign"):
            df[col] = _text(df[col])
        return df[list(_REPLY_COLUMNS)].reset_index(drop=True)

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
        df.insert(
            2,
            "status_text",
            pd.Series([describe_status(int(s)) for s in df["status"]], index=df.index, dtype="str"),
        )
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

    def status(self, campaign: str) -> CampaignStatus:
        """Where ``campaign`` stands: counts by state and status, rates, replies (see
        :func:`mobset_campaign.status.campaign_status`)."""
        from .status import campaign_status

        return campaign_status(self, campaign)

    def campaigns(self) -> pd.DataFrame:
        """One row per campaign: name, created, messages, parts, and a column per state."""
        base = self._frame(
            "SELECT c.name, c.created, COUNT(m.id) AS messages, COALESCE(SUM(m.parts), 0) AS parts "
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


_ANSWER_KEYS = ("batch_id", "code", "message", "elapsed", "answered_at", "numbers", "outcomes")

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

_REPLY_COLUMNS = (
    "phone",
    "recv_time",
    "content",
    "add_num",
    "recv_number",
    "opt_out",
    "campaign",
    "sms_id",
)
