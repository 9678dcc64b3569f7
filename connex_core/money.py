"""Money as :class:`~decimal.Decimal`, one rounding rule for every connector.

Amounts are read through their text (``Decimal(str(value))``), so a JSON ``49.99`` stays exactly
49.99, never the float next to it. Rounding to cents is **half up** (``ROUND_HALF_UP``: 0.125 ->
0.13, -0.125 -> -0.13, away from zero on a tie). That is how QuickBooks Online and Xero round line
amounts on their invoices (Xero's API documents amounts to two decimals, QuickBooks checks
``Amount = Qty * UnitPrice`` "within rounding"); Python's default, banker's rounding
(``ROUND_HALF_EVEN``: 0.125 -> 0.12), would put a cent between Connex and the books.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Iterable

__all__ = ["CENT", "ZERO", "ROUNDING", "to_decimal", "to_cents", "allocate"]

CENT = Decimal("0.01")
ZERO = Decimal("0")
ROUNDING = ROUND_HALF_UP


def to_decimal(value: Any) -> Decimal:
    """An amount as an exact Decimal, unrounded; ``None`` and ``""`` are zero.

    Raises :class:`ValueError` for text that is not a number (``"abc"``) and for NaN or infinity.
    """
    if value is None or value == "":
        return ZERO
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return amount


def to_cents(value: Any, places: int = 2) -> Decimal:
    """An amount rounded half up to ``places`` decimals (cents by default); see the module docstring."""
    return to_decimal(value).quantize(Decimal(1).scaleb(-places), ROUNDING)


def allocate(amount: Any, weights: Iterable[Any]) -> list[Decimal]:
    """Split ``amount`` in proportion to ``weights``; the shares add up to ``amount`` exactly.

    Every share but the last is rounded half up to cents; the last takes the remainder. When the
    weights add up to zero the last share takes the whole amount (the others are zero).
    """
    whole = to_decimal(amount)
    parts = [to_decimal(w) for w in weights]
    if not parts:
        return []
    total = sum(parts, ZERO)
    if total == 0:
        return [ZERO] * (len(parts) - 1) + [whole]
    shares = [to_cents(whole * w / total) for w in parts[:-1]]
    return shares + [whole - sum(shares, ZERO)]
