"""Collecting delivery reports and replies without ever losing one.

The gateway hands out each report (SmsGetReport, up to 50 per call) and each reply
(SmsGetRecv, up to 20 per call) **once only**. :func:`collect` therefore commits every
answer's raw body to the ledger's inbox (``synchronous=FULL``) *before* parsing it, and
parses and applies it in a separate transaction that also marks the body parsed. If the
process dies between the two, the next :func:`collect` (or any collect on that ledger)
first parses every body left unparsed. Parsing is idempotent: a body parsed twice changes
nothing, so no report is ever counted twice.

What happens to what arrives:

* a report moves its message from ``sent`` to ``delivered`` (Status 12), ``undetermined``
  (Status 15: final, but neither delivered nor failed) or ``failed`` (any other final status), keeping the Status and ExStatus; reports for SmsIds this ledger does
  not know are kept (another tool may share the account);
* a reply is attributed to the most recent message sent to that phone (preferring messages
  sent with the reply's AddNum); an opt-out reply (R, T, TD, N, 退订, 取消 in any case or width,
  with spaces or punctuation around it) puts the number on the suppression list, so later
  ``read_contacts(..., suppress=ledger)`` and :func:`~mobset_campaign.send` skip it;
* an error answer (a negative code, a body with nothing readable, or a ``Code`` promising
  items the body does not hold) is stored, marked, counted in the summary and never parsed
  again; an authentication error stops the collection;
* a damaged answer gives up only what is damaged: an item that cannot be read is skipped,
  a body cut off in transit keeps every complete item before the cut, and the summary says
  how many items could not be read; the raw body stays in the inbox.

**Stopping.** Ctrl-C, SIGTERM and SIGHUP stop a collect the same clean way: a body the
gateway is handing out is committed first (the signal waits for it), then the collect
returns its summary.

**Pace.** The vendor asks for 30–300 s between calls of one Method, and keeps reports 48 h,
handing out 50 a call: at 30 s a call, 48 h drain at most 288,000 reports. So while the
answers are full pages the collector fetches again after ``pace`` seconds (1 s by default:
a 1,000,000-message campaign's 20,000 pages take about 5.6 hours), and waits
``min_interval`` (30 s) once a page comes back not full. A wait is never cut short to meet
a ``timeout``: the collect stops instead. When the messages still waiting could not be
drained within the retention at this pace, the summary warns.

A locked ledger (another process holding its write lock past the busy timeout) must not
cost a body either. Before each fetch the collector takes and releases the ledger's write
lock, so a ledger that cannot be written stops the collection *before* the gateway hands
anything out. If the ledger still cannot store a fetched body, the collector retries for a
while with the body in memory, then keeps it in a file beside the ledger
(:meth:`~mobset_campaign.ledger.Ledger.keep_body`) and raises a
:class:`~mobset_campaign.errors.LedgerError` naming that file. The next :func:`collect` on
the ledger imports such files into the inbox first.
"""

from __future__ import annotations

import math
import time
from typing import Any

from tqdm.auto import tqdm  # type: ignore[import-untyped]

from ._advice import out_of_range, say
from ._i18n import gettext as _
from ._i18n import ngettext
from ._protocol import REPLIES_PER_FETCH, REPORTS_PER_FETCH
from ._signals import held, stop_signals, stopped_by
from .answers import RawAnswer, parse_items
from .errors import AuthError, GatewayError, InputError, LedgerError, MobsetError, ProtocolError
from .ledger import Applied, Ledger, account_key
from .summaries import CollectSummary

__all__ = ["REPORT_RETENTION_HOURS", "collect"]

_MAX_FAILURES = 5
#: How long a fetched body waits in memory for a locked ledger before it goes to a file.
_STORE_RETRY_SECONDS = 60.0
#: How long the platform keeps a report (the vendor text).
REPORT_RETENTION_HOURS = 48
_VENDOR_INTERVAL = 30.0
#: The longest wait any of collect's seconds may ask for: 30 days (a longer one is a typo,
#: and 1e300 would overflow the clock).
_MAX_WAIT = 30 * 86_400


class _Collector:
    def __init__(self, client: Any, ledger: Ledger, summary: CollectSummary, pace: float) -> None:
        self.client = client
        self.ledger = ledger
        self.summary = summary
        self.account = account_key(client)
        self.pace = pace
        self.failures = 0

    def parse_stored(self, inbox_id: int, method: str, body: str, account: str) -> int | None:
        """Parse and apply one committed body: how many items the gateway handed out with
        it, None for an error body (kept, marked, never parsed again)."""
        try:
            page = parse_items(method, body)
        except GatewayError as exc:
            self.ledger.mark_unparseable(inbox_id, exc.code or None, str(exc))
            self.summary.errors.append(str(exc) if exc.method else f"{method}: {exc}")
            if isinstance(exc, ProtocolError):
                self.summary.unreadable += exc.lost
            if isinstance(exc, AuthError):
                raise
            return None
        if method == "SmsGetReport":
            applied = self.ledger.apply_reports(inbox_id, page.items, account=account)
            self._count_reports(applied)
        else:
            applied = self.ledger.apply_replies(inbox_id, page.items, account=account)
            self._count_replies(applied)
        self.summary.errors.extend(page.problems)
        self.summary.unreadable += page.unread
        return page.handed_out

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
        """Fetch while the answers are full pages, ``pace`` seconds apart."""
        fetch = self.client.fetch_reports if method == "SmsGetReport" else self.client.fetch_replies
        while True:
            # The gateway hands each body out once: make sure the ledger can take it first.
            _check_writable(self.ledger, method)
            # A stop signal waits until the answer is committed and applied: a body the
            # gateway handed out and we dropped could never be fetched again.
            with held() as caught:
                try:
                    raw = fetch()
                except GatewayError as exc:  # transport: no body at all
                    raw = None
                    error = exc
                self.summary.fetches += 1
                if raw is not None:
                    inbox_id = self._store(method, raw, caught)
                    items = self.parse_stored(inbox_id, method, raw.text, self.account)
            if raw is None:
                self.summary.errors.append(str(error) if error.method else f"{method}: {error}")
                self._failed()
                return
            if items is None:
                self._failed()
                return
            self.failures = 0
            if items < page:
                return
            _sleep(self.pace)  # a full page: more are waiting, at the bounded pace

    def _store(self, method: str, raw: RawAnswer, caught: list[int]) -> int:
        """Commit a fetched body, retrying a locked ledger; failing that, keep it in a file."""
        delay = 0.05
        deadline = time.monotonic() + _STORE_RETRY_SECONDS
        while True:
            try:
                return self.ledger.store_raw(
                    method, raw.text, raw.received_at, account=self.account
                )
            except LedgerError as exc:
                error: Exception = exc
                if exc.reason != "locked":
                    break  # a full disk does not clear up by waiting: keep the body now
            if self.ledger.closed or caught or time.monotonic() + delay > deadline:
                break
            _sleep(delay, caught)  # a stop signal cuts the wait short: the body goes to a file
            delay = min(delay * 2, 2.0)
        saved = self.ledger.keep_body(raw, self.account, error)
        raise LedgerError(
            _(
                "collect: the ledger {ledger} could not store a {method} answer fetched from "
                "the gateway ({error}), even after retrying. The gateway hands each answer out "
                "once only, so it was saved to {saved}: the next collect on this ledger imports "
                "it (and then deletes the file) — do not move or delete it. Collect again once "
                "the other process writing the ledger has finished."
            ).format(ledger=self.ledger.path, method=method, error=error, saved=saved)
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
            _(
                "collect: {error} {method} was not called, so nothing was fetched or lost; "
                "collect again once the other process writing the ledger has finished."
            ).format(error=exc, method=method)
        ) from exc


def _sleep(seconds: float, caught: list[int] | None = None) -> None:
    """Sleep in short steps, so a stop signal is seen promptly (or ``caught`` fills)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0 and not caught:
        time.sleep(min(left, 0.25))


class _TooManyFailures(MobsetError):
    pass


def retention_warning(waiting: int, pace: float) -> str | None:
    """A warning when ``waiting`` reports could not be fetched within the platform's
    retention at one page of 50 every ``pace`` seconds (see the module docstring).

    >>> retention_warning(1_000_000, 1.0) is None, retention_warning(1_000_000, 30.0)[:31]
    (True, 'draining 1,000,000 reports at 1')
    """
    pages = math.ceil(waiting / REPORTS_PER_FETCH)
    hours = pages * pace / 3600
    if hours <= REPORT_RETENTION_HOURS:
        return None
    return _(
        "draining {waiting:,} reports at 1 page of {page} every {pace:g} s takes {hours:,.0f} "
        "hours, but the platform keeps a report {kept} hours: reports would be lost. Collect "
        "with a shorter pace ({faster} or less)."
    ).format(
        waiting=waiting,
        page=REPORTS_PER_FETCH,
        pace=pace,
        hours=hours,
        kept=REPORT_RETENTION_HOURS,
        faster=say("pace", round(REPORT_RETENTION_HOURS * 3600 / pages, 1)),
    )


def collect(
    client: Any,
    ledger: Ledger,
    *,
    campaign: str | None = None,
    until: str | None = "final",
    timeout: float | None = None,
    min_interval: float = _VENDOR_INTERVAL,
    pace: float = 1.0,
    progress: bool = True,
    allow_empty_ledger: bool = False,
) -> CollectSummary:
    """Fetch delivery reports and replies into the ledger.

    Args:
        client: the account's :class:`~mobset_campaign.client.MobsetClient`.
        ledger: the campaign ledger.
        campaign: the campaign whose completion ``until="final"`` waits for (``None``: every
            message in the ledger). Reports and replies of every campaign are stored either
            way: the gateway does not sort them.
        until: ``"final"`` keeps collecting until every message (of the campaign) was sent
            and every accepted one has a final status, or the ``timeout``; ``None`` drains
            once (fetching again while the answers are full pages) and returns.
        timeout: seconds before giving up waiting (``None``: no limit; Ctrl-C or SIGTERM
            stops cleanly). Not every message gets a report, so pass one for unattended runs.
        min_interval: seconds between rounds once the answers are not full pages. The vendor
            asks for 30–300 s against the real gateway (the default is 30); the simulator is
            happy with less. Never shortened to meet the ``timeout``.
        pace: seconds between calls of one Method while the answers are full pages (see the
            module docstring for the arithmetic against the 48-hour retention).
        progress: a progress bar of messages with a final status.
        allow_empty_ledger: collect into a ledger that has sent nothing. Off by default:
            each report and reply can be fetched once only, so collecting into the wrong
            ledger (a new file, a typo in the path) would take them away for good from the
            ledger that sent the campaign.

    Returns:
        A :class:`~mobset_campaign.summaries.CollectSummary`; ``waiting`` says how many
        accepted messages are still without a final status when it stopped, ``unsent`` how
        many were not sent yet.

    Raises:
        InputError: a bad parameter.
        LedgerError: the ledger cannot be written (e.g. another process holds its write
            lock past the busy timeout). Nothing fetched is lost: either nothing was fetched,
            or the answer was saved to the file the message names, which the next collect
            imports.
    """
    if until not in ("final", None):
        raise InputError(
            _("collect: until must be 'final' or None, not {value!r}.").format(value=until)
        )
    seconds = "seconds"  # out_of_range translates it
    for problem in (
        out_of_range(
            "timeout",
            timeout,
            0,
            _MAX_WAIT,
            what=seconds,
            none_means="to wait without end",
        ),
        out_of_range("min_interval", min_interval, 0, _MAX_WAIT, what=seconds),
        out_of_range("pace", pace, 0, _MAX_WAIT, what=seconds),
    ):
        if problem:
            raise InputError(_("collect: {problem}").format(problem=problem))
    if campaign is not None and ledger.campaign_options(campaign) is None:
        raise InputError(
            _("collect: campaign {campaign!r} is not in {ledger!r}.").format(
                campaign=campaign, ledger=ledger
            )
        )
    if not allow_empty_ledger and not int(ledger.campaigns()["messages"].sum()):
        raise InputError(
            _(
                "collect: the ledger {ledger} has sent nothing. Reports and replies can be "
                "fetched only once, so collecting here would take them away from the ledger "
                "that sent your campaign: point at that ledger ({ledger_param}), or use "
                "{allow} if this is really where they belong."
            ).format(
                ledger=ledger.path,
                ledger_param=say("ledger"),
                allow=say("allow_empty_ledger", True),
            )
        )
    ledger.reserve_room()  # room for a fetched body if the disk fills up
    started = time.monotonic()
    summary = CollectSummary(campaign=campaign, ledger=ledger.path)
    work = _Collector(client, ledger, summary, float(pace))

    def refresh() -> None:
        summary.accepted, summary.final = ledger.final_progress(campaign)
        summary.unsent = ledger.unsent(campaign)

    refresh()
    warning = retention_warning(summary.waiting, float(pace))
    if warning:
        summary.warnings.append(warning)
    bar = tqdm(
        total=summary.accepted,
        initial=summary.final,
        unit=_("msg"),
        desc=(
            _("final statuses")
            if campaign is None
            else _("final statuses {campaign}").format(campaign=campaign)
        ),
        disable=not progress or until is None,
    )
    try:
        with stop_signals():
            # SmsSend answers an earlier run had to keep aside (the ledger refused them) give
            # the SmsIds that the reports fetched below will be matched against
            ledger.apply_kept_answers()
            work.import_kept()
            work.recover()
            while True:
                work.drain("SmsGetReport", REPORTS_PER_FETCH)
                work.drain("SmsGetRecv", REPLIES_PER_FETCH)
                refresh()
                bar.total, bar.n = summary.accepted, summary.final
                bar.refresh()
                if until is None or summary.done:
                    break
                elapsed = time.monotonic() - started
                if timeout is not None and elapsed + min_interval > timeout:
                    summary.stopped_reason = _timed_out(summary, timeout)
                    break
                _sleep(min_interval)
    except KeyboardInterrupt as exc:
        summary.stopped_reason = _(
            "interrupted ({signal}); everything fetched so far is stored — collect again to "
            "go on."
        ).format(signal=stopped_by(exc))
    except AuthError as exc:
        summary.stopped_reason = _("the gateway refused the account: {error}").format(error=exc)
    except _TooManyFailures as exc:
        summary.stopped_reason = _(
            "{n} fetches in a row failed (last: {error}); collect again later."
        ).format(n=_MAX_FAILURES, error=exc)
    finally:
        bar.close()
        summary.elapsed = time.monotonic() - started
    refresh()
    return summary


def _timed_out(summary: CollectSummary, timeout: float) -> str:
    if summary.unsent:
        text = ngettext(
            "timeout ({timeout:g} s: the next round would come after it) with {n:,} accepted "
            "message still without a final status and {unsent:,} not sent yet (not every "
            "message gets a report; collect again later to pick up late ones).",
            "timeout ({timeout:g} s: the next round would come after it) with {n:,} accepted "
            "messages still without a final status and {unsent:,} not sent yet (not every "
            "message gets a report; collect again later to pick up late ones).",
            summary.waiting,
        )
    else:
        text = ngettext(
            "timeout ({timeout:g} s: the next round would come after it) with {n:,} accepted "
            "message still without a final status (not every message gets a report; collect "
            "again later to pick up late ones).",
            "timeout ({timeout:g} s: the next round would come after it) with {n:,} accepted "
            "messages still without a final status (not every message gets a report; collect "
            "again later to pick up late ones).",
            summary.waiting,
        )
    return text.format(timeout=timeout, n=summary.waiting, unsent=summary.unsent)
