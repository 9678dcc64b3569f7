"""Properties of the invoice mapping, checked against the simulator's own arithmetic (no network).

For any order with whole quantities and prices, discounts and tax in cents, the invoice Connex
writes totals to exactly the order's total in Xero's arithmetic (line amounts, TaxAmount
overrides, Exclusive amounts), and reading it back gives the order's money fields again.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from connex_core.models import LineItem
from connex_core.testing import make_order
from connex_xero.mapping import invoice_to_xero, order_from_xero
from connex_xero.settings import XeroSettings
from connex_xero.sim.simbooks import Books

SETTINGS = XeroSettings(client_id="id", client_secret="secret")
cents = st.integers(min_value=0, max_value=50_000).map(lambda c: Decimal(c) / 100)


@st.composite
def lines(draw):
    quantity = Decimal(draw(st.integers(min_value=1, max_value=5)))
    price = draw(cents.filter(lambda p: p > 0))
    discount = draw(st.integers(min_value=0, max_value=int(quantity * price * 100))) / Decimal(100)
    return LineItem(sku=draw(st.sampled_from(["MUG-BLU", "TEE-L", "X-1"])), name="Thing", quantity=quantity,
                    unit_price=price, discount=discount)


@settings(max_examples=150, deadline=None)
@given(items=st.lists(lines(), min_size=1, max_size=4), shipping=cents, tax=cents)
def test_the_written_invoice_totals_to_the_order_and_reads_back(items, shipping, tax):
    discount = sum((line.discount for line in items), Decimal(0))
    order = make_order(lines=items, shipping=shipping, tax=tax, discount=discount)
    books = Books(now=lambda: datetime(2026, 9, 15, tzinfo=timezone.utc))
    outcome = books.create_invoice(invoice_to_xero(order, SETTINGS, known_items=set()))
    assert not outcome.errors, outcome.errors
    invoice = books.invoice_json(outcome.record)
    assert invoice["Total"] == order.total and invoice["TotalTax"] == order.tax
    back = order_from_xero(invoice, None, SETTINGS)
    assert (back.total, back.tax, back.shipping, back.discount) == (order.total, order.tax, order.shipping, discount)
    assert [(l.quantity, l.unit_price, l.discount) for l in back.lines] == \
        [(l.quantity, l.unit_price, l.discount) for l in items]
