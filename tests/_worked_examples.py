"""The worked examples of SEGMENTS.md, signature 广州首易 (【广州首易】 is 6): (body, n, parts).

One table for both readings of the counting rules: the estimator's (test_segments) and the
simulator's own billing (test_simulator_billing).
"""

from __future__ import annotations

SIGNATURE = "广州首易"
WORKED_EXAMPLES: list[tuple[str, int, int]] = [
    ("字" * 64, 70, 1),
    ("字" * 65, 71, 2),
    ("字" * 128, 134, 2),
    ("字" * 129, 135, 3),
    ("a" * 100, 106, 2),
    ("字" * 63 + "😀", 71, 2),
    ("字" * 55 + "拒收请回复R", 67, 1),
    ("字" * 63 + "\r\n", 70, 1),
]
