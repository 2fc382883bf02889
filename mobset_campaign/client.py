"""The Mobset SDK3 HTTP client: six functions, typed answers, safe retries.

Every request is a form-encoded UTF-8 POST to the account's platform (chosen from the CorpID
range unless ``base_url`` is given), signed with ``SecretKey = MD5(CorpID + Password +
TimeStamp)`` where the TimeStamp is Beijing time whatever the machine's zone. The password is
never sent, logged, shown in a ``repr`` or put in an exception.

Retries happen only when nothing can have happened on the gateway: the connection could not be
made, or the gateway said it is busy (-189/-190). A failed TLS handshake is a connection never
made too; but a certificate the client does not trust is not retried (waiting does not make
it trusted): it fails at once with one line that says so and how to trust it (``ca_bundle=``
or ``MOBSET_CA_BUNDLE``). An SmsSend whose request went out but whose
answer was lost (read timeout, dropped connection, any HTTP error status, unreadable body) raises
:class:`~mobset_campaign.errors.AmbiguousSendError` and is never retried: the gateway may
have accepted it, and sending again could text the same people twice.

>>> from mobset_campaign.simulator import Simulator
>>> with Simulator(seed=1) as sim:
...     client = sim.client()
...     result = client.send(["13512346789"], "您的验证码是 1234")
...     (result.code, len(result.accepted), client.get_sign())
(1, 1, '广州首易')
"""

from __future__ import annotations

import logging
import os
import random
import re
import ssl
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter

from . import _protocol
from ._i18n import N_, ngettext
from ._i18n import gettext as _
from ._protocol import MAX_IDS_PER_CANCEL, MAX_NUMBERS_PER_SEND
from ._reach import Reach, connection_never_made, handshake_error
from .answers import (
    CancelResult,
    RawAnswer,
    Reply,
    Report,
    SendResult,
    decode,
    parse_cancel,
    parse_replies,
    parse_reports,
    parse_send,
)
from .errors import (
    AmbiguousSendError,
    ConfigError,
    GatewayError,
    InputError,
    ProtocolError,
    TransportError,
    UnpicklableError,
    error_for_code,
)

__all__ = ["MAX_IDS_PER_CANCEL", "MAX_NUMBERS_PER_SEND", "MobsetClient"]

log = logging.getLogger(__name__)

_BUSY_CODES = frozenset({-189, -190})


# ---------------------------------------------------------------------------- the client


class _Secret:
    """Holds the password; shows nothing of it in ``repr``/``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'********'"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise UnpicklableError(_("The password is not picklable; keep it in this process."))


class MobsetClient:
    """A client for one Mobset account.

    Args:
        corp_id: the enterprise id (6 digits); it chooses the platform host.
        login_name: the user name.
        password: the user's password. Kept in memory only to compute each SecretKey.
        base_url: the full endpoint (``https://host:port/SDK3/Sms``), overriding the CorpID
            table. The simulator's ``sim.url`` goes here.
        use_https: pick the HTTPS column of the platform table (port 843) or HTTP (8095).
        timeout: (connect, read) seconds; the vendor recommends a read timeout above 30 s.
        max_retries: retries for a refused connection or a busy answer (not for anything
            the gateway may have acted on).
        backoff: (base, cap) seconds of the capped exponential backoff with jitter.
        ca_bundle: a PEM file of the certificate authorities to trust for HTTPS instead of
            the system's (``MOBSET_CA_BUNDLE``); the simulator's ``--tls`` prints one.
            Verification is always on.

    Raises:
        ConfigError: the CorpID is not a number, or is outside the platform table and no
            ``base_url`` was given, or ``ca_bundle`` is not a file.
    """

    def __init__(
        self,
        corp_id: int | str,
        login_name: str,
        password: str,
        *,
        base_url: str | None = None,
        use_https: bool = True,
        timeout: tuple[float, float] = (10, 60),
        max_retries: int = 3,
        backoff: tuple[float, float] = (0.5, 8.0),
        ca_bundle: str | os.PathLike[str] | None = None,
    ) -> None:
        try:
            self.corp_id = int(str(corp_id).strip())
        except ValueError:
            raise ConfigError(
                _(
                    "CorpID {corp_id!r} is not a number; use the 6-digit enterprise id Mobset "
                    "gave you (MOBSET_CORP_ID)."
                ).format(corp_id=corp_id)
            ) from None
        if not login_name or not str(login_name).strip():
            raise ConfigError(
                _("LoginName is empty; set MOBSET_LOGIN_NAME to the account's user name.")
            )
        if not password:
            raise ConfigError(_("The password is empty; set MOBSET_PASSWORD."))
        self.login_name = str(login_name).strip()
        self._password = _Secret(str(password))
        if base_url:
            url = base_url.strip().rstrip("/")
            if not url.startswith(("http://", "https://")):
                raise ConfigError(
                    _(
                        "base_url {url!r} must start with http:// or https:// (for the "
                        "simulator, use sim.url)."
                    ).format(url=base_url)
                )
            if not url.endswith(_protocol.PATH):
                url += _protocol.PATH
            self.base_url = url
        else:
            found = _protocol.platform_url(self.corp_id, use_https=use_https)
            if found is None:
                raise ConfigError(
                    _(
                        "CorpID {corp_id} is outside the platform ranges 100000–399999, so the "
                        "host cannot be chosen; pass base_url= (or set MOBSET_BASE_URL)."
                    ).format(corp_id=self.corp_id)
                )
            self.base_url = found
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff = backoff
        self.ca_bundle = None if ca_bundle is None else os.fspath(ca_bundle)
        if self.ca_bundle is not None and not os.path.isfile(self.ca_bundle):
            raise ConfigError(
                _(
                    "ca_bundle (MOBSET_CA_BUNDLE) {path!r} is not a file; give the PEM file of "
                    "the certificate authority to trust (`mobset-campaign simulator --tls` "
                    "prints its own), or leave it unset to trust the system's authorities."
                ).format(path=self.ca_bundle)
            )
        self._settings = dict(
            base_url=self.base_url,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            ca_bundle=self.ca_bundle,
        )
        self._session = self._new_session()
        #: what every request carries, merged once (see _prepared)
        self._headers = {
            **self._session.headers,
            "Content-Type": "application/x-www-form-urlencoded",
        }

    # -- construction -----------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> MobsetClient:
        """A client from ``MOBSET_CORP_ID``, ``MOBSET_LOGIN_NAME``, ``MOBSET_PASSWORD`` and the
        optional ``MOBSET_BASE_URL`` and ``MOBSET_CA_BUNDLE``. Keyword arguments are passed to
        the constructor.

        Raises:
            ConfigError: naming every missing variable and how to set or rehearse them.
        """
        env = os.environ if environ is None else environ
        names = ("MOBSET_CORP_ID", "MOBSET_LOGIN_NAME", "MOBSET_PASSWORD")
        missing = [n for n in names if not env.get(n)]
        if missing:
            raise ConfigError(
                _(
                    "Missing {names}. Set them in the environment (export MOBSET_CORP_ID=... "
                    "MOBSET_LOGIN_NAME=... MOBSET_PASSWORD=...), or rehearse first with "
                    "`mobset-campaign simulator`, which prints credentials to use."
                ).format(names=", ".join(missing))
            )
        if env.get("MOBSET_BASE_URL") and "base_url" not in kwargs:
            kwargs["base_url"] = env["MOBSET_BASE_URL"]
        if env.get("MOBSET_CA_BUNDLE") and "ca_bundle" not in kwargs:
            kwargs["ca_bundle"] = env["MOBSET_CA_BUNDLE"]
        return cls(
            env["MOBSET_CORP_ID"], env["MOBSET_LOGIN_NAME"], env["MOBSET_PASSWORD"], **kwargs
        )

    def clone(self) -> MobsetClient:
        """The same account with its own connection pool (one per worker thread)."""
        return MobsetClient(
            self.corp_id,
            self.login_name,
            self._password.reveal(),
            **self._settings,  # type: ignore[arg-type]
        )

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        session.verify = self.ca_bundle or True  # a given authority, or the system's
        session.trust_env = False  # no proxy or netrc surprises; TLS verification stays on
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update({"User-Agent": "mobset-campaign/0.1", "Accept": "application/json"})
        return session

    def _prepared(self, method: str, params: Mapping[str, str]) -> requests.PreparedRequest:
        """The signed POST, prepared directly: the form encoded here as requests would
        (UTF-8, ``quote_plus``), the session's headers and cookies merged once. It skips
        ``Session.request``'s per-call merging of settings, which checks typing protocols
        with ``isinstance`` a dozen times per request and cost more CPU than the rest of the
        client on a busy sender."""
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method="POST",
            url=self.base_url,
            headers=self._headers,
            data=urlencode(self._signed(method, params)).encode("ascii"),
            params=b"",  # no query string (bytes are taken as they are)
            cookies=self._session.cookies,
        )
        return prepared

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()

    def __enter__(self) -> MobsetClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"MobsetClient(corp_id={self.corp_id}, login_name={self.login_name!r}, "
            f"base_url={self.base_url!r})"
        )

    def __getstate__(self) -> None:
        raise UnpicklableError(
            _("MobsetClient holds a password and is not picklable; use clone() or from_env().")
        )

    # -- the six functions ------------------------------------------------------------

    def send(
        self,
        phones: Sequence[str],
        content: str,
        *,
        long_sms: bool = True,
        timer_send: datetime | str | None = None,
        add_num: str | None = None,
    ) -> SendResult:
        """Submit one text to up to 50 numbers (SmsSend).

        Args:
            phones: 11-digit numbers; at most 50, no repeats.
            content: the text, without the signature (the gateway adds it). ``\\r\\n`` is
                sent as ``\\n``.
            long_sms: long SMS (the default); ``False`` sends ``LongSms=0``.
            timer_send: a scheduled time; an aware datetime is converted to Beijing time, a
                naive one is taken as Beijing time, a string must be ``YYYY-MM-DD HH:MM:SS``.
            add_num: extension digits appended to the sender number.

        Returns:
            The gateway's answer; ``numbers`` in request order, ``sms_id`` 0 = refused.

        Raises:
            InputError: before any request, for more than 50 numbers, repeats, or bad values.
            AmbiguousSendError: the request went out but no usable answer came back; the
                numbers may have been accepted. Never retried automatically.
            GatewayError: the gateway refused the request (a subclass per code family).
        """
        numbers = [str(p).strip() for p in phones]
        _check_count(len(numbers), MAX_NUMBERS_PER_SEND, "send")
        bad = [p for p in numbers if not _MOBILE.fullmatch(p)]
        if bad:
            raise InputError(
                ngettext(
                    "send: {numbers!r} is not an 11-digit mainland mobile number; give it as 11 "
                    "ASCII digits without +86 or spaces (read_contacts and normalise_phones "
                    "repair them).",
                    "send: {numbers!r} are not 11-digit mainland mobile numbers; give them as 11 "
                    "ASCII digits without +86 or spaces (read_contacts and normalise_phones "
                    "repair them).",
                    len(bad),
                ).format(numbers=bad[:3])
            )
        seen: set[str] = set()
        repeats = [p for p in numbers if p in seen or seen.add(p)]  # type: ignore[func-returns-value]
        if repeats:
            raise InputError(
                _(
                    "send: {phone} appears more than once in one request; each number may be "
                    "texted once per request."
                ).format(phone=repeats[0])
            )
        text = _protocol.normalise_newlines(str(content))
        if not text.strip():
            raise InputError(_("send: content is empty; write the message text."))
        params: dict[str, str] = {"PhoneNumbers": ",".join(numbers)}
        if not long_sms:
            params["LongSms"] = "0"
        if timer_send is not None:
            params["TimerSend"] = self._timer_text(timer_send)
        if add_num:
            if not str(add_num).isdigit():
                raise InputError(
                    _("send: add_num {add_num!r} must be digits only.").format(add_num=add_num)
                )
            params["AddNum"] = str(add_num)
        params["Content"] = text  # Content goes last, after Methods
        body = self._request("SmsSend", params, idempotent=False, phones=numbers)
        try:
            return parse_send(body)
        except ProtocolError as exc:
            raise AmbiguousSendError(
                _("the answer could not be read"), phones=numbers, body=body
            ) from exc

    def get_replies(self) -> list[Reply]:
        """Fetch up to 20 replies (SmsGetRecv).

        Each reply can be fetched **once only**: if this call's answer is lost on the way
        (timeout, dropped connection), those replies are gone, and this method does not
        retry such a failure. Use :meth:`fetch_replies` and store the raw body before parsing
        (``mobset_campaign.collect`` does) when replies matter.
        """
        return parse_replies(self.fetch_replies().text)

    def get_reports(self) -> list[Report]:
        """Fetch up to 50 delivery reports (SmsGetReport).

        Each report can be fetched **once only**: a lost answer cannot be fetched again, so
        only failures that happened before the request reached the gateway are retried. Use
        :meth:`fetch_reports` and store the raw body first (``mobset_campaign.collect`` does).
        """
        return parse_reports(self.fetch_reports().text)

    def fetch_replies(self) -> RawAnswer:
        """The raw SmsGetRecv body, unparsed, to be stored before :func:`parse_replies`."""
        return self._fetch("SmsGetRecv")

    def fetch_reports(self) -> RawAnswer:
        """The raw SmsGetReport body, unparsed, to be stored before :func:`parse_reports`."""
        return self._fetch("SmsGetReport")

    def get_balance(self) -> int:
        """The number of messages (parts) the account can still send (SmsGetBalance)."""
        data, _body = self._query("SmsGetBalance")
        return int(data["code"])

    def get_sign(self) -> str:
        """The account's signature without brackets, e.g. ``广州首易`` (SmsGetSign)."""
        data, body = self._query("SmsGetSign")
        if data["code"] != 0:  # success is Code 0 only (a balance is a count, a sign is not)
            problem = (
                _("success is Code 0, but the answer's Code is {code} ({message})").format(
                    code=data["code"], message=data["message"]
                )
                if data["message"]
                else _("success is Code 0, but the answer's Code is {code} (no message)").format(
                    code=data["code"]
                )
            )
            raise ProtocolError(0, problem, method="SmsGetSign", body=body)
        sign = data.get("sign")
        return "" if sign is None else str(sign).strip()

    def cancel(self, sms_ids: Sequence[int]) -> CancelResult:
        """Cancel scheduled messages by SmsId (SmsCancel), at most 50 ids per call.

        Messages already sent cannot be cancelled; their ids come back with an error status
        (e.g. -142). A lost answer is not retried: call again to learn the state (ids already
        cancelled then answer -142).
        """
        ids = [int(i) for i in sms_ids]
        _check_count(len(ids), MAX_IDS_PER_CANCEL, "cancel")
        if any(i <= 0 for i in ids):
            raise InputError(
                _("cancel: SmsIds are positive numbers from SmsSend; 0 is a failed send.")
            )
        body = self._request("SmsCancel", {"SmsID": ",".join(map(str, ids))}, idempotent=False)
        return parse_cancel(body)

    # -- plumbing ---------------------------------------------------------------------

    @staticmethod
    def _timer_text(when: datetime | str) -> str:
        if isinstance(when, datetime):
            return _protocol.format_beijing_time(when)
        parsed = _protocol.parse_timer_send(when)
        if parsed is None:
            raise InputError(
                _(
                    "send: timer_send {when!r} is not a time in the form 'YYYY-MM-DD HH:MM:SS' "
                    "(Beijing), e.g. '2026-12-24 09:30:00'; a date alone is not enough."
                ).format(when=when)
            )
        return _protocol.format_beijing_time(parsed)

    def _fetch(self, method: str) -> RawAnswer:
        text = self._request(method, {}, idempotent=False)
        return RawAnswer(method=method, text=text, received_at=datetime.now(UTC))

    def _query(self, method: str) -> tuple[dict[str, Any], str]:
        """A query's decoded answer and its raw body; an unreadable body is asked for again
        (a query changes nothing on the gateway)."""
        body = self._request(method, {}, idempotent=True)
        attempt = 0
        while True:
            try:
                return decode(body, method), body
            except ProtocolError:
                if attempt >= self.max_retries:
                    raise
            log.debug("%s: unreadable answer, asking again (attempt %d)", method, attempt + 1)
            self._sleep(self._backoff(attempt))
            attempt += 1
            body = self._request(method, {}, idempotent=True)

    def _signed(self, method: str, params: Mapping[str, str]) -> dict[str, str]:
        stamp = _protocol.format_timestamp()
        return {
            "CorpID": str(self.corp_id),
            "LoginName": self.login_name,
            "TimeStamp": stamp,
            "SecretKey": _protocol.secret_key(self.corp_id, self._password.reveal(), stamp),
            "Methods": method,
            **params,
        }

    def _backoff(self, attempt: int) -> float:
        """Capped exponential backoff with full jitter: up to min(cap, base · 2^attempt)."""
        base, cap = self.backoff
        return random.uniform(0, min(cap, base * (2**attempt)))

    def _sleep(self, seconds: float) -> None:
        """The pause between retries (tests replace it)."""
        time.sleep(seconds)

    def _request(
        self,
        method: str,
        params: Mapping[str, str],
        *,
        idempotent: bool,
        phones: Sequence[str] = (),
    ) -> str:
        """POST one request; retry only what is safe; return the body text.

        A busy answer (-189/-190) is retried here for every method. Failures after the
        request went out are retried only when ``idempotent`` (balance, sign).
        """
        attempt = 0
        while True:
            outcome, error, body = self._attempt(method, params, phones)
            if error is None:
                busy = _busy_code(body)
                if busy is None:
                    return body
                error = error_for_code(busy, _message(body), method=method, body=body)
                outcome = Reach.NEVER_LEFT
            retryable = outcome == Reach.NEVER_LEFT or (
                idempotent and outcome == Reach.WENT_OUT
            )
            if not retryable or attempt >= self.max_retries:
                raise error
            delay = self._backoff(attempt)
            log.info("%s: %s; retrying in %.1f s", method, type(error).__name__, delay)
            self._sleep(delay)
            attempt += 1

    def _tls_failure(
        self, method: str, tls: ssl.SSLError
    ) -> tuple[str, GatewayError | None, str]:
        """A failed TLS handshake: nothing was sent. An untrusted certificate is not retried
        (waiting does not make it trusted); another handshake failure may be, a few times."""
        if isinstance(tls, ssl.SSLCertVerificationError):
            reason = tls.verify_message or tls.reason or str(tls)
            error = TransportError(
                0,
                _("could not connect to {url}: its TLS certificate is not trusted ({reason})").format(
                    url=self.base_url, reason=reason
                ),
                method=method,
                hint=_(
                    "Nothing was sent. For `mobset-campaign simulator --tls`, trust its "
                    "certificate authority: pass ca_bundle= or set MOBSET_CA_BUNDLE to the "
                    "file it prints (sim.client() and sim.env() do). For the real gateway, "
                    "check the machine's clock and its certificate authorities, or give "
                    "ca_bundle / MOBSET_CA_BUNDLE the authority your network uses."
                ),
            )
            return Reach.UNTRUSTED, error, ""
        error = TransportError(
            0,
            _("could not connect to {url}: the TLS handshake failed ({reason})").format(
                url=self.base_url, reason=tls.reason or tls
            ),
            method=method,
            hint=_(
                "Nothing was sent. Check the scheme and port of the URL: the gateway speaks "
                "HTTPS on port 843 and HTTP on 8095, and `mobset-campaign simulator` speaks "
                "HTTPS only when started with --tls."
            ),
        )
        return Reach.NEVER_LEFT, error, ""

    def _attempt(
        self, method: str, params: Mapping[str, str], phones: Sequence[str]
    ) -> tuple[str, GatewayError | None, str]:
        started = time.perf_counter()
        try:
            resp = self._session.send(self._prepared(method, params), timeout=self.timeout)
            raw = resp.content
        except requests.RequestException as exc:
            never_made = connection_never_made(exc)
            log.debug(
                "%s failed after %.3f s: %s (%s)",
                method,
                time.perf_counter() - started,
                type(exc).__name__,
                "not connected" if never_made else "request went out",
            )
            detail = _("{error} talking to {url}").format(
                error=type(exc).__name__, url=self.base_url
            )
            tls = handshake_error(exc)
            if tls is not None:
                return self._tls_failure(method, tls)
            if never_made:
                return (
                    Reach.NEVER_LEFT,
                    TransportError(
                        0, _("could not connect ({detail})").format(detail=detail), method=method
                    ),
                    "",
                )
            if method == "SmsSend":
                return Reach.WENT_OUT, AmbiguousSendError(detail, phones=phones), ""
            return (
                Reach.WENT_OUT,
                TransportError(
                    0,
                    _("no answer ({detail})").format(detail=detail),
                    method=method,
                    hint=_went_out_hint(method),
                ),
                "",
            )
        text = raw.decode("utf-8-sig", errors="replace")
        log.debug(
            "%s -> HTTP %d, %d bytes in %.3f s",
            method,
            resp.status_code,
            len(raw),
            time.perf_counter() - started,
        )
        if resp.status_code >= 400:
            # Any HTTP answer means a server received the request: a 5xx gateway, or a proxy
            # or firewall answering 408/429/499. Only a refused connection is known to have
            # done nothing, so an SmsSend here is ambiguous and is never retried.
            msg = _("HTTP {status} from {url}").format(status=resp.status_code, url=self.base_url)
            if method == "SmsSend":
                return Reach.WENT_OUT, AmbiguousSendError(msg, phones=phones, body=text), text
            hint = (
                _("Check the base URL (it must end in /SDK3/Sms) and the account's SDK permission.")
                if resp.status_code < 500
                else _went_out_hint(method)
            )
            return (
                Reach.WENT_OUT,
                TransportError(0, msg, method=method, body=text, hint=hint),
                text,
            )
        return Reach.NEVER_LEFT, None, text


def _went_out_hint(method: str) -> str | None:
    """What a request that reached a server but got no usable answer may have done."""
    if method not in ("SmsGetReport", "SmsGetRecv"):
        return None  # a query: nothing changed on the gateway, asking again is safe
    if method == "SmsGetReport":
        return _(
            "The request reached the gateway, which hands out each of its reports only once: "
            "any reports it handed out with this lost answer cannot be fetched again (their "
            "messages stay without them). The rest are still waiting; collect again."
        )
    return _(
        "The request reached the gateway, which hands out each of its replies only once: any "
        "replies it handed out with this lost answer cannot be fetched again (their messages "
        "stay without them). The rest are still waiting; collect again."
    )


#: What the client puts in PhoneNumbers: exactly 11 ASCII digits, starting with 1.
_MOBILE = re.compile(r"1\d{10}", re.ASCII)


#: What ``send`` and ``cancel`` say for none, and for more than the gateway takes at once.
_COUNT_PROBLEMS = {
    "send": (
        N_("send: no numbers given; give at least one."),
        N_(
            "send: {n} numbers in one request; the gateway takes at most {limit}. Split them "
            "into requests of {limit} (mobset_campaign.send does this)."
        ),
    ),
    "cancel": (
        N_("cancel: no SmsIds given; give at least one."),
        N_(
            "cancel: {n} SmsIds in one request; the gateway takes at most {limit}. Split them "
            "into requests of {limit} (mobset_campaign.cancel does this)."
        ),
    ),
}


def _check_count(n: int, limit: int, method: str) -> None:
    """InputError, before any request, for none or more than the gateway takes at once."""
    none, too_many = _COUNT_PROBLEMS[method]
    if not n:
        raise InputError(_(none))
    if n > limit:
        raise InputError(_(too_many).format(n=n, limit=limit))


def _busy_code(body: str) -> int | None:
    """-189/-190 when the body is a busy answer, else None (cheap check before full parse)."""
    if "-189" not in body and "-190" not in body:
        return None
    try:
        data = _protocol.lower_keys(_protocol.parse_body(body))
        code = int(str(data.get("code")).strip())
    except (ValueError, TypeError, AttributeError):
        return None
    return code if code in _BUSY_CODES else None


def _message(body: str) -> str:
    try:
        message = _protocol.lower_keys(_protocol.parse_body(body)).get("message")
    except (ValueError, AttributeError):
        return ""
    return "" if message is None else str(message)
