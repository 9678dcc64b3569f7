"""ShipStation webhooks as `connex serve` receives them, and the sandbox hooks the demo drives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from connex_core.connector import ConnectorContext, FetchQuery
from connex_core.errors import WebhookRejected
from connex_core.models import OrderStatus
from connex_core.sandbox import SandboxServer, SimClock
from connex_shipstation.connector import ShipStationConnector, ShipStationSettings
from connex_shipstation.sim.simulator import ShipStationSimulator


@pytest.fixture
def sim():
    service = ShipStationSimulator(clock=SimClock(speed=1000), seed=3)
    with SandboxServer([service]):
        yield service


def connector(sim, tmp_path, secret="hook-secret-1"):
    settings = ShipStationSettings(api_key=sim.api_key, api_secret=sim.api_secret, base_url=sim.base_url,
                                   webhook_secret=secret)
    return ShipStationConnector(settings, ConnectorContext("ss", Path(tmp_path), options={"clock": sim.clock}))


def test_order_notify_is_verified_and_its_resource_fetched(sim, tmp_path):
    earlier = sim.seed_orders(3)  # in the account before the subscription: not part of the notified batch
    answer = requests.post(f"{sim.base_url}/webhooks/subscribe", auth=(sim.api_key, sim.api_secret), timeout=5,
                           json={"target_url": "http://127.0.0.1:9/hook", "event": "ORDER_NOTIFY", "store_id": None})
    assert answer.status_code == 201, answer.text
    seeded = sim.seed_orders(4)
    assert sim.outbox, "the import queued an ORDER_NOTIFY"
    _, payload = sim.outbox[0]  # one notification per store; its resource URL lists that store's import batch
    store = int(payload["resource_url"].split("storeID=")[1].split("&")[0])
    in_batch = {o["orderNumber"] for o in seeded if o["advancedOptions"]["storeId"] == store}
    assert in_batch and not in_batch & {o["orderNumber"] for o in earlier}
    body = json.dumps(payload).encode()
    event = connector(sim, tmp_path).handle_webhook({}, body, "hook-secret-1")
    assert event.kind == "ORDER_NOTIFY"
    assert event.orders is not None and {o.number for o in event.orders} == in_batch
    assert sim.calls["GET /orders"] >= 1


def test_a_wrong_or_missing_secret_is_refused(sim, tmp_path):
    body = json.dumps({"resource_url": f"{sim.base_url}/orders", "resource_type": "ORDER_NOTIFY"}).encode()
    with pytest.raises(WebhookRejected, match="secret in the webhook URL is wrong"):
        connector(sim, tmp_path).handle_webhook({}, body, "guess")
    with pytest.raises(WebhookRejected, match="has no webhook_secret"):
        connector(sim, tmp_path, secret=None).handle_webhook({}, body, "anything")
    assert sim.calls["GET /orders"] == 0


def test_a_resource_url_off_shipstation_is_asked_of_the_configured_host_only(sim, tmp_path):
    """Whatever host a (secret-bearing, so trusted-looking) webhook names, the credentials go to the configured
    base URL: the simulator answers ``https://evil.example/orders``, and a URL whose host parsers disagree on is
    refused before any call."""
    sim.seed_orders(2)
    body = json.dumps({"resource_url": "https://evil.example/orders", "resource_type": "ORDER_NOTIFY"}).encode()
    event = connector(sim, tmp_path).handle_webhook({}, body, "hook-secret-1")
    assert sim.calls["GET /orders"] == 1 and event.orders
    bypass = json.dumps({"resource_url": "https://127.0.0.2:8443\\@ssapi.shipstation.com/orders",
                         "resource_type": "ORDER_NOTIFY"}).encode()
    with pytest.raises(WebhookRejected, match="not followed"):
        connector(sim, tmp_path).handle_webhook({}, bypass, "hook-secret-1")
    assert sim.calls["GET /orders"] == 1


def test_webhook_orders_still_pass_the_task_filters(sim, tmp_path):
    c = connector(sim, tmp_path)
    orders = list(c.fetch_orders(FetchQuery()))
    shipped = FetchQuery(options={"status": "shipped"})
    assert [o.status == OrderStatus.shipped for o in orders] == [c.accepts(o, shipped) for o in orders]


def test_seed_and_simulated_shipping(sim):
    assert sim.seed(6) == 6
    sim.add_order({"orderNumber": "QB-1", "orderKey": "connex:quickbooks:Invoice-1", "orderDate": "2026-09-15T10:00:00",
                   "orderStatus": "awaiting_shipment", "billTo": {"name": "A"}, "shipTo": {"name": "A"}, "items": []})
    activity = sim.simulate_activity()
    assert activity == {"orders shipped": 1}
    [qb] = [o for o in sim.orders.values() if o["orderNumber"] == "QB-1"]
    assert qb["orderStatus"] == "shipped"
    assert any(s["orderNumber"] == "QB-1" and s["trackingNumber"] for s in sim.shipments)
