"""Wire-level facts shared by the client and the simulator.

Signing (``SecretKey = MD5(CorpID + Password + TimeStamp)``), Beijing timestamps, the
platform table, and a tolerant JSON reader for the vendor's bodies (trailing commas,
string-or-number codes, keys in any case). Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "BEIJING",
    "MAX_CONTENT_CHARS",
    "MAX_IDS_PER_CANCEL",
    "MAX_NUMBERS_PER_SEND",
    "METHODS",
    "PATH",
    "REPLIES_PER_FETCH",
    "REPORTS_PER_FETCH",
    "TIMESTAMP_TOLERANCE",
    "beijing_now",
    "format_beijing_time",
    "format_timestamp",
    "lower_keys",
    "normalise_newlines",
    "parse_beijing_time",
    "parse_body",
    "parse_timer_send",
    "parse_timestamp",
    "platform_url",
    "secret_key",
]

BEIJING = ZoneInfo("Asia/Shanghai")
PATH = "/SDK3/Sms"
METHODS = ("SmsSend", "SmsGetRecv", "SmsGetReport", "SmsGetBalance", "SmsGetSign", "SmsCancel")
TIMESTAMP_TOLERANCE = timedelta(minutes=20)
#: The gateway's limits per request (the vendor text, sections 4.1, 4.3, 4.4 and 4.6).
MAX_NUMBERS_PER_SEND = 50
MAX_IDS_PER_CANCEL = 50
REPORTS_PER_FETCH = 50
REPLIES_PER_FETCH = 20
#: The longest message accepted, in characters with the bracketed signature. The vendor text
#: states no maximum (only -110 "content length invalid"); the project reads it as 500, the
#: estimator refuses above it (``SegmentRules.max_chars``) and the simulator answers -110
#: above it (``max_content``), so a rehearsal refuses exactly what the estimate refuses.
MAX_CONTENT_CHARS = 500

#: CorpID range → (http host:port, https host:port); from the vendor's platform table.
PLATFORMS: tuple[tuple[range, str, str], ...] = (
    (range(100000, 200000), "http://sms.mobset.com:8095", "https://sms.mobset.com:843"),
    (range(200000, 300000), "http://sms2.mobset.com:8095", "https://sms2.mobset.com:843"),
    (range(300000, 400000), "http://sms3.mobset.com:8095", "https://sms3.mobset.com:843"),
)


def platform_url(corp_id: int, *, use_https: bool = True) -> str | None:
    """The endpoint for a CorpID from the vendor's table, or ``None`` outside the ranges."""
    for ids, http, https in PLATFORMS:
        if corp_id in ids:
            return (https if use_https else http) + PATH
    return None


def normalise_newlines(text: str) -> str:
    """``\\r\\n`` and lone ``\\r`` become ``\\n``: the gateway sends and counts a line break
    as ``\\n``.

    >>> normalise_newlines("a\\r\\nb\\rc")
    'a\\nb\\nc'
    """
    return text.replace("\r\n", "\n").replace("\r", "\n")


def beijing_now(now: datetime | None = None) -> datetime:
    """The current time in Beijing (UTC+8) whatever the machine's zone.

    ``now`` may be given for tests; a naive value is taken as UTC.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(BEIJING)


def format_timestamp(now: datetime | None = None) -> str:
    """``YYYYMMDDHHMMSS`` in Beijing time (14 digits, as the vendor's table asks)."""
    return beijing_now(now).strftime("%Y%m%d%H%M%S")


def parse_timestamp(value: str, *, today: datetime | None = None) -> datetime | None:
    """Read a TimeStamp: 14 digits, or the 10-digit ``MMDDHHMMSS`` of the vendor's examples.

    The 10-digit form takes the year of ``today`` (Beijing); the result is aware (Beijing).
    Returns ``None`` when the value is not a valid timestamp.
    """
    value = value.strip()
    if not value.isdigit() or len(value) not in (10, 14):
        return None
    if len(value) == 10:
        value = f"{beijing_now(today).year:04d}{value}"
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
    except ValueError:
        return None


def secret_key(corp_id: int | str, password: str, timestamp: str) -> str:
    """``MD5(CorpID + Password + TimeStamp)`` as 32 lowercase hex digits."""
    return hashlib.md5(
        f"{corp_id}{password}{timestamp}".encode(), usedforsecurity=False
    ).hexdigest()


def format_beijing_time(when: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in Beijing time (TimerSend, RecvTime, ReportTime)."""
    if when.tzinfo is None:
        return when.strftime("%Y-%m-%d %H:%M:%S")  # taken as already Beijing time
    return when.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def parse_beijing_time(value: object) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` (or with ``/``, ``T`` or fractional seconds) → aware Beijing time."""
    if value is None:
        return None
    text = str(value).strip().replace("/", "-").replace("T", " ")
    if not text:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=BEIJING)
        except ValueError:
            continue
    return None


_TIMER_SEND = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)


def parse_timer_send(value: str) -> datetime | None:
    """A ``TimerSend`` text as an aware Beijing time, or ``None`` unless it is exactly
    ``YYYY-MM-DD HH:MM:SS`` (the vendor's format) and a real time: a date alone must not
    become midnight, nor ``12-1-2026 9:00`` anything at all.

    >>> parse_timer_send("2026-12-24 09:30:00").hour, parse_timer_send("2026-12-24")
    (9, None)
    """
    text = str(value).strip()
    if not _TIMER_SEND.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    except ValueError:  # 2026-02-30 25:00:00
        return None


_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def _strip_trailing_commas(text: str) -> str:
    """Remove commas before ``}``/``]`` outside string literals."""
    out: list[str] = []
    in_string = False
    escaped = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch == ",":
            j = i + 1
            while j < len(text) and text[j] in " \t\r\n":
                j += 1
            if j < len(text) and text[j] in "}]":
                i += 1
                continue
            out.append(ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def parse_body(text: str) -> Any:
    """Parse a vendor body: strict JSON first, then again without trailing commas.

    Raises ``ValueError`` when the text is still not JSON.
    """
    text = text.lstrip("\ufeff").strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if not _TRAILING_COMMA.search(text):
            raise  # not JSON, and not the vendor's trailing-comma quirk either
    return json.loads(_strip_trailing_commas(text))


def lower_keys(value: Any) -> Any:
    """Lower-case every mapping key, recursively (the vendor mixes ``Code``/``code``,
    ``SmsId``/``SmsID``)."""
    if isinstance(value, Mapping):
        return {str(k).lower(): lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_keys(v) for v in value]
    return value
