"""estimate and preview: what a campaign costs, checked against what the simulator bills."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import mobset_campaign.accessor  # noqa: F401  (registers df.sms)
from mobset_campaign.contacts import read_contacts
from mobset_campaign.errors import InputError
from mobset_campaign.estimate import estimate, preview
from mobset_campaign.language import using_language
from mobset_campaign.render import render
from mobset_campaign.segments import SegmentRules
from mobset_campaign.summaries import Estimate

SAMPLE = Path(__file__).resolve().parents[1] / "mobset_campaign" / "data" / "sample_contacts.csv"


class Account:
    """A stand-in for MobsetClient: only what estimate asks of it."""

    def __init__(self, sign: str, balance: int) -> None:
        self.sign, self.balance, self.calls = sign, balance, 0

    def get_sign(self) -> str:
        self.calls += 1
        return self.sign

    def get_balance(self) -> int:
        self.calls += 1
        return self.balance


@pytest.fixture()
def frame() -> pd.DataFrame:
    """Five rows: three sendable (1, 2 and 3 parts), a landline and a duplicate."""
    df = read_contacts(
        pd.DataFrame(
            {
                "手机": [
                    "13512346789",
                    "13612345678",
                    "13712345678",
                    "020-12345678",
                    "13512346789",
                ],
                "称呼": ["张三", "李四" + "四" * 62, "王五" + "五" * 130, "赵六", "重复"],
            }
        )
    )
    return render(df, "{{ 称呼 }}您好", signature="广州首易")


def test_totals_reasons_histogram_and_cost(frame: pd.DataFrame) -> None:
    est = estimate(frame, price_per_part=0.045)
    assert isinstance(est, Estimate)
    assert (est.rows, est.sendable, est.total_parts) == (5, 3, 6)
    assert est.parts_histogram == {1: 1, 2: 1, 3: 1}
    assert est.not_sendable == {"not a mainland mobile": 1, "duplicate": 1}
    assert est.cost == pytest.approx(0.27)
    assert est.signature == "广州首易" and est.notes == []


def test_balance_sentence_from_a_client(frame: pd.DataFrame) -> None:
    short = estimate(frame, client=Account("广州首易", 4))
    assert short.balance_sentence() == "needs 6 parts, balance 4: 2 short"
    assert short.shortfall == 2
    enough = estimate(frame, client=Account("广州首易", 1_000))
    assert enough.balance_sentence() == "needs 6 parts, balance 1,000: enough, 994 left"
    assert "needs 6 parts, balance 1,000: enough, 994 left" in str(enough)
    assert estimate(frame).balance is None and estimate(frame).balance_sentence() is None


def test_big_numbers_read_well() -> None:
    est = Estimate(
        rows=2000, sendable=1284, not_sendable={}, total_parts=1284, parts_histogram={1: 1284},
        pushed=0, typical_parts=1, signature="广州首易", long_sms=True, max_chars=500, balance=900,
    )  # fmt: skip
    assert est.balance_sentence() == "needs 1,284 parts, balance 900: 384 short"


def test_the_client_signature_is_counted_when_render_did_not_know_it() -> None:
    df = read_contacts(pd.DataFrame({"手机": ["13512346789", "13612345678"]}))
    unknown = render(df, "字" * 66)  # 66 without a signature: 1 part; 72 with it: 2
    first = estimate(unknown)
    assert first.total_parts == 2 and first.signature is None
    assert any("signature is unknown" in note for note in first.notes)
    assert "unknown, not counted" in str(first)
    account = Account("广州首易", 10)
    counted = estimate(unknown, client=account)
    assert counted.signature == "广州首易" and counted.total_parts == 4
    assert any("recounted" in note for note in counted.notes)
    assert estimate(unknown, signature="广州首易").total_parts == 4
    # a longer signature can push a message over the length limit
    tight = render(df, "字" * 60, rules=SegmentRules(max_chars=64))
    assert estimate(tight).sendable == 2
    assert estimate(tight, signature="广州首易").not_sendable == {"too long": 2}


def test_rows_left_out_by_hand_stay_out_when_recounting() -> None:
    df = render(read_contacts(pd.DataFrame({"手机": ["13512346789", "13612345678"]})), "您好")
    df = df.assign(sendable=[True, False])
    assert estimate(df, signature="广州首易").sendable == 1
    assert estimate(df).not_sendable == {"not sendable": 1}  # the words send() uses


def test_personalisation_and_warnings_are_summarised() -> None:
    df = read_contacts(pd.DataFrame({"手机": [f"1351234678{i}" for i in range(5)]}))
    df = df.assign(称呼=["甲", "乙", "丙", "丁" * 20, "戊😀"])
    est = estimate(render(df, "{{ 称呼 }}" + "全场8折" * 12, signature="广州首易"))
    assert est.typical_parts == 1 and est.pushed == 1
    assert est.warnings == {
        "emoji or rare characters (count 2)": 1,
        "marketing text without opt-out": 5,
    }
    text = str(est)
    assert "1 message takes more than 1 part because of its personalisation" in text
    assert "marketing text without opt-out: 5 messages" in text


def test_needs_a_rendered_frame() -> None:
    df = read_contacts(pd.DataFrame({"手机": ["13512346789"]}))
    with pytest.raises(InputError, match="call render"):
        estimate(df)
    with pytest.raises(InputError, match="call render"):
        preview(df)


def test_html_for_notebooks(frame: pd.DataFrame) -> None:
    html = estimate(frame, client=Account("广州首易", 4), price_per_part=0.05)._repr_html_()
    assert "<table>" in html and "needs 6 parts, balance 4: 2 short" in html
    assert "¥0.30 at ¥0.05 per part" in html


def test_the_cost_is_exact_and_shown_rounded_once_in_yuan(frame: pd.DataFrame) -> None:
    est = estimate(frame, price_per_part=0.045)  # 6 parts
    assert est.cost == 0.27  # exactly, not 0.27000000000000002
    assert est.cost_text == "¥0.27" and est.cost_sentence() == "¥0.27 at ¥0.045 per part"
    assert "cost" in str(est) and "¥0.27 at ¥0.045 per part" in str(est)
    half_cent = estimate(frame, price_per_part=0.0125)  # 6 × 0.0125 = 0.075: half a cent
    assert half_cent.cost == 0.075 and half_cent.cost_text == "¥0.08"
    assert estimate(frame).cost_text is None and estimate(frame).cost_sentence() is None


def test_preview_shows_the_signature_and_part_boundaries(frame: pd.DataFrame) -> None:
    text = str(preview(frame, n=4))
    assert "row 2 · 13512346789 · 10 chars · 1 part · sendable\n  【广州首易】张三您好" in text
    assert "┄┄ part 1/2 (67 chars) ┄┄\n  【广州首易】李四" in text
    assert "part 3/3" in text
    assert "not sent: not a mainland mobile: 020-12345678 (a landline)" in text
    assert "… 1 more row" in text and "… 1 more rows" not in text
    assert repr(preview(frame, n=1)) == str(preview(frame, n=1))


def test_preview_html_escapes_contact_data() -> None:
    df = read_contacts(pd.DataFrame({"手机": ["13512346789"], "称呼": ["<script>x</script>"]}))
    html = preview(render(df, "{{ 称呼 }}您好", signature="广州首易"))._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "【广州首易】" in html


def test_accessor_calls_the_functions(frame: pd.DataFrame) -> None:
    df = read_contacts(SAMPLE)
    before = df.copy()
    out = df.sms.render("delivery_notice.txt", signature="广州首易")
    pd.testing.assert_frame_equal(df, before)
    pd.testing.assert_frame_equal(out, render(df, "delivery_notice.txt", signature="广州首易"))
    assert out.sms.estimate(price_per_part=0.05) == estimate(out, price_per_part=0.05)
    assert str(out.sms.preview(2)) == str(preview(out, 2))


# ------------------------------------------------------------------ against the gateway


#: Message lengths (【广州首易】 included) on each side of the part boundaries: 70|71 (one part or
#: two), 134|135|136|137 (67 × 2, 68 × 2), 201..205 (67 × 3, 68 × 3); with three emoji each.
_PLAIN = [70, 71, 134, 135, 136, 137, 201, 202, 203, 204, 205]
_WITH_EMOJI = [71, 72, 135, 136, 137]


def _width(text: str) -> int:
    """Counted by hand here, apart from segments: 1 a character, 2 one outside the BMP."""
    return len(text) + sum(ord(ch) > 0xFFFF for ch in text)


def _on_every_boundary(df: pd.DataFrame) -> pd.DataFrame:
    """Pad names from row 5 on so that rendered messages land on each side of every part
    boundary: a wrong part size or emoji width in the estimator cannot then agree with the
    simulator's own billing by luck."""
    first = render(df, "points_expiry.txt", opt_out=True)
    names = df["姓名"].tolist()
    rows = [
        i
        for i in range(5, len(df))
        if first["sendable"].iloc[i] and isinstance(names[i], str) and names[i]
    ]
    wanted = [(n, "") for n in _PLAIN] + [(n, "😀" * 3) for n in _WITH_EMOJI]
    assert len(rows) >= len(wanted)
    for i, (target, emoji) in zip(rows, wanted, strict=False):
        base = 6 + _width(first["content"].iloc[i]) + _width(emoji)
        names[i] = names[i] + emoji + "字" * (target - base)
    padded = df.assign(姓名=names)
    again = render(padded, "points_expiry.txt", opt_out=True)
    got = [6 + _width(again["content"].iloc[i]) for i in rows[: len(wanted)]]
    assert got == [n for n, _ in wanted]
    return padded


@pytest.mark.parametrize("long_sms", [True, False])
def test_estimate_matches_what_the_simulator_bills(long_sms: bool) -> None:
    from mobset_campaign.simulator import Simulator

    df = read_contacts(SAMPLE)
    names = df["姓名"].fillna("").tolist()
    names[1] = names[1] + "会员" * 20  # a row that takes two parts
    names[2] = names[2] + "😀" * 3  # characters outside the BMP
    names[4] = names[4] + "欢迎光临" * 30  # three parts or more
    df = _on_every_boundary(df.assign(姓名=names))
    with Simulator(seed=5, reply_rate=0.0) as sim:
        client = sim.client()
        frame = render(
            df, "points_expiry.txt", opt_out=True, long_sms=long_sms
        )  # signature unknown at render time
        est = estimate(frame, client=client)
        assert est.signature == "广州首易"
        before = sim.balance()
        assert est.balance == before
        sendable = frame[frame["sendable"]]
        for phone, content in zip(sendable["phone"], sendable["content"], strict=True):
            client.send([phone], content, long_sms=long_sms)
        billed = before - sim.balance()
        client.close()
    assert est.sendable == len(sendable) == 35
    assert billed == est.total_parts
    assert est.total_parts > est.sendable  # the long rows really were counted as such


@pytest.mark.parametrize("module", ["mobset_campaign.estimate", "mobset_campaign.accessor"])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_the_estimate_counts_rows_with_empty_cells() -> None:
    from mobset_campaign import estimate, read_contacts, render

    frame = render(
        read_contacts(
            pd.DataFrame({"手机": ["13512346789", "13900000001"], "门店": ["天河店", ""]})
        ),
        "您好，您的快递已到{{ 门店 }}代收点。",
        signature="广州首易",
    )
    report = estimate(frame)
    assert report.warnings == {"empty cells in the template's columns": 1}
    assert "empty cells" in str(report)


@pytest.mark.parametrize("price", [-0.05, float("nan"), float("inf"), 1e300, "0.05", True])
def test_a_price_that_is_not_a_price_is_an_input_error(frame: pd.DataFrame, price: object) -> None:
    with pytest.raises(InputError, match=r"price_per_part=.* is out of range: yuan per part"):
        estimate(frame, price_per_part=price)  # type: ignore[arg-type]
    assert estimate(frame, price_per_part=0).cost == 0


def test_long_sms_is_said_only_when_a_message_has_several_parts() -> None:
    """Regression: "35 × 1 part; long SMS" was shown when no message was long."""
    df = read_contacts(pd.DataFrame({"手机": ["13512346789", "13612345678"]}))
    short = estimate(render(df, "您好", signature="广州首易"))
    assert short.parts_histogram == {1: 2}
    parts = next(line for line in str(short).splitlines() if line.strip().startswith("parts"))
    assert parts.split("parts", 1)[1].strip() == "2 (2 × 1 part)"
    assert "long SMS" not in str(short) and "separate short messages" not in str(short)
    long = estimate(render(df, "您" * 80, signature="广州首易"))
    assert "2 (1 × 1 part" not in str(long) and "4 (2 × 2 parts; long SMS)" in str(long)
    apart = estimate(render(df, "您" * 80, signature="广州首易", long_sms=False))
    assert "; separate short messages)" in str(apart)
    with using_language("zh"):
        assert "长短信" not in str(short) and "按长短信计费" in str(long)


def test_the_balance_is_said_once_in_the_notebook(frame: pd.DataFrame) -> None:
    """Regression: the estimate's HTML showed the balance sentence in its banner and again in
    its table (notebook 03 then printed it a third time in its own checks table)."""
    est = estimate(frame, client=Account("广州首易", 1_000))
    sentence = est.balance_sentence() or ""
    assert est._repr_html_().count(sentence) == 1
    assert str(est).count(sentence) == 1  # the text has no banner: the line stays
    with using_language("zh"):
        chinese = est.balance_sentence() or ""
        assert chinese == "需要 6 条，余额 1,000 条：足够，发完剩余 994 条"
        assert est._repr_html_().count(chinese) == 1
