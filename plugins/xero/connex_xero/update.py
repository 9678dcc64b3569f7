"""Update the invoices of orders changed after booking (``on_update = "update"``, issue 14).

Xero (api-contracts §3.2, Xero's Invoices documentation; ``updateInvoice`` in xero_accounting.yaml): ``POST
/Invoices/{InvoiceID}`` with ``{"Invoices": [{InvoiceID, ...}]}`` updates one invoice; lines whose
``LineItemID`` is not sent are removed, so the order's whole line list is sent. Only DRAFT, SUBMITTED and
AUTHORISED invoices with nothing paid or credited may change ("Most fields of AUTHORISED invoices can still be
edited while unpaid. PAID and VOIDED invoices are effectively read-only."); Xero refuses the rest ("This document
cannot be edited as it has a payment or credit note allocated to it."), and a date in a locked period.

So: the invoice is read first; a PAID, VOIDED or DELETED invoice, or one with a payment or credit allocated, is not
sent: when the new version only takes lines away (a line removed, or fewer of it) from a PAID or part-paid invoice,
those lines are credited instead (a credit note allocated to what is due, the rest left as credit to refund:
:func:`.cancel.credit_invoice`); any other change is held with the reason; otherwise its lines, reference, dates and
currency become the order's, and its contact the order's buyer (the number stays). Xero's own refusal (a locked
period, ...) is the order's reason. With ``record_payments``, an order that now has something paid gets its payment
on the updated AUTHORISED invoice; when only what was paid changed (``write.change == "payment"``) on an invoice
with a payment, the payment of the difference is recorded and the invoice left as it is (less paid is held).

The buyer (api-contracts §3.2 and §3.4; ``Invoice.Contact`` is writable in xero_accounting.yaml and the
``updateInvoice`` example sends one): a Xero invoice has no name, e-mail or address of its own, only its
``Contact`` (``{ContactID}``), whose POBOX address Xero prints on it. So a buyer named differently puts the invoice
on the contact of that name (matched by name, or created with the order's details, as a new invoice is); an e-mail,
phone or address the edit changed (the version booked, ``write.booked``, against the new one) is sent to the
contact (``POST /Contacts/{ContactID}``, ``updateContact``) once the invoice is updated.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Optional

from connex_core.api import FatalAPIError, OrderWrite, WriteResult

from .cancel import CREDIT_LINE_FIELDS, credit_invoice
from .client import records, validation_messages
from .mapping import amount_to_pay, contact_name, contact_to_xero, invoice_to_xero

if TYPE_CHECKING:
    from .connector import XeroConnector

EDITABLE = ("DRAFT", "SUBMITTED", "AUTHORISED")
CENT = Decimal("0.01")
#: What an update sends of the invoice element: what the order decides (with its ``Contact``), not its number.
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


def _key(line: dict[str, Any]) -> tuple[str, Decimal, str]:
    return (str(line.get("Description") or ""), Decimal(str(line.get("UnitAmount") or 0)), str(line.get("AccountCode") or ""))


def removed(invoice: dict[str, Any], element: dict[str, Any]) -> Optional[list[dict[str, Any]]]:
    """The lines of ``invoice`` the new ``element`` no longer has (a line gone, or fewer of it), as credit note
    lines (each with its share of the line's tax); None when the element adds or changes anything else (a credit
    note can only take away)."""
    had: Counter = Counter()
    lines: dict[tuple, dict[str, Any]] = {}
    for line in invoice.get("LineItems") or []:
        had[_key(line)] += Decimal(str(line.get("Quantity") or 0))
        lines.setdefault(_key(line), line)
    wanted: Counter = Counter()
    for line in element.get("LineItems") or []:
        wanted[_key(line)] += Decimal(str(line.get("Quantity") or 0))
    if any(quantity > had.get(key, 0) for key, quantity in wanted.items()):
        return None
    credit = []
    for key, quantity in had.items():
        gone = quantity - wanted.get(key, 0)
        if gone <= 0:
            continue
        line = {k: lines[key][k] for k in CREDIT_LINE_FIELDS if lines[key].get(k) not in (None, "")}
        line["Quantity"] = gone
        if line.get("TaxAmount") is not None and quantity:
            line["TaxAmount"] = (Decimal(str(line["TaxAmount"])) * gone / quantity).quantize(Decimal("0.01"))
        if gone != quantity:
            line.pop("DiscountAmount", None)  # a discount is the whole line's: kept with a line removed in full
        credit.append(line)
    return credit or None


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
    element = invoice_to_xero(write.order, connector.settings, None, connector._known_items())
    received = Decimal(str(invoice.get("AmountPaid") or 0))
    if write.change == "payment" and received > 0 and invoice.get("Status") in ("AUTHORISED", "PAID"):
        return _paid_since(connector, write, invoice, received)
    if why := refusal(invoice):
        if invoice.get("Status") in ("AUTHORISED", "PAID") and (lines := removed(invoice, element)):
            label = f"invoice {invoice.get('InvoiceNumber')}"
            return credit_invoice(client, write, invoice, lines,
                                  f"Lines removed from {invoice.get('InvoiceNumber')}", label)
        return WriteResult(write.key, ok=False, target_id=ident, error=why)
    contacts: dict[str, WriteResult] = {}
    contact_id = connector._contacts_for([write], contacts).get(contact_name(write.order).lower())
    made = connector._take_made(contact_id)  # a contact it created
    if write.key in contacts or not contact_id:
        return WriteResult(write.key, ok=False, target_id=ident, created=made,
                           error=contacts[write.key].error if write.key in contacts else "the contact was not found")
    body = {"InvoiceID": ident, "Contact": {"ContactID": contact_id},
            **{k: element[k] for k in UPDATED_FIELDS if k in element}}
    data = client.call(f"update invoice {invoice.get('InvoiceNumber')}", "update_invoice", ident,
                       {"Invoices": [body]}, unitdp=4)
    [answer] = records(data, "Invoices", "update invoice")
    messages = validation_messages([answer])
    if answer.get("StatusAttributeString") == "ERROR" or (answer.get("HasErrors") and messages):
        return WriteResult(write.key, ok=False, target_id=ident, created=made,
                           error=f"Xero refused the update: {'; '.join(messages) or 'rejected'}")
    moved = (invoice.get("Contact") or {}).get("ContactID") != contact_id
    result = WriteResult(write.key, ok=True, target_id=ident, target_number=answer.get("InvoiceNumber"), created=made,
                         note=f"invoice {answer.get('InvoiceNumber')} updated (total {answer.get('Total')}, "
                              f"{answer.get('Status')}{f', contact {contact_name(write.order)}' if moved else ''})"
                              + _buyer_details(connector, write, contact_id))
    connector._record_payments([(write, answer)], {write.key: result}, kind="update-payments")
    return result


def _paid_since(connector: "XeroConnector", write: OrderWrite, invoice: dict[str, Any], received: Decimal) -> WriteResult:
    """The sale is the same, only what was paid changed, on an invoice with a payment (which Xero does not edit): a
    payment of the difference (``record_payments``), the invoice left as it is; less paid than Xero has: held."""
    ident, label = invoice["InvoiceID"], f"invoice {invoice.get('InvoiceNumber')}"
    received, now = received.quantize(CENT), amount_to_pay(write.order).quantize(CENT)
    if now < received:
        return WriteResult(write.key, ok=False, target_id=ident,
                           error=f"{label} has {received} paid in Xero, but the order now says {now}: a refund is not "
                                 "recorded by Connex: change it by hand (refund or delete the payment), or set "
                                 "on_update = \"ignore\"")
    result = WriteResult(write.key, ok=True, target_id=ident, target_number=invoice.get("InvoiceNumber"),
                         note=f"{label} left as it is (the sale is the same; {received} paid on it)")
    more = min(now - received, Decimal(str(invoice.get("AmountDue") or 0)))
    if more > 0:
        connector._record_payments([(write, invoice)], {write.key: result}, kind="update-payments",
                                   amounts={write.key: more})
    return result


#: What a contact holds of the buyer besides the name, as the notes name it.
DETAILS = {"EmailAddress": "e-mail", "Phones": "phone", "Addresses": "addresses"}


def _buyer_details(connector: "XeroConnector", write: OrderWrite, contact_id: str) -> str:
    """The buyer's e-mail, phone and addresses sent to the contact when the edit changed them: a note ("" when
    nothing changed or the version booked is not known). A refusal is noted, the invoice being updated."""
    if write.booked is None:
        return ""
    now, then = contact_to_xero(write.order), contact_to_xero(write.booked)
    changed = [k for k in DETAILS if now.get(k) != then.get(k)]
    if not changed:
        return ""
    name = contact_name(write.order)
    element = {"ContactID": contact_id, **{k: now.get(k) or ([] if k != "EmailAddress" else "") for k in changed}}
    what = ", ".join(DETAILS[k] for k in changed)
    try:
        [answer] = records(connector.client.call(f"update contact {name}", "update_contact", contact_id,
                                                 {"Contacts": [element]}), "Contacts", "update contact")
    except FatalAPIError as exc:
        return f"; the contact's {what} not updated: {exc}"
    if answer.get("StatusAttributeString") == "ERROR" or answer.get("HasValidationErrors"):
        return f"; the contact's {what} not updated: {'; '.join(validation_messages([answer])) or 'rejected'}"
    return f"; contact {name}: {what} updated"
