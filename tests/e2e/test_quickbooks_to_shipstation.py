"""QuickBooks -> ShipStation and tracking back onto the QuickBooks documents (DESIGN flow 5)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tests.e2e.helpers import doc_counts, money


def orders_by_key(sim) -> dict[str, dict]:
    return {o["orderKey"]: o for o in sim.orders.values()}


def entity_of(doc: dict) -> str:
    """The seed alternates sales receipts and invoices; only an invoice has a due date."""
    return "Invoice" if "DueDate" in doc else "SalesReceipt"


def document_of(qb, order_key: str) -> dict:
    """The QuickBooks document an order came from, by its orderKey ``connex:quickbooks:Invoice-12``."""
    entity, ident = order_key.removeprefix("connex:quickbooks:").split("-")
    return qb.get(entity, ident)


def test_documents_become_orders_unpaid_ones_awaiting_payment_and_tracking_comes_back(sandbox):
    qb, ss = sandbox.quickbooks, sandbox.shipstation
    docs = qb.seed_documents(6, unpaid_every=2, class_every=0)
    sandbox.write()

    created = sandbox.run("quickbooks-to-shipstation")

    assert created.counts["created"] == 6
    orders = orders_by_key(ss)
    for doc in docs:
        entity = entity_of(doc)
        current = qb.get(entity, doc["Id"])
        order = orders[f"connex:quickbooks:{entity}-{doc['Id']}"]
        assert order["orderNumber"] == doc["DocNumber"] and order["orderDate"][:10] == doc["TxnDate"]
        assert money(order["orderTotal"]) == money(current["TotalAmt"])
        unpaid = entity == "Invoice" and money(current["Balance"]) > 0
        assert order["orderStatus"] == ("awaiting_payment" if unpaid else "awaiting_shipment"), doc["DocNumber"]
    statuses = {o["orderStatus"] for o in orders.values()}
    assert statuses == {"awaiting_payment", "awaiting_shipment"}, "the seed should hold paid and unpaid documents"

    # The warehouse ships them: one by hand with known facts, the rest as the simulated warehouse does.
    first = orders[f"connex:quickbooks:{entity_of(docs[1])}-{docs[1]['Id']}"]
    ss.ship_order(first["orderId"], "fedex", "7712345678", date(2026, 9, 19), Decimal("9.15"))
    ss.simulate_activity()
    tracked = sandbox.run("tracking-to-quickbooks")

    assert tracked.counts["updated"] == 6
    shipments = {s["orderKey"]: s for s in ss.shipments}
    assert len(shipments) == 6
    for key, shipment in shipments.items():
        current = document_of(qb, key)
        assert current["TrackingNum"] == shipment["trackingNumber"] and current["ShipDate"] == shipment["shipDate"]
    shipped_by_hand = document_of(qb, first["orderKey"])
    assert (shipped_by_hand["TrackingNum"], shipped_by_hand["ShipDate"]) == ("7712345678", "2026-09-19")

    # Nothing twice: the orders, now shipped in ShipStation, are not posted back to QuickBooks either.
    counts = doc_counts(sandbox)
    assert sandbox.run("quickbooks-to-shipstation").counts.get("created", 0) == 0
    assert sandbox.run("tracking-to-quickbooks").counts.get("updated", 0) == 0
    echo = sandbox.run("shipstation-to-quickbooks")
    assert echo.counts.get("created", 0) == 0 and echo.counts["skipped"] == 6
    assert doc_counts(sandbox) == counts


def test_an_invoice_paid_after_it_went_out_moves_its_order_to_awaiting_shipment(sandbox):
    qb, ss = sandbox.quickbooks, sandbox.shipstation
    docs = qb.seed_documents(6, unpaid_every=2, class_every=0)
    sandbox.write()
    sandbox.run("quickbooks-to-shipstation")
    [waiting] = [o for o in ss.orders.values() if o["orderStatus"] == "awaiting_payment"]
    invoice = document_of(qb, waiting["orderKey"])
    assert money(invoice["Balance"]) > 0
    orders = len(ss.orders)

    sandbox.clock.advance(600)  # ten minutes later the customer pays
    qb.pay(invoice["Id"])
    again = sandbox.run("quickbooks-to-shipstation")

    assert again.counts["updated"] == 1 and again.counts["already_synced"] == len(docs) - 1
    assert ss.orders[waiting["orderId"]]["orderStatus"] == "awaiting_shipment"
    assert money(ss.orders[waiting["orderId"]]["amountPaid"]) == money(invoice["TotalAmt"])
    assert len(ss.orders) == orders, "the paid invoice became a second order"
    [entry] = sandbox.log(task="quickbooks-to-shipstation", outcome="updated")
    assert entry.order_number == invoice["DocNumber"] and entry.target_id == str(waiting["orderId"])
    assert sandbox.run("quickbooks-to-shipstation").counts.get("updated", 0) == 0
