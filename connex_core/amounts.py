"""Suspicious amounts: what an order's figures say about themselves, before anything is booked.

An accounting target books what it is given: a negative quantity becomes a negative invoice (and a
negative payment), and a total that disagrees with its lines becomes a document whose total is not
the sale's. :func:`suspicious` names such orders' problems, so that the caller can hold them with the
reason instead of guessing (issue 14). It knows no API.

* a negative quantity or unit price on a line that is not an adjustment line (adjustment lines, a
  coupon or a credit, are negative by nature);
* a total that differs by more than a cent from lines + shipping + tax - discount, where the discount
  is the order's own, or what its adjustment lines and per-line discounts take off when that is more
  (sources give one or the other; the targets book it that way).
"""

from __future__ import annotations

from decimal import Decimal

from .models import Order

CENT = Decimal("0.01")
ZERO = Decimal("0")


def expected_total(order: Order) -> Decimal:
    """Lines + shipping + tax - discount, as the targets compute the document's total."""
    goods = sum((line.amount for line in order.lines if not line.adjustment), ZERO)
    on_lines = sum((line.discount for line in order.lines), ZERO) - sum((l.amount for l in order.lines if l.adjustment), ZERO)
    return goods + order.shipping + order.tax - max(order.discount, on_lines)


def suspicious(order: Order) -> list[str]:
    """The reasons to hold ``order`` (empty: its figures agree with themselves)."""
    reasons = []
    for n, line in enumerate(order.lines, 1):
        if line.adjustment:
            continue
        label = f"line {line.line_id or n} ({line.sku or line.name or 'no name'})"
        if line.quantity < 0:
            reasons.append(f"{label} has a negative quantity ({line.quantity}); book a return as a credit, "
                           "or mark the line as an adjustment")
        if line.unit_price < 0:
            reasons.append(f"{label} has a negative unit price ({line.unit_price}); a discount or credit belongs "
                           "on an adjustment line")
    expected = expected_total(order)
    if abs(order.total - expected) > CENT:
        reasons.append(f"the total {order.total} is not lines + shipping + tax - discount ({expected}); "
                       "check the order in the source")
    return reasons
