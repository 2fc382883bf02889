"""campaign_status / Ledger.status: a campaign at a glance, in text and in HTML."""

from __future__ import annotations

import pandas as pd

from mobset_campaign import (
    CampaignStatus,
    Ledger,
    Simulator,
    campaign_status,
    collect,
    read_contacts,
    render,
    send,
)


def _campaign(sim: Simulator, ledger: Ledger) -> None:
    contacts = read_contacts(
        pd.DataFrame(
            {
                "姓名": ["甲", "乙", "丙", "丁"],
                "手机": ["13512346789", "13900000001", "15800000002", "18600000003"],
            }
        )
    )
    frame = render(contacts, "{{姓名}}您好，会员日见。", signature="广州首易")
    sim.set_outcome("13900000001", 13, "UNDELIV")
    sim.set_outcome("18600000003", None)  # never a report
    send(frame, sim.client(), campaign="会员日", ledger=ledger, quiet_hours=None, progress=False)
    sim.clock.advance(10)
    sim.inject_reply("13512346789", "退订")
    collect(sim.client(), ledger, campaign="会员日", until=None, progress=False)


def test_status_counts_states_statuses_and_replies() -> None:
    with Simulator(seed=4, manual_clock=True) as sim, Ledger(":memory:") as ledger:
        _campaign(sim, ledger)
        status = campaign_status(ledger, "会员日")
    assert isinstance(status, CampaignStatus)
    assert status.messages == 4 and status.accepted == 4
    assert status.by_state == {"sent": 1, "delivered": 2, "failed": 1}
    assert status.delivery_rate == 0.5
    assert status.waiting == 1
    assert status.by_status["no report yet"] == 1
    assert any(k.startswith("13 ") for k in status.by_status)
    assert (status.replies, status.opted_out) == (1, 1)
    assert status.parts == 4
    text = str(status)
    assert (
        "delivery rate" in text and "50.0% of 4 accepted" in text and "waiting for a report" in text
    )
    assert repr(status) == text
    page = status._repr_html_()
    assert "<table>" in page and "会员日" in page


def test_status_of_an_unknown_campaign_says_so() -> None:
    with Ledger(":memory:") as ledger:
        status = campaign_status(ledger, "nope")
    assert status.messages == 0 and status.delivery_rate is None
    assert "no messages" in str(status)
