"""A campaign's status at a glance: counts by state and delivery status, rates, replies.

:func:`campaign_status` reads the ledger (nothing goes to the gateway) and returns a
:class:`~mobset_campaign.summaries.CampaignStatus` that prints as a short report in a
terminal and as a table in JupyterLab.

>>> from mobset_campaign import Ledger
>>> with Ledger(":memory:") as ledger:
...     print(campaign_status(ledger, "nothing-yet"))
Campaign 'nothing-yet': no messages in the ledger yet.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from .ledger import Ledger
from .states import ACCEPTED_STATES, MESSAGE_STATES
from .summaries import CampaignStatus

__all__ = ["campaign_status"]


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
