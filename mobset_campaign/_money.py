"""Money: the one rule by which every amount the package shows is computed and written.

A cost is ``parts × price`` computed in decimal (:func:`cost`), so ``3 × 0.035`` is ``0.105``
and not ``0.10500000000000001``; it keeps the price's own precision. Only the display
rounds, once, to cents, half away from zero, with the yuan sign and thousands separators:
:func:`format_money` gives ``¥1,234.58`` and the workbook's cells keep the full amount with
:data:`EXCEL_MONEY_FORMAT`, which Excel displays the same way. The estimate, the summary,
the workbook and the command line's go-live estimate all go through here, so the same
campaign shows the same amount everywhere.

A price per part is shown with its own precision (``¥0.035``, at least two decimals):
:func:`format_price` and :data:`EXCEL_PRICE_FORMAT`.

>>> format_money(cost(3, 0.035)), format_price(0.035)
('¥0.11', '¥0.035')
>>> format_money(1234.5), format_money(0.125), format_money(-2)
('¥1,234.50', '¥0.13', '-¥2.00')
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ._advice import out_of_range
from ._i18n import N_
from ._i18n import gettext as _
from .errors import InputError

__all__ = [
    "CURRENCY",
    "EXCEL_MONEY_FORMAT",
    "EXCEL_PRICE_FORMAT",
    "cost",
    "format_money",
    "format_price",
    "price_problem",
]

#: The currency sign: the gateway bills in yuan.
CURRENCY = "¥"

#: Excel number format of an amount: the cell holds the exact amount, Excel shows it as
#: :func:`format_money` does (``¥1,234.58``; Excel also rounds half away from zero).
EXCEL_MONEY_FORMAT = '"¥"#,##0.00'

#: Excel number format of a price per part: two decimals at least, the price's own up to six
#: (``¥0.05``, ``¥0.035``), as :func:`format_price`.
EXCEL_PRICE_FORMAT = '"¥"#,##0.00####'

#: The highest price per part taken: a price above is a typo (a total for a price, say).
MAX_PRICE = 100

_CENT = Decimal("0.01")
_PRICE_DIGITS = 6


def _decimal(amount: float | int | Decimal) -> Decimal:
    if isinstance(amount, bool):
        raise InputError(
            _("An amount of money must be a number, got {amount!r}.").format(amount=amount)
        )
    try:
        # str(): the shortest text that reads back as the same float, as Excel shows it
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise InputError(
            _("An amount of money must be a number, got {amount!r}.").format(amount=amount)
        ) from exc
    if not value.is_finite():
        raise InputError(
            _("An amount of money must be a finite number, got {amount!r}.").format(amount=amount)
        )
    return value


def price_problem(price_per_part: object) -> str | None:
    """Why ``price_per_part`` is not a usable price (a number of yuan from 0 to
    :data:`MAX_PRICE`, or None for no cost), or None when it is.

    >>> price_problem(0.045) is None, price_problem(-1)
    (True, 'price_per_part=-1 is out of range: yuan per part must be from 0 to 100, or None for no cost.')
    """
    return out_of_range(
        "price_per_part",
        price_per_part,
        0,
        MAX_PRICE,
        what=N_("yuan per part"),
        none_means=N_("for no cost"),
    )


def cost(parts: int, price_per_part: float) -> float:
    """``parts × price_per_part``, in decimal: the price's own precision, no float noise.

    >>> cost(1284, 0.05), cost(3, 0.035)
    (64.2, 0.105)
    """
    return float(Decimal(int(parts)) * _decimal(price_per_part))


def _signed(value: Decimal, digits: str) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}{CURRENCY}{format(abs(value), digits)}"


def format_money(amount: float | int | Decimal) -> str:
    """An amount as people read it: ``¥1,234.58`` — rounded once, to cents, half away
    from zero (as Excel shows a cell in :data:`EXCEL_MONEY_FORMAT`).

    Raises:
        InputError: ``amount`` is not a finite number.
    """
    return _signed(_decimal(amount).quantize(_CENT, rounding=ROUND_HALF_UP), ",.2f")


def format_price(price: float | int | Decimal) -> str:
    """A price per part with its own precision: ``¥0.05``, ``¥0.035`` (two decimals at
    least, six at most), as a cell in :data:`EXCEL_PRICE_FORMAT` shows it.

    Raises:
        InputError: ``price`` is not a finite number.
    """
    value = _decimal(price).quantize(Decimal(1).scaleb(-_PRICE_DIGITS), rounding=ROUND_HALF_UP)
    exponent = value.normalize().as_tuple().exponent
    decimals = max(2, -exponent) if isinstance(exponent, int) else 2
    return _signed(value, f",.{decimals}f")
