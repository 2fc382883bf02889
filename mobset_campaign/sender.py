"""Sending a campaign: register, plan, throttle, claim, send, record — at most once per row.

:func:`send` is the whole pipeline for a rendered frame (see ``render``):

1. **Register** each sendable row as a message of the campaign under its row key (see
   :mod:`mobset_campaign.rows`); the same frame sent again — re-read, re-sorted, filtered
   or with rows added — adds nothing. Rows with a
   ``phone_problem``, an opted-out number, an empty text or ``sendable`` false are skipped,
   with the reason counted in the summary.
2. **Resume**: messages an interrupted run left ``claimed`` become ``unknown`` (their request
   may have reached the gateway) and are never re-sent automatically.
3. **Plan** (:mod:`mobset_campaign.plan`): messages with identical text share a request of
   up to ``batch_size`` (≤ 50) numbers; personalised texts go one number per request. No
   request repeats a number.
4. **Check** the sending window (Beijing time) and the balance against the parts needed.
5. **Send** (:mod:`mobset_campaign._engine`) with ``concurrency`` worker threads, each with
   its own ``client.clone()``, a shared token bucket of ``rate`` messages per second, and a
   progress bar. Each worker commits its claim to the ledger *before* its request goes out
   and records the answer right after it.

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

**Several senders per campaign.** Any number of ``send`` runs (processes, hosts, gateway
logins of one enterprise) may share a campaign: each holds a lease
(:mod:`mobset_campaign.ledger.locks`), claims take only rows still pending (row locks with
``SKIP LOCKED`` on PostgreSQL, one claim at a time on SQLite), and the resume step turns
``unknown`` only the claims of runs whose lease holder is gone, never those of a live one.
Senders that start together begin at different points of the plan (:func:`share_out`), so
they rarely race for the same rows; one that reaches rows another has sent reads what is
still pending and moves on to the longest stretch left (:func:`~mobset_campaign.plan.regroup`),
and its summary counts them in ``sent_by_others``. ``resend_unknown`` and ``cancel`` wait for
(or refuse) a campaign being sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ._advice import out_of_range, say
from ._engine import Engine, Options, preflight
from ._i18n import gettext as _
from ._protocol import MAX_IDS_PER_CANCEL, MAX_NUMBERS_PER_SEND, beijing_now
from ._signals import stop_signals
from .codes import describe_error, error_info
from .errors import AuthError, GatewayError, InputError, MobsetError, TransportError
from .ledger import (
    CancelOutcome,
    Ledger,
    PendingMessage,
    default_ledger_path,
    ledger_exists,
)
from .plan import (
    PlannedBatch,
    SendWindow,
    beijing_clock,
    check_batch_size,
    plan_batches,
    share_out,
    timer_send_time,
)
from .rows import FrameRows, assign_messages, phone_key, require_columns, skip_reasons
from .summaries import CancelSummary, SendSummary

__all__ = ["cancel", "resend_unknown", "send"]

_REQUIRED = ("phone", "content", "parts", "sendable")
#: ``rate`` bounds: one message in 1,000 seconds (slower is no campaign, and a pace of 1e-10
#: would overflow the clock's waits) to a million a second (far above any gateway).
MIN_RATE, MAX_RATE = 0.001, 1_000_000
#: Requests in flight at most: each is a thread with its own connection.
MAX_CONCURRENCY = 64


def check_options(
    *,
    campaign: str,
    rate: float | None = None,
    concurrency: int = 4,
    batch_size: int = MAX_NUMBERS_PER_SEND,
    add_num: str | None = None,
    timer_send: str | datetime | None = None,
    quiet_hours: Sequence[object] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> None:
    """InputError for the first parameter of :func:`send` that cannot be used, so that a
    dry run (which sends nothing) refuses what the real run would refuse."""
    if not isinstance(campaign, str) or not campaign.strip():
        raise InputError(
            _("campaign must be a non-empty name, e.g. campaign='2024-spring-promo'.")
        )
    for problem in (
        out_of_range(
            "rate",
            rate,
            MIN_RATE,
            MAX_RATE,
            what="messages per second",
            none_means="for no limit",
        ),
        out_of_range(
            "concurrency",
            concurrency,
            1,
            MAX_CONCURRENCY,
            what="requests in flight",
            integer=True,
        ),
    ):
        if problem:
            raise InputError(problem)
    check_batch_size(batch_size)
    timer_send_time(timer_send, beijing_clock(clock)())
    SendWindow.parse(quiet_hours)
    if add_num is not None and not (str(add_num).isascii() and str(add_num).isdigit()):
        raise InputError(
            _("add_num {value!r} must be digits only (the sender extension).").format(
                value=add_num
            )
        )


def send(
    df: pd.DataFrame,
    client: Any,
    *,
    campaign: str,
    ledger: Ledger | None = None,
    rate: float | None = None,
    concurrency: int = 4,
    batch_size: int = MAX_NUMBERS_PER_SEND,
    timer_send: datetime | str | None = None,
    add_num: str | None = None,
    quiet_hours: Sequence[object] | None = ("08:00", "20:00"),
    wait_for_window: bool = False,
    dry_run: bool = False,
    progress: bool = True,
    long_sms: bool = True,
    one_per_number: bool | None = None,
    wait_for_lock: bool | float = False,
    clock: Callable[[], datetime] | None = None,
) -> SendSummary:
    """Send a rendered frame as a campaign, at most once per number, resumably.

    Args:
        df: a frame from ``render`` (needs ``phone``, ``content``, ``parts``, ``sendable``;
            ``phone_problem`` and ``warnings`` are used when present). Not modified.
        client: a :class:`~mobset_campaign.client.MobsetClient` (``sim.client()`` for a
            rehearsal); may be ``None`` for a dry run (no balance check then).
        campaign: the campaign's name (compared after NFKC and trimming: ``积分１２月 `` is
            ``积分12月``); sending the same frame under the same name again resumes it and
            never sends a row twice. Within a campaign a number gets one message: the other
            rows of that number are skipped as ``duplicate of row N``, whatever the frame's
            history (see :mod:`mobset_campaign.rows`). Rows with a ``phone_problem`` are
            never sent.
        ledger: where state is kept (default ``Ledger()``: ``MOBSET_LEDGER``, else the
            user's data folder, whatever the working folder). The summary names it, and
            says when this send created it.
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
        one_per_number: ``False`` lets a campaign send several *different* texts to one
            number (identical number and text are still sent once). Fixed when the
            campaign is first sent; ``None`` keeps the campaign's choice (one per number
            for a new campaign).
        wait_for_lock: one run per campaign: when another run (a send, resend_unknown or
            cancel, in any process) holds it, wait this many seconds (``True``: as long as
            it takes) instead of raising :class:`~mobset_campaign.errors.CampaignBusyError`.
        clock: what time it is, for the sending window and ``timer_send`` (a function
            returning a datetime; naive = Beijing). Default: the machine's clock. For
            rehearsing a campaign at another hour, and for tests.

    Returns:
        A :class:`~mobset_campaign.summaries.SendSummary`; ``stopped_reason`` is set when
        the run stopped early (see the module docstring) and ``str(summary)`` says what to
        do next.

    Raises:
        InputError: a missing column or a bad parameter, before anything is sent.
        CampaignBusyError: another run holds the campaign (see ``wait_for_lock``).
        LedgerError: the ledger cannot be written.
    """
    check_options(
        campaign=campaign,
        rate=rate,
        concurrency=concurrency,
        batch_size=batch_size,
        add_num=add_num,
        timer_send=timer_send,
        quiet_hours=quiet_hours,
        clock=clock,
    )
    require_columns(df, _REQUIRED, "send")
    read_clock = beijing_clock(clock)
    opts = Options(
        rate,
        concurrency,
        timer_send_time(timer_send, read_clock()),
        add_num,
        bool(long_sms),
        SendWindow.parse(quiet_hours),
        wait_for_window,
        progress,
        clock=read_clock,
    )
    own = ledger is None
    if ledger is None:
        if dry_run and not ledger_exists(default_ledger_path()):
            ledger = Ledger(":memory:")  # a dry run writes nothing, not even an empty ledger
        else:
            ledger = Ledger()
    try:
        mode = _one_per_number(ledger, campaign, one_per_number)
        if dry_run:
            return _send(df, client, campaign, ledger, opts, batch_size, mode, dry_run=True)
        with (
            stop_signals(),
            ledger.campaign_locked(campaign, "send", wait=_lock_wait(wait_for_lock)) as holder,
        ):
            opts.holder = holder
            return _send(df, client, campaign, ledger, opts, batch_size, mode, dry_run=False)
    finally:
        if own:
            ledger.close()


def _lock_wait(wait_for_lock: bool | float) -> float | None:
    """Seconds to wait for the campaign's lock (None: as long as it takes)."""
    if wait_for_lock is True:
        return None
    if wait_for_lock is False:
        return 0.0
    if isinstance(wait_for_lock, int | float) and wait_for_lock >= 0:
        return float(wait_for_lock)
    raise InputError(
        _("wait_for_lock must be True, False or seconds (0 or more), not {value!r}.").format(
            value=wait_for_lock
        )
    )


def _one_per_number(ledger: Ledger, campaign: str, asked: bool | None) -> bool:
    """The campaign's rule: one message per number, unless it was started otherwise."""
    options = ledger.campaign_options(campaign)
    stored = None if options is None else options["one_per_number"]
    if asked is not None and stored is not None and bool(asked) != stored:
        raise InputError(
            _(
                "Campaign {campaign!r} was started with {stored}; a campaign keeps that choice. "
                "Leave {asked} out, or use a new campaign name."
            ).format(
                campaign=campaign,
                stored=say("one_per_number", stored),
                asked=say("one_per_number", asked),
            )
        )
    if asked is not None:
        return bool(asked)
    return True if stored is None else stored


def _send(
    df: pd.DataFrame,
    client: Any,
    campaign: str,
    ledger: Ledger,
    opts: Options,
    batch_size: int,
    one_per_number: bool,
    *,
    dry_run: bool,
) -> SendSummary:
    summary = SendSummary(campaign=campaign, dry_run=dry_run)
    summary.ledger, summary.ledger_created = ledger.path, ledger.created
    rows = FrameRows.of(df)
    first = skip_reasons(df, ledger.suppressed_phones(), rows=rows)
    assignment = assign_messages(
        rows,
        ledger.messages(campaign),
        one_per_number=one_per_number,
        usable=first.sendable.to_numpy(),
    )
    reasons = first.with_duplicates(assignment.duplicate_of)
    usable = np.flatnonzero(reasons.sendable.to_numpy()).tolist()
    parts = df["parts"].tolist()
    # a generator: the ledger reads each row once, so no list of a million tuples is kept
    wanted = (
        (str(assignment.keys[i]), str(rows.phones[i]), rows.texts[i], _parts(parts[i]))
        for i in usable
    )
    if dry_run:
        plan = ledger.plan_registration(campaign, wanted, one_per_number=one_per_number)
        summary.skipped = reasons.refused([usable[i] for i in plan.registered.refused]).groups()
        _plan_into(summary, plan_batches(plan.pending, batch_size))
        summary.counts = ledger.counts(campaign)
        if summary.planned_messages and client is not None:
            try:
                summary.balance = int(client.get_balance())
            except MobsetError as exc:
                summary.stopped_reason = _("could not read the balance: {error}").format(
                    error=exc
                )
            else:
                if summary.balance < summary.planned_parts:
                    summary.stopped_reason = _(
                        "the balance ({balance:,} parts) is {short:,} short of what this send "
                        "needs; a real send would stop before sending anything."
                    ).format(
                        balance=summary.balance, short=summary.planned_parts - summary.balance
                    )
        return summary
    ledger.ensure_campaign(
        campaign,
        add_num=opts.add_num,
        timer_send=None if opts.timer_send is None else opts.timer_send.isoformat(),
        long_sms=opts.long_sms,
        one_per_number=one_per_number,
    )
    ledger.reserve_room()  # room for the answers if the disk fills up while sending
    reg = ledger.register(campaign, wanted, one_per_number=one_per_number)
    summary.skipped = reasons.refused([usable[i] for i in reg.refused]).groups()
    ledger.note_skipped(campaign, summary.skipped)
    summary.registered, summary.updated = reg.new, reg.updated
    summary.changed_after_send = reg.changed_after_send
    summary.recovered_unknown = ledger.recover_claims(campaign, opts.holder)
    ledger.cancel_suppressed(campaign)
    refused = set(reg.refused)
    keys = [key for i, key in enumerate(reg.keys) if i not in refused]
    pending = ledger.pending(campaign, keys)
    summary.not_in_frame = len(ledger.pending(campaign)) - len(pending)
    return _execute(ledger, client, campaign, pending, summary, opts, batch_size)


def _parts(value: object) -> int:
    try:
        n = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise InputError(
            _("send: a sendable row has parts={value!r}; call render() to count parts.").format(
                value=value
            )
        ) from None
    if n < 1:
        raise InputError(
            _("send: a sendable row has parts={value!r}; call render() to count parts.").format(
                value=n
            )
        )
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
    opts: Options,
    batch_size: int,
    *,
    checked: bool = False,
) -> SendSummary:
    batches = plan_batches(pending, batch_size)
    _plan_into(summary, batches)
    holder = opts.holder
    if holder is not None and holder.command == "send":
        tokens = [h.token for h in ledger.holders(campaign) if h.command == "send" and h.alive()]
        if holder.token in tokens:
            batches = share_out(batches, tokens.index(holder.token), len(tokens))
    if batches and (checked or preflight(client, summary, summary.planned_parts, opts)):
        Engine(ledger, client, campaign, summary, opts).run(batches)
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
    batch_size: int = MAX_NUMBERS_PER_SEND,
    quiet_hours: Sequence[object] | None = ("08:00", "20:00"),
    wait_for_window: bool = False,
    progress: bool = True,
    wait_for_lock: bool | float = False,
    clock: Callable[[], datetime] | None = None,
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
    ``timer_send`` already past is dropped (the messages go now). The other parameters are
    those of :func:`send`.

    Returns:
        A :class:`~mobset_campaign.summaries.SendSummary` of the resend (``reset_unknown`` =
        messages moved back to pending and sent).

    Raises:
        InputError: the campaign is not in the ledger, or a bad parameter.
        CampaignBusyError: another run (a send still going, in any process) holds the
            campaign: its requests in flight are not unknown, and would be sent twice.
    """
    check_options(
        campaign=campaign, rate=rate, concurrency=concurrency, batch_size=batch_size, add_num=None
    )
    options = ledger.campaign_options(campaign)
    if options is None:
        raise InputError(
            _("resend_unknown: campaign {campaign!r} is not in {ledger!r}.").format(
                campaign=campaign, ledger=ledger
            )
        )
    stored = options["timer_send"]
    timer = datetime.fromisoformat(stored) if stored else None
    read_clock = beijing_clock(clock)
    if timer is not None and timer <= read_clock():
        timer = None
    opts = Options(
        rate,
        concurrency,
        timer,
        options["add_num"],
        options["long_sms"],
        SendWindow.parse(quiet_hours),
        wait_for_window,
        progress,
        clock=read_clock,
    )
    with (
        stop_signals(),
        ledger.campaign_locked(
            campaign, "resend_unknown", wait=_lock_wait(wait_for_lock)
        ) as holder,
    ):
        opts.holder = holder
        return _resend(campaign, ledger, client, opts, batch_size, phones)


def _resend(
    campaign: str,
    ledger: Ledger,
    client: Any,
    opts: Options,
    batch_size: int,
    phones: Iterable[str] | None,
) -> SendSummary:
    summary = SendSummary(campaign=campaign, ledger=ledger.path)
    ledger.reserve_room()
    summary.recovered_unknown = ledger.recover_claims(campaign, opts.holder)
    wanted = None if phones is None else {phone_key(p) for p in phones}
    frame = ledger.status_frame(campaign)
    chosen = frame[frame["send_state"].eq("unknown")]
    if wanted is not None:
        chosen = chosen[chosen["phone"].isin(wanted)]
    if chosen.empty:
        summary.counts = ledger.counts(campaign)
        return summary
    if not preflight(client, summary, int(chosen["parts"].sum()), opts):
        summary.counts = ledger.counts(campaign)
        return summary
    keys = ledger.reset_unknown(campaign, wanted)
    summary.reset_unknown = len(keys)
    pending = ledger.pending(campaign, keys)
    return _execute(ledger, client, campaign, pending, summary, opts, batch_size, checked=True)


def cancel(
    campaign: str,
    ledger: Ledger,
    client: Any,
    *,
    include_pending: bool = True,
    wait_for_lock: bool | float = False,
) -> CancelSummary:
    """Cancel every still-scheduled message of the campaign (``timer_send`` in the future).

    Sends SmsCancel with at most 50 SmsIds per request and records each id's result:
    Status 1 → ``cancelled``; any other status (e.g. -142: already sent or unknown id)
    leaves the message ``sent`` with the code in the ledger. With ``include_pending``
    (the default) messages not yet sent are marked ``cancelled`` too, so a later
    :func:`send` does not send them.

    Raises:
        InputError: the campaign is not in the ledger.
        CampaignBusyError: another run (a send, in any process) holds the campaign.
    """
    if ledger.campaign_options(campaign) is None:
        raise InputError(
            _("cancel: campaign {campaign!r} is not in {ledger!r}.").format(
                campaign=campaign, ledger=ledger
            )
        )
    with ledger.campaign_locked(campaign, "cancel", wait=_lock_wait(wait_for_lock)):
        return _cancel(campaign, ledger, client, include_pending)


def _cancel(campaign: str, ledger: Ledger, client: Any, include_pending: bool) -> CancelSummary:
    summary = CancelSummary(campaign=campaign)
    now = beijing_now()
    due = [s for s in ledger.scheduled(campaign) if datetime.fromisoformat(s.timer_send) > now]
    summary.requested = len(due)
    for start in range(0, len(due), MAX_IDS_PER_CANCEL):
        chunk = due[start : start + MAX_IDS_PER_CANCEL]
        summary.requests += 1
        try:
            result = client.cancel([s.sms_id for s in chunk])
        except GatewayError as exc:
            ledger.record_cancel([CancelOutcome(s.message_id, exc.code, str(exc)) for s in chunk])
            reason = describe_error(exc.code) if exc.code else type(exc).__name__
            summary.failed[reason] = summary.failed.get(reason, 0) + len(chunk)
            if isinstance(exc, (AuthError, TransportError)):
                summary.stopped_reason = f"{exc}"
                break
            continue
        status = {int(d.sms_id): int(d.status) for d in result.details}
        records: list[CancelOutcome] = []
        for scheduled in chunk:
            got = status.get(scheduled.sms_id)
            if got == 1:
                summary.cancelled += 1
                records.append(CancelOutcome(scheduled.message_id, 1, None))
                continue
            if got is None:
                reason = _("not in the gateway's answer")
                records.append(CancelOutcome(scheduled.message_id, 0, reason))
            else:
                reason = (
                    describe_error(got)
                    if error_info(got)
                    else _("status {status}").format(status=got)
                )
                records.append(CancelOutcome(scheduled.message_id, got, reason))
            summary.failed[reason] = summary.failed.get(reason, 0) + 1
        ledger.record_cancel(records)
    if include_pending and summary.stopped_reason is None:
        summary.pending_cancelled = ledger.cancel_pending(
            campaign, _("cancelled before sending (cancel())")
        )
    return summary
