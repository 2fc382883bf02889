"""The sending side of the ledger: register → claim → answer, at most once per message.

Each sendable row is **registered** once as a ``pending`` message under its row key
(:meth:`Sending.register`). Before a request goes out its messages are **claimed**, durably
(``synchronous=FULL``, :mod:`mobset_campaign.ledger.claims`), so after a crash the ledger
knows which requests *may* have reached the gateway: those messages become ``unknown``
(:meth:`Sending.recover_claims`) and only :func:`mobset_campaign.resend_unknown` sends them
again. The gateway's **answer** gives each message its outcome
(:mod:`mobset_campaign.ledger.recording`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from .._i18n import gettext as _
from ..codes import is_final_status
from ..rows import phone_key
from ..states import ACCEPTED_STATES, MESSAGE_STATES, UNSENT_STATES, sql_list
from ._store import campaign_name, now
from .claims import OPTED_OUT, Claims
from .locks import LEASE_COLUMNS, Holder, Locks, holder_from_row
from .recording import Outcome, Recording

__all__ = [
    "CancelOutcome",
    "Message",
    "NewMessage",
    "Outcome",
    "PendingMessage",
    "Registered",
    "Registration",
    "Scheduled",
    "Sending",
]


# ---------------------------------------------------------------------------- records


class NewMessage(NamedTuple):
    """A row to register: its row key, phone key, text and parts."""

    key: str
    phone: str
    content: str
    parts: int


class Message(NamedTuple):
    """A registered message, as :meth:`Sending.messages` lists it."""

    id: int
    row_key: str
    state: str
    phone: str
    content: str


@dataclass(frozen=True, slots=True)
class Registered:
    """What :meth:`Sending.register` did: rows new to the campaign, pending rows whose text
    was updated, and rows already past pending whose text differs from what was sent (not
    sent again). ``refused`` are the positions of the rows the ledger would not register
    because their number (or, with several texts per number, that number and text) has a
    message in the campaign under another key; ``keys`` are the rows' keys as given."""

    new: int
    updated: int
    unchanged: int
    changed_after_send: int
    keys: tuple[str, ...] = ()
    refused: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class PendingMessage:
    """A message waiting to be sent (a negative id: not registered yet, in a dry run)."""

    id: int
    phone: str
    content: str
    parts: int


@dataclass(frozen=True)
class Registration:
    """What registering rows would do (:meth:`Sending.plan_registration`): the counts, and
    the messages that would then be pending — what a dry run plans to send."""

    registered: Registered
    pending: tuple[PendingMessage, ...]
    new: tuple[NewMessage, ...] = ()
    updates: tuple[tuple[int, NewMessage], ...] = ()


class Scheduled(NamedTuple):
    """An accepted message with a TimerSend (ISO time)."""

    message_id: int
    sms_id: int
    timer_send: str


class CancelOutcome(NamedTuple):
    """An SmsCancel result for one message: status 1 = cancelled."""

    message_id: int
    status: int
    error: str | None


def _plan(
    existing: Mapping[str, Message], rows: Sequence[NewMessage], one_per_number: bool
) -> Registration:
    """What registering ``rows`` next to the ``existing`` messages does (see register)."""
    new: list[NewMessage] = []
    updates: list[tuple[int, NewMessage]] = []
    pending: list[PendingMessage] = []
    refused: list[int] = []
    unchanged = changed_after = 0
    # what the campaign holds already, as the rule counts it: numbers, or numbers and texts
    held = {m.phone if one_per_number else (m.phone, m.content) for m in existing.values()}
    for i, row in enumerate(rows):
        old = existing.get(row.key)
        if old is None:
            rule = row.phone if one_per_number else (row.phone, row.content)
            if rule in held:
                refused.append(i)  # one message per number (or per number and text)
                continue
            held.add(rule)
            new.append(row)
            pending.append(PendingMessage(-len(new), row.phone, row.content, int(row.parts)))
            continue
        if old.content == row.content:
            unchanged += 1
        elif old.state == "pending":
            updates.append((old.id, row))
        else:
            changed_after += 1
        if old.state == "pending":
            pending.append(PendingMessage(old.id, row.phone, row.content, int(row.parts)))
    registered = Registered(
        len(new),
        len(updates),
        unchanged,
        changed_after,
        tuple(r.key for r in rows),
        tuple(refused),
    )
    return Registration(registered, tuple(pending), tuple(new), tuple(updates))


_MESSAGES_SQL = (
    "SELECT id, row_key, state, phone, content FROM messages WHERE campaign = ? ORDER BY id"
)


class Sending(Claims, Recording, Locks):
    """Campaigns and their messages (a part of :class:`~mobset_campaign.ledger.Ledger`)."""

    # -- campaigns and registration ------------------------------------------------------

    def ensure_campaign(
        self,
        name: str,
        *,
        add_num: str | None = None,
        timer_send: str | None = None,
        long_sms: bool = True,
        one_per_number: bool = True,
    ) -> None:
        """Create the campaign, or update its sending options (used by a later resend).

        Whether it sends one message per number is fixed when it is created.
        """
        name = campaign_name(name)
        stamp = now()
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO campaigns (name, created, updated, add_num, timer_send, long_sms, "
                "one_per_number) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "updated = excluded.updated, add_num = excluded.add_num, "
                "timer_send = excluded.timer_send, long_sms = excluded.long_sms, "
                "one_per_number = COALESCE(campaigns.one_per_number, excluded.one_per_number)",
                (name, stamp, stamp, add_num, timer_send, int(long_sms), int(one_per_number)),
            )

    def campaign_options(self, name: str) -> dict[str, Any] | None:
        """The campaign's sending options (add_num, timer_send, long_sms, one_per_number —
        None for a campaign from before that choice), or None when there is no campaign."""
        rows = self._read(
            "SELECT add_num, timer_send, long_sms, one_per_number FROM campaigns WHERE name = ?",
            (campaign_name(name),),
        )
        if not rows:
            return None
        add_num, timer_send, long_sms, one_per_number = rows[0]
        return {
            "add_num": add_num,
            "timer_send": timer_send,
            "long_sms": bool(long_sms),
            "one_per_number": None if one_per_number is None else bool(one_per_number),
        }

    def note_skipped(self, campaign: str, skipped: Mapping[str, int]) -> None:
        """Remember the rows the last send of the campaign skipped, by reason (shown by
        :func:`mobset_campaign.campaign_status`)."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE campaigns SET last_skipped = ? WHERE name = ?",
                (json.dumps(dict(skipped), ensure_ascii=False), campaign_name(campaign)),
            )

    def last_skipped(self, campaign: str) -> dict[str, int]:
        """The rows the last send of the campaign skipped, by reason (empty when none)."""
        rows = self._read(
            "SELECT last_skipped FROM campaigns WHERE name = ?", (campaign_name(campaign),)
        )
        if not rows or not rows[0][0]:
            return {}
        return {str(k): int(v) for k, v in json.loads(rows[0][0]).items()}

    def messages(self, campaign: str) -> dict[str, Message]:
        """Every message of the campaign by row key, in registration order."""
        return {
            row[1]: Message(*row) for row in self._read(_MESSAGES_SQL, (campaign_name(campaign),))
        }

    def plan_registration(
        self,
        campaign: str,
        rows: Iterable[tuple[str, str, str, int]],
        *,
        one_per_number: bool = True,
    ) -> Registration:
        """What :meth:`register` would do with ``rows``, without writing anything."""
        return _plan(self.messages(campaign), [NewMessage(*r) for r in rows], one_per_number)

    def register(
        self,
        campaign: str,
        rows: Iterable[tuple[str, str, str, int]],
        *,
        one_per_number: bool = True,
    ) -> Registered:
        """Add ``(row_key, phone, content, parts)`` rows to the campaign, idempotently.

        A key already registered adds nothing. If its message is still ``pending`` and the
        text changed (the template was edited before sending) the new text replaces the old;
        a message already past pending is never touched (its text went out). A new key for a
        number that has a message under another key is refused (``Registered.refused``):
        within a campaign a number gets one message — or, with ``one_per_number=False``, one
        per distinct text. :func:`mobset_campaign.rows.assign_messages` gives the keys.
        """
        campaign = campaign_name(campaign)
        wanted = [NewMessage(*r) for r in rows]
        stamp = now()
        with self._tx() as cur:
            existing = {r[1]: Message(*r) for r in cur.execute(_MESSAGES_SQL, (campaign,))}
            plan = _plan(existing, wanted, one_per_number)
            cur.executemany(
                "INSERT INTO messages (campaign, row_key, phone, content, parts, registered_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(campaign, r.key, r.phone, r.content, int(r.parts), stamp) for r in plan.new],
            )
            cur.executemany(
                "UPDATE messages SET content = ?, parts = ? WHERE id = ? AND state = 'pending'",
                [(r.content, int(r.parts), mid) for mid, r in plan.updates],
            )
        return plan.registered

    def recover_claims(self, campaign: str, holder: Holder | None = None) -> int:
        """Turn the ``claimed`` messages of runs that are gone into ``unknown``.

        Their request may have reached the gateway, so they are never re-sent automatically
        (:func:`mobset_campaign.resend_unknown` is the explicit decision). Only a dead run's
        claims change: ``holder`` (the campaign's lock, held by the caller) marks this run,
        whose claims are its own; without it the campaign must not be held by a live run.
        SmsSend answers kept aside because the ledger could not be written (see
        :meth:`record_answer`) are recorded first, so their messages end ``sent`` instead.
        Returns the count of messages turned ``unknown``.

        Raises:
            CampaignBusyError: no ``holder`` was given and a live run holds the campaign.
        """
        campaign = campaign_name(campaign)
        if holder is None:
            other = self.holder(campaign)
            if other is not None and other.alive():
                raise other.busy_error()
        self.apply_kept_answers()
        stamp = now()
        with self._tx(durable=True) as cur:
            # the live runs, read in this (serial) transaction: a sender that joins later
            # cannot have claimed anything before it commits
            live = [
                str(r[1])
                for r in cur.execute(
                    f"SELECT {LEASE_COLUMNS} FROM campaign_locks WHERE campaign = ?",
                    (campaign,),
                ).fetchall()
                if r[1] == getattr(holder, "token", None) or holder_from_row(r).alive()
            ]
            marks = ",".join("?" * len(live)) or "NULL"
            dead = (
                "campaign = ? AND state = 'claimed' AND (holder IS NULL OR holder NOT IN "
                f"({marks}))"
            )
            cur.execute(
                "UPDATE messages SET state = 'unknown', send_error = ? WHERE state = 'claimed' "
                f"AND batch_id IN (SELECT id FROM batches WHERE {dead})",
                (
                    _(
                        "the run was interrupted after this message was claimed; it may or may "
                        "not have been accepted"
                    ),
                    campaign,
                    *live,
                ),
            )
            turned = int(cur.rowcount)
            cur.execute(
                "UPDATE batches SET state = 'unknown', error = ?, answered_at = "
                f"COALESCE(answered_at, ?) WHERE {dead}",
                (_("interrupted before the answer was recorded"), stamp, campaign, *live),
            )
            return turned

    def pending(self, campaign: str, row_keys: Iterable[str] | None = None) -> list[PendingMessage]:
        """Pending messages of the campaign in registration order (optionally only some keys)."""
        campaign = campaign_name(campaign)
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

    def pending_ids(self, campaign: str) -> set[int]:
        """Ids of the campaign's messages still pending: a plain read, which blocks no sender
        (another one may claim some of them the next moment; only a claim is sure)."""
        campaign = campaign_name(campaign)
        return {
            int(r[0])
            for r in self._read(
                "SELECT id FROM messages WHERE campaign = ? AND state = 'pending'", (campaign,)
            )
        }

    def cancel_suppressed(self, campaign: str) -> int:
        """Pending messages to opted-out numbers become ``cancelled``; returns the count."""
        campaign = campaign_name(campaign)
        with self._tx() as cur:
            cur.execute(
                "UPDATE messages SET state = 'cancelled', send_error = ? WHERE campaign = ? AND "
                "state = 'pending' AND phone IN (SELECT phone FROM suppression)",
                (_(OPTED_OUT), campaign),
            )
            return int(cur.rowcount)

    def reset_unknown(self, campaign: str, phones: Iterable[str] | None = None) -> list[str]:
        """Move ``unknown`` messages back to ``pending`` (the explicit resend decision).

        Returns the row keys moved. Only :func:`mobset_campaign.resend_unknown` calls this.
        """
        campaign = campaign_name(campaign)
        rows = self._read(
            "SELECT id, row_key, phone, send_error FROM messages WHERE campaign = ? AND "
            "state = 'unknown' ORDER BY id",
            (campaign,),
        )
        wanted = None if phones is None else {phone_key(p) for p in phones}
        chosen = [r for r in rows if wanted is None or r[2] in wanted]
        with self._tx(durable=True) as cur:
            cur.executemany(
                "UPDATE messages SET state = 'pending', batch_id = NULL, claimed_at = NULL, "
                "resends = resends + 1, send_error = ? WHERE id = ? AND state = 'unknown'",
                [
                    (_("resent after an unknown outcome ({error})").format(error=r[3]), r[0])
                    for r in chosen
                ],
            )
        return [r[1] for r in chosen]

    # -- scheduled messages --------------------------------------------------------------

    def scheduled(self, campaign: str) -> list[Scheduled]:
        """Accepted messages with a TimerSend, in registration order."""
        campaign = campaign_name(campaign)
        return [
            Scheduled(int(r[0]), int(r[1]), str(r[2]))
            for r in self._read(
                "SELECT m.id, m.sms_id, b.timer_send FROM messages m JOIN batches b ON "
                "b.id = m.batch_id WHERE m.campaign = ? AND m.state = 'sent' AND "
                "m.sms_id IS NOT NULL AND b.timer_send IS NOT NULL ORDER BY m.id",
                (campaign,),
            )
        ]

    def record_cancel(self, results: Iterable[tuple[int, int, str | None]]) -> None:
        """Record SmsCancel results (:class:`CancelOutcome`). Status 1 = cancelled."""
        stamp = now()
        with self._tx() as cur:
            cur.executemany(
                "UPDATE messages SET cancel_status = ?, cancel_error = ?, cancel_time = ?, "
                "state = CASE WHEN ? = 1 AND state = 'sent' THEN 'cancelled' ELSE state END "
                "WHERE id = ?",
                [
                    (r.status, r.error, stamp, r.status, r.message_id)
                    for r in map(CancelOutcome._make, results)
                ],
            )

    def cancel_pending(self, campaign: str, reason: str) -> int:
        """Pending messages of the campaign become ``cancelled`` (never sent); the count."""
        campaign = campaign_name(campaign)
        with self._tx() as cur:
            cur.execute(
                "UPDATE messages SET state = 'cancelled', send_error = ? WHERE campaign = ? AND "
                "state = 'pending'",
                (reason, campaign),
            )
            return int(cur.rowcount)

    # -- progress ----------------------------------------------------------------------

    def counts(self, campaign: str) -> dict[str, int]:
        """Messages of the campaign by state (every state present, zeros included)."""
        campaign = campaign_name(campaign)
        out = dict.fromkeys(MESSAGE_STATES, 0)
        for state, n in self._read(
            "SELECT state, COUNT(*) FROM messages WHERE campaign = ? GROUP BY state", (campaign,)
        ):
            out[state] = int(n)
        return out

    def unsent(self, campaign: str | None = None) -> int:
        """Messages of the campaign (or the ledger) not sent yet: pending, or claimed by a
        run still going."""
        where = f"state IN ({sql_list(UNSENT_STATES)})"
        params: tuple[str, ...] = ()
        if campaign is not None:
            where, params = where + " AND campaign = ?", (campaign_name(campaign),)
        return int(self._read(f"SELECT COUNT(*) FROM messages WHERE {where}", params)[0][0])

    def final_progress(self, campaign: str | None = None) -> tuple[int, int]:
        """(accepted messages, of which with a final status) for a campaign or the ledger.

        Accepted messages are those with an SmsId in an accepted state (sent, delivered,
        failed).
        """
        campaign = None if campaign is None else campaign_name(campaign)
        where = f"state IN ({sql_list(ACCEPTED_STATES)}) AND sms_id IS NOT NULL"
        params: tuple[Any, ...] = ()
        if campaign is not None:
            where += " AND campaign = ?"
            params = (campaign,)
        rows = self._read(f"SELECT status FROM messages WHERE {where}", params)
        final = sum(1 for (s,) in rows if s is not None and is_final_status(int(s)))
        return len(rows), final
