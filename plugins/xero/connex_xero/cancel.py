"""Void the invoices of orders cancelled after they were booked (``on_cancel = "void"``, issue 14).

Xero (api-contracts §3.2, Xero's Invoices documentation): an AUTHORISED invoice can become VOIDED only while it
has no payments (``POST /Invoices/{InvoiceID}`` with ``Status`` VOIDED); a DRAFT or SUBMITTED one is DELETED
instead; PAID and VOIDED invoices are read-only. A paid or part-paid invoice's payments are deleted first
(``deletePayment``: ``POST /Payments/{PaymentID}`` with ``{"Status": "DELETED"}``, xero_accounting.yaml), which
reopens it, then it is voided: as in QuickBooks, the money is no longer recorded as received for a sale that
did not happen. An invoice with a credit note allocated is not touched: the order is held with the reason.

Taking back a run (``connex undo``, ``write.undo``): payments deleted, then voided (never credited), but an invoice
changed since Connex wrote it is left: its total is not the booked order's (edited in Xero), or more is paid on it
than the payment Connex recorded.

Deleting the payments, then voiding, is also the target option ``cancel_paid = "delete_payments"``. By default
(``"credit_note"``) a paid or part-paid invoice keeps its payments (money received, perhaps reconciled with the bank) and is credited instead: a credit
note (``createCreditNotes``, ACCRECCREDIT, AUTHORISED) with the invoice's lines, allocated
(``createCreditNoteAllocation``) to what is still due, so the invoice is closed; what was paid stays as credit on
the credit note, to be refunded (or kept) by the bookkeeper. Each call carries an ``Idempotency-Key`` derived from
the cancellation's, so a rerun after a lost answer replays instead of crediting twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connex_core.api import FatalAPIError, OrderWrite, WriteResult

from .client import XeroClient, records, validation_messages
from .mapping import amount_to_pay

#: What of an invoice's line a credit note copies.
CREDIT_LINE_FIELDS = ("Description", "Quantity", "UnitAmount", "ItemCode", "AccountCode", "TaxType", "TaxAmount",
                      "DiscountAmount")


def cancel(client: XeroClient, writes: list[OrderWrite]) -> list[WriteResult]:
    results = []
    for write in writes:
        try:
            results.append(_cancel_one(client, write))
        except FatalAPIError as exc:
            results.append(WriteResult(write.key, ok=False, error=str(exc)))
    return results


def _cancel_one(client: XeroClient, write: OrderWrite) -> WriteResult:
    ident = write.target_ref or ""
    [invoice] = records(client.call("read the invoice to void", "get_invoice", ident), "Invoices", "read invoice")
    label = f"invoice {invoice.get('InvoiceNumber') or ident}"
    status = invoice.get("Status")
    if status in ("VOIDED", "DELETED"):
        return WriteResult(write.key, ok=True, target_id=ident, note=f"{label} was {status} already")
    if write.undo and (changed := _changed_since(invoice, write)):
        return WriteResult(write.key, ok=False, target_id=ident, error=f"{label} {changed}")
    credited = Decimal(str(invoice.get("AmountCredited") or 0))
    if credited > 0 and (ours := _our_credit(client, invoice)):
        return WriteResult(write.key, ok=True, target_id=ident, note=f"{label} was credited already ({ours})")
    if credited > 0:
        return WriteResult(write.key, ok=False, target_id=ident,
                           error=f"{label} has {credited} credited; Xero voids only invoices with nothing allocated: "
                                 "remove the credit note's allocation in Xero, then void it")
    # connex undo takes back what the run wrote, its own payment too (the check above left anything paid since)
    if invoice.get("Payments") and not write.undo and write.options.get("cancel_paid", "credit_note") == "credit_note":
        return _credit(client, write, invoice, label)
    notes = []
    for payment in invoice.get("Payments") or []:
        data = client.call(f"delete payment {payment['PaymentID']} of {label}", "delete_payment",
                           payment["PaymentID"], {"Status": "DELETED"})
        [answer] = records(data, "Payments", "delete payment")
        if answer.get("StatusAttributeString") == "ERROR" or answer.get("Status") != "DELETED":
            messages = validation_messages([answer])
            return WriteResult(write.key, ok=False, target_id=ident,
                               error=f"payment {payment['PaymentID']} of {label} not deleted: "
                                     f"{'; '.join(messages) or 'Xero refused'}; void the invoice by hand")
        notes.append(f"payment of {payment.get('Amount')} deleted")
    if notes:
        [invoice] = records(client.call("read the invoice to void", "get_invoice", ident), "Invoices", "read invoice")
        status = invoice.get("Status")
    new = "VOIDED" if status == "AUTHORISED" else "DELETED"
    data = client.call(f"void {label}", "update_invoice", ident, {"Invoices": [{"InvoiceID": ident, "Status": new}]})
    [answer] = records(data, "Invoices", "void invoice")
    messages = validation_messages([answer])
    if answer.get("StatusAttributeString") == "ERROR" or (answer.get("HasErrors") and messages):
        return WriteResult(write.key, ok=False, target_id=ident, error="; ".join(messages) or "Xero refused the void")
    return WriteResult(write.key, ok=True, target_id=ident, target_number=invoice.get("InvoiceNumber"),
                       note="; ".join([f"{label} {new}", *notes]))


def _changed_since(invoice: dict, write: OrderWrite) -> str:
    """How the invoice differs from what Connex booked (``write.order``), or "" when it does not."""
    cents = Decimal("0.01")
    total = Decimal(str(invoice.get("Total") or 0)).quantize(cents)
    booked = Decimal(str(write.order.total)).quantize(cents)
    if total != booked:
        return f"was edited since it was booked (total {total}, booked {booked}); void it by hand"
    ours = amount_to_pay(write.order) if write.options.get("record_payments") else Decimal(0)
    paid = Decimal(str(invoice.get("AmountPaid") or 0))
    if paid > ours:
        return f"was paid since it was booked ({paid} received, Connex recorded {ours}); void it by hand"
    return ""

def _our_credit(client: XeroClient, invoice: dict[str, Any]) -> str:
    """The number of the credit note Connex wrote to cancel ``invoice`` (its Reference says so), or ""."""
    for ref in invoice.get("CreditNotes") or []:
        data = client.call("read a credit note of the invoice", "get_credit_note", ref["CreditNoteID"])
        for note in data.get("CreditNotes") or []:
            if note.get("Reference") == _reference(invoice):
                return str(note.get("CreditNoteNumber") or note.get("CreditNoteID"))
    return ""


def _reference(invoice: dict[str, Any]) -> str:
    return f"Cancels {invoice.get('InvoiceNumber')}"[:255]


def _failed(answer: dict[str, Any]) -> list[str]:
    messages = validation_messages([answer])
    if answer.get("StatusAttributeString") == "ERROR" or (answer.get("HasErrors") and messages):
        return messages or ["Xero refused it"]
    return []


def _credit(client: XeroClient, write: OrderWrite, invoice: dict[str, Any], label: str) -> WriteResult:
    """Credit a paid or part-paid invoice in full: a credit note with its lines, allocated to what is due."""
    lines = [{k: line[k] for k in CREDIT_LINE_FIELDS if line.get(k) not in (None, "")}
             for line in invoice.get("LineItems") or []]
    return credit_invoice(client, write, invoice, lines, _reference(invoice), label)


def credit_invoice(client: XeroClient, write: OrderWrite, invoice: dict[str, Any], lines: list[dict[str, Any]],
                   reference: str, label: str) -> WriteResult:
    """A credit note of ``lines`` for ``invoice``'s contact (AUTHORISED), allocated to what the invoice still has
    due; the rest stays as credit to refund. Idempotency-Keys from ``write.idempotency_key``."""
    ident = invoice["InvoiceID"]
    note = {"Type": "ACCRECCREDIT", "Status": "AUTHORISED", "Contact": {"ContactID": invoice["Contact"]["ContactID"]},
            "Reference": reference[:255], "LineAmountTypes": invoice.get("LineAmountTypes") or "Exclusive",
            "LineItems": lines}
    if invoice.get("CurrencyCode"):
        note["CurrencyCode"] = invoice["CurrencyCode"]
    data = client.call(f"credit {label}", "create_credit_notes", {"CreditNotes": [note]}, summarize_errors=False,
                       unitdp=4, idempotency_key=f"connex-credit-{write.idempotency_key}"[:128])
    [answer] = records(data, "CreditNotes", "create credit note")
    if errors := _failed(answer):
        return WriteResult(write.key, ok=False, target_id=ident, error=f"credit note for {label} not created: "
                                                                          f"{'; '.join(errors)}")
    number, total = answer.get("CreditNoteNumber"), Decimal(str(answer.get("Total") or 0))
    due = min(Decimal(str(invoice.get("AmountDue") or 0)), total)
    notes = [f"{label} credited by credit note {number} of {total:.2f}"]
    if due > 0:
        allocation = {"Amount": due, "Invoice": {"InvoiceID": ident}, "Date": client.clock.utcnow().date().isoformat()}
        data = client.call(f"allocate credit note {number} to {label}", "create_credit_note_allocation",
                           answer["CreditNoteID"], {"Allocations": [allocation]}, summarize_errors=False,
                           idempotency_key=f"connex-allocate-{write.idempotency_key}"[:128])
        [allocated] = records(data, "Allocations", "allocate credit note")
        if errors := _failed(allocated):
            return WriteResult(write.key, ok=False, target_id=ident,
                               error=f"credit note {number} created, but not allocated to {label}: {'; '.join(errors)}; "
                                     "allocate it in Xero")
        notes.append(f"{due:.2f} allocated to what was due")
    if total - due > 0:
        notes.append(f"{total - due:.2f} paid already, left as credit on {number} to refund")
    return WriteResult(write.key, ok=True, target_id=ident, target_number=invoice.get("InvoiceNumber"),
                       note="; ".join(notes))
