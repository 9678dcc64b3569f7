"""Voiding in Xero (issue 14, ``on_cancel = "void"``): the simulator's rules (an invoice with a payment cannot be
VOIDED; ``deletePayment`` reopens it) and the connector's ``cancel_orders``, checked in the simulator's books."""

from __future__ import annotations

from decimal import Decimal

from connex_core.connector import OrderWrite

from .test_payments import TOTAL, _orders, _write, books

D = Decimal


def test_the_simulator_refuses_to_void_an_invoice_with_a_payment_until_the_payment_is_deleted(xero, make_xero):
    _write(make_xero(), _orders(), record_payments=True)
    part = next(i for i in xero.invoices.values() if i["InvoiceNumber"] == "PART-1")
    refused = xero.books.update_invoice(part, {"Status": "VOIDED"})
    assert refused.errors and "payment or credit note allocated" in refused.errors[0]

    [payment] = [p for p in xero.books.payments.values() if p["InvoiceID"] == part["InvoiceID"]]
    deleted = xero.books.delete_payment(payment, {"Status": "DELETED"})
    assert deleted.record["Status"] == "DELETED"
    assert books(xero)["PART-1"] == ("AUTHORISED", TOTAL, [])
    assert xero.books.update_invoice(part, {"Status": "VOIDED"}).record["Status"] == "VOIDED"


def test_cancel_orders_credits_paid_and_part_paid_invoices_and_voids_unpaid_ones(xero, make_xero):
    connector = make_xero()
    orders = _orders()
    written = _write(connector, orders, record_payments=True)
    writes = [OrderWrite(order=o, idempotency_key=f"c-{o.number}", target_ref=r.target_id)
              for o, r in zip(orders, written)]

    results = connector.cancel_orders(writes)

    assert all(r.ok for r in results), [r.error for r in results]
    state = books(xero)
    assert state["OPEN-1"][0] == "VOIDED" and state["PAID-1"][0] == state["PART-1"][0] == "PAID"
    assert sorted(p["Status"] for p in xero.books.payments.values()) == ["AUTHORISED", "AUTHORISED"]
    for invoice in (i for i in xero.invoices.values() if i["InvoiceNumber"] != "OPEN-1"):
        assert invoice["AmountDue"] == 0 and invoice["AmountPaid"] + invoice["AmountCredited"] == invoice["Total"]
    assert len(xero.books.credit_notes) == 2
    assert sum(n["Total"] for n in xero.books.credit_notes.values()) == sum(
        i["Total"] for i in xero.invoices.values() if i["InvoiceNumber"] != "OPEN-1")
    again = connector.cancel_orders(writes)  # the idempotency keys replay: nothing credited twice
    assert all(r.ok for r in again) and len(xero.books.credit_notes) == 2


def test_cancel_orders_can_delete_the_payments_and_void_instead(xero, make_xero):
    connector = make_xero()
    orders = _orders()
    written = _write(connector, orders, record_payments=True)
    writes = [OrderWrite(order=o, idempotency_key=f"c-{o.number}", target_ref=r.target_id,
                         options={"cancel_paid": "delete_payments"}) for o, r in zip(orders, written)]

    results = connector.cancel_orders(writes)

    assert all(r.ok for r in results), [r.error for r in results]
    assert {n: (status, paid) for n, (status, _, paid) in books(xero).items()} == {
        n: ("VOIDED", []) for n in ("PAID-1", "OPEN-1", "PART-1")}
    assert all(i["AmountPaid"] == 0 for i in xero.invoices.values())
    assert sorted(p["Status"] for p in xero.books.payments.values()) == ["DELETED", "DELETED"]
    again = connector.cancel_orders(writes)
    assert all(r.ok and "already" in r.note for r in again)
