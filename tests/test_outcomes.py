"""outcomes: what a merged frame means (sendable, accepted, delivered, skipped and why) and
the campaign in numbers — the same for the workbook and the charts."""

from __future__ import annotations

import pandas as pd
import pytest
from _campaign_frames import FakeLedger, merged_frame, replies_frame

from mobset_campaign.errors import InputError
from mobset_campaign.outcomes import (
    accepted_mask,
    delivered_mask,
    replies_data,
    sendable_mask,
    skipped_reasons,
    status_data,
    summarize,
)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return merged_frame(300)


def test_summarize_is_a_tidy_table(frame: pd.DataFrame) -> None:
    table = summarize(frame, "spring-sale", price_per_part=0.1)
    assert list(table.columns) == ["section", "item", "value", "share", "unit"]
    assert table["section"].iloc[0] == "概况 Overview"
    by_item = table.set_index("item")
    assert by_item.loc["预计费用 Estimate (parts planned × price)", "value"] == pytest.approx(
        frame.loc[frame["sendable"], "parts"].sum() * 0.1
    )
    assert set(table["unit"]) <= {"count", "parts", "ratio", "money", "text", "datetime"}


def test_summarize_a_frame_before_sending() -> None:
    df = pd.DataFrame(
        {
            "phone": ["13800138000", None, "13900139000"],
            "phone_problem": [None, "空号码 empty", None],
            "parts": [1, 1, 2],
        }
    )
    by_item = summarize(df).set_index("item")
    assert by_item.loc["可发送 Sendable", "value"] == 2
    assert by_item.loc["跳过 Skipped", "value"] == 1
    assert by_item.loc["计划条数 Parts planned (sendable rows)", "value"] == 3
    assert "送达率 Delivery rate" not in by_item.index  # nothing sent: no rate to show
    with pytest.raises(InputError, match="price_per_part"):
        summarize(df, price_per_part=-1)



def test_masks_follow_the_states_and_work_without_them(frame: pd.DataFrame) -> None:
    accepted = accepted_mask(frame)
    assert accepted.equals(frame["send_state"].isin(["sent", "delivered", "failed"]))
    assert (delivered_mask(frame) <= accepted).all()
    bare = frame[["phone", "phone_problem", "sms_id", "status"]]
    has_id = bare["sms_id"].fillna(0).ne(0).astype(bool)
    assert accepted_mask(bare).tolist() == has_id.tolist()
    assert delivered_mask(bare).tolist() == bare["status"].eq(12).fillna(False).tolist()
    sendable = bare["phone"].notna() & bare["phone_problem"].isna()
    assert sendable_mask(bare).tolist() == sendable.tolist()


def test_a_skipped_row_keeps_the_reason_merge_recorded(frame: pd.DataFrame) -> None:
    reasons = skipped_reasons(frame, "spring")
    skipped = frame["send_state"] == "skipped"
    assert reasons[skipped].notna().all() and reasons[~skipped].isna().all()
    recorded = frame["send_error"].notna() & skipped
    assert reasons[recorded].equals(frame.loc[recorded, "send_error"].astype(object))


def test_a_ledger_is_read_through_its_frames(frame: pd.DataFrame) -> None:
    ledger = FakeLedger({"spring": (frame, replies_frame(frame))})
    assert status_data(ledger, "spring").equals(frame)
    assert replies_data(ledger, "spring") is not None
    assert replies_data(frame) is None
    with pytest.raises(InputError, match="campaign="):
        status_data(ledger)
    with pytest.raises(InputError, match="DataFrame"):
        status_data(42)
