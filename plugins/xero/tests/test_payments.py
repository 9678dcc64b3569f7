"""Payments in Xero (issue 14): with ``record_payments = true`` an invoice gets a payment of the amount paid
(``PUT /Payments``). Checked in the simulator's books: amounts due, statuses, payments per invoice."""

from __future__ import annotations

from decimal import Decimal

from connex_core.connector import OrderWrite
from connex_core.models import Customer, OrderStatus
from connex_core.sandbox import Fault
from connex_core.testing import make_order

D = Decimal
TOTAL = D("53.60")


def _orders():
    def order(number, **extra):
        return make_order(source="shopify", source_id=number, number=number,
                          customer=Customer(name=f"Buyer {number}", email=f"{number}@x.test"), **extra)
    return (order("PAID-1"), order("OPEN-1", paid=False, amount_paid=D("0"), status=OrderStatus.awaiting_payment),
            order("PART-1", amount_paid=D("20.00")))


def _write(connector, orders, **options):
    return connector.write_orders([OrderWrite(order=o, idempotency_key=f"k-{o.number}", options=options) for o in orders])


def books(xero):
    return {i["InvoiceNumber"]: (i["Status"], i["AmountDue"], [p["Amount"] for p in i["Payments"]])
            for i in xero.invoices.values()}


def test_record_payments_books_the_amount_paid(xero, make_xero):
    results = _write(make_xero(), _orders(), record_payments=True)
    assert all(r.ok for r in results), [r.error for r in results]
    assert books(xero) == {"PAID-1": ("PAID", D("0"), [TOTAL]),
                           "OPEN-1": ("AUTHORISED", TOTAL, []),
                           "PART-1": ("AUTHORISED", TOTAL - D("20.00"), [D("20.00")])}
    assert xero.calls["PUT /api.xro/2.0/Payments"] == 1 and len(xero.books.payments) == 2
    assert {p["Account"]["Code"] for p in xero.books.payments.values()} == {"090"}
    assert "recorded" in results[0].note and results[1].note is None


def test_without_the_option_no_payment_is_recorded(xero, make_xero):
    _write(make_xero(), _orders())
    assert all(status == "AUTHORISED" and paid == [] for status, _, paid in books(xero).values())
    assert xero.books.payments == {}


def test_a_draft_invoice_takes_no_payment_and_says_so(xero, make_xero):
    paid, _, _ = _orders()
    [result] = _write(make_xero(invoice_status="DRAFT"), [paid], record_payments=True)
    assert result.ok and "not recorded" in result.note and "DRAFT" in result.note
    assert xero.books.payments == {} and books(xero)["PAID-1"] == ("DRAFT", TOTAL, [])


def test_an_account_that_takes_no_payments_is_reported_on_the_order(xero, make_xero):
    paid, _, _ = _orders()
    [result] = _write(make_xero(), [paid], record_payments=True, payment_account="200")
    assert result.ok and "payment of 53.60 was not recorded" in result.note and "Account type is invalid" in result.note
    assert books(xero)["PAID-1"] == ("AUTHORISED", TOTAL, [])



def test_payments_xero_does_not_answer_are_noted_on_the_written_invoices(xero, make_xero):
    paid, _, part = _orders()
    xero.faults.add(Fault(kind="error", status=503, body=b"Service Unavailable", methods=("PUT",), path="/Payments$"))
    results = _write(make_xero(max_retries=2), [paid, part], record_payments=True)
    assert all(r.ok and r.target_id for r in results)
    assert all("was not recorded" in r.note and "503" in r.note for r in results)
    assert xero.books.payments == {} and books(xero)["PAID-1"] == ("AUTHORISED", TOTAL, [])


def test_invoices_found_without_their_payment_get_it_once(xero, make_xero):
    """A booking is one unit: invoices written whose payments never went out (a crash, or Xero not
    answering) are found with the payment ``missing``; completing them records each payment once, under
    a key of its own, and completing again records nothing more."""
    orders = _orders()
    writes = [OrderWrite(order=o, idempotency_key=f"k-{o.number}", options={"record_payments": True},
                         content_hash=o.content_hash()) for o in orders]
    xero.faults.add(Fault(kind="error", status=503, body=b"Service Unavailable", methods=("PUT",), path="/Payments$"))
    connector = make_xero(max_retries=1)
    assert all(r.ok for r in connector.write_orders(writes))
    xero.faults.clear()
    found = connector.find_orders(writes)
    assert {w.order.number: found[w.key].missing for w in writes} == {
        "PAID-1": f"payment of {TOTAL}", "OPEN-1": None, "PART-1": "payment of 20.00"}
    due = [(w, found[w.key]) for w in writes if found[w.key].missing]
    results = connector.write_follow_ups(due)
    assert all(r.ok for r in results) and all("recorded" in r.note for r in results)
    assert {r.target_id for r in results} == {found[w.key].target_id for w, _ in due}
    assert books(xero) == {"PAID-1": ("PAID", D("0"), [TOTAL]),
                           "OPEN-1": ("AUTHORISED", TOTAL, []),
                           "PART-1": ("AUTHORISED", TOTAL - D("20.00"), [D("20.00")])}
    again = connector.write_follow_ups(due)
    assert all(r.ok and r.note == "payment already recorded" for r in again)
    assert len(xero.books.payments) == 2
    assert all(hit.missing is None for hit in connector.find_orders(writes).values())


def test_two_orders_with_one_number_in_a_batch_make_one_invoice_even_without_xeros_check(xero, make_xero):
    """A split order's part that a rule gave its parent's number: one invoice, the part a duplicate of it,
    even with the simulator's unique-number check off (the chaos harness's setting, issue 15)."""
    xero.books.unique_invoice_numbers = False
    parent, _, _ = _orders()
    part = parent.model_copy(update={"source_id": "PAID-1-1"})
    results = _write(make_xero(), [parent, part], record_payments=True)
    assert [r.ok for r in results] == [True, True] and results[1].duplicate
    assert results[1].target_id == results[0].target_id
    assert [i["InvoiceNumber"] for i in xero.invoices.values()] == ["PAID-1"] and len(xero.books.payments) == 1
