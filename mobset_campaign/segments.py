"""How a message is counted and billed (the project's SEGMENTS rules).

1. Counted: the signature with its brackets (``【广州首易】`` is 6), the body, and any opt-out
   suffix. A long SMS carries the signature once.
2. ``\\r\\n`` is normalised to ``\\n`` before counting and sending; ``\\n`` is 1.
3. Every character is 1, except one outside the Basic Multilingual Plane, which is 2.
4. Long SMS (default): n ≤ 70 → 1 part; n > 70 → ceil(n / 67) parts. A part never ends inside
   a surrogate pair.
5. ``long_sms=False``: separate short messages of at most 70, each with its own signature.
6. n above the maximum is an error before anything is sent.

Every number is a field of :class:`SegmentRules`; :data:`DEFAULT_RULES` holds the defaults.

>>> count_chars("您好", signature="广州首易")
8
>>> count_parts("字" * 64, signature="广州首易"), count_parts("字" * 65, signature="广州首易")
(1, 2)
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._i18n import gettext as _
from ._protocol import MAX_CONTENT_CHARS, normalise_newlines
from .errors import InputError

__all__ = [
    "DEFAULT_RULES",
    "SegmentRules",
    "bracket_signature",
    "check_length",
    "count_arrays",
    "count_chars",
    "count_chars_series",
    "count_parts",
    "count_parts_series",
    "has_non_bmp",
    "split_parts",
]

_NON_BMP = re.compile("[\U00010000-\U0010ffff]")
_NON_BMP_PATTERN = "[\U00010000-\U0010ffff]"


@dataclass(frozen=True, slots=True)
class SegmentRules:
    """The counting limits. Defaults follow the vendor text and mainland platforms.

    Attributes:
        single_limit: characters a single (one-part) message holds, signature included.
        part_limit: characters each part of a long SMS holds.
        max_chars: the longest message (signature included) accepted before sending.
        non_bmp_width: how much a character outside the BMP counts.
        brackets: the signature brackets added when the signature has none.
    """

    single_limit: int = 70
    part_limit: int = 67
    max_chars: int = MAX_CONTENT_CHARS
    non_bmp_width: int = 2
    brackets: tuple[str, str] = ("【", "】")

    def __post_init__(self) -> None:
        if not 0 < self.part_limit <= self.single_limit:
            raise InputError(
                _(
                    "SegmentRules: part_limit ({part_limit}) must be between 1 and single_limit "
                    "({single_limit})."
                ).format(part_limit=self.part_limit, single_limit=self.single_limit)
            )


DEFAULT_RULES = SegmentRules()


def bracket_signature(signature: str | None, rules: SegmentRules = DEFAULT_RULES) -> str:
    """The signature as the phone shows it: ``广州首易`` → ``【广州首易】``.

    A signature that already has brackets (``【..】`` or ``[..]``) is kept; an empty one stays
    empty.
    """
    sig = (signature or "").strip()
    if not sig:
        return ""
    if (sig[0], sig[-1]) in (rules.brackets, ("[", "]")):
        return sig
    return f"{rules.brackets[0]}{sig}{rules.brackets[1]}"


def _width(text: str, rules: SegmentRules) -> int:
    return len(text) + (rules.non_bmp_width - 1) * len(_NON_BMP.findall(text))


def has_non_bmp(text: str) -> bool:
    """True when the text holds a character outside the BMP (most emoji)."""
    return _NON_BMP.search(text) is not None


def count_chars(text: str, signature: str | None = "", rules: SegmentRules = DEFAULT_RULES) -> int:
    """Characters the gateway counts: bracketed signature + body (newlines normalised).

    >>> count_chars("字" * 63 + "😀", signature="广州首易")
    71
    """
    return _width(bracket_signature(signature, rules), rules) + _width(
        normalise_newlines(text), rules
    )


def _parts_for(n: int, body_n: int, sig_n: int, long_sms: bool, rules: SegmentRules) -> int:
    if body_n == 0:
        return 0
    if not long_sms:
        room = rules.single_limit - sig_n
        if room <= 0:
            raise InputError(
                _(
                    "The signature takes {n} characters, leaving no room for text in a "
                    "{limit}-character short message; use long SMS."
                ).format(n=sig_n, limit=rules.single_limit)
            )
        return math.ceil(body_n / room)
    if n <= rules.single_limit:
        return 1
    return math.ceil(n / rules.part_limit)


def split_parts(
    text: str,
    signature: str | None = "",
    *,
    long_sms: bool = True,
    rules: SegmentRules = DEFAULT_RULES,
) -> list[str]:
    """The parts as they travel, signature first; a part never splits a surrogate pair.

    With ``long_sms=False`` each part carries its own signature.

    >>> [len(p) for p in split_parts("字" * 129, "广州首易")]
    [67, 67, 1]
    """
    sig = bracket_signature(signature, rules)
    body = normalise_newlines(text)
    if not body:
        return []
    if long_sms:
        whole = sig + body
        if _width(whole, rules) <= rules.single_limit:
            return [whole]
        return _cut(whole, rules.part_limit, rules)
    room = rules.single_limit - _width(sig, rules)
    _parts_for(0, 1, _width(sig, rules), False, rules)  # raises when there is no room
    return [sig + chunk for chunk in _cut(body, room, rules)]


def _cut(text: str, limit: int, rules: SegmentRules) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        w = rules.non_bmp_width if ord(ch) > 0xFFFF else 1
        if used + w > limit and current:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += w
    if current:
        parts.append("".join(current))
    return parts


def count_parts(
    text: str,
    signature: str | None = "",
    *,
    long_sms: bool = True,
    rules: SegmentRules = DEFAULT_RULES,
) -> int:
    """Parts billed for one message to one number (0 for an empty body).

    >>> count_parts("a" * 100, "广州首易")
    2
    >>> count_parts("字" * 129, "广州首易")
    3
    """
    body = normalise_newlines(text)
    sig = bracket_signature(signature, rules)
    if has_non_bmp(sig) or has_non_bmp(body):
        return len(split_parts(body, sig, long_sms=long_sms, rules=rules))
    sig_n = len(sig)
    return _parts_for(sig_n + len(body), len(body), sig_n, long_sms, rules)


def check_length(text: str, signature: str | None = "", rules: SegmentRules = DEFAULT_RULES) -> int:
    """The character count, or :class:`InputError` when it is 0 or above ``rules.max_chars``."""
    body_n = _width(normalise_newlines(text), rules)
    n = count_chars(text, signature, rules)
    if body_n == 0:
        raise InputError(
            _("The message is empty; write some text (the signature alone is not sent).")
        )
    if n > rules.max_chars:
        raise InputError(
            _(
                "The message is {n} characters with its signature, above the maximum of "
                "{limit}; shorten it or raise SegmentRules.max_chars if your account allows."
            ).format(n=n, limit=rules.max_chars)
        )
    return n


def _bodies(texts: pd.Series) -> np.ndarray:
    """The bodies as an object array of str (missing → empty, newlines normalised)."""
    if pd.api.types.is_string_dtype(texts.dtype) and not pd.api.types.is_object_dtype(texts.dtype):
        bodies = texts.to_numpy(dtype=object, na_value="")
    else:
        bodies = texts.fillna("").astype(str).to_numpy(dtype=object)
    if any("\r" in t for t in bodies):
        bodies = np.array([normalise_newlines(t) for t in bodies], dtype=object)
    return bodies


# CPython stores a str with any character outside the BMP at 4 bytes per character and
# reports it through sys.getsizeof, which gives an exact per-row test without scanning text.
_UCS4_HEADER = sys.getsizeof("\U00010000") - 8 if sys.implementation.name == "cpython" else -1


def _wide_mask(bodies: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Which bodies hold a character outside the BMP."""
    if _UCS4_HEADER < 0:  # pragma: no cover - other Python implementations
        return np.fromiter((has_non_bmp(t) for t in bodies), dtype=bool, count=len(bodies))
    # a text holding one is stored 4 bytes a character: it is at least this big. Bigger texts
    # are only candidates: a text whose UTF-8 was cached (pandas hashing it, say) is bigger
    # than its characters alone, so each candidate is looked at itself
    sizes = np.fromiter(map(sys.getsizeof, bodies), dtype="int64", count=len(bodies))
    wide = sizes >= _UCS4_HEADER + 4 * (lengths + 1)
    if wide.any():
        picked = np.flatnonzero(wide)
        wide[picked] = [has_non_bmp(t) for t in bodies[picked]]
    return wide


def count_arrays(
    bodies: np.ndarray,
    signature: str | None = "",
    *,
    long_sms: bool = True,
    rules: SegmentRules = DEFAULT_RULES,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(chars, parts, non_bmp)`` for an object array of bodies (str, newlines normalised),
    measuring each body once. The engine of the two ``*_series`` functions and of ``render``.
    """
    sig = bracket_signature(signature, rules)
    sig_n = _width(sig, rules)
    lengths = np.fromiter(map(len, bodies), dtype="int64", count=len(bodies))
    wide = _wide_mask(bodies, lengths)
    chars = lengths + sig_n
    if long_sms:
        parts = np.where(chars <= rules.single_limit, 1, -(-chars // rules.part_limit))
    else:
        room = rules.single_limit - sig_n
        _parts_for(0, 1, sig_n, False, rules)  # raises when there is no room
        parts = -(-lengths // room)
    parts = np.where(lengths == 0, 0, parts).astype("int64")
    if wide.any():
        chars[wide] += [(rules.non_bmp_width - 1) * len(_NON_BMP.findall(t)) for t in bodies[wide]]
    exact = np.ones(len(bodies), dtype=bool) if has_non_bmp(sig) else wide
    if exact.any():
        parts[exact] = [count_parts(t, sig, long_sms=long_sms, rules=rules) for t in bodies[exact]]
    return chars, parts, wide


def count_chars_series(
    texts: pd.Series, signature: str | None = "", rules: SegmentRules = DEFAULT_RULES
) -> pd.Series:
    """Vectorised :func:`count_chars` over a Series of bodies (missing counts as empty)."""
    chars, _parts, _widths = count_arrays(_bodies(texts), signature, rules=rules)
    return pd.Series(chars, index=texts.index, dtype="int64")


def count_parts_series(
    texts: pd.Series,
    signature: str | None = "",
    *,
    long_sms: bool = True,
    rules: SegmentRules = DEFAULT_RULES,
) -> pd.Series:
    """Vectorised :func:`count_parts`; rows with non-BMP characters take the exact walk."""
    _chars, parts, _widths = count_arrays(
        _bodies(texts), signature, long_sms=long_sms, rules=rules
    )
    return pd.Series(parts, index=texts.index, dtype="int64")
