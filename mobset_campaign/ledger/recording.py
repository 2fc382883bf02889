"""Recording what the gateway answered to a request — even when the ledger will not take it.

An SmsSend answer gives each claimed message its outcome (:class:`Outcome`: ``sent`` with an
SmsId, ``rejected``, ``unknown``); :meth:`Recording.record_answer` writes them in one
transaction, together with any report that arrived for the new SmsIds before the answer was
written. A request that got no per-number answer ends with :meth:`Recording.fail_batch`.

An answer the ledger cannot take (locked by another program, a full disk) is retried, then
**kept** in a file beside the ledger (``<ledger path>.send-answer-<batch>-….json``, fsync'ed)
and recorded by :meth:`Recording.apply_kept_answers` before the next run turns any claim
``unknown``: an SmsId the gateway gave is never lost, and its message never sent again.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .._files import kept_files, side_file, write_json_durably
from .._i18n import gettext as _
from .._i18n import ngettext
from ..errors import AnswerKeptError, InputError, LedgerError
from ..states import ANSWERABLE_STATES, UNANSWERED_STATES, sql_list
from ._postgres import SHARED
from ._store import Store, iso, now
from .inbox import apply_status

__all__ = ["Outcome", "Recording"]

_log = logging.getLogger(__name__)

#: Pauses (seconds) between attempts to record an SmsSend answer; each attempt also waits
#: up to the busy timeout (30 s) for another process's write lock.
_ANSWER_RETRY_DELAYS: tuple[float, ...] = (0.5, 2.0, 5.0)
#: An SmsSend answer that could not be recorded is kept in ``<ledger path>.send-answer-*.json``.
_KEPT_ANSWER = ".send-answer-"
_ANSWER_KEYS = ("batch_id", "code", "message", "elapsed", "answered_at", "numbers", "outcomes")


def _answer(data: dict[str, Any]) -> dict[str, Any]:
    """A kept answer as recorded: its keys checked, its numbers typed."""
    answer = {key: data[key] for key in _ANSWER_KEYS}
    answer["batch_id"] = int(answer["batch_id"])
    answer["outcomes"] = [
        [int(mid), str(state), sms_id, code, error]
        for mid, state, sms_id, code, error in answer["outcomes"]
    ]
    return answer


def _pause(seconds: float) -> None:
    """Wait between attempts to record an answer (tests replace it)."""
    time.sleep(seconds)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result for one message of an answered batch."""

    message_id: int
    state: str
    sms_id: int | None
    code: int | None
    error: str | None


class Recording(Store):
    """Answers to requests (a part of :class:`~mobset_campaign.ledger.Ledger`)."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False
    ) -> None:
        #: answers kept aside by a ``":memory:"`` ledger (it has no folder for a file)
        self._kept_answers: list[dict[str, Any]] = []
        super().__init__(path, read_only=read_only)

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
        still ``claimed`` or ``unknown`` change), so a locked ledger is simply retried. It
        returns once the answer is committed durably (``synchronous=FULL``), in one
        transaction with the claims and answers other threads brought meanwhile.

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
            "ledger": self.location,
            "batch_id": int(batch_id),
            "code": int(code),
            "message": str(message),
            "elapsed": elapsed,
            "answered_at": iso(answered_at) or now(),
            "numbers": [[str(phone), int(sms_id)] for phone, sms_id in numbers],
            "outcomes": [[o.message_id, o.state, o.sms_id, o.code, o.error] for o in outcomes],
        }
        last: Exception | None = None
        for delay in (*_ANSWER_RETRY_DELAYS, None):
            try:
                self._write_answer(answer)
                return
            except LedgerError as exc:
                last = exc
                if delay is None or self.closed or exc.reason != "locked":
                    break  # only another program's lock clears up by waiting
                _pause(delay)
        raise self._keep_answer(answer, last) from last

    def _write_answer(self, answer: dict[str, Any]) -> None:
        """One transaction (maybe shared: see ``_grouped``): the answer's outcomes, its batch,
        and stored reports it unlocks."""
        batch_id = answer["batch_id"]
        when = answer["answered_at"]

        def work(cur: Any) -> None:
            cur.executemany(
                "UPDATE messages SET state = ?, sms_id = ?, send_code = ?, send_error = ?, "
                f"sent_at = ? WHERE id = ? AND batch_id = ? AND state IN "
                f"({sql_list(ANSWERABLE_STATES)})",
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

        # durable, and committed with the claims and answers other workers bring meanwhile
        # (one fsync for all): the SmsIds are on disk before the run counts them. Other
        # senders' answers may run beside it (each changes its own batch's rows), a
        # collector's matching of reports to SmsIds may not (serial "shared")
        self._grouped(work, durable=True, serial=SHARED)

    @staticmethod
    def _match_stored_reports(cur: sqlite3.Cursor, batch_id: int) -> None:
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
            apply_status(cur, mid, row, int(status), when, ex_status)
            cur.execute("UPDATE reports SET message_id = ? WHERE id = ?", (mid, report_id))

    # -- answers the ledger could not take -----------------------------------------------

    def _kept_prefix(self) -> Path:
        path = self._beside(_KEPT_ANSWER)
        assert path is not None  # a :memory: ledger keeps answers on the object
        return path

    def _keep_answer(self, answer: dict[str, Any], error: Exception | None) -> AnswerKeptError:
        """Keep an answer the ledger would not take: a file beside it, else the reserve, else
        (a ``:memory:`` ledger) this object. The error to raise says where, or lists the
        accepted numbers when it could be kept nowhere."""
        answer = {**answer, "error": str(error)}
        accepted = [(str(p), int(i)) for p, i in answer["numbers"] if int(i)]
        cause = str(error).rstrip(".")
        head = ngettext(
            "Could not record the gateway's answer to request {batch} ({n:,} number accepted) "
            "in the ledger {ledger}: {cause}.",
            "Could not record the gateway's answer to request {batch} ({n:,} numbers accepted) "
            "in the ledger {ledger}: {cause}.",
            len(accepted),
        ).format(batch=answer["batch_id"], n=len(accepted), ledger=self.path, cause=cause)
        where = self._put_aside(answer)
        if where is None:
            pairs = ", ".join(f"{phone}: {sms_id}" for phone, sms_id in accepted)
            tail = _(
                "It could not be kept beside the ledger either. The gateway accepted "
                "(phone: SmsId) {pairs}; keep this list. Those messages turn 'unknown' on the "
                "next run: do not resend_unknown() them."
            ).format(pairs=pairs or _("no number"))
            return AnswerKeptError(
                f"{head} {tail}",
                accepted=accepted,
                kept_in=[],
                lost=accepted,
                cause=cause,
            )
        tail = _(
            "The answer was kept {where}; the next send(), resend_unknown() or collect() on "
            "this ledger records it first (do not move or delete it). Until then its messages "
            "stay claimed and are not sent again. Find what holds the ledger (another program "
            "writing it? a full disk?) and run send() again."
        ).format(where=where)
        return AnswerKeptError(
            f"{head} {tail}",
            accepted=accepted,
            kept_in=[where],
            lost=[],
            cause=cause,
        )

    def _put_aside(self, answer: dict[str, Any]) -> str | None:
        if self._beside(_KEPT_ANSWER) is None:
            with self._lock:
                self._kept_answers.append(answer)
            return _("in memory (a ':memory:' ledger has no folder), on this Ledger object")
        target = side_file(self._kept_prefix(), str(answer["batch_id"]))
        try:
            write_json_durably(target, answer)
            return _("in {path}").format(path=target)
        except OSError as exc:
            _log.warning(
                _("could not keep the answer in {path} ({error}); using the reserve").format(
                    path=target, error=exc
                )
            )
        reserve = self._reserve()
        try:
            if reserve is not None and reserve.append({"kind": "send-answer", **answer}):
                return _("in the room set aside beside the ledger ({path})").format(
                    path=reserve.path
                )
        except OSError as exc:
            _log.error(
                _("could not keep the answer in the reserve either: {error}").format(error=exc)
            )
        return None

    def kept_answers(self) -> list[dict[str, Any]]:
        """SmsSend answers kept aside because the ledger could not be written, oldest first.

        Each is a dict with ``batch_id``, ``code``, ``message``, ``answered_at``,
        ``numbers`` (``[phone, SmsId]`` pairs) and ``outcomes``; one kept in a file also
        carries its ``path``, one kept in the reserve ``reserve: True``.
        :meth:`recover_claims` records them.

        Raises:
            LedgerError: a kept file cannot be read (it is left in place).
        """
        with self._lock:
            found: list[dict[str, Any]] = [dict(a) for a in self._kept_answers]
        reserve = self._reserve()
        if reserve is None:
            return found
        for path in kept_files(self._kept_prefix()):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                found.append({**_answer(data), "path": str(path)})
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise LedgerError(
                    _(
                        "{path} should hold an SmsSend answer kept by send() but cannot be read "
                        "({kind}: {error}). Look at it: it lists numbers the gateway accepted. "
                        "Move it away to send again; its messages then turn 'unknown'."
                    ).format(path=path, kind=type(exc).__name__, error=exc)
                ) from exc
        try:
            records = reserve.records()
        except (OSError, ValueError) as exc:
            raise LedgerError(
                _(
                    "The room set aside beside the ledger ({path}) cannot be read ({error}); it "
                    "may hold answers of the gateway. Look at it before sending again."
                ).format(path=reserve.path, error=exc)
            ) from exc
        found += [
            {**_answer(r), "reserve": True} for r in records if r.get("kind") == "send-answer"
        ]
        return found

    def apply_kept_answers(self) -> int:
        """Record the SmsSend answers kept aside (see :meth:`record_answer`); how many.

        Idempotent: an answer recorded before (say, by a run that stopped before deleting its
        file) changes nothing. A kept file is deleted, and the reserve emptied of it, once
        its answer is committed.

        Raises:
            LedgerError: the ledger still cannot be written, or a kept file cannot be read;
                nothing is lost, the next call tries again.
        """
        applied = 0
        from_reserve: set[int] = set()
        for answer in self.kept_answers():
            self._write_answer(answer)
            applied += 1
            path = answer.get("path")
            if answer.get("reserve"):
                from_reserve.add(int(answer["batch_id"]))
            elif path is None:
                with self._lock:
                    kept = self._kept_answers
                    kept[:] = [a for a in kept if a["batch_id"] != answer["batch_id"]]
            else:
                try:
                    Path(path).unlink()
                except FileNotFoundError:
                    pass  # another process recorded it and deleted the file meanwhile
                except OSError as exc:  # e.g. Windows: still open elsewhere; harmless
                    _log.warning(
                        _("recorded the kept answer {path} but could not delete it: {error}").format(
                            path=path, error=exc
                        )
                    )
        reserve = self._reserve()
        if from_reserve and reserve is not None:
            reserve.update(
                lambda records: [
                    r
                    for r in records
                    if r.get("kind") != "send-answer" or int(str(r["batch_id"])) not in from_reserve
                ]
            )
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

        Raises:
            InputError: another ``state``.
        """
        if state not in UNANSWERED_STATES:
            raise InputError(
                _("fail_batch: state must be one of {states}, not {value!r}.").format(
                    states=", ".join(UNANSWERED_STATES), value=state
                )
            )
        stamp = now()

        def work(cur: Any) -> int:
            if state == "pending":
                cur.execute(
                    "UPDATE messages SET state = 'pending', batch_id = NULL, claimed_at = NULL, "
                    "send_code = ?, send_error = ? WHERE batch_id = ? AND state = 'claimed'",
                    (code, _("not sent yet: {error}").format(error=error), batch_id),
                )
            else:
                cur.execute(
                    "UPDATE messages SET state = ?, send_code = ?, send_error = ?, sent_at = ? "
                    "WHERE batch_id = ? AND state = 'claimed'",
                    (state, code, error, stamp, batch_id),
                )
            changed = int(cur.rowcount)
            cur.execute(
                "UPDATE batches SET state = ?, answered_at = ?, elapsed = ?, code = ?, error = ? "
                "WHERE id = ?",
                (
                    "released" if state == "pending" else state,
                    stamp,
                    elapsed,
                    code,
                    error,
                    batch_id,
                ),
            )
            return changed

        return self._grouped(work, durable=False)
