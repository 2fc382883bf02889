"""The gateway simulator, over raw HTTP (requests signed here with _protocol)."""

from __future__ import annotations

import doctest
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from mobset_campaign._protocol import (
    BEIJING,
    beijing_now,
    format_timestamp,
    lower_keys,
    parse_body,
    secret_key,
)
from mobset_campaign.errors import BusyError, ConfigError, InputError
from mobset_campaign.segments import SegmentRules, check_length
from mobset_campaign.simulator import AcceptedMessage, Account, Simulator, main

PHONE = "13512346789"
START = datetime(2024, 5, 1, 10, 0, 0)  # naive = Beijing
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(manual_clock=True, clock_start=START, seed=7, reply_rate=0.0) as s:
        yield s


def call(
    sim: Simulator,
    method: str,
    *,
    account: Account | None = None,
    get: bool = False,
    timestamp: str | None = None,
    key: str | None = None,
    timeout: float = 10,
    session: requests.Session | None = None,
    **extra: str,
) -> requests.Response:
    a = account or sim.account
    ts = timestamp or format_timestamp()
    params = {
        "CorpID": str(a.corp_id),
        "LoginName": a.login_name,
        "TimeStamp": ts,
        "SecretKey": key or secret_key(a.corp_id, a.password, ts),
        "Methods": method,
        **extra,
    }
    http: Any = session or requests
    if get:
        return http.get(sim.url, params=params, timeout=timeout)
    return http.post(sim.url, data=params, timeout=timeout)


def answer(resp: requests.Response) -> dict[str, Any]:
    body = lower_keys(parse_body(resp.text))
    assert isinstance(body, dict)
    return body


def code(resp: requests.Response) -> int:
    return int(answer(resp)["code"])


def send(sim: Simulator, phones: list[str] | str, content: str = "您好", **extra: Any) -> dict:
    numbers = phones if isinstance(phones, str) else ",".join(phones)
    return answer(call(sim, "SmsSend", PhoneNumbers=numbers, Content=content, **extra))


def reports(sim: Simulator) -> list[dict[str, Any]]:
    body = answer(call(sim, "SmsGetReport"))
    assert int(body["code"]) == len(body["details"])
    return body["details"]


def replies(sim: Simulator) -> list[dict[str, Any]]:
    body = answer(call(sim, "SmsGetRecv"))
    assert int(body["code"]) == len(body["details"])
    return body["details"]


def phones(n: int, start: int = 0) -> list[str]:
    return [f"1380000{i:04d}" for i in range(start, start + n)]


# ----------------------------------------------------------------------------- body shapes


def test_send_answers_in_the_shape_of_the_vendor_example(sim: Simulator) -> None:
    resp = call(sim, "SmsSend", PhoneNumbers=PHONE, Content="这是测试短信")
    assert resp.status_code == 200
    assert resp.text == (
        '{\n "Code": "1",\n "Message": "成功提交 1条短信",\n'
        ' "SmsIdList": [{"PhoneNumber": "13512346789", "SmsId": "1355555551"}]\n}'
    )
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.raw.version == 11  # HTTP/1.1, kept alive


def test_send_lists_every_number_in_request_order_with_0_for_invalid(sim: Simulator) -> None:
    body = send(sim, ["13900000001", "12345", "13900000002"])
    assert body["code"] == "2" and body["message"] == "成功提交 2条短信"
    assert body["smsidlist"] == [
        {"phonenumber": "13900000001", "smsid": "1355555551"},
        {"phonenumber": "12345", "smsid": "0"},
        {"phonenumber": "13900000002", "smsid": "1355555552"},
    ]


def test_error_body_has_the_vendor_spacing(sim: Simulator) -> None:
    resp = call(sim, "SmsSend", PhoneNumbers=PHONE, Content="")
    assert resp.text == '{  "Code" : -110,  "Message" : "短信内容长度不符合要求"}'


def test_balance_and_sign_bodies_match_the_vendor_examples(sim: Simulator) -> None:
    assert call(sim, "SmsGetBalance").text == '{"Code":"1000000","Message":"取短信余额成功"}'
    assert call(sim, "SmsGetSign").text == '{"Code":"0","Message":"取签名成功","Sign":"广州首易",}'


def test_report_body_uses_lowercase_code_and_string_values() -> None:
    with Simulator(seed=0, manual_clock=True, clock_start=START, report_delay=(2, 2)) as sim:
        sim.set_outcome(PHONE, 12)
        send(sim, PHONE)
        sim.clock.advance(2)
        text = call(sim, "SmsGetReport").text
        empty = call(sim, "SmsGetReport").text
    assert text == (
        '{\n "code": "1",\n "Message": "取短信状态报告成功",\n "Details": [{\n'
        '  "SmsId": "1355555551",\n  "Status": "12",\n'
        '  "ReportTime": "2024-05-01 10:00:02",\n  "ExStatus": "DELIVRD"\n }]\n}'
    )
    assert empty == '{\n "code": "0",\n "Message": "取短信状态报告成功",\n "Details": []\n}'


def test_reply_body_matches_the_vendor_example(sim: Simulator) -> None:
    sim.inject_reply(PHONE, "收到！", recv_time=datetime(2018, 7, 17, 12, 0, 0))
    sim.inject_reply(PHONE, "收到 1！", recv_time=datetime(2018, 7, 17, 12, 0, 0))
    assert call(sim, "SmsGetRecv").text == (
        '{\n "code": "2",\n "Message": "取上行短信成功",\n "Details": [{\n'
        '  "PhoneNumber": "13512346789",\n  "RecvNumber": "10691179164004",\n'
        '  "AddNum": "",\n  "RecvTime": "2018-07-17 12:00:00",\n  "Content": "收到！"\n'
        " }, {\n"
        '  "PhoneNumber": "13512346789",\n  "RecvNumber": "10691179164004",\n'
        '  "AddNum": "",\n  "RecvTime": "2018-07-17 12:00:00",\n  "Content": "收到 1！"\n'
        " }]\n}"
    )


def test_cancel_body_has_the_trailing_comma_of_the_vendor_example(sim: Simulator) -> None:
    later = (START + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    send(sim, ["13900000001", "13900000002"], TimerSend=later)
    text = call(sim, "SmsCancel", SmsID="500004690,1355555551,1355555552").text
    assert text == (
        '{\n    "Code": 2,\n    "Message": "成功取消 2条短信",\n    "Details": [\n'
        '        {\n            "SmsID": 500004690,\n            "Status": -142\n        },\n'
        '        {\n            "SmsID": 1355555551,\n            "Status": 1\n        },\n'
        '        {\n            "SmsID": 1355555552,\n            "Status": 1\n        },\n'
        "      ]\n}"
    )


def test_strict_style_answers_plain_json_with_integers() -> None:
    with Simulator(
        seed=0, manual_clock=True, style="strict", report_delay=(1, 1), reply_rate=0
    ) as sim:
        sim.set_outcome(PHONE, 12)
        sent = json.loads(call(sim, "SmsSend", PhoneNumbers=PHONE, Content="hi").text)
        assert sent == {
            "Code": 1,
            "Message": "成功提交 1条短信",
            "SmsIdList": [{"PhoneNumber": PHONE, "SmsId": 1355555551}],
        }
        sim.clock.advance(1)
        rep = json.loads(call(sim, "SmsGetReport").text)
        assert rep["Code"] == 1 and rep["Details"][0]["SmsId"] == 1355555551
        assert rep["Details"][0]["Status"] == 12
        assert json.loads(call(sim, "SmsGetBalance").text)["Code"] == 999_999
        assert json.loads(call(sim, "SmsGetSign").text) == {
            "Code": 0,
            "Message": "取签名成功",
            "Sign": "广州首易",
        }
        assert json.loads(call(sim, "SmsCancel", SmsID="1").text)["Details"] == [
            {"SmsID": 1, "Status": -142}
        ]
        assert json.loads(call(sim, "Nope").text) == {"Code": -191, "Message": "Method不存在"}


# ----------------------------------------------------------------------------- checks


@pytest.mark.parametrize("name", ["CorpID", "LoginName", "TimeStamp", "SecretKey", "Methods"])
def test_a_missing_fixed_parameter_is_102_naming_it(sim: Simulator, name: str) -> None:
    a = sim.account
    ts = format_timestamp()
    params = {
        "CorpID": str(a.corp_id),
        "LoginName": a.login_name,
        "TimeStamp": ts,
        "SecretKey": secret_key(a.corp_id, a.password, ts),
        "Methods": "SmsGetBalance",
    }
    del params[name]
    body = answer(requests.post(sim.url, data=params, timeout=10))
    assert body == {"code": -102, "message": f"请求参数不完整或有误:{name}"}


def test_a_parameter_sent_twice_is_102(sim: Simulator) -> None:
    # The vendor's HTTPS example repeats SecretKey; the gateway refuses that.
    params = sim.signed_params("SmsGetBalance")
    pairs = [*params.items(), ("SecretKey", "123456")]
    body = answer(requests.get(sim.url, params=pairs, timeout=10))
    assert body == {"code": -102, "message": "请求参数不完整或有误:SecretKey"}
    # ... also when one copy is in the query string and one in the POST body.
    resp = requests.post(sim.url + "?Methods=SmsGetBalance", data=params, timeout=10)
    assert code(resp) == -102


def test_get_and_post_with_query_and_body_both_work(sim: Simulator) -> None:
    assert code(call(sim, "SmsGetBalance", get=True)) == 1_000_000
    params = sim.signed_params("SmsGetBalance")
    method = params.pop("Methods")
    resp = requests.post(f"{sim.url}?Methods={method}", data=params, timeout=10)
    assert code(resp) == 1_000_000


def test_unknown_login_is_103_and_unknown_corp_id_is_107(sim: Simulator) -> None:
    # -103 帐号不存在 (the account, i.e. the login); -107 企业不存在 (the enterprise, the CorpID).
    other = Account(corp_id=300003, login_name="nobody", password="x")
    assert answer(call(sim, "SmsGetBalance", account=other)) == {
        "code": -103,
        "message": "帐号不存在",
    }
    assert answer(call(sim, "SmsGetBalance", account=Account(corp_id=399999))) == {
        "code": -107,
        "message": "企业不存在或状态异常",
    }


def test_a_wrong_secret_key_is_105_and_the_key_is_case_insensitive(sim: Simulator) -> None:
    assert answer(call(sim, "SmsGetBalance", key="0" * 32)) == {
        "code": -105,
        "message": "帐号验证失败",
    }
    ts = format_timestamp()
    upper = secret_key(sim.account.corp_id, sim.account.password, ts).upper()
    assert code(call(sim, "SmsGetBalance", timestamp=ts, key=upper)) == 1_000_000


def test_timestamp_more_than_20_minutes_off_real_time_is_105(sim: Simulator) -> None:
    now = datetime.now(BEIJING)
    stale = format_timestamp(now - timedelta(minutes=25))
    early = format_timestamp(now + timedelta(minutes=25))
    fine = format_timestamp(now - timedelta(minutes=15))
    assert code(call(sim, "SmsGetBalance", timestamp=stale)) == -105
    assert code(call(sim, "SmsGetBalance", timestamp=early)) == -105
    assert code(call(sim, "SmsGetBalance", timestamp=fine)) == 1_000_000
    # The sim clock (2024 here, and advanced by a day) does not matter: real time does.
    sim.clock.advance(86400)
    assert code(call(sim, "SmsGetBalance")) == 1_000_000


def test_the_10_digit_timestamp_of_the_vendor_examples_is_accepted(sim: Simulator) -> None:
    ts = beijing_now().strftime("%m%d%H%M%S")
    assert code(call(sim, "SmsGetBalance", timestamp=ts)) == 1_000_000


def test_an_unreadable_timestamp_is_102(sim: Simulator) -> None:
    assert answer(call(sim, "SmsGetBalance", timestamp="2024-05-01"))["message"] == (
        "请求参数不完整或有误:TimeStamp"
    )


def test_unknown_method_is_191(sim: Simulator) -> None:
    assert answer(call(sim, "SmsSendMms")) == {"code": -191, "message": "Method不存在"}


def test_parameter_names_are_read_in_any_case_like_the_gateway(sim: Simulator) -> None:
    params = {k.lower(): v for k, v in sim.signed_params("SmsGetBalance").items()}
    assert code(requests.post(sim.url, data=params, timeout=10)) == 1_000_000


def test_content_empty_or_too_long_is_110() -> None:
    with Simulator(manual_clock=True, max_content=100) as sim:
        assert code(call(sim, "SmsSend", PhoneNumbers=PHONE, Content="")) == -110
        # 94 + 【广州首易】 (6) = 100: the limit counts the signature.
        assert code(call(sim, "SmsSend", PhoneNumbers=PHONE, Content="字" * 94)) == 1
        assert code(call(sim, "SmsSend", PhoneNumbers=PHONE, Content="字" * 95)) == -110
        assert call(sim, "SmsSend", PhoneNumbers=PHONE).json()["Message"] == (
            "请求参数不完整或有误:Content"
        )
        assert len(sim.accepted()) == 1


def test_default_maximum_is_the_estimators_500_characters_with_signature(sim: Simulator) -> None:
    # A rehearsal refuses what the estimator refuses (SegmentRules().max_chars), no more.
    assert SegmentRules().max_chars == 500
    assert code(call(sim, "SmsSend", PhoneNumbers=PHONE, Content="a" * 494)) == 1
    assert code(call(sim, "SmsSend", PhoneNumbers=PHONE, Content="a" * 495)) == -110
    with pytest.raises(InputError):
        check_length("a" * 495, sim.account.sign)


def test_zero_or_more_than_50_numbers_is_112(sim: Simulator) -> None:
    too_many = answer(call(sim, "SmsSend", PhoneNumbers=",".join(phones(51)), Content="hi"))
    assert too_many == {"code": -112, "message": "目标号码数量不符合要求"}
    assert code(call(sim, "SmsSend", PhoneNumbers=" , ,", Content="hi")) == -112
    assert code(call(sim, "SmsSend", PhoneNumbers=",".join(phones(50)), Content="hi")) == 50
    assert len(sim.accepted()) == 50


def test_invalid_numbers_get_smsid_0_and_are_not_billed(sim: Simulator) -> None:
    bad = ["12512346789", "1351234678", "+8613512346789", "abcdefghijk", "135123467890"]
    body = send(sim, [*bad, PHONE])
    assert body["code"] == "1"
    assert [n["smsid"] for n in body["smsidlist"]] == ["0"] * 5 + ["1355555551"]
    assert [m.phone for m in sim.accepted()] == [PHONE]
    assert sim.balance() == 1_000_000 - 1


def test_insufficient_balance_is_129_with_nothing_accepted() -> None:
    acct = Account(balance=5)
    with Simulator(accounts=[acct], manual_clock=True) as sim:
        assert answer(call(sim, "SmsSend", PhoneNumbers=",".join(phones(6)), Content="hi")) == {
            "code": -129,
            "message": "用户余额不足以支持本次发送",
        }
        assert sim.balance() == 5 and sim.accepted() == []
        assert code(call(sim, "SmsSend", PhoneNumbers=",".join(phones(5)), Content="hi")) == 5
        assert sim.balance() == 0


def test_daily_limit_is_126_counted_in_parts_per_beijing_day() -> None:
    acct = Account(daily_limit=4)
    with Simulator(accounts=[acct], manual_clock=True, clock_start=START) as sim:
        two_parts = "字" * 65
        assert code(call(sim, "SmsSend", PhoneNumbers=PHONE, Content=two_parts)) == 1
        assert code(call(sim, "SmsSend", PhoneNumbers="13900000001", Content=two_parts)) == 1
        assert answer(call(sim, "SmsSend", PhoneNumbers=PHONE, Content="hi")) == {
            "code": -126,
            "message": "超出当天最大发送量",
        }
        assert sim.balance() == 1_000_000 - 4
        sim.clock.advance(14 * 3600)  # past midnight, Beijing
        assert code(call(sim, "SmsSend", PhoneNumbers=PHONE, Content="hi")) == 1


def test_an_account_without_signature_is_132() -> None:
    with Simulator(accounts=[Account(sign="")], manual_clock=True) as sim:
        assert code(call(sim, "SmsGetSign")) == -132
        assert code(call(sim, "SmsSend", PhoneNumbers=PHONE, Content="hi")) == -132


def test_bad_addnum_and_timersend_are_102(sim: Simulator) -> None:
    assert send(sim, PHONE, AddNum="12a")["message"] == "请求参数不完整或有误:AddNum"
    assert send(sim, PHONE, TimerSend="tomorrow")["message"] == "请求参数不完整或有误:TimerSend"
    assert sim.accepted() == []


def test_addnum_length_is_not_capped(sim: Simulator) -> None:
    # The vendor text: 可扩展号码的长度是不定的 (the length an extension may have varies): no cap.
    long = "1234567890123"  # 14 + 13 = 27 digits with the sender number
    assert send(sim, PHONE, AddNum=long)["code"] == "1"
    assert [m.add_num for m in sim.accepted()] == [long]


@pytest.mark.parametrize("content", [" ", "\r\n", "\u3000\t", "\xa0 \n"])
def test_whitespace_only_content_is_110_as_the_client_refuses_it(
    sim: Simulator, content: str
) -> None:
    assert answer(call(sim, "SmsSend", PhoneNumbers=PHONE, Content=content)) == {
        "code": -110,
        "message": "短信内容长度不符合要求",
    }
    assert sim.accepted() == [] and sim.balance() == 1_000_000
    with sim.client() as client, pytest.raises(InputError, match="empty"):
        client.send([PHONE], content)


def test_a_number_twice_in_one_request_is_102_as_the_client_refuses_it(sim: Simulator) -> None:
    body = send(sim, [PHONE, "13900000001", f" {PHONE}"])
    assert body == {"code": -102, "message": "请求参数不完整或有误:PhoneNumbers"}
    assert sim.accepted() == [] and sim.balance() == 1_000_000
    with sim.client() as client, pytest.raises(InputError, match="more than once"):
        client.send([PHONE, "13900000001", PHONE], "您好")


# ----------------------------------------------------------------------------- billing


@pytest.mark.parametrize(
    ("body", "long_sms", "parts"),
    [
        ("字" * 64, "1", 1),  # 70 with 【广州首易】
        ("字" * 65, "1", 2),  # 71
        ("字" * 128, "1", 2),  # 134
        ("字" * 129, "1", 3),  # 135
        ("字" * 64, "0", 1),  # short messages hold 70 - 6 = 64 of body each
        ("字" * 65, "0", 2),
        ("字" * 129, "0", 3),
    ],
)
def test_billing_counts_parts_per_number_with_the_signature(
    sim: Simulator, body: str, long_sms: str, parts: int
) -> None:
    assert send(sim, ["13900000001", "13900000002"], body, LongSms=long_sms)["code"] == "2"
    assert sim.balance() == 1_000_000 - 2 * parts
    assert [m.parts for m in sim.accepted()] == [parts, parts]
    assert code(call(sim, "SmsGetBalance")) == 1_000_000 - 2 * parts


def test_accepted_records_what_was_accepted() -> None:
    acct = Account(corp_id=300009, login_name="ops", password="pw", sign="测试")
    with Simulator(seed=0, accounts=[acct], manual_clock=True, clock_start=START) as sim:
        send(sim, [PHONE, "bad"], "内容", AddNum="12")
        (m,) = sim.accepted()
    assert isinstance(m, AcceptedMessage)
    assert (m.phone, m.content, m.sms_id, m.corp_id, m.add_num, m.parts) == (
        PHONE,
        "内容",
        1355555551,
        300009,
        "12",
        1,
    )
    assert m.time == START.replace(tzinfo=BEIJING) and m.timer_send is None


# ----------------------------------------------------------------------------- reports


def test_reports_come_after_the_delay_and_only_once() -> None:
    with Simulator(manual_clock=True, report_delay=(1, 3), seed=3, reply_rate=0) as sim:
        for p in phones(5):
            sim.set_outcome(p, 12)
        send(sim, phones(5))
        assert reports(sim) == []
        sim.clock.advance(0.99)
        assert reports(sim) == []
        sim.clock.advance(2.01)
        got = reports(sim)
        assert sorted(int(r["smsid"]) for r in got) == list(range(1355555551, 1355555556))
        assert {r["status"] for r in got} == {"12"} and {r["exstatus"] for r in got} == {"DELIVRD"}
        times = [r["reporttime"] for r in got]
        assert times == sorted(times)  # oldest first
        assert reports(sim) == []


def test_at_most_50_reports_per_call_oldest_first() -> None:
    with Simulator(seed=0, manual_clock=True, report_delay=(1, 1), outcomes={12: 1}) as sim:
        send(sim, phones(50))
        send(sim, phones(10, 50))
        sim.clock.advance(1)
        first, second = reports(sim), reports(sim)
        assert len(first) == 50 and len(second) == 10 and reports(sim) == []
        ids = [int(r["smsid"]) for r in first + second]
        assert ids == list(range(1355555551, 1355555551 + 60))


def test_set_outcome_forces_status_or_no_report(sim: Simulator) -> None:
    sim.set_outcome("13900000001", 13, "EXPIRED")
    sim.set_outcome("13900000002", None)
    sim.set_outcome("13900000003", 7)
    send(sim, ["13900000001", "13900000002", "13900000003"])
    sim.clock.advance(10)
    got = {r["smsid"]: (r["status"], r["exstatus"]) for r in reports(sim)}
    assert got == {"1355555551": ("13", "EXPIRED"), "1355555553": ("7", "REJECTD")}
    with pytest.raises(InputError):
        sim.set_outcome(PHONE, 99)


def test_the_default_mix_is_mostly_delivered_with_some_failures_and_silence() -> None:
    with Simulator(manual_clock=True, seed=11, reply_rate=0) as sim:
        for i in range(20):
            send(sim, phones(50, 50 * i))
        sim.clock.advance(10)
        got: list[dict[str, Any]] = []
        while batch := reports(sim):
            got += batch
    statuses = Counter(r["status"] for r in got)
    assert 0.80 * 1000 < statuses["12"] < 0.95 * 1000
    assert statuses["13"] > 0 and statuses["7"] > 0 and statuses["11"] > 0
    assert 0 < 1000 - len(got) < 80  # a few never get a report


def test_outcomes_and_interim_reports_are_configurable() -> None:
    with Simulator(
        manual_clock=True, report_delay=(10, 10), outcomes={(13, "UNDELIV"): 1}, interim_share=1
    ) as sim:
        send(sim, PHONE)
        sim.clock.advance(9.99)
        assert [(r["status"], r["exstatus"]) for r in reports(sim)] == [("10", "")]
        sim.clock.advance(0.01)
        assert [(r["status"], r["exstatus"]) for r in reports(sim)] == [("13", "UNDELIV")]


def test_reports_go_to_the_account_that_sent() -> None:
    other = Account(corp_id=200001, login_name="b", password="pw")
    with Simulator(seed=0, manual_clock=True, report_delay=(1, 1), outcomes={12: 1}) as sim:
        sim.add_account(other)
        send(sim, PHONE)
        answer(call(sim, "SmsSend", account=other, PhoneNumbers=PHONE, Content="x"))
        sim.clock.advance(1)
        mine = answer(call(sim, "SmsGetReport", account=other))["details"]
        assert [r["smsid"] for r in mine] == ["1355555552"]
        assert [r["smsid"] for r in reports(sim)] == ["1355555551"]
        assert sim.balance(200001) == 1_000_000 - 1
        with pytest.raises(ConfigError):
            sim.add_account(corp_id=200001, login_name="b", password="again")


def test_a_real_clock_with_time_scale_delivers_reports_sooner() -> None:
    with Simulator(time_scale=100.0, report_delay=(1, 3), outcomes={12: 1}) as sim:
        send(sim, PHONE)
        deadline = time.monotonic() + 5
        got: list[dict[str, Any]] = []
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
            got = reports(sim)
    assert [r["status"] for r in got] == ["12"]


def test_the_same_seed_reproduces_everything() -> None:
    def run(seed: int) -> list[str]:
        with Simulator(
            manual_clock=True, clock_start=START, seed=seed, reply_rate=0.5, report_delay=(1, 60)
        ) as sim:
            for i in range(4):
                send(sim, phones(50, 50 * i))
            sim.clock.advance(3600)
            texts = [call(sim, "SmsGetReport").text for _ in range(5)]
            texts += [call(sim, "SmsGetRecv").text for _ in range(6)]
            return texts

    first = run(5)
    assert first == run(5)
    assert first != run(6)


def test_polling_faster_than_min_poll_interval_is_refused_with_189() -> None:
    # The vendor warns that polling too often gets an account disabled (建议30-300秒) and
    # names no code; the simulator answers -189 系统繁忙2 and hands nothing out.
    other = Account(corp_id=300004, login_name="b", password="pw")
    with Simulator(
        accounts=[Account(), other],
        manual_clock=True,
        clock_start=START,
        min_poll_interval=30,
        report_delay=(1, 1),
        outcomes={12: 1},
        seed=0,
    ) as sim:
        assert reports(sim) == []  # served: the first call of the account
        send(sim, PHONE)
        sim.clock.advance(29.9)
        assert answer(call(sim, "SmsGetReport")) == {"code": -189, "message": "系统繁忙2"}
        assert code(call(sim, "SmsGetRecv")) == 0  # each Method has its own pace
        assert code(call(sim, "SmsGetReport", account=other)) == 0  # and each account
        sim.clock.advance(0.1)  # 30 s after the last call served, not after the refused one
        assert [r["smsid"] for r in reports(sim)] == ["1355555551"]  # it waited, not lost
        assert code(call(sim, "SmsGetBalance")) == 1_000_000 - 1  # other Methods: no pace
        sim.clock.advance(30)
        with sim.client(backoff=(0, 0), max_retries=1) as client:
            assert client.get_reports() == []
            with pytest.raises(BusyError, match="-189"):
                client.get_reports()  # retried once, refused again: the client says busy


def test_polling_has_no_pace_by_default(sim: Simulator) -> None:
    assert [code(call(sim, "SmsGetReport")) for _ in range(3)] == [0, 0, 0]
    with pytest.raises(ConfigError):
        Simulator(min_poll_interval=-1)


# ----------------------------------------------------------------------------- replies


def test_recipients_reply_after_delivery_with_opt_out_words() -> None:
    with Simulator(
        manual_clock=True,
        report_delay=(1, 1),
        outcomes={12: 1},
        reply_rate=1.0,
        opt_out_share=1.0,
        reply_delay=(5, 5),
    ) as sim:
        send(sim, [PHONE], AddNum="88")
        sim.clock.advance(5.9)
        assert replies(sim) == []
        sim.clock.advance(0.1)
        (reply,) = replies(sim)
    assert reply["phonenumber"] == PHONE and reply["addnum"] == "88"
    assert reply["recvnumber"] == "1069117916400488"
    assert reply["content"] in {"R", "T", "TD", "退订", "td"}


def test_share_of_replies_and_opt_outs_follow_the_settings() -> None:
    with Simulator(
        manual_clock=True, seed=2, outcomes={12: 1}, reply_rate=0.5, opt_out_share=0.3
    ) as sim:
        for i in range(4):
            send(sim, phones(50, 50 * i))
        sim.clock.advance(3600)
        got: list[dict[str, Any]] = []
        while batch := replies(sim):
            assert len(batch) <= 20
            got += batch
    assert 70 < len(got) < 130
    opt_outs = [r for r in got if r["content"] in {"R", "T", "TD", "退订", "td"}]
    assert 0.15 * len(got) < len(opt_outs) < 0.45 * len(got)
    assert all(r["recvnumber"] == "10691179164004" for r in got)


def test_undelivered_recipients_do_not_reply() -> None:
    with Simulator(manual_clock=True, outcomes={13: 1}, reply_rate=1.0) as sim:
        send(sim, phones(10))
        sim.clock.advance(3600)
        assert replies(sim) == []


def test_at_most_20_replies_per_call_once_only(sim: Simulator) -> None:
    for i in range(25):
        sim.inject_reply(PHONE, f"第{i}条")
    first, second = replies(sim), replies(sim)
    assert len(first) == 20 and len(second) == 5 and replies(sim) == []
    assert [r["content"] for r in first + second] == [f"第{i}条" for i in range(25)]


def test_inject_reply_carries_addnum_and_recv_time(sim: Simulator) -> None:
    sim.inject_reply(PHONE, "TD", add_num="7", recv_time=datetime(2024, 5, 1, 9, 30))
    sim.inject_reply("13900000001", "好的")
    got = replies(sim)
    assert got[0] == {
        "phonenumber": PHONE,
        "recvnumber": "106911791640047",
        "addnum": "7",
        "recvtime": "2024-05-01 09:30:00",
        "content": "TD",
    }
    assert got[1]["recvtime"] == "2024-05-01 10:00:00"  # sim now


# ----------------------------------------------------------------------------- TimerSend, cancel


def _at(delta: timedelta) -> str:
    return (START + delta).strftime("%Y-%m-%d %H:%M:%S")


def test_timersend_holds_reports_until_its_time(sim: Simulator) -> None:
    sim.set_outcome(PHONE, 12)
    send(sim, PHONE, TimerSend=_at(timedelta(hours=1)))
    (m,) = sim.accepted()
    assert m.timer_send == (START + timedelta(hours=1)).replace(tzinfo=BEIJING)
    sim.clock.advance(3599)
    assert reports(sim) == []
    sim.clock.advance(1 + 3)
    assert [r["smsid"] for r in reports(sim)] == ["1355555551"]
    assert answer(call(sim, "SmsCancel", SmsID="1355555551"))["details"] == [
        {"smsid": 1355555551, "status": -142}
    ]


def test_timersend_in_the_past_sends_now(sim: Simulator) -> None:
    sim.set_outcome(PHONE, 12)
    send(sim, PHONE, TimerSend=_at(-timedelta(days=1)))
    assert code(call(sim, "SmsCancel", SmsID="1355555551")) == 0
    sim.clock.advance(3)
    assert len(reports(sim)) == 1


def test_cancel_refunds_scheduled_messages_and_they_never_report(sim: Simulator) -> None:
    for p in phones(3):
        sim.set_outcome(p, 12)
    send(sim, phones(3), "字" * 65, TimerSend=_at(timedelta(hours=2)))
    assert sim.balance() == 1_000_000 - 6
    body = answer(call(sim, "SmsCancel", SmsID="1355555551,1355555553,1355555551"))
    assert body["code"] == 2 and body["message"] == "成功取消 2条短信"
    assert [d["status"] for d in body["details"]] == [1, 1, -142]  # twice: already cancelled
    assert sim.balance() == 1_000_000 - 2
    sim.clock.advance(3 * 3600)
    assert [r["smsid"] for r in reports(sim)] == ["1355555552"]


def test_cancel_refuses_unknown_foreign_and_too_many_ids() -> None:
    other = Account(corp_id=300004, login_name="b", password="pw")
    with Simulator(
        seed=0, accounts=[Account(), other], manual_clock=True, clock_start=START
    ) as sim:
        answer(
            call(sim, "SmsSend", account=other, PhoneNumbers=PHONE, Content="x",
                 TimerSend=_at(timedelta(hours=1)))
        )  # fmt: skip
        body = answer(call(sim, "SmsCancel", SmsID="1355555551,42,abc"))
        assert body["code"] == 0
        assert [d["status"] for d in body["details"]] == [-142, -142, -142]
        too_many = ",".join(str(1355555551 + i) for i in range(51))
        assert answer(call(sim, "SmsCancel", SmsID=too_many)) == {
            "code": -143,
            "message": "短信ID(SmsID)数量超出每次处理限额",
        }
        assert code(call(sim, "SmsCancel")) == -102
        assert code(call(sim, "SmsCancel", account=other, SmsID="1355555551")) == 1


# ----------------------------------------------------------------------------- faults


def test_busy_answers_190_and_accepts_nothing(sim: Simulator) -> None:
    sim.inject("SmsSend", "busy", times=1)
    assert answer(call(sim, "SmsSend", PhoneNumbers=PHONE, Content="x")) == {
        "code": -190,
        "message": "系统繁忙1",
    }
    assert sim.accepted() == [] and sim.balance() == 1_000_000
    assert code(call(sim, "SmsSend", PhoneNumbers=PHONE, Content="x")) == 1
    sim.inject("*", "busy", code=-189)
    assert answer(call(sim, "SmsGetBalance")) == {"code": -189, "message": "系统繁忙2"}


def test_http500_answers_an_html_page_and_accepts_nothing(sim: Simulator) -> None:
    sim.inject("SmsSend", "http500")
    resp = call(sim, "SmsSend", PhoneNumbers=PHONE, Content="x")
    assert resp.status_code == 500 and resp.headers["Content-Type"].startswith("text/html")
    assert "<html" in resp.text
    assert sim.accepted() == []
    assert code(call(sim, "SmsGetBalance")) == 1_000_000  # other methods are untouched


def test_drop_after_accept_accepts_bills_and_sends_no_byte(sim: Simulator) -> None:
    sim.inject("SmsSend", "drop_after_accept", times=1)
    with requests.Session() as http:
        with pytest.raises(requests.ConnectionError):
            call(sim, "SmsSend", PhoneNumbers=PHONE, Content="x", session=http)
        assert [m.phone for m in sim.accepted()] == [PHONE]
        assert sim.balance() == 1_000_000 - 1
        # The same session reconnects for the next request.
        assert code(call(sim, "SmsGetBalance", session=http)) == 1_000_000 - 1


def test_drop_after_accept_on_reports_marks_them_fetched(sim: Simulator) -> None:
    sim.set_outcome(PHONE, 12)
    send(sim, PHONE)
    sim.clock.advance(5)
    sim.inject("SmsGetReport", "drop_after_accept", times=1)
    with pytest.raises(requests.ConnectionError):
        call(sim, "SmsGetReport")
    assert reports(sim) == []  # handed out once, lost in transit


def test_slow_performs_then_answers_after_the_client_gave_up(sim: Simulator) -> None:
    sim.inject("SmsSend", "slow", delay=1.0, times=1)
    with pytest.raises(requests.ReadTimeout):
        call(sim, "SmsSend", PhoneNumbers=PHONE, Content="x", timeout=0.2)
    assert [m.phone for m in sim.accepted()] == [PHONE]


def test_truncated_sends_half_the_body_with_a_matching_length(sim: Simulator) -> None:
    full = call(sim, "SmsGetBalance").text
    sim.inject("SmsGetBalance", "truncated", times=1)
    resp = call(sim, "SmsGetBalance")
    assert resp.status_code == 200 and resp.text == full[: len(full) // 2]
    assert int(resp.headers["Content-Length"]) == len(resp.content)
    with pytest.raises(ValueError):
        parse_body(resp.text)
    sim.inject("SmsSend", "truncated", times=1)
    call(sim, "SmsSend", PhoneNumbers=PHONE, Content="x")
    assert len(sim.accepted()) == 1


def test_malformed_performs_and_answers_html_with_200(sim: Simulator) -> None:
    sim.inject("SmsSend", "malformed")
    resp = call(sim, "SmsSend", PhoneNumbers=PHONE, Content="x")
    assert resp.status_code == 200 and "Runtime Error" in resp.text
    with pytest.raises(ValueError):
        parse_body(resp.text)
    assert len(sim.accepted()) == 1


def test_latency_delays_a_normal_answer(sim: Simulator) -> None:
    sim.inject("SmsGetBalance", "latency", delay=0.3)
    sim.inject("SmsGetBalance", "busy", times=1)
    t0 = time.monotonic()
    assert code(call(sim, "SmsGetBalance")) == -190  # latency stacks with another fault
    assert code(call(sim, "SmsGetBalance")) == 1_000_000
    assert time.monotonic() - t0 >= 0.6


def test_times_and_probability_limit_a_fault(sim: Simulator) -> None:
    fault = sim.inject("SmsGetSign", "busy", times=2)
    codes = [code(call(sim, "SmsGetSign")) for _ in range(4)]
    assert codes == [-190, -190, 0, 0] and fault.triggered == 2
    sim.clear_faults()
    sim.inject("SmsGetBalance", "busy", probability=0.5)
    codes = [code(call(sim, "SmsGetBalance")) for _ in range(40)]
    assert 5 < codes.count(-190) < 35
    sim.clear_faults()
    assert code(call(sim, "SmsGetBalance")) == 1_000_000


def test_inject_refuses_unknown_names(sim: Simulator) -> None:
    with pytest.raises(InputError, match="fault"):
        sim.inject("SmsSend", "explode")
    with pytest.raises(InputError, match="method"):
        sim.inject("SmsSnd", "busy")
    with pytest.raises(InputError):
        sim.inject("SmsSend", "busy", probability=1.5)
    with pytest.raises(InputError):
        sim.inject("SmsSend", "slow", code=-190)


# ----------------------------------------------------------------------------- /_sim endpoints


def test_sim_endpoints_report_and_control_over_http(sim: Simulator) -> None:
    base = sim.url.removesuffix("/SDK3/Sms")
    send(sim, [PHONE, "x"])
    accepted = requests.get(f"{base}/_sim/accepted", timeout=10).json()
    assert accepted == [
        {
            "phone": PHONE,
            "content": "您好",
            "sms_id": 1355555551,
            "corp_id": 300003,
            "time": "2024-05-01 10:00:00",
            "timer_send": None,
            "add_num": "",
            "parts": 1,
        }
    ]
    resp = requests.post(
        f"{base}/_sim/fault", json={"method": "SmsGetBalance", "fault": "busy", "times": 1},
        timeout=10,
    )  # fmt: skip
    assert resp.status_code == 200 and resp.json()["fault"]["times"] == 1
    assert code(call(sim, "SmsGetBalance")) == -190
    requests.post(f"{base}/_sim/fault", json={"method": "*", "fault": "busy"}, timeout=10)
    assert code(call(sim, "SmsGetSign")) == -190
    assert requests.post(f"{base}/_sim/clear_faults", json={}, timeout=10).json() == {"ok": True}
    assert code(call(sim, "SmsGetSign")) == 0
    requests.post(f"{base}/_sim/reply", json={"phone": PHONE, "content": "T"}, timeout=10)
    assert [r["content"] for r in replies(sim)] == ["T"]
    stats = requests.get(f"{base}/_sim/stats", timeout=10).json()
    assert stats["accepted"] == 1
    assert stats["requests"]["SmsGetBalance"] == 1 and stats["requests"]["SmsGetSign"] == 2
    assert stats["requests"]["total"] == 5 == sim.requests["total"]
    bad = requests.post(f"{base}/_sim/fault", json={"fault": "nope"}, timeout=10)
    assert bad.status_code == 400 and "nope" in bad.json()["error"]
    assert requests.get(f"{base}/_sim/nothing", timeout=10).status_code == 404
    assert requests.get(f"{base}/elsewhere", timeout=10).status_code == 404


# ----------------------------------------------------------------------------- server


def test_requests_counts_every_method(sim: Simulator) -> None:
    call(sim, "SmsGetBalance")
    call(sim, "SmsGetBalance")
    call(sim, "Bogus")
    counts = sim.requests
    assert counts["SmsGetBalance"] == 2 and counts["other"] == 1 and counts["total"] == 3


def test_concurrent_senders_get_unique_ids_and_exact_billing() -> None:
    with Simulator(manual_clock=True) as sim:

        def worker(w: int) -> None:
            with requests.Session() as http:
                for i in range(10):
                    nums = phones(5, 1000 * w + 5 * i)
                    r = call(sim, "SmsSend", PhoneNumbers=",".join(nums), Content="x",
                             session=http)  # fmt: skip
                    assert code(r) == 5

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = [m.sms_id for m in sim.accepted()]
        assert len(ids) == 400 == len(set(ids))
        assert sim.balance() == 1_000_000 - 400
        assert sim.requests["SmsSend"] == 80


def test_stop_closes_kept_alive_connections_too() -> None:
    sim = Simulator(manual_clock=True).start()
    with requests.Session() as http:
        assert code(call(sim, "SmsGetBalance", session=http)) == 1_000_000
        url = sim.url
        sim.stop()
        assert not sim.running
        with pytest.raises(requests.ConnectionError):
            http.post(url, data=sim.signed_params("SmsGetBalance"), timeout=2)


def test_repr_hides_the_password() -> None:
    acct = Account(password="s3cret-pw")
    with Simulator(accounts=[acct], manual_clock=True) as sim:
        assert "s3cret-pw" not in repr(acct) and "s3cret-pw" not in repr(sim)
        assert sim.account.password == "s3cret-pw"  # rehearsal credentials are readable
        assert sim.env()["MOBSET_PASSWORD"] == "s3cret-pw"


def test_only_loopback_addresses_are_served() -> None:
    with pytest.raises(ConfigError, match="loopback"):
        Simulator(host="0.0.0.0")
    with pytest.raises(ConfigError, match="loopback"):
        Simulator(host="192.168.1.10")
    with Simulator(host="localhost") as sim:
        assert sim.url.startswith("http://127.0.0.1:")


def test_main_refuses_a_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "0.0.0.0", "--port", "0"]) == 2
    assert "loopback" in capsys.readouterr().err


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError):
        Simulator(style="pretty")
    with pytest.raises(ConfigError):
        Simulator(report_delay=(3, 1))
    with pytest.raises(ConfigError):
        Simulator(outcomes={99: 1.0})
    with pytest.raises(ConfigError):
        Account(balance=-1)
    with pytest.raises(ConfigError):
        Simulator(accounts=[])
    with pytest.raises(InputError):
        Simulator(manual_clock=True).clock.advance(-1)
    with pytest.raises(ConfigError, match="not running"):
        _ = Simulator().url


@pytest.mark.slow
def test_process_mode_prints_url_and_credentials_and_stops_on_sigterm() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBSET_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mobset_campaign.simulator", "--port", "0", "--corp-id",
         "300123", "--login-name", "rehearsal", "--password", "pw-1", "--balance", "77",
         "--fault", "SmsGetBalance:busy:1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(5)]
        assert lines[0].startswith("mobset simulator listening on http://127.0.0.1:")
        url = lines[0].rsplit(" ", 1)[1]
        assert url.endswith("/SDK3/Sms")
        assert lines[1:] == [
            "export MOBSET_CORP_ID=300123",
            "export MOBSET_LOGIN_NAME=rehearsal",
            "export MOBSET_PASSWORD=pw-1",
            f"export MOBSET_BASE_URL={url}",
        ]
        ts = format_timestamp()
        params = {"CorpID": "300123", "LoginName": "rehearsal", "TimeStamp": ts,
                  "SecretKey": secret_key(300123, "pw-1", ts), "Methods": "SmsGetBalance"}  # fmt: skip
        assert requests.post(url, data=params, timeout=10).json()["Code"] == -190
        assert requests.post(url, data=params, timeout=10).json()["Code"] == "77"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()


def test_docstring_examples_run() -> None:
    from mobset_campaign.simulator import bodies, model, server

    for module in (bodies, model, server):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


# ----------------------------------------------------------------------------- through the client


@pytest.mark.parametrize("style", ["vendor", "strict"])
def test_the_client_reads_every_answer_of_the_simulator(style: str) -> None:
    with Simulator(
        seed=0, manual_clock=True, clock_start=START, style=style, report_delay=(1, 1), reply_rate=0
    ) as sim:
        sim.set_outcome(PHONE, 12)
        with sim.client(backoff=(0, 0)) as client:
            sent = client.send([PHONE, "13900000001", "10000000000"], "您好", add_num="5")
            assert [n.sms_id for n in sent.numbers] == [1355555551, 1355555552, 0]
            later = client.send(["13900000002"], "稍后", timer_send=START + timedelta(hours=1))
            cancelled = client.cancel([later.numbers[0].sms_id, 42])
            assert cancelled.code == 1
            assert [(d.sms_id, d.status) for d in cancelled.details] == [
                (1355555553, 1),
                (42, -142),
            ]
            sim.clock.advance(1)
            (report,) = [r for r in client.get_reports() if r.sms_id == 1355555551]
            assert (report.status, report.ex_status) == (12, "DELIVRD")
            sim.inject_reply(PHONE, "TD", add_num="5")
            (reply,) = client.get_replies()
            assert (reply.phone, reply.recv_number, reply.content) == (
                PHONE,
                "106911791640045",
                "TD",
            )
            assert client.get_balance() == 1_000_000 - 2 == sim.balance()
            assert client.get_sign() == "广州首易"


def test_the_client_sees_a_dropped_send_as_ambiguous_and_it_was_accepted_once() -> None:
    from mobset_campaign.errors import AmbiguousSendError

    with Simulator(manual_clock=True) as sim, sim.client(backoff=(0, 0)) as client:
        sim.inject("SmsSend", "drop_after_accept", times=1)
        with pytest.raises(AmbiguousSendError):
            client.send([PHONE], "x")
        sim.inject("SmsSend", "slow", delay=1.0, times=1)
        impatient = sim.client(backoff=(0, 0), timeout=(2, 0.2))
        with impatient, pytest.raises(AmbiguousSendError):
            impatient.send(["13900000001"], "x")
        assert [m.phone for m in sim.accepted()] == [PHONE, "13900000001"]


def test_the_client_retries_busy_and_the_number_is_accepted_once() -> None:
    with Simulator(seed=0, manual_clock=True) as sim, sim.client(backoff=(0, 0)) as client:
        fault = sim.inject("SmsSend", "busy", times=2)
        result = client.send([PHONE], "x")
        assert [n.sms_id for n in result.accepted] == [1355555551]
        assert fault.triggered == 2 and len(sim.accepted()) == 1
        assert sim.requests["SmsSend"] == 3


def test_short_id_list_accepts_every_number_but_answers_fewer_ids() -> None:
    with Simulator(seed=5) as sim, sim.client() as client:
        sim.inject("SmsSend", "short_id_list", times=1)
        result = client.send(["13512346789", "13900000001"], "少一个")
        assert [n.phone for n in result.numbers] == ["13512346789"]
        assert sorted(m.phone for m in sim.accepted()) == ["13512346789", "13900000001"]


def test_unseeded_simulators_never_reuse_sms_ids() -> None:
    ids: list[int] = []
    for _ in range(2):
        with Simulator() as sim, sim.client() as client:
            ids.append(client.send(["13512346789"], "编号").numbers[0].sms_id)
    assert ids[0] != ids[1]


def test_cli_fault_spec_takes_times_and_delay() -> None:
    from mobset_campaign.simulator.cli import _parse_fault

    assert _parse_fault("SmsSend:busy:2") == ("SmsSend", "busy", 2, None)
    assert _parse_fault("*:latency::0.05") == ("*", "latency", None, 0.05)
    assert _parse_fault("SmsSend:slow:1:30") == ("SmsSend", "slow", 1, 30.0)
    with pytest.raises(InputError, match="METHOD:FAULT"):
        _parse_fault("SmsSend")
