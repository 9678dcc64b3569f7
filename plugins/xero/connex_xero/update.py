"""Update the invoices of orders changed after booking (``on_update = "update"``, issue 14).

Xero (api-contracts §3.2, Xero's Invoices documentation; ``updateInvoice`` in xero_accounting.yaml): ``POST
/Invoices/{InvoiceID}`` with ``{"Invoices": [{InvoiceID, ...}]}`` updates one invoice; lines whose
``LineItemID`` is not sent are removed, so the order's whole line list is sent. Only DRAFT, SUBMITTED and
AUTHORISED invoices with nothing paid or credited may change ("Most fields of AUTHORISED invoices can still be
edited while unpaid. PAID and VOIDED invoices are effectively read-only."); Xero refuses the rest ("This document
cannot be edited as it has a payment or credit note allocated to it."), and a date in a locked period.

So: the invoice is read first; a PAID, VOIDED or DELETED invoice, or one with a payment or credit allocated, is not
sent (the order is held with the reason); otherwise its lines, reference, dates and currency become the order's
(the contact and the number stay). Xero's own refusal (a locked period, ...) is the order's reason. With
``record_payments``, an order that now has something paid gets its payment on the updated AUTHORISED invoice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connex_core.api import FatalAPIError, OrderWrite, WriteResult

from .client import records, validation_messages
from .mapping import invoice_to_xero

if TYPE_CHECKING:
    from .connector import XeroConnector

EDITABLE = ("DRAFT", "SUBMITTED", "AUTHORISED")
#: What an update sends of the invoice element: what the order decides, not who it is for or its number.
UPDATED_FIELDS = ("LineItems", "Reference", "Date", "DueDate", "LineAmountTypes", "CurrencyCode")


def refusal(invoice: dict[str, Any]) -> str:
    """Why Xero would not let ``invoice`` change ("" when it would)."""
    label = f"invoice {invoice.get('InvoiceNumber') or invoice.get('InvoiceID')}"
    status = invoice.get("Status")
    if status not in EDITABLE:
        return (f"{label} is {status} in Xero, which keeps {str(status).lower()} invoices as they are: change it by "
                "hand (a credit note), or set on_update = \"ignore\"")
    paid = Decimal(str(invoice.get("AmountPaid") or 0))
    credited = Decimal(str(invoice.get("AmountCredited") or 0))
    if paid > 0 or credited > 0:
        return (f"{label} has {paid + credited} paid or credited in Xero, which does not edit an invoice with a payment "
                "or credit note allocated: change it by hand, or set on_update = \"ignore\"")
    return ""


def update(connector: "XeroConnector", writes: list[OrderWrite]) -> list[WriteResult]:
    results = []
    for write in writes:
        try:
            results.append(_update_one(connector, write))
        except FatalAPIError as exc:
            results.append(WriteResult(write.key, ok=False, target_id=write.target_ref, error=str(exc)))
    return results


def _update_one(connector: "XeroConnector", write: OrderWrite) -> WriteResult:
    client, ident = connector.client, write.target_ref or ""
    [invoice] = records(client.call("read the invoice to update", "get_invoice", ident), "Invoices", "read invoice")
    if why := refusal(invoice):
        return WriteResult(write.key, ok=False, target_id=ident, error=why)
    element = invoice_to_xero(write.order, connector.settings, None, connector._known_items())
    body = {"InvoiceID": ident, **{k: element[k] for k in UPDATED_FIELDS if k in element}}
    data = client.call(f"update invoice {invoice.get('InvoiceNumber')}", "update_invoice", ident,
                       {"Invoices": [body]}, unitdp=4)
    [answer] = records(data, "Invoices", "update invoice")
    messages = validation_messages([answer])
    if answer.get("StatusAttributeString") == "ERROR" or (answer.get("HasErrors") and messages):
        return WriteResult(write.key, ok=False, target_id=ident,
                           error=f"Xero refused the update: {'; '.join(messages) or 'rejected'}")
    result = WriteResult(write.key, ok=True, target_id=ident, target_number=answer.get("InvoiceNumber"),
                         note=f"invoice {answer.get('InvoiceNumber')} updated (total {answer.get('Total')}, "
                              f"{answer.get('Status')})")
    connector._record_payments([(write, answer)], {write.key: result}, kind="update-payments")
    return result
