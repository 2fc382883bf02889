"""Python's cycle collector paused while millions of short-lived objects are made.

Reading a million-row campaign makes millions of tuples, strings and numbers, none of them
in a reference cycle; each few thousand allocations start the cycle collector again, which
walks every live object of the process — in a notebook that has sent and collected a big
campaign, a second or more per call of :func:`~mobset_campaign.merge_status`. Memory is
freed by reference counting as before; only the search for cycles waits until the block
ends (and is not turned on again if it was off before).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["cycle_collector_paused"]


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Pause the cycle collector inside the ``with`` block.

    >>> with cycle_collector_paused():
    ...     gc.isenabled()
    False
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
