"""Edits after booking (issue 14): a booked order that changes in the source follows ``on_update``.

``"update"`` (the default) brings the booked QuickBooks document (a sparse update with the current SyncToken) or
Xero invoice (while Xero lets it change) to the new version; what the target keeps as it is (paid, voided, a
locked period) is held with the reason. Asserted on the simulators' books: totals, lines, balances, payments,
SyncToken, status.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Optional

import pytest

from connex_core.state import SQLiteStore
from tests.e2e.helpers import money, pacific, ss_order, task_table

TASK = "shipstation-to-quickbooks"
XERO = "shipstation-to-xero"
THREE_MUGS = [("MUG-BLU", "Blue mug", 3, "12.50")]


def flow(name: str, **target: object) -> tuple[str, dict]:
    """The standard flow reading every order (not only shipped ones), with ``target`` options."""
    name, table = task_table(name)
    table["source_options"] = {}
    table["target_options"] = {**table.get("target_options", {}), **target}
    return name, table


def book_then_edit(sandbox, number: str = "7101", *, task: Optional[tuple[str, dict]] = None,
                   paid: bool = True, amount_paid: Optional[Decimal] = None,
                   edited_paid: Optional[Decimal] = None, items: Optional[list] = THREE_MUGS) -> dict:
    """Book order ``number`` (2 mugs + 5.00 shipping = 30.00), then change it in ShipStation to ``items`` (3 mugs:
    42.50; None: the same 2 mugs) and ``edited_paid``."""
    ss = sandbox.shipstation
    name, table = task or task_table(TASK)
    sandbox.write([(name, table)])
    order = ss.add_order(ss_order(number, pacific(2026, 9, 16), paid=paid, amount_paid=amount_paid))
    shipped = table.get("source_options", {}).get("status") == "shipped"
    if shipped:
        ss.ship_order(order["orderId"], "ups", f"1Z{number}", date(2026, 9, 17), Decimal("5"))
    assert sandbox.run(name).counts["created"] == 1
    sandbox.clock.advance(600)
    edited = ss_order(number, pacific(2026, 9, 16), status="shipped" if shipped else order["orderStatus"], paid=paid,
                      amount_paid=edited_paid if edited_paid is not None else amount_paid, items=items)
    edited = ss.add_order(dict(edited, orderKey=order["orderKey"]))
    assert money(edited["orderTotal"]) == (Decimal("42.50") if items else Decimal("30.00"))
    return edited


def docs(sandbox, entity: str) -> dict[str, dict]:
    return {d["DocNumber"]: d for d in sandbox.quickbooks.entities(entity)}


def ledger(sandbox, task: str, key: str):
    store = SQLiteStore(sandbox.config.state_path)
    try:
        return store.ledger_get(task, [key])[key]
    finally:
        store.close()


def product_lines(doc: dict) -> list[tuple]:
    return [(l["SalesItemLineDetail"].get("Qty", 1), money(l["Amount"])) for l in doc["Line"]
            if l.get("DetailType") == "SalesItemLineDetail"]


def test_an_open_invoice_is_updated_in_place_with_the_current_sync_token(sandbox):
    book_then_edit(sandbox, task=flow(TASK, document="auto"), paid=False)
    before = docs(sandbox, "Invoice")["7101"]
    assert money(before["TotalAmt"]) == Decimal("30.00")

    summary = sandbox.run(TASK)

    [invoice] = sandbox.quickbooks.entities("Invoice")  # the same document, not a second one
    assert invoice["Id"] == before["Id"] and invoice["DocNumber"] == "7101"
    assert money(invoice["TotalAmt"]) == Decimal("42.50") and money(invoice["Balance"]) == Decimal("42.50")
    assert product_lines(invoice) == [(3, Decimal("37.50")), (1, Decimal("5.00"))]  # mugs, shipping
    assert int(invoice["SyncToken"]) == int(before["SyncToken"]) + 1
    assert sandbox.quickbooks.entities("Payment") == [] and sandbox.quickbooks.entities("SalesReceipt") == []
    assert summary.counts["updated"] == 1 and summary.counts.get("held", 0) == 0
    [updated] = sandbox.log(task=TASK, outcome="updated")
    assert updated.target_number == "7101" and "updated" in updated.message and "42.5" in updated.message
    # the ledger keeps the version now booked: a rerun changes nothing
    again = sandbox.run(TASK)
    assert again.counts.get("updated", 0) == 0 and again.counts["already_synced"] >= 1
    assert sandbox.quickbooks.get("Invoice", invoice["Id"])["SyncToken"] == invoice["SyncToken"]


def test_a_stale_sync_token_is_read_again_and_the_update_retried(sandbox):
    book_then_edit(sandbox, task=flow(TASK, document="auto"), paid=False)
    sim = sandbox.quickbooks
    real_update, edits = sim._update, []

    def someone_else_saves_first(entity, body):
        # another user saves the invoice between Connex's read and its update: QuickBooks then answers 5010
        if entity == "Invoice" and not edits:
            current = sim.get(entity, str(body["Id"]))
            edits.append(real_update(entity, {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True,
                                              "CustomerMemo": {"value": "Thanks!"}}))
        return real_update(entity, body)

    sim._update = someone_else_saves_first
    summary = sandbox.run(TASK)

    [invoice] = sim.entities("Invoice")
    assert edits and money(invoice["TotalAmt"]) == Decimal("42.50")
    assert invoice["CustomerMemo"] == {"value": "Thanks!"}  # the other user's change is kept (a sparse update)
    assert invoice["SyncToken"] == "2"  # created 0, the other user's save 1, Connex's stale try refused, Connex 2
    assert summary.counts["updated"] == 1
    [updated] = sandbox.log(task=TASK, outcome="updated")
    assert "after a stale SyncToken" in updated.message


def assert_held_as_booked(sandbox, before: dict, entity: str, reason: str) -> None:
    """The edit of ``before`` was held with ``reason`` (logged once, also on a rerun); the document is untouched."""
    after = sandbox.quickbooks.get(entity, before["Id"])
    assert (after["SyncToken"], after["TotalAmt"], after["Balance"], after["Line"]) == \
        (before["SyncToken"], before["TotalAmt"], before["Balance"], before["Line"])
    [held] = sandbox.log(task=TASK, outcome="held")
    assert "changed in the source after it was booked as 7101" in held.reason and reason in held.reason, held.reason
    assert 'change it by hand' in held.reason and 'on_update = "ignore"' in held.reason
    assert sandbox.log(task=TASK, outcome="updated") == []
    again = sandbox.run(TASK)
    assert again.counts["held"] == 1 and len(sandbox.log(task=TASK, outcome="held")) == 1
    assert sandbox.quickbooks.get(entity, before["Id"])["SyncToken"] == before["SyncToken"]


def test_an_edit_of_a_part_paid_invoice_is_held_and_the_invoice_left_as_booked(sandbox):
    book_then_edit(sandbox, task=flow(TASK, document="auto"), amount_paid=Decimal("10.00"),
                   edited_paid=Decimal("20.00"))
    before = docs(sandbox, "Invoice")["7101"]
    assert money(before["Balance"]) == Decimal("20.00")

    summary = sandbox.run(TASK)

    assert summary.counts["held"] == 1 and summary.counts.get("updated", 0) == 0
    assert [money(p["TotalAmt"]) for p in sandbox.quickbooks.entities("Payment")] == [Decimal("10.00")]
    assert_held_as_booked(sandbox, before, "Invoice", "invoice 7101 has 10.00 of 30.00 paid in QuickBooks")


def test_an_edit_of_a_paid_invoice_is_held_and_the_invoice_left_as_booked(sandbox):
    book_then_edit(sandbox)  # the standard flow: shipped orders, invoices with their payment; paid 42.50 since
    before = docs(sandbox, "Invoice")["7101"]
    assert money(before["Balance"]) == 0

    summary = sandbox.run(TASK)

    assert summary.counts["held"] == 1 and summary.counts.get("updated", 0) == 0
    assert [money(p["TotalAmt"]) for p in sandbox.quickbooks.entities("Payment")] == [Decimal("30.00")]
    assert_held_as_booked(sandbox, before, "Invoice", "invoice 7101 has 30.00 of 30.00 paid in QuickBooks")


def test_an_edit_of_a_sales_receipt_is_held_and_the_receipt_left_as_booked(sandbox):
    book_then_edit(sandbox, task=flow(TASK, document="auto"))  # paid in full before and after
    [before] = sandbox.quickbooks.entities("SalesReceipt")

    summary = sandbox.run(TASK)

    assert summary.counts["held"] == 1 and sandbox.quickbooks.entities("Invoice") == []
    assert_held_as_booked(sandbox, before, "SalesReceipt", "sales receipt 7101 records 30.00 received")


def test_more_paid_on_an_invoice_links_a_payment_of_the_difference_and_leaves_the_invoice(sandbox):
    book_then_edit(sandbox, task=flow(TASK, document="auto"), amount_paid=Decimal("10.00"),
                   edited_paid=Decimal("25.00"), items=None)  # the same sale, 15.00 more paid
    before = docs(sandbox, "Invoice")["7101"]

    summary = sandbox.run(TASK)

    invoice = docs(sandbox, "Invoice")["7101"]
    assert invoice["SyncToken"] == before["SyncToken"] and invoice["Line"] == before["Line"]  # not updated
    assert money(invoice["TotalAmt"]) == Decimal("30.00") and money(invoice["Balance"]) == Decimal("5.00")
    payments = sandbox.quickbooks.entities("Payment")
    assert sorted(money(p["TotalAmt"]) for p in payments) == [Decimal("10.00"), Decimal("15.00")]
    assert {l["TxnId"] for l in invoice["LinkedTxn"]} == {p["Id"] for p in payments}
    assert summary.counts["updated"] == 1 and summary.counts.get("held", 0) == 0
    [updated] = sandbox.log(task=TASK, outcome="updated")
    assert "Invoice 7101 left as it is (the sale is the same; 10.00 received on it)" in updated.message
    assert "of 15.00 recorded (the order has more paid since it was booked)" in updated.message
    again = sandbox.run(TASK)
    assert again.counts.get("updated", 0) == 0 and len(sandbox.quickbooks.entities("Payment")) == 2


def test_less_paid_on_a_part_paid_invoice_is_held_as_a_refund_to_make_by_hand(sandbox):
    book_then_edit(sandbox, task=flow(TASK, document="auto"), amount_paid=Decimal("20.00"),
                   edited_paid=Decimal("5.00"), items=None)  # the same sale, 15.00 given back
    before = docs(sandbox, "Invoice")["7101"]

    summary = sandbox.run(TASK)

    assert summary.counts["held"] == 1
    assert_held_as_booked(sandbox, before, "Invoice", "has 20.00 paid in QuickBooks, but the order now says 5.00")
    assert [money(p["TotalAmt"]) for p in sandbox.quickbooks.entities("Payment")] == [Decimal("20.00")]


def test_lines_removed_from_a_paid_invoice_are_held_with_the_reason(sandbox):
    name, table = task_table(TASK)
    ss = sandbox.shipstation
    sandbox.write([(name, table)])
    order = ss.add_order(ss_order("7111", pacific(2026, 9, 16), items=THREE_MUGS))
    ss.ship_order(order["orderId"], "ups", "1Z7111", date(2026, 9, 17), Decimal("5"))
    sandbox.run(TASK)
    invoice = docs(sandbox, "Invoice")["7111"]
    assert money(invoice["TotalAmt"]) == Decimal("42.50") and money(invoice["Balance"]) == 0
    sandbox.clock.advance(600)
    smaller = ss.add_order(dict(ss_order("7111", pacific(2026, 9, 16), status="shipped"), orderKey=order["orderKey"]))
    assert money(smaller["orderTotal"]) == Decimal("30.00")

    summary = sandbox.run(TASK)

    after = docs(sandbox, "Invoice")["7111"]
    assert money(after["TotalAmt"]) == Decimal("42.50") and after["SyncToken"] == invoice["SyncToken"]
    assert summary.counts["held"] == 1 and summary.counts.get("updated", 0) == 0
    [held] = sandbox.log(task=TASK, outcome="held")
    assert held.order_number == "7111" and "changed in the source after it was booked as 7111" in held.reason
    assert "invoice 7111 has 42.50 of 42.50 paid in QuickBooks" in held.reason
    entry = ledger(sandbox, TASK, f"shipstation:{order['orderId']}")
    assert entry.state == "done" and entry.target_number == "7111"  # booked as it was; the version booked kept
    again = sandbox.run(TASK)
    assert again.counts["held"] == 1 and len(sandbox.log(task=TASK, outcome="held")) == 1  # logged once


@pytest.mark.parametrize("mode", ["hold", "ignore"])
def test_on_update_hold_and_ignore(sandbox, mode):
    name, table = flow(TASK, document="auto")
    table["on_update"] = mode
    book_then_edit(sandbox, task=(name, table), paid=False)

    summary = sandbox.run(TASK)

    assert money(docs(sandbox, "Invoice")["7101"]["TotalAmt"]) == Decimal("30.00")
    held = sandbox.log(task=TASK, outcome="held")
    if mode == "hold":
        assert summary.counts["held"] == 1 and 'on_update = "hold"' in held[0].reason
    else:
        assert summary.counts.get("held", 0) == 0 and held == [] and summary.counts["already_synced"] == 1


def xero_invoice(sandbox, number: str) -> dict:
    [invoice] = [i for i in sandbox.xero.invoices.values() if i["InvoiceNumber"] == number]
    return invoice


def test_xero_updates_an_unpaid_invoice_and_holds_a_paid_one(sandbox):
    ss = sandbox.shipstation
    sandbox.write([flow(XERO, record_payments=True)])
    open_ = ss.add_order(ss_order("7201", pacific(2026, 9, 16), paid=False))
    paid = ss.add_order(ss_order("7202", pacific(2026, 9, 16)))
    sandbox.run(XERO)
    assert xero_invoice(sandbox, "7202")["Status"] == "PAID"
    first_line = xero_invoice(sandbox, "7201")["LineItems"][0]["LineItemID"]
    sandbox.clock.advance(600)
    for order, was_paid in ((open_, False), (paid, True)):
        ss.add_order(dict(ss_order(order["orderNumber"], pacific(2026, 9, 16), paid=was_paid, items=THREE_MUGS),
                          orderKey=order["orderKey"]))

    summary = sandbox.run(XERO)

    updated, kept = xero_invoice(sandbox, "7201"), xero_invoice(sandbox, "7202")
    assert updated["Status"] == "AUTHORISED" and money(updated["Total"]) == Decimal("42.50")
    assert money(updated["AmountDue"]) == Decimal("42.50") and updated["LineItems"][0]["Quantity"] == 3
    assert updated["LineItems"][0]["LineItemID"] != first_line  # the order's lines replace the old ones
    assert kept["Status"] == "PAID" and money(kept["Total"]) == Decimal("30.00")
    assert summary.counts["updated"] == 1 and summary.counts["held"] == 1
    [held] = sandbox.log(task=XERO, outcome="held")
    assert held.order_number == "7202" and "PAID in Xero" in held.reason


def test_xero_refusing_an_invoice_in_a_locked_period_holds_the_edit_with_its_message(sandbox):
    ss = sandbox.shipstation
    sandbox.write([flow(XERO)])
    order = ss.add_order(ss_order("7301", pacific(2026, 9, 16), paid=False))
    sandbox.run(XERO)
    sandbox.xero.books.period_lock_date = date(2026, 9, 30)  # the accountant closes September
    sandbox.clock.advance(600)
    ss.add_order(dict(ss_order("7301", pacific(2026, 9, 16), paid=False, items=THREE_MUGS), orderKey=order["orderKey"]))

    summary = sandbox.run(XERO)

    invoice = xero_invoice(sandbox, "7301")
    assert money(invoice["Total"]) == Decimal("30.00") and summary.counts["held"] == 1
    [held] = sandbox.log(task=XERO, outcome="held")
    assert "not updated" in held.reason and "cannot be before the period lock date" in held.reason


def test_xero_credits_lines_removed_from_a_paid_invoice(sandbox):
    ss = sandbox.shipstation
    sandbox.write([flow(XERO, record_payments=True)])
    order = ss.add_order(ss_order("7401", pacific(2026, 9, 16), items=THREE_MUGS))
    sandbox.run(XERO)
    invoice = xero_invoice(sandbox, "7401")
    assert invoice["Status"] == "PAID" and money(invoice["Total"]) == Decimal("42.50")
    sandbox.clock.advance(600)
    ss.add_order(dict(ss_order("7401", pacific(2026, 9, 16)), orderKey=order["orderKey"]))  # one mug fewer: 30.00

    summary = sandbox.run(XERO)

    invoice = xero_invoice(sandbox, "7401")
    assert invoice["Status"] == "PAID" and money(invoice["Total"]) == Decimal("42.50")  # Xero keeps a paid invoice
    [note] = sandbox.xero.books.credit_notes.values()
    assert note["Reference"] == "Lines removed from 7401" and note["Status"] == "AUTHORISED"
    assert [(l["Description"], l["Quantity"], money(l["UnitAmount"])) for l in note["LineItems"]] == \
        [("Blue mug", 1, Decimal("12.50"))]
    assert money(note["Total"]) == money(note["RemainingCredit"]) == Decimal("12.50")  # paid: left to refund
    assert summary.counts["updated"] == 1 and summary.counts.get("held", 0) == 0
    [updated] = sandbox.log(task=XERO, outcome="updated")
    assert "credited by credit note" in updated.message and "12.50 paid already, left as credit" in updated.message
    sandbox.run(XERO)
    assert len(sandbox.xero.books.credit_notes) == 1


def contact_of(sandbox, invoice: dict) -> dict:
    return sandbox.xero.books.contacts[invoice["ContactID"]]


def address(contact: dict, kind: str) -> str:
    [found] = [a for a in contact["Addresses"] if a["AddressType"] == kind]
    return found["AddressLine1"]


def test_xero_an_editable_invoice_moves_to_the_contact_of_the_buyers_new_name_and_a_paid_one_is_held(sandbox):
    """A Xero invoice has no buyer of its own but its Contact, which may change while the invoice is editable."""
    ss = sandbox.shipstation
    sandbox.write([flow(XERO, record_payments=True)])
    open_ = ss.add_order(ss_order("7501", pacific(2026, 9, 16), paid=False))
    paid = ss.add_order(ss_order("7502", pacific(2026, 9, 16)))
    sandbox.run(XERO)
    was = {n: contact_of(sandbox, xero_invoice(sandbox, n))["ContactID"] for n in ("7501", "7502")}
    sandbox.clock.advance(600)
    for order, was_paid in ((open_, False), (paid, True)):
        renamed = dict(ss_order(order["orderNumber"], pacific(2026, 9, 16), paid=was_paid,
                                email=f"ada.{order['orderNumber']}@shop.test"), orderKey=order["orderKey"])
        renamed["billTo"] = {"name": f"Ada Lovelace {order['orderNumber']}"}
        ss.add_order(renamed)

    summary = sandbox.run(XERO)

    moved, kept = xero_invoice(sandbox, "7501"), xero_invoice(sandbox, "7502")
    ada = contact_of(sandbox, moved)
    assert ada["Name"] == "Ada Lovelace 7501" and ada["EmailAddress"] == "ada.7501@shop.test"
    assert moved["ContactID"] != was["7501"] and sandbox.xero.books.contacts[was["7501"]]["Name"] == "Buyer 7501"
    assert money(moved["Total"]) == Decimal("30.00") and moved["Status"] == "AUTHORISED"
    assert kept["ContactID"] == was["7502"] and contact_of(sandbox, kept)["Name"] == "Buyer 7502"
    assert summary.counts["updated"] == 1 and summary.counts["held"] == 1
    [updated] = sandbox.log(task=XERO, outcome="updated")
    assert updated.order_number == "7501" and "contact Ada Lovelace 7501" in updated.message
    [held] = sandbox.log(task=XERO, outcome="held")
    assert held.order_number == "7502" and "PAID in Xero" in held.reason
    store = SQLiteStore(sandbox.config.state_path)  # the contact the update created is the run's, for connex undo
    try:
        made = [(r.order_number, r.kind, r.target_id, r.name) for r in store.created_in_run(summary.run_id)]
    finally:
        store.close()
    assert made == [("7501", "Contact", ada["ContactID"], "Ada Lovelace 7501")]


def test_xero_a_buyers_new_email_and_address_reach_the_contact_of_an_editable_invoice(sandbox):
    """The same buyer, a new e-mail and a new shipping address: the contact (the only place Xero keeps them) gets them."""
    ss = sandbox.shipstation
    sandbox.write([flow(XERO)])
    order = ss.add_order(ss_order("7601", pacific(2026, 9, 16), paid=False))
    sandbox.run(XERO)
    contact = contact_of(sandbox, xero_invoice(sandbox, "7601"))
    assert contact["EmailAddress"] == "buyer.7601@shop.test" and address(contact, "STREET") == "1 Main St"
    sandbox.clock.advance(600)
    moved = dict(ss_order("7601", pacific(2026, 9, 16), paid=False, email="new.7601@shop.test"),
                 orderKey=order["orderKey"])
    moved["shipTo"] = dict(moved["shipTo"], street1="9 Analytical Way")
    ss.add_order(moved)

    summary = sandbox.run(XERO)

    invoice = xero_invoice(sandbox, "7601")
    after = contact_of(sandbox, invoice)
    assert after["ContactID"] == contact["ContactID"] and after["Name"] == "Buyer 7601"
    assert after["EmailAddress"] == "new.7601@shop.test" and address(after, "STREET") == "9 Analytical Way"
    assert len(sandbox.xero.books.contacts) == 1 and summary.counts["updated"] == 1
    [updated] = sandbox.log(task=XERO, outcome="updated")
    assert "contact Buyer 7601: e-mail, addresses updated" in updated.message
    again = sandbox.run(XERO)
    assert again.counts.get("updated", 0) == 0


def test_a_new_buyer_name_email_and_address_reach_an_unpaid_quickbooks_invoice(sandbox):
    ss = sandbox.shipstation
    sandbox.write([flow(TASK, document="auto")])
    order = ss.add_order(ss_order("7701", pacific(2026, 9, 16), paid=False))
    sandbox.run(TASK)
    before = docs(sandbox, "Invoice")["7701"]
    sandbox.clock.advance(600)
    edited = dict(ss_order("7701", pacific(2026, 9, 16), paid=False, email="ada@shop.test"), orderKey=order["orderKey"])
    edited["billTo"] = {"name": "Ada Lovelace"}
    edited["shipTo"] = dict(edited["shipTo"], name="Ada Lovelace", street1="9 Analytical Way")
    ss.add_order(edited)

    summary = sandbox.run(TASK)

    invoice = docs(sandbox, "Invoice")["7701"]
    customer = sandbox.quickbooks.get("Customer", invoice["CustomerRef"]["value"])
    assert invoice["Id"] == before["Id"] and customer["DisplayName"] == "Ada Lovelace"
    assert invoice["CustomerRef"]["value"] != before["CustomerRef"]["value"]
    assert invoice["BillEmail"] == {"Address": "ada@shop.test"} and invoice["ShipAddr"]["Line1"] != \
        before["ShipAddr"]["Line1"] and "9 Analytical Way" in str(invoice["ShipAddr"])
    assert summary.counts["updated"] == 1 and money(invoice["TotalAmt"]) == Decimal("30.00")


def test_xero_more_paid_on_a_part_paid_invoice_records_the_payment_of_the_difference(sandbox):
    ss = sandbox.shipstation
    sandbox.write([flow(XERO, record_payments=True)])
    order = ss.add_order(ss_order("7801", pacific(2026, 9, 16), amount_paid=Decimal("10.00")))
    sandbox.run(XERO)
    before = xero_invoice(sandbox, "7801")
    assert money(before["AmountDue"]) == Decimal("20.00")
    lines = [l["LineItemID"] for l in before["LineItems"]]
    sandbox.clock.advance(600)
    ss.add_order(dict(ss_order("7801", pacific(2026, 9, 16), amount_paid=Decimal("25.00")), orderKey=order["orderKey"]))

    summary = sandbox.run(XERO)

    invoice = xero_invoice(sandbox, "7801")
    assert invoice["Status"] == "AUTHORISED" and money(invoice["Total"]) == Decimal("30.00")
    assert money(invoice["AmountPaid"]) == Decimal("25.00") and money(invoice["AmountDue"]) == Decimal("5.00")
    assert [l["LineItemID"] for l in invoice["LineItems"]] == lines  # the invoice itself is not edited
    assert sorted(money(p["Amount"]) for p in sandbox.xero.books.payments.values()) == [Decimal("10.00"),
                                                                                         Decimal("15.00")]
    assert summary.counts["updated"] == 1 and summary.counts.get("held", 0) == 0
    [updated] = sandbox.log(task=XERO, outcome="updated")
    assert "invoice 7801 left as it is (the sale is the same; 10.00 paid on it)" in updated.message
    assert "of 15.00 recorded" in updated.message
    again = sandbox.run(XERO)
    assert again.counts.get("updated", 0) == 0 and len(sandbox.xero.books.payments) == 2


def test_xero_less_paid_on_a_part_paid_invoice_is_held_as_a_refund_to_make_by_hand(sandbox):
    ss = sandbox.shipstation
    sandbox.write([flow(XERO, record_payments=True)])
    order = ss.add_order(ss_order("7811", pacific(2026, 9, 16), amount_paid=Decimal("20.00")))
    sandbox.run(XERO)
    sandbox.clock.advance(600)
    ss.add_order(dict(ss_order("7811", pacific(2026, 9, 16), amount_paid=Decimal("5.00")), orderKey=order["orderKey"]))

    summary = sandbox.run(XERO)

    invoice = xero_invoice(sandbox, "7811")
    assert money(invoice["AmountPaid"]) == Decimal("20.00") and len(sandbox.xero.books.payments) == 1
    assert summary.counts["held"] == 1
    [held] = sandbox.log(task=XERO, outcome="held")
    assert "invoice 7811 has 20.00 paid in Xero, but the order now says 5.00" in held.reason
