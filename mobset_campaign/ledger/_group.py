"""Group commit: the claims and answers of concurrent threads share one transaction.

A sender's workers each claim a batch before its request goes out and record the answer when
it comes back. Alone, each of those is a transaction of its own, committed with an fsync,
while the other workers queue for the ledger's lock. :class:`GroupCommit` lets them share:

* a thread whose work finds no group running becomes the **leader**: it takes every work
  queued so far (its own included), runs them in **one transaction** and commits once;
* the threads whose work it runs (the **followers**) wait meanwhile, and each gets its own
  result, or its own exception, once that commit has returned;
* works that arrive while a group commits queue up; the first of them leads the next group.
  There is no thread of its own and no timer: a group is what arrived while the last one
  committed, so a lone caller waits for nobody.

What it keeps:

* **Nothing is returned before it is committed.** A claim's caller gets its
  :class:`~mobset_campaign.ledger.claims.Claim` only after the commit that holds it — with
  ``synchronous=FULL`` (PostgreSQL: ``synchronous_commit=on``) when any work of the group
  asked to be durable — so a claim is on disk before its request can leave.
* **One work's failure is nobody else's.** If a work raises, or the commit fails, the whole
  group is rolled back and every work runs again *alone*, in its own caller's thread and
  transaction: each caller gets exactly what it would have got without grouping, and no
  work is half committed. (A failure before any work ran — the ledger locked by another
  program, a lost connection — is every work's failure: they get it at once instead of each
  waiting the busy timeout again.)
* Works touch nothing but the cursor they are given: a work may run twice (once in a group
  that was rolled back). Works must not be run from inside another transaction of the same
  ledger (they would wait for it); such a call runs alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar, cast

__all__ = ["GroupCommit"]

_log = logging.getLogger(__name__)

T = TypeVar("T")

# an item's status: waiting in the queue, to lead the next group, done (value = its result),
# failed (value = the exception), to run alone in its own transaction
_WAITING, _LEAD, _DONE, _FAILED, _ALONE = range(5)


class _Item(Generic[T]):
    __slots__ = ("durable", "serial", "status", "value", "wake", "work")

    def __init__(self, work: Callable[[Any], T], durable: bool, serial: bool | str) -> None:
        self.work = work
        self.durable = durable
        self.serial = serial
        self.status = _WAITING
        self.value: Any = None
        self.wake = threading.Event()


def _serial(group: list[_Item[Any]]) -> bool | str:
    """The group's serial level: the strongest any of its works asked for (``True``, then a
    shared level such as ``"shared"``, then ``False``)."""
    levels = [i.serial for i in group]
    if True in levels:
        return True
    return next((level for level in levels if level), False)


class GroupCommit:
    """Runs concurrent callers' works in shared transactions (see the module docstring).

    Args:
        tx: opens one write transaction: ``tx(durable=…, serial=…)`` is a context manager
            giving a cursor, committing on a clean exit and rolling back on an exception.
        lock: the lock ``tx`` holds; the leader takes it before it collects the queue, so
            works that arrive while another transaction runs join the next group.
    """

    def __init__(
        self,
        tx: Callable[..., AbstractContextManager[Any]],
        lock: AbstractContextManager[Any],
    ) -> None:
        self._tx = tx
        self._lock = lock
        self._mutex = threading.Lock()
        self._queue: list[_Item[Any]] = []
        self._leading = False
        self._inside = threading.local()
        #: transactions committed through :meth:`run`, and the works they held: fewer
        #: commits than works is the grouping at work
        self.commits = 0
        self.works = 0

    def run(self, work: Callable[[Any], T], *, durable: bool, serial: bool | str = True) -> T:
        """Run ``work(cursor)`` in a write transaction, possibly shared with other threads'
        works; its result once that transaction is committed.

        Raises:
            the work's own exception, or the transaction's (a LedgerError); nothing of the
            work was written then.
        """
        if getattr(self._inside, "leading", False):  # called from a work: no waiting for us
            return self._alone(work, durable, serial)
        item: _Item[T] = _Item(work, durable, serial)
        with self._mutex:
            self._queue.append(item)
            lead = not self._leading
            self._leading = True
        if not lead:
            item.wake.wait()
        if lead or item.status == _LEAD:
            self._lead()
        if item.status == _DONE:
            return cast(T, item.value)
        if item.status == _FAILED:
            raise item.value
        return self._alone(work, durable, serial)

    def _alone(self, work: Callable[[Any], T], durable: bool, serial: bool | str) -> T:
        with self._tx(durable=durable, serial=serial) as cur:
            value = work(cur)
        with self._mutex:
            self.commits += 1
            self.works += 1
        return value

    def _lead(self) -> None:
        """Run what is queued as one group, then hand the lead to the next work queued."""
        try:
            with self._lock:
                with self._mutex:
                    group, self._queue = self._queue, []
                self._commit(group)
        finally:
            with self._mutex:
                if self._queue:
                    self._queue[0].status = _LEAD
                    self._queue[0].wake.set()
                else:
                    self._leading = False

    def _commit(self, group: list[_Item[Any]]) -> None:
        """One transaction for the group; every item ends done, failed or to run alone."""
        results: list[Any] = []
        started = False
        failure: BaseException | None = None
        self._inside.leading = True
        try:
            with self._tx(durable=any(i.durable for i in group), serial=_serial(group)) as cur:
                started = True
                for item in group:
                    results.append(item.work(cur))
        except Exception as exc:
            failure = exc
        finally:
            self._inside.leading = False
            if failure is None and len(results) == len(group):
                with self._mutex:
                    self.commits += 1
                    self.works += len(group)
                for item, value in zip(group, results, strict=True):
                    item.status, item.value = _DONE, value
            elif failure is not None and (not started or len(group) == 1):
                for item in group:  # what alone would have raised too
                    item.status, item.value = _FAILED, failure
            else:  # a work failed, or the commit did: each runs again, alone
                if len(group) > 1:
                    _log.debug("a group of %d works was rolled back (%r)", len(group), failure)
                for item in group:
                    item.status = _ALONE
            for item in group:
                item.wake.set()
