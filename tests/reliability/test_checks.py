"""The chaos harness's books check of payments, on its own: it accepts the payments the docs describe and no
others (a harness's check must fail when the books are wrong)."""

from __future__ import annotations

from decimal import Decimal

from .checks import payments_wrong


def _order(total: str, paid: str) -> dict:
    return {"orderTotal": float(total), "amountPaid": float(paid)}


def _d(*amounts: str) -> list[Decimal]:
    return [Decimal(a) for a in amounts]


def test_one_order_takes_one_payment_of_what_it_paid():
    parts = [_order("40.00", "40.00")]
    assert payments_wrong(parts, _d("40.00")) is None
    assert payments_wrong(parts, _d("20.00", "20.00")) == "payments ['20.00', '20.00'], expected ['40.00']"
    assert payments_wrong(parts, _d("40.00", "40.00")) is not None
    assert payments_wrong(parts, []) == "payments [], expected ['40.00']"
    assert payments_wrong([_order("40.00", "15.00")], _d("15.00")) is None  # part paid


def test_an_unpaid_order_takes_none():
    assert payments_wrong([_order("40.00", "0")], []) is None
    assert payments_wrong([_order("40.00", "0")], _d("40.00")) == "payments ['40.00'], expected []"


def test_a_split_orders_document_takes_one_payment_or_one_per_part_that_paid():
    parts = [_order("26.82", "26.82"), _order("31.18", "31.18"), _order("9.00", "0")]
    assert payments_wrong(parts, _d("58.00")) is None
    assert payments_wrong(parts, _d("31.18", "26.82")) is None
    for wrong in (_d("26.82"), _d("26.82", "26.82"), _d("58.00", "31.18"), _d("26.82", "31.18", "26.82"),
                  _d("29.00", "29.00")):
        assert payments_wrong(parts, wrong) == (
            f"payments {[str(p) for p in wrong]}, expected ['58.00'] or one per part: ['26.82', '31.18']")
