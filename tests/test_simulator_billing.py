"""The simulator's billing is its own reading of the vendor text, and agrees with the estimator.

The two are written apart (``simulator/billing.py`` counts UTF-16 code units; ``segments.py``
counts characters with a width), so the properties below compare two readings, not one
function with itself. Breaking either side (a part of 68, an emoji counted 1) turns them red.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from _worked_examples import SIGNATURE as SIG
from _worked_examples import WORKED_EXAMPLES
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mobset_campaign._protocol import lower_keys, parse_body
from mobset_campaign.errors import InputError
from mobset_campaign.segments import check_length, count_chars, count_parts
from mobset_campaign.simulator import Account, Simulator
from mobset_campaign.simulator.billing import billed_length, billed_parts

SIGNATURES = ["广州首易", "【广州首易】", "[Shop]", "ABC", "短信易😀", "𠀀𠀁"]

# Characters that matter to counting: CJK, ASCII, line breaks (\r\n counts 1), full-width
# punctuation, brackets, and characters outside the BMP (2 each); plus anything hypothesis likes.
_interesting = st.sampled_from([*"字a1 ，。!【】\t", "\n", "\r\n", "\r", "😀", "🎉", "𠀀", "👍🏽"])
_mixed = st.lists(st.one_of(_interesting, st.characters(codec="utf-8")), max_size=40).map("".join)
# A random head and tail around a run of one filler whose length is drawn evenly, so texts of
# every length up to ~700 units (and so every part boundary) come up, not mostly short ones.
bodies = st.tuples(
    _mixed, st.sampled_from(["字", "a", "😀", "\r\n"]), st.integers(0, 320), _mixed
).map(lambda t: t[0] + t[1] * t[2] + t[3])


# ----------------------------------------------------------------------------- the rules


@pytest.mark.parametrize(("body", "length", "parts"), WORKED_EXAMPLES)
def test_the_worked_examples(body: str, length: int, parts: int) -> None:
    assert billed_length(body, SIG) == length
    assert billed_parts(body, SIG) == parts


def test_a_part_never_ends_inside_a_surrogate_pair() -> None:
    # 【广州首易】 + 60 字 = 66 units, then an emoji (2 units) that would straddle unit 67:
    # the first part ends at 66 and the emoji opens the second.
    body = "字" * 60 + "😀" + "字" * 66  # 6 + 60 + 2 + 66 = 134 units = 2 × 67, yet 3 parts
    assert billed_length(body, SIG) == 134
    assert billed_parts(body, SIG) == 3
    assert billed_parts("字" * 59 + "😀" + "字" * 67, SIG) == 2  # the pair ends at 67: fits


def test_short_messages_each_carry_the_signature() -> None:
    # LongSms=0: separate messages of 70, each with 【广州首易】, so 64 of body each.
    assert billed_parts("字" * 64, SIG, long_sms=False) == 1
    assert billed_parts("字" * 65, SIG, long_sms=False) == 2
    assert billed_parts("字" * 128, SIG, long_sms=False) == 2
    assert billed_parts("字" * 129, SIG, long_sms=False) == 3
    assert billed_parts("字" * 63 + "😀", SIG, long_sms=False) == 2


# ----------------------------------------------------------------------------- two readings agree


@settings(max_examples=400, deadline=None)
@given(body=bodies, sig=st.sampled_from(SIGNATURES), long_sms=st.booleans())
def test_the_simulator_bills_what_the_estimator_counts(body: str, sig: str, long_sms: bool) -> None:
    assert billed_length(body, sig) == count_chars(body, sig)
    if body:
        assert billed_parts(body, sig, long_sms=long_sms) == count_parts(
            body, sig, long_sms=long_sms
        )


@settings(max_examples=200, deadline=None)
@given(
    k=st.integers(min_value=1, max_value=12),
    filler=st.sampled_from(["字", "a", "😀", "\r\n"]),
    sig=st.sampled_from(SIGNATURES),
    long_sms=st.booleans(),
)
def test_they_agree_at_every_part_boundary(k: int, filler: str, sig: str, long_sms: bool) -> None:
    for n in (67 * k - 1, 67 * k, 67 * k + 1, 70 * k - 1, 70 * k, 70 * k + 1):
        body = filler * n
        assert billed_parts(body, sig, long_sms=long_sms) == count_parts(
            body, sig, long_sms=long_sms
        ), (n, filler, sig, long_sms)


# ----------------------------------------------------------------------------- over HTTP


@pytest.fixture(scope="module")
def sims() -> Iterator[dict[str, Simulator]]:
    """One running simulator per signature (module scope: hypothesis calls the test often)."""
    started = {}
    try:
        for sig in SIGNATURES[:4]:
            started[sig] = Simulator(
                accounts=[Account(sign=sig)], manual_clock=True, reply_rate=0
            ).start()
        yield started
    finally:
        for sim in started.values():
            sim.stop()


def _send(sim: Simulator, content: str, long_sms: bool) -> dict[str, object]:
    params = sim.signed_params(
        "SmsSend", PhoneNumbers="13512346789", LongSms="1" if long_sms else "0", Content=content
    )
    body = lower_keys(parse_body(requests.post(sim.url, data=params, timeout=10).text))
    assert isinstance(body, dict)
    return body


@settings(max_examples=60, deadline=None)
@given(body=bodies, sig=st.sampled_from(SIGNATURES[:4]), long_sms=st.booleans())
def test_a_send_is_billed_what_the_estimate_says_or_refused_when_it_refuses(
    sims: dict[str, Simulator], body: str, sig: str, long_sms: bool
) -> None:
    assume(body.strip())  # whitespace-only content is refused on its own (test_simulator)
    sim = sims[sig]
    before = sim.balance()
    answer = _send(sim, body, long_sms)
    try:
        check_length(body, sig)
        refused = False
    except InputError:
        refused = True
    if refused:
        assert int(str(answer["code"])) == -110, answer
        assert sim.balance() == before
    else:
        assert int(str(answer["code"])) == 1, answer
        assert before - sim.balance() == count_parts(body, sig, long_sms=long_sms)
