"""ShipStation payloads <-> canonical orders and shipments, on the real sample payloads."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from connex_core.models import Address, LineItem, OrderStatus
from connex_shipstation.mapping import (
    order_from_shipstation, order_key_for, order_to_shipstation, origin_of, shipment_from_fulfillment,
    shipment_from_shipstation,
)


def test_docs_order_maps_every_field(fixture_json):
    raw = fixture_json("compwright_ListOrdersResponse.json")["orders"][1]
    order = order_from_shipstation(raw, stores={"12345": "Web Store"}, tags={})
    assert (order.source, order.source_id, order.number, order.source_key) == \
        ("shipstation", "123456789", "TEST-ORDER-API-DOCS", "0f6bec18-9-4771-83aa-f392d84f4c74")
    assert order.original_number == "TEST-ORDER-API-DOCS"
    assert order.status == OrderStatus.awaiting_shipment
    assert order.timezone == "America/Los_Angeles"
    assert order.created_at == datetime(2015, 7, 16, 21, 0, 34, 823000, tzinfo=timezone.utc)
    assert order.customer.email == "headhoncho@whitehouse.gov" and order.customer.id == "37701499"
    assert order.ship_to.street2 == "Oval Office" and order.ship_to.postal_code == "20500"
    assert order.ship_to.residential is False
    # the "10% OFF" line has a negative price and adjustment: true
    product, coupon = order.lines
    assert (product.sku, product.quantity, product.unit_price, product.options) == \
        ("ABC123", Decimal(2), Decimal("99.99"), {"Size": "Large"})
    assert coupon.adjustment and coupon.unit_price == Decimal("-20.55")
    assert order.discount == Decimal("20.55")
    assert (order.shipping, order.tax) == (Decimal(10), Decimal(5))
    assert order.total == Decimal("194.43") == sum(
        (l.amount for l in order.lines if not l.adjustment), Decimal(0)) + order.shipping + order.tax - order.discount
    assert order.amount_paid == Decimal("218.73") and order.paid
    assert order.store == "Web Store" and order.store_id == "12345"
    assert order.custom_fields["custom3"] == "https://help.shipstation.com/hc/en-us/articles/206639957"
    assert order.payment_method == "Credit Card" and order.requested_service == "Priority Mail"
    assert order.notes == "Please ship as soon as possible!"
    assert order.origin is None and not order.split


def test_shipped_with_nothing_paid_counts_as_paid(fixture_json):
    raw = fixture_json("agritheory_list_orders.json")["orders"][0]
    order = order_from_shipstation(raw)
    assert order.status == OrderStatus.shipped and order.amount_paid == 0
    assert order.paid and order.shipped
    assert order.store == "Manual Orders"  # no store names given: advancedOptions.source
    assert order.custom_fields == {"custom1": "EARLY BIRD SPECIAL"}  # empty custom fields left out


def test_unpaid_order_is_not_paid(fixture_json):
    raw = dict(fixture_json("compwright_GetOrderResponse.json"), amountPaid=0, orderStatus="awaiting_payment")
    assert not order_from_shipstation(raw).paid


def test_item_level_tax_and_shipping_are_used_when_the_order_level_is_empty(fixture_json):
    raw = fixture_json("compwright_GetOrderResponse.json")
    raw.update(taxAmount=0, shippingAmount=None)
    raw["items"] = [dict(raw["items"][0], quantity=1, unitPrice=10, taxAmount=0.83, shippingAmount=2.5),
                    dict(raw["items"][0], quantity=2, unitPrice=5, taxAmount=0.82, shippingAmount=2.5)]
    raw["orderTotal"] = None
    order = order_from_shipstation(raw)
    assert (order.tax, order.shipping) == (Decimal("1.65"), Decimal("5.0"))
    assert order.total == Decimal("26.65")


def test_order_level_tax_wins_over_item_sums(fixture_json):
    raw = fixture_json("compwright_GetOrderResponse.json")
    raw.update(taxAmount=7)
    raw["items"] = [dict(raw["items"][0], taxAmount=3)]
    assert order_from_shipstation(raw).tax == Decimal(7)


def test_split_child_and_connex_origin(fixture_json):
    raw = fixture_json("compwright_GetOrderResponse.json")
    raw.update(orderNumber="1001-1", orderKey="connex:quickbooks:Invoice-123")
    raw["advancedOptions"] = dict(raw["advancedOptions"], mergedOrSplit=True, parentId=555)
    order = order_from_shipstation(raw)
    assert order.split and not order.merged and order.parent_id == "555"
    assert order.origin == "quickbooks:Invoice-123"
    raw["advancedOptions"].update(parentId=None, mergedIds=[1, 2])
    merged = order_from_shipstation(raw)
    assert merged.merged and not merged.split and merged.merged_ids == ["1", "2"]
    raw.update(orderNumber="1001")
    raw["advancedOptions"].update(mergedIds=[])
    original = order_from_shipstation(raw)
    assert not original.split and not original.merged and original.parent_id is None and original.merged_ids == []
    assert original.split_original and not order.split_original and not merged.split_original


def test_tags_are_named_when_known(fixture_json):
    raw = dict(fixture_json("compwright_GetOrderResponse.json"), tagIds=[11, 99])
    assert order_from_shipstation(raw, tags={"11": "VIP"}).tags == ["VIP", "99"]


def test_shipment_maps_cost_date_and_origin(fixture_json):
    raw = dict(fixture_json("agritheory_list_shipments.json")["shipments"][0], orderKey="connex:xero:abc-123")
    shipment = shipment_from_shipstation(raw)
    assert (shipment.order_source_id, shipment.order_number, shipment.tracking_number) == \
        ("123456789", "123456789", "9400111899562764298812")
    assert shipment.ship_date == date(2015, 6, 29) and shipment.cost == Decimal("2.35")
    assert (shipment.carrier, shipment.service) == ("stamps_com", "usps_first_class_mail")
    assert shipment.origin == "xero:abc-123" and not shipment.voided


def test_fulfillment_maps_to_a_shipment(fixture_json):
    raw = fixture_json("agritheory_list_fulfillments.json")["fulfillments"][0]
    shipment = shipment_from_fulfillment(raw, "connex:quickbooks:Invoice-9")
    assert shipment.tracking_number == "1Z4X53V5032442XXXX" and shipment.carrier == "UPS"
    assert shipment.ship_date == date(2020, 6, 19) and shipment.origin == "quickbooks:Invoice-9"
    assert shipment.source_id == "fulfillment-12345678"


def test_origin_only_for_connex_keys():
    assert origin_of("connex:xero:0f1e") == "xero:0f1e"
    assert origin_of("0f6bec18-3e89") is None and origin_of(None) is None and origin_of("connex:") is None


def test_canonical_to_shipstation_for_an_unpaid_invoice(canonical_order):
    order = canonical_order(source="quickbooks", source_id="Invoice-123", number="1042", paid=False,
                            amount_paid=Decimal(0), discount=Decimal("4.00"))
    payload = order_to_shipstation(order, store_id=303)
    assert payload["orderKey"] == "connex:quickbooks:Invoice-123" == order_key_for(order)
    assert payload["orderStatus"] == "awaiting_payment" and payload["paymentDate"] is None
    assert payload["orderDate"] == "2026-09-15T11:30:00.0000000"  # 18:30 UTC is 11:30 PDT
    assert [(i["sku"], i["quantity"], i["unitPrice"]) for i in payload["items"]] == \
        [("MUG-BLU", 2, Decimal("12.50")), ("TEE-L", 1, Decimal("20.00")), (None, 1, Decimal("-4.00"))]
    assert payload["items"][-1]["adjustment"] is True
    assert payload["advancedOptions"]["storeId"] == 303
    assert payload["billTo"]["name"] == "Ana García"


def test_paid_orders_await_shipment_and_fractional_quantities_become_one_unit(canonical_order):
    order = canonical_order(lines=[LineItem(sku="TEA", name="Tea", quantity=Decimal("1.5"), unit_price=Decimal("4"))],
                            paid_at=datetime(2026, 9, 15, 20, tzinfo=timezone.utc),
                            ship_to=Address(name="Zoë Müller"))
    payload = order_to_shipstation(order)
    assert payload["orderStatus"] == "awaiting_shipment"
    assert payload["paymentDate"] == "2026-09-15T13:00:00.0000000"
    item = payload["items"][0]
    assert (item["quantity"], item["unitPrice"], item["name"]) == (1, Decimal("6.0"), "Tea (1.5 x 4)")
    assert payload["shipTo"]["street1"] == "1 Main St"  # no ship-to street: the bill-to address is used
