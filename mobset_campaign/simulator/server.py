"""The HTTP side of the simulator: a loopback-only threading server (HTTPS with ``tls``) and
:class:`Simulator`."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import ssl
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._protocol import MAX_CONTENT_CHARS, PATH, format_timestamp, secret_key
from ..errors import ConfigError, InputError
from .bodies import render
from .faults import HTML_500, HTML_MALFORMED, Fault, FaultSet
from .model import AcceptedMessage, Account, Settings, SimClock
from .state import Failure, Gateway, Replies, Reports, Request, Sent, failure
from .tls import Certificate, make_certificate
from .wire import Refusal, ascii_request_line, form_pairs, is_loopback_host, read_chunked

if TYPE_CHECKING:
    from ..client import MobsetClient

__all__ = ["Simulator"]

logger = logging.getLogger("mobset_campaign.simulator")

_JSON = "application/json; charset=utf-8"
_HTML = "text/html; charset=utf-8"
_MAX_BODY = 1 << 20  # a 50-number SmsSend of 500 characters is far below this
_HANDSHAKE_TIMEOUT = 10.0  # seconds a client has to finish the TLS handshake


def check_loopback(host: str) -> str:
    """The host if it is a loopback address (``localhost`` → ``127.0.0.1``), else ConfigError."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"The simulator listens on loopback addresses only (127.0.0.1, ::1), not {host!r}: "
            "it holds rehearsal credentials and must not be reachable from the network."
        )
    return host


class Simulator:
    """A faithful Mobset SDK3 gateway on 127.0.0.1, for demos, notebooks, tests and rehearsals.

    Args:
        accounts: the accounts (default one :class:`Account`: CorpID 300003, sign 广州首易,
            balance 1,000,000); the first is :attr:`account`.
        seed: makes every random choice (outcomes, delays, replies, fault probabilities)
            reproducible.
        manual_clock: the sim clock stands still until ``sim.clock.advance(seconds)``.
        time_scale: a real clock running this many times as fast (report delays pass sooner).
        clock_start: where the sim clock starts (default now; naive = Beijing time).
        report_delay: (min, max) seconds of sim time from sending to the report, uniform.
        outcomes: {(Status, ExStatus) or Status or None: weight}; ``None`` = never a report.
            Default: mostly 12 DELIVRD, some 13, 11, 7, and 3% without a report.
        interim_share: share of messages that get a non-final Status 10 report first.
        reply_rate: share of delivered recipients who reply; opt_out_share: share of those
            replies that are opt-out words (R, T, TD, 退订); reply_delay: (min, max) seconds
            after delivery.
        style: ``"vendor"`` (bodies shaped like the vendor's examples) or ``"strict"`` JSON.
        max_content: longest content accepted, in characters with the bracketed signature
            (else -110); by default the estimator's limit (500), so a rehearsal refuses what
            the estimate refuses.
        min_poll_interval: seconds of sim time an account must leave between two served calls
            of one Method, SmsGetReport or SmsGetRecv; a call sooner is answered -189 系统繁忙2
            and hands nothing out (see :mod:`.state`: the vendor warns of a ban for polling too
            often and suggests 30–300 s, but names no code). ``None`` (default): no pace.
        host, port: where to listen (loopback only; port 0 = a free port).
        tls: speak HTTPS with a certificate made now by a new certificate authority (see
            :mod:`.tls`); :attr:`ca_bundle` is its PEM file, which :meth:`client` and
            :meth:`env` pass on (``ca_bundle=`` / ``MOBSET_CA_BUNDLE``).
        verbose: print request lines on stderr.

    The TimeStamp check uses the real wall clock, not the sim clock: clients sign with their
    machine's real time, so advancing or accelerating the sim clock must not make every
    request fail authentication. Reports, replies and TimerSend follow the sim clock.

    Example (start it, send through the raw HTTP API, read the report):

    >>> import requests
    >>> with Simulator(manual_clock=True, seed=1) as sim:
    ...     sent = requests.post(sim.url, data=sim.signed_params(
    ...         "SmsSend", PhoneNumbers="13512346789", Content="您好")).text
    ...     _ = sim.clock.advance(5)
    ...     report = requests.post(sim.url, data=sim.signed_params("SmsGetReport")).json()
    >>> print(sent)
    {
     "Code": "1",
     "Message": "成功提交 1条短信",
     "SmsIdList": [{"PhoneNumber": "13512346789", "SmsId": "1355555551"}]
    }
    >>> report["code"], report["Details"][0]["Status"], sim.balance()
    ('1', '12', 999999)
    """

    def __init__(
        self,
        *,
        accounts: Sequence[Account] | None = None,
        seed: int | None = None,
        manual_clock: bool = False,
        time_scale: float = 1.0,
        clock_start: datetime | None = None,
        report_delay: tuple[float, float] = (1.0, 3.0),
        outcomes: Mapping[int | tuple[int | None, str] | None, float] | None = None,
        interim_share: float = 0.0,
        reply_rate: float = 0.05,
        opt_out_share: float = 0.3,
        reply_delay: tuple[float, float] = (5.0, 120.0),
        style: str = "vendor",
        max_content: int = MAX_CONTENT_CHARS,
        min_poll_interval: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
        verbose: bool = False,
    ) -> None:
        self.host = check_loopback(host)
        if not 0 <= port <= 65535:
            raise ConfigError(f"port must be between 0 and 65535, not {port}.")
        self.settings = Settings(
            report_delay=report_delay,
            outcomes=outcomes,
            interim_share=interim_share,
            reply_rate=reply_rate,
            opt_out_share=opt_out_share,
            reply_delay=reply_delay,
            style=style,
            max_content=max_content,
            seed=seed,
            min_poll_interval=min_poll_interval,
        )
        self.clock = SimClock(manual=manual_clock, time_scale=time_scale, start=clock_start)
        accounts = [Account()] if accounts is None else list(accounts)
        if not accounts:
            raise ConfigError("Simulator needs at least one account (or accounts=None).")
        self.account: Account = accounts[0]
        self.verbose = verbose
        self._gateway = Gateway(self.settings, self.clock, accounts)
        self._faults = FaultSet(None if seed is None else seed + 1)
        self._requested_port = port
        self._certificate: Certificate | None = make_certificate(self) if tls else None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle

    def start(self) -> Simulator:
        """Listen and serve in a daemon thread (no-op when already running)."""
        if self._server is not None:
            return self
        server_class = _Server6 if ":" in self.host else _Server
        try:
            server = server_class((self.host, self._requested_port), self)
        except OSError as exc:
            raise ConfigError(
                f"The simulator cannot listen on {self.host}:{self._requested_port} ({exc}); "
                "choose another --port, or 0 for a free one."
            ) from exc
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"mobset-simulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (state is kept; start() again works)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        """The port listened on (the requested one before :meth:`start`)."""
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The full endpoint, ``http://127.0.0.1:PORT/SDK3/Sms`` (``https://`` with tls)."""
        if self._server is None:
            raise ConfigError("The simulator is not running; call start() or use `with`.")
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self._certificate is not None else "http"
        return f"{scheme}://{host}:{self.port}{PATH}"

    @property
    def tls(self) -> bool:
        return self._certificate is not None

    @property
    def ca_bundle(self) -> str | None:
        """With tls, the PEM file of the certificate authority a client must trust."""
        return None if self._certificate is None else self._certificate.ca_file

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"Simulator({where}, account={self.account!r}, clock={self.clock!r})"

    # ---- clients and credentials

    def client(self, **kwargs: Any) -> MobsetClient:
        """A :class:`~mobset_campaign.client.MobsetClient` for the default account."""
        from ..client import MobsetClient

        a = self.account
        if self.ca_bundle is not None:
            kwargs.setdefault("ca_bundle", self.ca_bundle)
        return MobsetClient(a.corp_id, a.login_name, a.password, base_url=self.url, **kwargs)

    def env(self) -> dict[str, str]:
        """The ``MOBSET_*`` variables that point a client at this simulator (with tls, also
        ``MOBSET_CA_BUNDLE``, the certificate authority to trust)."""
        a = self.account
        env = {
            "MOBSET_CORP_ID": str(a.corp_id),
            "MOBSET_LOGIN_NAME": a.login_name,
            "MOBSET_PASSWORD": a.password,
            "MOBSET_BASE_URL": self.url,
        }
        if self.ca_bundle is not None:
            env["MOBSET_CA_BUNDLE"] = self.ca_bundle
        return env

    def signed_params(
        self, method: str, account: Account | None = None, **extra: str
    ) -> dict[str, str]:
        """The parameters of a signed request for ``account`` (default: :attr:`account`)."""
        a = account or self.account
        ts = format_timestamp()
        return {
            "CorpID": str(a.corp_id),
            "LoginName": a.login_name,
            "TimeStamp": ts,
            "SecretKey": secret_key(a.corp_id, a.password, ts),
            "Methods": method,
            **extra,
        }

    def add_account(self, account: Account | None = None, **fields: Any) -> Account:
        """Add an account (an :class:`Account`, or its fields as keywords); returns it."""
        if account is None:
            account = Account(**fields)
        elif fields:
            raise InputError("add_account: give an Account or keyword fields, not both.")
        self._gateway.add_account(account)
        return account

    # ---- introspection and control

    def accepted(self) -> list[AcceptedMessage]:
        """Every accepted number, in acceptance order (also ``GET /_sim/accepted``)."""
        return self._gateway.accepted()

    def handed_out(self) -> list[tuple[int, int]]:
        """Every report handed out by SmsGetReport, as (SmsId, Status), in order (also
        ``GET /_sim/handed_out``): what a client that lost none must hold."""
        return self._gateway.handed_out()

    def balance(self, corp_id: int | None = None, login_name: str | None = None) -> int:
        """The live balance of an account (default: :attr:`account`)."""
        if corp_id is None and login_name is None:
            corp_id, login_name = self.account.corp_id, self.account.login_name
        return self._gateway.balance(corp_id, login_name)

    @property
    def requests(self) -> dict[str, int]:
        """Requests served per ``Methods`` (``"other"`` for unknown ones) and ``"total"``."""
        return self._gateway.requests()

    def set_outcome(self, phone: str, status: int | None, ex_status: str | None = None) -> None:
        """Force the report of every message to ``phone`` (``None`` = never a report)."""
        self._gateway.set_outcome(phone, status, ex_status)

    def inject_reply(
        self,
        phone: str,
        content: str,
        *,
        add_num: str = "",
        recv_time: datetime | None = None,
        corp_id: int | None = None,
        login_name: str | None = None,
    ) -> None:
        """Queue a reply from ``phone`` for the next SmsGetRecv (default account)."""
        if corp_id is None and login_name is None:
            corp_id, login_name = self.account.corp_id, self.account.login_name
        self._gateway.inject_reply(phone, content, add_num, recv_time, corp_id, login_name)

    def inject(
        self,
        method: str,
        fault: str,
        *,
        times: int | None = None,
        probability: float | None = None,
        delay: float | None = None,
        code: int | None = None,
    ) -> Fault:
        """Make ``method`` (a Methods name or ``"*"``) misbehave; see :mod:`.faults`.

        ``times``: only the next N matching calls; ``probability``: each call with this
        chance; ``delay``: seconds for ``latency``/``slow``; ``code``: for ``busy``.
        Returns the :class:`Fault`, whose ``triggered`` counts the calls it hit.
        """
        return self._faults.add(
            method, fault, times=times, probability=probability, delay=delay, code=code
        )

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        return self._faults.list()

    def stats(self) -> dict[str, Any]:
        """What ``GET /_sim/stats`` answers."""
        return {"requests": self.requests, "accepted": self._gateway.accepted_count()}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        self.sim = sim
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        certificate = self.sim._certificate
        if certificate is not None:
            # The handshake happens in the connection's own thread (_Handler.setup), so a
            # client that connects and stays silent does not hold up the accept loop.
            sock = certificate.context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        return sock, address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End kept-alive connections, so a stopped simulator really answers nothing."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError as exc:  # already closed by its handler thread
                logger.debug("closing a connection: %s", exc)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError | ssl.SSLError):
            # a client gone, silent, or refusing the TLS certificate (it does not trust it)
            logger.debug("connection from %s ended: %s", client_address, exc)
        else:
            logger.error("simulator error serving %s", client_address, exc_info=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 300  # an idle kept-alive connection is closed after this
    server_version = "Microsoft-IIS/8.5"
    sys_version = ""
    server: _Server
    raw_requestline: bytes

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sim.verbose:
            super().log_message(format, *args)

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(_HANDSHAKE_TIMEOUT)
            self.request.do_handshake()
        super().setup()

    def parse_request(self) -> bool:
        # Raw UTF-8 in the request line (the vendor's example URL) is percent-encoded before
        # http.server splits the line, which it reads as Latin-1: see .wire.
        self.raw_requestline = ascii_request_line(self.raw_requestline)
        return super().parse_request()

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, verb: str) -> None:
        body = self._read_body()
        if isinstance(body, Refusal):
            self._refuse(body)
            return
        url = urlsplit(self.path)
        if url.path.lower() == PATH.lower():
            self._gateway(url.query, body)
        elif url.path.startswith("/_sim/"):
            if is_loopback_host(self.headers.get("Host")):
                self._control(verb, url.path, body)
            else:
                host = self.headers.get("Host")
                self._send_json(
                    403,
                    {
                        "error": f"the control API answers a loopback Host only (localhost, "
                        f"127.0.0.1, [::1]), not {host!r}"
                    },
                )
        else:
            self._send(404, "<html><body><h1>404 - 找不到文件或目录。</h1></body></html>", _HTML)

    def _read_body(self) -> bytes | Refusal:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return read_chunked(self.rfile, _MAX_BODY)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return Refusal(400, "Bad Content-Length")
        if not 0 <= length <= _MAX_BODY:
            return Refusal(413, "Request Entity Too Large")
        return self.rfile.read(length) if length else b""

    def _refuse(self, refusal: Refusal) -> None:
        page = f"<html><body><h1>{refusal.status} {refusal.reason}</h1></body></html>"
        self._send(refusal.status, page, _HTML, close=True)

    # ---- /SDK3/Sms

    def _gateway(self, query: str, body: bytes) -> None:
        sim = self.server.sim
        pairs = form_pairs(query, body, self.headers.get("Content-Type", ""))
        if isinstance(pairs, Refusal):
            self._refuse(pairs)
            return
        request = Request.from_pairs(pairs)
        sim._gateway.count(request.method)
        style = sim.settings.style
        latency, fault = sim._faults.pick(request.method)
        if latency is not None:
            time.sleep(latency.seconds)
        kind = fault.fault if fault is not None else ""
        if fault is not None and kind == "busy":
            self._send(200, render(Failure(*fault.busy_answer()), style), _JSON)
            return
        if kind == "http500":
            self._send(500, HTML_500, _HTML)
            return
        try:
            result = sim._gateway.handle(request)
        except Exception:  # a simulator bug: log it and answer like the gateway's -198
            logger.exception("simulator failed on %s", request.method or "a request")
            result = failure(-198)
        if kind == "short_id_list" and isinstance(result, Sent) and result.numbers:
            result = Sent(numbers=result.numbers[:-1], accepted=result.accepted)
        if kind == "miscount" and isinstance(result, Reports) and result.items:
            half = len(result.items) // 2
            result = Reports(result.items[:half], declared=len(result.items))
        elif kind == "miscount" and isinstance(result, Replies) and result.items:
            half = len(result.items) // 2
            result = Replies(result.items[:half], declared=len(result.items))
        text = render(result, style)
        if kind == "drop_after_accept":
            self.close_connection = True  # performed, and not one byte of answer
            return
        if fault is not None and kind == "slow":
            time.sleep(fault.seconds)
        if kind == "truncated":
            self._send(200, text[: len(text) // 2], _JSON, close=True)
        elif kind == "malformed":
            self._send(200, HTML_MALFORMED, _HTML)
        else:
            self._send(200, text, _JSON)

    # ---- /_sim/*

    def _control(self, verb: str, path: str, body: bytes) -> None:
        sim = self.server.sim
        gets: dict[str, Any] = {
            "/_sim/accepted": lambda: [m.to_json() for m in sim.accepted()],
            "/_sim/handed_out": lambda: [list(r) for r in sim.handed_out()],
            "/_sim/stats": sim.stats,
            "/_sim/faults": lambda: [f.to_json() for f in sim.faults],
        }
        posts = {"/_sim/fault", "/_sim/clear_faults", "/_sim/reply"}
        if path in gets:
            if verb != "GET":
                self._send_json(405, {"error": f"use GET for {path}"})
            else:
                self._send_json(200, gets[path]())
            return
        if path not in posts:
            self._send_json(404, {"error": f"unknown path {path}", "paths": [*gets, *posts]})
            return
        if verb != "POST":
            self._send_json(405, {"error": f"use POST for {path}"})
            return
        if self.headers.get_content_type() != "application/json":
            # a web page can POST a form cross-site without asking; JSON needs a CORS
            # preflight, which this server never grants
            self._send_json(415, {"error": f"{path} takes Content-Type: application/json"})
            return
        try:
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise InputError(f"{path} needs a JSON object.")
            if path == "/_sim/fault":
                fault = sim._faults.add_json(data)
                self._send_json(200, {"ok": True, "fault": fault.to_json()})
                return
            if path == "/_sim/clear_faults":
                sim.clear_faults()
            else:
                phone, content = data.get("phone"), data.get("content")
                add_num = data.get("add_num", "")
                if not (
                    isinstance(phone, str) and isinstance(content, str) and isinstance(add_num, str)
                ):
                    raise InputError('/_sim/reply needs {"phone": "...", "content": "..."}.')
                sim.inject_reply(phone, content, add_num=add_num)
        except (ValueError, InputError) as exc:  # json errors are ValueErrors
            self._send_json(400, {"error": str(exc)})
            return
        self._send_json(200, {"ok": True})

    # ---- writing

    def _send_json(self, status: int, data: object) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False), _JSON)

    def _send(self, status: int, text: str, ctype: str, *, close: bool = False) -> None:
        data = text.encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError) as exc:
            self.close_connection = True
            logger.debug("the client left before its answer: %s", exc)
