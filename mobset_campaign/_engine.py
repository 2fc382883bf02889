"""The sending engine: a pool of worker threads that claim, send and record each batch.

:class:`Engine` runs planned batches with ``concurrency`` worker threads, each with its own
``client.clone()``, a shared token bucket of ``rate`` messages per second
(:class:`RateLimiter`) and a progress bar. Each worker commits its claim to the ledger
*before* its request goes out and records the answer right after it; how each answer is
recorded is tabled in :mod:`mobset_campaign.sender`. When a claim finds every row of its
request taken by another sender of the campaign, the engine reads what is still pending and
goes on where nobody works (:meth:`Engine._regroup`). :func:`preflight` checks the sending
window and the balance before anything is sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tqdm.auto import tqdm  # type: ignore[import-untyped]

from ._advice import say
from ._i18n import gettext as _
from ._i18n import ngettext
from ._protocol import beijing_now
from ._signals import stopped_by
from .answers import SendResult
from .codes import describe_error
from .errors import (
    AmbiguousSendError,
    AnswerKeptError,
    AuthError,
    BalanceError,
    BusyError,
    ContentError,
    GatewayError,
    InputError,
    LedgerError,
    LimitError,
    ProtocolError,
    TransportError,
)
from .ledger import Claimed, Holder, Ledger, Outcome, account_key
from .plan import PlannedBatch, SendWindow, regroup, shown_time
from .rows import phone_key
from .summaries import SendSummary

__all__ = ["Engine", "Options", "RateLimiter", "preflight"]


class RateLimiter:
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
class Options:
    """How a run sends (checked and parsed by :func:`mobset_campaign.send`)."""

    rate: float | None
    concurrency: int
    timer_send: datetime | None
    add_num: str | None
    long_sms: bool
    window: SendWindow | None
    wait_for_window: bool
    progress: bool
    holder: Holder | None = None  #: the campaign's lock, held by this run
    clock: Callable[[], datetime] = beijing_now  #: the time now, in Beijing


class Engine:
    """Runs planned batches through a thread pool; see the module docstring."""

    def __init__(
        self, ledger: Ledger, client: Any, campaign: str, summary: SendSummary, opts: Options
    ) -> None:
        self.ledger = ledger
        self.client = client
        self.campaign = campaign
        self.summary = summary
        self.opts = opts
        self.account = account_key(client)
        self.timer_iso = None if opts.timer_send is None else opts.timer_send.isoformat()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.local = threading.local()
        self.clones: list[Any] = []
        self.limiter = RateLimiter(opts.rate)
        self.bar: Any = None
        #: set when a claim found every row of its request taken by another sender; the
        #: plan's rest is then read again (:meth:`_regroup`), whose requests carry the next
        #: generation
        self.crowded = threading.Event()
        self.generation = 0

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
        now = self.opts.clock()
        if window.contains(now):
            return True
        if not self.opts.wait_for_window:
            self.halt(
                _(
                    "the sending window {window} closed; the rest is pending — run {send} again "
                    "when it opens (or use {wait})."
                ).format(window=window, send=say("send()"), wait=say("wait_for_window", True))
            )
            return False
        wait_until(window.next_opening(now), self.bar, self.stop, self.opts.clock)
        return not self.stop.is_set()

    # -- the run

    def run(self, batches: list[PlannedBatch]) -> None:
        started = time.perf_counter()
        self.bar = tqdm(
            total=sum(len(b) for b in batches),
            unit=_("msg"),  # TRANSLATORS: the progress bar counts messages: 35/35 [00:00, 502 msg/s]
            desc=_("sending {campaign}").format(campaign=self.campaign),
            disable=not self.opts.progress,
            leave=True,
        )
        slots = threading.Semaphore(self.opts.concurrency)
        pool = ThreadPoolExecutor(self.opts.concurrency, thread_name_prefix="mobset-send")
        futures: list[Future[None]] = []
        queue, i = batches, 0
        try:
            try:
                while i < len(queue):
                    if self.stop.is_set() or not self._window_open():
                        break
                    while not self.stop.is_set() and not slots.acquire(timeout=0.2):
                        pass
                    if self.stop.is_set():
                        break
                    if self.crowded.is_set():  # another sender works here: move on
                        queue, i = self._regroup(queue[i:]), 0
                        if not queue:
                            slots.release()
                            break
                    batch, i = queue[i], i + 1
                    future = pool.submit(self._work, batch, self.generation)
                    future.add_done_callback(lambda _f: slots.release())
                    futures.append(future)
                _wait_all(futures)
            except KeyboardInterrupt as exc:
                self.halt(
                    _(
                        "interrupted ({signal}); the requests in flight were recorded and the "
                        "rest is pending — run send() again to resume."
                    ).format(signal=stopped_by(exc))
                )
                try:
                    _wait_all(futures)
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
        failures = [f.exception() for f in futures if f.exception() is not None]
        if failures:
            raise _one_error([f for f in failures if f is not None])

    def _regroup(self, rest: list[PlannedBatch]) -> list[PlannedBatch]:
        """The rest of the plan, after a claim found its rows all taken by another sender:
        one read of what is still pending instead of one empty claim per request the other
        sender has sent (see :func:`~mobset_campaign.plan.regroup`)."""
        self.crowded.clear()
        self.generation += 1  # empty claims of requests handed out before now say nothing new
        try:
            pending = self.ledger.pending_ids(self.campaign)
        except LedgerError:  # the claims themselves say what is wrong with the ledger
            return rest
        regrouped = regroup(rest, pending)
        gone = sum(len(b) for b in rest) - sum(len(b) for b in regrouped)
        if gone:
            self._count(sent_by_others=gone)
            self._shrink_bar(gone)
        return regrouped

    def _shrink_bar(self, n: int) -> None:
        """``n`` messages of the plan will not be sent by this run (another sender took them,
        or their number opted out): off the progress bar's total, which counts what this run
        may still send, so that it ends full."""
        with self.lock:
            if self.bar.total:
                self.bar.total = max(self.bar.n, self.bar.total - n)
                self.bar.refresh()

    def _work(self, batch: PlannedBatch, generation: int = 0) -> None:
        try:
            self._send_batch(batch, generation)
        except BaseException as exc:  # a broken ledger, a bug: stop the whole run, report it
            self.halt(_("unexpected error while sending: {error!r}").format(error=exc))
            raise

    def _send_batch(self, batch: PlannedBatch, generation: int = 0) -> None:
        if self.stop.is_set() or not self.limiter.wait(len(batch), self.stop):
            return
        batch_id, claimed = self.ledger.claim(
            self.campaign,
            [m.id for m in batch.messages],
            account=self.account,
            timer_send=self.timer_iso,
            add_num=self.opts.add_num,
            long_sms=self.opts.long_sms,
            holder=self.opts.holder,
        )
        if len(claimed) < len(batch):  # taken by another sender, or opted out meanwhile
            self._shrink_bar(len(batch) - len(claimed))
        if not claimed:
            if not batch_id:  # none was pending: another sender took them
                self._count(sent_by_others=len(batch))
                if generation == self.generation:
                    self.crowded.set()
            return
        phones = [c.phone for c in claimed]
        parts = {m.id: m.parts for m in batch.messages}
        self._count(requests=1)
        started = time.perf_counter()

        def fail(state: str, code: int | None, error: str) -> None:
            self.ledger.fail_batch(
                batch_id, state, code=code, error=error, elapsed=time.perf_counter() - started
            )
            self._count(**{"returned" if state == "pending" else state: len(claimed)})

        try:
            result = self._client().send(
                phones,
                batch.content,
                long_sms=self.opts.long_sms,
                timer_send=self.opts.timer_send,
                add_num=self.opts.add_num,
            )
        except AmbiguousSendError as exc:
            fail("unknown", None, str(exc))
        except BusyError as exc:
            fail("pending", exc.code, str(exc))
            self.halt(
                _(
                    "the gateway stayed busy after retries ({code}); nothing of that request "
                    "was accepted. Run send() again later to resume."
                ).format(code=describe_error(exc.code))
            )
        except (AuthError, BalanceError, LimitError) as exc:
            fail("pending", exc.code, str(exc))
            self.halt(
                _("{error} The rest of the campaign is pending; run send() again to resume.").format(
                    error=exc
                )
            )
        except ContentError as exc:
            fail("rejected", exc.code, str(exc))
        except ProtocolError as exc:  # the client maps these to AmbiguousSendError; be safe
            fail("unknown", None, str(exc))
        except TransportError as exc:  # not ambiguous: the connection was never made
            fail("pending", None, str(exc))
            self.halt(
                _("{error} Nothing of that request was sent; run send() again to resume.").format(
                    error=exc
                )
            )
        except GatewayError as exc:
            fail("rejected", exc.code, str(exc))
        except InputError as exc:  # refused by the client before any request
            fail("pending", None, str(exc))
            self.halt(
                _("the client refused a request before sending it: {error}").format(error=exc)
            )
        except BaseException as exc:
            # we cannot know whether the request went out: never send these again blindly
            fail("unknown", None, _("unexpected error: {error!r}").format(error=exc))
            raise
        else:
            self._record(batch_id, claimed, parts, result, started)
        finally:
            self.bar.update(len(claimed))

    def _record(
        self,
        batch_id: int,
        claimed: list[Claimed],
        parts: dict[int, int],
        result: SendResult,
        started: float,
    ) -> None:
        answered: dict[str, int] = {}  # the gateway may write a number its own way
        for number in result.numbers:
            answered.setdefault(phone_key(number.phone), int(number.sms_id))
        outcomes: list[Outcome] = []
        accepted = rejected = unknown = billed = 0
        listed = len(result.numbers)
        for mid, phone in claimed:
            sms_id = answered.get(phone)  # claimed phones are the ledger's keys already
            if sms_id is None:
                unknown += 1
                error = _(
                    "the answer's SmsIdList listed {listed} of {claimed} numbers and not this "
                    "one; it may have been accepted (not re-sent; see resend_unknown)"
                ).format(listed=listed, claimed=len(claimed))
                outcomes.append(Outcome(mid, "unknown", None, result.code, error))
            elif sms_id == 0:
                rejected += 1
                error = _(
                    "the gateway refused this number (SmsId 0): not a number it can deliver to"
                )
                outcomes.append(Outcome(mid, "rejected", None, result.code, error))
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


def _one_error(failures: list[BaseException]) -> BaseException:
    """What the workers' failures amount to. Answers the ledger refused are kept and listed
    together — every worker's, not the first one's — so none of their SmsIds is lost."""
    kept = [f for f in failures if isinstance(f, AnswerKeptError)]
    if not kept:
        return failures[0]
    accepted = [pair for f in kept for pair in f.accepted]
    places = [where for f in kept for where in f.kept_in]
    lost = [pair for f in kept for pair in f.lost]
    if len(kept) == 1 and len(failures) == 1:
        return kept[0]
    other = [f for f in failures if not isinstance(f, AnswerKeptError)]
    numbers = ngettext("{n:,} number", "{n:,} numbers", len(accepted)).format(n=len(accepted))
    text = ngettext(
        "Could not record the gateway's answers to {n} request ({numbers} accepted) in the "
        "ledger: {cause}.",
        "Could not record the gateway's answers to {n} requests ({numbers} accepted) in the "
        "ledger: {cause}.",
        len(kept),
    ).format(n=len(kept), numbers=numbers, cause=kept[0].cause)
    if places:
        text += " " + ngettext(
            "{n} answer was kept {places} — the next send(), resend_unknown() or collect() "
            "records it first (do not move or delete it).",
            "{n} answers were kept {places} — the next send(), resend_unknown() or collect() "
            "records them first (do not move or delete them).",
            len(places),
        ).format(n=len(places), places="; ".join(places))
    if lost:
        pairs = ", ".join(f"{phone}: {sms_id}" for phone, sms_id in lost)
        text += " " + _(
            "Could be kept nowhere: the gateway accepted (phone: SmsId) {pairs}; keep this "
            "list, and do not resend_unknown() those numbers."
        ).format(pairs=pairs)
    if other:
        text += " " + _("Also: {error}").format(error=other[0])
    return AnswerKeptError(
        text.strip(), accepted=accepted, kept_in=places, lost=lost, cause=kept[0].cause
    )


def _wait_all(futures: list[Future[None]]) -> None:
    """Wait for every future, in short steps so Ctrl-C reaches the main thread."""
    pending = {f for f in futures if not f.done()}
    while pending:
        _done, pending = wait_futures(pending, timeout=0.2, return_when=FIRST_EXCEPTION)


def wait_until(
    when: datetime, bar: Any, stop: threading.Event, clock: Callable[[], datetime] = beijing_now
) -> None:
    """Sleep (interruptibly, in the main thread) until ``clock()`` reaches ``when``."""
    if bar is not None:
        bar.set_description(
            _("waiting for the sending window ({time})").format(time=shown_time(when))
        )
    while not stop.is_set():
        left = (when - clock()).total_seconds()
        if left <= 0:
            break
        time.sleep(min(left, 1.0))
    if bar is not None:
        bar.set_description(_("sending"))


def preflight(client: Any, summary: SendSummary, parts: int, opts: Options) -> bool:
    """Window and balance checks before anything is sent; False = stop (reason set)."""
    window = opts.window
    if window is not None:
        if opts.timer_send is not None:
            if not window.contains(opts.timer_send):
                summary.stopped_reason = _(
                    "timer_send {time} is outside the sending window {window}; nothing was "
                    "sent. Choose a time inside it or use {no_window}."
                ).format(
                    time=shown_time(opts.timer_send),
                    window=window,
                    no_window=say("quiet_hours", None),
                )
                return False
        elif not window.contains(now := opts.clock()):
            if not opts.wait_for_window:
                summary.stopped_reason = _(
                    "it is {time} in Beijing, outside the sending window {window}; nothing was "
                    "sent. Run {send} again inside the window, or use {wait} (wait for it to "
                    "open) or {no_window} (no window)."
                ).format(
                    time=now.strftime("%H:%M"),
                    window=window,
                    send=say("send()"),
                    wait=say("wait_for_window", True),
                    no_window=say("quiet_hours", None),
                )
                return False
            try:
                wait_until(window.next_opening(now), None, threading.Event(), opts.clock)
            except KeyboardInterrupt as exc:
                summary.stopped_reason = _(
                    "interrupted ({signal}) while waiting for the window."
                ).format(signal=stopped_by(exc))
                return False
    try:
        summary.balance = int(client.get_balance())
    except GatewayError as exc:
        summary.stopped_reason = _(
            "could not read the balance, so nothing was sent: {error}"
        ).format(error=exc)
        return False
    if summary.balance < parts:
        summary.stopped_reason = _(
            "the balance is {balance:,} parts but this send needs {parts:,} ({short:,} "
            "short); nothing was sent. Top up the account or send fewer rows, then run send() "
            "again."
        ).format(balance=summary.balance, parts=parts, short=parts - summary.balance)
        return False
    return True
