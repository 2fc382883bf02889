"""Stopping cleanly on Ctrl-C, SIGTERM and SIGHUP alike.

A ``kill`` (SIGTERM), a closed terminal or an ssh session that drops (SIGHUP) must stop a
send or a collect the way Ctrl-C does: the requests in flight are recorded, a fetched body is
committed before the run ends. While :func:`stop_signals` is active (main thread only), each
of those signals raises :class:`Interrupted`, a :class:`KeyboardInterrupt` that names the
signal; inside :func:`held` it is held until the block ends, so a body the gateway handed out
is never dropped half-way.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["STOP_SIGNALS", "Interrupted", "held", "stop_signals"]

#: The signals that stop a run cleanly (those this platform has).
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)

_state = threading.local()


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived (``signum``); handled like Ctrl-C."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def name(self) -> str:
        """``Ctrl-C`` for SIGINT, else the signal's name."""
        return "Ctrl-C" if self.signum == signal.SIGINT else signal.Signals(self.signum).name


def stopped_by(exc: KeyboardInterrupt) -> str:
    """How a run was stopped, for its summary: ``Ctrl-C``, ``SIGTERM`` …"""
    return exc.name if isinstance(exc, Interrupted) else "Ctrl-C"


def _on_signal(signum: int, frame: FrameType | None) -> None:
    caught = getattr(_state, "held", None)
    if caught is not None:
        caught.append(signum)  # inside held(): raised when the block ends
        return
    raise Interrupted(signum)


@contextmanager
def stop_signals() -> Iterator[None]:
    """While the block runs in the main thread, SIGINT, SIGTERM and SIGHUP raise
    :class:`Interrupted`; the previous handlers come back after it. Elsewhere: nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _on_signal) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.default_int_handler if handler is None else handler)


@contextmanager
def held() -> Iterator[list[int]]:
    """Hold the stop signals until the block ends, then raise :class:`Interrupted` for the
    first one held. Yields the list of held signals, so the block can cut a wait short. An
    exception from the block wins over a held signal (it stops the run anyway and says more).
    Only inside :func:`stop_signals` (main thread); elsewhere it holds nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    outer = getattr(_state, "held", None)
    caught: list[int] = [] if outer is None else outer
    _state.held = caught
    failed = False
    try:
        yield caught
    except BaseException:
        failed = True
        raise
    finally:
        _state.held = outer
        if caught and outer is None and not failed:
            raise Interrupted(caught[0])
