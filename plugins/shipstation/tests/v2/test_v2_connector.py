"""The v2 connector against the v2 simulator: dispatch from the one ``shipstation`` type, reads with
shipping facts, writes keyed by external_shipment_id that keep the warehouse's work, signed webhooks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from connex_core.connector import FetchQuery, OrderWrite
from connex_core.errors import WebhookRejected
from connex_core.models import Address, LineItem
from connex_core.sandbox import Fault
from connex_core.testing.factories import make_order
from connex_shipstation.connector import ShipStationConnector, ShipStationSettings
from connex_shipstation.v2.connector import ShipStationV2Connector


def write(connector, *orders):
    writes = [OrderWrite(order=o, idempotency_key=o.key) for o in orders]
    connector.find_orders(writes)
    return connector.write_orders(writes)


def order(**over):
    base = dict(source="quickbooks", source_id="Invoice-7", number="1007", paid=True, amount_paid=Decimal("53.60"),
                ship_to=Address(name="Ann Lee", street1="9 Elm St", city="Boise", state="ID", postal_code="83702",
                                country="US", phone="555-0101"))
    return make_order(**{**base, **over})


def test_v1_stays_the_default_and_v2_is_one_setting_away(tmp_path, v2_sim, v2_connector):
    v1 = ShipStationSettings(api_key="k", api_secret="s")
    assert v1.api == "v1" and v1.base_url == "https://ssapi.shipstation.com" and v1.page_size == 500
    from connex_core.connector import ConnectorContext

    built = ShipStationConnector(v1, ConnectorContext(connection="ss", state_dir=tmp_path))
    assert type(built) is ShipStationConnector
    v2 = ShipStationSettings.model_validate({"api": "v2", "api_key": "k"})
    assert v2.base_url == "https://api.shipstation.com/v2" and v2.page_size == 100 and v2.api_secret is None
    assert isinstance(v2_connector(v2_sim), ShipStationV2Connector)
    with pytest.raises(ValidationError, match="api_secret"):
        ShipStationSettings.model_validate({"api_key": "k"})
    with pytest.raises(ValidationError):
        ShipStationSettings.model_validate({"api": "v3", "api_key": "k", "api_secret": "s"})


def test_check_says_v2(v2_sim, v2_connector):
    assert "API v2" in v2_connector(v2_sim).check()


def test_reads_every_shipment_with_tracking_and_the_cost_of_its_live_labels(v2_sim, v2_connector):
    [a, b, c] = v2_sim.seed_shipments(3)
    for s in (a, b, c):
        if s["shipment_status"] == "label_purchased":
            for label in [l for l in v2_sim.labels if l["shipment_id"] == s["shipment_id"]]:
                v2_sim.void_label(label["label_id"])
    first = v2_sim.buy_label(a["shipment_id"], cost="4.00", insurance="0.50", tracking_number="T-A1")
    v2_sim.buy_label(a["shipment_id"], cost="3.00", tracking_number="T-A2")  # a second package
    v2_sim.buy_label(b["shipment_id"], cost="9.99", tracking_number="T-B-voided")
    v2_sim.void_label(v2_sim.labels[-1]["label_id"])
    v2_sim.fulfill(b["shipment_id"], "T-B-FUL", "ups")
    orders = {o.number: o for o in v2_connector(v2_sim).fetch_orders(FetchQuery())}
    assert orders[a["shipment_number"]].shipment.cost == Decimal("7.50")
    assert orders[a["shipment_number"]].shipment.tracking_number == "T-A2"
    assert orders[b["shipment_number"]].shipment.tracking_number == "T-B-FUL"
    assert orders[c["shipment_number"]].shipment is None and not orders[c["shipment_number"]].shipped
    assert first["tracking_number"] == "T-A1"


def test_window_and_status_filters(v2_sim, v2_connector):
    start = v2_sim.clock.utcnow() - timedelta(days=6)
    made = v2_sim.seed_shipments(12, start=start)
    connector = v2_connector(v2_sim)
    since, until = start + timedelta(days=2), start + timedelta(days=4)
    got = list(connector.fetch_orders(FetchQuery(since=since, until=until)))
    want = [s for s in made if since <= datetime.fromisoformat(s["created_at"].replace("Z", "+00:00")) <= until]
    assert sorted(o.number for o in got) == sorted(s["shipment_number"] for s in want) and want
    shipped = list(connector.fetch_orders(FetchQuery(options={"status": "shipped"})))
    assert shipped and all(o.shipped for o in shipped)
    assert len(shipped) == sum(s["shipment_status"] == "label_purchased" for s in made)


def test_a_resync_keeps_the_warehouses_work_and_changes_only_connex_fields(v2_sim, v2_connector):
    connector = v2_connector(v2_sim)
    [created] = write(connector, order())
    assert created.ok and not created.duplicate
    sid = created.target_id
    v2_sim.warehouse_edit(sid, service_code="ups_ground", carrier_id="se-4002",
                          ship_to=dict(v2_sim.shipments[sid]["ship_to"], address_line2="Apt 4 (corrected)"),
                          packages=[{"package_code": "package", "weight": {"value": 20, "unit": "ounce"}}])
    changed = order(lines=[LineItem(sku="MUG-BLU", name="Blue mug", quantity=Decimal(3), unit_price=Decimal("12.50"))],
                    amount_paid=Decimal("46.10"))
    [again] = write(v2_connector(v2_sim), changed)
    assert again.ok and again.target_id == sid and "items" in again.note and "amount_paid" in again.note
    stored = v2_sim.shipments[sid]
    assert stored["service_code"] == "ups_ground" and stored["carrier_id"] == "se-4002"
    assert stored["ship_to"]["address_line2"] == "Apt 4 (corrected)" and stored["packages"]
    assert [(i["sku"], i["quantity"]) for i in stored["items"]] == [("MUG-BLU", 3)]
    assert Decimal(str(stored["amount_paid"]["amount"])) == Decimal("46.10")
    assert len(v2_sim.shipments) == 1
    [same] = write(v2_connector(v2_sim), changed)
    assert same.duplicate and "same content" in same.note


def test_a_shipment_with_a_label_is_never_written_over(v2_sim, v2_connector):
    [created] = write(v2_connector(v2_sim), order())
    v2_sim.buy_label(created.target_id)
    before = json.dumps(v2_sim.shipments[created.target_id], sort_keys=True, default=str)
    [again] = write(v2_connector(v2_sim), order(amount_paid=Decimal("1.00")))
    assert again.ok and again.duplicate and "label_purchased" in again.note
    assert json.dumps(v2_sim.shipments[created.target_id], sort_keys=True, default=str) == before


def test_unpaid_orders_wait_on_hold_until_paid(v2_sim, v2_connector):
    [created] = write(v2_connector(v2_sim), order(paid=False, amount_paid=Decimal("0")))
    assert v2_sim.shipments[created.target_id]["shipment_status"] == "on_hold"
    [paid] = write(v2_connector(v2_sim), order())
    assert paid.ok and v2_sim.shipments[created.target_id]["shipment_status"] == "pending"


def test_a_lost_answer_is_retried_without_a_second_shipment(v2_sim, v2_connector):
    v2_sim.faults.add(Fault(kind="lost_response", methods=("POST",), path="^/v2/shipments$", times=5))
    connector = v2_connector(v2_sim)
    [lost] = write(connector, order())
    assert not lost.ok and lost.retriable
    assert len(v2_sim.shipments) == 1  # committed, answer lost
    v2_sim.faults.clear()
    [again] = write(v2_connector(v2_sim), order())
    assert again.ok and again.target_id in v2_sim.shipments and len(v2_sim.shipments) == 1


def test_booked_shipments_are_looked_up_read_only_by_their_key_and_a_cancelled_one_is_gone(v2_sim, v2_connector):
    """``find_booked`` (report, resync): one ``GET /v2/shipments/external_shipment_id/{id}`` per order, nothing
    written; a cancelled shipment and one never written are gone. The write path's ``find_orders`` stays empty."""
    there, cancelled, never = (order(source_id=f"Invoice-{n}", number=str(n)) for n in (1, 2, 3))
    long_key = order(source_id="Invoice-" + "9" * 60, number="4")  # its external_shipment_id is hashed
    connector = v2_connector(v2_sim)
    results = write(connector, there, cancelled, long_key)
    assert all(r.ok for r in results)
    ids = {r.key: r.target_id for r in results}
    v2_sim.shipments[ids[cancelled.key]]["shipment_status"] = "cancelled"  # cancelled in ShipStation by hand
    writes = [OrderWrite(order=o, idempotency_key=o.key) for o in (there, cancelled, never, long_key)]
    before, calls = v2_sim.write_calls, v2_sim.total_calls
    found = v2_connector(v2_sim).find_booked(writes)
    assert {k: f.target_id for k, f in found.items()} == {there.key: ids[there.key], long_key.key: ids[long_key.key]}
    assert found[there.key].target_number == "1"
    assert v2_sim.write_calls == before and v2_sim.total_calls - calls == 4
    assert connector.find_orders(writes) == {}


def test_a_refused_order_is_reported_with_the_reason(v2_sim, v2_connector):
    bad = order(source_id="Invoice-8", number="1008", ship_to=Address(name="No Street"), bill_to=Address())
    results = {r.key: r for r in write(v2_connector(v2_sim), order(), bad)}
    assert results["quickbooks:Invoice-7"].ok
    refused = results["quickbooks:Invoice-8"]
    assert not refused.ok and "address_line1" in refused.error and "1008" in refused.error


def test_tracking_source_reads_live_labels_and_fulfillments_with_their_origin(v2_sim, v2_connector):
    connector = v2_connector(v2_sim)
    [a] = write(connector, order())
    [b] = write(connector, order(source_id="Invoice-9", number="1009"))
    v2_sim.buy_label(a.target_id, tracking_number="LBL-1", cost="6.10", insurance="1.00")
    v2_sim.fulfill(b.target_id, "FUL-1", "fedex")
    found = {s.tracking_number: s for s in connector.fetch_shipments(FetchQuery())}
    assert found["LBL-1"].origin == "quickbooks:Invoice-7" and found["LBL-1"].cost == Decimal("7.10")
    assert found["FUL-1"].origin == "quickbooks:Invoice-9" and found["FUL-1"].carrier == "fedex"


def signed(sim, payload: dict, *, stamp: str | None = None, tamper: bool = False):
    body = json.dumps(payload).encode()
    stamp = stamp or sim.clock.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {"x-shipengine-rsa-sha256-key-id": sim.key_id, "x-shipengine-timestamp": stamp,
               "x-shipengine-rsa-sha256-signature": sim.sign(body, stamp)}
    return headers, (body.replace(b"LABEL", b"label") if tamper else body)


def test_webhooks_are_verified_as_v2_signs_them(v2_sim_realtime, v2_connector):
    v2_sim = v2_sim_realtime
    connector = v2_connector(v2_sim)
    [a] = write(connector, order())
    v2_sim.buy_label(a.target_id, tracking_number="WH-1")
    payload = {"resource_url": f"{v2_sim.base_url}/v2/labels?shipment_id={a.target_id}",
               "resource_type": "LABEL_CREATED_V2"}
    headers, body = signed(v2_sim, payload)
    event = connector.handle_webhook(headers, body, None)
    assert [s.tracking_number for s in event.shipments] == ["WH-1"]
    with pytest.raises(WebhookRejected, match="signature"):
        connector.handle_webhook(*signed(v2_sim, payload, tamper=True), None)
    old = (v2_sim.clock.utcnow() - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(WebhookRejected, match="5 minutes"):
        connector.handle_webhook(*signed(v2_sim, payload, stamp=old), None)
    with pytest.raises(WebhookRejected, match="signed"):
        connector.handle_webhook({}, body, None)
    forged = dict(payload, resource_url="https://evil.example/v2/labels")
    with pytest.raises(WebhookRejected, match="not on a ShipStation host"):
        connector.handle_webhook(*signed(v2_sim, forged), None)


def test_the_simulator_delivers_signed_webhooks(v2_sim_realtime, v2_connector):
    """The simulator POSTs label_created_v2 to a subscribed loopback URL; the connector accepts it."""
    v2_sim = v2_sim_realtime
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connector = v2_connector(v2_sim)
        connector.client.request("POST", "/environment/webhooks",
                                 body={"event": "label_created_v2", "url": f"http://127.0.0.1:{server.server_port}/h"})
        [a] = write(connector, order())
        v2_sim.buy_label(a.target_id, tracking_number="PUSH-1")
        assert v2_sim.deliver_webhooks() == 1
    finally:
        server.shutdown()
    headers, body = received[0]
    event = connector.handle_webhook(headers, body, None)
    assert [s.tracking_number for s in event.shipments] == ["PUSH-1"]


def test_labels_are_read_alongside_one_call_per_page_of_labels(v2_sim, v2_connector):
    import math

    start = v2_sim.clock.utcnow() - timedelta(days=6)
    v2_sim.seed_shipments(400, start=start)
    labelled = {lb["shipment_id"]: lb for lb in v2_sim.labels}
    for query in (FetchQuery(modified_since=start - timedelta(days=1)), FetchQuery(since=start - timedelta(days=1))):
        v2_sim.calls.clear()
        orders = list(v2_connector(v2_sim).fetch_orders(query))
        assert len(orders) == 400
        for o in orders:
            label = labelled.get(f"se-{o.source_id}")
            assert (o.shipment.tracking_number if o.shipment else None) == (label["tracking_number"] if label else None)
        assert v2_sim.calls["GET /v2/labels"] <= math.ceil(len(labelled) / 100) + 1, dict(v2_sim.calls)

    # An old label on a shipment modified since (a tag, a note): still found, with one call of its own.
    first = min(labelled, key=lambda sid: v2_sim.shipments[sid]["created_at"])
    v2_sim.clock.advance(3600)
    v2_sim.warehouse_edit(first, notes_from_buyer="gift wrap")
    since = v2_sim.clock.utcnow() - timedelta(minutes=5)
    v2_sim.buy_label(v2_sim.seed_shipments(1, start=since)[0]["shipment_id"], tracking_number="NEW-1")
    orders = {o.source_id: o for o in v2_connector(v2_sim).fetch_orders(FetchQuery(modified_since=since))}
    assert orders[first[3:]].shipment.tracking_number == labelled[first]["tracking_number"]
    assert any(o.shipment and o.shipment.tracking_number == "NEW-1" for o in orders.values())
