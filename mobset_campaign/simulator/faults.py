"""Fault injection: what the simulator does wrong, on which method, how often.

Faults that act *before* the request is performed (nothing is accepted, billed or handed out):

- ``latency``: sleep ``delay`` seconds (default 1), then answer normally. It stacks with one
  other fault.
- ``busy``: answer ``{"Code": -190, "Message": "系统繁忙1"}`` (or ``code``), HTTP 200.
- ``http500``: HTTP 500 with an IIS-style HTML page.

Faults that act *after* the request was performed (the send is accepted and billed, the
reports are marked fetched):

- ``drop_after_accept``: close the connection without sending a single byte.
- ``slow``: sleep ``delay`` seconds (default 5) before answering, so a client with a shorter
  read timeout gives up.
- ``truncated``: send the first half of the body, with a Content-Length matching that half.
- ``malformed``: answer HTTP 200 with an ASP.NET-style HTML error page instead of JSON.
- ``short_id_list``: (SmsSend) accept every number but leave the last one out of SmsIdList,
  so the answer has fewer SmsIds than the request had numbers.
- ``miscount``: (SmsGetReport, SmsGetRecv) hand out a page but list only its first half in
  Details, while ``Code`` still counts every item handed out (a page of one lists none).

A fault applies to one ``Methods`` value or to ``"*"`` (every request), on every call, on the
next ``times`` calls, with a ``probability`` per call, or both (at most ``times`` calls, each
with that probability). The first matching fault in injection order wins; latency adds to it.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from .._protocol import METHODS
from ..codes import ERROR_CODES
from ..errors import InputError

__all__ = ["AFTER", "BEFORE", "FAULTS", "Fault", "FaultSet"]

FAULTS = (
    "latency",
    "busy",
    "http500",
    "drop_after_accept",
    "slow",
    "truncated",
    "malformed",
    "short_id_list",
    "miscount",
)
BEFORE = frozenset({"latency", "busy", "http500"})
AFTER = frozenset(FAULTS) - BEFORE
_DEFAULT_DELAY = {"latency": 1.0, "slow": 5.0}

HTML_500 = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" \
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"/>
<title>500 - 内部服务器错误。</title></head>
<body><div id="header"><h1>服务器错误</h1></div>
<div id="content"><fieldset><h2>500 - 内部服务器错误。</h2>
<h3>您查找的资源存在问题，因而无法显示。</h3></fieldset></div></body></html>
"""

HTML_MALFORMED = """<html>
<head><title>Runtime Error</title></head>
<body bgcolor="white">
<span><H1>Server Error in '/SDK3' Application.<hr width=100% size=1 color=silver></H1>
<h2><i>Runtime Error</i></h2></span>
<b>Description:</b> An application error occurred on the server.
</body>
</html>
"""


@dataclass(slots=True)
class Fault:
    """One injected fault; ``triggered`` counts how often it fired."""

    method: str
    fault: str
    times: int | None = None
    probability: float | None = None
    delay: float | None = None
    code: int | None = None
    triggered: int = 0

    @property
    def seconds(self) -> float:
        """The sleep of a latency or slow fault."""
        return _DEFAULT_DELAY.get(self.fault, 0.0) if self.delay is None else self.delay

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.triggered >= self.times

    def busy_answer(self) -> tuple[int, str]:
        """(code, message) of a busy fault."""
        code = -190 if self.code is None else self.code
        info = ERROR_CODES.get(code)
        return code, info.texts[0] if info else ERROR_CODES[-190].texts[0]

    def to_json(self) -> dict[str, object]:
        return asdict(self)


class FaultSet:
    """The faults of one simulator (thread-safe); ``seed`` makes probabilities reproducible."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._rng = random.Random(seed)

    def add(
        self,
        method: str,
        fault: str,
        *,
        times: int | None = None,
        probability: float | None = None,
        delay: float | None = None,
        code: int | None = None,
    ) -> Fault:
        if method != "*" and method not in METHODS:
            raise InputError(f"inject: method {method!r} is not one of {METHODS} or '*'.")
        if fault not in FAULTS:
            raise InputError(f"inject: fault {fault!r} is not one of {FAULTS}.")
        if times is not None and (
            isinstance(times, bool) or not isinstance(times, int) or times < 1
        ):
            raise InputError(f"inject: times must be a whole number of 1 or more, not {times!r}.")
        if probability is not None and not 0 < probability <= 1:
            raise InputError(f"inject: probability must be in (0, 1], not {probability!r}.")
        if delay is not None and not delay >= 0:
            raise InputError(f"inject: delay must be 0 or more seconds, not {delay!r}.")
        if code is not None and (fault != "busy" or not isinstance(code, int) or code >= 0):
            raise InputError("inject: code is for the 'busy' fault only, and must be negative.")
        entry = Fault(method, fault, times, probability, delay, code)
        with self._lock:
            self._faults.append(entry)
        return entry

    def add_json(self, data: Mapping[str, object]) -> Fault:
        """:meth:`add` from a JSON object (``POST /_sim/fault``)."""
        unknown = set(data) - {"method", "fault", "times", "probability", "delay", "code"}
        if unknown:
            raise InputError(f"/_sim/fault: unknown fields {sorted(unknown)}.")
        method, fault = data.get("method", "*"), data.get("fault")
        if not isinstance(method, str) or not isinstance(fault, str):
            raise InputError('/_sim/fault needs {"fault": "...", "method": "SmsSend" or "*"}.')
        times, code = _optional(data, "times", int), _optional(data, "code", int)
        probability = _optional(data, "probability", float)
        delay = _optional(data, "delay", float)
        return self.add(
            method,
            fault,
            times=None if times is None else int(times),
            probability=probability,
            delay=delay,
            code=None if code is None else int(code),
        )

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def pick(self, method: str) -> tuple[Fault | None, Fault | None]:
        """The faults that fire for this request: (latency or None, another or None)."""
        latency: Fault | None = None
        other: Fault | None = None
        with self._lock:
            if not self._faults:
                return None, None
            for f in self._faults:
                if (f.method != "*" and f.method != method) or f.exhausted:
                    continue
                if (f.fault == "latency" and latency) or (f.fault != "latency" and other):
                    continue
                if f.probability is not None and self._rng.random() >= f.probability:
                    continue
                f.triggered += 1
                if f.fault == "latency":
                    latency = f
                else:
                    other = f
        return latency, other


def _optional(data: Mapping[str, object], name: str, kind: type) -> float | None:
    """A JSON number field, or ``None``; ``kind=int`` wants a whole number."""
    value = data.get(name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (kind is int and not float(value).is_integer())
    ):
        what = "a whole number" if kind is int else "a number"
        raise InputError(f"/_sim/fault: {name} must be {what}, not {value!r}.")
    return value
