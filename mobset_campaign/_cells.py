"""What a spreadsheet cell holds, as the vectorised paths need to know it.

Missing or not (:func:`is_missing`), the text a user saw in it (:func:`cell_text`), and object
arrays of Python values (:func:`object_array`). The phone checks, the contact reader and the
template renderer share these so that a cell means the same thing to each of them.

>>> is_missing(float("nan")), is_missing(""), cell_text(13512346789.0)
(True, False, '13512346789')
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["cell_text", "is_missing", "object_array"]


def is_missing(value: object) -> bool:
    """None, NaN, NaT or pandas' NA (an empty string is not missing: it is empty text)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return isinstance(value, np.datetime64) and bool(np.isnat(value))


def cell_text(value: object) -> str:
    """A cell as the text the user saw: an integral float loses its ``.0``.

    >>> cell_text(1200.0), cell_text(1200.5), cell_text(True), cell_text(Decimal("1E+2"))
    ('1200', '1200.5', 'True', '100')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        if math.isfinite(f) and f.is_integer() and abs(f) < 1e16:
            return str(int(f))
        return repr(f)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def object_array(items: list[Any]) -> np.ndarray:
    """A 1-D object array holding ``items`` as they are (numpy would otherwise try to nest
    sequences or pick a string dtype)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out
