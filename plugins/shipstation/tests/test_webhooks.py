"""Webhooks: subscribe, be notified by the simulator, follow the resource_url back with the client."""

from __future__ import annotations

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Iterator

import pytest

from connex_core.errors import FatalAPIError, WebhookRejected
from connex_shipstation.client import ShipStationClient


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:
    """A loopback endpoint that records the webhook bodies POSTed to it."""
    handler = type("Receiver", (_Receiver,), {"received": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/shipstation?secret=abc", handler.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(simulator) -> ShipStationClient:
    return ShipStationClient(simulator.api_key, simulator.api_secret, base_url=simulator.base_url,
                             clock=simulator.clock, timeout=5)


def _order(number: str, store: int) -> dict:
    return {"orderNumber": number, "orderKey": f"k-{number}", "orderDate": "2026-09-15T10:00:00.0000000",
            "orderStatus": "awaiting_shipment", "billTo": {"name": "Chloé Lefèvre"}, "shipTo": {"name": "Chloé Lefèvre"},
            "items": [{"sku": "NB-A5", "quantity": 1, "unitPrice": 9.99}], "advancedOptions": {"storeId": store}}


def test_order_notify_points_at_the_new_orders_of_each_store(simulator, client, receiver):
    url, received = receiver
    simulator.seed_orders(5)  # before the subscription: never notified
    client.subscribe_webhook(url, "ORDER_NOTIFY")
    client.create_orders([_order("W-1", 101), _order("W-2", 202), _order("W-3", 101)])
    client.create_orders([_order("W-1", 101)])  # an update, not an import: no notification
    assert simulator.deliver_webhooks() == 2
    assert {body["resource_type"] for body in received} == {"ORDER_NOTIFY"}
    batches = [client.get_resource(body["resource_url"]) for body in received]
    assert sorted(sorted(o["orderNumber"] for o in batch["orders"]) for batch in batches) == \
        [["W-1", "W-3"], ["W-2"]]
    assert simulator.outbox == []


def test_ship_notify_points_at_the_new_label(simulator, client, receiver):
    url, received = receiver
    order = client.create_order(_order("S-1", 303))
    client.subscribe_webhook(url, "SHIP_NOTIFY", store_id=303)
    simulator.ship_order(order["orderId"], "ups", "1ZHOOK", date(2026, 9, 16))
    assert simulator.deliver_webhooks() == 1
    [body] = received
    assert body["resource_url"].endswith("includeShipmentItems=False")
    shipments = client.get_resource(body["resource_url"].replace("False", "True"))["shipments"]
    assert [(s["trackingNumber"], s["shipmentItems"][0]["sku"]) for s in shipments] == [("1ZHOOK", "NB-A5")]


def test_a_resource_url_never_sends_the_credentials_to_the_host_it_names(client, simulator):
    """Only the path and query are taken; the configured base URL is asked (issue 15.2: a URL whose host
    parsers disagree on, ``https://127.0.0.2:8443\\@ssapi.shipstation.com/orders``, sent the key elsewhere)."""
    client.create_orders([_order("R-1", 101)])
    before = simulator.total_calls
    batch = client.get_resource("https://attacker.example/orders?orderNumber=R-1")
    assert [o["orderNumber"] for o in batch["orders"]] == ["R-1"]  # answered by the configured host (the simulator)
    assert simulator.total_calls == before + 1
    for bad in ("https://127.0.0.2:8443\\@ssapi.shipstation.com/orders", "https://ssapi.shipstation.com/accounts/listtags",
                "https://x@ssapi.shipstation.com/orders", 12345, None, "https://ssapi.shipstation.com/"):
        with pytest.raises(WebhookRejected):
            client.get_resource(bad)
    assert simulator.total_calls == before + 1
