"""The simulated gateway's rules and state, without any HTTP.

:class:`Gateway` takes the parameters of one ``/SDK3/Sms`` request and returns a result
(an error code, the accepted numbers, the reports handed out, ...). It holds the accounts and
their balances, every accepted message, and one heap of future events (delivery reports and
replies) ordered by their time on the sim clock. A fetch moves the events that are due
into the account's queue and hands out the oldest first, so no request ever scans all messages.
"""

from __future__ import annotations

import heapq
import hmac
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar

from .._protocol import (
    BEIJING,
    METHODS,
    TIMESTAMP_TOLERANCE,
    beijing_now,
    parse_beijing_time,
    parse_timestamp,
    secret_key,
)
from ..codes import ERROR_CODES
from ..errors import ConfigError, InputError
from .billing import billed_length, billed_parts, shown_signature
from .model import (
    OPT_OUT_TEXTS,
    REPLY_TEXTS,
    AcceptedMessage,
    Account,
    Settings,
    SimClock,
    check_status,
    default_ex_status,
)

__all__ = ["Failure", "Gateway", "Request", "Result", "failure"]

#: The parameter names of the vendor text; a request may spell them in any case.
PARAMS = (
    "CorpID",
    "LoginName",
    "TimeStamp",
    "SecretKey",
    "Methods",
    "PhoneNumbers",
    "Content",
    "LongSms",
    "TimerSend",
    "AddNum",
    "SmsID",
)
_CANONICAL = {name.lower(): name for name in PARAMS}
_FIXED = PARAMS[:5]

FIRST_SMS_ID = 1355555551  # the SmsId of the vendor's example
# The simulator's own reading of the vendor's limits (it plays the gateway: a client that
# got them wrong must meet a refusal here, so they are not taken from the client's side).
MAX_NUMBERS = 50  # PhoneNumbers per SmsSend
MAX_CANCEL_IDS = 50  # SmsID per SmsCancel
MAX_REPORTS = 50  # per SmsGetReport
MAX_REPLIES = 20  # per SmsGetRecv
REPORT_RETENTION = 48 * 3600.0  # the platform keeps reports 48 hours
# Polling too often (Settings.min_poll_interval). The vendor text warns, for SmsGetRecv and
# SmsGetReport: 为避免请求频繁被平台禁用，调用此功能间隔时间建议30-300秒 (call every 30-300 s so
# the platform does not disable the account for frequent requests), and names no code. The
# closest documented answer to "not now" is system busy (PROTOCOL.md reads throttling so);
# -189 系统繁忙2 keeps it apart from the busy fault's -190. Like a busy answer it hands
# nothing out: the reports and replies wait for a call that respects the pace.
POLL_TOO_SOON = -189
REPLY_RETENTION = 10 * 86400.0  # and replies 10 days
_MOBILE = re.compile(r"1[3-9][0-9]{9}")

#: Outcome mix of a delivery report: (Status, ExStatus) → weight. ``None`` = no report ever.

# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Failure:
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class Sent:
    numbers: list[tuple[str, int]]  # (phone, SmsId or 0), request order
    accepted: int


@dataclass(frozen=True, slots=True)
class ReportRecord:
    sms_id: int
    status: int
    time: float
    ex_status: str
    expires: float  # the platform keeps a report 48 hours


@dataclass(frozen=True, slots=True)
class ReplyRecord:
    phone: str
    recv_number: str
    add_num: str
    time: float
    content: str
    expires: float  # and a reply 10 days, from when it arrived


@dataclass(frozen=True, slots=True)
class Reports:
    items: list[ReportRecord]
    declared: int | None = None  # the Code, when a fault makes it disagree with the items


@dataclass(frozen=True, slots=True)
class Replies:
    items: list[ReplyRecord]
    declared: int | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    amount: int


@dataclass(frozen=True, slots=True)
class Sign:
    sign: str


@dataclass(frozen=True, slots=True)
class Cancelled:
    details: list[tuple[str, int]]  # (SmsID as sent, 1 or an error code)
    count: int


Result = Failure | Sent | Reports | Replies | Balance | Sign | Cancelled


def failure(code: int, detail: str = "") -> Failure:
    """The vendor's error: its text from the code table, ``:detail`` appended for -102."""
    text = ERROR_CODES[code].texts[0]
    return Failure(code, f"{text}:{detail}" if detail else text)


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class Request:
    """The parameters of one request, names made canonical; ``duplicate`` names the first
    parameter sent twice (the gateway answers -102 for it)."""

    params: dict[str, str]
    duplicate: str | None = None

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Request:
        params: dict[str, str] = {}
        duplicate: str | None = None
        for raw_name, value in pairs:
            name = _CANONICAL.get(raw_name.strip().lower())
            if name is None:
                continue  # the gateway ignores parameters it does not know
            if name in params and duplicate is None:
                duplicate = name
            params.setdefault(name, value)
        return cls(params, duplicate)

    @property
    def method(self) -> str:
        return self.params.get("Methods", "").strip()


# --------------------------------------------------------------------------- the gateway

_INTERIM, _FINAL, _REPLY = 0, 1, 2


@dataclass(slots=True)
class _Message:
    sms_id: int
    key: tuple[int, str]
    phone: str
    add_num: str
    parts: int
    day: date
    send_at: float
    outcome: tuple[int | None, str]
    reply: str | None
    reply_delay: float
    cancelled: bool = False


@dataclass(slots=True)
class _AccountState:
    account: Account
    balance: int
    daily: dict[date, int] = field(default_factory=dict)
    reports: deque[ReportRecord] = field(default_factory=deque)
    replies: deque[ReplyRecord] = field(default_factory=deque)
    served: dict[str, float] = field(default_factory=dict)  # Method → sim time of last served


_UNSET: tuple[int | None, str] = (-1, "unset")


class Gateway:
    """The account book and message store behind the HTTP server (thread-safe)."""

    def __init__(self, settings: Settings, clock: SimClock, accounts: Sequence[Account]) -> None:
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._rng = random.Random(settings.seed)
        self._outcomes, self._cum = settings.outcome_table()
        self._accounts: dict[tuple[int, str], _AccountState] = {}
        self._messages: dict[int, _Message] = {}
        self._accepted: list[AcceptedMessage] = []
        self._events: list[tuple[float, int, int, _Message]] = []
        self._seq = 0
        # Seeded runs start at the vendor example's id, so examples and tests are repeatable.
        # Unseeded ones start from the clock, so two rehearsals sharing one ledger never
        # hand out the same SmsId (the real gateway never reuses one).
        self._next_id = (
            FIRST_SMS_ID
            if settings.seed is not None
            else FIRST_SMS_ID + time.time_ns() // 1000 % 10**12
        )
        self._overrides: dict[str, tuple[int | None, str]] = {}
        self._requests: Counter[str] = Counter()
        self._handed_out: list[tuple[int, int]] = []  # (SmsId, Status) of reports given out
        for account in accounts:
            self.add_account(account)

    # ---- configuration and introspection

    def add_account(self, account: Account) -> None:
        with self._lock:
            if account.key in self._accounts:
                raise ConfigError(
                    f"The simulator already has CorpID {account.corp_id} login "
                    f"{account.login_name!r}; give another login_name or corp_id."
                )
            self._accounts[account.key] = _AccountState(account, account.balance)

    def _state(self, corp_id: int | None, login_name: str | None) -> _AccountState:
        for key, state in self._accounts.items():
            if (corp_id is None or key[0] == int(corp_id)) and (
                login_name is None or key[1] == login_name
            ):
                return state
        raise InputError(
            f"The simulator has no account CorpID {corp_id} login {login_name!r}; "
            f"it has {sorted(self._accounts)}."
        )

    def balance(self, corp_id: int | None = None, login_name: str | None = None) -> int:
        with self._lock:
            return self._state(corp_id, login_name).balance

    def accepted(self) -> list[AcceptedMessage]:
        with self._lock:
            return list(self._accepted)

    def accepted_count(self) -> int:
        with self._lock:
            return len(self._accepted)

    def handed_out(self) -> list[tuple[int, int]]:
        with self._lock:
            return list(self._handed_out)

    def count(self, method: str) -> None:
        with self._lock:
            self._requests[method if method in METHODS else "other"] += 1
            self._requests["total"] += 1

    def requests(self) -> dict[str, int]:
        with self._lock:
            counts = {name: self._requests[name] for name in (*METHODS, "other", "total")}
        return counts

    def set_outcome(self, phone: str, status: int | None, ex_status: str | None) -> None:
        check_status(status, "set_outcome")
        with self._lock:
            self._overrides[phone] = (
                status,
                default_ex_status(status) if ex_status is None else ex_status,
            )

    def inject_reply(
        self,
        phone: str,
        content: str,
        add_num: str,
        recv_time: datetime | None,
        corp_id: int | None,
        login_name: str | None,
    ) -> None:
        with self._lock:
            state = self._state(corp_id, login_name)
            now = self.clock.time()
            self._pump(now)
            if recv_time is None:
                when = now
            else:
                when = (
                    recv_time.replace(tzinfo=BEIJING) if recv_time.tzinfo is None else recv_time
                ).timestamp()
            recv = state.account.sender_number + add_num
            state.replies.append(
                ReplyRecord(phone, recv, add_num, when, content, now + REPLY_RETENTION)
            )

    # ---- one request

    def handle(self, request: Request, real_now: datetime | None = None) -> Result:
        """Check and perform one request; ``real_now`` is the wall clock for the TimeStamp."""
        if request.duplicate:
            return failure(-102, request.duplicate)
        p = request.params
        for name in _FIXED:
            if not p.get(name, "").strip():
                return failure(-102, name)
        corp = p["CorpID"].strip()
        if not (corp.isascii() and corp.isdigit()):
            return failure(-102, "CorpID")
        real = beijing_now(real_now)
        stamp = _read_timestamp(p["TimeStamp"].strip(), real)
        if stamp is None:
            return failure(-102, "TimeStamp")
        key = (int(corp), p["LoginName"].strip())
        with self._lock:
            state = self._accounts.get(key)
            if state is None:
                # -107 企业不存在: no enterprise has this CorpID; -103 帐号不存在: it has no
                # such login.
                known = any(corp_id == key[0] for corp_id, _ in self._accounts)
                return failure(-103 if known else -107)
            expected = secret_key(corp, state.account.password, p["TimeStamp"].strip())
            given = p["SecretKey"].strip().lower().encode()
            if not hmac.compare_digest(expected.encode(), given):
                return failure(-105)
            if abs(stamp - real) > TIMESTAMP_TOLERANCE:
                return failure(-105)
            method = request.method
            if method == "SmsSend":
                return self._send(state, p)
            if method in ("SmsGetReport", "SmsGetRecv"):
                return self._fetch(state, method)
            if method == "SmsGetBalance":
                return Balance(state.balance)
            if method == "SmsGetSign":
                sign = state.account.sign.strip().strip("【】[]")
                return Sign(sign) if sign else failure(-132)
            if method == "SmsCancel":
                return self._cancel(state, p)
            return failure(-191)

    def _send(self, state: _AccountState, p: dict[str, str]) -> Result:
        for name in ("PhoneNumbers", "Content"):
            if name not in p:
                return failure(-102, name)
        phones = [x.strip() for x in p["PhoneNumbers"].split(",") if x.strip()]
        if not 0 < len(phones) <= MAX_NUMBERS:
            return failure(-112)
        if len(set(phones)) < len(phones):
            # A number twice in one request: refused as the client refuses it. The vendor text
            # has no code for it; -112 speaks of the count of numbers, so the list is read as
            # an invalid parameter.
            return failure(-102, "PhoneNumbers")
        account = state.account
        content = p["Content"]
        if not shown_signature(account.sign):
            return failure(-132)
        if not content.strip() or billed_length(content, account.sign) > self.settings.max_content:
            return failure(-110)  # nothing to send (only spaces or line breaks), or too long
        timer_raw = p.get("TimerSend", "").strip()
        timer = parse_beijing_time(timer_raw) if timer_raw else None
        if timer_raw and timer is None:
            return failure(-102, "TimerSend")
        add_num = p.get("AddNum", "").strip()
        # Digits only; no length cap: the vendor text says the length an extension may have
        # varies by carrier and region (可扩展号码的长度是不定的).
        if add_num and not (add_num.isascii() and add_num.isdigit()):
            return failure(-102, "AddNum")
        long_sms = p.get("LongSms", "").strip() != "0"
        parts = billed_parts(content, account.sign, long_sms=long_sms)
        valid = [bool(_MOBILE.fullmatch(phone)) for phone in phones]
        cost = parts * sum(valid)
        now = self.clock.time()
        day = datetime.fromtimestamp(now, BEIJING).date()
        if cost > state.balance:
            return failure(-129)
        used = state.daily.get(day, 0)
        if account.daily_limit is not None and used + cost > account.daily_limit:
            return failure(-126)
        state.balance -= cost
        state.daily[day] = used + cost
        send_at = max(now, timer.timestamp()) if timer is not None else now
        accepted_at = datetime.fromtimestamp(now, BEIJING)
        numbers: list[tuple[str, int]] = []
        for phone, ok in zip(phones, valid, strict=True):
            if not ok:
                numbers.append((phone, 0))
                continue
            sms_id = self._next_id
            self._next_id += 1
            self._accept(state, sms_id, phone, add_num, parts, day, send_at)
            self._accepted.append(
                AcceptedMessage(
                    phone, content, sms_id, account.corp_id, accepted_at, timer, add_num, parts
                )
            )
            numbers.append((phone, sms_id))
        return Sent(numbers, sum(valid))

    def _accept(
        self,
        state: _AccountState,
        sms_id: int,
        phone: str,
        add_num: str,
        parts: int,
        day: date,
        send_at: float,
    ) -> None:
        s, rng = self.settings, self._rng
        # Every message draws the same numbers in the same order, whatever the outcome, so a
        # seed reproduces the whole run.
        outcome = rng.choices(self._outcomes, cum_weights=self._cum)[0]
        delay = rng.uniform(*s.report_delay)
        interim = rng.random() < s.interim_share
        interim_at = send_at + delay * rng.random()
        replies = rng.random() < s.reply_rate
        opt_out = rng.random() < s.opt_out_share
        text = rng.choice(OPT_OUT_TEXTS if opt_out else REPLY_TEXTS)
        reply_delay = rng.uniform(*s.reply_delay)
        msg = _Message(
            sms_id,
            state.account.key,
            phone,
            add_num,
            parts,
            day,
            send_at,
            outcome,
            text if replies else None,
            reply_delay,
        )
        self._messages[sms_id] = msg
        if interim:
            self._push(interim_at, _INTERIM, msg)
        self._push(send_at + delay, _FINAL, msg)

    def _push(self, due: float, kind: int, msg: _Message) -> None:
        self._seq += 1
        heapq.heappush(self._events, (due, self._seq, kind, msg))

    def _pump(self, now: float) -> None:
        """Move every event due by ``now`` into its account's queue, in time order."""
        events = self._events
        while events and events[0][0] <= now:
            due, _, kind, msg = heapq.heappop(events)
            if msg.cancelled:
                continue
            state = self._accounts[msg.key]
            if kind == _REPLY:
                recv = state.account.sender_number + msg.add_num
                state.replies.append(
                    ReplyRecord(
                        msg.phone, recv, msg.add_num, due, msg.reply or "", due + REPLY_RETENTION
                    )
                )
                continue
            forced = self._overrides.get(msg.phone, _UNSET)
            if kind == _INTERIM:
                if forced is _UNSET:
                    state.reports.append(
                        ReportRecord(msg.sms_id, 10, due, "", due + REPORT_RETENTION)
                    )
                continue
            status, ex_status = msg.outcome if forced is _UNSET else forced
            if status is None:
                continue
            state.reports.append(
                ReportRecord(msg.sms_id, status, due, ex_status, due + REPORT_RETENTION)
            )
            if status == 12 and msg.reply is not None:
                self._push(due + msg.reply_delay, _REPLY, msg)

    def _fetch(self, state: _AccountState, method: str) -> Result:
        now = self.clock.time()
        pace = self.settings.min_poll_interval
        last = state.served.get(method)
        if pace and last is not None and now - last < pace:
            return failure(POLL_TOO_SOON)
        state.served[method] = now
        self._pump(now)
        if method == "SmsGetReport":
            taken = _take(state.reports, MAX_REPORTS, now)
            self._handed_out += [(r.sms_id, r.status) for r in taken]
            return Reports(taken)
        return Replies(_take(state.replies, MAX_REPLIES, now))

    def _cancel(self, state: _AccountState, p: dict[str, str]) -> Result:
        if "SmsID" not in p:
            return failure(-102, "SmsID")
        ids = [x.strip() for x in p["SmsID"].split(",") if x.strip()]
        if not ids:
            return failure(-102, "SmsID")
        if len(ids) > MAX_CANCEL_IDS:
            return failure(-143)
        now = self.clock.time()
        details: list[tuple[str, int]] = []
        for raw in ids:
            msg = self._messages.get(int(raw)) if raw.isascii() and raw.isdigit() else None
            if msg is None or msg.key != state.account.key or msg.cancelled or now >= msg.send_at:
                details.append((raw, -142))
                continue
            msg.cancelled = True
            state.balance += msg.parts
            state.daily[msg.day] -= msg.parts
            details.append((raw, 1))
        return Cancelled(details, sum(1 for _, status in details if status == 1))


_Record = TypeVar("_Record", ReportRecord, ReplyRecord)


def _take(queue: deque[_Record], limit: int, now: float) -> list[_Record]:
    while queue and queue[0].expires < now:
        queue.popleft()  # past the platform's retention: gone, as on the real gateway
    return [queue.popleft() for _ in range(min(limit, len(queue)))]


def _read_timestamp(value: str, real: datetime) -> datetime | None:
    """The TimeStamp as a Beijing time; the 10-digit form takes the year nearest ``real``."""
    if len(value) != 10:
        return parse_timestamp(value)
    candidates = [parse_timestamp(value, today=real + timedelta(days=d)) for d in (-366, 0, 366)]
    found = [c for c in candidates if c is not None]
    return min(found, key=lambda c: abs(c - real)) if found else None
