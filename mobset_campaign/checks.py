"""What ``render`` warns about in each message — as codes, with the words in one place.

Each :class:`Check` is detected here from the data (the text, its counted length and parts,
the template's columns) into one boolean mask per kind (:class:`MessageChecks`). ``render``
writes the words of each row's checks into its ``warnings`` column (:meth:`MessageChecks.words`)
and ``estimate`` counts the same codes (:meth:`MessageChecks.counts`); nothing parses the
words back.

=====================  ====================================================================
:attr:`Check.EMPTY`    the message is empty
:attr:`Check.TOO_LONG` longer than ``SegmentRules.max_chars`` (not sendable)
:attr:`Check.PUSHED`   more parts than most rows, because of the personalisation
:attr:`Check.WIDE`     an emoji or rare character (counts 2, some phones reject it)
:attr:`Check.BRACKETS` 【】 in the text (reads as a signature)
:attr:`Check.MARKETING` marketing words without an opt-out phrase
:attr:`Check.EMPTY_CELL` a column the template prints is blank on this row
=====================  ====================================================================
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

from ._i18n import N_, current_language
from ._i18n import gettext as _
from .segments import SegmentRules
from .templates import display_column

__all__ = [
    "MARKETING_WORDS",
    "OPT_OUT_PHRASES",
    "Check",
    "MessageChecks",
    "blank_cells",
    "check_messages",
    "marketing_mask",
    "typical_parts",
]

#: Phrases in a message that tell how to opt out (拒收请回复R, 回T退订, 回TD退订, 退订回N, …).
OPT_OUT_PHRASES = ("退订", "拒收", "回T", "回复T", "unsubscribe")
#: Words that make a text marketing: a heuristic (promotions, coupons, events, sales).
MARKETING_WORDS = (
    "优惠", "折", "促销", "特价", "限时", "秒杀", "抢购", "福利", "红包", "券", "满减", "包邮",
    "低至", "钜惠", "狂欢", "抽奖", "大促", "上新", "新品", "会员日", "活动", "邀请", "邀您",
    "免费", "领取", "兑换", "sale", "promo",
)  # fmt: skip
_OPT_OUT = re.compile("|".join(map(re.escape, OPT_OUT_PHRASES)), re.IGNORECASE)
_MARKETING = re.compile("|".join(map(re.escape, MARKETING_WORDS)), re.IGNORECASE)


class Check(StrEnum):
    """A kind of warning about one message."""

    EMPTY = "empty message"
    TOO_LONG = "too long"
    PUSHED = "personalisation"
    WIDE = "emoji"
    BRACKETS = "brackets"
    MARKETING = "marketing"
    EMPTY_CELL = "empty cell"


#: How an estimate names each kind when it counts messages (English message ids: shown
#: translated, ``gettext(SUMMARY_LABELS[kind])``).
SUMMARY_LABELS: dict[Check, str] = {
    Check.EMPTY: N_("empty message"),
    Check.TOO_LONG: N_("too long"),
    Check.PUSHED: N_("pushed over a part boundary by personalisation"),
    Check.WIDE: N_("emoji or rare characters (count 2)"),
    Check.BRACKETS: N_("【】 in the text"),
    Check.MARKETING: N_("marketing text without opt-out"),
    Check.EMPTY_CELL: N_("empty cells in the template's columns"),
}


@dataclass
class MessageChecks:
    """The checks of every message of a frame: one mask per :class:`Check`, with the
    details their words need (counted chars and parts, the typical parts, the limit, and
    which printed column is blank on which row)."""

    masks: dict[Check, np.ndarray]
    chars: np.ndarray
    parts: np.ndarray
    typical: int
    max_chars: int
    empty_cells: list[tuple[str, np.ndarray]] = field(default_factory=list)

    def words(self) -> np.ndarray:
        """Each row's warnings in words (in the language of messages), joined by ``"; "``
        (``"；"`` in Chinese; ``""`` for none)."""
        sep = "；" if current_language() == "zh" else "; "
        out = np.full(len(self.chars), "", dtype=object)
        m = self.masks
        out = _add(sep, out, m[Check.EMPTY], _("empty message"))
        if m[Check.TOO_LONG].any():
            said = _("too long: {chars} chars (max {max_chars})")
            out = _add(
                sep,
                out,
                m[Check.TOO_LONG],
                _each(said, self.chars[m[Check.TOO_LONG]], "chars", max_chars=self.max_chars),
            )
        if m[Check.PUSHED].any():
            said = _("{parts} parts where most rows have {typical} (personalisation)")
            out = _add(
                sep,
                out,
                m[Check.PUSHED],
                _each(said, self.parts[m[Check.PUSHED]], "parts", typical=self.typical),
            )
        out = _add(
            sep, out, m[Check.WIDE], _("emoji/rare character (counts 2, some phones reject it)")
        )
        out = _add(sep, out, m[Check.BRACKETS], _("【】 in the text (reads as a signature)"))
        out = _add(sep, out, m[Check.MARKETING], _("marketing text without opt-out"))
        for name, blank in self.empty_cells:
            out = _add(sep, out, blank, _("empty {column}").format(column=name))
        return out

    def counts(self, among: np.ndarray, kinds: Sequence[Check]) -> dict[str, int]:
        """``{label: rows}`` for ``kinds``, counting only the rows of ``among`` (zeros left out)."""
        found: dict[str, int] = {}
        for kind in kinds:
            n = int((self.masks[kind] & among).sum())
            if n:
                found[SUMMARY_LABELS[kind]] = n
        return found


def _each(said: str, values: np.ndarray, name: str, **fixed: int) -> np.ndarray:
    """``said`` filled with each value (as ``name``), formatted once per distinct value."""
    distinct, codes = np.unique(values, return_inverse=True)
    texts = np.array(
        [said.format(**{name: int(v)}, **fixed) for v in distinct.tolist()], dtype=object
    )
    return texts[codes.reshape(-1)]


def _add(sep: str, out: np.ndarray, mask: np.ndarray, text: str | np.ndarray) -> np.ndarray:
    if not mask.any():
        return out
    current = out[mask]
    out = out.copy()
    if isinstance(text, str):  # join once per distinct warning text, not once per row
        codes, seen = pd.factorize(current)
        seen = np.asarray(seen, dtype=object)
        out[mask] = np.where(seen == "", text, seen + sep + text)[codes]
        return out
    out[mask] = np.where(current == "", text, current + sep + text)
    return out


def check_messages(
    body: np.ndarray,
    chars: np.ndarray,
    parts: np.ndarray,
    wide: np.ndarray,
    rules: SegmentRules,
    *,
    marketing: np.ndarray,
    empty_cells: list[tuple[str, np.ndarray]] | None = None,
) -> MessageChecks:
    """The checks of each message.

    Args:
        body: the text of each message without an embedded signature (stripped).
        chars, parts, wide: as :func:`~mobset_campaign.segments.count_arrays` counted them.
        rules: the limits used.
        marketing: :func:`marketing_mask` of the messages.
        empty_cells: :func:`blank_cells` of the template's printed columns.
    """
    empty = body == ""
    typical = typical_parts(parts, empty)
    joined = "".join(body)
    if "【" in joined or "】" in joined:
        brackets = np.fromiter(("【" in t or "】" in t for t in body), dtype=bool, count=len(body))
    else:
        brackets = np.zeros(len(body), dtype=bool)
    cells = np.zeros(len(body), dtype=bool)
    for _name, blank in empty_cells or []:
        cells |= blank
    masks = {
        Check.EMPTY: empty,
        Check.TOO_LONG: chars > rules.max_chars,
        Check.PUSHED: ~empty & (parts > typical),
        Check.WIDE: np.asarray(wide, dtype=bool),
        Check.BRACKETS: brackets,
        Check.MARKETING: marketing,
        Check.EMPTY_CELL: cells,
    }
    return MessageChecks(masks, chars, parts, typical, rules.max_chars, list(empty_cells or []))


def typical_parts(parts: np.ndarray, empty: np.ndarray) -> int:
    """The most common number of parts among the non-empty messages (0 when none)."""
    counted = parts[~empty]
    if len(counted) == 0:
        return 0
    values, counts = np.unique(counted, return_counts=True)
    return int(values[np.argmax(counts)])


def marketing_mask(
    body: np.ndarray, empty: np.ndarray, pieces: list[Any] | None, has_suffix: bool
) -> np.ndarray:
    """Rows whose text is marketing (:data:`MARKETING_WORDS`) without an opt-out phrase
    (:data:`OPT_OUT_PHRASES`); none when an opt-out suffix was added.

    With ``pieces`` (render's fast path: the template's literal text and each column's
    values) the literal text and each column's distinct values are searched once instead of
    every row; rows are only scanned one by one when the data itself brings the marketing
    words or the opt-out.
    """
    none = np.zeros(len(body), dtype=bool)
    if has_suffix or len(body) == 0:
        return none
    if pieces is not None:
        literal = "".join(p for p in pieces if isinstance(p, str))
        if _OPT_OUT.search(literal):
            return none
        data = ["\0".join(pd.unique(p)) for p in pieces if not isinstance(p, str)]
        data_marketing = any(_MARKETING.search(d) for d in data)
        data_opt_out = any(_OPT_OUT.search(d) for d in data)
        literal_marketing = _MARKETING.search(literal) is not None
        if not literal_marketing and not data_marketing:
            return none
        if literal_marketing and not data_opt_out:
            return ~empty
    return np.fromiter(
        (bool(_MARKETING.search(t)) and not _OPT_OUT.search(t) for t in body),
        dtype=bool,
        count=len(body),
    )


def blank_cells(frame: pd.DataFrame, columns: dict[str, Any]) -> list[tuple[str, np.ndarray]]:
    """For each printed column (``{placeholder: column}``), the rows where it shows blank."""
    found = []
    for name, column in columns.items():
        if column not in frame.columns:
            continue
        shown = display_column(frame[column])
        blank = (shown == "") | np.fromiter(map(str.isspace, shown), dtype=bool, count=len(shown))
        found.append((name, blank))
    return found
