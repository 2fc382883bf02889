"""The simulator's configuration: accounts, the sim clock, the knobs, accepted messages."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .._protocol import BEIJING, MAX_CONTENT_CHARS
from ..codes import STATUS_CODES
from ..errors import ConfigError, InputError, MobsetError
from .billing import shown_signature

__all__ = [
    "DEFAULT_OUTCOMES",
    "OPT_OUT_TEXTS",
    "REPLY_TEXTS",
    "AcceptedMessage",
    "Account",
    "Settings",
    "SimClock",
    "format_time",
]

DEFAULT_OUTCOMES: dict[tuple[int | None, str], float] = {
    (12, "DELIVRD"): 0.88,
    (13, "UNDELIV"): 0.025,
    (13, "EXPIRED"): 0.02,
    (11, "MK:0001"): 0.02,
    (7, "REJECTD"): 0.025,
    (None, ""): 0.03,
}
#: ExStatus used when an outcome or :meth:`Simulator.set_outcome` gives only a Status.
_DEFAULT_EX = {12: "DELIVRD", 13: "UNDELIV", 11: "MK:0001", 7: "REJECTD", 10: "", 6: "MN:0001"}

#: What simulated phones type to opt out (the ledger recognises these and more).
OPT_OUT_TEXTS = ("R", "T", "TD", "退订", "td")
REPLY_TEXTS = (
    "收到",
    "好的",
    "谢谢",
    "怎么参加？",
    "收到，谢谢",
    "已收到",
    "好",
    "什么时候开始？",
    "地址在哪里？",
    "多少钱？",
    "可以",
    "不需要",
    "ok",
)


def default_ex_status(status: int | None) -> str:
    if status is None:
        return ""
    return _DEFAULT_EX.get(status, "UNKNOWN")


def check_status(status: int | None, where: str, error: type[MobsetError] = InputError) -> None:
    """Refuse a Status that is not in the vendor's table (``None`` means no report)."""
    if status is not None and status not in STATUS_CODES:
        raise error(
            f"{where}: {status!r} is not a vendor Status; use one of "
            f"{sorted(STATUS_CODES)} or None (no report)."
        )


# --------------------------------------------------------------------------- public records


@dataclass(frozen=True, slots=True)
class Account:
    """One gateway account (an enterprise CorpID and one of its user logins).

    ``balance`` is the opening balance in billed parts; :meth:`Simulator.balance` gives the live
    one. ``daily_limit`` caps the parts billed per Beijing day (``None`` = no cap). The password
    never appears in the repr.

    >>> Account(corp_id=300004, login_name="ops", password="s3cret")
    Account(corp_id=300004, login_name='ops', balance=1000000, sign='广州首易', daily_limit=None, sender_number='10691179164004')
    """

    corp_id: int = 300003
    login_name: str = "demo"
    password: str = field(default="demo-password", repr=False)
    balance: int = 1_000_000
    sign: str = "广州首易"
    daily_limit: int | None = None
    sender_number: str = "10691179164004"

    def __post_init__(self) -> None:
        corp = str(self.corp_id).strip()
        if not corp.isascii() or not corp.isdigit():
            raise ConfigError(f"Account corp_id {self.corp_id!r} must be a number like 300003.")
        object.__setattr__(self, "corp_id", int(corp))
        if not self.login_name or not self.password:
            raise ConfigError("Account needs a login_name and a password.")
        if self.balance < 0:
            raise ConfigError(f"Account balance {self.balance} must be 0 or more.")
        if self.daily_limit is not None and self.daily_limit < 0:
            raise ConfigError(f"Account daily_limit {self.daily_limit} must be 0 or more, or None.")
        if not (self.sender_number.isascii() and self.sender_number.isdigit()):
            raise ConfigError(f"Account sender_number {self.sender_number!r} must be digits.")
        if len(shown_signature(self.sign)) > 30:
            raise ConfigError(f"Account sign {self.sign!r} is too long (at most 28 characters).")

    @property
    def key(self) -> tuple[int, str]:
        return (self.corp_id, self.login_name)


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    """One number the simulator accepted (and billed) in an SmsSend.

    Attributes:
        phone: the number as sent. content: the text as sent (without the signature).
        sms_id: the SmsId answered. corp_id: the account's CorpID.
        time: when it was accepted (sim clock, Beijing). timer_send: the TimerSend asked for,
        or ``None``. add_num: the AddNum, or ``""``. parts: parts billed for this number.
    """

    phone: str
    content: str
    sms_id: int
    corp_id: int
    time: datetime
    timer_send: datetime | None
    add_num: str
    parts: int

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (times as ``YYYY-MM-DD HH:MM:SS`` Beijing)."""
        return {
            "phone": self.phone,
            "content": self.content,
            "sms_id": self.sms_id,
            "corp_id": self.corp_id,
            "time": format_time(self.time.timestamp()),
            "timer_send": None
            if self.timer_send is None
            else format_time(self.timer_send.timestamp()),
            "add_num": self.add_num,
            "parts": self.parts,
        }


class SimClock:
    """The simulator's clock: report and reply delays and TimerSend follow it.

    A manual clock stands still until :meth:`advance`; a real one follows the wall clock,
    ``time_scale`` times as fast. Both start at ``start`` (default: now; a naive value is
    Beijing time) and both can be moved forward with :meth:`advance`.

    >>> clock = SimClock(manual=True, start=datetime(2024, 5, 1, 10, 0))
    >>> clock.advance(90).strftime("%H:%M:%S")
    '10:01:30'
    """

    def __init__(
        self, *, manual: bool = False, time_scale: float = 1.0, start: datetime | None = None
    ) -> None:
        if not time_scale > 0:
            raise ConfigError(f"time_scale must be above 0, not {time_scale!r}.")
        if start is None:
            start = datetime.now(UTC)
        elif start.tzinfo is None:
            start = start.replace(tzinfo=BEIJING)
        self.manual = manual
        self.time_scale = float(time_scale)
        self._origin = start.timestamp()
        self._mono0 = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        """Seconds since the epoch on the sim clock."""
        t = self._origin + self._offset
        if not self.manual:
            t += (time.monotonic() - self._mono0) * self.time_scale
        return t

    def now(self) -> datetime:
        """The sim time, aware, Beijing."""
        return datetime.fromtimestamp(self.time(), BEIJING)

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward; returns the new sim time."""
        if not seconds >= 0:
            raise InputError(f"clock.advance needs 0 or more seconds, not {seconds!r}.")
        with self._lock:
            self._offset += float(seconds)
        return self.now()

    def __repr__(self) -> str:
        kind = "manual" if self.manual else f"real x{self.time_scale:g}"
        return f"SimClock({kind}, now={format_time(self.time())!r})"


@dataclass(frozen=True, slots=True)
class Settings:
    """The simulator's knobs (see :class:`Simulator` for what each does)."""

    report_delay: tuple[float, float] = (1.0, 3.0)
    outcomes: Mapping[int | tuple[int | None, str] | None, float] | None = None
    interim_share: float = 0.0
    reply_rate: float = 0.05
    opt_out_share: float = 0.3
    reply_delay: tuple[float, float] = (5.0, 120.0)
    style: str = "vendor"
    max_content: int = MAX_CONTENT_CHARS
    seed: int | None = None
    min_poll_interval: float | None = None

    def __post_init__(self) -> None:
        for name in ("report_delay", "reply_delay"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ConfigError(
                    f"{name} must be (min, max) with 0 <= min <= max, not {(lo, hi)}."
                )
        for name in ("interim_share", "reply_rate", "opt_out_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigError(f"{name} must be between 0 and 1, not {value!r}.")
        if self.style not in ("vendor", "strict"):
            raise ConfigError(f"style must be 'vendor' or 'strict', not {self.style!r}.")
        if self.max_content < 1:
            raise ConfigError(f"max_content must be at least 1, not {self.max_content!r}.")
        if self.min_poll_interval is not None and not self.min_poll_interval >= 0:
            raise ConfigError(
                f"min_poll_interval must be 0 or more seconds (or None), not "
                f"{self.min_poll_interval!r}."
            )
        self.outcome_table()  # validates

    def outcome_table(self) -> tuple[list[tuple[int | None, str]], list[float]]:
        """The outcome mix as (outcomes, cumulative weights)."""
        raw = DEFAULT_OUTCOMES if self.outcomes is None else self.outcomes
        outs: list[tuple[int | None, str]] = []
        cum: list[float] = []
        total = 0.0
        for key, weight in raw.items():
            status, ex = key if isinstance(key, tuple) else (key, default_ex_status(key))
            check_status(status, "outcomes", ConfigError)
            if not weight >= 0:
                raise ConfigError(f"outcomes: the weight of {key!r} must be 0 or more.")
            total += float(weight)
            outs.append((status, ex))
            cum.append(total)
        if not total > 0:
            raise ConfigError("outcomes: give at least one outcome a weight above 0.")
        return outs, cum


def format_time(epoch: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` Beijing for a sim-clock epoch."""
    return datetime.fromtimestamp(epoch, BEIJING).strftime("%Y-%m-%d %H:%M:%S")
