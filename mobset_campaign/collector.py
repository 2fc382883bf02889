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
  the summary and never parsed again; an authentication error stops the collection.
"""

from __future__ import annotations

import html
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from tqdm.auto import tqdm  # type: ignore[import-untyped]

from .client import parse_replies, parse_reports
from .errors import AuthError, GatewayError, InputError, MobsetError
from .ledger import Applied, Ledger

__all__ = ["CollectSummary", "collect"]

REPORT_PAGE = 50
REPLY_PAGE = 20
_MAX_FAILURES = 5


@dataclass
class CollectSummary:
    """What :func:`collect` did.

    Attributes:
        campaign: the campaign waited for (``None``: the whole ledger).
        fetches: SmsGetReport/SmsGetRecv calls made. bodies_recovered: bodies committed by an
            earlier, interrupted collect and parsed now.
        reports: new reports stored; reports_matched: of which for messages of this ledger;
            reports_unmatched: for SmsIds this ledger did not send.
        replies: new replies stored; opt_outs: numbers newly added to the suppression list.
        errors: the error answers met (one line each).
        accepted: accepted messages of the campaign; final: of which with a final status;
            ``waiting`` = accepted − final (still without a final status).
        elapsed: seconds. stopped_reason: ``None`` when it ended as asked (drained once, or
            every message final), else why (timeout, interrupted, authentication...).
    """

    campaign: str | None = None
    fetches: int = 0
    bodies_recovered: int = 0
    reports: int = 0
    reports_matched: int = 0
    reports_unmatched: int = 0
    replies: int = 0
    replies_matched: int = 0
    opt_outs: int = 0
    errors: list[str] = field(default_factory=list)
    accepted: int = 0
    final: int = 0
    elapsed: float = 0.0
    stopped_reason: str | None = None

    @property
    def waiting(self) -> int:
        """Accepted messages still without a final status."""
        return self.accepted - self.final

    @property
    def done(self) -> bool:
        """True when every accepted message has a final status."""
        return self.waiting == 0

    def _lines(self) -> list[str]:
        what = f"campaign {self.campaign!r}" if self.campaign else "the ledger"
        lines = [
            f"Collected {self.reports:,} report{_s(self.reports)} and {self.replies:,} "
            f"repl{'y' if self.replies == 1 else 'ies'} in {self.fetches:,} call"
            f"{_s(self.fetches)} ({self.elapsed:.1f} s).",
            f"{what[0].upper() + what[1:]}: {self.final:,} of {self.accepted:,} accepted "
            f"message{_s(self.accepted)} have a final status"
            + (f"; {self.waiting:,} still without one." if self.waiting else "."),
        ]
        if self.reports_unmatched:
            lines.append(
                f"{self.reports_unmatched:,} report{_s(self.reports_unmatched)} for SmsIds this "
                "ledger did not send were kept (Ledger.reports_frame(unmatched=True))."
            )
        if self.opt_outs:
            lines.append(
                f"{self.opt_outs:,} number{_s(self.opt_outs)} opted out and will be skipped "
                "from now on."
            )
        if self.bodies_recovered:
            lines.append(
                f"Parsed {self.bodies_recovered:,} bod{'y' if self.bodies_recovered == 1 else 'ies'}"
                " left by an interrupted collect."
            )
        for err in self.errors[:5]:
            lines.append(f"Error answer: {err}")
        if len(self.errors) > 5:
            lines.append(f"... and {len(self.errors) - 5} more error answers.")
        if self.stopped_reason:
            lines.append(f"Stopped: {self.stopped_reason}")
        return lines

    def __str__(self) -> str:
        return "\n".join(self._lines())

    def __repr__(self) -> str:
        # the readable report, also in a terminal IPython or a text export
        return str(self)

    def _repr_html_(self) -> str:
        lines = self._lines()
        items = "".join(
            f"<li style='color:#b00020'>{html.escape(x)}</li>"
            if x.startswith(("Stopped:", "Error"))
            else f"<li>{html.escape(x)}</li>"
            for x in lines[1:]
        )
        return f"<div><p><b>{html.escape(lines[0])}</b></p><ul>{items}</ul></div>"


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _account_key(client: Any) -> str:
    return f"{getattr(client, 'corp_id', '')}:{getattr(client, 'login_name', '')}"


class _Collector:
    def __init__(self, client: Any, ledger: Ledger, summary: CollectSummary) -> None:
        self.client = client
        self.ledger = ledger
        self.summary = summary
        self.account = _account_key(client)
        self.failures = 0

    def parse_stored(self, inbox_id: int, method: str, body: str, account: str) -> int | None:
        """Parse and apply one committed body; the number of items, None for an error body."""
        try:
            if method == "SmsGetReport":
                applied = self.ledger.apply_reports(inbox_id, parse_reports(body), account=account)
                self._count_reports(applied)
            else:
                applied = self.ledger.apply_replies(inbox_id, parse_replies(body), account=account)
                self._count_replies(applied)
        except GatewayError as exc:
            self.ledger.mark_unparseable(inbox_id, exc.code or None, str(exc))
            self.summary.errors.append(f"{method}: {exc}")
            if isinstance(exc, AuthError):
                raise
            return None
        return applied.items

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
        for inbox_id, method, body, account in self.ledger.unparsed():
            self.summary.bodies_recovered += 1
            self.parse_stored(inbox_id, method, body, account)

    def drain(self, method: str, page: int) -> None:
        """Fetch while the answers are full pages."""
        fetch = self.client.fetch_reports if method == "SmsGetReport" else self.client.fetch_replies
        while True:
            # Ctrl-C waits until the answer is committed: a body the gateway handed out
            # and we dropped could never be fetched again.
            with _shield_ctrl_c():
                try:
                    raw = fetch()
                except GatewayError as exc:  # transport: no body at all
                    raw = None
                    error = exc
                self.summary.fetches += 1
                if raw is not None:
                    inbox_id = self.ledger.store_raw(
                        method, raw.text, raw.received_at, account=self.account
                    )
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

    def _failed(self) -> None:
        self.failures += 1
        if self.failures >= _MAX_FAILURES:
            raise _TooManyFailures(self.summary.errors[-1] if self.summary.errors else "")


@contextmanager
def _shield_ctrl_c() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) until the block ends, then raise it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
        if caught:
            raise KeyboardInterrupt


def _sleep(seconds: float) -> None:
    """Sleep in short steps so Ctrl-C is seen promptly on every platform."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
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

    Returns:
        A :class:`CollectSummary`; ``waiting`` says how many accepted messages are still
        without a final status when it stopped.

    Raises:
        InputError: a bad parameter.
        LedgerError: the ledger cannot be written.
    """
    if until not in ("final", None):
        raise InputError(f"collect: until must be 'final' or None, not {until!r}.")
    if timeout is not None and (isinstance(timeout, bool) or not timeout >= 0):
        raise InputError(f"collect: timeout must be seconds (0 or more) or None, not {timeout!r}.")
    if isinstance(min_interval, bool) or not min_interval >= 0:
        raise InputError(f"collect: min_interval must be 0 or more seconds, not {min_interval!r}.")
    if campaign is not None and ledger.campaign_options(campaign) is None:
        raise InputError(f"collect: campaign {campaign!r} is not in {ledger!r}.")
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
        work.recover()
        while True:
            work.drain("SmsGetReport", REPORT_PAGE)
            work.drain("SmsGetRecv", REPLY_PAGE)
            refresh()
            if until is None or summary.done:
                break
            elapsed = time.monotonic() - started
            if timeout is not None and elapsed >= timeout:
                summary.stopped_reason = (
                    f"timeout after {timeout:g} s with {summary.waiting:,} accepted message"
                    f"{_s(summary.waiting)} still without a final status (not every message gets "
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
