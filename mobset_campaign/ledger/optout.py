"""Who must not be texted: the replies that mean "stop", and the ledger's suppression list.

The suppression list spans campaigns. A number joins it when its reply is an opt-out word
(:func:`is_opt_out`; the collector adds it) or by hand (:meth:`Suppression.suppress`);
:func:`mobset_campaign.read_contacts` (``suppress=ledger``) and every later send skip it.

>>> from mobset_campaign.ledger import Ledger
>>> with Ledger(":memory:") as ledger:
...     ledger.suppress(["13512346789"], reason="asked by phone")
...     sorted(ledger.suppressed_phones())
1
['13512346789']
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from ..rows import phone_key
from ._store import Store, now

__all__ = ["OPT_OUT_REPLIES", "Suppression", "is_opt_out"]

#: A reply that is one of these (any case or width, with spaces or punctuation around it)
#: asks to stop receiving messages.
OPT_OUT_REPLIES = frozenset({"R", "T", "TD", "N", "退订", "取消"})


def _strip_edges(text: str) -> str:
    """Drop whitespace, punctuation and symbols at both ends."""

    def junk(ch: str) -> bool:
        return ch.isspace() or unicodedata.category(ch)[0] in "PSZC"

    start, end = 0, len(text)
    while start < end and junk(text[start]):
        start += 1
    while end > start and junk(text[end - 1]):
        end -= 1
    return text[start:end]


def is_opt_out(content: object) -> bool:
    """True when a reply asks to stop: R, T, TD, N, 退订 or 取消, in any case or width,
    with surrounding spaces or punctuation.

    >>> [is_opt_out(t) for t in ["td", " ＴＤ。", "退订!", "请问退订吗", "Thanks"]]
    [True, True, True, False, False]
    """
    if content is None:
        return False
    text = _strip_edges(unicodedata.normalize("NFKC", str(content)))
    return text.upper() in OPT_OUT_REPLIES


def _keys(phones: str | Iterable[str]) -> list[str]:
    items = [phones] if isinstance(phones, str) else list(phones)
    return [p for p in (phone_key(x) for x in items) if p]


class Suppression(Store):
    """The ledger's opt-out list (a part of :class:`mobset_campaign.ledger.Ledger`)."""

    def suppressed_phones(self) -> set[str]:
        """Every opted-out number (the list spans campaigns)."""
        return {row[0] for row in self._read("SELECT phone FROM suppression")}

    def suppress(
        self,
        phones: str | Iterable[str],
        *,
        reason: str = "added by hand",
        source: str | None = None,
    ) -> int:
        """Add numbers to the opt-out list; returns how many were new.

        Numbers are normalised (``+86 135-1234-6789`` → ``13512346789``); a number already
        listed keeps its first reason.
        """
        clean = _keys(phones)
        if not clean:
            return 0
        with self._tx() as cur:
            before = cur.execute("SELECT COUNT(*) FROM suppression").fetchone()[0]
            cur.executemany(
                "INSERT INTO suppression (phone, reason, source, added_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [(p, reason, source, now()) for p in clean],
            )
            after = cur.execute("SELECT COUNT(*) FROM suppression").fetchone()[0]
        return int(after - before)

    def unsuppress(self, phones: str | Iterable[str]) -> int:
        """Remove numbers from the opt-out list (e.g. listed by mistake); returns how many."""
        clean = [(p,) for p in _keys(phones)]
        with self._tx() as cur:
            before = cur.execute("SELECT COUNT(*) FROM suppression").fetchone()[0]
            cur.executemany("DELETE FROM suppression WHERE phone = ?", clean)
            after = cur.execute("SELECT COUNT(*) FROM suppression").fetchone()[0]
        return int(before - after)
