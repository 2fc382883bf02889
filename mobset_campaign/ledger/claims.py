"""Claims: the messages of one request, taken durably *before* the request goes out.

A claim (:meth:`Claims.claim`) moves pending messages to ``claimed`` under a new batch, in a
transaction committed with ``synchronous=FULL`` (shared with the claims and answers other
workers bring meanwhile: :mod:`mobset_campaign.ledger._group`). Only rows still pending are
taken: several senders share a campaign (on PostgreSQL their claims run beside each other,
taking rows with ``FOR UPDATE SKIP LOCKED``), and a claim made for a run checks, in the same
transaction, that the run still holds its lease (:mod:`mobset_campaign.ledger.locks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from .._i18n import N_
from .._i18n import gettext as _
from ..errors import LedgerError
from ._store import Store, campaign_name, now
from .locks import Holder

__all__ = ["OPTED_OUT", "Claim", "Claimed", "Claims"]

#: Why a message to a number that opted out meanwhile was not sent (kept in ``send_error``).
OPTED_OUT = N_("opted out before sending")


class Claimed(NamedTuple):
    """One message claimed for a request."""

    message_id: int
    phone: str


class Claim(NamedTuple):
    """A request's batch and the messages claimed for it, in the order asked (empty: send
    nothing; ``batch_id`` 0 when none was still pending, as no batch was recorded)."""

    batch_id: int
    messages: list[Claimed]


class Claims(Store):
    """Claims of messages for requests (a part of :class:`~mobset_campaign.ledger.Ledger`)."""

    # -- claims ------------------------------------------------------------------------

    def claim(
        self,
        campaign: str,
        message_ids: Sequence[int],
        *,
        account: str = "",
        timer_send: str | None = None,
        add_num: str | None = None,
        long_sms: bool = True,
        holder: Holder | None = None,
    ) -> Claim:
        """Claim pending messages for one request, durably, *before* the request goes out.

        Only messages still ``pending`` are claimed (another process may have taken some);
        messages whose number opted out meanwhile become ``cancelled``. With ``holder``, the
        claim is made only while that run still holds the campaign (see
        :mod:`mobset_campaign.ledger.locks`), and the batch records it. It returns once the
        claim is committed with ``synchronous=FULL``, in one transaction with the claims and
        answers other threads brought meanwhile (:mod:`mobset_campaign.ledger._group`).

        Raises:
            LedgerError: ``holder`` no longer holds the campaign; nothing was claimed.
        """
        campaign = campaign_name(campaign)
        stamp = now()
        # PostgreSQL: claims run beside each other, each taking only rows no other claim
        # holds (SKIP LOCKED), and keeping the lock row from being taken over meanwhile;
        # SQLite: claims take turns (BEGIN IMMEDIATE), so the same SQL needs no row locks.
        skip_locked, share = (
            (" FOR UPDATE SKIP LOCKED", " FOR SHARE") if self.is_postgres else ("", "")
        )

        def lost() -> LedgerError:  # only when it happens: no message made per claim
            return LedgerError(
                _(
                    "This run of campaign {campaign!r} no longer holds it (another run took it "
                    "over, taking this one for dead), so it stopped before sending more; "
                    "nothing of the last request was sent. Check what else is running, then "
                    "send again."
                ).format(campaign=campaign)
            )

        opted_out_text = _(OPTED_OUT)
        batch_row = (
            campaign,
            account,
            stamp,
            timer_send,
            add_num,
            int(long_sms),
            None if holder is None else holder.token,
        )

        def work(cur: Any) -> Claim:
            # Few statements: in a busy sender each one waits for the GIL while the other
            # workers run, and the claims and answers grouped with this one wait for it.
            if not self.is_postgres and message_ids:
                claim = self._claim_on_sqlite(
                    cur, message_ids, batch_row, holder is not None, opted_out_text
                )
                if claim is None:
                    raise lost()
                return claim
            marks = ",".join("?" * len(message_ids))
            found = (
                cur.execute(
                    "SELECT id, phone, EXISTS (SELECT 1 FROM suppression s WHERE s.phone = "
                    f"messages.phone) FROM messages WHERE id IN ({marks}) AND state = 'pending' "
                    f"ORDER BY id{skip_locked}",
                    list(message_ids),
                ).fetchall()
                if message_ids
                else []
            )
            opted_out = [int(r[0]) for r in found if r[2]]
            phones = {int(r[0]): str(r[1]) for r in found if not r[2]}
            claimed = [Claimed(i, phones[i]) for i in dict.fromkeys(message_ids) if i in phones]
            # the batch's INSERT checks the lease (SQLite, and PostgreSQL's claim of rows
            # below): one statement less
            if holder is not None and (not found or (self.is_postgres and not claimed)):
                row = cur.execute(
                    f"SELECT holder FROM campaign_locks WHERE campaign = ? AND holder = ?{share}",
                    (campaign, holder.token),
                ).fetchone()
                if row is None:
                    raise lost()
            if not found:  # other senders took them all: no batch row for an empty claim
                return Claim(0, [])
            if opted_out:
                cur.execute(
                    "UPDATE messages SET state = 'cancelled', send_error = ? WHERE id IN "
                    f"({','.join('?' * len(opted_out))}) AND state = 'pending'",
                    (opted_out_text, *opted_out),
                )
            if claimed and self.is_postgres:
                got = self._claim_rows_on_postgres(cur, batch_row, claimed, holder is not None)
                if got is None:
                    raise lost()
                return Claim(got, claimed)
            batch_id = self._insert_batch(cur, batch_row, len(claimed), holder is not None)
            if batch_id is None:
                raise lost()
            if claimed:
                cur.execute(
                    "UPDATE messages SET state = 'claimed', batch_id = ?, claimed_at = ?, "
                    f"account = ? WHERE id IN ({','.join('?' * len(claimed))}) AND "
                    "state = 'pending'",
                    (batch_id, stamp, account, *(c.message_id for c in claimed)),
                )
                if cur.rowcount != len(claimed):  # cannot be (the rows are ours); never lie
                    raise self._changed_under_claim(cur.rowcount, len(claimed))
            return Claim(batch_id, claimed)

        # one commit with the claims and answers other workers bring meanwhile; returned
        # only once that commit (synchronous=FULL) is done: durable before the request
        return self._grouped(work, durable=True, serial=False)

    def _claim_on_sqlite(
        self,
        cur: Any,
        message_ids: Sequence[int],
        row: tuple[Any, ...],
        leased: bool,
        opted_out_text: str,
    ) -> Claim | None:
        """:meth:`claim` on SQLite (its transactions take turns, so nothing moves under it)
        in two statements: the batch, then the messages claimed for it with their phones.
        None when the holder no longer holds the campaign."""
        ids = list(dict.fromkeys(message_ids))
        batch_id = self._insert_batch(cur, row, len(ids), leased)
        if batch_id is None:
            return None
        marks = ",".join("?" * len(ids))
        got = dict(
            cur.execute(
                "UPDATE messages SET state = 'claimed', batch_id = ?, claimed_at = ?, "
                f"account = ? WHERE id IN ({marks}) AND state = 'pending' AND phone NOT IN "
                "(SELECT phone FROM suppression) RETURNING id, phone",
                (batch_id, row[2], row[1], *ids),
            ).fetchall()
        )
        claimed = [Claimed(i, str(got[i])) for i in ids if i in got]
        if len(claimed) == len(ids):
            return Claim(batch_id, claimed)
        # some were taken by another sender, or their number opted out meanwhile
        cur.execute(
            f"UPDATE messages SET state = 'cancelled', send_error = ? WHERE id IN ({marks}) "
            "AND state = 'pending' AND phone IN (SELECT phone FROM suppression)",
            (opted_out_text, *ids),
        )
        if not claimed and not cur.rowcount:  # none was pending: no batch for an empty claim
            cur.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
            return Claim(0, [])
        cur.execute(
            "UPDATE batches SET size = ?, state = ? WHERE id = ?",
            (len(claimed), "claimed" if claimed else "empty", batch_id),
        )
        return Claim(batch_id, claimed)

    def _claim_rows_on_postgres(
        self, cur: Any, row: tuple[Any, ...], claimed: list[Claimed], leased: bool
    ) -> int | None:
        """:meth:`claim`'s batch and its messages on PostgreSQL, the rows already locked by
        this transaction: one statement, whose INSERT also checks (and share-locks) the
        lease. Returns the batch id; None when the holder no longer holds the campaign."""
        lease = (
            " WHERE EXISTS (SELECT 1 FROM campaign_locks WHERE campaign = ? AND holder = ? "
            "FOR SHARE)"
            if leased
            else ""
        )
        ids = [c.message_id for c in claimed]
        updated = cur.execute(
            "WITH batch AS (INSERT INTO batches (campaign, account, claimed_at, timer_send, "
            "add_num, long_sms, holder, size, state) SELECT ?, ?, ?, ?, ?, ?, ?, ?, 'claimed'"
            f"{lease} RETURNING id) "
            "UPDATE messages SET state = 'claimed', batch_id = batch.id, claimed_at = ?, "
            f"account = ? FROM batch WHERE messages.id IN ({','.join('?' * len(ids))}) AND "
            "messages.state = 'pending' RETURNING batch.id",
            (*row, len(ids), *((row[0], row[6]) if leased else ()), row[2], row[1], *ids),
        ).fetchall()
        if not updated:
            return None  # no batch: the lease is gone (the rows are this transaction's)
        if len(updated) != len(ids):  # cannot be (the rows are ours); never lie
            raise self._changed_under_claim(len(updated), len(ids))
        return int(updated[0][0])

    def _changed_under_claim(self, changed: int, claimed: int) -> LedgerError:
        return LedgerError(
            _(
                "The ledger {ledger} changed messages of a claim under it ({changed} "
                "of {claimed} claimed); nothing was claimed. Run the command again."
            ).format(ledger=self.path, changed=changed, claimed=claimed)
        )

    def _insert_batch(self, cur: Any, row: tuple[Any, ...], size: int, leased: bool) -> int | None:
        """Insert a claim's batch (``row``: campaign, account, claimed_at, timer_send,
        add_num, long_sms, holder) and return its id. On SQLite, with ``leased``, only while
        the holder still holds the campaign: None when it does not (PostgreSQL checked it
        before, with a row lock)."""
        columns = (
            "INSERT INTO batches (campaign, account, claimed_at, timer_send, add_num, long_sms, "
            "holder, size, state) "
        )
        values = (*row, size, "claimed" if size else "empty")
        if self.is_postgres:
            cur.execute(columns + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id", values)
            return int(cur.fetchone()[0])
        if not leased:
            cur.execute(columns + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
        else:
            cur.execute(
                columns + "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM "
                "campaign_locks WHERE campaign = ? AND holder = ?)",
                (*values, row[0], row[6]),
            )
            if cur.rowcount != 1:
                return None
        return int(cur.lastrowid)
