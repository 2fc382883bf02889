"""Planning a send: which messages share a request, and when sending may happen.

* :func:`plan_batches` groups pending messages into SmsSend requests: identical text shares a
  request of up to 50 numbers (the gateway's limit), personalised texts go one per request,
  and no request repeats a number.
* :class:`SendWindow` is the allowed sending window in Beijing time (08:00–20:00 by default
  in :func:`mobset_campaign.send`), parsed from ``("08:00", "20:00")``.
* :func:`timer_send_time` reads a ``timer_send`` value (a datetime or ``YYYY-MM-DD
  HH:MM:SS``, Beijing time) and refuses one in the past.
* :func:`beijing_clock` is the time now for both (``send(clock=...)`` rehearses another hour).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dtime

from ._advice import say
from ._i18n import N_, format_moment
from ._i18n import gettext as _
from ._protocol import (
    BEIJING,
    MAX_NUMBERS_PER_SEND,
    beijing_now,
    parse_timer_send,
)
from .errors import InputError
from .ledger import PendingMessage

__all__ = [
    "PlannedBatch",
    "SendWindow",
    "beijing_clock",
    "check_batch_size",
    "plan_batches",
    "regroup",
    "shown_time",
    "timer_send_time",
]

# ---------------------------------------------------------------------------- batches


def check_batch_size(batch_size: int) -> None:
    """InputError unless ``batch_size`` is a whole number from 1 to :data:`MAX_NUMBERS_PER_SEND`."""
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or not 1 <= batch_size <= MAX_NUMBERS_PER_SEND
    ):
        raise InputError(
            _(
                "batch_size must be a whole number from 1 to {most} (the gateway takes at most "
                "{most} numbers per request), not {value!r}."
            ).format(most=MAX_NUMBERS_PER_SEND, value=batch_size)
        )


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    """One future SmsSend request: a text and up to 50 distinct numbers."""

    content: str
    messages: tuple[PendingMessage, ...]

    @property
    def phones(self) -> list[str]:
        return [m.phone for m in self.messages]

    @property
    def parts(self) -> int:
        return sum(m.parts for m in self.messages)

    def __len__(self) -> int:
        return len(self.messages)


def plan_batches(
    messages: Iterable[PendingMessage], batch_size: int = MAX_NUMBERS_PER_SEND
) -> list[PlannedBatch]:
    """Group messages into requests: identical text shares a request of up to
    ``batch_size`` numbers, in first-seen order; no request repeats a number (a repeated
    number goes to another request of that text, and no more requests are made than needed).

    >>> from mobset_campaign.ledger import PendingMessage as M
    >>> plan = plan_batches([M(1, "13500000001", "hi", 1), M(2, "13500000002", "hi", 1),
    ...                      M(3, "13500000003", "hello 3", 1)], batch_size=50)
    >>> [(b.content, b.phones) for b in plan]
    [('hi', ['13500000001', '13500000002']), ('hello 3', ['13500000003'])]
    """
    check_batch_size(batch_size)
    groups: dict[str, list[PendingMessage]] = {}
    for msg in messages:
        groups.setdefault(msg.content, []).append(msg)
    return [
        PlannedBatch(content, tuple(chunk))
        for content, group in groups.items()
        for chunk in _chunks(group, batch_size)
    ]


def share_out(batches: list[PlannedBatch], rank: int, senders: int) -> list[PlannedBatch]:
    """The order in which sender ``rank`` of ``senders`` sharing a campaign takes the requests:
    the plan rotated to start ``rank/senders`` of the way in, so that senders started together
    work on different stretches instead of racing for the same next rows (a sender that reaches
    a stretch another one has sent finds nothing left to claim there and moves on).

    >>> [b.content for b in share_out([PlannedBatch(str(i), ()) for i in range(6)], 1, 3)]
    ['2', '3', '4', '5', '0', '1']
    """
    if senders <= 1 or not batches:
        return batches
    start = len(batches) * (rank % senders) // senders
    return batches[start:] + batches[:start]


def regroup(rest: list[PlannedBatch], pending: AbstractSet[int]) -> list[PlannedBatch]:
    """The rest of a sender's plan once it found rows taken by another sender: the requests
    with a message still ``pending``, starting halfway into the longest stretch of them.

    A sender that ran into another's stretch would otherwise claim its way through every
    request the other one already sent, one empty claim (one transaction) each. Starting
    halfway into the longest stretch left splits the work that remains with whoever works
    from its start, as in work stealing; the stretches before it come last.

    >>> plan = [PlannedBatch(str(i), (PendingMessage(i, "", "", 1),)) for i in range(10)]
    >>> [b.content for b in regroup(plan, {0, 1, 4, 5, 6, 7, 9})]
    ['6', '7', '9', '0', '1', '4', '5']
    """
    kept = [
        (i, b) for i, b in enumerate(rest) if any(m.id in pending for m in b.messages)
    ]
    if not kept:
        return []
    best_start, best_len, start = 0, 0, 0
    for k in range(1, len(kept) + 1):
        if k == len(kept) or kept[k][0] != kept[k - 1][0] + 1:  # a stretch ends at k
            if k - start > best_len:
                best_start, best_len = start, k - start
            start = k
    middle = best_start + best_len // 2
    return [b for _i, b in kept[middle:]] + [b for _i, b in kept[:middle]]


def _chunks(group: list[PendingMessage], size: int) -> list[list[PendingMessage]]:
    """The fewest requests for one text: max(ceil(n / size), the most rows one number has).

    Without repeated numbers, consecutive slices of ``size`` (first-seen order). With them,
    each number's rows are laid side by side and dealt round-robin into that many requests,
    so no request holds a number twice and none holds more than ``size``.
    """
    count = Counter(m.phone for m in group)
    most = max(count.values())
    if most == 1:
        return [group[i : i + size] for i in range(0, len(group), size)]
    k = max(-(-len(group) // size), most)
    first: dict[str, int] = {}
    for i, m in enumerate(group):
        first.setdefault(m.phone, i)
    ordered = sorted(group, key=lambda m: (-count[m.phone], first[m.phone]))
    chunks: list[list[PendingMessage]] = [[] for _chunk in range(k)]
    for i, m in enumerate(ordered):
        chunks[i % k].append(m)
    return chunks


# ---------------------------------------------------------------------------- when

#: What a bad ``quiet_hours`` bound says, by which bound it is.
_NOT_A_TIME = {
    "start": N_("quiet_hours: start {value!r} is not a time of day; write 'HH:MM'."),
    "end": N_("quiet_hours: end {value!r} is not a time of day; write 'HH:MM'."),
}


def shown_time(when: datetime) -> str:
    """A time for people, in Beijing time to the second (naive = Beijing):
    ``2026-12-24 09:30:00``, ``2026年12月24日 09:30:00`` in Chinese."""
    if when.tzinfo is not None:
        when = when.astimezone(BEIJING)
    return format_moment(when)


def _parse_clock(value: object, what: str) -> dtime:
    if isinstance(value, dtime):
        return value
    text = str(value).strip()
    if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", text):
        bits = [int(x) for x in text.split(":")] + [0]
        try:
            return dtime(bits[0], bits[1], bits[2])
        except ValueError:
            pass
    raise InputError(_(_NOT_A_TIME[what]).format(value=value))


@dataclass(frozen=True)
class SendWindow:
    """The hours of the day (Beijing time) when messages may go out; ``end`` before
    ``start`` wraps past midnight.

    >>> window = SendWindow.parse(("08:00", "20:00"))
    >>> window.contains(datetime(2026, 12, 2, 19, 59, tzinfo=BEIJING)), str(window)
    (True, '08:00–20:00 Beijing time')
    """

    start: dtime
    end: dtime

    @classmethod
    def parse(cls, quiet_hours: Sequence[object] | None) -> SendWindow | None:
        """``(start, end)`` such as ``("08:00", "20:00")``, or ``None`` for any hour.

        Raises:
            InputError: not a pair of times of day, or an empty window.
        """
        if quiet_hours is None:
            return None
        if isinstance(quiet_hours, str) or len(quiet_hours) != 2:
            raise InputError(
                _(
                    "quiet_hours must be (start, end) like ('08:00', '20:00') or None, not "
                    "{value!r}."
                ).format(value=quiet_hours)
            )
        start = _parse_clock(quiet_hours[0], "start")
        end = _parse_clock(quiet_hours[1], "end")
        if start == end:
            raise InputError(
                _("quiet_hours {value!r} is an empty window; use {no_window} to allow any time.").format(
                    value=quiet_hours, no_window=say("quiet_hours", None)
                )
            )
        return cls(start, end)

    def contains(self, when: datetime) -> bool:
        t = when.astimezone(BEIJING).time()
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def next_opening(self, now: datetime) -> datetime:
        """The next time the window opens after ``now``."""
        now = now.astimezone(BEIJING)
        opening = now.replace(
            hour=self.start.hour, minute=self.start.minute, second=self.start.second, microsecond=0
        )
        return opening + timedelta(days=1) if opening <= now else opening

    def __str__(self) -> str:
        return _("{start}–{end} Beijing time").format(
            start=self.start.strftime("%H:%M"), end=self.end.strftime("%H:%M")
        )


def beijing_clock(clock: Callable[[], datetime] | None) -> Callable[[], datetime]:
    """``clock`` (naive = Beijing) as a function returning aware Beijing time; ``None``:
    the machine's clock."""
    if clock is None:
        return beijing_now
    if not callable(clock):
        raise InputError(
            _("clock must be a function returning a datetime, not {value!r}.").format(value=clock)
        )

    def read() -> datetime:
        when = clock()
        if not isinstance(when, datetime):
            raise InputError(
                _("clock() must return a datetime, not {value!r}.").format(value=when)
            )
        return when.replace(tzinfo=BEIJING) if when.tzinfo is None else when.astimezone(BEIJING)

    return read


def timer_send_time(value: datetime | str | None, now: datetime | None = None) -> datetime | None:
    """A ``timer_send`` value as an aware Beijing time to the second (naive = Beijing),
    which must be after ``now`` (default: the time now).

    Raises:
        InputError: not a time, or not in the future.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=BEIJING)
    else:
        parsed = parse_timer_send(value)
        if parsed is None:
            raise InputError(
                _(
                    "timer_send {value!r} is not a time in the form 'YYYY-MM-DD HH:MM:SS' "
                    "(Beijing), e.g. '2026-12-24 09:30:00'; a date alone is not enough. A "
                    "datetime works too."
                ).format(value=value)
            )
        when = parsed
    when = when.astimezone(BEIJING).replace(microsecond=0)
    if when <= (beijing_now() if now is None else now):
        raise InputError(
            _(
                "timer_send {time} (Beijing) is in the past; pass a future time or None to send "
                "now."
            ).format(time=shown_time(when))
        )
    return when
