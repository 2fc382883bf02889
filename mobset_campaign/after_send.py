"""What ``cancel`` and ``collect`` report (:class:`CancelSummary`, :class:`CollectSummary`),
as text and HTML (:mod:`mobset_campaign.report`); :mod:`mobset_campaign.summaries` has them
with the other reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._i18n import gettext as _
from ._i18n import ngettext
from .report import Line, Report, counted, ledger_lines

__all__ = ["CancelSummary", "CollectSummary"]


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
        scheduled = ngettext(
            "{n:,} scheduled message", "{n:,} scheduled messages", self.requested
        ).format(n=self.requested)
        requests = ngettext("{n:,} request", "{n:,} requests", self.requests).format(
            n=self.requests
        )
        return _(
            "Campaign {campaign!r}: {cancelled:,} of {scheduled} cancelled in {requests}."
        ).format(
            campaign=self.campaign, cancelled=self.cancelled, scheduled=scheduled, requests=requests
        )

    def _lines(self) -> list[Line]:
        lines: list[Line] = []
        if self.failed:
            lines.append(Line(_("Not cancelled: {reasons}.").format(reasons=counted(self.failed))))
        if self.pending_cancelled:
            said = ngettext(
                "{n:,} message not yet sent will not be sent.",
                "{n:,} messages not yet sent will not be sent.",
                self.pending_cancelled,
            )
            lines.append(Line(said.format(n=self.pending_cancelled)))
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
        reports = ngettext("{n:,} report", "{n:,} reports", self.reports)
        replies = ngettext("{n:,} reply", "{n:,} replies", self.replies)
        calls = ngettext("{n:,} call", "{n:,} calls", self.fetches)
        return _("Collected {reports} and {replies} in {calls} ({elapsed:.1f} s).").format(
            reports=reports.format(n=self.reports),
            replies=replies.format(n=self.replies),
            calls=calls.format(n=self.fetches),
            elapsed=self.elapsed,
        )

    def _final_line(self) -> Line:
        n = self.accepted
        if self.campaign and self.waiting:
            said = ngettext(
                "Campaign {campaign!r}: {final:,} of {n:,} accepted message have a final status; "
                "{waiting:,} still without one.",
                "Campaign {campaign!r}: {final:,} of {n:,} accepted messages have a final "
                "status; {waiting:,} still without one.",
                n,
            )
        elif self.campaign:
            said = ngettext(
                "Campaign {campaign!r}: {final:,} of {n:,} accepted message have a final status.",
                "Campaign {campaign!r}: {final:,} of {n:,} accepted messages have a final status.",
                n,
            )
        elif self.waiting:
            said = ngettext(
                "The ledger: {final:,} of {n:,} accepted message have a final status; "
                "{waiting:,} still without one.",
                "The ledger: {final:,} of {n:,} accepted messages have a final status; "
                "{waiting:,} still without one.",
                n,
            )
        else:
            said = ngettext(
                "The ledger: {final:,} of {n:,} accepted message have a final status.",
                "The ledger: {final:,} of {n:,} accepted messages have a final status.",
                n,
            )
        return Line(
            said.format(campaign=self.campaign, final=self.final, n=n, waiting=self.waiting)
        )

    def _lines(self) -> list[Line]:
        lines = [self._final_line()]
        counts = (
            (
                self.reports_unmatched,
                ngettext(
                    "{n:,} report for SmsIds this ledger did not send was kept "
                    "(Ledger.reports_frame(unmatched=True)).",
                    "{n:,} reports for SmsIds this ledger did not send were kept "
                    "(Ledger.reports_frame(unmatched=True)).",
                    self.reports_unmatched,
                ),
            ),
            (
                self.opt_outs,
                ngettext(
                    "{n:,} number opted out and will be skipped from now on.",
                    "{n:,} numbers opted out and will be skipped from now on.",
                    self.opt_outs,
                ),
            ),
            (
                self.unsent,
                ngettext(
                    "{n:,} message not sent yet (pending, or a send is still going): the "
                    "campaign is not final.",
                    "{n:,} messages not sent yet (pending, or a send is still going): the "
                    "campaign is not final.",
                    self.unsent,
                ),
            ),
            (
                self.unreadable,
                ngettext(
                    "{n:,} item handed out by the gateway could not be read (the raw answers "
                    "stay in the inbox).",
                    "{n:,} items handed out by the gateway could not be read (the raw answers "
                    "stay in the inbox).",
                    self.unreadable,
                ),
            ),
            (
                self.bodies_recovered,
                ngettext(
                    "Parsed {n:,} body left by an interrupted collect.",
                    "Parsed {n:,} bodies left by an interrupted collect.",
                    self.bodies_recovered,
                ),
            ),
            (
                self.bodies_imported,
                ngettext(
                    "Imported {n:,} body saved to a file when the ledger could not be written.",
                    "Imported {n:,} bodies saved to a file when the ledger could not be written.",
                    self.bodies_imported,
                ),
            ),
        )
        lines += [Line(said.format(n=n)) for n, said in counts if n]
        lines += ledger_lines(self.ledger, False)
        lines += [
            Line(_("Warning: {warning}").format(warning=w), alert=True) for w in self.warnings
        ]
        lines += [
            Line(_("Error: {error}").format(error=err), alert=True) for err in self.errors[:5]
        ]
        if len(self.errors) > 5:
            more = len(self.errors) - 5
            said = ngettext("... and {n} more error.", "... and {n} more errors.", more)
            lines.append(Line(said.format(n=more), alert=True))
        return lines
