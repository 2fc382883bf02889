"""Sending a campaign: register, plan, throttle, claim, send, record — at most once per row.

:func:`send` is the whole pipeline for a rendered frame (see ``render``):

1. **Register** each sendable row as a message of the campaign under its row key (see
   :mod:`mobset_campaign.merge`); the same frame sent again — re-read, re-sorted, filtered
   or with rows added — adds nothing. Rows with a
   ``phone_problem``, an opted-out number, an empty text or ``sendable`` false are skipped,
   with the reason counted in the summary.
2. **Resume**: messages an interrupted run left ``claimed`` become ``unknown`` (their request
   may have reached the gateway) and are never re-sent automatically.
3. **Plan**: messages with identical text share a request of up to ``batch_size`` (≤ 50)
   numbers; personalised texts go one number per request. No request repeats a number.
4. **Check** the sending window (Beijing time) and the balance against the parts needed.
5. **Send** with ``concurrency`` worker threads, each with its own ``client.clone()``, a
   shared token bucket of ``rate`` messages per second, and a progress bar. Each worker
   commits its claim to the ledger *before* its request goes out and records the answer
   right after it.

How each answer is recorded:

============================================  ==============================================
answer                                        messages of the batch
============================================  ==============================================
SmsIdList entry with an SmsId                 ``sent`` (with the SmsId)
SmsIdList entry with SmsId 0                  ``rejected`` (that number only)
number missing from a short SmsIdList         ``unknown`` (flagged, never re-sent)
AmbiguousSendError (timeout after sending,    ``unknown``
HTTP 5xx, unreadable answer)
ContentError or any other negative code       ``rejected`` with the code
BusyError (the client already retried)        back to ``pending``; the run stops
AuthError, BalanceError, LimitError,          back to ``pending`` (nothing was accepted);
connection impossible                         the run stops with ``stopped_reason``
============================================  ==============================================

**A ledger that will not take an answer** (another program holding it locked past the busy
timeout, a full disk) is retried a few times; failing that, the answer — every SmsId the
gateway gave — is kept in a file beside the ledger (see
:meth:`~mobset_campaign.ledger.Ledger.record_answer`) and the run stops with
:class:`~mobset_campaign.errors.LedgerError`. The next ``send`` or ``resend_unknown`` records
the kept answer before anything else, so those messages end ``sent`` (and reports that
arrived meanwhile find them), never ``unknown`` and never sent twice.

**Stopping.** Every stop is clean: the run stops submitting, lets the requests in flight
finish and record their answers, leaves the rest ``pending`` and *returns* a
:class:`SendSummary` whose ``stopped_reason`` says why and what to do (insufficient balance,
daily limit, authentication, busy gateway, the sending window closing, Ctrl-C). ``send``
again with the same frame and campaign resumes. A second Ctrl-C while waiting for the
requests in flight raises ``KeyboardInterrupt`` at once; those requests' messages stay
``claimed`` and turn ``unknown`` on the next run.

**One sender per campaign at a time.** Two processes sending the same campaign never claim
the same message (claims are atomic in SQLite), but the second one's resume step would mark
the first one's requests in flight ``unknown`` — safe, yet needlessly pessimistic.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm  # type: ignore[import-untyped]

from ._protocol import BEIJING, beijing_now, format_beijing_time, parse_beijing_time
from .codes import describe_error, error_info
from .errors import (
    AmbiguousSendError,
    AuthError,
    BalanceError,
    BusyError,
    ContentError,
    GatewayError,
    InputError,
    LimitError,
    MobsetError,
    ProtocolError,
    TransportError,
)
from .ledger import (
    DEFAULT_LEDGER_PATH,
    MESSAGE_STATES,
    Ledger,
    Outcome,
    PendingMessage,
    normalise_phone,
    resolve_row_keys,
)
from .merge import _present, _require, row_keys, skip_reasons

__all__ = [
    "CancelSummary",
    "PlannedBatch",
    "SendSummary",
    "cancel",
    "plan_batches",
    "resend_unknown",
    "send",
]

MAX_BATCH = 50
_REQUIRED = ("phone", "content", "parts", "sendable")


# ---------------------------------------------------------------------------- planning


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    """One future SmsSend request: a text and up to 50 distinct numbers."""

    content: str
    messages: tuple[PendingMessage, ...]

    @property
    def phones(self) -> list[str]:
        return [m.phone for m in self.messages]

    @property
    def parts(self) -> int:
        return sum(m.parts for m in self.messages)

    def __len__(self) -> int:
        return len(self.messages)


def plan_batches(
    messages: Iterable[PendingMessage], batch_size: int = MAX_BATCH
) -> list[PlannedBatch]:
    """Group messages into requests: identical text shares a request of up to
    ``batch_size`` numbers, in first-seen order; no request repeats a number (a repeated
    number goes to another request of that text, and no more requests are made than needed).

    >>> from mobset_campaign.ledger import PendingMessage as M
    >>> plan = plan_batches([M(1, "13500000001", "hi", 1), M(2, "13500000002", "hi", 1),
    ...                      M(3, "13500000003", "hello 3", 1)], batch_size=50)
    >>> [(b.content, b.phones) for b in plan]
    [('hi', ['13500000001', '13500000002']), ('hello 3', ['13500000003'])]
    """
    _check_batch_size(batch_size)
    groups: dict[str, list[PendingMessage]] = {}
    for msg in messages:
        groups.setdefault(msg.content, []).append(msg)
    return [
        PlannedBatch(content, tuple(chunk))
        for content, group in groups.items()
        for chunk in _chunks(group, batch_size)
    ]


def _chunks(group: list[PendingMessage], size: int) -> list[list[PendingMessage]]:
    """The fewest requests for one text: max(ceil(n / size), the most rows one number has).

    Without repeated numbers, consecutive slices of ``size`` (first-seen order). With them,
    each number's rows are laid side by side and dealt round-robin into that many requests,
    so no request holds a number twice and none holds more than ``size``.
    """
    count = Counter(m.phone for m in group)
    most = max(count.values())
    if most == 1:
        return [group[i : i + size] for i in range(0, len(group), size)]
    k = max(-(-len(group) // size), most)
    first: dict[str, int] = {}
    for i, m in enumerate(group):
        first.setdefault(m.phone, i)
    ordered = sorted(group, key=lambda m: (-count[m.phone], first[m.phone]))
    chunks: list[list[PendingMessage]] = [[] for _ in range(k)]
    for i, m in enumerate(ordered):
        chunks[i % k].append(m)
    return chunks


def _check_batch_size(batch_size: int) -> None:
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or not 1 <= batch_size <= MAX_BATCH
    ):
        raise InputError(
            f"batch_size must be a whole number from 1 to {MAX_BATCH} (the gateway takes at most "
            f"{MAX_BATCH} numbers per request), not {batch_size!r}."
        )


# ---------------------------------------------------------------------------- summaries


@dataclass
class SendSummary:
    """What a :func:`send` (or :func:`resend_unknown`) did.

    Attributes:
        campaign: the campaign name.
        counts: the campaign's messages by state after the run (every state, zeros included).
        skipped: rows of the frame not registered, by reason.
        registered: rows newly registered by this call; ``updated``: pending messages whose
            text changed; ``changed_after_send``: rows whose text differs from what was
            already sent (not sent again).
        recovered_unknown: messages an interrupted run had claimed, now ``unknown``.
        planned_messages / planned_parts / planned_batches: the work this run set out to do.
        requests: SmsSend requests made. accepted / rejected / unknown / returned: messages
            of this run by outcome (``returned`` went back to pending: nothing accepted).
        parts_billed: parts of the messages accepted in this run.
        balance: the account balance before sending (parts), when it was read.
        elapsed: seconds the run took. stopped_reason: ``None`` when it ran to the end.
        not_in_frame: pending messages of the campaign that are not rows of this frame
            (left pending).
        dry_run: nothing was sent or written.
    """

    campaign: str
    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MESSAGE_STATES, 0))
    skipped: dict[str, int] = field(default_factory=dict)
    registered: int = 0
    updated: int = 0
    changed_after_send: int = 0
    recovered_unknown: int = 0
    planned_messages: int = 0
    planned_parts: int = 0
    planned_batches: int = 0
    requests: int = 0
    accepted: int = 0
    rejected: int = 0
    unknown: int = 0
    returned: int = 0
    parts_billed: int = 0
    balance: int | None = None
    elapsed: float = 0.0
    stopped_reason: str | None = None
    not_in_frame: int = 0
    reset_unknown: int = 0

    @property
    def handled(self) -> int:
        """Messages that got an outcome in this run (accepted, rejected or unknown)."""
        return self.accepted + self.rejected + self.unknown

    @property
    def messages_per_second(self) -> float:
        return self.handled / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def pending(self) -> int:
        return self.counts.get("pending", 0)

    @property
    def ok(self) -> bool:
        """True when the run was not stopped and nothing ended unknown or rejected."""
        return self.stopped_reason is None and self.unknown == 0 and self.rejected == 0

    def _lines(self) -> list[str]:
        lines: list[str] = []
        if self.dry_run:
            lines.append(
                f"Dry run for campaign {self.campaign!r}: would send {self.planned_messages:,} "
                f"message{_s(self.planned_messages)} ({self.planned_parts:,} parts) in "
                f"{self.planned_batches:,} request{_s(self.planned_batches)}. Nothing was sent "
                "or written."
            )
            if self.balance is not None:
                lines.append(f"Balance: {self.balance:,} parts.")
        elif not self.planned_messages and self.stopped_reason is None:
            lines.append(
                f"Campaign {self.campaign!r}: nothing to send — every sendable row of this frame "
                "has already been handled."
            )
        else:
            lines.append(
                f"Campaign {self.campaign!r}: {self.accepted:,} accepted, {self.rejected:,} "
                f"rejected, {self.unknown:,} unknown in this run — {self.requests:,} "
                f"request{_s(self.requests)}, {self.parts_billed:,} parts billed, "
                f"{self.elapsed:.1f} s ({self.messages_per_second:,.1f} messages/s)."
            )
        if not self.dry_run:
            shown = ", ".join(f"{n:,} {s}" for s, n in self.counts.items() if n)
            lines.append(f"Campaign totals: {shown or 'no messages'}.")
            if self.registered or self.updated:
                lines.append(
                    f"Registered {self.registered:,} new row{_s(self.registered)}"
                    + (f", updated the text of {self.updated:,} pending" if self.updated else "")
                    + "."
                )
        if self.skipped:
            total = sum(self.skipped.values())
            reasons = "; ".join(
                f"{n:,} {r}" for r, n in sorted(self.skipped.items(), key=lambda x: -x[1])
            )
            lines.append(f"Skipped {total:,} row{_s(total)}: {reasons}.")
        if self.recovered_unknown:
            lines.append(
                f"{self.recovered_unknown:,} message{_s(self.recovered_unknown)} claimed by an "
                "interrupted run became unknown (they may have been accepted; not re-sent — "
                "see resend_unknown)."
            )
        if self.unknown and not self.dry_run:
            lines.append(
                f"{self.unknown:,} message{_s(self.unknown)} of this run have an unknown outcome "
                "and will not be re-sent automatically; wait for reports, then decide with "
                "resend_unknown()."
            )
        if self.changed_after_send:
            lines.append(
                f"{self.changed_after_send:,} row{_s(self.changed_after_send)} now render a "
                "different text than the one already sent; they were not sent again (use a new "
                "campaign name to send a new text)."
            )
        if self.not_in_frame:
            lines.append(
                f"{self.not_in_frame:,} pending message{_s(self.not_in_frame)} of the campaign "
                "are not rows of this frame and were left pending."
            )
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
        head, rest = lines[0], lines[1:]
        items = "".join(
            f"<li style='color:#b00020'><b>{html.escape(x)}</b></li>"
            if x.startswith("Stopped:")
            else f"<li>{html.escape(x)}</li>"
            for x in rest
        )
        cells = "".join(
            f"<td style='padding:2px 8px'>{html.escape(s)}<br><b>{n:,}</b></td>"
            for s, n in self.counts.items()
        )
        table = "" if self.dry_run else f"<table><tr>{cells}</tr></table>"
        return f"<div><p><b>{html.escape(head)}</b></p>{table}<ul>{items}</ul></div>"


@dataclass
class CancelSummary:
    """What :func:`cancel` did.

    Attributes:
        campaign: the campaign name. requested: scheduled messages asked to be cancelled.
        cancelled: how many the gateway cancelled. failed: the others, by reason.
        requests: SmsCancel requests made. pending_cancelled: messages not yet sent that
        were marked cancelled locally. stopped_reason: why it stopped early, if it did.
    """

    campaign: str
    requested: int = 0
    cancelled: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    pending_cancelled: int = 0
    stopped_reason: str | None = None

    def __str__(self) -> str:
        lines = [
            f"Campaign {self.campaign!r}: {self.cancelled:,} of {self.requested:,} scheduled "
            f"message{_s(self.requested)} cancelled in {self.requests:,} request{_s(self.requests)}."
        ]
        if self.failed:
            lines.append(
                "Not cancelled: " + "; ".join(f"{n:,} {r}" for r, n in self.failed.items()) + "."
            )
        if self.pending_cancelled:
            lines.append(
                f"{self.pending_cancelled:,} message{_s(self.pending_cancelled)} not yet sent "
                "will not be sent."
            )
        if self.stopped_reason:
            lines.append(f"Stopped: {self.stopped_reason}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        # the readable report, also in a terminal IPython or a text export
        return str(self)

    def _repr_html_(self) -> str:
        return "<div>" + "<br>".join(html.escape(x) for x in str(self).splitlines()) + "</div>"


def _s(n: int) -> str:
    return "" if n == 1 else "s"


# ---------------------------------------------------------------------------- parameters


def _parse_clock(value: object, what: str) -> dtime:
    if isinstance(value, dtime):
        return value
    text = str(value).strip()
    if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", text):
        bits = [int(x) for x in text.split(":")] + [0]
        try:
            return dtime(bits[0], bits[1], bits[2])
        except ValueError:
            pass
    raise InputError(f"quiet_hours: {what} {value!r} is not a time of day; write 'HH:MM'.")


def _window(quiet_hours: Sequence[object] | None) -> tuple[dtime, dtime] | None:
    if quiet_hours is None:
        return None
    if isinstance(quiet_hours, str) or len(quiet_hours) != 2:
        raise InputError(
            f"quiet_hours must be (start, end) like ('08:00', '20:00') or None, not {quiet_hours!r}."
        )
    start = _parse_clock(quiet_hours[0], "start")
    end = _parse_clock(quiet_hours[1], "end")
    if start == end:
        raise InputError(
            f"quiet_hours {quiet_hours!r} is an empty window; pass None to allow any time."
        )
    return start, end


def _in_window(when: datetime, window: tuple[dtime, dtime]) -> bool:
    t = when.astimezone(BEIJING).time()
    start, end = window
    return start <= t < end if start < end else (t >= start or t < end)


def _next_opening(now: datetime, window: tuple[dtime, dtime]) -> datetime:
    now = now.astimezone(BEIJING)
    opening = now.replace(
        hour=window[0].hour, minute=window[0].minute, second=window[0].second, microsecond=0
    )
    if opening <= now:
        opening += timedelta(days=1)
    return opening


def _window_text(window: tuple[dtime, dtime]) -> str:
    return f"{window[0].strftime('%H:%M')}–{window[1].strftime('%H:%M')} Beijing time"


def _timer(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=BEIJING)
    else:
        parsed = parse_beijing_time(value)
        if parsed is None:
            raise InputError(
                f"timer_send {value!r} is not a time; use a datetime or 'YYYY-MM-DD HH:MM:SS' "
                "(Beijing time)."
            )
        when = parsed
    when = when.astimezone(BEIJING).replace(microsecond=0)
    if when <= beijing_now():
        raise InputError(
            f"timer_send {format_beijing_time(when)} (Beijing) is in the past; pass a future time "
            "or None to send now."
        )
    return when


def _check_options(
    *,
    campaign: str,
    rate: float | None,
    concurrency: int,
    batch_size: int,
    add_num: str | None,
) -> None:
    if not isinstance(campaign, str) or not campaign.strip():
        raise InputError("campaign must be a non-empty name, e.g. campaign='2024-spring-promo'.")
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0
    ):
        raise InputError(f"rate must be messages per second above 0, or None, not {rate!r}.")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InputError(f"concurrency must be a whole number of 1 or more, not {concurrency!r}.")
    _check_batch_size(batch_size)
    if add_num is not None and not (str(add_num).isascii() and str(add_num).isdigit()):
        raise InputError(f"add_num {add_num!r} must be digits only (the sender extension).")


def _account_key(client: Any) -> str:
    return f"{getattr(client, 'corp_id', '')}:{getattr(client, 'login_name', '')}"


# ---------------------------------------------------------------------------- the engine


class _RateLimiter:
    """A token bucket of ``rate`` messages per second (one second of burst), shared by the
    workers. A request for more tokens than the bucket holds borrows against the future."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.capacity = max(float(rate or 0), 1.0)
        self.tokens = self.capacity
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def wait(self, n: int, stop: threading.Event) -> bool:
        """Block until ``n`` messages may go; False when ``stop`` was set meanwhile."""
        if self.rate is None:
            return not stop.is_set()
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
            self.last = now
            self.tokens -= n
            delay = -self.tokens / self.rate if self.tokens < 0 else 0.0
        if delay > 0:
            return not stop.wait(delay)
        return not stop.is_set()


@dataclass
class _Options:
    rate: float | None
    concurrency: int
    timer_send: datetime | None
    add_num: str | None
    long_sms: bool
    window: tuple[dtime, dtime] | None
    wait_for_window: bool
    progress: bool


class _Engine:
    """Runs planned batches through a thread pool; see the module docstring."""

    def __init__(
        self, ledger: Ledger, client: Any, campaign: str, summary: SendSummary, opts: _Options
    ) -> None:
        self.ledger = ledger
        self.client = client
        self.campaign = campaign
        self.summary = summary
        self.opts = opts
        self.account = _account_key(client)
        self.timer_iso = None if opts.timer_send is None else opts.timer_send.isoformat()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.local = threading.local()
        self.clones: list[Any] = []
        self.limiter = _RateLimiter(opts.rate)
        self.bar: Any = None

    # -- helpers

    def halt(self, reason: str) -> None:
        with self.lock:
            if self.summary.stopped_reason is None:
                self.summary.stopped_reason = reason
        self.stop.set()

    def _client(self) -> Any:
        clone = getattr(self.local, "client", None)
        if clone is None:
            clone = self.client.clone()
            self.local.client = clone
            with self.lock:
                self.clones.append(clone)
        return clone

    def _count(self, **deltas: int) -> None:
        with self.lock:
            for name, n in deltas.items():
                setattr(self.summary, name, getattr(self.summary, name) + n)

    def _window_open(self) -> bool:
        """Main thread, before each request: True to go on, False to stop."""
        window = self.opts.window
        if window is None or self.opts.timer_send is not None:
            return True
        now = beijing_now()
        if _in_window(now, window):
            return True
        if not self.opts.wait_for_window:
            self.halt(
                f"the sending window {_window_text(window)} closed; the rest is pending — run "
                "send() again when it opens (or pass wait_for_window=True)."
            )
            return False
        _wait_until(_next_opening(now, window), self.bar, self.stop)
        return not self.stop.is_set()

    # -- the run

    def run(self, batches: list[PlannedBatch]) -> None:
        started = time.perf_counter()
        self.bar = tqdm(
            total=sum(len(b) for b in batches),
            unit="msg",
            desc=f"sending {self.campaign}",
            disable=not self.opts.progress,
            leave=True,
        )
        slots = threading.Semaphore(self.opts.concurrency)
        pool = ThreadPoolExecutor(self.opts.concurrency, thread_name_prefix="mobset-send")
        futures: list[Future[None]] = []
        try:
            try:
                for batch in batches:
                    if self.stop.is_set() or not self._window_open():
                        break
                    while not self.stop.is_set() and not slots.acquire(timeout=0.2):
                        pass
                    if self.stop.is_set():
                        break
                    future = pool.submit(self._work, batch)
                    future.add_done_callback(lambda _f: slots.release())
                    futures.append(future)
                _wait_all(futures, self.stop)
            except KeyboardInterrupt:
                self.halt(
                    "interrupted (Ctrl-C); the requests in flight were recorded and the rest is "
                    "pending — run send() again to resume."
                )
                try:
                    _wait_all(futures, None)
                except KeyboardInterrupt:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
        finally:
            pool.shutdown(wait=True)
            self.bar.close()
            for clone in self.clones:
                close = getattr(clone, "close", None)
                if close is not None:
                    close()
            self.summary.elapsed += time.perf_counter() - started
        for future in futures:
            exc = future.exception()
            if exc is not None:
                raise exc

    def _work(self, batch: PlannedBatch) -> None:
        try:
            self._send_batch(batch)
        except BaseException as exc:  # a broken ledger, a bug: stop the whole run, report it
            self.halt(f"unexpected error while sending: {exc!r}")
            raise

    def _send_batch(self, batch: PlannedBatch) -> None:
        if self.stop.is_set() or not self.limiter.wait(len(batch), self.stop):
            return
        batch_id, claimed = self.ledger.claim(
            self.campaign,
            [m.id for m in batch.messages],
            account=self.account,
            timer_send=self.timer_iso,
            add_num=self.opts.add_num,
            long_sms=self.opts.long_sms,
        )
        if not claimed:
            return
        phones = [phone for _, phone in claimed]
        parts = {m.id: m.parts for m in batch.messages}
        self._count(requests=1)
        started = time.perf_counter()
        try:
            result = self._client().send(
                phones,
                batch.content,
                long_sms=self.opts.long_sms,
                timer_send=self.opts.timer_send,
                add_num=self.opts.add_num,
            )
        except AmbiguousSendError as exc:
            self._fail(batch_id, "unknown", None, str(exc), started, len(claimed))
        except BusyError as exc:
            self._fail(batch_id, "pending", exc.code, str(exc), started, len(claimed))
            self.halt(
                f"the gateway stayed busy after retries ({describe_error(exc.code)}); nothing "
                "of that request was accepted. Run send() again later to resume."
            )
        except (AuthError, BalanceError, LimitError) as exc:
            self._fail(batch_id, "pending", exc.code, str(exc), started, len(claimed))
            self.halt(f"{exc} The rest of the campaign is pending; run send() again to resume.")
        except ContentError as exc:
            self._fail(batch_id, "rejected", exc.code, str(exc), started, len(claimed))
        except ProtocolError as exc:  # the client maps these to AmbiguousSendError; be safe
            self._fail(batch_id, "unknown", None, str(exc), started, len(claimed))
        except TransportError as exc:  # not ambiguous: the connection was never made
            self._fail(batch_id, "pending", None, str(exc), started, len(claimed))
            self.halt(f"{exc} Nothing of that request was sent; run send() again to resume.")
        except GatewayError as exc:
            self._fail(batch_id, "rejected", exc.code, str(exc), started, len(claimed))
        except InputError as exc:  # refused by the client before any request
            self._fail(batch_id, "pending", None, str(exc), started, len(claimed))
            self.halt(f"the client refused a request before sending it: {exc}")
        except BaseException as exc:
            # we cannot know whether the request went out: never send these again blindly
            self._fail(
                batch_id, "unknown", None, f"unexpected error: {exc!r}", started, len(claimed)
            )
            raise
        else:
            self._record(batch_id, claimed, parts, result, started)
        finally:
            self.bar.update(len(claimed))

    def _fail(
        self, batch_id: int, state: str, code: int | None, error: str, started: float, n: int
    ) -> None:
        self.ledger.fail_batch(
            batch_id, state, code=code, error=error, elapsed=time.perf_counter() - started
        )
        if state == "pending":
            self._count(returned=n)
        else:
            self._count(**{state: n})

    def _record(
        self,
        batch_id: int,
        claimed: list[tuple[int, str]],
        parts: dict[int, int],
        result: Any,
        started: float,
    ) -> None:
        answered: dict[str, int] = {}
        for number in result.numbers:
            answered.setdefault(normalise_phone(number.phone), int(number.sms_id))
        outcomes: list[Outcome] = []
        accepted = rejected = unknown = billed = 0
        listed = len(result.numbers)
        for mid, phone in claimed:
            sms_id = answered.get(normalise_phone(phone))
            if sms_id is None:
                unknown += 1
                outcomes.append(
                    Outcome(
                        mid,
                        "unknown",
                        None,
                        result.code,
                        f"the answer's SmsIdList listed {listed} of {len(claimed)} numbers and "
                        "not this one; it may have been accepted (not re-sent; see "
                        "resend_unknown)",
                    )
                )
            elif sms_id == 0:
                rejected += 1
                outcomes.append(
                    Outcome(
                        mid,
                        "rejected",
                        None,
                        result.code,
                        "the gateway refused this number (SmsId 0): not a number it can deliver to",
                    )
                )
            else:
                accepted += 1
                billed += parts.get(mid, 0)
                outcomes.append(Outcome(mid, "sent", sms_id, result.code, None))
        # Retried, and kept aside if the ledger still refuses it (see Ledger.record_answer):
        # the accepted SmsIds must never be lost, or their messages would turn unknown.
        self.ledger.record_answer(
            batch_id,
            outcomes,
            code=int(result.code),
            message=str(result.message),
            elapsed=time.perf_counter() - started,
            numbers=[(str(n.phone), int(n.sms_id)) for n in result.numbers],
        )
        self._count(accepted=accepted, rejected=rejected, unknown=unknown, parts_billed=billed)


def _wait_all(futures: list[Future[None]], stop: threading.Event | None) -> None:
    """Wait for every future, in short steps so Ctrl-C reaches the main thread."""
    pending = {f for f in futures if not f.done()}
    while pending:
        _, pending = wait_futures(pending, timeout=0.2, return_when=FIRST_EXCEPTION)


def _wait_until(when: datetime, bar: Any, stop: threading.Event) -> None:
    """Sleep (interruptibly, in the main thread) until ``when``."""
    if bar is not None:
        bar.set_description(f"waiting for the sending window ({format_beijing_time(when)})")
    while not stop.is_set():
        left = (when - beijing_now()).total_seconds()
        if left <= 0:
            break
        time.sleep(min(left, 1.0))
    if bar is not None:
        bar.set_description("sending")


# ---------------------------------------------------------------------------- preflight


def _preflight(
    client: Any,
    summary: SendSummary,
    parts: int,
    opts: _Options,
) -> bool:
    """Window and balance checks before anything is sent; False = stop (reason set)."""
    if opts.window is not None:
        if opts.timer_send is not None:
            if not _in_window(opts.timer_send, opts.window):
                summary.stopped_reason = (
                    f"timer_send {format_beijing_time(opts.timer_send)} is outside the sending "
                    f"window {_window_text(opts.window)}; nothing was sent. Choose a time inside "
                    "it or pass quiet_hours=None."
                )
                return False
        elif not _in_window(beijing_now(), opts.window):
            if not opts.wait_for_window:
                summary.stopped_reason = (
                    f"it is {beijing_now().strftime('%H:%M')} in Beijing, outside the sending "
                    f"window {_window_text(opts.window)}; nothing was sent. Run send() again "
                    "inside the window, pass wait_for_window=True, or quiet_hours=None."
                )
                return False
            try:
                _wait_until(_next_opening(beijing_now(), opts.window), None, threading.Event())
            except KeyboardInterrupt:
                summary.stopped_reason = "interrupted (Ctrl-C) while waiting for the window."
                return False
    try:
        summary.balance = int(client.get_balance())
    except GatewayError as exc:
        summary.stopped_reason = f"could not read the balance, so nothing was sent: {exc}"
        return False
    if summary.balance < parts:
        summary.stopped_reason = (
            f"the balance is {summary.balance:,} parts but this send needs {parts:,} "
            f"({parts - summary.balance:,} short); nothing was sent. Top up the account or "
            "send fewer rows, then run send() again."
        )
        return False
    return True


# ---------------------------------------------------------------------------- public API


def send(
    df: pd.DataFrame,
    client: Any,
    *,
    campaign: str,
    ledger: Ledger | None = None,
    rate: float | None = None,
    concurrency: int = 4,
    batch_size: int = MAX_BATCH,
    timer_send: datetime | str | None = None,
    add_num: str | None = None,
    quiet_hours: Sequence[object] | None = ("08:00", "20:00"),
    wait_for_window: bool = False,
    dry_run: bool = False,
    progress: bool = True,
    long_sms: bool = True,
) -> SendSummary:
    """Send a rendered frame as a campaign, at most once per row, resumably.

    Args:
        df: a frame from ``render`` (needs ``phone``, ``content``, ``parts``, ``sendable``;
            ``phone_problem`` and ``warnings`` are used when present). Not modified.
        client: a :class:`~mobset_campaign.client.MobsetClient` (``sim.client()`` for a
            rehearsal); may be ``None`` for a dry run (no balance check then).
        campaign: the campaign's name; sending the same frame under the same name again
            resumes it and never sends a row twice. Rows are recognised by their row key,
            never by their position: the phone number alone when it is on one row (editing
            the text later does not send it again), the number plus a hash of the text when
            it is on several rows (so sorting cannot swap them). Rows with a
            ``phone_problem`` — such as ``read_contacts``' "duplicate of row N" — get no key
            and are never sent, so sorting the sheet cannot make the duplicate take the
            kept row's place. See :func:`mobset_campaign.merge.row_keys`.
        ledger: where state is kept (default ``Ledger()``, i.e. ``./mobset_ledger.sqlite``).
        rate: messages per second across all workers (``None``: as fast as the gateway
            answers).
        concurrency: requests in flight (worker threads, each with its own connection).
        batch_size: numbers per request for rows sharing a text (1–50).
        timer_send: schedule the messages (Beijing time; naive = Beijing). Cancel them with
            :func:`cancel`.
        add_num: extension digits appended to the sender number (replies carry it back).
        quiet_hours: (start, end) of the sending window in Beijing time; ``None`` sends at
            any hour. With ``timer_send`` the scheduled time must be inside it.
        wait_for_window: outside the window, wait for it to open instead of stopping.
        dry_run: plan only: return what would be sent (messages, parts, requests, and the
            balance if the gateway answers) and write nothing.
        progress: show a progress bar (a widget in notebooks).
        long_sms: send as long SMS (the default) or ``LongSms=0``.

    Returns:
        A :class:`SendSummary`; ``stopped_reason`` is set when the run stopped early (see the
        module docstring) and ``str(summary)`` says what to do next.

    Raises:
        InputError: a missing column or a bad parameter, before anything is sent.
        LedgerError: the ledger cannot be written.
    """
    _check_options(
        campaign=campaign,
        rate=rate,
        concurrency=concurrency,
        batch_size=batch_size,
        add_num=add_num,
    )
    _require(df, _REQUIRED, "send")
    window = _window(quiet_hours)
    when = _timer(timer_send)
    opts = _Options(
        rate, concurrency, when, add_num, bool(long_sms), window, wait_for_window, progress
    )
    own = ledger is None
    if ledger is None:
        if dry_run and not Path(DEFAULT_LEDGER_PATH).exists():
            ledger = Ledger(":memory:")  # a dry run writes nothing, not even an empty ledger
        else:
            ledger = Ledger()
    try:
        return _send(df, client, campaign, ledger, opts, batch_size, dry_run)
    finally:
        if own:
            ledger.close()


def _send(
    df: pd.DataFrame,
    client: Any,
    campaign: str,
    ledger: Ledger,
    opts: _Options,
    batch_size: int,
    dry_run: bool,
) -> SendSummary:
    summary = SendSummary(campaign=campaign, dry_run=dry_run)
    keys = row_keys(df)
    reasons = skip_reasons(df, ledger.suppressed_phones())
    usable = reasons.isna() & keys.notna()
    summary.skipped = _group_reasons(reasons[~usable].tolist())
    frame = df.loc[usable.to_numpy()]
    rows = list(
        zip(
            keys[usable].tolist(),
            [normalise_phone(p) for p in frame["phone"].tolist()],
            frame["content"].astype("str").tolist(),
            [_parts(v) for v in frame["parts"].tolist()],
            strict=True,
        )
    )
    if dry_run:
        existing = ledger.lookup(campaign)
        resolved = resolve_row_keys(
            [(key, phone, content) for key, phone, content, _ in rows],
            {k: (v[2], v[3]) for k, v in existing.items()},
        )
        todo = [
            PendingMessage(-(i + 1), phone, content, parts)
            for i, (key, (_, phone, content, parts)) in enumerate(zip(resolved, rows, strict=True))
            if key not in existing or existing[str(key)][1] == "pending"
        ]
        _plan_into(summary, plan_batches(todo, batch_size))
        summary.counts = ledger.counts(campaign)
        if summary.planned_messages and client is not None:
            try:
                summary.balance = int(client.get_balance())
            except MobsetError as exc:
                summary.stopped_reason = f"could not read the balance: {exc}"
            else:
                if summary.balance < summary.planned_parts:
                    summary.stopped_reason = (
                        f"the balance ({summary.balance:,} parts) is "
                        f"{summary.planned_parts - summary.balance:,} short of what this send "
                        "needs; a real send would stop before sending anything."
                    )
        return summary
    ledger.ensure_campaign(
        campaign,
        add_num=opts.add_num,
        timer_send=None if opts.timer_send is None else opts.timer_send.isoformat(),
        long_sms=opts.long_sms,
    )
    reg = ledger.register(campaign, rows)
    summary.registered, summary.updated = reg.new, reg.updated
    summary.changed_after_send = reg.changed_after_send
    summary.recovered_unknown = ledger.recover_claims(campaign)
    ledger.cancel_suppressed(campaign)
    pending = ledger.pending(campaign, reg.keys or [r[0] for r in rows])
    summary.not_in_frame = len(ledger.pending(campaign)) - len(pending)
    return _execute(ledger, client, campaign, pending, summary, opts, batch_size)


def _group_reasons(reasons: list[object]) -> dict[str, int]:
    """Count skip reasons, folding per-row details: "duplicate of row 7" and "duplicate of
    row 9" count as "duplicate of row N"; text after a colon is dropped."""
    counts: dict[str, int] = {}
    for reason in reasons:
        text = str(reason) if _present(reason) else "no phone number"
        key = re.sub(r"\d+", "N", text.split(":", 1)[0]).strip()
        counts[key] = counts.get(key, 0) + 1
    return counts


def _parts(value: object) -> int:
    try:
        n = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise InputError(
            f"send: a sendable row has parts={value!r}; call render() to count parts."
        ) from None
    if n < 1:
        raise InputError(f"send: a sendable row has parts={n}; call render() to count parts.")
    return n


def _plan_into(summary: SendSummary, batches: list[PlannedBatch]) -> None:
    summary.planned_batches = len(batches)
    summary.planned_messages = sum(len(b) for b in batches)
    summary.planned_parts = sum(b.parts for b in batches)


def _execute(
    ledger: Ledger,
    client: Any,
    campaign: str,
    pending: list[PendingMessage],
    summary: SendSummary,
    opts: _Options,
    batch_size: int,
    *,
    preflight: bool = True,
) -> SendSummary:
    batches = plan_batches(pending, batch_size)
    _plan_into(summary, batches)
    if batches and (not preflight or _preflight(client, summary, summary.planned_parts, opts)):
        _Engine(ledger, client, campaign, summary, opts).run(batches)
    summary.counts = ledger.counts(campaign)
    return summary


def resend_unknown(
    campaign: str,
    ledger: Ledger,
    client: Any,
    *,
    phones: Iterable[str] | None = None,
    rate: float | None = None,
    concurrency: int = 4,
    batch_size: int = MAX_BATCH,
    quiet_hours: Sequence[object] | None = ("08:00", "20:00"),
    wait_for_window: bool = False,
    progress: bool = True,
) -> SendSummary:
    """Send again the messages whose outcome is ``unknown`` — an explicit, risky decision.

    A message is ``unknown`` when its request went out and no usable answer came back (a
    timeout, a dropped connection, an HTTP 500, an unreadable body, an SmsIdList that left
    it out) or when a run was interrupted after claiming it. **The gateway may well have
    accepted it**: the vendor itself warns that a request that times out may be processed
    anyway. Resending therefore risks texting these people twice, and billing twice.

    Before deciding, wait for delivery reports and look at what the gateway says it sent
    (the platform's web console lists sent messages); pass ``phones`` to resend only the
    numbers you have checked. The campaign's last ``add_num``/``long_sms`` are used; a
    ``timer_send`` already past is dropped (the messages go now).

    Returns:
        A :class:`SendSummary` of the resend (``reset_unknown`` = messages moved back to
        pending and sent).

    Raises:
        InputError: the campaign is not in the ledger, or a bad parameter.
    """
    _check_options(
        campaign=campaign, rate=rate, concurrency=concurrency, batch_size=batch_size, add_num=None
    )
    options = ledger.campaign_options(campaign)
    if options is None:
        raise InputError(f"resend_unknown: campaign {campaign!r} is not in {ledger!r}.")
    stored = options["timer_send"]
    timer = datetime.fromisoformat(stored) if stored else None
    if timer is not None and timer <= beijing_now():
        timer = None
    opts = _Options(
        rate,
        concurrency,
        timer,
        options["add_num"],
        options["long_sms"],
        _window(quiet_hours),
        wait_for_window,
        progress,
    )
    summary = SendSummary(campaign=campaign)
    summary.recovered_unknown = ledger.recover_claims(campaign)
    wanted = None if phones is None else {normalise_phone(p) for p in phones}
    candidates = [
        (key, phone, content)
        for key, (_, state, phone, content) in ledger.lookup(campaign).items()
        if state == "unknown" and (wanted is None or phone in wanted)
    ]
    parts = _unknown_parts(ledger, campaign, {c[0] for c in candidates})
    if not candidates:
        summary.counts = ledger.counts(campaign)
        return summary
    if not _preflight(client, summary, parts, opts):
        summary.counts = ledger.counts(campaign)
        return summary
    keys = ledger.reset_unknown(campaign, None if wanted is None else wanted)
    summary.reset_unknown = len(keys)
    pending = ledger.pending(campaign, keys)
    return _execute(ledger, client, campaign, pending, summary, opts, batch_size, preflight=False)


def _unknown_parts(ledger: Ledger, campaign: str, keys: set[str]) -> int:
    frame = ledger.status_frame(campaign)
    return int(frame.loc[frame["row_key"].isin(keys), "parts"].sum())


def cancel(
    campaign: str, ledger: Ledger, client: Any, *, include_pending: bool = True
) -> CancelSummary:
    """Cancel every still-scheduled message of the campaign (``timer_send`` in the future).

    Sends SmsCancel with at most 50 SmsIds per request and records each id's result:
    Status 1 → ``cancelled``; any other status (e.g. -142: already sent or unknown id)
    leaves the message ``sent`` with the code in the ledger. With ``include_pending``
    (the default) messages not yet sent are marked ``cancelled`` too, so a later
    :func:`send` does not send them.

    Raises:
        InputError: the campaign is not in the ledger.
    """
    if ledger.campaign_options(campaign) is None:
        raise InputError(f"cancel: campaign {campaign!r} is not in {ledger!r}.")
    summary = CancelSummary(campaign=campaign)
    now = beijing_now()
    due = [
        (mid, sms_id)
        for mid, sms_id, when in ledger.scheduled(campaign)
        if datetime.fromisoformat(when) > now
    ]
    summary.requested = len(due)
    for start in range(0, len(due), MAX_BATCH):
        chunk = due[start : start + MAX_BATCH]
        summary.requests += 1
        try:
            result = client.cancel([sms_id for _, sms_id in chunk])
        except GatewayError as exc:
            ledger.record_cancel([(mid, exc.code, str(exc)) for mid, _ in chunk])
            reason = describe_error(exc.code) if exc.code else type(exc).__name__
            summary.failed[reason] = summary.failed.get(reason, 0) + len(chunk)
            if isinstance(exc, (AuthError, TransportError)):
                summary.stopped_reason = f"{exc}"
                break
            continue
        status = {int(d.sms_id): int(d.status) for d in result.details}
        records: list[tuple[int, int, str | None]] = []
        for mid, sms_id in chunk:
            got = status.get(sms_id)
            if got == 1:
                summary.cancelled += 1
                records.append((mid, 1, None))
                continue
            if got is None:
                reason = "not in the gateway's answer"
                records.append((mid, 0, reason))
            else:
                reason = describe_error(got) if error_info(got) else f"status {got}"
                records.append((mid, got, reason))
            summary.failed[reason] = summary.failed.get(reason, 0) + 1
        ledger.record_cancel(records)
    if include_pending and summary.stopped_reason is None:
        summary.pending_cancelled = ledger.cancel_pending(
            campaign, "cancelled before sending (cancel())"
        )
    return summary
