"""rows: row identity and why a row is not sent — one answer for send, merge, estimate, export."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from mobset_campaign import Ledger, Simulator, estimate, merge_status, read_contacts, render, send
from mobset_campaign.outcomes import summarize
from mobset_campaign.rows import (
    FrameRows,
    Known,
    RowIdentity,
    Skip,
    keep_user_columns,
    phone_key,
    resolve_row_keys,
    skip_reasons,
)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=11, manual_clock=True) as s:
        yield s


def _messy() -> pd.DataFrame:
    contacts = read_contacts(
        pd.DataFrame(
            {
                "手机": [
                    "13512346789",
                    "020-12345678",
                    "13512346789",  # duplicate of row 2
                    "",
                    "13612345678",
                    "13712345678",
                    "13812345678",
                    "13912345678",
                ],
                "称呼": ["张三", "李四", "王五", "赵六", "", "孙七", "周八" * 300, "吴九"],
            }
        ),
        suppress=["13912345678"],
    )
    frame = render(contacts, "{% if 称呼 %}{{ 称呼 }}您好{% endif %}", signature="广州首易")
    frame.loc[5, "sendable"] = False  # left out by hand
    return frame


def test_phone_key_is_digits_without_the_country_prefix() -> None:
    assert phone_key("００８６１３５１２３４６７８９") == "13512346789"
    assert phone_key(" 135 1234 6789 ") == "13512346789"
    assert phone_key("+86 135-1234-6789") == phone_key("8613512346789") == "13512346789"


def test_skip_reasons_in_order_with_one_wording() -> None:
    reasons = skip_reasons(_messy())
    assert reasons.kinds.tolist() == [
        None,
        Skip.PHONE,
        Skip.PHONE,
        Skip.PHONE,
        Skip.EMPTY_MESSAGE,
        Skip.NOT_SENDABLE,
        Skip.TOO_LONG,
        Skip.PHONE,
    ]
    texts = reasons.texts.tolist()
    assert texts[2] == "duplicate of row 2" and texts[3] == "empty" and texts[7] == "opted out"
    assert texts[6].startswith("not sendable: too long: ")
    assert reasons.groups() == {
        "not a mainland mobile": 1,
        "duplicate": 1,
        "empty phone cell": 1,
        "empty message": 1,
        "not sendable": 1,
        "too long": 1,
        "opted out": 1,
    }


def test_send_estimate_merge_and_the_summary_give_the_same_reasons(sim: Simulator) -> None:
    frame = _messy()
    expected = skip_reasons(frame)
    with Ledger(":memory:") as ledger:
        summary = send(frame, sim.client(), campaign="c", ledger=ledger, quiet_hours=None, progress=False)
        merged = merge_status(frame, ledger, "c")
    assert summary.skipped == expected.groups() == estimate(frame).not_sendable
    skipped = merged["send_state"] == "skipped"
    assert merged.loc[skipped, "send_error"].tolist() == expected.texts.dropna().tolist()
    section = summarize(merged).query("section == '跳过原因 Skipped by reason'")
    assert dict(zip(section["item"], section["value"], strict=True)) == (
        expected.texts.value_counts().to_dict()
    )


def test_estimate_counts_the_checks_not_the_words() -> None:
    df = read_contacts(pd.DataFrame({"手机": [f"1351234678{i}" for i in range(4)]}))
    df = df.assign(称呼=["甲", "乙😀", "【丙】", "丁"])
    frame = render(df, "{{ 称呼 }}，全场8折", signature="广州首易")
    before = estimate(frame).warnings
    assert before == {
        "emoji or rare characters (count 2)": 1,
        "【】 in the text": 1,
        "marketing text without opt-out": 4,
    }
    # the words are for people: rewriting them changes nothing the estimate counts
    assert estimate(frame.assign(warnings="")).warnings == before
    assert estimate(frame.assign(warnings="emoji; 【】; marketing")).warnings == before


def test_resolve_row_keys_matches_usable_rows_first() -> None:
    known = {"135": Known("135", "hi"), "136#ab": Known("136", "yo")}
    rows = [RowIdentity("135#11", "135", "hi"), RowIdentity(None, "136", "yo")]
    assert resolve_row_keys(rows, known) == ["135", None]
    # a row send() would skip now (say, opted out since) still finds the message it got
    rows = [RowIdentity("135", "135", "hi"), RowIdentity("136", "136", "yo")]
    assert resolve_row_keys(rows, known, usable=[True, False]) == ["135", "136#ab"]


def test_frame_rows_are_computed_once_for_keys_and_reasons() -> None:
    rows = FrameRows.of(pd.DataFrame({"phone": ["+86 13512346789", None], "content": ["a", "b"]}))
    assert rows.phones == ["13512346789", None] and rows.keys == ["13512346789", None]


def test_keep_user_columns_numbers_a_second_original() -> None:
    df = pd.DataFrame({"status": [1], "status_original": [2]})
    out, renames = keep_user_columns(df, ["status", "reply"])
    assert renames == {"status": "status_original2"}
    assert list(out.columns) == ["status_original2", "status_original"]
