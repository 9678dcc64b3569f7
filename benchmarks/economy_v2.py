"""Target 1, API economy, for ShipStation's API v2: calls made / the lower bound, per flow (see economy.py).

v2's own limits set the bound: shipments, labels and fulfillments are listed ``V2_PAGE`` a page (100: the
page size Connex asks for; v2's documented default is 25 and its maximum is not documented), shipments
are created ``V2_BATCH`` a call (100: Connex's own cap; the maximum is not documented). Looking a
shipment up by ``external_shipment_id`` takes one call per shipment, but an integration need not: v2
refuses a duplicate, so the bound counts no look-ups (nor does Connex make any for new orders). Once per
run for writes: the account's default warehouse (one call).
"""

from __future__ import annotations

import random
from typing import Callable

from economy import QB_BATCH, SPEED, SPEED_REMEMBERING, XERO_BATCH, XERO_IDS, XERO_PAGE, _ratio_line
from harness import Bench, BenchClock, api_calls, calls_by_route, ceil_div, rule_path

V2_PAGE, V2_BATCH = 100, 100

SS2_TO_QB = ("shipstation-v2-to-quickbooks", {
    "source": "shipstation", "target": "quickbooks", "kind": "orders",
    "rules": [rule_path("shipstation-to-quickbooks.rules"), rule_path("only-orders-from-shipstation.rules")],
    "target_options": {"document": "invoice", "customer_match": "email", "create_customers": True,
                       "unknown_items": "create_non_inventory"}})
XERO_TO_SS2 = ("xero-to-shipstation-v2", {"source": "xero", "target": "shipstation", "kind": "orders",
                                          "rules": [rule_path("xero-to-shipstation.rules")]})
TRACKING_TO_XERO2 = ("tracking-v2-to-xero", {"source": "shipstation", "target": "xero", "kind": "tracking",
                                             "target_options": {"tracking_note": "when_not_editable"}})


def seed_v2(sim, n: int, *, customers: int, skus: int, seed: int = 1) -> None:
    """``n`` generated v2 shipments (about half labelled), ``customers`` people and ``skus`` SKUs among them."""
    sim.seed_shipments(n)
    rng = random.Random(seed)
    for shipment in sim.shipments.values():
        k = rng.randrange(customers)
        shipment["ship_to"].update(name=f"Customer {k:05d}", email=f"customer{k:05d}@shop.test")
        for item in shipment["items"]:
            if item["unit_price"] >= 0:
                s = rng.randrange(skus)
                item["sku"], item["name"] = f"SKU-{s:04d}", f"Product {s:04d}"


def shipstation_v2_to_quickbooks(orders: int, say: Callable[[str], None]) -> float:
    from connex_quickbooks.sim.simulator import QuickBooksSimulator
    from connex_shipstation.sim.v2 import ShipStationV2Simulator

    clock = BenchClock(speed=SPEED)
    ss, qb = ShipStationV2Simulator(clock=clock, seed=1), QuickBooksSimulator(clock=clock, seed=1)
    customers, skus = max(1, orders // 5), max(1, orders // 20)
    seed_v2(ss, orders, customers=customers, skus=skus)
    before = {e: len(qb.entities(e)) for e in ("Customer", "Item")}
    with Bench({"shipstation": ss, "quickbooks": qb}, [SS2_TO_QB], clock) as bench:
        summary = bench.run(SS2_TO_QB[0])
    d = summary.as_dict()
    say(f"ShipStation v2 -> QuickBooks: {orders:,} shipments, {customers:,} customers, {skus:,} SKUs: "
        f"read {d['read']:,}, created {d['created']:,}, duplicates {d['duplicate']:,}, failed {d['failed']:,}")
    documents = len(qb.entities("Invoice")) + len(qb.entities("SalesReceipt"))
    parties = sum(len(qb.entities(e)) - n for e, n in before.items())
    to_write = d["created"] + d["duplicate"] + d["failed"]
    bound = {
        "shipment pages": ceil_div(d["read"], V2_PAGE),
        "label pages": ceil_div(len(ss.labels), V2_PAGE),
        "preferences": 1,
        "look-ups": ceil_div(to_write, QB_BATCH),
        "customer+item batches": ceil_div(parties, QB_BATCH),
        "document batches": ceil_div(documents, QB_BATCH),
        "payment batches": ceil_div(len(qb.entities("Payment")), QB_BATCH),
    }
    say(f"  calls: ShipStation v2 {api_calls(ss)} {dict(calls_by_route(ss))}")
    say(f"         QuickBooks {api_calls(qb)} {dict(calls_by_route(qb))}")
    return _ratio_line("ShipStation v2 -> QuickBooks", api_calls(ss) + api_calls(qb), bound, say)


def xero_v2_flows(invoices: int, say: Callable[[str], None]) -> tuple[float, float]:
    """Xero -> ShipStation v2, the warehouse labels three in four and fulfils the fourth, tracking back to Xero."""
    from connex_shipstation.sim.v2 import ShipStationV2Simulator
    from connex_xero.sim.simulator import XeroSimulator

    clock = BenchClock(speed=SPEED_REMEMBERING)
    ss, xero = ShipStationV2Simulator(clock=clock, seed=2), XeroSimulator(clock=clock, seed=2)
    contacts = max(1, invoices // 5)
    xero.day_window.limit = 10**9
    xero.seed_invoices(invoices, flagged=1.0, status="AUTHORISED", contacts=contacts)
    with Bench({"shipstation": ss, "xero": xero}, [XERO_TO_SS2, TRACKING_TO_XERO2], clock) as bench:
        summary = bench.run(XERO_TO_SS2[0])
        d = summary.as_dict()
        say(f"Xero -> ShipStation v2: {invoices:,} invoices, {contacts:,} contacts: read {d['read']:,}, "
            f"created {d['created']:,}, duplicates {d['duplicate']:,}, skipped {d['skipped']:,}, failed {d['failed']:,}")
        bound = {"invoice pages": ceil_div(d["read"], XERO_PAGE), "contacts by id": ceil_div(contacts, XERO_IDS),
                 "warehouse": 1, "create shipments": ceil_div(d["created"], V2_BATCH)}
        say(f"  calls: Xero {api_calls(xero)} {dict(calls_by_route(xero))}")
        say(f"         ShipStation v2 {api_calls(ss)} {dict(calls_by_route(ss))}")
        first = _ratio_line("Xero -> ShipStation v2", api_calls(ss) + api_calls(xero), bound, say)

        bench.reset_counts()
        clock.set_speed(SPEED)
        xero.simulate_activity()
        open_ = [s for s in ss.shipments.values() if s["external_shipment_id"].startswith("connex:")
                 and s["shipment_status"] in ("pending", "on_hold")]
        for i, shipment in enumerate(open_):
            if i % 4 == 3:
                ss.fulfill(shipment["shipment_id"], f"1Z{i:016d}", "ups")
            else:
                ss.buy_label(shipment["shipment_id"], "ups", f"1Z{i:016d}")
        summary = bench.run(TRACKING_TO_XERO2[0])
        d = summary.as_dict()
        editable = sum(1 for i in xero.invoices.values() if i["Status"] == "AUTHORISED" and not i["AmountPaid"])
        say(f"ShipStation v2 -> Xero tracking: {len(open_):,} shipped: read {d['read']:,}, updated {d['updated']:,}, "
            f"failed {d['failed']:,} ({editable:,} invoices still editable)")
        written = d["updated"] + d["failed"]
        bound = {"label pages": ceil_div(len(ss.labels), V2_PAGE),
                 "fulfillment pages": max(1, ceil_div(len(ss.fulfillments), V2_PAGE)),
                 "invoices by id": ceil_div(written, XERO_IDS),
                 "invoice updates": ceil_div(min(editable, written), XERO_BATCH),
                 "history notes (one each)": max(0, written - editable)}
        say(f"  calls: ShipStation v2 {api_calls(ss)} {dict(calls_by_route(ss))}")
        say(f"         Xero {api_calls(xero)} {dict(calls_by_route(xero))}")
        second = _ratio_line("ShipStation v2 -> Xero tracking", api_calls(ss) + api_calls(xero), bound, say)
    return first, second


def run(say: Callable[[str], None], orders: int = 10_000) -> dict[str, float]:
    a = shipstation_v2_to_quickbooks(orders, say)
    b, c = xero_v2_flows(orders, say)
    return {"shipstation-v2-to-quickbooks": a, "xero-to-shipstation-v2": b, "tracking-v2-to-xero": c}
