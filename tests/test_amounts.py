"""Suspicious amounts are named; consistent orders (as every source maps them) are not."""

from __future__ import annotations

from decimal import Decimal

from connex_core.amounts import expected_total, suspicious
from connex_core.models import LineItem
from connex_core.testing import make_order

D = Decimal


def test_a_consistent_order_with_a_coupon_line_passes():
    lines = [LineItem(sku="A", quantity=D(2), unit_price=D("10")),
             LineItem(name="Coupon", quantity=D(1), unit_price=D("-5"), adjustment=True)]
    order = make_order(lines=lines, shipping=D("4"), tax=D("1.20"), discount=D("5"), total=D("20.20"))
    assert expected_total(order) == D("20.20") and suspicious(order) == []
    assert suspicious(make_order()) == []


def test_negative_quantities_and_prices_outside_adjustment_lines_are_named():
    order = make_order(lines=[LineItem(line_id="7", sku="MUG", quantity=D(-2), unit_price=D("10"))],
                       shipping=D("0"), tax=D("0"))
    [reason] = suspicious(order)
    assert "line 7 (MUG)" in reason and "negative quantity (-2)" in reason
    priced = make_order(lines=[LineItem(sku="X", quantity=D(1), unit_price=D("-3"))], shipping=D("0"), tax=D("0"))
    assert any("negative unit price (-3)" in r for r in suspicious(priced))


def test_a_total_off_by_more_than_a_cent_is_named_and_a_cent_is_not():
    order = make_order()  # 45.00 + 5.00 + 3.60
    assert suspicious(order.model_copy(update={"total": order.total + D("0.01")})) == []
    [reason] = suspicious(order.model_copy(update={"total": order.total + D("0.02")}))
    assert "53.62" in reason and "53.60" in reason
