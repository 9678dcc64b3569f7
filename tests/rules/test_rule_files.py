"""The rule files shipped in rules/: each passes the checker, and each does what its comments say."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connex_core.models import LineItem, OrderStatus
from connex_core.rules import check_files, load_rules
from connex_core.testing.factories import make_order

from .conftest import ROOT

RULES = ROOT / "rules"
FILES = sorted(RULES.rglob("*.rules"))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_rule_file_checks_clean(path, manager):
    rules, diags, _ = check_files([path], manager)
    assert rules and diags == [], "\n".join(str(d) for d in diags)


def load(name, manager):
    return load_rules([RULES / name], manager=manager, strict=True)


def test_default_shipstation_to_quickbooks(manager):
    rules = load("shipstation-to-quickbooks.rules", manager)
    result = rules.apply(make_order(number="1001-1", status=OrderStatus.shipped, amount_paid=Decimal(0)))
    assert (result.order.number, result.order.paid, result.outcome) == ("1001", False, "sync")
    untouched = make_order(number="1002", amount_paid=Decimal("53.60"))
    assert rules.apply(untouched).order is untouched


def xero_invoice(**overrides):
    flagged = overrides.pop("channel", None)
    tracking = {"Sales Channel": flagged} if flagged else {}
    lines = [LineItem(sku="A", unit_price=Decimal(5), tracking=tracking), LineItem(sku="B", unit_price=Decimal(1))]
    fields = {"source": "xero", "number": "INV-0042", "status": OrderStatus.open, "lines": lines, **overrides}
    return make_order(**fields)


def test_default_xero_to_shipstation_needs_the_shipstation_flag(manager):
    rules = load("xero-to-shipstation.rules", manager)
    assert rules.apply(xero_invoice(channel="ShipStation")).outcome == "sync"
    for invoice in (xero_invoice(), xero_invoice(channel="Web")):
        result = rules.apply(invoice)
        assert (result.outcome, result.reason) == ("skip", "not flagged for ShipStation")
    voided = rules.apply(xero_invoice(channel="ShipStation", status=OrderStatus.voided))
    assert (voided.outcome, voided.reason) == ("skip", "invoice is voided or a draft")


def test_example_class_by_store(manager):
    rules = load("examples/class-by-store.rules", manager)
    assert [rules.apply(make_order(store=s)).order.class_name for s in ("Amazon US", "EBAY", "Web Store", None)] == [
        "AZ", "EB", "Web", "Web"]


def test_example_skip_test_orders(manager):
    rules = load("examples/skip-test-orders.rules", manager)
    assert rules.apply(make_order(customer={"email": "me@EXAMPLE.com"})).outcome == "skip"
    assert rules.apply(make_order(tags=["test"])).outcome == "skip"
    assert rules.apply(make_order(customer={"name": "Test Buyer"})).outcome == "skip"
    assert rules.apply(make_order(customer={"name": "Testa Rossa"})).outcome == "sync"
    assert rules.apply(make_order(total=Decimal(0))).outcome == "hold"


def test_example_deposit_account(manager):
    rules = load("examples/deposit-account-by-payment-method.rules", manager)
    accounts = [rules.apply(make_order(payment_method=m, store=s)).order.deposit_account
                for m, s in (("PayPal", "Amazon"), ("Stripe", "Web"), (None, "eBay Motors"), (None, "Web"))]
    assert accounts == ["PayPal Clearing", "Undeposited Funds", "Marketplace Receivable", None]


def test_example_one_shipping_item(manager):
    rules = load("examples/one-shipping-item.rules", manager)
    order = rules.apply(make_order(requested_service="USPS Priority Mail")).order
    assert (order.shipping_item, order.memo) == ("Shipping", "Shipped via USPS Priority Mail")
    assert order.requested_service == "USPS Priority Mail"  # what the customer chose is left as it was
    assert rules.apply(make_order(shipping=Decimal(0), requested_service="Pickup")).fired == []


def test_example_more(manager):
    from datetime import datetime, timezone

    rules = load("examples/more.rules", manager)
    gift = rules.apply(make_order(lines=[LineItem(sku="GIFT-25", unit_price=Decimal(25))])).order
    assert gift.document_type.value == "invoice" and gift.tags == ["gift-card"]
    assert rules.apply(make_order(total=Decimal("1500.00"), paid=False)).outcome == "hold"
    old = make_order(order_date=datetime(2025, 12, 31, tzinfo=timezone.utc))
    assert rules.apply(old).outcome == "skip"
    assert rules.apply(make_order(ship_to={"country": "DE"})).order.tax_code == "EXPORT"
    cancelled = rules.apply(make_order(status=OrderStatus.cancelled))
    assert cancelled.order.tags == ["cancelled"] and cancelled.outcome == "sync"


def test_example_sku_map(manager):
    rules = load("examples/sku-map.rules", manager)
    order = make_order(lines=[LineItem(sku="MUG-BLK", unit_price=Decimal("12")), LineItem(sku="INSERT-FLYER"),
                              LineItem(sku="MUG-BLK-OLD", unit_price=Decimal("12")), LineItem(sku="OTHER")])
    result = rules.apply(order)
    assert [(l.sku, l.item_name, l.class_name, l.tax_code) for l in result.order.lines] == [
        ("MUG-BLACK-11OZ", "Black mug 11oz", "Homeware", "TAX"), ("MUG-BLACK-11OZ", None, None, None),
        ("OTHER", None, None, None)]
    assert [c.reason for c in result.changes if c.field == "lines[2]"] == ["free insert"]
    with_price = make_order(lines=[LineItem(sku="INSERT-FLYER", unit_price=Decimal("1"))])
    assert rules.apply(with_price).order.lines[0].sku == "INSERT-FLYER", "a sold insert stays"


def test_example_line_tax_codes(manager):
    rules = load("examples/line-tax-codes.rules", manager)
    order = make_order(source="quickbooks", lines=[LineItem(sku="MUG", tax_code="TAX"), LineItem(sku="BOOK", tax_code="NON"),
                                                   LineItem(sku="GIFT-25"), LineItem(sku="X")])
    assert [l.tax_code for l in rules.apply(order).order.lines] == ["OUTPUT2", "EXEMPTOUTPUT", "EXEMPTOUTPUT", None]


def test_example_store_prefix(manager):
    rules = load("examples/store-prefix.rules", manager)
    assert rules.apply(make_order(number="5000", store="Amazon US")).order.number == "AZ-5000"
    assert rules.apply(make_order(number="5000", store="Web Store")).order.number == "5000"
