"""MobsetClient: parsing of the vendor's bodies, signing, retries, secrets, against the simulator."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from mobset_campaign import _protocol
from mobset_campaign.answers import (
    CancelDetail,
    Reply,
    Report,
    SentNumber,
    parse_cancel,
    parse_replies,
    parse_reports,
    parse_send,
)
from mobset_campaign.client import MobsetClient
from mobset_campaign.errors import (
    AmbiguousSendError,
    AuthError,
    BalanceError,
    BusyError,
    ConfigError,
    ContentError,
    GatewayError,
    InputError,
    LimitError,
    ProtocolError,
    TransportError,
)
from mobset_campaign.simulator import Account, Simulator

PHONE = "13512346789"

# The response examples of the vendor text, byte for byte (section 4).
VENDOR_SEND_OK = """{ 
 "Code": "1", 
 "Message": "成功提交 1条短信", 
 "SmsIdList": [{"PhoneNumber": "13512346789", "SmsId": "1355555551"}] 
} """
VENDOR_SEND_ERR = '{  "Code" : -110,  "Message" : "短信内容长度不符合要求"} '
VENDOR_RECV_OK = """{ 
 "code": "2",                                                      
 "Message": "取上行短信成功", 
 "Details": [{ 
  "PhoneNumber": "13512346789", 
  "RecvNumber": "10691179164004", 
  "AddNum": "", 
  "RecvTime": "2018-07-17 12:00:00", 
  "Content": "收到！" 
 }, { 
  "PhoneNumber": "13512346789", 
  "RecvNumber": "10691179164004", 
   "AddNum": "", 
  "RecvTime": "2018-07-17 12:00:00", 
  "Content": "收到 1！" 
 }] 
} """
VENDOR_RECV_ERR = '{  "Code" : -102,  "Message" : "请求参数不完整或有误:CorpID"} '
VENDOR_REPORT_OK = """{ 
 "code": "1", 
 "Message": "取短信状态报告成功", 
 "Details": [{ 
  "SmsId": "1355555551", 
  "Status": "12", 
  "ReportTime": "2018-07-20 16:48:21", 
  "ExStatus": "DELIVRD" 
 }] 
} """
VENDOR_AUTH_ERR = '{  "Code" : -105,  "Message" : "帐号验证失败"} '
VENDOR_BALANCE_OK = '{"Code":"269","Message":"取短信余额成功"} '
VENDOR_SIGN_OK = '{"Code":"0","Message":"取签名成功","Sign":"广州首易",} '
VENDOR_SIGN_ERR = '{  "Code" : -103,  "Message" : "帐号不存在"} '
VENDOR_CANCEL_OK = """{ 
    "Code": 2, 
    "Message": "成功取消 2条短信", 
    "Details": [ 
        { 
            "SmsID": 500004690, 
            "Status": -142 
        }, 
        { 
            "SmsID": 500004689, 
            "Status": 1 
        }, 
        { 
            "SmsID": 500004688, 
            "Status": 1 
        }, 
      ] 
} """


@pytest.fixture()
def sim() -> Iterator[Simulator]:
    with Simulator(seed=7, manual_clock=True) as s:
        yield s


@pytest.fixture()
def client(sim: Simulator) -> Iterator[MobsetClient]:
    c = sim.client(backoff=(0, 0), timeout=(2, 2))
    yield c
    c.close()


# ------------------------------------------------------------------ the vendor's examples


def test_vendor_send_example() -> None:
    result = parse_send(VENDOR_SEND_OK)
    assert result.code == 1
    assert result.message == "成功提交 1条短信"
    assert result.numbers == [SentNumber("13512346789", 1355555551)]


def test_vendor_recv_example() -> None:
    replies = parse_replies(VENDOR_RECV_OK)
    assert [r.content for r in replies] == ["收到！", "收到 1！"]
    first = replies[0]
    assert first == Reply(
        phone="13512346789",
        recv_number="10691179164004",
        add_num="",
        recv_time=datetime(2018, 7, 17, 12, 0, tzinfo=_protocol.BEIJING),
        content="收到！",
    )


def test_vendor_report_example() -> None:
    assert parse_reports(VENDOR_REPORT_OK) == [
        Report(
            1355555551, 12, datetime(2018, 7, 20, 16, 48, 21, tzinfo=_protocol.BEIJING), "DELIVRD"
        )
    ]


def test_vendor_cancel_example_with_trailing_comma() -> None:
    result = parse_cancel(VENDOR_CANCEL_OK)
    assert result.code == 2  # quirk 9: Code counts the successes, Details lists every id
    assert result.details == [
        CancelDetail(500004690, -142),
        CancelDetail(500004689, 1),
        CancelDetail(500004688, 1),
    ]
    assert [d.cancelled for d in result.details] == [False, True, True]


@pytest.mark.parametrize(
    ("body", "parse", "cls", "code"),
    [
        (VENDOR_SEND_ERR, parse_send, ContentError, -110),
        (VENDOR_RECV_ERR, parse_replies, GatewayError, -102),
        (VENDOR_AUTH_ERR, parse_reports, AuthError, -105),
        (VENDOR_SIGN_ERR, parse_reports, AuthError, -103),
    ],
)
def test_vendor_error_examples(body: str, parse, cls: type, code: int) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(cls) as info:
        parse(body)
    assert info.value.code == code
    assert info.value.body == body
    assert str(code) in str(info.value)


def test_vendor_balance_and_sign_examples(sim: Simulator, client: MobsetClient) -> None:
    from mobset_campaign.answers import decode as _decode

    assert _decode(VENDOR_BALANCE_OK, "SmsGetBalance")["code"] == 269
    assert _decode(VENDOR_SIGN_OK, "SmsGetSign")["sign"] == "广州首易"


def test_unreadable_bodies_are_protocol_errors_with_the_raw_text() -> None:
    for junk in ["<html>500</html>", '{"Message": "no code"}', "[1, 2]", '{"Code": "x"}', ""]:
        with pytest.raises(ProtocolError) as info:
            parse_reports(junk)
        assert info.value.body == junk


# ------------------------------------------------------------------ tolerant parsing


def _quirky(value: object, *, key_case: str, trailing: bool) -> str:
    """Render JSON the way the vendor might: keys in some case, optional trailing commas."""

    def key(k: str) -> str:
        return {"lower": k.lower(), "upper": k.upper(), "same": k}[key_case]

    if isinstance(value, dict):
        items = [
            f"{json.dumps(key(k), ensure_ascii=False)}: {_quirky(v, key_case=key_case, trailing=trailing)}"
            for k, v in value.items()
        ]
        return "{" + ", ".join(items) + (", }" if trailing and items else "}")
    if isinstance(value, list):
        items = [_quirky(v, key_case=key_case, trailing=trailing) for v in value]
        return "[" + ", ".join(items) + (",]" if trailing and items else "]")
    return json.dumps(value, ensure_ascii=False)


report_items = st.lists(
    st.fixed_dictionaries(
        {
            "SmsId": st.integers(1, 10**12),
            "Status": st.sampled_from([0, 1, 2, 7, 10, 11, 12, 13, 15]),
            "ReportTime": st.just("2026-11-25 10:00:00"),
            "ExStatus": st.sampled_from(["DELIVRD", "UNDELIV", "", "含逗号,}"]),
        }
    ),
    max_size=5,
)


@given(
    items=report_items,
    key_case=st.sampled_from(["lower", "upper", "same"]),
    trailing=st.booleans(),
    as_string=st.booleans(),
)
def test_quirky_report_bodies_parse_to_the_same_objects(
    items: list[dict[str, object]], key_case: str, trailing: bool, as_string: bool
) -> None:
    def conv(v: object) -> object:
        return str(v) if as_string and isinstance(v, int) else v

    strict = json.dumps({"Code": len(items), "Message": "ok", "Details": items})
    quirky_value = {
        "Code": conv(len(items)),
        "Message": "ok",
        "Details": [{k: conv(v) for k, v in i.items()} for i in items],
    }
    quirky = _quirky(quirky_value, key_case=key_case, trailing=trailing)
    assert parse_reports(quirky) == parse_reports(strict)


# ------------------------------------------------------------------ construction and signing


def test_host_is_chosen_from_the_corp_id() -> None:
    assert MobsetClient(150000, "u", "p").base_url == "https://sms.mobset.com:843/SDK3/Sms"
    assert MobsetClient("250000", "u", "p").base_url == "https://sms2.mobset.com:843/SDK3/Sms"
    assert (
        MobsetClient(300003, "u", "p", use_https=False).base_url
        == "http://sms3.mobset.com:8095/SDK3/Sms"
    )
    assert (
        MobsetClient(999999, "u", "p", base_url="http://127.0.0.1:1").base_url
        == "http://127.0.0.1:1/SDK3/Sms"
    )


def test_corp_id_outside_the_ranges_needs_a_base_url() -> None:
    with pytest.raises(ConfigError, match="base_url"):
        MobsetClient(999999, "u", "p")
    with pytest.raises(ConfigError, match="not a number"):
        MobsetClient("abc", "u", "p")


def test_from_env_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBSET_CORP_ID", "300003")
    with pytest.raises(ConfigError) as info:
        MobsetClient.from_env()
    assert "MOBSET_LOGIN_NAME" in str(info.value) and "MOBSET_PASSWORD" in str(info.value)
    assert "mobset-campaign simulator" in str(info.value)
    monkeypatch.setenv("MOBSET_LOGIN_NAME", "wuww")
    monkeypatch.setenv("MOBSET_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("MOBSET_BASE_URL", "http://127.0.0.1:9/SDK3/Sms")
    client = MobsetClient.from_env()
    assert (client.corp_id, client.login_name, client.base_url) == (
        300003,
        "wuww",
        "http://127.0.0.1:9/SDK3/Sms",
    )


def test_request_is_signed_in_beijing_time_with_methods_before_content() -> None:
    client = MobsetClient(300003, "wuww", "pw", base_url="http://127.0.0.1:9")
    params = client._signed("SmsSend", {"PhoneNumbers": PHONE, "Content": "hi"})
    keys = list(params)
    assert keys.index("Methods") < keys.index("Content")
    stamp = params["TimeStamp"]
    assert len(stamp) == 14
    assert params["SecretKey"] == hashlib.md5(f"300003pw{stamp}".encode()).hexdigest()
    sent = _protocol.parse_timestamp(stamp)
    assert sent is not None
    assert abs(sent - datetime.now(_protocol.BEIJING)) < timedelta(seconds=5)
    assert "pw" not in params.values()


def test_timestamp_is_beijing_time_in_any_machine_zone() -> None:
    code = textwrap.dedent(
        """
        from datetime import datetime, timezone, timedelta
        from mobset_campaign.client import MobsetClient
        stamp = MobsetClient(300003, "u", "p")._signed("SmsGetSign", {})["TimeStamp"]
        expected = datetime.now(timezone(timedelta(hours=8)))
        got = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=timezone(timedelta(hours=8)))
        assert abs((got - expected).total_seconds()) < 5, (stamp, expected)
        print("ok")
        """
    )
    env = {**os.environ, "TZ": "America/New_York"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# ------------------------------------------------------------------ the six functions


def test_send_reports_replies_balance_sign_cancel(sim: Simulator, client: MobsetClient) -> None:
    assert client.get_sign() == "广州首易"
    before = client.get_balance()
    result = client.send([PHONE, "13900000000", "10000000000"], "您好，测试短信")
    assert result.code == 2
    assert [n.phone for n in result.numbers] == [PHONE, "13900000000", "10000000000"]
    assert result.numbers[2].sms_id == 0 and len(result.accepted) == 2
    assert client.get_balance() == before - 2
    sim.clock.advance(3600)
    reports = client.get_reports()
    assert {r.sms_id for r in reports} <= {n.sms_id for n in result.accepted}
    assert all(isinstance(r.status, int) for r in reports)
    assert client.get_reports() == []  # each report is handed out once only
    sim.inject_reply(PHONE, "收到，谢谢")
    replies = client.get_replies()
    assert [(r.phone, r.content) for r in replies][-1] == (PHONE, "收到，谢谢")


def test_scheduled_send_can_be_cancelled(sim: Simulator, client: MobsetClient) -> None:
    later = datetime.now(_protocol.BEIJING) + timedelta(hours=2)
    result = client.send([PHONE], "明天见", timer_send=later)
    sms_id = result.numbers[0].sms_id
    cancelled = client.cancel([sms_id, 42])
    assert cancelled.code == 1
    assert {d.sms_id: d.status for d in cancelled.details} == {sms_id: 1, 42: -142}


def test_send_refuses_bad_requests_before_any_request(sim: Simulator, client: MobsetClient) -> None:
    before = sim.requests.get("total", 0) if isinstance(sim.requests, dict) else None
    with pytest.raises(InputError, match="at most 50"):
        client.send([f"1350000{i:04d}" for i in range(51)], "hi")
    with pytest.raises(InputError, match="more than once"):
        client.send([PHONE, PHONE], "hi")
    with pytest.raises(InputError, match="empty"):
        client.send([PHONE], "  ")
    with pytest.raises(InputError, match="timer_send"):
        client.send([PHONE], "hi", timer_send="tomorrow")
    with pytest.raises(InputError, match="at most 50"):
        client.cancel(list(range(1, 52)))
    assert sim.accepted() == []
    if before is not None:
        assert sim.requests.get("total", 0) == before


def test_negative_codes_raise_their_classes(sim: Simulator) -> None:
    poor = Account(corp_id=300009, login_name="poor", password="pw", balance=0)
    sim.add_account(poor)
    with MobsetClient(poor.corp_id, poor.login_name, poor.password, base_url=sim.url) as c:
        with pytest.raises(BalanceError) as info:
            c.send([PHONE], "hi")
        assert info.value.code in (-128, -129) and info.value.method == "SmsSend"
    with MobsetClient(300003, sim.account.login_name, "wrong-password", base_url=sim.url) as c:
        with pytest.raises(AuthError) as auth:
            c.get_balance()
        assert auth.value.code == -105
    with MobsetClient(399999, "nobody", "pw", base_url=sim.url) as c, pytest.raises(AuthError):
        c.get_sign()
    with sim.client() as c, pytest.raises(ContentError):
        c.send([PHONE], "长" * 1000)


def test_daily_limit_is_a_limit_error(sim: Simulator) -> None:
    capped = Account(corp_id=300010, login_name="capped", password="pw", daily_limit=1)
    sim.add_account(capped)
    with MobsetClient(capped.corp_id, capped.login_name, capped.password, base_url=sim.url) as c:
        c.send([PHONE], "one")
        with pytest.raises(LimitError) as info:
            c.send(["13900000000"], "two")
    assert info.value.code == -126


# ------------------------------------------------------------------ retry rules


def test_busy_is_retried_and_accepted_once(sim: Simulator, client: MobsetClient) -> None:
    sim.inject("SmsSend", "busy", times=2)
    result = client.send([PHONE], "忙也要发")
    assert len(result.accepted) == 1
    assert [m.phone for m in sim.accepted()] == [PHONE]


def test_busy_for_too_long_raises_busy_error(sim: Simulator, client: MobsetClient) -> None:
    sim.inject("SmsGetBalance", "busy", times=10)
    with pytest.raises(BusyError):
        client.get_balance()


@pytest.mark.parametrize("fault", ["drop_after_accept", "http500", "truncated", "malformed"])
def test_ambiguous_send_is_never_retried(sim: Simulator, client: MobsetClient, fault: str) -> None:
    sim.inject("SmsSend", fault, times=1)
    with pytest.raises(AmbiguousSendError) as info:
        client.send([PHONE, "13900000000"], "只能发一次")
    assert info.value.phones == [PHONE, "13900000000"]
    accepted = [m.phone for m in sim.accepted()]
    # one attempt reached the gateway; the client never asked again
    assert sorted(accepted) in ([], sorted([PHONE, "13900000000"]))
    assert len(accepted) == len(set(accepted))
    assert sim.requests["SmsSend"] == 1


def test_slow_send_answer_is_ambiguous_not_retried(sim: Simulator) -> None:
    sim.inject("SmsSend", "slow", times=1, delay=1.5)
    with sim.client(timeout=(2, 0.3), backoff=(0, 0)) as c, pytest.raises(AmbiguousSendError):
        c.send([PHONE], "慢")
    assert sim.requests["SmsSend"] == 1
    assert [m.phone for m in sim.accepted()] == [PHONE]  # accepted, though the client never heard


def test_queries_are_retried_after_a_lost_answer(sim: Simulator, client: MobsetClient) -> None:
    sim.inject("SmsGetBalance", "http500", times=2)
    assert client.get_balance() > 0
    sim.inject("SmsGetSign", "malformed", times=1)
    assert client.get_sign() == "广州首易"


def test_lost_report_answer_is_not_retried(sim: Simulator, client: MobsetClient) -> None:
    client.send([PHONE], "报告")
    sim.clock.advance(3600)
    sim.inject("SmsGetReport", "drop_after_accept", times=1)
    with pytest.raises(TransportError):
        client.get_reports()
    assert sim.requests["SmsGetReport"] == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_is_retried_then_transport_error() -> None:
    client = MobsetClient(
        300003,
        "u",
        "p",
        base_url=f"http://127.0.0.1:{_closed_port()}",
        max_retries=2,
        backoff=(0, 0),
    )
    pauses: list[float] = []
    client._sleep = pauses.append  # type: ignore[method-assign]
    with pytest.raises(TransportError) as info:
        client.send([PHONE], "hi")
    assert not isinstance(info.value, AmbiguousSendError)  # nothing can have been accepted
    assert len(pauses) == 2


def test_backoff_is_capped_with_jitter() -> None:
    client = MobsetClient(300003, "u", "p", backoff=(0.5, 4.0))
    delays = [client._backoff(a) for a in range(10) for _ in range(20)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 50


# ------------------------------------------------------------------ secrets


def test_password_and_secret_key_never_leak(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    password = sim.account.password
    stamp_keys: list[str] = []
    real = _protocol.secret_key

    def spy(*args: object) -> str:
        key = real(*args)  # type: ignore[arg-type]
        stamp_keys.append(key)
        return key

    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("urllib3").setLevel(logging.DEBUG)
        import mobset_campaign.client as client_module

        orig = client_module._protocol.secret_key
        client_module._protocol.secret_key = spy  # type: ignore[assignment]
        try:
            with sim.client(backoff=(0, 0)) as c:
                texts.append(repr(c))
                texts.append(str(vars(c)))
                c.get_balance()
                c.send([PHONE], "hi")
                sim.inject("SmsSend", "drop_after_accept", times=1)
                for exc_cls, call in [
                    (AmbiguousSendError, lambda: c.send(["13900000000"], "x")),
                    (InputError, lambda: c.send([], "x")),
                ]:
                    with pytest.raises(exc_cls) as info:
                        call()
                    texts.append(str(info.value))
                    texts.append(repr(info.value))
            with MobsetClient(
                300003, sim.account.login_name, password + "x", base_url=sim.url
            ) as bad:
                with pytest.raises(AuthError) as auth:
                    bad.get_sign()
                texts.append(str(auth.value))
        finally:
            client_module._protocol.secret_key = orig  # type: ignore[assignment]
    texts.extend(r.getMessage() for r in caplog.records)
    everything = "\n".join(texts)
    assert caplog.records, "DEBUG logging should have recorded the requests"
    assert stamp_keys
    assert password not in everything
    for key in stamp_keys:
        assert key not in everything
        assert key.upper() not in everything


def test_client_cannot_be_pickled() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(MobsetClient(300003, "u", "p"))


def test_requests_go_as_form_encoded_post(sim: Simulator) -> None:
    """The simulator sees exactly what a plain requests.post would send."""
    stamp = _protocol.format_timestamp()
    resp = requests.post(
        sim.url,
        data={
            "CorpID": "300003",
            "LoginName": sim.account.login_name,
            "TimeStamp": stamp,
            "SecretKey": _protocol.secret_key(300003, sim.account.password, stamp),
            "Methods": "SmsGetSign",
        },
        timeout=5,
    )
    with sim.client() as c:
        assert c.get_sign() == _protocol.lower_keys(_protocol.parse_body(resp.text))["sign"]


def test_a_prepared_request_is_what_session_post_would_send() -> None:
    # The client prepares its POST itself (Session.post's merging costs more CPU than the
    # rest of the client): the same body, bytes for bytes, and the same headers.
    client = MobsetClient(300003, "用户 a&b", "p+w=d", base_url="http://127.0.0.1:9/SDK3/Sms")
    params = {"PhoneNumbers": "13512346789,13600001111", "Content": "【店】50% off & 满100减20 😀+=?"}
    client._session.cookies.set("route", "a1")
    ours = client._prepared("SmsSend", params)
    assert isinstance(ours.body, bytes)
    stamp = parse_qs(ours.body.decode("ascii"))["TimeStamp"][0]
    signed = {
        "CorpID": "300003",
        "LoginName": "用户 a&b",
        "TimeStamp": stamp,
        "SecretKey": _protocol.secret_key(300003, "p+w=d", stamp),
        "Methods": "SmsSend",
        **params,
    }
    theirs = client._session.prepare_request(
        requests.Request("POST", "http://127.0.0.1:9/SDK3/Sms", data=signed)
    )
    their_body = theirs.body.encode() if isinstance(theirs.body, str) else theirs.body
    assert ours.body == their_body
    assert ours.url == theirs.url and ours.method == theirs.method == "POST"
    assert dict(ours.headers) == dict(theirs.headers)
    client.close()


class _Status429(BaseHTTPRequestHandler):
    """A proxy that answers every request with 429 Too Many Requests."""

    hits = 0

    def do_POST(self) -> None:
        type(self).hits += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"<html>429 Too Many Requests</html>"
        self.send_response(429)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("method", ["send", "get_balance"])
def test_an_http_error_status_is_never_retried_for_send(method: str) -> None:
    _Status429.hits = 0
    server = HTTPServer(("127.0.0.1", 0), _Status429)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with MobsetClient(300003, "u", "p", base_url=url, max_retries=3, backoff=(0, 0)) as c:
            if method == "send":
                with pytest.raises(AmbiguousSendError) as info:
                    c.send([PHONE], "hi")
                assert "429" in str(info.value)
                assert _Status429.hits == 1  # a server received it: never asked again
            else:
                with pytest.raises(TransportError):
                    c.get_balance()
                assert _Status429.hits == 4  # a query changes nothing: retried
    finally:
        server.shutdown()
        server.server_close()


def test_a_query_that_stays_unreadable_is_a_protocol_error_with_the_body(
    sim: Simulator, client: MobsetClient
) -> None:
    sim.inject("SmsGetSign", "malformed")  # every call
    with pytest.raises(ProtocolError) as info:
        client.get_sign()
    assert info.value.body and "<html" in info.value.body.lower()
    assert sim.requests["SmsGetSign"] == client.max_retries + 1


# ------------------------------------------------------------------ issue 10: the protocol, exactly


class _Canned(BaseHTTPRequestHandler):
    """A gateway stand-in that answers every request with one fixed JSON body."""

    body = b""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(
    ("body", "sign"),
    [
        ('{"Code":"0","Message":"取签名成功","Sign":"广州首易",}', "广州首易"),
        ('{"Code":"1","Message":"取签名成功","Sign":"广州首易"}', None),
        ('{"Code":"269","Message":"取短信余额成功"}', None),  # a balance answer is no sign
    ],
)
def test_get_sign_succeeds_only_on_code_0(body: str, sign: str | None) -> None:
    _Canned.body = body.encode()
    server = HTTPServer(("127.0.0.1", 0), _Canned)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with MobsetClient(300003, "u", "p", base_url=url, max_retries=0) as c:
            if sign is not None:
                assert c.get_sign() == sign
            else:
                with pytest.raises(ProtocolError) as info:
                    c.get_sign()
                assert "success is Code 0" in str(info.value) and info.value.body == body
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("code", "words"), [(-141, "余额"), (-143, "SmsID")])
def test_141_and_143_are_plain_gateway_errors(code: int, words: str) -> None:
    """-141 (the balance query failed) is not a short balance and -143 (too many SmsIDs)
    is not a sending limit: no advice to top up or to wait for tomorrow."""
    from mobset_campaign.codes import error_info
    from mobset_campaign.errors import error_for_code

    error = error_for_code(code, method="SmsCancel")
    assert type(error) is GatewayError
    assert not isinstance(error, BalanceError | LimitError)
    text = str(error).lower()
    assert "top up" not in text and "tomorrow" not in text and "limit" not in text
    assert error_info(code) is not None and str(code) in str(error)


@pytest.mark.parametrize(
    "number",
    [
        "１３５１２３４６７８９",  # full-width digits
        "+8613512346789",
        "8613512346789",
        "135 1234 6789",
        "1351234678",  # ten digits
        "135123467890",  # twelve
        "23512346789",  # not a mobile
        "١٣٥١٢٣٤٦٧٨٩",  # Arabic-Indic digits are digits to str.isdigit
    ],
)
def test_the_client_sends_only_ascii_eleven_digit_numbers(
    sim: Simulator, client: MobsetClient, number: str
) -> None:
    with pytest.raises(InputError, match="11-digit"):
        client.send([PHONE, number], "您好")
    assert sim.requests["SmsSend"] == 0


@pytest.mark.parametrize(
    "when",
    ["2026-12-24", "2026-12-24 09:30", "2026/12/24 09:30:00", "2026-12-24T09:30:00",
     "2026-12-24 9:30:00", "2026-02-30 09:30:00", "2026-12-24 09:30:00.5", "24-12-2026 09:30:00"],
)  # fmt: skip
def test_timer_send_is_exactly_yyyy_mm_dd_hh_mm_ss(
    sim: Simulator, client: MobsetClient, when: str
) -> None:
    """A date alone must not become midnight: every other spelling is refused before any
    request, by the client and by send()."""
    import pandas as pd

    from mobset_campaign import Ledger, send

    with pytest.raises(InputError, match="YYYY-MM-DD HH:MM:SS"):
        client.send([PHONE], "您好", timer_send=when)
    frame = pd.DataFrame({"phone": [PHONE], "content": ["您好"], "parts": [1], "sendable": [True]})
    with Ledger(":memory:") as ledger, pytest.raises(InputError, match="YYYY-MM-DD HH:MM:SS"):
        send(frame, client, campaign="t", ledger=ledger, timer_send=when, progress=False,
             quiet_hours=None)  # fmt: skip
    assert sim.requests["SmsSend"] == 0
    good = (datetime.now(_protocol.BEIJING) + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    assert client.send([PHONE], "您好", timer_send=good).code == 1
