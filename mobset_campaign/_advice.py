"""Advice in the reader's words: a Python parameter in a notebook or script, a flag on the
command line.

A message that tells the user what to change names the knob with :func:`say`:
``say("wait_for_window", True)`` reads ``wait_for_window=True`` from Python and ``--wait``
from ``mobset-campaign``, whose :func:`spoken_as` maps each parameter to its flag while a
command runs. A parameter the command line has no flag for keeps its Python spelling.

>>> say("quiet_hours", None)
'quiet_hours=None'
>>> with spoken_as({"quiet_hours": lambda v: "--quiet-hours off" if v is None else "?"}):
...     say("quiet_hours", None)
'--quiet-hours off'
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from ._i18n import N_
from ._i18n import gettext as _

__all__ = ["NOTHING", "say", "spoken_as"]


class _Nothing:
    def __repr__(self) -> str:
        return "NOTHING"


#: "No particular value": ``say("ledger")`` reads ``ledger=`` in Python.
NOTHING: object = _Nothing()

Spelling = Mapping[str, Callable[[object], str]]

# one spelling for the whole process (a command line runs one command; worker threads
# raise errors too, so a context variable would not reach them)
_spelling: Spelling | None = None
_lock = threading.Lock()


def say(name: str, value: object = NOTHING) -> str:
    """The parameter ``name`` (set to ``value``) as the reader writes it. A ``name`` ending
    in ``()`` is a call, e.g. ``say("send()")``."""
    spelling = _spelling
    if spelling is not None and name in spelling:
        return spelling[name](value)
    if name.endswith("()") or value is NOTHING:
        return name if name.endswith("()") else f"{name}="
    return f"{name}={value!r}"


@contextmanager
def spoken_as(spelling: Spelling) -> Iterator[None]:
    """While the block runs, :func:`say` uses ``spelling`` (name → its spelling for a value)."""
    global _spelling
    with _lock:
        before, _spelling = _spelling, spelling
    try:
        yield
    finally:
        with _lock:
            _spelling = before


#: The ``what`` and ``none_means`` fragments the package passes to :func:`out_of_range`,
#: marked for the catalog here; a caller with a new one marks it ``N_("...")`` itself.
_FRAGMENTS = (
    N_("seconds"),
    N_("messages per second"),
    N_("requests in flight"),
    N_("yuan per part"),
    N_("to wait without end"),
    N_("for no limit"),
    N_("for no cost"),
)


def out_of_range(
    name: str,
    value: object,
    low: float,
    high: float,
    *,
    what: str,
    integer: bool = False,
    none_means: str = "",
) -> str | None:
    """Why ``value`` is not a usable ``name`` (a finite number from ``low`` to ``high``,
    whole when ``integer``), or None when it is. ``what`` says what the number counts
    (``"messages per second"``); ``none_means`` what None does, when None is allowed. Both
    are message ids (marked ``N_``), translated here with the sentence around them.

    >>> out_of_range("rate", 1e-10, 0.001, 1e6, what="messages per second")
    'rate=1e-10 is out of range: messages per second must be from 0.001 to 1,000,000.'
    >>> out_of_range("rate", 2, 0.001, 1e6, what="messages per second") is None
    True
    """
    if value is None and none_means:
        return None
    kinds = (int,) if integer else (int, float)
    number = value if isinstance(value, kinds) and not isinstance(value, bool) else None
    if number is not None and low <= number <= high:  # NaN and ±inf fail this
        return None
    fields = dict(
        name=say(name, value), what=_(what) if what else "", low=f"{low:,g}", high=f"{high:,.0f}"
    )
    if none_means:
        fields["none_means"] = _(none_means)
        if integer:
            text = _(
                "{name} is out of range: a whole number of {what} must be from {low} to "
                "{high}, or None {none_means}."
            )
        else:
            text = _(
                "{name} is out of range: {what} must be from {low} to {high}, or None "
                "{none_means}."
            )
    elif integer:
        text = _("{name} is out of range: a whole number of {what} must be from {low} to {high}.")
    else:
        text = _("{name} is out of range: {what} must be from {low} to {high}.")
    return text.format(**fields)
