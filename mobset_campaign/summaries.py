"""What each step reports, and how it reads: as text in a terminal, as HTML in JupyterLab.

Every result a user looks at is a small dataclass built on :class:`Report`
(:mod:`mobset_campaign.report`): the words come from two methods, ``_title()`` and
``_lines()``, in the language of messages when the report is shown, and ``str()``, ``repr()``
and ``_repr_html_()`` follow from them.

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
from dataclasses import dataclass, field

from ._i18n import N_, current_language, ngettext
from ._i18n import gettext as _
from ._money import format_money, format_price
from .after_send import CancelSummary, CollectSummary
from .report import (
    AMBER,
    GREEN,
    GREY,
    RED,
    Line,
    Report,
    counted,
    ledger_lines,
    listed,
    state_cells,
)
from .report_labels import skip_kind_label
from .segments import bracket_signature
from .states import MESSAGE_STATES, state_label

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

#: The row labels of an estimate (English message ids, translated where shown).
_MESSAGES, _NOT_SENDABLE, _SIGNATURE, _PARTS = (
    N_("messages"),
    N_("not sendable"),
    N_("signature"),
    N_("parts"),
)
_PERSONALISATION, _COST, _BALANCE = N_("personalisation"), N_("cost"), N_("balance")
_WARNING, _NOTE = N_("warning"), N_("note")


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
        return _("{cost} at {price} per part").format(
            cost=self.cost_text, price=format_price(self.price_per_part)
        )

    @property
    def shortfall(self) -> int | None:
        """Parts missing from the balance (0 when it is enough); None without a balance."""
        if self.balance is None:
            return None
        return max(self.total_parts - self.balance, 0)

    def balance_sentence(self) -> str | None:
        """``needs 1,284 parts, balance 900: 384 short`` (or ``…: enough, 3,716 left``); the
        balance is counted in parts (条), as the gateway bills."""
        if self.balance is None:
            return None
        if self.total_parts > self.balance:
            return _("needs {needed:,} parts, balance {balance:,}: {short:,} short").format(
                needed=self.total_parts, balance=self.balance, short=self.total_parts - self.balance
            )
        return _("needs {needed:,} parts, balance {balance:,}: enough, {left:,} left").format(
            needed=self.total_parts, balance=self.balance, left=self.balance - self.total_parts
        )

    def _title(self) -> str:
        return _("Campaign estimate")

    def _parts_text(self) -> str:
        """``35 (35 × 1 part)``; with a message of several parts, how they are counted
        (``…; long SMS``)."""
        histogram = listed(
            ngettext("{n:,} × {parts} part", "{n:,} × {parts} parts", p).format(n=n, parts=p)
            for p, n in sorted(self.parts_histogram.items())
        ) or _("none")
        if not any(p > 1 for p in self.parts_histogram):
            return _("{total:,} ({histogram})").format(total=self.total_parts, histogram=histogram)
        if self.long_sms:
            said = _("{total:,} ({histogram}; long SMS)")
        else:
            said = _("{total:,} ({histogram}; separate short messages)")
        return said.format(total=self.total_parts, histogram=histogram)

    def _lines(self) -> list[Line]:
        lines = [
            Line(
                ngettext(
                    "{sendable:,} sendable of {rows:,} row",
                    "{sendable:,} sendable of {rows:,} rows",
                    self.rows,
                ).format(sendable=self.sendable, rows=self.rows),
                _(_MESSAGES),
            )
        ]
        if self.not_sendable:
            reasons = listed(
                f"{skip_kind_label(reason, _words())} {n:,}"
                for reason, n in self.not_sendable.items()
            )
            lines.append(Line(reasons, _(_NOT_SENDABLE)))
        if self.signature is None:
            lines.append(Line(_("unknown, not counted"), _(_SIGNATURE)))
        else:
            sig = bracket_signature(self.signature)
            said = (
                _("{signature} ({n} characters, counted)").format(signature=sig, n=len(sig))
                if sig
                else _("none")
            )
            lines.append(Line(said, _(_SIGNATURE)))
        lines.append(Line(self._parts_text(), _(_PARTS)))
        if self.pushed:
            more_than = ngettext("{n} part", "{n} parts", self.typical_parts).format(
                n=self.typical_parts
            )
            lines.append(
                Line(
                    ngettext(
                        "{n:,} message takes more than {parts} because of its personalisation",
                        "{n:,} messages take more than {parts} because of their personalisation",
                        self.pushed,
                    ).format(n=self.pushed, parts=more_than),
                    _(_PERSONALISATION),
                )
            )
        cost = self.cost_sentence()
        if cost:
            lines.append(Line(cost, _(_COST)))
        sentence = self.balance_sentence()
        if sentence:
            lines.append(Line(sentence, _(_BALANCE)))
        for kind, n in self.warnings.items():
            said = ngettext("{kind}: {n:,} message", "{kind}: {n:,} messages", n)
            lines.append(Line(said.format(kind=_(kind), n=n), _(_WARNING)))
        lines += [Line(note, _(_NOTE)) for note in self.notes]
        return lines

    def _html_lines(self) -> list[Line]:
        # the banner says the balance sentence: not a second time in the table
        sentence = self.balance_sentence()
        return [x for x in self._all_lines() if sentence is None or x.text != sentence]

    def _html_banner(self) -> str:
        if self.balance is None:
            return ""
        colour = RED if self.shortfall else GREEN
        sentence = html.escape(self.balance_sentence() or "")
        return f"<div style='color:{colour};font-weight:bold'>{sentence}</div>"


def _words() -> str:
    """The label language of a kind of skip reason in a report: the language of messages."""
    return "zh" if current_language() == "zh" else "en"


# ---------------------------------------------------------------------------- preview


@dataclass(frozen=True)
class PreviewMessage:
    """One message as the phone shows it: ``parts`` hold the signature in place; ``status``
    says whether it is sent (``sendable``, or ``not sent: <why>``); ``sendable`` is the same
    as a flag."""

    row: int
    phone: str
    parts: list[str]
    chars: int
    status: str
    warnings: str
    sendable: bool = True

    def _head(self) -> str:
        n = len(self.parts)
        return ngettext("{chars} chars · {n} part", "{chars} chars · {n} parts", n).format(
            chars=self.chars, n=n
        )

    def _where(self) -> str:
        return _("row {row}").format(row=self.row)


@dataclass(frozen=True, repr=False)
class Preview(Report):
    """The first messages of a rendered frame; plain text in a terminal, HTML in a notebook."""

    messages: list[PreviewMessage]
    signature: str | None
    total_rows: int

    def _title(self) -> str:
        return _("{shown:,} of {total:,} messages").format(
            shown=len(self.messages), total=self.total_rows
        )

    def _more(self) -> str:
        more = self.total_rows - len(self.messages)
        return ngettext("… {n:,} more row", "… {n:,} more rows", more).format(n=more)

    def __str__(self) -> str:
        blocks = []
        for m in self.messages:
            phone = m.phone or _("(no number)")
            lines = [f"{m._where()} · {phone} · {m._head()} · {m.status}"]
            if m.warnings:
                lines.append(f"  ! {m.warnings}")
            if not m.parts:
                lines.append("  " + _("(empty)"))
            if len(m.parts) == 1:
                lines += ["  " + line for line in m.parts[0].split("\n")]
            for k, part in enumerate(m.parts if len(m.parts) > 1 else [], 1):
                said = _("┄┄ part {k}/{n} ({chars} chars) ┄┄")
                lines.append("  " + said.format(k=k, n=len(m.parts), chars=len(part)))
                lines += ["  " + line for line in part.split("\n")]
            blocks.append("\n".join(lines))
        more = len(self.messages) < self.total_rows
        tail = "\n" + self._more() if more else ""
        if self.signature is None:
            tail += "\n" + _("(signature unknown: the phone will also show it)")
        return "\n\n".join(blocks) + tail

    def _repr_html_(self) -> str:
        cards = []
        for m in self.messages:
            colour = GREEN if m.sendable else RED
            parts_html = "".join(
                "<span style='border-right:2px dashed #999;padding-right:2px;margin-right:2px'>"
                f"{html.escape(p).replace(chr(10), '<br>')}</span>"
                if k < len(m.parts) - 1
                else f"<span>{html.escape(p).replace(chr(10), '<br>')}</span>"
                for k, p in enumerate(m.parts)
            )
            warn = (
                f"<div style='color:{AMBER};font-size:85%'>⚠ {html.escape(m.warnings)}</div>"
                if m.warnings
                else ""
            )
            empty = html.escape(_("(empty)"))
            phone = html.escape(m.phone or _("(no number)"))
            cards.append(
                "<div style='margin:6px 0;max-width:28em'>"
                f"<div style='font-size:85%;color:{GREY}'>{html.escape(m._where())} · "
                f"{phone} · {html.escape(m._head())} · "
                f"<span style='color:{colour}'>{html.escape(m.status)}</span></div>"
                "<div style='background:#e9f5e9;border-radius:10px;padding:6px 10px;"
                f"white-space:normal'>{parts_html or f'<i>{empty}</i>'}</div>{warn}</div>"
            )
        more = self.total_rows - len(self.messages)
        tail = f"<div style='color:{GREY}'>{html.escape(self._more())}</div>" if more > 0 else ""
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
        sent_by_others: messages of this run's plan that another sender of the campaign
            claimed first (several senders share a campaign; none is sent twice). Counted
            by whole requests: of a request partly taken, this run sends the rest.
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
    sent_by_others: int = 0

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
        requests = ngettext("{n:,} request", "{n:,} requests", self.requests)
        if self.dry_run:
            batches = ngettext("{n:,} request", "{n:,} requests", self.planned_batches)
            messages = ngettext("{n:,} message", "{n:,} messages", self.planned_messages)
            return _(
                "Dry run for campaign {campaign!r}: would send {messages} ({parts:,} parts) in "
                "{requests}. Nothing was sent or written."
            ).format(
                campaign=self.campaign,
                messages=messages.format(n=self.planned_messages),
                parts=self.planned_parts,
                requests=batches.format(n=self.planned_batches),
            )
        if not self.planned_messages and self.stopped_reason is None:
            return _(
                "Campaign {campaign!r}: nothing to send — every sendable row of this frame "
                "has already been handled."
            ).format(campaign=self.campaign)
        return _(
            "Campaign {campaign!r}: {accepted:,} accepted, {rejected:,} rejected, {unknown:,} "
            "unknown in this run — {requests}, {parts:,} parts billed, {elapsed:.1f} s "
            "({rate:,.1f} messages/s)."
        ).format(
            campaign=self.campaign,
            accepted=self.accepted,
            rejected=self.rejected,
            unknown=self.unknown,
            requests=requests.format(n=self.requests),
            parts=self.parts_billed,
            elapsed=self.elapsed,
            rate=self.messages_per_second,
        )

    def _lines(self) -> list[Line]:
        lines: list[Line] = ledger_lines(self.ledger, self.ledger_created and not self.dry_run)
        if self.dry_run and self.balance is not None:
            lines.append(Line(_("Balance: {balance:,} parts.").format(balance=self.balance)))
        if not self.dry_run:
            shown = listed(
                _("{n:,} {what}").format(n=n, what=state_label(s))
                for s, n in self.counts.items()
                if n
            )
            said = (
                _("Campaign totals: {counts}.").format(counts=shown)
                if shown
                else _("Campaign totals: no messages.")
            )
            lines.append(Line(said))
            if self.registered and self.updated:
                said = ngettext(
                    "Registered {n:,} new row, updated the text of {updated:,} pending.",
                    "Registered {n:,} new rows, updated the text of {updated:,} pending.",
                    self.registered,
                )
                lines.append(Line(said.format(n=self.registered, updated=self.updated)))
            elif self.registered or self.updated:
                said = ngettext(
                    "Registered {n:,} new row.", "Registered {n:,} new rows.", self.registered
                )
                if self.updated:
                    said = _("Updated the text of {updated:,} pending.")
                lines.append(Line(said.format(n=self.registered, updated=self.updated)))
        if self.skipped:
            total = sum(self.skipped.values())
            said = ngettext(
                "Skipped {n:,} row: {reasons}.", "Skipped {n:,} rows: {reasons}.", total
            )
            lines.append(Line(said.format(n=total, reasons=counted(self.skipped))))
        if self.recovered_unknown:
            said = ngettext(
                "{n:,} message claimed by an interrupted run became unknown (it may have been "
                "accepted; not re-sent — see resend_unknown).",
                "{n:,} messages claimed by an interrupted run became unknown (they may have been "
                "accepted; not re-sent — see resend_unknown).",
                self.recovered_unknown,
            )
            lines.append(Line(said.format(n=self.recovered_unknown)))
        if self.unknown and not self.dry_run:
            said = ngettext(
                "{n:,} message of this run has an unknown outcome and will not be re-sent "
                "automatically; wait for reports, then decide with resend_unknown().",
                "{n:,} messages of this run have an unknown outcome and will not be re-sent "
                "automatically; wait for reports, then decide with resend_unknown().",
                self.unknown,
            )
            lines.append(Line(said.format(n=self.unknown)))
        if self.changed_after_send:
            said = ngettext(
                "{n:,} row now renders a different text than the one already sent; it was not "
                "sent again (use a new campaign name to send a new text).",
                "{n:,} rows now render a different text than the one already sent; they were not "
                "sent again (use a new campaign name to send a new text).",
                self.changed_after_send,
            )
            lines.append(Line(said.format(n=self.changed_after_send)))
        if self.sent_by_others:
            said = ngettext(
                "{n:,} message of this run's plan was claimed first by another sender of the "
                "campaign (each is sent once).",
                "{n:,} messages of this run's plan were claimed first by other senders of the "
                "campaign (each is sent once).",
                self.sent_by_others,
            )
            lines.append(Line(said.format(n=self.sent_by_others)))
        if self.not_in_frame:
            said = ngettext(
                "{n:,} pending message of the campaign is not a row of this frame and was left "
                "pending.",
                "{n:,} pending messages of the campaign are not rows of this frame and were left "
                "pending.",
                self.not_in_frame,
            )
            lines.append(Line(said.format(n=self.not_in_frame)))
        return lines

    def _html_banner(self) -> str:
        if self.dry_run:
            return ""
        return f"<table><tr>{state_cells(self.counts)}</tr></table>"
