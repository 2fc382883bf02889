"""A campaign's status at a glance: counts by state and delivery status, rates, replies.

:func:`campaign_status` reads the ledger (nothing goes to the gateway) and returns a
:class:`CampaignStatus` that prints as a short report in a terminal and as a table in
JupyterLab. ``Ledger.status(campaign)`` is the same call.

>>> from mobset_campaign import Ledger
>>> with Ledger(":memory:") as ledger:
...     print(campaign_status(ledger, "nothing-yet"))
Campaign 'nothing-yet': no messages in the ledger yet.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from .ledger import Ledger

__all__ = ["ACCEPTED_STATES", "CampaignStatus", "campaign_status"]

#: States of a message the gateway accepted (it has an SmsId).
ACCEPTED_STATES = ("sent", "delivered", "failed")

_STATE_ORDER = (
    "pending",
    "claimed",
    "sent",
    "delivered",
    "failed",
    "rejected",
    "unknown",
    "cancelled",
)


@dataclass(frozen=True)
class CampaignStatus:
    """Where a campaign stands, from the ledger.

    Attributes:
        campaign: the campaign's name.
        messages: messages registered for it.
        by_state: messages per send state (pending, sent, delivered, failed, ...).
        by_status: accepted messages per last delivery status (``"12 接收成功 (delivered)"``),
            with ``"no report yet"`` for those without one.
        parts: parts of the accepted messages (what the gateway billed).
        replies: replies attributed to the campaign; ``opted_out``: numbers that opted out.
        first_sent, last_report: the first acceptance and the latest report (Beijing time).
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

    @property
    def accepted(self) -> int:
        """Messages the gateway accepted (sent, delivered or failed)."""
        return sum(self.by_state.get(s, 0) for s in ACCEPTED_STATES)

    @property
    def waiting(self) -> int:
        """Accepted messages still without a final status."""
        return self.by_state.get("sent", 0)

    @property
    def delivery_rate(self) -> float | None:
        """Delivered / accepted, or None before anything was accepted."""
        return self.by_state.get("delivered", 0) / self.accepted if self.accepted else None

    def _rows(self) -> list[tuple[str, str]]:
        rows = [("messages", f"{self.messages:,}")]
        rows += [(state, f"{n:,}") for state, n in self.by_state.items() if n]
        if self.accepted:
            rate = self.delivery_rate or 0.0
            rows.append(("delivery rate", f"{rate:.1%} of {self.accepted:,} accepted"))
            rows.append(("parts billed", f"{self.parts:,}"))
        if self.waiting:
            rows.append(("waiting for a report", f"{self.waiting:,}"))
        rows.append(("replies", f"{self.replies:,} ({self.opted_out:,} opted out)"))
        if self.first_sent is not None:
            rows.append(("first sent", f"{self.first_sent:%Y-%m-%d %H:%M:%S}"))
        if self.last_report is not None:
            rows.append(("last report", f"{self.last_report:%Y-%m-%d %H:%M:%S}"))
        return rows

    def __str__(self) -> str:
        if not self.messages:
            return f"Campaign {self.campaign!r}: no messages in the ledger yet."
        width = max(len(k) for k, _ in self._rows())
        lines = [f"Campaign {self.campaign!r}"]
        lines += [f"  {k:<{width}}  {v}" for k, v in self._rows()]
        if self.by_status:
            lines.append("  delivery statuses:")
            lines += [f"    {n:>6,}  {text}" for text, n in self.by_status.items()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        if not self.messages:
            return f"<p>{html.escape(str(self))}</p>"
        rows = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self._rows()
        )
        statuses = "".join(
            f"<tr><td style='text-align:right'>{n:,}</td><td style='text-align:left'>{html.escape(t)}</td></tr>"
            for t, n in self.by_status.items()
        )
        extra = f"<table><caption>delivery statuses</caption>{statuses}</table>" if statuses else ""
        return (
            f"<div><b>Campaign {html.escape(self.campaign)}</b><table>{rows}</table>{extra}</div>"
        )


def _latest(values: pd.Series) -> datetime | None:
    values = values.dropna()
    return None if values.empty else values.max().to_pydatetime()


def _earliest(values: pd.Series) -> datetime | None:
    values = values.dropna()
    return None if values.empty else values.min().to_pydatetime()


def campaign_status(ledger: Ledger, campaign: str) -> CampaignStatus:
    """The status of ``campaign`` as recorded in ``ledger`` (no request to the gateway)."""
    frame = ledger.status_frame(campaign)
    if frame.empty:
        return CampaignStatus(campaign=campaign, messages=0)
    counts = frame["send_state"].value_counts()
    by_state = {s: int(counts[s]) for s in _STATE_ORDER if s in counts.index}
    by_state.update({str(s): int(n) for s, n in counts.items() if s not in by_state})
    accepted = frame[frame["send_state"].isin(ACCEPTED_STATES)]
    by_status = accepted["status_text"].fillna("no report yet").value_counts()
    replies = ledger.replies_frame(campaign)
    return CampaignStatus(
        campaign=campaign,
        messages=len(frame),
        by_state=by_state,
        by_status={str(k): int(v) for k, v in by_status.items()},
        parts=int(pd.to_numeric(accepted["parts"], errors="coerce").fillna(0).sum()),
        replies=len(replies),
        opted_out=int(frame["opted_out"].fillna(False).astype(bool).sum()),
        first_sent=_earliest(frame["sent_time"]),
        last_report=_latest(frame["report_time"]),
    )
