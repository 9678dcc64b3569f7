"""What the ShipStation connector remembers between calls, and the calls it saves, against the simulator.

Pins commits 6c35fa1 and 6774ae7 (the duplicate look-up splits a too-broad ``orderNumber`` prefix,
remembers for 10 minutes on the connector's clock the prefixes it listed in full plus the orders
written since, and looks an order up again when ShipStation refuses a write answered from that
memory), ad8d233 (a page's shipments are listed for its create-to-modify window), d7c8140
(shipment facts reused for unchanged orders, the last 5,000) and 3ad89dc (a page of fulfillments
takes its orderKeys from one listing of shipped orders, not one ``GET /orders/{id}`` each).
"""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

import pytest

from connex_core.connector import FetchQuery, OrderWrite
from connex_core.sandbox import Fault, SimClock
from connex_shipstation import connector as ss_connector
from connex_shipstation.sim.simulator import ShipStationSimulator

LIST = "GET /orders"
READ = "GET /orders/{order_id}"


class Recording(ShipStationSimulator):
    """The simulator, also keeping the query of every listing (``GET /orders``, ``/shipments``, ``/fulfillments``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.queries: list[tuple[str, dict[str, str]]] = []

    def handle(self, request):
        if request.method == "GET" and request.path.rstrip("/") in ("/orders", "/shipments", "/fulfillments"):
            self.queries.append((request.path.rstrip("/"), {k: request.arg(k) for k in (
                "orderNumber", "orderStatus", "createDateStart", "createDateEnd", "shipDateStart", "page")
                if request.arg(k) is not None}))
        return super().handle(request)

    def asked(self, path: str, field: str) -> list[str]:
        return [q[field] for p, q in self.queries if p == path and field in q]


@pytest.fixture
def sim_clock() -> SimClock:
    """20 times real time: a test's own run (well under a second) stays far inside the 10-minute memory,
    which passes only through ``clock.advance``; few enough calls that the 40-a-minute limit never waits."""
    return SimClock(speed=20.0)


@pytest.fixture
def sim(sim_clock, sandbox_server) -> Recording:
    simulator = Recording(clock=sim_clock, seed=7)
    sandbox_server.services["shipstation"] = simulator
    simulator.base_url = sandbox_server.url("shipstation")
    return simulator


def invoices(canonical_order, numbers, **extra):
    return [OrderWrite(order=canonical_order(source="quickbooks", source_id=f"Invoice-{n}", number=n, **extra),
                       idempotency_key=f"idem-{n}") for n in numbers]


def numbered(start: int, stop: int) -> list[str]:
    return [f"INV-{n:04d}" for n in range(start, stop)]


def test_the_limits_are_ten_minutes_and_five_thousand_orders():
    assert ss_connector.LISTING_TTL == 600.0 and ss_connector.SHIPMENT_MEMORY == 5000


# -- the duplicate look-up's memory ---------------------------------------------------------------
def test_300_orders_with_a_shared_prefix_take_one_look_up(sim, connector_for, canonical_order):
    sim.seed_orders(20)  # other orders, numbered by the generator
    connector = connector_for(sim)
    writes = invoices(canonical_order, numbered(1, 301))
    for start in (0, 100, 200):
        assert all(r.ok and not r.duplicate for r in connector.write_orders(writes[start:start + 100]))
    assert sim.calls[LIST] == 1 and sim.asked("/orders", "orderNumber") == ["INV-0"]
    assert sim.calls["POST /orders/createorders"] == 3
    # a rerun within the 10 minutes is answered from memory too, and updates: no second order for any number
    again = connector.write_orders(writes[:100])
    assert all(r.ok for r in again) and sim.calls[LIST] == 1
    assert len([o for o in sim.orders.values() if o["orderKey"].startswith("connex:")]) == 300


def test_random_numbers_cost_a_few_look_ups_not_one_per_order(sim, connector_for, canonical_order):
    rng = random.Random(3)
    numbers = sorted({str(rng.randrange(10**5, 10**6)) for _ in range(300)})
    connector = connector_for(sim)
    writes = invoices(canonical_order, numbers)
    rng.shuffle(writes)
    for start in range(0, len(writes), 100):
        assert all(r.ok and not r.duplicate for r in connector.write_orders(writes[start:start + 100]))
    # the first batch lists each leading digit's orders (<= 10 calls); the batches after it cost nothing
    assert sim.calls[LIST] <= 10
    assert len(sim.orders) == len(numbers)


def test_the_memory_expires_after_ten_simulated_minutes(sim, connector_for, canonical_order, sim_clock):
    connector = connector_for(sim)
    writes = invoices(canonical_order, numbered(1, 31))
    connector.write_orders(writes[:10])
    assert sim.calls[LIST] == 1
    sim_clock.advance(540)
    connector.write_orders(writes[10:20])
    assert sim.calls[LIST] == 1, "nine minutes on: answered from memory"
    sim_clock.advance(61)
    results = connector.write_orders(writes[20:] + writes[:10])
    assert sim.calls[LIST] == 2, "past ten minutes: ShipStation is asked again"
    assert all(r.ok for r in results) and len(sim.orders) == 30


def test_a_write_answered_from_stale_memory_is_looked_up_again_and_never_downgrades(sim, connector_for,
                                                                                    canonical_order):
    connector = connector_for(sim)
    writes = invoices(canonical_order, ["2001", "2002"])
    first = connector.write_orders(writes)
    shipped_id = int(first[0].target_id)
    sim.ship_order(shipped_id, "usps", "9400STALE", date(2026, 9, 16))  # the warehouse ships it meanwhile
    lists, creates, reads = sim.calls[LIST], sim.calls["POST /orders/createorders"], sim.calls[READ]

    again = connector.write_orders(writes)
    # An update needs the whole order (createorders replaces it), so each remembered order is read before it is
    # sent: the read shows the shipment, and only the open order goes out.
    assert sim.calls[READ] - reads == 2, "each remembered order is read whole before an update"
    assert sim.calls["POST /orders/createorders"] - creates == 1
    assert sim.calls[LIST] - lists == 0, "the reads answered: no listing needed"
    assert again[0].ok and again[0].duplicate and "shipped" in again[0].note
    assert again[0].target_id == str(shipped_id)
    assert again[1].ok and not again[1].duplicate
    assert sim.orders[shipped_id]["orderStatus"] == "shipped"
    assert len(sim.orders) == 2


def test_a_too_broad_prefix_is_split_and_not_asked_for_again(sim, connector_for, canonical_order):
    for n in range(30):  # 30 orders under "A-1": six pages of five
        sim.add_order({"orderNumber": f"A-1{n:02d}", "orderKey": f"shop-{n}", "orderDate": "2026-09-15T08:00:00.0000000",
                       "orderStatus": "awaiting_shipment", "billTo": {"name": "Kim"}, "shipTo": {"name": "Kim"},
                       "items": [{"sku": "MUG", "name": "Mug", "quantity": 1, "unitPrice": 5}]})
    connector = connector_for(sim, page_size=5)
    first = connector.write_orders(invoices(canonical_order, ["A-150", "A-260"]))
    assert all(r.ok and not r.duplicate for r in first)
    # "A-" would take six pages, more than the two calls of a split: one page read to learn that, then split
    assert sim.asked("/orders", "orderNumber") == ["A-", "A-150", "A-260"]
    del sim.queries[:]
    second = connector.write_orders(invoices(canonical_order, ["A-151", "A-261"]))
    assert all(r.ok and not r.duplicate for r in second)
    assert sim.asked("/orders", "orderNumber") == ["A-151", "A-261"], "the broad prefix was remembered"
    assert len(sim.orders) == 34


# -- shipment facts of fetched orders -------------------------------------------------------------
def test_shipments_are_listed_for_the_pages_window_and_reused_for_unchanged_orders(sim, connector_for):
    seeded = sim.seed_orders(40)
    shipped = [o for o in seeded if o["orderStatus"] == "shipped"]
    connector = connector_for(sim)
    query = FetchQuery(options={"status": "shipped"})
    first = {o.source_id: o.shipment.tracking_number for o in connector.fetch_orders(query)}
    assert len(first) == len(shipped) > 2 and all(first.values())
    window = [q for p, q in sim.queries if p == "/shipments"]
    assert window and all("createDateStart" in q and "createDateEnd" in q for q in window)
    listed = sim.calls["GET /shipments"] + sim.calls["GET /fulfillments"]

    second = {o.source_id: o.shipment.tracking_number for o in connector.fetch_orders(query)}
    assert second == first
    assert sim.calls["GET /shipments"] + sim.calls["GET /fulfillments"] == listed, "unchanged orders: no listing"

    changed = shipped[0]
    sim.ship_order(changed["orderId"], "ups", "1ZNEWER", date(2026, 9, 20), Decimal("6"))  # modifies the order
    third = {o.source_id: o.shipment.tracking_number for o in connector.fetch_orders(query)}
    assert sim.calls["GET /shipments"] + sim.calls["GET /fulfillments"] > listed, "a modified order is listed again"
    assert {k: v for k, v in third.items() if k != str(changed["orderId"])} == \
        {k: v for k, v in first.items() if k != str(changed["orderId"])}


def test_the_shipment_memory_is_bounded(sim, connector_for, monkeypatch):
    monkeypatch.setattr(ss_connector, "SHIPMENT_MEMORY", 3)
    sim.seed_orders(40)
    connector = connector_for(sim)
    orders = list(connector.fetch_orders(FetchQuery(options={"status": "shipped"})))
    assert len(orders) > 3 and len(connector._shipped) == 3


def test_fulfillments_take_their_order_keys_from_one_listing(sim, connector_for, canonical_order):
    connector = connector_for(sim)
    written = connector.write_orders(invoices(canonical_order, numbered(1, 13)))
    for n, result in enumerate(written):
        sim.ship_order(int(result.target_id), "usps", f"9400{n:04d}", date(2026, 9, 16), label=False)
    gets = sim.calls["GET /orders/{order_id}"]
    lists = sim.calls[LIST]
    shipments = list(connector.fetch_shipments(FetchQuery()))
    assert sorted(s.order_key for s in shipments) == sorted(f"connex:quickbooks:Invoice-INV-{n:04d}"
                                                            for n in range(1, 13))
    assert all(s.origin and s.origin.startswith("quickbooks:Invoice-") for s in shipments)
    assert sim.calls["GET /orders/{order_id}"] == gets, "no order read one by one"
    assert sim.calls[LIST] - lists == 1
    assert sim.asked("/orders", "orderStatus")[-1] == "shipped"


def test_a_write_whose_answer_was_lost_is_looked_up_again_not_answered_from_memory(sim, connector_for,
                                                                                   canonical_order):
    connector = connector_for(sim)
    connector.client.retry.max_tries = 1
    writes = invoices(canonical_order, numbered(1, 11))
    assert all(r.ok for r in connector.write_orders(writes[:5]))  # "INV-00" is now listed and remembered
    sim.faults.add(Fault(kind="lost_response", path="createorders", times=1))
    lost = connector.write_orders(writes[5:])
    assert all(not r.ok and r.retriable for r in lost) and len(sim.orders) == 10, "committed, answer lost"
    lists = sim.calls[LIST]
    again = connector.write_orders(writes[5:])
    assert sim.calls[LIST] - lists == 1, "the memory was dropped with the lost answer"
    assert all(r.ok for r in again) and len(sim.orders) == 10
