"""How far a failed request went: whether a byte of it can have reached the gateway.

The client retries only what never left (:attr:`Reach.NEVER_LEFT`): a connection never made
(:func:`connection_never_made`) or a TLS handshake that failed (:func:`handshake_error`).
"""

from __future__ import annotations

import ssl
from typing import Any

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

__all__ = ["Reach", "connection_never_made", "handshake_error"]


class Reach:
    """How far a failed attempt went, which decides whether it may be retried."""

    NEVER_LEFT = "never_left"  # the request never reached the gateway: safe to retry
    UNTRUSTED = "untrusted"  # never left either, but the certificate will not change: no retry
    WENT_OUT = "went_out"  # it may have been processed


def connection_never_made(exc: requests.RequestException) -> bool:
    """True when the failure happened before a byte of the request reached the gateway."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
        exc, requests.exceptions.ReadTimeout
    ):
        reason: Any = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False


def handshake_error(exc: requests.RequestException) -> ssl.SSLError | None:
    """The TLS error when the connection failed in its handshake, else None.

    The handshake comes before a byte of the request is sent, so such a failure is a
    connection never made. A certificate that is not trusted is one (the certificate and its
    name are checked while connecting); any other TLS error counts only when it was raised
    by the handshake itself (``do_handshake`` in its traceback): one raised while the answer
    was read may follow a request the gateway received.
    """
    if not isinstance(exc, requests.exceptions.SSLError):
        return None
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo:
        cause = todo.pop()
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, ssl.SSLCertVerificationError) or (
            isinstance(cause, ssl.SSLError) and _raised_in_handshake(cause)
        ):
            return cause
        links = (getattr(cause, "reason", None), cause.__cause__, cause.__context__, *cause.args)
        todo += [link for link in links if isinstance(link, BaseException)]
    return None


def _raised_in_handshake(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "do_handshake":
            return True
        tb = tb.tb_next
    return False
