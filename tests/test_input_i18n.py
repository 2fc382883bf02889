"""The input side speaks Chinese under ``using_language("zh")`` and is unchanged in English:
the error tree, the advice, the phone problems, the contact reader, templates, money and the
gateway client."""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

import mobset_campaign as mc
from mobset_campaign import answers, errors, phones, segments, templates
from mobset_campaign._money import format_money, price_problem
from mobset_campaign.client import MobsetClient
from mobset_campaign.codes import describe_error, describe_status

CJK = re.compile(r"[\u4e00-\u9fff]")
#: English words that would betray a sentence left untranslated (names, flags, file
#: types and code ids stay as they are, so only running words are listed).
ENGLISH = re.compile(
    r"\b(the|is|are|must|give|check|could|not|has|was|with|from|failed)\b", re.IGNORECASE
)


def _message(make: Callable[[], object]) -> str:
    try:
        made = make()
    except Exception as exc:  # any error of the package is a message here
        return str(exc)
    return str(made)


#: What is no language: quoted values, code locations and paths (the checkout may live in
#: a folder named /check/, as CI's does).
NO_LANGUAGE = re.compile(r"'[^']*'|\([^)]*\.py[^)]*\)|(?:[A-Za-z]:)?[/\\][\w./\\-]*")


def _chinese(text: str) -> None:
    assert CJK.search(text), text
    left = ENGLISH.findall(NO_LANGUAGE.sub(" ", text))
    assert not left, f"English words left: {left} in {text!r}"


def _client(**kwargs: object) -> MobsetClient:
    settings: dict[str, object] = dict(
        corp_id="100001", login_name="u", password="secret-pw", base_url="http://localhost:1"
    )
    settings.update(kwargs)
    return MobsetClient(**settings)  # type: ignore[arg-type]


CASES: dict[str, tuple[Callable[[], object], str]] = {
    "missing spreadsheet": (
        lambda: mc.read_contacts("/no/such/folder/名单.xlsx"),
        "Contact file '/no/such/folder/名单.xlsx' does not exist",
    ),
    "unknown column": (
        lambda: mc.read_contacts(pd.DataFrame({"手机": ["13512346789"]}), phone_column="电话"),
        "phone_column='电话' is not a column of the DataFrame; columns: 手机.",
    ),
    "no phone column": (
        lambda: mc.read_contacts(pd.DataFrame({"姓名": ["张三"]})),
        "No phone column found in the DataFrame",
    ),
    "bad phone": (
        lambda: phones.parse_phone("020-12345678")[1],
        "not a mainland mobile: 020-12345678 (a landline)",
    ),
    "lost digits": (
        lambda: phones.parse_phone("1.35123E+10")[1],
        "digits lost in the spreadsheet: 1.35123E+10",
    ),
    "template not found": (
        lambda: templates.load_template("no_such_template.txt"),
        "Template 'no_such_template.txt' was not found",
    ),
    "template syntax": (
        lambda: templates.compile_template(*templates.load_template("{{ 姓名 ")),
        "The template text has a syntax error on line 1",
    ),
    "mask": (
        lambda: templates.mask_text("13512346789", start=-1),
        "mask(start=…) must be a whole number from 0 to 100, not -1",
    ),
    "gateway balance": (
        lambda: errors.error_for_code(-129, "用户余额不足以支持本次发送", method="SmsSend"),
        "SmsSend failed with code -129 用户余额不足以支持本次发送 (user balance insufficient "
        "for this send). Top up the account",
    ),
    "gateway unknown code": (
        lambda: errors.error_for_code(-999, "奇怪的错误", method="SmsGetSign"),
        "SmsGetSign failed with code -999; the gateway said: 奇怪的错误.",
    ),
    "ambiguous send": (
        lambda: errors.AmbiguousSendError(phones=["13512346789", "13612345678"]),
        "SmsSend to 2 numbers (13512346789, 13612345678) has an unknown outcome.",
    ),
    "unreadable body": (
        lambda: answers.parse_reports("<html>busy</html>"),
        "SmsGetReport got an answer that is not valid JSON: '<html>busy</html>'.",
    ),
    "campaign busy": (
        lambda: errors.CampaignBusyError(
            "双十二", command="send", pid=42, host="pc-1", since="2026-12-12 09:00:00"
        ),
        "Campaign '双十二' is busy: send has been running since 2026-12-12 09:00:00 (Beijing)",
    ),
    "bad price": (
        lambda: price_problem(-1),
        "price_per_part=-1 is out of range: yuan per part must be from 0 to 100, or None for "
        "no cost.",
    ),
    "bad amount": (lambda: format_money("很多"), "An amount of money must be a number"),
    "empty message": (
        lambda: segments.check_length("", "广州首易"),
        "The message is empty; write some text",
    ),
    "bad CorpID": (lambda: _client(corp_id="abc"), "CorpID 'abc' is not a number"),
    "too many numbers": (
        lambda: _client().send([f"135{i:08d}" for i in range(51)], "hi"),
        "send: 51 numbers in one request; the gateway takes at most 50.",
    ),
    "bad timer": (
        lambda: _client().send(["13512346789"], "hi", timer_send="明天"),
        "send: timer_send '明天' is not a time",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_message_is_unchanged_in_english(case: str) -> None:
    make, english = CASES[case]
    with mc.using_language("en"):
        assert english in _message(make)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_message_is_chinese_under_zh(case: str) -> None:
    make, english = CASES[case]
    with mc.using_language("zh"):
        text = _message(make)
    assert english not in text
    _chinese(text)


def test_the_gateway_error_reads_as_one_chinese_sentence() -> None:
    with mc.using_language("zh"):
        text = str(errors.error_for_code(-129, "用户余额不足以支持本次发送", method="SmsSend"))
    assert text == (
        "SmsSend 请求失败，错误码 -129 用户余额不足以支持本次发送。"
        "请给账号充值或减少发送量；本次请求的短信一条也没有被接收。"
    )


def test_a_pickled_gateway_error_is_written_again_in_the_language_of_the_reader() -> None:
    err = errors.error_for_code(-128, "企业余额不足以支持本次发送", method="SmsSend")
    assert "Top up" in str(err)
    with mc.using_language("zh"):
        again = pickle.loads(pickle.dumps(err))
    assert type(again) is errors.BalanceError and again.code == -128
    _chinese(str(again))
    busy = errors.CampaignBusyError("c", command="send", pid=1, host="h", since="09:00")
    with mc.using_language("zh"):
        back = pickle.loads(pickle.dumps(busy))
    assert back.pid == 1 and "正被占用" in str(back)


def test_no_message_carries_the_password() -> None:
    for language in ("en", "zh"):
        with mc.using_language(language):
            for make in (
                lambda: _client(corp_id="abc"),
                lambda: _client(base_url="ftp://x"),
                lambda: pickle.dumps(_client()),
            ):
                assert "secret-pw" not in _message(make)


def test_codes_are_described_in_the_vendors_chinese_under_zh() -> None:
    with mc.using_language("zh"):
        assert describe_status(12) == "12 接收成功"
        assert describe_error(-110) == "-110 短信内容长度不符合要求"
        assert "两种含义" in describe_error(-112)
        _chinese(describe_status(99))
    assert describe_status(12) == "12 接收成功 (delivered)"


def test_phone_problems_are_written_in_chinese_and_counted_by_their_english_kind() -> None:
    frame = pd.DataFrame({"手机": ["13512346789", "13512346789", "02012345678", None, "1.35E+10"]})
    with mc.using_language("zh"):
        read = mc.read_contacts(frame, suppress=["13612345678"])
        opted = mc.read_contacts(frame, suppress=["13512346789"])
    problems = read["phone_problem"].tolist()
    assert problems[1] == "重复号码，同第 2 行"
    assert problems[2] == "不是大陆手机号：02012345678（固定电话）"
    assert problems[3] == "号码为空"
    assert problems[4] == "号码位数在表格中丢失：1.35E+10"
    assert opted["phone_problem"].tolist()[0] == "已退订"
    kinds = [phones.problem_kind(p) for p in problems[1:]]
    assert kinds == ["duplicate", "not a mainland mobile", "empty phone cell", phones.DIGITS_LOST]
    assert phones.problem_kind("已退订") == "opted out"
    with mc.using_language("en"):
        english = mc.read_contacts(frame)["phone_problem"].tolist()
    assert english[1:4] == [
        "duplicate of row 2",
        "not a mainland mobile: 02012345678 (a landline)",
        "empty",
    ]


def test_the_header_note_is_a_chinese_warning(tmp_path: Path) -> None:
    path = tmp_path / "numbers.csv"
    path.write_text("13512346789\n13612345678\n", encoding="utf-8")
    with mc.using_language("zh"), pytest.warns(mc.InputWarning) as caught:
        mc.read_contacts(path)
    _chinese(str(caught[0].message))


def test_the_advice_keeps_the_parameter_name_in_chinese() -> None:
    with mc.using_language("zh"):
        text = price_problem(1000)
    assert text is not None and text.startswith("price_per_part=1000 ")
    assert "None" in text
    _chinese(text)
