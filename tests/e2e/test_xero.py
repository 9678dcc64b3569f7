"""Xero -> ShipStation (flag rule, POBOX/STREET addresses), tracking and shipping cost back onto the
Xero invoice (DESIGN flows 6-7), and ShipStation orders -> Xero invoices (flow 8)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from connex_core.sandbox.runner import standard_tasks
from tests.e2e.helpers import POBOX, STREET, add_invoice, doc_counts, money, pacific, ss_order, task_table


def with_notes():
    """The standard flows, the tracking write-back in its note mode (the default is "when_not_editable")."""
    return [task_table(name, **({"target_options": {"tracking_note": "always"}} if name == "tracking-to-xero" else {}))
            for name in dict(standard_tasks())]

def test_flagged_invoices_ship_with_pobox_billing_street_shipping_and_tracking_comes_back(sandbox):
    xero, ss = sandbox.xero, sandbox.shipstation
    with xero.lock:
        contact = xero.books.create_contact({"Name": "Rose City Tea Co", "EmailAddress": "orders@rosecity.test",
                                             "Addresses": [POBOX, STREET]}).record
    flagged = add_invoice(xero, "INV-9001", "ShipStation", contact["ContactID"])
    retail = add_invoice(xero, "INV-9002", "Retail", contact["ContactID"])
    sandbox.write(with_notes())

    out = sandbox.run("xero-to-shipstation")

    assert out.counts["created"] == 1 and out.counts["skipped"] == 1
    [order] = ss.orders.values()
    assert order["orderNumber"] == "INV-9001" and order["orderKey"] == f"connex:xero:{flagged['InvoiceID']}"
    assert order["orderStatus"] == "awaiting_payment" and money(order["orderTotal"]) == Decimal("25.00")
    bill, ship = order["billTo"], order["shipTo"]
    assert (bill["street1"], bill["city"], bill["postalCode"]) == ("PO Box 4417", "Portland", "97208")
    assert (ship["street1"], ship["street2"], ship["postalCode"]) == ("1200 NW Naito Pkwy", "Dock 3", "97209")
    assert bill["name"] == "Accounts Payable" and ship["name"] == "Receiving"
    assert order["orderDate"][:10] == flagged["Date"].isoformat(), "the invoice's day, also in Pacific time"
    [skip] = sandbox.log(task="xero-to-shipstation", outcome="skipped")
    assert skip.order_number == "INV-9002" and skip.reason == "not flagged for ShipStation"
    assert skip.rule == "only invoices flagged for ShipStation" and skip.line == 8
    assert retail["InvoiceID"] not in {o["orderKey"].rsplit(":", 1)[-1] for o in ss.orders.values()}

    ss.ship_order(order["orderId"], "ups", "1Z999AA10123456784", date(2026, 9, 19), Decimal("8.40"))
    tracked = sandbox.run("tracking-to-xero")

    assert tracked.counts["updated"] == 1
    invoice = xero.invoices[flagged["InvoiceID"]]
    notes = [h["Details"] for h in xero.history(flagged["InvoiceID"]) if h["Changes"] == "Note"]
    assert len(notes) == 1 and "1Z999AA10123456784" in notes[0] and "2026-09-19" in notes[0] and "ups" in notes[0]
    [cost_line] = [line for line in invoice["LineItems"] if line["AccountCode"] == "260"]
    assert money(cost_line["LineAmount"]) == Decimal("8.40")
    assert money(invoice["Total"]) == Decimal("33.40")
    assert not [h for h in xero.history(retail["InvoiceID"]) if h["Changes"] == "Note"]

    counts = doc_counts(sandbox)
    assert sandbox.run("xero-to-shipstation").counts.get("created", 0) == 0
    assert sandbox.run("tracking-to-xero").counts.get("updated", 0) == 0
    assert doc_counts(sandbox) == counts


def test_shipstation_orders_become_xero_invoices_once(sandbox):
    ss, xero = sandbox.shipstation, sandbox.xero
    ss.add_order(ss_order("3101", pacific(2026, 9, 17), items=[("TEE-L", "T-shirt, large", 2, "22.00")],
                          email="zoe@shop.test"))
    ss.add_order(ss_order("3102", pacific(2026, 9, 18), paid=False, shipping="0.00"))
    sandbox.write()

    out = sandbox.run("shipstation-to-xero")

    assert out.counts["created"] == 2
    invoices = {i["InvoiceNumber"]: i for i in xero.invoices.values()}
    assert set(invoices) == {"3101", "3102"}
    first = invoices["3101"]
    assert first["Type"] == "ACCREC" and money(first["Total"]) == Decimal("49.00")
    assert xero.contacts[first["ContactID"]]["Name"] == "Buyer 3101"
    assert any(line.get("ItemCode") == "TEE-L" and money(line["Quantity"]) == 2 for line in first["LineItems"])
    assert money(invoices["3102"]["Total"]) == Decimal("25.00")
    entries = {e.order_number: e for e in sandbox.log(task="shipstation-to-xero")}
    assert entries["3101"].target_id == first["InvoiceID"]

    count = len(xero.invoices)
    again = sandbox.run("shipstation-to-xero")
    assert again.counts.get("created", 0) == 0 and len(xero.invoices) == count


def test_both_parts_of_a_split_order_put_their_shipping_cost_on_the_one_xero_invoice(sandbox):
    """The split child is a duplicate of the parent's invoice; each part's shipment still costs money."""
    ss, xero = sandbox.shipstation, sandbox.xero
    parent = ss.add_order(ss_order("3201", pacific(2026, 9, 17), split=True))
    child = ss.add_order(ss_order("3201-1", pacific(2026, 9, 17), parent_id=parent["orderId"], shipping="0.00"))
    sandbox.write(with_notes())
    assert sandbox.run("shipstation-to-xero").counts["duplicate"] == 1
    ss.ship_order(parent["orderId"], "ups", "1ZPARENT01", date(2026, 9, 18), Decimal("5.35"))
    ss.ship_order(child["orderId"], "usps", "9400CHILD01", date(2026, 9, 18), Decimal("4.10"))

    assert sandbox.run("tracking-to-xero").counts["updated"] == 2

    [invoice] = xero.invoices.values()
    costs = sorted(money(line["LineAmount"]) for line in invoice["LineItems"] if line["AccountCode"] == "260"
                   and "Shipping cost" in str(line.get("Description")))
    assert costs == [Decimal("4.10"), Decimal("5.35")], invoice["LineItems"]
    notes = [h["Details"] for h in xero.history(invoice["InvoiceID"]) if h["Changes"] == "Note"]
    assert len(notes) == 2 and any("1ZPARENT01" in n for n in notes) and any("9400CHILD01" in n for n in notes)


def test_a_xero_invoice_paid_after_it_went_out_is_released_for_shipping(sandbox):
    """With PAID among the statuses read (the default is AUTHORISED only), a payment updates the order."""
    xero, ss = sandbox.xero, sandbox.shipstation
    with xero.lock:
        contact = xero.books.create_contact({"Name": "Paid Later Ltd", "Addresses": [POBOX, STREET]}).record
    invoice = add_invoice(xero, "INV-9101", "ShipStation", contact["ContactID"])
    sandbox.write([task_table("xero-to-shipstation", source_options={"statuses": ["AUTHORISED", "PAID"]})])
    sandbox.run("xero-to-shipstation")
    [order] = ss.orders.values()
    assert order["orderStatus"] == "awaiting_payment"

    sandbox.clock.advance(600)
    xero.pay(invoice["InvoiceID"])
    assert sandbox.run("xero-to-shipstation").counts["updated"] == 1
    assert [o["orderStatus"] for o in ss.orders.values()] == ["awaiting_shipment"]


def test_record_payments_books_what_each_order_paid(sandbox):
    """ShipStation -> Xero with ``record_payments = true`` in the task (issue 14): the books, not counts."""
    ss, xero = sandbox.shipstation, sandbox.xero
    ss.add_order(ss_order("3301", pacific(2026, 9, 17), paid=True, shipping="0.00"))
    ss.add_order(ss_order("3302", pacific(2026, 9, 17), paid=False, shipping="0.00"))
    ss.add_order(ss_order("3303", pacific(2026, 9, 17), amount_paid=Decimal("5.00"), shipping="0.00"))
    sandbox.write(tasks=[task_table("shipstation-to-xero", target_options={"record_payments": True})])

    out = sandbox.run("shipstation-to-xero")

    assert out.counts["created"] == 3
    books = {i["InvoiceNumber"]: (i["Status"], money(i["Total"]), money(i["AmountDue"]), [money(p["Amount"]) for p in i["Payments"]])
             for i in xero.invoices.values()}
    total = books["3301"][1]
    assert books["3301"] == ("PAID", total, Decimal("0"), [total])
    assert books["3302"] == ("AUTHORISED", total, total, [])
    assert books["3303"] == ("AUTHORISED", total, total - Decimal("5.00"), [Decimal("5.00")])
    assert len(xero.books.payments) == 2
    assert sandbox.run("shipstation-to-xero").counts.get("created", 0) == 0 and len(xero.books.payments) == 2
