"""v2 shipments, labels and fulfillments <-> canonical orders: each documented gap has its answer."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from connex_core.models import Address, Customer, LineItem, Order, OrderStatus
from connex_core.testing.factories import make_order
from connex_shipstation.mapping import order_from_shipstation
from connex_shipstation.v2.mapping import (
    MAX_EXTERNAL_ID, external_id_for, order_from_v2, order_to_v2, origin_from, shipment_from_fulfillment,
    shipment_from_label, shipment_id_of, source_id_of,
)


def shipment(v2_json) -> dict:
    return v2_json("list_shipments_page.json")["shipments"][0]


def test_no_order_total_so_it_is_computed(v2_json):
    order = order_from_v2(shipment(v2_json))
    # 2 x 45.50 + 12.00 goods, a -10.00 coupon line, shipping 5.00 and tax 8.50 from the money objects
    assert order.discount == Decimal("10.00")
    assert order.total == Decimal("91.00") + Decimal("12.00") - Decimal("10.00") + Decimal("5.00") + Decimal("8.50")
    assert [l.adjustment for l in order.lines] == [False, False, True]


def test_ship_to_stands_in_for_the_missing_bill_to_and_customer(v2_json):
    order = order_from_v2(shipment(v2_json))
    assert order.bill_to == order.ship_to
    assert order.ship_to.street1 == "1999 Bishop Grandin Blvd." and order.ship_to.country == "CA"
    assert order.ship_to.residential is False
    assert order.customer.email == "example@example.com" and order.customer.name == "John Doe"
    assert order.customer.company == "The Home Depot" and order.customer.id is None


def test_paid_comes_from_amount_paid(v2_json):
    raw = shipment(v2_json)
    paid = order_from_v2(raw)
    assert paid.amount_paid == Decimal("106.5") and paid.paid and paid.status == OrderStatus.awaiting_shipment
    unpaid = order_from_v2(dict(raw, amount_paid={"currency": "usd", "amount": 0}))
    assert not unpaid.paid and unpaid.status == OrderStatus.awaiting_payment
    shipped = order_from_v2(dict(raw, amount_paid=None, shipment_status="label_purchased"))
    assert shipped.paid and shipped.status == OrderStatus.shipped


def test_dates_are_created_at_in_utc_and_days_count_in_the_connection_zone(v2_json):
    order = order_from_v2(shipment(v2_json), tz="America/Los_Angeles")
    assert order.created_at == datetime(2018, 9, 23, 15, 0, tzinfo=timezone.utc)
    assert order.order_date == order.created_at and order.paid_at is None
    assert order.modified_at == datetime(2018, 9, 23, 16, 30, tzinfo=timezone.utc)
    assert order.timezone == "America/Los_Angeles"


def test_identity_keeps_v1_ledger_keys_and_says_which_api(v2_json):
    order = order_from_v2(shipment(v2_json))
    assert order.source == "shipstation" and order.source_id == "28529731"  # v1 orderId 28529731 is v2 se-28529731
    assert order.number == "10001" and order.source_key == "1234556"
    assert order.custom_fields == {"custom1": "wholesale", "shipstation_api": "v2"}
    v1 = order_from_shipstation({"orderId": 28529731, "orderNumber": "10001"})
    assert v1.key == order.key and "shipstation_api" not in v1.custom_fields
    assert source_id_of("se-abc12") == "se-abc12" and shipment_id_of("28529731") == "se-28529731"
    assert shipment_id_of(source_id_of("se-abc12")) == "se-abc12"


def test_items_of_several_sales_orders_are_flagged_merged(v2_json):
    raw = shipment(v2_json)
    assert order_from_v2(raw).merged is True
    one = dict(raw, items=[i for i in raw["items"] if i["sales_order_id"] == "se-1001"])
    assert order_from_v2(one).merged is False and order_from_v2(one).split is False


def test_currency_store_tags_notes(v2_json):
    order = order_from_v2(shipment(v2_json), currency="EUR")
    assert order.currency == "USD"  # the money objects say usd
    assert order.store == "amazon_us" and order.store_id == "se-28529731"
    assert order.tags == ["Fragile"] and order.notes == "Please handle with care"
    assert order_from_v2(dict(shipment(v2_json), amount_paid=None, shipping_paid=None, tax_paid=None),
                         currency="EUR").currency == "EUR"


def test_item_level_tax_and_shipping_when_the_order_level_is_absent(v2_json):
    raw = dict(shipment(v2_json), shipping_paid=None, tax_paid=None)
    order = order_from_v2(raw)
    assert order.shipping == Decimal("5.0") and order.tax == Decimal("8.50")


def test_label_cost_adds_insurance_and_voided_labels_say_so(v2_json):
    live, voided = (shipment_from_label(l) for l in v2_json("labels_page.json")["labels"])
    assert live.cost == Decimal("9.35") and live.tracking_number == "782758401696"
    assert live.ship_date == date(2018, 9, 23) and live.carrier == "stamps_com"
    assert live.origin == "quickbooks:Invoice-1" and live.order_source_id == "28529731"
    assert voided.voided


def test_fulfillment_takes_origin_from_its_shipment():
    record = {"fulfillment_id": "se-9", "shipment_id": "se-77", "tracking_number": "1Z9", "carrier_code": "ups",
              "ship_date": "2026-09-18T00:00:00Z", "created_at": "2026-09-18T10:00:00Z"}
    fact = shipment_from_fulfillment(record, {"external_shipment_id": "connex:xero:abc", "shipment_number": "INV-9"})
    assert fact.origin == "xero:abc" and fact.order_number == "INV-9" and fact.ship_date == date(2026, 9, 18)


def test_external_id_is_the_idempotency_key_within_fifty_characters():
    order = make_order()
    assert external_id_for(order) == f"connex:{order.key}"
    long = make_order(source="xero", source_id="x" * 60)
    key = external_id_for(long)
    assert len(key) <= MAX_EXTERNAL_ID and key.startswith("connex:h:") and key == external_id_for(long)
    assert origin_from(key) is None  # a hashed key cannot be read back (README: known gaps)


def test_to_v2_and_back_keeps_the_books():
    order = Order(source="quickbooks", source_id="Invoice-42", number="1042", currency="USD", paid=True,
                  customer=Customer(name="Ann Lee", email="ann@example.com"),
                  bill_to=Address(name="Ann Lee", street1="9 Elm St", city="Boise", state="ID", postal_code="83702",
                                  country="US"),
                  lines=[LineItem(sku="MUG", name="Mug", quantity=Decimal(3), unit_price=Decimal("12.50"))],
                  shipping=Decimal("6.00"), tax=Decimal("2.40"), discount=Decimal("5.00"),
                  total=Decimal("40.90"), amount_paid=Decimal("40.90"))
    payload = order_to_v2(order, warehouse_id="se-1")
    assert payload["external_shipment_id"] == "connex:quickbooks:Invoice-42"
    assert payload["ship_to"]["address_line1"] == "9 Elm St"  # no ship-to: the bill-to is shipped to
    assert payload["ship_to"]["phone"]  # v2 needs one
    stored = dict(payload, shipment_id="se-5", shipment_status="pending", created_at="2026-09-20T10:00:00.000Z",
                  items=[dict(i, sales_order_id="se-so-5") for i in payload["items"]])
    back = order_from_v2(stored)
    assert (back.total, back.shipping, back.tax, back.discount, back.amount_paid) == \
           (order.total, order.shipping, order.tax, order.discount, order.amount_paid)
    assert back.origin == "quickbooks:Invoice-42"


def test_unpaid_orders_are_created_on_hold():
    order = make_order(paid=False)
    assert order_to_v2(order, hold_until=date(2026, 10, 20))["hold_until_date"] == "2026-10-20"
    assert "hold_until_date" not in order_to_v2(make_order(paid=True), hold_until=date(2026, 10, 20))
