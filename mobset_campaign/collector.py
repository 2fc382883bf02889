"""Collecting delivery reports and replies without ever losing one.

The gateway hands out each report (SmsGetReport, up to 50 per call) and each reply
(SmsGetRecv, up to 20 per call) **once only**. :func:`collect` therefore commits every
answer's raw body to the ledger's inbox (``synchronous=FULL``) *before* parsing it, and
parses and applies it in a separate transaction that also marks the body parsed. If the
process dies between the two, the next :func:`collect` (or any collect on that ledger)
first parses every body left unparsed. Parsing is idempotent: a body parsed twice changes
nothing, so no report is ever counted twice.

What happens to what arrives:

* a report moves its message from ``sent`` to ``delivered`` (Status 12) or ``failed`` (any
  other final status), keeping the Status and ExStatus; reports for SmsIds this ledger does
  not know are kept (another tool may share the account);
* a reply is attributed to the most recent message sent to that phone (preferring messages
  sent with the reply's AddNum); an opt-out reply (R, T, TD, N, 退订, 取消 in any case or width,
  with spaces or punctuation around it) puts the number on the suppression list, so later
  ``read_contacts(..., suppress=ledger)`` and :func:`~mobset_campaign.send` skip it;
* an error answer (a negative code, or a body that is not JSON) is stored, marked, counted in
  the summary and never parsed again; an authentication error stops the collection;
* a JSON body with one bad item (say a non-numeric SmsId) still applies its good items; the
  bad ones are listed in the summary's errors and the raw body stays in the inbox.

A locked ledger (another process holding its write lock past the busy timeout) must not
cost a body either. Before each fetch the collector takes and releases the ledger's write
lock, so a ledger that cannot be written stops the collection *before* the gateway hands
anything out. If the ledger still cannot store a fetched body, the collector retries for a
while with the body in memory, then writes it, fsync'ed, to a file beside the ledger
(``<ledger>.unsaved-<method>-<time>-<pid>.json``) and raises a
:class:`~mobset_campaign.errors.LedgerError` naming that file. The next :func:`collect` on
the ledger imports such files into the inbox first, and deletes each only after its body is
committed (a body already in the inbox is not imported twice).
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from tqdm.auto import tqdm  # type: ignore[import-untyped]

from ._protocol import REPLIES_PER_FETCH, REPORTS_PER_FETCH
from .answers import RawAnswer, parse_items
from .errors import AuthError, GatewayError, InputError, LedgerError, MobsetError
from .ledger import Applied, Ledger, account_key
from .summaries import CollectSummary

__all__ = ["collect"]

_MAX_FAILURES = 5
#: How long a fetched body waits in memory for a locked ledger before it goes to a file.
_STORE_RETRY_SECONDS = 60.0


class _Collector:
    def __init__(self, client: Any, ledger: Ledger, summary: CollectSummary) -> None:
        self.client = client
        self.ledger = ledger
        self.summary = summary
        self.account = account_key(client)
        self.failures = 0

    def parse_stored(self, inbox_id: int, method: str, body: str, account: str) -> int | None:
        """Parse and apply one committed body; the number of items, None for an error body."""
        try:
            items, bad = parse_items(method, body)
        except GatewayError as exc:
            self.ledger.mark_unparseable(inbox_id, exc.code or None, str(exc))
            self.summary.errors.append(f"{method}: {exc}")
            if isinstance(exc, AuthError):
                raise
            return None
        if method == "SmsGetReport":
            applied = self.ledger.apply_reports(inbox_id, items, account=account)
            self._count_reports(applied)
        else:
            applied = self.ledger.apply_replies(inbox_id, items, account=account)
            self._count_replies(applied)
        self.summary.errors.extend(bad)
        return applied.items + len(bad)

    def _count_reports(self, applied: Applied) -> None:
        self.summary.reports += applied.new
        self.summary.reports_matched += applied.matched
        self.summary.reports_unmatched += applied.new - applied.matched

    def _count_replies(self, applied: Applied) -> None:
        self.summary.replies += applied.new
        self.summary.replies_matched += applied.matched
        self.summary.opt_outs += applied.opt_outs

    def recover(self) -> None:
        """Parse every body an earlier collect committed but did not parse."""
        for stored in self.ledger.unparsed():
            self.summary.bodies_recovered += 1
            self.parse_stored(*stored)

    def import_kept(self) -> None:
        """Import the bodies an earlier collect kept in files because the ledger was locked."""
        for stored in self.ledger.import_kept_bodies(self.summary.errors):
            self.summary.bodies_imported += 1
            self.parse_stored(*stored)

    def drain(self, method: str, page: int) -> None:
        """Fetch while the answers are full pages."""
        fetch = self.client.fetch_reports if method == "SmsGetReport" else self.client.fetch_replies
        while True:
            # The gateway hands each body out once: make sure the ledger can take it first.
            _check_writable(self.ledger, method)
            # Ctrl-C waits until the answer is committed: a body the gateway handed out
            # and we dropped could never be fetched again.
            with _shield_ctrl_c() as held:
                try:
                    raw = fetch()
                except GatewayError as exc:  # transport: no body at all
                    raw = None
                    error = exc
                self.summary.fetches += 1
                if raw is not None:
                    inbox_id = self._store(method, raw, held)
            if raw is None:
                self.summary.errors.append(f"{method}: {error}")
                self._failed()
                return
            items = self.parse_stored(inbox_id, method, raw.text, self.account)
            if items is None:
                self._failed()
                return
            self.failures = 0
            if items < page:
                return

    def _store(self, method: str, raw: RawAnswer, held: list[int]) -> int:
        """Commit a fetched body, retrying a locked ledger; failing that, save it to a file."""
        delay = 0.05
        deadline = time.monotonic() + _STORE_RETRY_SECONDS
        while True:
            try:
                return self.ledger.store_raw(
                    method, raw.text, raw.received_at, account=self.account
                )
            except (LedgerError, sqlite3.Error) as exc:
                error: Exception = exc
            if self.ledger.closed or held or time.monotonic() + delay > deadline:
                break
            _sleep(delay, held)  # Ctrl-C (held) cuts the wait short: the body goes to a file
            delay = min(delay * 2, 2.0)
        saved = self.ledger.keep_body(raw, self.account, error)
        raise LedgerError(
            f"collect: the ledger {self.ledger.path} could not store a {method} answer fetched "
            f"from the gateway ({error}), even after retrying. The gateway hands each answer "
            f"out once only, so it was saved to {saved}: the next collect on this ledger "
            "imports it (and then deletes the file) — do not move or delete it. Collect again "
            "once the other process writing the ledger has finished."
        ) from error

    def _failed(self) -> None:
        self.failures += 1
        if self.failures >= _MAX_FAILURES:
            raise _TooManyFailures(self.summary.errors[-1] if self.summary.errors else "")


def _check_writable(ledger: Ledger, method: str) -> None:
    """A ledger that cannot be written fails here, before the gateway hands anything out."""
    try:
        ledger.check_writable()
    except LedgerError as exc:
        raise LedgerError(
            f"collect: {exc} {method} was not called, so nothing was fetched or lost; collect "
            "again once the other process writing the ledger has finished."
        ) from exc


@contextmanager
def _shield_ctrl_c() -> Iterator[list[int]]:
    """Hold a Ctrl-C (SIGINT) until the block ends, then raise it (main thread only).

    Yields the list of held signals, so the block can cut a wait short. An exception from
    the block wins over a held Ctrl-C (it stops the collection anyway and says more).
    """
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    failed = False
    try:
        yield caught
    except BaseException:
        failed = True
        raise
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
        if caught and not failed:
            raise KeyboardInterrupt


def _sleep(seconds: float, held: list[int] | None = None) -> None:
    """Sleep in short steps so Ctrl-C is seen promptly on every platform (or ``held`` fills)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0 and not held:
        time.sleep(min(left, 0.25))


class _TooManyFailures(MobsetError):
    pass


def collect(
    client: Any,
    ledger: Ledger,
    *,
    campaign: str | None = None,
    until: str | None = "final",
    timeout: float | None = None,
    min_interval: float = 30,
    progress: bool = True,
    allow_empty_ledger: bool = False,
) -> CollectSummary:
    """Fetch delivery reports and replies into the ledger.

    Args:
        client: the account's :class:`~mobset_campaign.client.MobsetClient`.
        ledger: the campaign ledger.
        campaign: the campaign whose completion ``until="final"`` waits for (``None``: every
            accepted message in the ledger). Reports and replies of every campaign are
            stored either way: the gateway does not sort them.
        until: ``"final"`` keeps collecting until every accepted message (of the campaign)
            has a final status, or the ``timeout``; ``None`` drains once (fetching again
            while the answers are full pages) and returns.
        timeout: seconds before giving up waiting (``None``: no limit; Ctrl-C stops cleanly).
            Not every message gets a report, so pass one for unattended runs.
        min_interval: seconds between rounds when the last answers were not full pages. The
            vendor asks for 30–300 s against the real gateway; the simulator is happy with less.
        progress: a progress bar of messages with a final status.
        allow_empty_ledger: collect into a ledger that has sent nothing. Off by default:
            each report and reply can be fetched once only, so collecting into the wrong
            ledger (a new file, a typo in the path) would take them away for good from the
            ledger that sent the campaign.

    Returns:
        A :class:`CollectSummary`; ``waiting`` says how many accepted messages are still
        without a final status when it stopped.

    Raises:
        InputError: a bad parameter.
        LedgerError: the ledger cannot be written (e.g. another process holds its write
            lock past the busy timeout). Nothing fetched is lost: either nothing was fetched,
            or the answer was saved to the file the message names, which the next collect
            imports.
    """
    if until not in ("final", None):
        raise InputError(f"collect: until must be 'final' or None, not {until!r}.")
    if timeout is not None and (isinstance(timeout, bool) or not timeout >= 0):
        raise InputError(f"collect: timeout must be seconds (0 or more) or None, not {timeout!r}.")
    if isinstance(min_interval, bool) or not min_interval >= 0:
        raise InputError(f"collect: min_interval must be 0 or more seconds, not {min_interval!r}.")
    if campaign is not None and ledger.campaign_options(campaign) is None:
        raise InputError(f"collect: campaign {campaign!r} is not in {ledger!r}.")
    if not allow_empty_ledger and not int(ledger.campaigns()["messages"].sum()):
        raise InputError(
            f"collect: the ledger {ledger.path} has sent nothing. Reports and replies can be "
            "fetched only once, so collecting here would take them away from the ledger that "
            "sent your campaign: point at that ledger (--ledger), or pass "
            "allow_empty_ledger=True if this is really where they belong."
        )
    started = time.monotonic()
    summary = CollectSummary(campaign=campaign)
    work = _Collector(client, ledger, summary)
    summary.accepted, summary.final = ledger.final_progress(campaign)
    bar = tqdm(
        total=summary.accepted,
        initial=summary.final,
        unit="msg",
        desc=f"final statuses{'' if campaign is None else ' ' + campaign}",
        disable=not progress or until is None,
    )

    def refresh() -> None:
        summary.accepted, summary.final = ledger.final_progress(campaign)
        bar.total = summary.accepted
        bar.n = summary.final
        bar.refresh()

    try:
        # SmsSend answers an earlier run had to keep aside (the ledger refused them) give the
        # SmsIds that the reports fetched below will be matched against
        ledger.apply_kept_answers()
        work.import_kept()
        work.recover()
        while True:
            work.drain("SmsGetReport", REPORTS_PER_FETCH)
            work.drain("SmsGetRecv", REPLIES_PER_FETCH)
            refresh()
            if until is None or summary.done:
                break
            elapsed = time.monotonic() - started
            if timeout is not None and elapsed >= timeout:
                summary.stopped_reason = (
                    f"timeout after {timeout:g} s with {summary.waiting:,} accepted message"
                    f"{'' if summary.waiting == 1 else 's'} still without a final status (not every message gets "
                    "a report; collect again later to pick up late ones)."
                )
                break
            pause = min_interval if timeout is None else min(min_interval, timeout - elapsed)
            _sleep(max(pause, 0.0))
    except KeyboardInterrupt:
        summary.stopped_reason = (
            "interrupted (Ctrl-C); everything fetched so far is stored — collect again to go on."
        )
    except AuthError as exc:
        summary.stopped_reason = f"the gateway refused the account: {exc}"
    except _TooManyFailures as exc:
        summary.stopped_reason = (
            f"{_MAX_FAILURES} fetches in a row failed (last: {exc}); collect again later."
        )
    finally:
        bar.close()
        summary.elapsed = time.monotonic() - started
    summary.accepted, summary.final = ledger.final_progress(campaign)
    return summary
