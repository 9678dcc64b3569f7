"""The simulated ShipStation API, driven over real HTTP by the real client."""

from __future__ import annotations

import base64
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import requests

from connex_core.errors import AuthenticationError, RetriableAPIError
from connex_core.sandbox import Fault, SimClock
from connex_shipstation.client import ShipStationClient, ShipStationRequestError
from connex_shipstation.sim.simulator import ShipStationSimulator
from connex_shipstation.timezone import parse_timestamp

START = datetime(2026, 9, 10, 16, 0, tzinfo=timezone.utc)


@pytest.fixture
def client(simulator) -> ShipStationClient:
    return ShipStationClient(simulator.api_key, simulator.api_secret, base_url=simulator.base_url, timeout=5,
                             clock=simulator.clock, page_size=50, max_tries=4)


def _order(number: str, key: str, **extra) -> dict:
    return {"orderNumber": number, "orderKey": key, "orderDate": "2026-09-15T10:00:00.0000000",
            "orderStatus": "awaiting_shipment", "billTo": {"name": "Zoë Müller"},
            "shipTo": {"name": "Zoë Müller", "street1": "Unter den Linden 77", "city": "Berlin", "country": "DE"},
            "items": [{"sku": "MUG-BLU", "name": "Blue mug", "quantity": 2, "unitPrice": 12.5}],
            "amountPaid": 30.0, "taxAmount": 0, "shippingAmount": 5, **extra}


def test_wrong_credentials_get_401(simulator):
    bad = ShipStationClient("nope", "nope", base_url=simulator.base_url, clock=simulator.clock)
    with pytest.raises(AuthenticationError):
        bad.list_stores()
    raw = requests.get(simulator.base_url + "/stores", timeout=5)
    assert raw.status_code == 401


def test_seeded_orders_are_realistic_and_deterministic(sim_clock):
    a = ShipStationSimulator(clock=sim_clock, seed=3).seed_orders(200, start=START)
    b = ShipStationSimulator(clock=sim_clock, seed=3).seed_orders(200, start=START)
    assert a == b
    statuses = {o["orderStatus"] for o in a}
    assert {"shipped", "awaiting_shipment", "awaiting_payment"} <= statuses
    assert any(o["orderStatus"] == "shipped" and o["amountPaid"] == 0 for o in a), "shipped with nothing paid"
    children = [o for o in a if o["advancedOptions"]["parentId"]]
    assert children and all(c["orderNumber"].endswith("-1") and c["advancedOptions"]["mergedOrSplit"] for c in children)
    assert any(i["adjustment"] and i["unitPrice"] < 0 for o in a for i in o["items"])
    assert any(o["shipTo"]["country"] != "US" for o in a)
    assert any(not o["billTo"]["name"].isascii() for o in a)
    assert all(o["orderTotal"] == sum(Decimal(str(i["unitPrice"])) * i["quantity"] for i in o["items"])
               + Decimal(str(o["taxAmount"])) + Decimal(str(o["shippingAmount"]))
               for o in a if not any(i["taxAmount"] for i in o["items"]))


def test_paging_filters_and_sorting(simulator, client):
    seeded = simulator.seed_orders(120, start=START)
    pages = list(client.list_orders(sortBy="CreateDate", sortDir="DESC"))
    assert [len(p) for p in pages] == [50, 50, 20]
    listed = [o for p in pages for o in p]
    assert [o["createDate"] for o in listed] == sorted((o["createDate"] for o in seeded), reverse=True)
    shipped = [o for p in client.list_orders(orderStatus="shipped") for o in p]
    assert shipped and all(o["orderStatus"] == "shipped" for o in shipped)
    assert len(shipped) == sum(o["orderStatus"] == "shipped" for o in seeded)
    store = [o for p in client.list_orders(storeId=202) for o in p]
    assert store and {o["advancedOptions"]["storeId"] for o in store} == {202}


def test_order_number_filter_is_starts_with(simulator, client):
    for number in ("1001", "10010", "1001-1", "2001"):
        simulator.add_order(_order(number, f"k-{number}"))
    found = sorted(o["orderNumber"] for p in client.list_orders(orderNumber="1001") for o in p)
    assert found == ["1001", "1001-1", "10010"]


def test_date_filters_are_pacific(simulator, client):
    # 23:30 Pacific on the 15th is 06:30 UTC on the 16th; it belongs to the 15th.
    simulator.add_order(_order("late", "k-late", createDate="2026-09-15T23:30:00.0000000"))
    simulator.add_order(_order("next", "k-next", createDate="2026-09-16T00:30:00.0000000"))
    day = [o["orderNumber"] for p in client.list_orders(createDateStart="2026-09-15 00:00:00",
                                                         createDateEnd="2026-09-15 23:59:59") for o in p]
    assert day == ["late"]


def test_createorders_upserts_by_order_key(simulator, client):
    first = client.create_orders([_order("Q-1", "connex:quickbooks:1"), _order("Q-2", "connex:quickbooks:2")])
    assert not first["hasErrors"] and [r["success"] for r in first["results"]] == [True, True]
    again = client.create_orders([_order("Q-1", "connex:quickbooks:1", amountPaid=0, orderStatus="awaiting_payment")])
    assert again["results"][0]["orderId"] == first["results"][0]["orderId"]
    assert len(simulator.orders) == 2
    stored = simulator.orders[first["results"][0]["orderId"]]
    assert stored["orderStatus"] == "awaiting_payment" and stored["orderTotal"] == Decimal("30")
    assert simulator.write_calls == 2


def test_createorders_refuses_shipped_orders_and_bad_ones_per_order(simulator, client):
    result = client.create_orders([_order("S-1", "k-s1")])["results"][0]
    simulator.ship_order(result["orderId"], "ups", "1Z999", date(2026, 9, 16), Decimal("8.10"))
    answer = client.create_orders([_order("S-1", "k-s1"), {"orderKey": "k-x"}, _order("S-2", "k-s2")])
    assert answer["hasErrors"]
    ok = [r["success"] for r in answer["results"]]
    assert ok == [False, False, True]
    assert "shipped" in answer["results"][0]["errorMessage"]
    assert simulator.orders[result["orderId"]]["orderStatus"] == "shipped"


def test_object_instead_of_array_gets_the_model_state_400(simulator, client):
    with pytest.raises(ShipStationRequestError) as info:
        client.request("POST", "/orders/createorders", body=_order("X", "k-x"))
    assert info.value.status == 400
    assert list(info.value.model_state) == ["apiOrders.orderNumber"]


def test_an_unreadable_value_names_its_order(simulator, client):
    bad = _order("B", "k-b")
    bad["items"][0]["quantity"] = 1.5
    with pytest.raises(ShipStationRequestError) as info:
        client.create_orders([_order("A", "k-a"), bad])
    assert info.value.order_indexes() == {1}
    assert simulator.orders == {}, "a 400 commits nothing"


def test_createorder_returns_the_full_order(simulator, client):
    order = client.create_order(_order("ONE", "k-one"))
    assert order["orderId"] and order["items"][0]["orderItemId"]
    assert parse_timestamp(order["createDate"]).tzinfo is not None
    with pytest.raises(ShipStationRequestError):
        client.request("POST", "/orders/createorder", body=[_order("ONE", "k-one")])


def test_markasshipped_records_a_fulfillment_and_labels_are_shipments(simulator, client):
    a = client.create_order(_order("M-1", "k-m1"))
    b = client.create_order(_order("M-2", "k-m2"))
    client.request("POST", "/orders/markasshipped", body={"orderId": a["orderId"], "carrierCode": "usps",
                                                          "shipDate": "2026-09-16", "trackingNumber": "9400X"})
    label = simulator.ship_order(b["orderId"], "fedex", "7777", date(2026, 9, 16), Decimal("9.5"))
    simulator.void_shipment(label["shipmentId"])
    fulfillments = [f for p in client.list_fulfillments() for f in p]
    shipments = [s for p in client.list_shipments(includeShipmentItems="true") for s in p]
    assert [(f["orderId"], f["trackingNumber"]) for f in fulfillments] == [(a["orderId"], "9400X")]
    assert [(s["orderId"], s["voided"]) for s in shipments] == [(b["orderId"], True)]
    assert shipments[0]["shipmentItems"][0]["sku"] == "MUG-BLU"
    assert client.get_order(a["orderId"])["orderStatus"] == "shipped"


def test_rate_limit_headers_and_429_on_the_sim_clock(sandbox_server):
    simulator = ShipStationSimulator(clock=SimClock(speed=1.0))  # real time: the window stays put while we spend it
    sandbox_server.services["shipstation"] = simulator
    simulator.base_url = sandbox_server.url("shipstation")
    auth = "Basic " + base64.b64encode(f"{simulator.api_key}:{simulator.api_secret}".encode()).decode()
    answers = [requests.get(simulator.base_url + "/stores", headers={"Authorization": auth}, timeout=5)
               for _ in range(41)]
    first, last = answers[0], answers[-1]
    assert first.headers["X-Rate-Limit-Limit"] == "40" and first.headers["X-Rate-Limit-Remaining"] == "39"
    assert answers[39].status_code == 200 and answers[39].headers["X-Rate-Limit-Remaining"] == "0"
    assert last.status_code == 429 and 0 < int(last.headers["X-Rate-Limit-Reset"]) <= 60
    simulator.clock.advance(61)
    assert requests.get(simulator.base_url + "/stores", headers={"Authorization": auth}, timeout=5).status_code == 200


def test_the_client_stays_under_the_limit_without_429(simulator, client):
    for _ in range(45):  # more than one window's 40
        client.list_stores()
    assert simulator.calls["429"] == 0
    assert simulator.calls["GET /stores"] == 45


def test_a_lost_response_on_a_write_is_retried_without_a_duplicate(simulator, client):
    simulator.faults.add(Fault(kind="lost_response", methods=("POST",), path="createorders", times=1))
    answer = client.create_orders([_order("L-1", "connex:xero:abc")])
    assert answer["results"][0]["success"]
    assert simulator.faults.injected["lost_response"] == 1
    assert len(simulator.orders) == 1, "the retried upsert found the committed order by orderKey"


def test_errors_and_slow_answers_are_injected(simulator, client):
    simulator.faults.add(Fault(kind="error", status=502, body=b"<html><title>Bad Gateway</title></html>", times=2))
    simulator.faults.add(Fault(kind="slow", delay=0.05, times=1))
    assert client.list_stores()
    assert simulator.faults.injected["error"] == 2 and simulator.faults.injected["slow"] == 1
    slow = ShipStationClient(simulator.api_key, simulator.api_secret, base_url=simulator.base_url, timeout=0.05,
                             clock=simulator.clock, max_tries=1)
    simulator.faults.add(Fault(kind="slow", delay=0.3, times=1))
    with pytest.raises(RetriableAPIError, match="no answer within"):
        slow.list_stores()


def test_webhooks_round_trip(simulator, client):
    hook = client.subscribe_webhook("http://127.0.0.1:9/hook?secret=s", "SHIP_NOTIFY", store_id=202)
    assert [h["WebHookID"] for h in client.list_webhooks()] == [hook]
    client.unsubscribe_webhook(hook)
    assert client.list_webhooks() == []


def test_delete_is_a_soft_delete(simulator, client):
    order = client.create_order(_order("D-1", "k-d1"))
    assert client.request("DELETE", f"/orders/{order['orderId']}") == \
        {"success": True, "message": "The requested order has been deleted."}
    assert [o for p in client.list_orders() for o in p] == []
    assert order["orderId"] in simulator.orders


def test_with_the_order_key_upsert_off_every_create_is_a_new_order(simulator, client):
    """The chaos harness's switch (issue 15): a repeated write becomes a second order instead of an update."""
    simulator.upsert_by_order_key = False
    first = client.create_orders([_order("Q-1", "connex:quickbooks:1")])["results"][0]
    again = client.create_orders([_order("Q-1", "connex:quickbooks:1")])["results"][0]
    assert first["success"] and again["success"] and again["orderId"] != first["orderId"]
    assert [o["orderKey"] for o in simulator.orders.values()] == ["connex:quickbooks:1"] * 2
