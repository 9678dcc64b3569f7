"""The simulator answers with the shape of the real payloads: the same keys, and the same JSON types.

For each endpoint, the real examples (tests/fixtures) give the keys every example has (the
simulator must have them), the keys any example has (the simulator may have no other), and the
JSON types seen for each key (where both sides are non-null, the simulator's type must be one
of them; integers and decimals are both "number").
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from connex_shipstation.client import ShipStationClient, ShipStationRequestError


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def shape_mismatches(real: list[Any], sim: Any, path: str = "$") -> list[str]:
    """Where ``sim`` differs in shape from the real examples (an empty list when it matches)."""
    real = [r for r in real if r is not None]
    if sim is None or not real:
        return []
    kinds = {_kind(r) for r in real}
    if _kind(sim) not in kinds:
        return [f"{path}: simulator gives {_kind(sim)}, real payloads give {sorted(kinds)}"]
    if isinstance(sim, dict):
        dicts = [r for r in real if isinstance(r, dict)]
        every = set.intersection(*(set(d) for d in dicts))
        anywhere = set.union(*(set(d) for d in dicts))
        problems = [f"{path}: missing key {k!r}" for k in sorted(every - set(sim))]
        problems += [f"{path}: key {k!r} is in no real payload" for k in sorted(set(sim) - anywhere)]
        for key in sorted(set(sim) & anywhere):
            problems += shape_mismatches([d.get(key) for d in dicts], sim[key], f"{path}.{key}")
        return problems
    if isinstance(sim, list):
        elements = [e for r in real if isinstance(r, list) for e in r]
        return [p for item in sim for p in shape_mismatches(elements, item, f"{path}[]")]
    return []


def test_the_checker_catches_a_wrong_type_and_an_invented_key():
    real = [{"orderId": 1, "orderNumber": "A", "items": [{"sku": "X"}]}]
    problems = shape_mismatches(real, {"orderId": "1", "items": [{"sku": "X", "extra": 1}]})
    assert "$: missing key 'orderNumber'" in problems
    assert "$.orderId: simulator gives string, real payloads give ['number']" in problems
    assert "$.items[]: key 'extra' is in no real payload" in problems


@pytest.fixture
def client(simulator) -> ShipStationClient:
    return ShipStationClient(simulator.api_key, simulator.api_secret, base_url=simulator.base_url,
                             clock=simulator.clock, timeout=5)


@pytest.fixture
def seeded(simulator):
    """A simulator with orders of every kind, shipped ones among them (labels and fulfillments)."""
    orders = simulator.seed_orders(60)
    assert simulator.shipments and simulator.fulfillments
    return orders


def test_list_orders_has_the_real_shape(client, seeded, fixture_json):
    real = [fixture_json("compwright_ListOrdersResponse.json"), fixture_json("agritheory_list_orders.json")]
    answer = client.request("GET", "/orders", params={"pageSize": 500})
    assert len(answer["orders"]) == 60
    assert shape_mismatches(real, answer) == []


def test_get_order_and_createorder_have_the_real_shape(client, seeded, fixture_json):
    real = [fixture_json("compwright_GetOrderResponse.json"), fixture_json("compwright_CreateOrderResponse.json"),
            *fixture_json("agritheory_list_orders.json")["orders"]]
    for order in seeded[:20]:
        assert shape_mismatches(real, client.get_order(order["orderId"])) == []
    payload = {k: v for k, v in fixture_json("compwright_CreateOrderResponse.json").items()
               if k not in ("orderId", "createDate", "modifyDate", "orderTotal")}
    assert shape_mismatches(real, client.create_order(payload)) == []


def test_createorders_answer_has_the_real_shape(client, simulator, fixture_json):
    payload = {k: v for k, v in fixture_json("compwright_GetOrderResponse.json").items() if k != "orderId"}
    answer = client.create_orders([payload, dict(payload, orderKey="other", orderNumber="other")])
    assert shape_mismatches([fixture_json("compwright_CreateOrdersResponse.json")], answer) == []


def test_shipments_and_fulfillments_have_the_real_shape(client, seeded, fixture_json):
    shipments = client.request("GET", "/shipments", params={"pageSize": 500})
    fulfillments = client.request("GET", "/fulfillments", params={"pageSize": 500})
    assert shipments["shipments"] and fulfillments["fulfillments"]
    assert shape_mismatches([fixture_json("agritheory_list_shipments.json")], shipments) == []
    assert shape_mismatches([fixture_json("agritheory_list_fulfillments.json")], fulfillments) == []


def test_stores_webhooks_and_small_answers_have_the_real_shape(client, simulator, fixture_json):
    assert shape_mismatches([fixture_json("agritheory_list_stores.json")], client.list_stores()) == []
    client.subscribe_webhook("http://127.0.0.1:9/hook", "ORDER_NOTIFY", store_id=101, friendly_name="connex")
    assert shape_mismatches([fixture_json("agritheory_list_webhooks.json")], client.list_webhooks()) == []
    order = client.create_order({k: v for k, v in fixture_json("compwright_GetOrderResponse.json").items()
                                 if k != "orderId"})
    marked = client.request("POST", "/orders/markasshipped", body={
        "orderId": order["orderId"], "carrierCode": "usps", "shipDate": "2026-09-16", "trackingNumber": "9400",
        "notifyCustomer": True, "notifySalesChannel": True})
    assert shape_mismatches([fixture_json("compwright_MarkAsShippedResponse.json")], marked) == []
    deleted = client.request("DELETE", f"/orders/{order['orderId']}")
    assert shape_mismatches([fixture_json("compwright_DeleteOrderResponse.json")], deleted) == []


def test_the_not_an_array_error_has_the_real_body(client, fixture_json):
    real = fixture_json("issue_joecampo_pr5_error_400_createorders_not_array.json")
    with pytest.raises(ShipStationRequestError) as info:
        client.request("POST", "/orders/createorders", body={"orderNumber": "1"})
    assert set(info.value.model_state) == set(real["ModelState"])
    text = info.value.model_state["apiOrders.orderNumber"][0]
    assert text.startswith(real["ModelState"]["apiOrders.orderNumber"][0][:120])


def test_seeded_money_reads_back_as_decimal(client, simulator):
    order = simulator.add_order({"orderNumber": "M", "orderKey": "m", "orderDate": "2026-09-15T10:00:00.0000000",
                                 "orderStatus": "awaiting_shipment", "items": [
                                     {"sku": "A", "quantity": 3, "unitPrice": 0.1}], "shippingAmount": 0.2})
    assert order["orderTotal"] == Decimal("0.5")
    simulator.ship_order(order["orderId"], "usps", "1", date(2026, 9, 16), Decimal("1.10"))
    assert client.request("GET", "/shipments")["shipments"][0]["shipmentCost"] == 1.1
