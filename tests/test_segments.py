"""Counting invariants (SEGMENTS.md) checked with hypothesis, plus the worked examples."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from _worked_examples import WORKED_EXAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

from mobset_campaign.errors import InputError
from mobset_campaign.segments import (
    DEFAULT_RULES,
    SegmentRules,
    bracket_signature,
    check_length,
    count_chars,
    count_chars_series,
    count_parts,
    count_parts_series,
    split_parts,
)

SIG = "广州首易"  # 【广州首易】 is 6
bodies = st.text(
    alphabet=st.one_of(
        st.sampled_from("字a1 ，。!\n【】"),
        st.sampled_from("😀🎉𠀀"),  # outside the BMP: 2 each
    ),
    max_size=400,
)
signatures = st.sampled_from(["", "广州首易", "【广州首易】", "ABC", "短信易😀"])


def width(text: str) -> int:
    return sum(2 if ord(c) > 0xFFFF else 1 for c in text)


@pytest.mark.parametrize(("body", "chars", "parts"), WORKED_EXAMPLES)
def test_worked_examples(body: str, chars: int, parts: int) -> None:
    assert count_chars(body, SIG) == chars
    assert count_parts(body, SIG) == parts
    assert count_chars_series(pd.Series([body]), SIG).iloc[0] == chars
    assert count_parts_series(pd.Series([body]), SIG).iloc[0] == parts


@settings(max_examples=200, deadline=None)
@given(body=bodies, extra=st.sampled_from(["字", "a", "😀", "\n"]), sig=signatures)
def test_parts_never_decrease_as_the_text_grows(body: str, extra: str, sig: str) -> None:
    for long_sms in (True, False):
        assert count_parts(body + extra, sig, long_sms=long_sms) >= count_parts(
            body, sig, long_sms=long_sms
        )
    assert count_chars(body + extra, sig) > count_chars(body, sig)


@settings(max_examples=100, deadline=None)
@given(k=st.integers(min_value=2, max_value=20), sig=st.sampled_from(["", SIG, "ABC"]))
def test_the_67k_boundary(k: int, sig: str) -> None:
    room = 67 * k - len(bracket_signature(sig))
    assert count_parts("字" * room, sig) == k
    assert count_parts("字" * (room + 1), sig) == k + 1


@pytest.mark.parametrize("sig", ["", SIG, "ABC"])
def test_the_70_71_boundary(sig: str) -> None:
    room = 70 - len(bracket_signature(sig))
    assert count_parts("字" * room, sig) == 1
    assert count_parts("字" * (room + 1), sig) == 2


@settings(max_examples=200, deadline=None)
@given(body=bodies, sig=signatures, long_sms=st.booleans())
def test_split_parts_matches_count_and_never_splits_a_surrogate_pair(
    body: str, sig: str, long_sms: bool
) -> None:
    parts = split_parts(body, sig, long_sms=long_sms)
    assert len(parts) == count_parts(body, sig, long_sms=long_sms)
    bracketed = bracket_signature(sig)
    normalised = body.replace("\r\n", "\n").replace("\r", "\n")
    if long_sms:
        assert "".join(parts) == (bracketed + normalised if normalised else "")
        limit = 70 if len(parts) == 1 else 67
        assert all(width(p) <= limit for p in parts)
    else:
        assert all(p.startswith(bracketed) and width(p) <= 70 for p in parts)
        assert "".join(p[len(bracketed) :] for p in parts) == normalised
    # the UTF-16 view: no part ends in a high surrogate or starts with a low one
    for part in parts:
        units = part.encode("utf-16-le")
        if units:
            first = int.from_bytes(units[:2], "little")
            last = int.from_bytes(units[-2:], "little")
            assert not 0xDC00 <= first <= 0xDFFF
            assert not 0xD800 <= last <= 0xDBFF


@settings(max_examples=100, deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), bodies), max_size=8), sig=signatures, long_sms=st.booleans()
)
def test_vectorised_counts_equal_the_scalar_ones(
    texts: list[str | None], sig: str, long_sms: bool
) -> None:
    normalised = [None if t is None else t.replace("\r\n", "\n").replace("\r", "\n") for t in texts]
    series = pd.Series(normalised, dtype=object)
    assert count_chars_series(series, sig).tolist() == [
        count_chars(t or "", sig) for t in normalised
    ]
    assert count_parts_series(series, sig, long_sms=long_sms).tolist() == [
        count_parts(t or "", sig, long_sms=long_sms) for t in normalised
    ]


@settings(max_examples=100, deadline=None)
@given(body=bodies)
def test_long_sms_count_follows_the_formula_for_bmp_text(body: str) -> None:
    if any(ord(c) > 0xFFFF for c in body) or not body:
        return
    n = count_chars(body, SIG)
    assert count_parts(body, SIG) == (1 if n <= 70 else math.ceil(n / 67))


def test_limits_are_settings() -> None:
    rules = SegmentRules(single_limit=60, part_limit=50, max_chars=120)
    assert count_parts("字" * 54, SIG, rules=rules) == 1
    assert count_parts("字" * 55, SIG, rules=rules) == 2
    with pytest.raises(InputError, match="above the maximum of 120"):
        check_length("字" * 115, SIG, rules=rules)
    with pytest.raises(InputError, match="empty"):
        check_length("", SIG)
    assert check_length("字" * 10, SIG) == 16
    assert DEFAULT_RULES.max_chars == 500


@pytest.mark.parametrize("module", ["mobset_campaign.segments"])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_characters_outside_the_bmp_are_found_after_pandas_or_sqlite_touched_the_texts() -> None:
    """The quick look at a text's size must not miss an emoji because its UTF-8 was cached
    (pandas factorize, a sqlite3 parameter): such a text is counted exactly, never as BMP."""
    import sqlite3

    import numpy as np

    from mobset_campaign.segments import count_arrays

    texts = ["您好😀" + "y" * 3, "a😀b", "你好世界" * 10, "hello", "𠀀字"]
    bodies = np.array([t + "" for t in texts], dtype=object)  # fresh objects
    fresh = count_arrays(bodies)
    pd.Series(bodies).factorize()
    connection = sqlite3.connect(":memory:")
    for text in bodies:
        connection.execute("SELECT ?", (text,))
    touched = count_arrays(bodies)
    assert fresh[2].tolist() == [True, True, False, False, True]
    for before, after in zip(fresh, touched, strict=True):
        assert before.tolist() == after.tolist()
