"""rows: row identity and why a row is not sent — one answer for send, merge, estimate, export."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mobset_campaign import Ledger, Simulator, estimate, merge_status, read_contacts, render, send
from mobset_campaign.outcomes import reason_kind, summary_table
from mobset_campaign.rows import (
    FrameRows,
    Known,
    Skip,
    _assign_row_by_row,
    assign_messages,
    keep_user_columns,
    phone_key,
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
    section = summary_table(merged).query("section == '跳过原因 Skipped by reason'")
    assert dict(zip(section["item"], section["value"], strict=True)) == (
        expected.texts.dropna().map(reason_kind).value_counts().to_dict()  # by kind of reason
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


def test_one_message_per_number_whatever_the_frame_holds() -> None:
    rows = FrameRows(
        ["135", "135", "136", "135"], [None] * 4, ["王先生您好", "王太太您好", "hi", "x"], [2, 3, 4, 9]
    )
    first = assign_messages(rows, {})
    assert first.keys == ["135", None, "136", None]
    assert first.duplicate_of == [None, 2, None, 2]
    # the number has a message already: the row with that very text keeps it, wherever it is
    again = assign_messages(rows, {"135": Known("135", "王太太您好"), "136": Known("136", "hi")})
    assert again.keys == [None, "135", "136", None] and again.duplicate_of == [3, None, None, 3]
    # the text was edited after it went out: the first row keeps the message, never a second
    edited = assign_messages(rows, {"135#old": Known("135", "old text")})
    assert edited.keys == ["135#old", None, "136", None]


def test_several_texts_per_number_when_asked_but_never_the_same_twice() -> None:
    rows = FrameRows(["135"] * 3, [None] * 3, ["a", "b", "a"], [2, 3, 4])
    keys, duplicate_of = assign_messages(rows, {}, one_per_number=False)
    assert keys[0] != keys[1] and keys[2] is None and duplicate_of == [None, None, 2]


def test_a_row_send_would_skip_now_still_finds_its_message() -> None:
    rows = FrameRows(["135", "136"], [None, None], ["hi", "yo"], [2, 3])
    known = {"135": Known("135", "hi"), "136": Known("136", "yo")}
    got = assign_messages(rows, known, usable=[True, False])  # 136 opted out since
    assert got.keys == ["135", "136"] and got.duplicate_of == [None, None]


def test_frame_rows_are_computed_once_for_keys_and_reasons() -> None:
    df = pd.DataFrame({"phone": ["+86 13512346789", None], "content": ["a", "b"], "row": [7, 8]})
    rows = FrameRows.of(df)
    assert rows.phones == ["13512346789", None] and rows.numbers == [7, 8]


def test_keep_user_columns_numbers_a_second_original() -> None:
    df = pd.DataFrame({"status": [1], "status_original": [2]})
    out, renames = keep_user_columns(df, ["status", "reply"])
    assert renames == {"status": "status_original2"}
    assert list(out.columns) == ["status_original2", "status_original"]


_PHONES = st.sampled_from(["135", "136", "137", None])
_TEXTS = st.sampled_from(["a", "b", "c"])


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(_PHONES, st.sampled_from([None, None, "empty"]), _TEXTS, st.booleans()),
        max_size=12,
    ),
    known=st.lists(st.tuples(st.sampled_from(["135", "136", "138"]), _TEXTS), max_size=4),
    one_per_number=st.booleans(),
)
@example(  # the row holding the text that went out keeps the message, not the first row
    rows=[("135", None, "a", True), ("135", None, "b", True)], known=[("135", "b")],
    one_per_number=True,
)  # fmt: skip
def test_whole_column_assignment_agrees_with_the_row_by_row_rule(
    rows: list[tuple[str | None, str | None, str, bool]],
    known: list[tuple[str, str]],
    one_per_number: bool,
) -> None:
    frame = FrameRows(
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
        [10 + i for i in range(len(rows))],
    )  # fmt: skip
    held = {f"{p}#{i}": Known(p, t) for i, (p, t) in enumerate(known)}
    usable = [r[3] for r in rows]
    for given_known in (held, {}):
        fast = assign_messages(frame, given_known, one_per_number=one_per_number, usable=usable)
        slow = _assign_row_by_row(
            frame, given_known, one_per_number=one_per_number, usable=usable
        )
        assert fast == slow
