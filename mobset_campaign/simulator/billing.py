"""How the simulated gateway bills a message: its own reading of the vendor text.

The simulator plays the gateway, so it must not bill with the package's counting code
(:mod:`mobset_campaign.segments`): a test comparing the estimate with what the simulator
billed would then compare the estimator with itself, and stay green with a wrong estimator.
This module is written apart, from the vendor text and the project's SEGMENTS rules, and it
counts differently: in UTF-16 code units, what a handset carries, instead of characters with a
width.

The rules it reads there:

- The signature is shown with its brackets and both count (the vendor text, 4.5:
  签名与签名符号都需要计算短信字数): ``广州首易`` is billed as ``【广州首易】``, 6. A signature
  stored with ``【】`` or ``[]`` keeps them.
- Every character is one unit except one outside the BMP (most emoji), a surrogate pair of
  two. ``\\r\\n`` is sent and counted as one line break.
- Long SMS (the default): up to 70 units is one message; above, parts of at most 67 units
  (the vendor text, 4.1: 每条拆分的短信最多支持67个字, 按实际拆分条数计费), each billed, and a
  part never ends between the two halves of a surrogate pair.
- ``LongSms=0``: separate messages of at most 70 units, each carrying its own signature.

>>> billed_length("您好", "广州首易")
8
>>> billed_parts("字" * 64, "广州首易"), billed_parts("字" * 65, "广州首易")
(1, 2)
>>> billed_parts("字" * 65, "广州首易", long_sms=False)
2
"""

from __future__ import annotations

import array
import sys

__all__ = ["PART_UNITS", "SINGLE_UNITS", "billed_length", "billed_parts", "shown_signature"]

SINGLE_UNITS = 70  # a message billed as one holds 70 units, signature included
PART_UNITS = 67  # each part of a long SMS holds 67
_OPEN, _CLOSE = "【", "】"
_HIGH = range(0xD800, 0xDC00)  # the first half of a surrogate pair


def shown_signature(sign: str) -> str:
    """The signature as the phone shows it, brackets included (empty stays empty)."""
    sign = sign.strip()
    if not sign or (sign.startswith(_OPEN) and sign.endswith(_CLOSE)):
        return sign
    if sign.startswith("[") and sign.endswith("]"):
        return sign
    return _OPEN + sign + _CLOSE


def _units(text: str) -> array.array[int]:
    """The UTF-16 code units of ``text`` with each ``\\r\\n`` carried as one ``\\n``."""
    units = array.array("H", text.replace("\r\n", "\n").encode("utf-16-le"))
    if sys.byteorder == "big":  # pragma: no cover - the bytes above are little-endian
        units.byteswap()
    return units


def _messages(units: array.array[int], size: int) -> int:
    """How many messages of at most ``size`` units carry ``units``, none ending mid-pair."""
    count = start = 0
    while start < len(units):
        end = min(start + size, len(units))
        if end < len(units) and units[end - 1] in _HIGH:
            end -= 1  # the pair moves whole to the next message
        if end <= start:  # a pair wider than a message: it travels alone
            end = start + 2
        count += 1
        start = end
    return count


def billed_length(content: str, sign: str) -> int:
    """Units counted against the length limit: bracketed signature plus content."""
    return len(_units(shown_signature(sign))) + len(_units(content))


def billed_parts(content: str, sign: str, *, long_sms: bool = True) -> int:
    """Messages billed for ``content`` to one number (0 for no content)."""
    body = _units(content)
    if not body:
        return 0
    signature = _units(shown_signature(sign))
    if not long_sms:
        return _messages(body, max(SINGLE_UNITS - len(signature), 1))
    whole = signature + body
    return 1 if len(whole) <= SINGLE_UNITS else _messages(whole, PART_UNITS)
