"""The inbox: every fetched SmsGetReport/SmsGetRecv body, committed before it is parsed, and
the reports and replies parsed out of it.

The gateway hands each report and reply out once only, so a body is committed durably
(:meth:`Inbox.store_raw`) before anything parses it, and parsing is idempotent: reports and
replies are unique per body and position, and a body is marked parsed in the same
transaction that applies it. A report moves its message to ``delivered``, ``failed`` or
``undetermined`` (:func:`apply_status`, :func:`~mobset_campaign.states.outcome_state`); a reply is attributed to the message it answers
(:func:`attribute_reply`) and an opt-out reply puts its number on the suppression list.

A body the ledger cannot take is kept in a file beside it (:meth:`Inbox.keep_body`) and
imported first by the next collect (:meth:`Inbox.import_kept_bodies`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from .._files import kept_files, side_file, write_json_durably
from .._i18n import gettext as _
from .._protocol import BEIJING
from ..answers import RawAnswer, Reply, Report
from ..codes import is_final_status
from ..errors import LedgerError
from ..rows import phone_key
from ..states import ACCEPTED_STATES, outcome_state
from ._store import Store, iso, now
from .optout import is_opt_out

__all__ = ["Applied", "Inbox", "Stored", "apply_status"]

_log = logging.getLogger(__name__)

_METHODS = ("SmsGetReport", "SmsGetRecv")
#: A body the ledger could not take is kept in ``<ledger path>.unsaved-<method>-….json``.
_UNSAVED = ".unsaved-"
#: How far a reply's time may precede the message it answers (gateway vs local clocks).
_REPLY_SKEW = timedelta(minutes=5)
_LONG_AGO = datetime(1970, 1, 1, tzinfo=BEIJING)


@dataclass(frozen=True, slots=True)
class Applied:
    """What parsing one stored body changed."""

    items: int  # reports or replies in the body
    new: int  # newly stored (0 when the body had been parsed before)
    matched: int  # reports/replies tied to a message of this ledger
    opt_outs: int = 0  # numbers newly added to the suppression list


class Stored(NamedTuple):
    """A body in the inbox."""

    inbox_id: int
    method: str
    body: str
    account: str


def _when(text: str | None) -> datetime:
    """A stored ISO time as an aware datetime (naive = Beijing; missing = long ago)."""
    if not text:
        return _LONG_AGO
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=BEIJING)


def _without_body(records: list[dict[str, object]], body: str) -> list[dict[str, object]]:
    return [r for r in records if r.get("kind") != "body" or r.get("body") != body]


def _aware(text: str) -> datetime:
    """An ISO time as an aware datetime (a naive one is Beijing time)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=BEIJING)


def apply_status(
    cur: sqlite3.Cursor,
    message_id: int,
    old: tuple[Any, ...],
    status: int,
    when: str | None,
    ex_status: str | None,
) -> None:
    """Put one report onto its message (``old`` = its status, report_time, state): a final
    status is never replaced by a later non-final one; else the newest wins."""
    old_status, old_time, state = old
    if old_status is not None:
        if is_final_status(int(old_status)) and not is_final_status(status):
            return
        if old_time and when and when < old_time and is_final_status(int(old_status)):
            return
    # a message in another state (cancelled, say) keeps it, but remembers the status
    new_state = outcome_state(status) if state in ACCEPTED_STATES else state
    cur.execute(
        "UPDATE messages SET status = ?, report_time = ?, ex_status = ?, state = ? WHERE id = ?",
        (status, when, ex_status, new_state, message_id),
    )


def attribute_reply(
    cur: sqlite3.Cursor, phone: str, add_num: str, when: str | None, account: str
) -> int | None:
    """The message a reply answers: the last one that reached the phone before the reply.

    A message "went out" at its TimerSend time when it was scheduled, else when the gateway
    accepted it (a scheduled promo answered tomorrow belongs to the promo, not to a notice
    sent today). Messages cancelled before their time never went out. A reply older than
    every message (beyond a few minutes of clock skew) answers none of them: ``None``, the
    reply stays unattributed. Among the candidates, those sent with the reply's AddNum win.
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


class Inbox(Store):
    """Fetched bodies, reports and replies (a part of :class:`~mobset_campaign.ledger.Ledger`)."""

    def store_raw(
        self, method: str, text: str, received_at: datetime | None = None, *, account: str = ""
    ) -> int:
        """Commit a fetched body durably, before anything parses it; returns its inbox id."""
        with self._tx(durable=True) as cur:
            cur.execute(
                "INSERT INTO inbox (method, account, body, received_at) VALUES (?, ?, ?, ?) "
                "RETURNING id",
                (method, account, text, iso(received_at) or now()),
            )
            return int(cur.fetchone()[0])

    def has_body(self, method: str, body: str, account: str) -> bool:
        """Whether this very body is already in the inbox (an identical body holds exactly
        the same reports or replies, so storing it again would add nothing)."""
        return bool(
            self._read(
                "SELECT 1 FROM inbox WHERE method = ? AND account = ? AND body = ? LIMIT 1",
                (method, account, body),
            )
        )

    def unparsed(self) -> list[Stored]:
        """Bodies committed but not yet parsed, oldest first."""
        return [
            Stored(int(r[0]), str(r[1]), str(r[2]), str(r[3]))
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
                (now(), code, error, inbox_id),
            )

    def _match_message(
        self, cur: sqlite3.Cursor, sms_id: int, account: str
    ) -> tuple[int, int | None, str | None, str] | None:
        row = cur.execute(
            "SELECT id, status, report_time, state FROM messages WHERE sms_id = ? AND "
            "(account = ? OR ? = '') ORDER BY sent_at DESC NULLS LAST, id DESC LIMIT 1",
            (sms_id, account, account),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2], row[3])

    def apply_reports(
        self, inbox_id: int, reports: Sequence[Report], *, account: str = ""
    ) -> Applied:
        """Store parsed reports of one inbox body and update their messages (idempotent).

        A report for an SmsId this ledger did not send is kept unmatched. A final status is
        never replaced by a later non-final one; otherwise the newest report wins.
        """
        new = matched = 0
        with self._tx() as cur:
            done = cur.execute("SELECT parsed_at FROM inbox WHERE id = ?", (inbox_id,)).fetchone()
            if done is None or done[0] is not None:
                return Applied(len(reports), 0, 0)
            for seq, rep in enumerate(reports):
                when = iso(rep.report_time)
                target = self._match_message(cur, int(rep.sms_id), account)
                cur.execute(
                    "INSERT INTO reports (inbox_id, seq, sms_id, status, report_time, "
                    "ex_status, message_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
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
                apply_status(cur, target[0], target[1:], int(rep.status), when, rep.ex_status)
            cur.execute(
                "UPDATE inbox SET parsed_at = ?, items = ? WHERE id = ?",
                (now(), len(reports), inbox_id),
            )
        return Applied(len(reports), new, matched)

    def apply_replies(
        self, inbox_id: int, replies: Sequence[Reply], *, account: str = ""
    ) -> Applied:
        """Store parsed replies of one inbox body (idempotent), attribute each to the message
        it answers (:func:`attribute_reply`), and add opt-out replies to the suppression list
        (with the campaign as source, or none for an unattributed reply)."""
        new = matched = opt_outs = 0
        with self._tx() as cur:
            done = cur.execute("SELECT parsed_at FROM inbox WHERE id = ?", (inbox_id,)).fetchone()
            if done is None or done[0] is not None:
                return Applied(len(replies), 0, 0)
            for seq, rep in enumerate(replies):
                phone = phone_key(rep.phone) or str(rep.phone)
                when = iso(rep.recv_time)
                target = attribute_reply(cur, phone, str(rep.add_num or ""), when, account)
                opt = is_opt_out(rep.content)
                cur.execute(
                    "INSERT INTO replies (inbox_id, seq, phone, recv_number, add_num, recv_time, "
                    "content, opt_out, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
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
                        "INSERT INTO suppression (phone, reason, source, added_at) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                        (
                            phone,
                            _("replied {reply!r}").format(reply=str(rep.content).strip()),
                            source,
                            now(),
                        ),
                    )
                    opt_outs += cur.rowcount
            cur.execute(
                "UPDATE inbox SET parsed_at = ?, items = ? WHERE id = ?",
                (now(), len(replies), inbox_id),
            )
        return Applied(len(replies), new, matched, opt_outs)

    # -- bodies the ledger could not take ------------------------------------------------

    def _unsaved_prefix(self) -> Path | None:
        """``<ledger path>.unsaved-`` as a path (None for a ``:memory:`` ledger)."""
        return self._beside(_UNSAVED)

    def keep_body(self, raw: RawAnswer, account: str, error: Exception) -> Path:
        """Write a fetched body the ledger would not take to a file beside it, durably, and
        return its path; :meth:`import_kept_bodies` (the next collect) imports it.

        Raises:
            LedgerError: there is no folder (a ``:memory:`` ledger) or the file cannot be
                written; the message then carries the body itself, so it is not lost.
        """
        prefix = self._unsaved_prefix()
        if prefix is None:
            raise LedgerError(
                _(
                    "collect: the ':memory:' ledger could not store a {method} answer fetched "
                    "from the gateway ({error}), and a memory ledger has no folder to save it "
                    "in. The gateway hands each answer out once only; here it is, keep it: "
                    "{body}"
                ).format(method=raw.method, error=error, body=raw.text)
            ) from error
        target = side_file(prefix, raw.method)
        saved = {
            "what": "a gateway answer mobset_campaign.collect could not store in the ledger",
            "ledger": self.location,
            "method": raw.method,
            "account": account,
            "received_at": raw.received_at.isoformat(),
            "error": str(error),
            "body": raw.text,
        }
        try:
            write_json_durably(target, saved)
            return target
        except OSError as exc:
            reserve = self._reserve()
            try:
                if reserve is not None and reserve.append({"kind": "body", **saved}):
                    return reserve.path
            except OSError as full:
                _log.error(
                    _("could not keep the {method} answer in the reserve either: {error}").format(
                        method=raw.method, error=full
                    )
                )
            raise LedgerError(
                _(
                    "collect: the ledger {ledger} could not store a {method} answer fetched from "
                    "the gateway ({error}), and it could not be saved to {path} either "
                    "({problem}). The gateway hands each answer out once only; here it is, keep "
                    "it: {body}"
                ).format(
                    ledger=self.path,
                    method=raw.method,
                    error=error,
                    path=target,
                    problem=exc,
                    body=raw.text,
                )
            ) from exc

    def import_kept_bodies(self, errors: list[str]) -> list[Stored]:
        """Store the bodies :meth:`keep_body` saved to files, oldest answer first, and return
        them for parsing. A file is deleted only once its body is committed (a body already
        in the inbox is not stored twice); a file that cannot be read is left in place and
        described in ``errors``."""
        prefix = self._unsaved_prefix()
        if prefix is None:
            return []
        found: list[tuple[datetime, str, Path | None, dict[str, str]]] = []
        reserve = self._reserve()
        records = reserve.records() if reserve is not None else []
        for record in records:
            if record.get("kind") == "body":
                saved = {k: str(record[k]) for k in ("method", "account", "received_at", "body")}
                found.append((_aware(saved["received_at"]), "", None, saved))
        for path in kept_files(prefix):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                saved = {key: data[key] for key in ("method", "account", "received_at", "body")}
                if not all(isinstance(v, str) for v in saved.values()):
                    raise ValueError(_("unexpected content"))
                if saved["method"] not in _METHODS:
                    raise ValueError(
                        _("unknown method {method!r}").format(method=saved["method"])
                    )
                received = _aware(saved["received_at"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                errors.append(
                    _(
                        "{path} was not imported ({kind}: {error}); it is left in place. It "
                        "should hold a gateway answer saved by collect: look at it."
                    ).format(path=path, kind=type(exc).__name__, error=exc)
                )
                continue
            found.append((received, path.name, path, saved))
        stored: list[Stored] = []
        for received, _name, kept, saved in sorted(found, key=lambda f: (f[0], f[1])):
            method, body, account = saved["method"], saved["body"], saved["account"]
            if not self.has_body(method, body, account):
                inbox_id = self.store_raw(method, body, received, account=account)
                stored.append(Stored(inbox_id, method, body, account))
            # only now that the body is committed (or was already, by a collect that stopped
            # before it could delete the file)
            if kept is not None:
                kept.unlink()
            elif reserve is not None:
                reserve.update(partial(_without_body, body=body))
        return stored
