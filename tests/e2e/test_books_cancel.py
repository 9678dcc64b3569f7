"""Books right by default (issue 14): cancelled orders, cancellations after booking, suspicious amounts and the
same number from two sales, asserted on what QuickBooks and Xero hold (balances, status, payments)."""

from __future__ import annotations

from decimal import Decimal

from connex_core.cli.run import format_summary
from connex_core.state import SQLiteStore
from tests.e2e.helpers import money, pacific, ss_order, task_table

QB = "shipstation-to-quickbooks"
XERO = "shipstation-to-xero"


def every_status(name: str, **target: object) -> tuple[str, dict]:
    """The standard flow reading every order (not only shipped ones), with ``target`` options."""
    name, table = task_table(name)
    table["source_options"] = {}
    table["target_options"] = {**table.get("target_options", {}), **target}
    return name, table


def cancel(sandbox, order: dict) -> None:
    """The store cancels the order in ShipStation (an upsert by orderKey with the new status)."""
    sandbox.clock.advance(120)
    sandbox.shipstation.add_order(dict(order, orderStatus="cancelled"))


def by_number(sim, entity: str) -> dict[str, dict]:
    return {d["DocNumber"]: d for d in sim.entities(entity)}


def ledger(sandbox, task: str, key: str):
    store = SQLiteStore(sandbox.config.state_path)
    try:
        return store.ledger_get(task, [key])[key]
    finally:
        store.close()


def test_a_cancelled_order_is_not_booked_by_default(sandbox):
    ss = sandbox.shipstation
    ss.add_order(ss_order("7001", pacific(2026, 9, 16), status="cancelled"))
    ss.add_order(ss_order("7002", pacific(2026, 9, 16)))
    sandbox.write([every_status(QB, document="auto")])

    summary = sandbox.run(QB)

    assert summary.counts["skipped"] == 1 and summary.counts["created"] == 1
    assert set(by_number(sandbox.quickbooks, "SalesReceipt")) == {"7002"}
    assert "7001" not in by_number(sandbox.quickbooks, "Invoice")
    [skip] = sandbox.log(task=QB, outcome="skipped")
    assert skip.order_number == "7001" and 'cancelled_orders = "skip"' in skip.reason


def test_cancelled_orders_are_booked_when_the_task_says_book(sandbox):
    sandbox.shipstation.add_order(ss_order("7011", pacific(2026, 9, 16), status="cancelled", paid=False))
    name, table = every_status(QB, document="auto")
    table["cancelled_orders"] = "book"
    sandbox.write([(name, table)])

    sandbox.run(QB)

    assert money(by_number(sandbox.quickbooks, "Invoice")["7011"]["Balance"]) == Decimal("30.00")


def test_a_sales_receipt_is_voided_when_its_order_is_cancelled_after_booking(sandbox):
    order = sandbox.shipstation.add_order(ss_order("7021", pacific(2026, 9, 16)))
    sandbox.write([every_status(QB, document="auto")])
    sandbox.run(QB)
    receipt = by_number(sandbox.quickbooks, "SalesReceipt")["7021"]
    assert money(receipt["TotalAmt"]) == Decimal("30.00")

    cancel(sandbox, order)
    summary = sandbox.run(QB)

    receipt = by_number(sandbox.quickbooks, "SalesReceipt")["7021"]
    assert money(receipt["TotalAmt"]) == 0 and receipt["PrivateNote"] == "Voided"
    assert summary.counts["voided"] == 1 and summary.as_dict()["voided"] == 1
    assert "voided 1" in format_summary(summary.as_dict())  # what `connex run` prints
    [voided] = sandbox.log(task=QB, outcome="voided")
    assert voided.order_number == "7021" and "SalesReceipt 7021 voided" in voided.reason
    assert voided.target_id == f"SalesReceipt-{receipt['Id']}"
    assert ledger(sandbox, QB, order_key(sandbox, "7021")).state == "voided"

    sandbox.clock.advance(60)
    again = sandbox.run(QB)
    assert again.counts.get("voided", 0) == 0 and len(sandbox.log(task=QB, outcome="voided")) == 1


def order_key(sandbox, number: str) -> str:
    [entry] = [e for e in sandbox.log(task=QB) if e.order_number == number][:1]
    return entry.source_key


def test_a_part_paid_invoice_is_voided_with_its_payment(sandbox):
    order = sandbox.shipstation.add_order(ss_order("7031", pacific(2026, 9, 16), amount_paid=Decimal("10.00")))
    sandbox.write([every_status(QB, document="auto")])
    sandbox.run(QB)
    invoice = by_number(sandbox.quickbooks, "Invoice")["7031"]
    assert money(invoice["Balance"]) == Decimal("20.00")
    [payment] = sandbox.quickbooks.entities("Payment")
    assert money(payment["TotalAmt"]) == Decimal("10.00")

    cancel(sandbox, order)
    sandbox.run(QB)

    invoice = by_number(sandbox.quickbooks, "Invoice")["7031"]
    [payment] = sandbox.quickbooks.entities("Payment")
    assert money(invoice["TotalAmt"]) == 0 and money(invoice["Balance"]) == 0 and invoice["PrivateNote"] == "Voided"
    assert money(payment["TotalAmt"]) == 0 and payment["PrivateNote"] == "Voided" and payment["Line"] == []
    [voided] = sandbox.log(task=QB, outcome="voided")
    assert f"payment {payment['Id']} of 10" in voided.reason


def test_on_cancel_hold_leaves_the_books_and_holds_the_order_with_the_reason(sandbox):
    order = sandbox.shipstation.add_order(ss_order("7041", pacific(2026, 9, 16), paid=False))
    name, table = every_status(QB, document="auto")
    table["on_cancel"] = "hold"
    sandbox.write([(name, table)])
    sandbox.run(QB)

    cancel(sandbox, order)
    summary = sandbox.run(QB)

    invoice = by_number(sandbox.quickbooks, "Invoice")["7041"]
    assert money(invoice["Balance"]) == Decimal("30.00") and invoice.get("PrivateNote") != "Voided"
    assert summary.counts["held"] == 1
    [held] = sandbox.log(task=QB, outcome="held")
    assert held.order_number == "7041" and 'on_cancel = "hold"' in held.reason


def test_on_cancel_ignore_leaves_the_books_and_logs_it(sandbox):
    order = sandbox.shipstation.add_order(ss_order("7051", pacific(2026, 9, 16), paid=False))
    name, table = every_status(QB, document="auto")
    table["on_cancel"] = "ignore"
    sandbox.write([(name, table)])
    sandbox.run(QB)

    cancel(sandbox, order)
    sandbox.run(QB)

    assert money(by_number(sandbox.quickbooks, "Invoice")["7051"]["Balance"]) == Decimal("30.00")
    [ignored] = sandbox.log(task=QB, outcome="skipped")
    assert ignored.order_number == "7051" and 'on_cancel = "ignore"' in ignored.reason


def test_xero_credits_a_paid_invoice_and_voids_an_unpaid_one(sandbox):
    unpaid = sandbox.shipstation.add_order(ss_order("7066", pacific(2026, 9, 16), paid=False))
    paid = sandbox.shipstation.add_order(ss_order("7067", pacific(2026, 9, 16)))
    part = sandbox.shipstation.add_order(ss_order("7068", pacific(2026, 9, 16), amount_paid=Decimal("10.00")))
    sandbox.write([every_status(XERO, record_payments=True)])
    sandbox.run(XERO)
    books = sandbox.xero.books

    for order in (unpaid, paid, part):
        cancel(sandbox, order)
    summary = sandbox.run(XERO)

    invoices = {i["InvoiceNumber"]: i for i in books.invoices.values()}
    assert invoices["7066"]["Status"] == "VOIDED"
    # the payments stay as received; each paid invoice is credited in full by a credit note with its lines
    assert sorted(p["Status"] for p in books.payments.values()) == ["AUTHORISED", "AUTHORISED"]
    notes = {n["Reference"]: n for n in books.credit_notes.values()}
    assert set(notes) == {"Cancels 7067", "Cancels 7068"}
    for number in ("7067", "7068"):
        note, invoice = notes[f"Cancels {number}"], invoices[number]
        assert note["Type"] == "ACCRECCREDIT" and money(note["Total"]) == money(invoice["Total"]) == Decimal("30.00")
        assert [(l["Description"], l["Quantity"]) for l in note["LineItems"]] == \
            [(l["Description"], l["Quantity"]) for l in invoice["LineItems"]]
        assert invoice["Status"] == "PAID" and money(invoice["AmountDue"]) == 0
    # paid in full: nothing due to allocate, all 30.00 left to refund; part paid: 20.00 allocated, 10.00 to refund
    assert money(notes["Cancels 7067"]["RemainingCredit"]) == Decimal("30.00") and not notes["Cancels 7067"]["Allocations"]
    assert money(invoices["7068"]["AmountCredited"]) == Decimal("20.00") and money(invoices["7068"]["AmountPaid"]) == 10
    assert money(notes["Cancels 7068"]["RemainingCredit"]) == Decimal("10.00")
    assert summary.counts["voided"] == 3
    reasons = {e.order_number: e.reason for e in sandbox.log(task=XERO, outcome="voided")}
    assert "credited by credit note CN-" in reasons["7068"] and "20.00 allocated to what was due" in reasons["7068"]
    assert "10.00 paid already, left as credit" in reasons["7068"] and "credit" not in reasons["7066"]
    # a rerun credits nothing twice
    sandbox.run(XERO)
    assert len(books.credit_notes) == 2


def test_xero_voids_an_unpaid_invoice_and_a_paid_one_after_deleting_its_payment(sandbox):
    unpaid = sandbox.shipstation.add_order(ss_order("7061", pacific(2026, 9, 16), paid=False))
    paid = sandbox.shipstation.add_order(ss_order("7062", pacific(2026, 9, 16)))
    part = sandbox.shipstation.add_order(ss_order("7063", pacific(2026, 9, 16), amount_paid=Decimal("10.00")))
    sandbox.write([every_status(XERO, record_payments=True, cancel_paid="delete_payments")])
    sandbox.run(XERO)
    invoices = {i["InvoiceNumber"]: i for i in sandbox.xero.invoices.values()}
    assert [invoices[n]["Status"] for n in ("7061", "7062", "7063")] == ["AUTHORISED", "PAID", "AUTHORISED"]
    assert len(sandbox.xero.books.payments) == 2

    for order in (unpaid, paid, part):
        cancel(sandbox, order)
    summary = sandbox.run(XERO)

    invoices = {i["InvoiceNumber"]: i for i in sandbox.xero.invoices.values()}
    for number in ("7061", "7062", "7063"):
        assert invoices[number]["Status"] == "VOIDED", number
        assert money(invoices[number]["AmountPaid"]) == 0 and not invoices[number]["Payments"]
    assert sorted(p["Status"] for p in sandbox.xero.books.payments.values()) == ["DELETED", "DELETED"]
    assert summary.counts["voided"] == 3
    reasons = {e.order_number: e.reason for e in sandbox.log(task=XERO, outcome="voided")}
    assert "invoice 7062 VOIDED; payment of 30" in reasons["7062"] and "payment" not in reasons["7061"]


def test_xero_holds_a_cancelled_order_whose_invoice_has_a_credit_note_allocated(sandbox):
    order = sandbox.shipstation.add_order(ss_order("7064", pacific(2026, 9, 16), paid=False))
    sandbox.write([every_status(XERO)])
    sandbox.run(XERO)
    [invoice] = [i for i in sandbox.xero.invoices.values() if i["InvoiceNumber"] == "7064"]
    with sandbox.xero.lock:  # what allocating a credit note of 5.00 in Xero leaves on the invoice
        invoice["AmountCredited"] = Decimal("5.00")
        invoice["AmountDue"] = invoice["Total"] - Decimal("5.00")

    cancel(sandbox, order)
    summary = sandbox.run(XERO)

    assert invoice["Status"] == "AUTHORISED" and summary.counts["held"] == 1
    [held] = sandbox.log(task=XERO, outcome="held")
    assert held.order_number == "7064" and "credited" in held.reason

    with sandbox.xero.lock:  # the accountant removes the allocation; the retry queue tries the void again
        invoice["AmountCredited"] = Decimal("0")
        invoice["AmountDue"] = invoice["Total"]
    sandbox.run(XERO, since=pacific(2026, 9, 1), until=pacific(2026, 9, 2))  # a window without the order

    assert invoice["Status"] == "VOIDED"
    [voided] = sandbox.log(task=XERO, outcome="voided")
    assert voided.order_number == "7064"


def test_an_order_with_impossible_amounts_is_held_by_default(sandbox):
    ss = sandbox.shipstation
    ss.add_order(ss_order("7071", pacific(2026, 9, 16), items=[("MUG-BLU", "Blue mug", -2, "12.50")]))
    ss.add_order(ss_order("7072", pacific(2026, 9, 16)))
    sandbox.write([every_status(QB, document="auto")])

    summary = sandbox.run(QB)

    assert summary.counts["held"] == 1
    assert set(by_number(sandbox.quickbooks, "SalesReceipt")) == {"7072"} and not sandbox.quickbooks.entities("Invoice")
    [held] = sandbox.log(task=QB, outcome="held")
    assert held.order_number == "7071" and "negative quantity (-2)" in held.reason
    assert 'suspicious_amounts = "hold"' in held.reason

    name, table = every_status(QB, document="auto")
    table["suspicious_amounts"] = "allow"
    sandbox.write([(name, table)])
    sandbox.run(QB)  # the held order comes back from the retry queue and is booked as the user allowed
    assert "7071" in by_number(sandbox.quickbooks, "Invoice") or "7071" in by_number(sandbox.quickbooks, "SalesReceipt")


def test_the_same_number_from_another_store_is_held_until_a_prefix_rule_tells_them_apart(sandbox):
    ss = sandbox.shipstation
    web = ss_order("5000", pacific(2026, 9, 16))
    amazon = ss_order("5000", pacific(2026, 9, 16), items=[("TEE-L", "T-shirt, large", 1, "22.00")])
    amazon["advancedOptions"] = dict(amazon["advancedOptions"], storeId=202)
    ss.add_order(web)
    sandbox.write([every_status(QB, document="auto")])
    sandbox.run(QB)
    sandbox.clock.advance(60)
    ss.add_order(amazon)

    summary = sandbox.run(QB)

    [receipt] = sandbox.quickbooks.entities("SalesReceipt")
    assert receipt["DocNumber"] == "5000" and money(receipt["TotalAmt"]) == Decimal("30.00")  # the web store's sale
    assert summary.counts["held"] == 1 and summary.counts.get("duplicate", 0) == 0
    [held] = sandbox.log(task=QB, outcome="held")
    assert "number 5000 is already used" in held.reason and "prefix" in held.reason

    name, table = every_status(QB, document="auto")
    table["rules"] = [*table["rules"], "rules/examples/store-prefix.rules"]
    sandbox.write([(name, table)])
    sandbox.run(QB)

    receipts = by_number(sandbox.quickbooks, "SalesReceipt")
    assert money(receipts["5000"]["TotalAmt"]) == Decimal("30.00")
    assert money(receipts["AZ-5000"]["TotalAmt"]) == Decimal("27.00")


def test_two_sales_with_one_number_in_one_batch_book_only_the_first(sandbox):
    ss = sandbox.shipstation
    amazon = ss_order("5100", pacific(2026, 9, 16), items=[("TEE-L", "T-shirt, large", 1, "22.00")])
    amazon["advancedOptions"] = dict(amazon["advancedOptions"], storeId=202)
    ss.add_order(ss_order("5100", pacific(2026, 9, 16)))
    ss.add_order(amazon)
    sandbox.write([every_status(QB, document="auto")])

    summary = sandbox.run(QB)

    [receipt] = sandbox.quickbooks.entities("SalesReceipt")
    assert receipt["DocNumber"] == "5100"
    assert summary.counts["created"] == 1 and summary.counts["held"] == 1


def test_numbers_differing_only_in_case_are_one_number_where_the_target_ignores_case(sandbox):
    # QuickBooks' duplicate DocNumber check ignores case: "zc-100" would be taken for "Zc-100" and its money lost
    ss = sandbox.shipstation
    web = ss_order("Zc-100", pacific(2026, 9, 16))
    other = ss_order("zc-100", pacific(2026, 9, 16), items=[("TEE-L", "T-shirt, large", 1, "22.00")])
    other["advancedOptions"] = dict(other["advancedOptions"], storeId=202)
    ss.add_order(web)
    sandbox.write([every_status(QB, document="auto")])
    sandbox.run(QB)
    sandbox.clock.advance(60)
    ss.add_order(other)

    summary = sandbox.run(QB)

    [receipt] = sandbox.quickbooks.entities("SalesReceipt")
    assert receipt["DocNumber"] == "Zc-100" and money(receipt["TotalAmt"]) == Decimal("30.00")
    assert summary.counts["held"] == 1 and summary.counts.get("duplicate", 0) == 0
    [held] = sandbox.log(task=QB, outcome="held")
    assert held.order_number == "zc-100" and "number zc-100 is already used" in held.reason
    assert "ignores case" in held.reason and "prefix" in held.reason
