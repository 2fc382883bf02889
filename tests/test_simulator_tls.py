"""HTTPS, the client's default: the simulator speaks TLS with a certificate made at start, the
client trusts it only when told to (ca_bundle / MOBSET_CA_BUNDLE), and says so plainly when not."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import requests

from mobset_campaign._protocol import format_timestamp, secret_key
from mobset_campaign.client import MobsetClient
from mobset_campaign.errors import AmbiguousSendError, ConfigError, TransportError
from mobset_campaign.simulator import Simulator

PHONE = "13512346789"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(tls=True, manual_clock=True, seed=0, reply_rate=0.0) as s:
        yield s


class CountingClient(MobsetClient):
    """A client that records its retry pauses instead of sleeping."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.pauses: list[float] = []

    def _sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)


def untrusting(sim: Simulator, **kwargs: object) -> CountingClient:
    a = sim.account
    return CountingClient(a.corp_id, a.login_name, a.password, base_url=sim.url, **kwargs)


def test_the_client_sends_over_https_to_a_tls_simulator(sim: Simulator) -> None:
    assert sim.url.startswith("https://127.0.0.1:") and sim.url.endswith("/SDK3/Sms")
    assert sim.ca_bundle is not None and Path(sim.ca_bundle).read_text().startswith(
        "-----BEGIN CERTIFICATE-----"
    )
    with sim.client() as client:
        assert client.ca_bundle == sim.ca_bundle
        assert client.get_balance() == 1_000_000
        sent = client.send([PHONE, "13900000001"], "您好，这是加密连接")
        assert [n.sms_id for n in sent.accepted] == [1355555551, 1355555552]
        with client.clone() as worker:  # clone() keeps the trusted CA
            assert worker.ca_bundle == sim.ca_bundle
            assert worker.get_balance() == 1_000_000 - 2
    assert [m.content for m in sim.accepted()] == ["您好，这是加密连接"] * 2


def test_env_and_from_env_carry_the_ca_bundle(sim: Simulator) -> None:
    env = sim.env()
    assert env["MOBSET_BASE_URL"] == sim.url and env["MOBSET_CA_BUNDLE"] == sim.ca_bundle
    with MobsetClient.from_env(env) as client:
        assert client.ca_bundle == sim.ca_bundle
        assert client.get_sign() == "广州首易"
    plain = Simulator(manual_clock=True)
    assert plain.ca_bundle is None and "MOBSET_CA_BUNDLE" not in plain.start().env()
    plain.stop()


def test_raw_https_with_the_ca_file_works(sim: Simulator) -> None:
    resp = requests.post(sim.url, data=sim.signed_params("SmsGetBalance"), verify=sim.ca_bundle,
                         timeout=10)  # fmt: skip
    assert resp.json()["Code"] == "1000000"
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(sim.url, data=sim.signed_params("SmsGetBalance"), timeout=10)


@pytest.mark.parametrize("method", ["get_balance", "send"])
def test_an_untrusted_certificate_is_one_clear_error_never_retried(
    sim: Simulator, method: str
) -> None:
    with untrusting(sim, backoff=(0, 0)) as client:
        with pytest.raises(TransportError) as caught:
            if method == "send":
                client.send([PHONE], "x")
            else:
                client.get_balance()
        assert client.pauses == []  # waiting does not make a certificate trusted
    error = caught.value
    assert not isinstance(error, AmbiguousSendError)  # the request never left: nothing sent
    text = str(error)
    assert "\n" not in text
    assert "certificate is not trusted" in text
    assert "ca_bundle" in text and "MOBSET_CA_BUNDLE" in text
    assert sim.requests["total"] == 0 and sim.accepted() == []


def test_https_to_a_plain_http_server_is_a_failed_handshake_not_an_unknown_send() -> None:
    # A handshake that fails (here: the server does not speak TLS) is a connection never
    # made: nothing was sent, it may be retried, a few times, then one clear line.
    with Simulator(manual_clock=True) as plain:
        a = plain.account
        url = plain.url.replace("http://", "https://")
        client = CountingClient(a.corp_id, a.login_name, a.password, base_url=url, max_retries=2)
        with client, pytest.raises(TransportError) as caught:
            client.send([PHONE], "x")
        assert not isinstance(caught.value, AmbiguousSendError)
        assert len(client.pauses) == 2  # max_retries, then it gives up
        text = str(caught.value)
        assert "TLS handshake failed" in text and "--tls" in text and "\n" not in text
        assert plain.requests["total"] == 0 and plain.accepted() == []


def test_a_certificate_from_another_authority_is_not_trusted(sim: Simulator) -> None:
    with Simulator(tls=True, manual_clock=True) as other:
        assert other.ca_bundle != sim.ca_bundle
        client = untrusting(sim, ca_bundle=other.ca_bundle)
        with client, pytest.raises(TransportError, match="certificate is not trusted"):
            client.get_balance()


def test_ca_bundle_must_be_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ca_bundle"):
        MobsetClient(300003, "demo", "pw", ca_bundle=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="MOBSET_CA_BUNDLE"):
        MobsetClient.from_env(
            {
                "MOBSET_CORP_ID": "300003",
                "MOBSET_LOGIN_NAME": "demo",
                "MOBSET_PASSWORD": "pw",
                "MOBSET_CA_BUNDLE": str(tmp_path),
            }
        )


def test_the_ca_file_goes_away_with_the_simulator() -> None:
    sim = Simulator(tls=True, manual_clock=True)
    path = sim.ca_bundle
    assert path is not None and os.path.exists(path)
    sim.start().stop()
    assert os.path.exists(path)  # stop() keeps it: start() again serves the same certificate
    del sim
    import gc

    gc.collect()
    assert not os.path.exists(path)


def _first_lines(stream: IO[str], n: int, within: float) -> list[str]:
    """Up to ``n`` lines that ``stream`` prints within ``within`` seconds (a process that
    prints fewer fails the test instead of hanging it)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line.strip()) for line in iter(stream.readline, "")],
        daemon=True,
    ).start()
    got: list[str] = []
    deadline = time.monotonic() + within
    with contextlib.suppress(queue.Empty):
        while len(got) < n:
            got.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
    return got


@pytest.mark.slow
def test_process_mode_with_tls_prints_the_ca_bundle_and_paces_polls() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBSET_")}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "mobset-campaign"), "simulator", "--port", "0",
         "--tls", "--min-poll-interval", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = _first_lines(proc.stdout, 6, within=20)
        assert lines[0].startswith("mobset simulator listening on https://127.0.0.1:"), lines
        url = lines[0].rsplit(" ", 1)[1]
        exports = dict(line.removeprefix("export ").split("=", 1) for line in lines[1:])
        assert exports["MOBSET_BASE_URL"] == url
        ca = exports["MOBSET_CA_BUNDLE"]
        assert Path(ca).is_file()
        ts = format_timestamp()
        params = {"CorpID": "300003", "LoginName": "demo", "TimeStamp": ts,
                  "SecretKey": secret_key(300003, "demo-password", ts), "Methods": "SmsGetReport"}  # fmt: skip
        assert requests.post(url, data=params, verify=ca, timeout=10).json()["code"] == "0"
        assert requests.post(url, data=params, verify=ca, timeout=10).json()["Code"] == -189
        with MobsetClient.from_env(exports) as client:
            assert client.get_balance() == 1_000_000
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert not Path(ca).exists()  # the CA file goes with the process
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
