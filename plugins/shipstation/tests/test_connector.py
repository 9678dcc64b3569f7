"""The connector end to end: the real client against the simulator over loopback HTTP."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import responses
from pydantic import ValidationError

from connex_core.connector import ConnectorContext, FetchQuery, OrderWrite
from connex_core.errors import ConfigurationError
from connex_core.models import OrderStatus
from connex_core.sandbox import Fault, SteppedClock
from connex_shipstation.connector import ShipStationConnector, ShipStationSettings
from connex_shipstation.timezone import PACIFIC, pacific_day_bounds


def _raw(number: str, created: str, **extra) -> dict:
    return {"orderNumber": number, "orderKey": f"key-{number}", "orderDate": created, "createDate": created,
            "orderStatus": "awaiting_shipment", "billTo": {"name": "José Álvarez"}, "shipTo": {"name": "José Álvarez"},
            "items": [{"sku": "MUG-BLU", "name": "Blue mug", "quantity": 1, "unitPrice": 12.5}], "amountPaid": 12.5,
            **extra}


@pytest.fixture
def connector(simulator, connector_for) -> ShipStationConnector:
    return connector_for(simulator)


def test_check_describes_the_account(connector):
    assert connector.check() == "connected to ShipStation (3 stores)"


def test_a_user_asking_for_the_15th_gets_the_pacific_15th(simulator, connector):
    simulator.add_order(_raw("early", "2026-09-15T00:10:00.0000000"))
    simulator.add_order(_raw("late", "2026-09-15T23:30:00.0000000"))
    simulator.add_order(_raw("before", "2026-09-14T23:59:00.0000000"))
    simulator.add_order(_raw("after", "2026-09-16T00:00:30.0000000"))
    since, until = pacific_day_bounds(date(2026, 9, 15))
    query = FetchQuery(since=since.astimezone(timezone.utc), until=until.astimezone(timezone.utc))
    assert connector.order_params(query)["createDateStart"] == "2026-09-15 00:00:00"
    orders = list(connector.fetch_orders(query))
    assert [o.number for o in orders] == ["early", "late"]
    assert orders[1].created_at.astimezone(PACIFIC).date() == date(2026, 9, 15)
    assert orders[1].created_at.astimezone(timezone.utc).date() == date(2026, 9, 16)


def test_other_date_fields_and_filters(simulator, connector):
    simulator.add_order(_raw("paid-15", "2026-09-10T10:00:00.0000000", paymentDate="2026-09-15T09:00:00.0000000"))
    simulator.add_order(_raw("paid-12", "2026-09-10T10:00:00.0000000", paymentDate="2026-09-12T09:00:00.0000000",
                             advancedOptions={"storeId": 202}))
    since = datetime(2026, 9, 15, tzinfo=PACIFIC)
    assert [o.number for o in connector.fetch_orders(FetchQuery(since=since, date_field="paid"))] == ["paid-15"]
    assert [o.number for o in connector.fetch_orders(FetchQuery(options={"store_id": 202}))] == ["paid-12"]
    assert list(connector.fetch_orders(FetchQuery(options={"status": "shipped"}))) == []
    with pytest.raises(ConfigurationError, match="date_field"):
        connector.order_params(FetchQuery(date_field="shipped_on"))
    with pytest.raises(ConfigurationError, match="awaiting_shipment"):
        connector.order_params(FetchQuery(options={"status": "paid"}))


def test_incremental_reads_sort_by_modify_date(simulator, connector):
    a = simulator.add_order(_raw("A", "2026-09-15T08:00:00.0000000"))
    simulator.add_order(_raw("B", "2026-09-15T09:00:00.0000000"))
    simulator.add_order(_raw("old", "2026-09-01T09:00:00.0000000"))
    simulator.orders[a["orderId"]]["modifyDate"] = "2026-09-15T10:00:00.0000000"  # A edited after B was created
    query = FetchQuery(modified_since=datetime(2026, 9, 15, 7, tzinfo=PACIFIC))
    assert connector.order_params(query)["sortBy"] == "ModifyDate"
    assert [o.number for o in connector.fetch_orders(query)] == ["B", "A"]


def test_orders_stream_page_by_page(simulator, connector_for):
    simulator.seed_orders(30)
    connector = connector_for(simulator, page_size=10, attach_shipments=False)
    stream = connector.fetch_orders(FetchQuery())
    first = next(stream)
    assert first.number == "1001"
    assert simulator.calls["GET /orders"] == 1, "only the first page was read"
    assert len([first, *stream]) == 30 and simulator.calls["GET /orders"] == 3


def test_shipped_orders_carry_their_tracking(simulator, connector):
    seeded = simulator.seed_orders(40)
    orders = {o.source_id: o for o in connector.fetch_orders(FetchQuery(options={"status": "shipped"}))}
    shipped = [o for o in seeded if o["orderStatus"] == "shipped"]
    assert len(orders) == len(shipped) > 0
    tracking = {s["orderId"]: s["trackingNumber"] for s in simulator.shipments + simulator.fulfillments}
    for raw in shipped:
        order = orders[str(raw["orderId"])]
        assert order.shipped and order.paid
        assert order.shipment.tracking_number == tracking[raw["orderId"]]
    assert any(o.amount_paid == 0 for o in orders.values()), "a shipped order with nothing paid is still paid"
    assert simulator.calls["GET /fulfillments"] <= 1 and simulator.calls["GET /shipments"] == 1


def test_fetch_shipments_leaves_voided_out_and_finds_origins(simulator, connector):
    written = simulator.add_order(_raw("Q-1", "2026-09-15T08:00:00.0000000", orderKey="connex:quickbooks:Invoice-7"))
    other = simulator.add_order(_raw("S-1", "2026-09-15T08:00:00.0000000"))
    voided = simulator.ship_order(other["orderId"], "ups", "1ZVOID", date(2026, 9, 15), Decimal("7"))
    simulator.void_shipment(voided["shipmentId"])
    simulator.ship_order(other["orderId"], "ups", "1ZGOOD", date(2026, 9, 16), Decimal("7.25"))
    simulator.ship_order(written["orderId"], "usps", "9400FUL", date(2026, 9, 16), label=False)
    shipments = list(connector.fetch_shipments(FetchQuery()))
    assert [(s.tracking_number, s.origin) for s in shipments] == [
        ("1ZGOOD", None), ("9400FUL", "quickbooks:Invoice-7")]
    assert shipments[0].cost == Decimal("7.25") and shipments[1].ship_date == date(2026, 9, 16)
    assert shipments[1].order_key == "connex:quickbooks:Invoice-7"


def _invoices(canonical_order, numbers, **extra):
    return [OrderWrite(order=canonical_order(source="quickbooks", source_id=f"Invoice-{n}", number=n, **extra),
                       idempotency_key=f"idem-{n}") for n in numbers]


def test_write_orders_upserts_and_never_duplicates(simulator, connector, canonical_order):
    writes = _invoices(canonical_order, ["1001", "1002"], paid=False, amount_paid=Decimal(0))
    first = connector.write_orders(writes)
    assert [r.ok for r in first] == [True, True]
    stored = simulator.orders[int(first[0].target_id)]
    assert stored["orderKey"] == "connex:quickbooks:Invoice-1001"
    assert stored["orderStatus"] == "awaiting_payment"
    again = connector.write_orders(writes)
    assert [r.target_id for r in again] == [r.target_id for r in first]
    assert len(simulator.orders) == 2


def test_find_orders_batches_the_lookup(simulator, connector, canonical_order):
    simulator.seed_orders(30)  # other orders, numbered 1001.. by the generator
    numbers = [f"INV-{n:04d}" for n in range(1, 121)]
    writes = _invoices(canonical_order, numbers)
    for batch in (writes[:100], writes[100:]):
        connector.write_orders(batch)
    before = simulator.calls["GET /orders"]
    found = connector.find_orders(writes[:100] + _invoices(canonical_order, ["INV-9999"]))
    assert len(found) == 100 and "quickbooks:Invoice-INV-9999" not in found
    assert found["quickbooks:Invoice-INV-0042"].target_number == "INV-0042"
    assert simulator.calls["GET /orders"] - before == 1  # one prefix search: "INV-"
    before = simulator.calls["GET /orders"]
    connector.write_orders(writes[:100])  # find_orders already looked these up: no second lookup
    assert simulator.calls["GET /orders"] == before


def test_a_shipped_order_is_never_downgraded(simulator, connector, canonical_order):
    [write] = _invoices(canonical_order, ["2001"])
    [result] = connector.write_orders([write])
    simulator.ship_order(int(result.target_id), "usps", "9400", date(2026, 9, 16))
    [again] = connector.write_orders([write])
    assert again.ok and again.duplicate and "shipped" in again.note
    assert simulator.orders[int(result.target_id)]["orderStatus"] == "shipped"


def test_per_order_errors_and_a_model_state_400_are_pinned_on_their_order(simulator, connector, canonical_order):
    writes = _invoices(canonical_order, ["3001", "3002", "3003"])
    model_state = {"Message": "The request is invalid.",
                   "ModelState": {"apiOrders[1].items[0].quantity": ["Error converting value."]}}
    simulator.faults.add(Fault(kind="error", status=400, body=json.dumps(model_state).encode(),
                               headers={"Content-Type": "application/json"}, path="createorders", times=1))
    results = {r.key: r for r in connector.write_orders(writes)}
    assert not results["quickbooks:Invoice-3002"].ok and not results["quickbooks:Invoice-3002"].retriable
    assert "3002" in results["quickbooks:Invoice-3002"].error and "quantity" in results["quickbooks:Invoice-3002"].error
    assert results["quickbooks:Invoice-3001"].ok and results["quickbooks:Invoice-3003"].ok
    bad = _invoices(canonical_order, [""])[0]
    [refused] = connector.write_orders([bad])
    assert not refused.ok and "orderNumber is required" in refused.error


def test_an_unattributed_400_is_narrowed_down_by_halving(simulator, connector, canonical_order):
    writes = _invoices(canonical_order, ["4001", "4002", "4003"])
    body = b'{"Message":"The request is invalid.","ModelState":{"apiOrders":["Something is wrong."]}}'
    simulator.faults.add(Fault(kind="error", status=400, body=body, path="createorders", times=3))
    results = {r.key: r.ok for r in connector.write_orders(writes)}
    # [all three] -> 400; [4001] -> 400; [4002, 4003] -> 400; [4002] and [4003] go through.
    assert results == {"quickbooks:Invoice-4001": False, "quickbooks:Invoice-4002": True,
                       "quickbooks:Invoice-4003": True}
    assert simulator.calls["POST /orders/createorders"] == 5


def test_server_errors_leave_orders_retriable(simulator, connector_for, canonical_order):
    connector = connector_for(simulator)
    connector.client.retry.max_tries = 2
    simulator.faults.add(Fault(kind="error", status=503, body=b"", path="createorders"))
    [result] = connector.write_orders(_invoices(canonical_order, ["5001"]))
    assert not result.ok and result.retriable
    assert simulator.orders == {}


def test_parse_orders_needs_no_network(fixture_json, tmp_path):
    settings = ShipStationSettings(api_key="k" * 8, api_secret="s" * 8)
    connector = ShipStationConnector(settings, ConnectorContext(connection="ss", state_dir=tmp_path))
    with responses.RequestsMock():  # any request would fail: none is registered
        orders = list(connector.parse_orders(fixture_json("compwright_ListOrdersResponse.json")))
        single = list(connector.parse_orders(fixture_json("compwright_GetOrderResponse.json")))
        listed = list(connector.parse_orders(fixture_json("agritheory_list_orders.json")["orders"]))
    assert [o.number for o in orders] == ["Test-International-API-DOCS", "TEST-ORDER-API-DOCS"]
    assert orders[0].ship_to.country == "GB" and len(single) == 1 and len(listed) == 2
    assert listed[0].status == OrderStatus.shipped


def test_settings_keep_secrets_out_of_repr_and_refuse_plain_http():
    settings = ShipStationSettings(api_key="live-key-123", api_secret="live-secret-456")
    assert "live-secret-456" not in repr(settings) and "live-key-123" not in repr(settings)
    with pytest.raises(ValidationError, match="https"):
        ShipStationSettings(api_key="k", api_secret="s", base_url="http://ssapi.shipstation.com")
    assert ShipStationSettings(api_key="k", api_secret="s", base_url="http://127.0.0.1:8080/shipstation/")\
        .base_url == "http://127.0.0.1:8080/shipstation"


def test_the_plugin_registers_its_connector_and_simulator(plugin_manager):
    import connex_shipstation

    plugin_manager.register(connex_shipstation, name="shipstation")
    assert plugin_manager.connector("shipstation") is ShipStationConnector
    sim = plugin_manager.sandboxes["shipstation"](clock=None, seed=1)
    assert sim.name == "shipstation" and set(sim.client_config()) == {"base_url", "api_key", "api_secret"}


def test_shipments_by_ship_day_and_by_cursor(simulator, connector):
    order = simulator.add_order(_raw("D-1", "2026-09-15T08:00:00.0000000"))
    simulator.ship_order(order["orderId"], "usps", "ON-15", date(2026, 9, 15), at="2026-09-15T09:00:00.0000000")
    simulator.ship_order(order["orderId"], "usps", "ON-16", date(2026, 9, 16), at="2026-09-16T09:00:00.0000000")
    since, until = pacific_day_bounds(date(2026, 9, 16))
    by_day = connector.fetch_shipments(FetchQuery(since=since, until=until, date_field="shipped"))
    assert [s.tracking_number for s in by_day] == ["ON-16"]
    cursor = FetchQuery(modified_since=datetime(2026, 9, 15, 12, tzinfo=PACIFIC),
                        since=datetime(2026, 9, 1, tzinfo=PACIFIC))
    assert [s.tracking_number for s in connector.fetch_shipments(cursor)] == ["ON-16"]


def test_api_budgets_show_the_keys_pacing_without_a_call(simulator, connector_for):
    simulator.clock = SteppedClock()  # time stands still: at x1000 a minute's 40 calls would age out in 60 real ms
    connector = connector_for(simulator)
    [fresh] = connector.api_budgets()
    assert (fresh.per, fresh.limit, fresh.remaining) == ("minute", 40, 40)
    connector.check()
    made = simulator.total_calls
    [minute] = connector.api_budgets()
    assert made > 0 and minute.remaining == 40 - made
    assert simulator.total_calls == made  # asking made no call
