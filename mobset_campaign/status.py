"""A campaign's status at a glance: counts by state and delivery status, rates, replies.

:func:`campaign_status` reads the ledger (nothing goes to the gateway) and returns a
:class:`CampaignStatus` that prints as a short report in a terminal and as a table in
JupyterLab. Rates are shares of the accepted messages: delivered, failed, and undetermined
(final status 15) apart.

>>> from mobset_campaign import Ledger
>>> with Ledger(":memory:") as ledger:
...     print(campaign_status(ledger, "nothing-yet"))
Campaign 'nothing-yet': no messages in the ledger yet.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from ._i18n import N_, format_moment
from ._i18n import gettext as _
from .ledger import Ledger
from .report import Line, Report, counted
from .states import ACCEPTED_STATES, MESSAGE_STATES, state_label, state_meaning

#: What a status calls accepted messages without a report yet (data: ``by_status``'s key).
NO_REPORT_YET = N_("no report yet")

__all__ = ["NO_REPORT_YET", "CampaignStatus", "campaign_status"]


@dataclass(frozen=True, repr=False)
class CampaignStatus(Report):
    """Where a campaign stands, from the ledger (:func:`mobset_campaign.campaign_status`).

    Attributes:
        campaign: the campaign's name.
        messages: messages registered for it.
        by_state: messages per send state (pending, sent, delivered, failed, undetermined …).
        by_status: accepted messages per last delivery status (``"12 接收成功 (delivered)"``),
            with ``"no report yet"`` for those without one.
        parts: parts of the accepted messages (what the gateway billed).
        replies: replies attributed to the campaign; ``opted_out``: numbers that opted out.
        first_sent, last_report: the first acceptance and the latest report (Beijing time).
        skipped: the rows the last send skipped, by kind of reason (duplicates of a number
            that has its message, opted out, no valid number …).
    """

    campaign: str
    messages: int
    by_state: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    parts: int = 0
    replies: int = 0
    opted_out: int = 0
    first_sent: datetime | None = None
    last_report: datetime | None = None
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        """Messages the gateway accepted (sent, delivered, failed or undetermined)."""
        return sum(self.by_state.get(s, 0) for s in ACCEPTED_STATES)

    def _share(self, state: str) -> float | None:
        return self.by_state.get(state, 0) / self.accepted if self.accepted else None

    @property
    def waiting(self) -> int:
        """Accepted messages still without a final status."""
        return self.by_state.get("sent", 0)

    @property
    def delivery_rate(self) -> float | None:
        """Delivered / accepted, or None before anything was accepted."""
        return self._share("delivered")

    @property
    def failure_rate(self) -> float | None:
        """Failed / accepted (status 15 is not a failure: see :attr:`undetermined_rate`)."""
        return self._share("failed")

    @property
    def undetermined_rate(self) -> float | None:
        """Undetermined (final status 15, 未知状态) / accepted."""
        return self._share("undetermined")

    def _title(self) -> str:
        if not self.messages:
            return _("Campaign {campaign!r}: no messages in the ledger yet.").format(
                campaign=self.campaign
            )
        return _("Campaign {campaign!r}").format(campaign=self.campaign)

    def _lines(self) -> list[Line]:
        if not self.messages:
            return []
        lines = [Line(f"{self.messages:,}", _("messages"))]
        lines += [
            Line(f"{n:,}", state_label(state), hint=state_meaning(state))
            for state, n in self.by_state.items()
            if n
        ]
        if self.accepted:
            rate = self.delivery_rate or 0.0
            lines.append(
                Line(
                    _("{rate:.1%} of {accepted:,} accepted").format(
                        rate=rate, accepted=self.accepted
                    ),
                    _("delivery rate"),
                )
            )
            lines.append(Line(f"{self.failure_rate or 0.0:.1%}", _("failure rate")))
            if self.by_state.get("undetermined"):
                said = _("{rate:.1%} (status 15)").format(rate=self.undetermined_rate or 0.0)
                lines.append(Line(said, _("undetermined"), hint=state_meaning("undetermined")))
            lines.append(Line(f"{self.parts:,}", _("parts billed")))
        if self.waiting:
            lines.append(Line(f"{self.waiting:,}", _("waiting for a report")))
        said = _("{replies:,} ({opted_out:,} opted out)")
        lines.append(
            Line(said.format(replies=self.replies, opted_out=self.opted_out), _("replies"))
        )
        if self.first_sent is not None:
            lines.append(Line(format_moment(self.first_sent), _("first sent")))
        if self.last_report is not None:
            lines.append(Line(format_moment(self.last_report), _("last report")))
        if self.skipped:
            lines.append(Line(counted(self.skipped), _("skipped rows")))
        if self.by_status:
            lines.append(Line("  " + _("delivery statuses:")))
            no_report = _(NO_REPORT_YET)
            lines += [
                Line(f"    {n:>6,}  {no_report if text == NO_REPORT_YET else text}")
                for text, n in self.by_status.items()
            ]
        return lines

    def _html_footer(self) -> str:
        """A legend: what each state the status counts means."""
        shown = [s for s, n in self.by_state.items() if n]
        if not shown:
            return ""
        items = "".join(
            "<li>"
            + _("{state}: {meaning}").format(
                state=f"<b>{html.escape(state_label(s))}</b>", meaning=html.escape(state_meaning(s))
            )
            + "</li>"
            for s in shown
        )
        legend = html.escape(_("What the states mean"))
        return (
            f"<details style='font-size:90%'><summary>{legend}</summary><ul>{items}</ul></details>"
        )


def _moment(values: pd.Series, pick: str) -> datetime | None:
    values = values.dropna()
    if values.empty:
        return None
    return (values.max() if pick == "last" else values.min()).to_pydatetime()


def campaign_status(ledger: Ledger, campaign: str) -> CampaignStatus:
    """The status of ``campaign`` as recorded in ``ledger`` (no request to the gateway)."""
    frame = ledger.status_frame(campaign)
    if frame.empty:
        return CampaignStatus(campaign=campaign, messages=0)
    counts = frame["send_state"].value_counts()
    by_state = {s: int(counts[s]) for s in MESSAGE_STATES if s in counts.index}
    accepted = frame[frame["send_state"].isin(ACCEPTED_STATES)]
    by_status = accepted["status_text"].fillna(NO_REPORT_YET).value_counts()
    return CampaignStatus(
        campaign=campaign,
        messages=len(frame),
        by_state=by_state,
        by_status={str(k): int(v) for k, v in by_status.items()},
        parts=int(pd.to_numeric(accepted["parts"], errors="coerce").fillna(0).sum()),
        replies=len(ledger.replies_frame(campaign)),
        opted_out=int(frame["opted_out"].fillna(False).astype(bool).sum()),
        first_sent=_moment(frame["sent_time"], "first"),
        last_report=_moment(frame["report_time"], "last"),
        skipped=ledger.last_skipped(campaign),
    )
