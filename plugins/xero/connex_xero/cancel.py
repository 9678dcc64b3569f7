"""Void the invoices of orders cancelled after they were booked (``on_cancel = "void"``, issue 14).

Xero (api-contracts §3.2, Xero's Invoices documentation): an AUTHORISED invoice can become VOIDED only while it
has no payments (``POST /Invoices/{InvoiceID}`` with ``Status`` VOIDED); a DRAFT or SUBMITTED one is DELETED
instead; PAID and VOIDED invoices are read-only. A paid or part-paid invoice's payments are deleted first
(``deletePayment``: ``POST /Payments/{PaymentID}`` with ``{"Status": "DELETED"}``, xero_accounting.yaml), which
reopens it, then it is voided: as in QuickBooks, the money is no longer recorded as received for a sale that
did not happen. An invoice with a credit note allocated is not touched: the order is held with the reason.

Taking back a run (``connex undo``, ``write.undo``): the same, but an invoice changed since Connex wrote it is left:
its total is not the booked order's (edited in Xero), or more is paid on it than the payment Connex recorded.
"""

from __future__ import annotations

from decimal import Decimal

from connex_core.api import FatalAPIError, OrderWrite, WriteResult

from .client import XeroClient, records, validation_messages
from .mapping import amount_to_pay


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
    if credited > 0:
        return WriteResult(write.key, ok=False, target_id=ident,
                           error=f"{label} has {credited} credited; Xero voids only invoices with nothing allocated: "
                                 "remove the credit note's allocation in Xero, then void it")
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
