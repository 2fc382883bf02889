"""The simulator's HTTP layer as real clients use it: raw bytes on a socket, chunked and
multipart bodies, and a control API that answers loopback names only."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from mobset_campaign._protocol import format_timestamp, lower_keys, parse_body, secret_key
from mobset_campaign.simulator import Simulator

PHONE = "13512346789"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(manual_clock=True, seed=7, reply_rate=0.0) as s:
        yield s


def signed_query(sim: Simulator, method: str = "SmsSend") -> str:
    """The fixed parameters in the order of the vendor's example URL."""
    a = sim.account
    ts = format_timestamp()
    key = secret_key(a.corp_id, a.password, ts)
    return (
        f"Methods={method}&CorpID={a.corp_id}&LoginName={a.login_name}&TimeStamp={ts}"
        f"&SecretKey={key}"
    )


def raw_request(sim: Simulator, head: bytes, body: bytes = b"") -> tuple[int, str]:
    """Send bytes exactly as given (like a client that does not percent-encode) and read
    the answer; returns (status, body text)."""
    with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as sock:
        sock.sendall(head + body)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        return resp.status, resp.read().decode("utf-8")


def body_of(text: str) -> dict[str, Any]:
    data = lower_keys(parse_body(text))
    assert isinstance(data, dict)
    return data


# ----------------------------------------------------------------------------- raw UTF-8 queries


def test_the_vendors_example_url_with_raw_chinese_is_read_as_utf8(sim: Simulator) -> None:
    # 4.1.3: ...&PhoneNumbers=13512346789&Content=这是测试短信, typed as is.
    path = f"/SDK3/Sms?{signed_query(sim)}&PhoneNumbers={PHONE}&Content=这是测试短信"
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{sim.port}\r\nConnection: close\r\n\r\n"
    status, text = raw_request(sim, head.encode("utf-8"))
    assert status == 200 and body_of(text)["code"] == "1"
    (m,) = sim.accepted()
    assert (m.content, m.parts) == ("这是测试短信", 1)


def test_raw_utf8_with_bytes_85_and_a0_is_not_split_and_billed_on_its_characters(
    sim: Simulator,
) -> None:
    # 公 is E5 85 AC and 全 E5 85 A8: read as Latin-1, 0x85 (NEL) and 0xA0 (NBSP) are
    # whitespace to str.split, which cut the request line and made it a 400.
    text = "公共入全关其" + "这是测试短信" * 9 + "谢谢"  # 6 + 54 + 2 = 62 characters
    assert any(b in ch.encode("utf-8") for ch in text for b in (b"\x85", b"\xa0"))
    path = f"/SDK3/Sms?{signed_query(sim)}&PhoneNumbers={PHONE}&Content={text}"
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{sim.port}\r\nConnection: close\r\n\r\n"
    status, answer = raw_request(sim, head.encode("utf-8"))
    assert status == 200, answer
    assert body_of(answer)["code"] == "1"
    (m,) = sim.accepted()
    assert m.content == text
    assert m.parts == 1 and sim.balance() == 1_000_000 - 1  # 62 + 【广州首易】 = 68 ≤ 70


def test_percent_encoded_and_raw_utf8_mix_in_one_query(sim: Simulator) -> None:
    path = f"/SDK3/Sms?{signed_query(sim)}&PhoneNumbers={PHONE}&Content=%E5%85%AC告：关门"
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{sim.port}\r\nConnection: close\r\n\r\n"
    status, _ = raw_request(sim, head.encode("utf-8"))
    assert status == 200 and [m.content for m in sim.accepted()] == ["公告：关门"]


def test_a_request_line_with_a_raw_space_is_still_a_400(sim: Simulator) -> None:
    head = b"GET /SDK3/Sms?Content=a b HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    assert raw_request(sim, head)[0] == 400


# ----------------------------------------------------------------------------- bodies


def form(sim: Simulator, content: str) -> bytes:
    from urllib.parse import quote

    return f"{signed_query(sim)}&PhoneNumbers={PHONE}&Content={quote(content)}".encode("ascii")


def test_a_chunked_body_is_read(sim: Simulator) -> None:
    data = form(sim, "分块发送的短信")
    chunks = [data[:7], data[7:50], data[50:]]
    with requests.Session() as http:
        resp = http.post(
            sim.url,
            data=iter(chunks),  # requests sends a generator as Transfer-Encoding: chunked
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        )
        assert resp.request.headers.get("Transfer-Encoding") == "chunked"
        assert resp.status_code == 200 and body_of(resp.text)["code"] == "1"
        # the connection is still in step for the next request
        again = http.post(sim.url, data=sim.signed_params("SmsGetBalance"), timeout=10)
        assert body_of(again.text)["code"] == str(1_000_000 - 1)
    assert [m.content for m in sim.accepted()] == ["分块发送的短信"]


def test_a_chunked_body_with_raw_utf8_split_inside_a_character(sim: Simulator) -> None:
    data = f"{signed_query(sim)}&PhoneNumbers={PHONE}&Content=公共汽车".encode()
    cut = data.index("共".encode()) + 1  # inside the three bytes of 共
    chunked = b"".join(
        f"{len(c):x};ext=1\r\n".encode() + c + b"\r\n" for c in (data[:cut], data[cut:])
    )
    head = (
        f"POST /SDK3/Sms HTTP/1.1\r\nHost: 127.0.0.1:{sim.port}\r\nConnection: close\r\n"
        "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    status, text = raw_request(sim, head, chunked + b"0\r\nX-Trailer: 1\r\n\r\n")
    assert status == 200 and body_of(text)["code"] == "1"
    assert [m.content for m in sim.accepted()] == ["公共汽车"]


def test_a_malformed_chunked_body_is_a_400(sim: Simulator) -> None:
    head = (
        f"POST /SDK3/Sms HTTP/1.1\r\nHost: 127.0.0.1:{sim.port}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    assert raw_request(sim, head, b"zz\r\nabc\r\n0\r\n\r\n")[0] == 400
    assert sim.requests["total"] == 0


def test_a_multipart_form_body_is_read(sim: Simulator) -> None:
    params = {**sim.signed_params("SmsSend"), "PhoneNumbers": PHONE, "Content": "表单 & 附件=1"}
    resp = requests.post(
        sim.url, files={name: (None, value) for name, value in params.items()}, timeout=10
    )
    assert resp.request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert resp.status_code == 200 and body_of(resp.text)["code"] == "1"
    assert [m.content for m in sim.accepted()] == ["表单 & 附件=1"]


def test_a_multipart_body_without_its_boundary_is_a_400(sim: Simulator) -> None:
    resp = requests.post(
        sim.url, data=b"--x\r\n", headers={"Content-Type": "multipart/form-data"}, timeout=10
    )
    assert resp.status_code == 400


# ----------------------------------------------------------------------------- /_sim/* control


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:{port}", "127.0.0.1:{port}", "127.0.0.2", "[::1]:{port}"]
)
def test_control_answers_loopback_host_names(sim: Simulator, host: str) -> None:
    base = sim.url.removesuffix("/SDK3/Sms")
    headers = {"Host": host.format(port=sim.port)}
    assert requests.get(f"{base}/_sim/stats", headers=headers, timeout=10).status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "localhost.evil.example", "10.0.0.1:{port}", ""]
)
def test_control_refuses_other_host_names_against_dns_rebinding(sim: Simulator, host: str) -> None:
    # A web page whose name was re-pointed to 127.0.0.1 sends its own name as the Host.
    base = sim.url.removesuffix("/SDK3/Sms")
    headers = {"Host": host.format(port=sim.port)}
    resp = requests.post(f"{base}/_sim/fault", json={"fault": "busy"}, headers=headers, timeout=10)
    assert resp.status_code == 403 and "Host" in resp.json()["error"]
    assert requests.get(f"{base}/_sim/accepted", headers=headers, timeout=10).status_code == 403
    assert sim.faults == []
    # the gateway itself still answers (it needs the account's signature anyway)
    resp = requests.post(
        sim.url, data=sim.signed_params("SmsGetBalance"), headers=headers, timeout=10
    )
    assert body_of(resp.text)["code"] == "1000000"


def test_control_refuses_a_request_without_a_host(sim: Simulator) -> None:
    status, _ = raw_request(sim, b"GET /_sim/stats HTTP/1.0\r\n\r\n")
    assert status == 403


def test_control_posts_take_json_only_against_cross_site_forms() -> None:
    """A web page can POST a form to 127.0.0.1 from another site without asking the
    server; a JSON body needs a CORS preflight, which the simulator never grants."""
    with Simulator() as sim:
        base = sim.url.split("/SDK3/")[0]
        form = requests.post(f"{base}/_sim/fault", data={"fault": "busy"}, timeout=10)
        plain = requests.post(f"{base}/_sim/clear_faults", data=b"{}", timeout=10,
                              headers={"Content-Type": "text/plain"})  # fmt: skip
        assert (form.status_code, plain.status_code) == (415, 415)
        assert sim.faults == []
        ok = requests.post(f"{base}/_sim/fault", json={"fault": "busy"}, timeout=10)
        assert ok.status_code == 200 and len(sim.faults) == 1
