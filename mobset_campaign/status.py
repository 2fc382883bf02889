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

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from .ledger import Ledger
from .states import ACCEPTED_STATES, MESSAGE_STATES
from .summaries import Line, Report, counted

__all__ = ["CampaignStatus", "campaign_status"]


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
            return f"Campaign {self.campaign!r}: no messages in the ledger yet."
        return f"Campaign {self.campaign!r}"

    def _lines(self) -> list[Line]:
        if not self.messages:
            return []
        lines = [Line(f"{self.messages:,}", "messages")]
        lines += [Line(f"{n:,}", state) for state, n in self.by_state.items() if n]
        if self.accepted:
            rate = self.delivery_rate or 0.0
            lines.append(Line(f"{rate:.1%} of {self.accepted:,} accepted", "delivery rate"))
            lines.append(Line(f"{self.failure_rate or 0.0:.1%}", "failure rate"))
            if self.by_state.get("undetermined"):
                lines.append(
                    Line(f"{self.undetermined_rate or 0.0:.1%} (status 15)", "undetermined")
                )
            lines.append(Line(f"{self.parts:,}", "parts billed"))
        if self.waiting:
            lines.append(Line(f"{self.waiting:,}", "waiting for a report"))
        lines.append(Line(f"{self.replies:,} ({self.opted_out:,} opted out)", "replies"))
        if self.first_sent is not None:
            lines.append(Line(f"{self.first_sent:%Y-%m-%d %H:%M:%S}", "first sent"))
        if self.last_report is not None:
            lines.append(Line(f"{self.last_report:%Y-%m-%d %H:%M:%S}", "last report"))
        if self.skipped:
            lines.append(Line(counted(self.skipped), "skipped rows"))
        if self.by_status:
            lines.append(Line("  delivery statuses:"))
            lines += [Line(f"    {n:>6,}  {text}") for text, n in self.by_status.items()]
        return lines


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
    by_status = accepted["status_text"].fillna("no report yet").value_counts()
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
