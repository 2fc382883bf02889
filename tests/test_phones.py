"""Number repair and validation: exact repairs, honest reasons, fast path == phonenumbers."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mobset_campaign.contacts import read_contacts
from mobset_campaign.phones import (
    is_mainland_mobile,
    mobile_prefixes,
    normalise_phones,
    parse_phone,
)


def library_says_mobile(number: str) -> bool:
    """The reference: phonenumbers' own verdict, one number at a time."""
    try:
        parsed = phonenumbers.parse(number, "CN")
    except phonenumbers.NumberParseException:
        return False
    return (
        phonenumbers.is_valid_number(parsed)
        and phonenumbers.region_code_for_number(parsed) == "CN"
        and phonenumbers.number_type(parsed)
        in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    )


@pytest.mark.parametrize(
    "cell",
    [
        "13512346789",
        13512346789,
        13512346789.0,
        np.float64(13512346789.0),
        np.int64(13512346789),
        "13512346789.0",
        "1.3512346789E10",
        "1.3512346789e+10",
        "'13512346789",
        "’13512346789",
        "+86 135-1234-6789",
        "+8613512346789",
        "0086 135 1234 6789",
        "86-135-1234-6789",
        "１３５１２３４６７８９",
        "＋８６　１３５　１２３４　６７８９",
        " 135 1234 6789 ",
        "(135) 1234-6789",
        "135.1234.6789",
    ],
)
def test_exact_repairs_give_the_eleven_digits(cell: object) -> None:
    assert parse_phone(cell) == ("13512346789", None)


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        (None, "empty"),
        (float("nan"), "empty"),
        (pd.NA, "empty"),
        ("", "empty"),
        ("   ", "empty"),
        ("'", "empty"),
        ("1.35123E+10", "digits lost in the spreadsheet: 1.35123E+10"),
        ("1.3512346E10", "digits lost in the spreadsheet: 1.3512346E10"),
        ("020-12345678", "not a mainland mobile: 020-12345678 (a landline)"),
        ("1381234567", "not a mainland mobile: 1381234567 (10 digits)"),
        ("135123467890", "not a mainland mobile: 135123467890 (12 digits)"),
        ("12345678901", "not a mainland mobile: 12345678901"),
        ("13512346789.5", "not a mainland mobile: 13512346789.5"),
        ("+852 9123 4567", "not a mainland mobile: +852 9123 4567 (a +852 number, region HK)"),
        ("400-123-4567", "not a mainland mobile: 400-123-4567 (a shared-cost number)"),
        ("135abc46789", "not a mainland mobile: 135abc46789"),
        (True, "not a mainland mobile: True"),
        (
            "13512346789/13612345678",
            "several numbers in one cell: 13512346789/13612345678",
        ),
        (
            "13512346789，13612345678",
            "several numbers in one cell: 13512346789，13612345678",
        ),
    ],
)
def test_problems_are_reported_with_the_cell_as_the_user_typed_it(
    cell: object, reason: str
) -> None:
    assert parse_phone(cell) == (None, reason)


def test_a_numeric_cell_holding_an_exact_integer_is_taken_as_it_is() -> None:
    # The documented rule: a binary double keeps all 11 digits, so 13512300000.0 read from a
    # numeric cell is that number; only *text* in scientific notation betrays lost digits.
    assert parse_phone(1.35123e10) == ("13512300000", None)
    assert parse_phone("1.35123E+10")[1] == "digits lost in the spreadsheet: 1.35123E+10"
    # the same number written out in full as text is fine too
    assert parse_phone("1.3512300000E10") == ("13512300000", None)


def test_normalise_phones_keeps_the_index_and_uses_str_columns() -> None:
    cells = pd.Series(
        ["13512346789", 13612345678.0, None, "1.35123E+10", "+86 137-1234-5678"],
        index=[10, 20, 30, 40, 50],
        dtype=object,
    )
    out = normalise_phones(cells)
    assert list(out.index) == [10, 20, 30, 40, 50]
    assert str(out["phone"].dtype) == "str" and str(out["phone_problem"].dtype) == "str"
    assert out["phone"].tolist()[:2] == ["13512346789", "13612345678"]
    assert out["phone"].isna().tolist() == [False, False, True, True, False]
    assert out["phone_problem"].tolist()[2:4] == [
        "empty",
        "digits lost in the spreadsheet: 1.35123E+10",
    ]


@pytest.mark.parametrize("dtype", ["str", "object", "float64", "int64"])
def test_every_input_dtype_gives_the_same_answer(dtype: str) -> None:
    numbers = ["13512346789", "17409012345", "14912923437", "19912345678", "16612345678"]
    if dtype in ("float64", "int64"):
        cells = pd.Series([int(n) for n in numbers], dtype=dtype)
    else:
        cells = pd.Series(numbers, dtype=dtype)
    out = normalise_phones(cells)
    expected = [library_says_mobile(n) for n in numbers]
    assert out["phone"].notna().tolist() == expected
    assert out["phone_problem"].isna().tolist() == expected


def test_fast_path_agrees_with_phonenumbers_on_a_random_sample() -> None:
    rng = random.Random(20261125)
    sample = [f"1{rng.randrange(10**10):010d}" for _ in range(4000)]
    sample += [f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}" for _ in range(4000)]
    out = normalise_phones(pd.Series(sample, dtype="str"))
    fast = out["phone"].notna().tolist()
    reference = [library_says_mobile(n) for n in sample]
    assert fast == reference
    # and a rejected clean number gets exactly the reason the slow path gives
    for number, ok, reason in zip(sample, fast, out["phone_problem"], strict=True):
        if not ok:
            assert reason == parse_phone(number)[1]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=13_000_000_000, max_value=19_999_999_999))
def test_fast_verdict_equals_the_library_for_any_number(number: int) -> None:
    text = str(number)
    fast = normalise_phones(pd.Series([text], dtype="str"))["phone"].notna().iloc[0]
    assert bool(fast) == library_says_mobile(text) == is_mainland_mobile(text)


def test_the_prefix_table_comes_from_the_metadata() -> None:
    prefixes = mobile_prefixes()
    assert {"13512", "18612", "19912", "17400"} <= prefixes
    assert not {"17409", "14000", "12345"} & prefixes
    # every listed prefix is valid with any tail
    for prefix in sorted(prefixes)[::97]:
        assert library_says_mobile(prefix + "314159")


def test_repeated_messy_values_are_parsed_once_and_answer_alike() -> None:
    cells = pd.Series(["+86 135-1234-6789"] * 1000 + ["020-1234567"] * 1000, dtype=object)
    out = normalise_phones(cells)
    assert out["phone"].iloc[:1000].eq("13512346789").all()
    assert out["phone_problem"].iloc[1000:].str.startswith("not a mainland mobile").all()


damage = st.sampled_from(
    [
        "{n}",
        "'{n}",
        "{n}.0",
        "{n}.00",
        " {n} ",
        "+86 {a}-{b}-{c}",
        "+86{n}",
        "0086 {a} {b} {c}",
        "86-{a}-{b}-{c}",
        "{a} {b} {c}",
        "{a}-{b}-{c}.0",
        "{a}  {b} {c}",
        "{d0}.{rest}E+10",
        "{d0}.{rest5}E+10",
        "{d0}.{rest5}e10",
        "020-{b}{c}",
        "{n}/{n}",
        "＋86 {n}",
        "{n}5",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    shapes=st.lists(
        st.tuples(damage, st.integers(min_value=10_000_000_000, max_value=19_999_999_999)),
        min_size=1,
        max_size=20,
    )
)
def test_vectorised_repairs_equal_parse_phone_cell_by_cell(shapes: list[tuple[str, int]]) -> None:
    cells = []
    for shape, number in shapes:
        n = str(number)
        cells.append(
            shape.format(n=n, a=n[:3], b=n[3:7], c=n[7:], d0=n[0], rest=n[1:], rest5=n[1:6])
        )
    out = normalise_phones(pd.Series(cells, dtype="str"))
    got = [
        (None if pd.isna(p) else p, None if pd.isna(q) else q)
        for p, q in zip(out["phone"], out["phone_problem"], strict=True)
    ]
    assert got == [parse_phone(cell) for cell in cells]


@pytest.mark.parametrize("module", ["mobset_campaign.phones"])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


_PREFIXES = sorted(mobile_prefixes())
_FULL_WIDTH = str.maketrans("0123456789.+Ee'", "０１２３４５６７８９．＋Ｅｅ＇")


@st.composite
def _written_in_scientific_notation(draw: st.DrawFn) -> tuple[str, str, int]:
    """(a mobile number, how a spreadsheet wrote it in scientific notation, how many
    significant digits that writing kept)."""
    number = draw(st.sampled_from(_PREFIXES)) + f"{draw(st.integers(0, 999_999)):06d}"
    kept = draw(st.integers(1, 11))
    mantissa = number[0] + ("." + number[1:kept] if kept > 1 else "")
    exponent = draw(st.sampled_from(["E+10", "e+10", "E10", "e10"]))
    text = mantissa + exponent
    if draw(st.booleans()):
        text = "'" + text  # Excel's "stored as text" mark
    if draw(st.booleans()):
        text = text.translate(_FULL_WIDTH)
    significant = len(number[:kept].rstrip("0")) if kept < 11 else 11
    return number, text, significant


@settings(max_examples=400, deadline=None)
@given(_written_in_scientific_notation())
def test_scientific_notation_is_repaired_only_with_all_eleven_digits(
    case: tuple[str, str, int],
) -> None:
    """Issue 9, item 13: a number Excel shortened to fewer than 11 significant digits is
    never guessed ('1.351234678E10' is not 13512346780, a stranger's number)."""
    number, text, significant = case
    phone, problem = parse_phone(text)
    vectorised = normalise_phones([text]).iloc[0]
    assert [None if pd.isna(v) else v for v in vectorised] == [phone, problem]
    if significant == 11:
        assert (phone, problem) == (number, None), text
    else:
        assert phone is None and problem.startswith("digits lost in the spreadsheet"), text


def test_the_stranger_s_number_of_the_issue_is_not_guessed() -> None:
    for text in ("'1.351234678E10", "1.351234678E+10", "１．３５１２３４６７８Ｅ＋１０"):
        assert parse_phone(text) == (None, f"digits lost in the spreadsheet: {text}")
        checked = read_contacts(pd.DataFrame({"手机": [text]}))
        assert checked["phone"].isna().all()
        assert checked["phone_problem"].iloc[0].startswith("digits lost")
