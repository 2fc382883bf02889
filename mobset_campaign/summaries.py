"""What each step reports, and how it reads: as text in a terminal, as HTML in JupyterLab.

Every result a user looks at is a small dataclass built on :class:`Report`: the words come
from two methods, ``_title()`` and ``_lines()``, and ``str()``, ``repr()`` (the same text, so a
terminal IPython shows the report too) and ``_repr_html_()`` follow from them.

=====================  ==================================================================
:class:`Estimate`      what a rendered campaign will cost (:func:`mobset_campaign.estimate`)
:class:`Preview`       the first messages as the phone shows them (``preview``)
:class:`SendSummary`   what ``send`` / ``resend_unknown`` did
:class:`CancelSummary` what ``cancel`` did
:class:`CollectSummary` what ``collect`` did
=====================  ==================================================================
"""

from __future__ import annotations

import html
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from ._advice import say
from ._money import format_money, format_price
from .segments import bracket_signature
from .states import MESSAGE_STATES

__all__ = [
    "CancelSummary",
    "CollectSummary",
    "Estimate",
    "Line",
    "Preview",
    "PreviewMessage",
    "Report",
    "SendSummary",
    "counted",
]

_RED, _GREEN, _AMBER, _GREY = "#b00020", "#1b5e20", "#8a6d00", "#555"


def _s(n: int, one: str = "", many: str = "s") -> str:
    return one if n == 1 else many


def _some(n: int, noun: str, rest: str) -> list[Line]:
    """``[Line("3 messages <rest>")]``, or no line when ``n`` is 0."""
    return [Line(f"{n:,} {noun}{_s(n)} {rest}")] if n else []


def _ledger_lines(path: str, created: bool) -> list[Line]:
    if not path:
        return []
    if not created:
        return [Line(f"Ledger: {path}")]
    return [
        Line(
            f"Ledger: {path} — a NEW ledger file: if this campaign was sent before, it was "
            f"with another ledger; point at that one ({say('ledger')} or MOBSET_LEDGER).",
            alert=True,
        )
    ]


def counted(counts: dict[str, int]) -> str:
    """``3 duplicate; 1 opted out``: the most common first."""
    return "; ".join(f"{n:,} {what}" for what, n in sorted(counts.items(), key=lambda x: -x[1]))


@dataclass(frozen=True)
class Line:
    """One line of a report: a sentence, or with ``label`` a row of a table. ``alert`` lines
    (a stop, an error) stand out in the notebook."""

    text: str
    label: str = ""
    alert: bool = False


class Report(ABC):
    """The text, repr and HTML of a result, from its ``_title()`` and ``_lines()``; a
    ``stopped_reason`` attribute, when set, ends the report as a ``Stopped:`` line."""

    @abstractmethod
    def _title(self) -> str:
        """The first line: what happened, in one sentence."""

    def _lines(self) -> list[Line]:
        return []

    def _html_banner(self) -> str:
        """HTML shown between the title and the lines (none by default)."""
        return ""

    def _all_lines(self) -> list[Line]:
        lines = self._lines()
        stopped = getattr(self, "stopped_reason", None)
        if stopped:
            lines.append(Line(f"Stopped: {stopped}", alert=True))
        return lines

    def __str__(self) -> str:
        return self._text(self._all_lines())

    def _text(self, lines: list[Line]) -> str:
        width = max((len(line.label) for line in lines if line.label), default=0)
        body = [f"  {x.label.ljust(width)}  {x.text}" if x.label else x.text for x in lines]
        return "\n".join([self._title(), *body])

    def text_and_alerts(self) -> tuple[str, list[str]]:
        """The report without its alert lines (a stop, errors, warnings), and those lines:
        a command line prints the first on stdout and the second on stderr."""
        lines = self._all_lines()
        return (
            self._text([x for x in lines if not x.alert]),
            [x.text for x in lines if x.alert],
        )

    def __repr__(self) -> str:
        # the readable report, also in a terminal IPython or a text export
        return str(self)

    def _repr_html_(self) -> str:
        lines = self._all_lines()
        rows = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(x.label)}</th>"
            f"<td style='text-align:left'>{html.escape(x.text)}</td></tr>"
            for x in lines
            if x.label
        )
        items = "".join(
            f"<li style='color:{_RED}'><b>{html.escape(x.text)}</b></li>"
            if x.alert
            else f"<li>{html.escape(x.text.strip())}</li>"
            for x in lines
            if not x.label
        )
        return (
            f"<div><p><b>{html.escape(self._title())}</b></p>{self._html_banner()}"
            + (f"<table>{rows}</table>" if rows else "")
            + (f"<ul>{items}</ul>" if items else "")
            + "</div>"
        )


# ---------------------------------------------------------------------------- estimate


@dataclass(frozen=True, repr=False)
class Estimate(Report):
    """The cost of a rendered campaign. ``str()`` reads as a report; notebooks show HTML.

    Attributes:
        rows: rows in the frame.
        sendable: messages that will be sent (one per sendable row).
        not_sendable: rows that will not be sent, by reason (``duplicate``, ``opted out``,
            ``not a mainland mobile``, ``empty message``, ``too long``, …).
        total_parts: parts billed for the sendable messages.
        parts_histogram: ``{parts: messages}`` over the sendable messages.
        pushed: sendable messages that take more parts than most (``typical_parts``) only
            because of their personalisation.
        typical_parts: the most common number of parts.
        signature: the signature counted, without brackets; ``None`` when unknown (then
            nothing was counted for it and every message will be longer than shown).
        long_sms: counted as long SMS (the default) or as separate short messages.
        max_chars: the length limit applied.
        price_per_part: the price given, if any, in yuan; ``cost`` is ``total_parts × price``,
            exact (the price's own precision); ``cost_text`` shows it as ``¥1.58``.
        cost: see ``price_per_part``.
        balance: the account's balance in parts, when a client was given.
        warnings: ``{kind: sendable messages}`` for the render warnings.
        notes: sentences about how the estimate was made (unknown signature, recount).
    """

    rows: int
    sendable: int
    not_sendable: dict[str, int]
    total_parts: int
    parts_histogram: dict[int, int]
    pushed: int
    typical_parts: int
    signature: str | None
    long_sms: bool
    max_chars: int
    price_per_part: float | None = None
    cost: float | None = None
    balance: int | None = None
    warnings: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def cost_text(self) -> str | None:
        """The cost as every report shows it, ``¥1,284.50`` (rounded once, to cents);
        ``None`` without a price."""
        return None if self.cost is None else format_money(self.cost)

    def cost_sentence(self) -> str | None:
        """``¥57.78 at ¥0.045 per part`` (``None`` without a price)."""
        if self.cost is None or self.price_per_part is None:
            return None
        return f"{self.cost_text} at {format_price(self.price_per_part)} per part"

    @property
    def shortfall(self) -> int | None:
        """Parts missing from the balance (0 when it is enough); None without a balance."""
        if self.balance is None:
            return None
        return max(self.total_parts - self.balance, 0)

    def balance_sentence(self) -> str | None:
        """``needs 1,284 parts, balance 900: 384 short`` (or ``…: enough, 3,716 left``)."""
        if self.balance is None:
            return None
        head = f"needs {self.total_parts:,} parts, balance {self.balance:,}"
        if self.total_parts > self.balance:
            return f"{head}: {self.total_parts - self.balance:,} short"
        return f"{head}: enough, {self.balance - self.total_parts:,} left"

    def _title(self) -> str:
        return "Campaign estimate"

    def _lines(self) -> list[Line]:
        lines = [
            Line(f"{self.sendable:,} sendable of {self.rows:,} row{_s(self.rows)}", "messages")
        ]
        if self.not_sendable:
            reasons = ", ".join(f"{reason} {n:,}" for reason, n in self.not_sendable.items())
            lines.append(Line(reasons, "not sendable"))
        if self.signature is None:
            lines.append(Line("unknown, not counted", "signature"))
        else:
            sig = bracket_signature(self.signature)
            lines.append(
                Line(f"{sig} ({len(sig)} characters, counted)" if sig else "none", "signature")
            )
        hist = ", ".join(
            f"{n:,} × {p} part{_s(p)}" for p, n in sorted(self.parts_histogram.items())
        )
        mode = "long SMS" if self.long_sms else "separate short messages"
        lines.append(Line(f"{self.total_parts:,} ({hist or 'none'}; {mode})", "parts"))
        if self.pushed:
            lines.append(
                Line(
                    f"{self.pushed:,} message{_s(self.pushed)} take more than "
                    f"{self.typical_parts} part{_s(self.typical_parts)} because of their "
                    "personalisation",
                    "personalisation",
                )
            )
        cost = self.cost_sentence()
        if cost:
            lines.append(Line(cost, "cost"))
        sentence = self.balance_sentence()
        if sentence:
            lines.append(Line(sentence, "balance"))
        for kind, n in self.warnings.items():
            lines.append(Line(f"{kind}: {n:,} message{_s(n)}", "warning"))
        lines += [Line(note, "note") for note in self.notes]
        return lines

    def _html_banner(self) -> str:
        if self.balance is None:
            return ""
        colour = _RED if self.shortfall else _GREEN
        sentence = html.escape(self.balance_sentence() or "")
        return f"<div style='color:{colour};font-weight:bold'>{sentence}</div>"


# ---------------------------------------------------------------------------- preview


@dataclass(frozen=True)
class PreviewMessage:
    """One message as the phone shows it: ``parts`` hold the signature in place."""

    row: int
    phone: str
    parts: list[str]
    chars: int
    status: str
    warnings: str

    def _head(self) -> str:
        n = len(self.parts)
        return f"{self.chars} chars · {n} part{_s(n)}"


@dataclass(frozen=True, repr=False)
class Preview(Report):
    """The first messages of a rendered frame; plain text in a terminal, HTML in a notebook."""

    messages: list[PreviewMessage]
    signature: str | None
    total_rows: int

    def _title(self) -> str:
        return f"{len(self.messages):,} of {self.total_rows:,} messages"

    def __str__(self) -> str:
        blocks = []
        for m in self.messages:
            lines = [f"row {m.row} · {m.phone or '(no number)'} · {m._head()} · {m.status}"]
            if m.warnings:
                lines.append(f"  ! {m.warnings}")
            if not m.parts:
                lines.append("  (empty)")
            if len(m.parts) == 1:
                lines += ["  " + line for line in m.parts[0].split("\n")]
            for k, part in enumerate(m.parts if len(m.parts) > 1 else [], 1):
                lines.append(f"  ┄┄ part {k}/{len(m.parts)} ({len(part)} chars) ┄┄")
                lines += ["  " + line for line in part.split("\n")]
            blocks.append("\n".join(lines))
        more = len(self.messages) < self.total_rows
        tail = f"\n… {self.total_rows - len(self.messages):,} more rows" if more else ""
        if self.signature is None:
            tail += "\n(signature unknown: the phone will also show it)"
        return "\n\n".join(blocks) + tail

    def _repr_html_(self) -> str:
        cards = []
        for m in self.messages:
            colour = _GREEN if m.status == "sendable" else _RED
            parts_html = "".join(
                "<span style='border-right:2px dashed #999;padding-right:2px;margin-right:2px'>"
                f"{html.escape(p).replace(chr(10), '<br>')}</span>"
                if k < len(m.parts) - 1
                else f"<span>{html.escape(p).replace(chr(10), '<br>')}</span>"
                for k, p in enumerate(m.parts)
            )
            warn = (
                f"<div style='color:{_AMBER};font-size:85%'>⚠ {html.escape(m.warnings)}</div>"
                if m.warnings
                else ""
            )
            cards.append(
                "<div style='margin:6px 0;max-width:28em'>"
                f"<div style='font-size:85%;color:{_GREY}'>row {m.row} · "
                f"{html.escape(m.phone or '(no number)')} · {m._head()} · "
                f"<span style='color:{colour}'>{html.escape(m.status)}</span></div>"
                "<div style='background:#e9f5e9;border-radius:10px;padding:6px 10px;"
                f"white-space:normal'>{parts_html or '<i>(empty)</i>'}</div>{warn}</div>"
            )
        more = self.total_rows - len(self.messages)
        tail = f"<div style='color:{_GREY}'>… {more:,} more rows</div>" if more > 0 else ""
        return "<div>" + "".join(cards) + tail + "</div>"


# ---------------------------------------------------------------------------- send


@dataclass(repr=False)
class SendSummary(Report):
    """What a :func:`~mobset_campaign.send` (or ``resend_unknown``) did.

    Attributes:
        campaign: the campaign name.
        counts: the campaign's messages by state after the run (every state, zeros included).
        skipped: rows of the frame not registered, by kind of reason.
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
        reset_unknown: messages ``resend_unknown`` moved back to pending and sent.
        dry_run: nothing was sent or written.
        ledger: the ledger's path; ``ledger_created``: this send created its file.
    """

    campaign: str
    dry_run: bool = False
    ledger: str = ""
    ledger_created: bool = False
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

    def _title(self) -> str:
        if self.dry_run:
            return (
                f"Dry run for campaign {self.campaign!r}: would send {self.planned_messages:,} "
                f"message{_s(self.planned_messages)} ({self.planned_parts:,} parts) in "
                f"{self.planned_batches:,} request{_s(self.planned_batches)}. Nothing was sent "
                "or written."
            )
        if not self.planned_messages and self.stopped_reason is None:
            return (
                f"Campaign {self.campaign!r}: nothing to send — every sendable row of this frame "
                "has already been handled."
            )
        return (
            f"Campaign {self.campaign!r}: {self.accepted:,} accepted, {self.rejected:,} "
            f"rejected, {self.unknown:,} unknown in this run — {self.requests:,} "
            f"request{_s(self.requests)}, {self.parts_billed:,} parts billed, "
            f"{self.elapsed:.1f} s ({self.messages_per_second:,.1f} messages/s)."
        )

    def _lines(self) -> list[Line]:
        lines: list[Line] = _ledger_lines(self.ledger, self.ledger_created and not self.dry_run)
        if self.dry_run and self.balance is not None:
            lines.append(Line(f"Balance: {self.balance:,} parts."))
        if not self.dry_run:
            shown = ", ".join(f"{n:,} {s}" for s, n in self.counts.items() if n)
            lines.append(Line(f"Campaign totals: {shown or 'no messages'}."))
            if self.registered or self.updated:
                lines.append(
                    Line(
                        f"Registered {self.registered:,} new row{_s(self.registered)}"
                        + (
                            f", updated the text of {self.updated:,} pending"
                            if self.updated
                            else ""
                        )
                        + "."
                    )
                )
        if self.skipped:
            total = sum(self.skipped.values())
            lines.append(Line(f"Skipped {total:,} row{_s(total)}: {counted(self.skipped)}."))
        lines += _some(
            self.recovered_unknown,
            "message",
            "claimed by an interrupted run became unknown (they may have been accepted; not "
            "re-sent — see resend_unknown).",
        )
        lines += _some(
            0 if self.dry_run else self.unknown,
            "message",
            "of this run have an unknown outcome and will not be re-sent automatically; wait "
            "for reports, then decide with resend_unknown().",
        )
        lines += _some(
            self.changed_after_send,
            "row",
            "now render a different text than the one already sent; they were not sent again "
            "(use a new campaign name to send a new text).",
        )
        lines += _some(
            self.not_in_frame,
            "pending message",
            "of the campaign are not rows of this frame and were left pending.",
        )
        return lines

    def _html_banner(self) -> str:
        if self.dry_run:
            return ""
        cells = "".join(
            f"<td style='padding:2px 8px'>{html.escape(s)}<br><b>{n:,}</b></td>"
            for s, n in self.counts.items()
        )
        return f"<table><tr>{cells}</tr></table>"


@dataclass(repr=False)
class CancelSummary(Report):
    """What :func:`~mobset_campaign.cancel` did.

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

    def _title(self) -> str:
        return (
            f"Campaign {self.campaign!r}: {self.cancelled:,} of {self.requested:,} scheduled "
            f"message{_s(self.requested)} cancelled in {self.requests:,} request{_s(self.requests)}."
        )

    def _lines(self) -> list[Line]:
        lines: list[Line] = []
        if self.failed:
            lines.append(Line(f"Not cancelled: {counted(self.failed)}."))
        lines += _some(self.pending_cancelled, "message", "not yet sent will not be sent.")
        return lines


# ---------------------------------------------------------------------------- collect


@dataclass(repr=False)
class CollectSummary(Report):
    """What :func:`~mobset_campaign.collect` did.

    Attributes:
        campaign: the campaign waited for (``None``: the whole ledger).
        fetches: SmsGetReport/SmsGetRecv calls made. bodies_recovered: bodies committed by an
            earlier, interrupted collect and parsed now. bodies_imported: bodies an earlier
            collect could not store in the ledger and saved to a file, imported now.
        reports: new reports stored; reports_matched: of which for messages of this ledger;
            reports_unmatched: for SmsIds this ledger did not send.
        replies: new replies stored; opt_outs: numbers newly added to the suppression list.
        errors: the error answers and skipped bad items met (one line each).
        warnings: what may go wrong (reports that would outlive the platform's retention at
            this pace).
        unreadable: items the gateway handed out that could not be read (their raw answers
            stay in the inbox).
        accepted: accepted messages of the campaign; final: of which with a final status;
            ``waiting`` = accepted − final (still without a final status). unsent: messages
            not sent yet (pending, or claimed by a send still going).
        elapsed: seconds. stopped_reason: ``None`` when it ended as asked (drained once, or
            every message final), else why (timeout, interrupted, authentication...).
        ledger: the ledger's path.
    """

    campaign: str | None = None
    ledger: str = ""
    fetches: int = 0
    bodies_recovered: int = 0
    bodies_imported: int = 0
    reports: int = 0
    reports_matched: int = 0
    reports_unmatched: int = 0
    replies: int = 0
    replies_matched: int = 0
    opt_outs: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unreadable: int = 0
    accepted: int = 0
    final: int = 0
    unsent: int = 0
    elapsed: float = 0.0
    stopped_reason: str | None = None

    @property
    def waiting(self) -> int:
        """Accepted messages still without a final status."""
        return self.accepted - self.final

    @property
    def done(self) -> bool:
        """True when every message was sent and every accepted one has a final status."""
        return self.waiting == 0 and self.unsent == 0

    def _title(self) -> str:
        return (
            f"Collected {self.reports:,} report{_s(self.reports)} and {self.replies:,} "
            f"repl{_s(self.replies, 'y', 'ies')} in {self.fetches:,} call"
            f"{_s(self.fetches)} ({self.elapsed:.1f} s)."
        )

    def _lines(self) -> list[Line]:
        what = f"Campaign {self.campaign!r}" if self.campaign else "The ledger"
        lines = [
            Line(
                f"{what}: {self.final:,} of {self.accepted:,} accepted "
                f"message{_s(self.accepted)} have a final status"
                + (f"; {self.waiting:,} still without one." if self.waiting else ".")
            )
        ]
        lines += _some(
            self.reports_unmatched,
            "report",
            "for SmsIds this ledger did not send were kept (Ledger.reports_frame(unmatched=True)).",
        )
        lines += _some(self.opt_outs, "number", "opted out and will be skipped from now on.")
        lines += _some(
            self.unsent,
            "message",
            "not sent yet (pending, or a send is still going): the campaign is not final.",
        )
        lines += _some(
            self.unreadable,
            "item",
            "handed out by the gateway could not be read (the raw answers stay in the inbox).",
        )
        if self.bodies_recovered:
            n = self.bodies_recovered
            lines.append(
                Line(f"Parsed {n:,} bod{_s(n, 'y', 'ies')} left by an interrupted collect.")
            )
        if self.bodies_imported:
            n = self.bodies_imported
            lines.append(
                Line(
                    f"Imported {n:,} bod{_s(n, 'y', 'ies')} saved to a file when the ledger could "
                    "not be written."
                )
            )
        lines += _ledger_lines(self.ledger, False)
        lines += [Line(f"Warning: {w}", alert=True) for w in self.warnings]
        lines += [Line(f"Error: {err}", alert=True) for err in self.errors[:5]]
        if len(self.errors) > 5:
            lines.append(Line(f"... and {len(self.errors) - 5} more errors.", alert=True))
        return lines
