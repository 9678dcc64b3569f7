"""Credit notes and their allocations in the simulated organisation (xero_accounting.yaml).

* ``createCreditNotes`` (``PUT /CreditNotes``, ``{"CreditNotes": [...]}``): a ``CreditNote`` has ``Type``
  (``ACCRECCREDIT`` for a customer, ``ACCPAYCREDIT`` for a supplier), ``Contact``, ``Date``, ``Status`` (DRAFT,
  SUBMITTED, AUTHORISED; the spec's enum also has PAID and VOIDED, which Xero sets), ``LineAmountTypes``,
  ``LineItems``, ``CreditNoteNumber`` (generated "CN-nnnn" when not given), ``Reference``; read-only ``SubTotal``,
  ``TotalTax``, ``Total``, ``RemainingCredit``, ``Allocations[]``, ``Payments[]``. Lines and totals as an
  invoice's (:meth:`Books._lines`, :meth:`Books._totals`).
* ``createCreditNoteAllocation`` (``PUT /CreditNotes/{CreditNoteID}/Allocations``, ``{"Allocations": [{Amount,
  Invoice: {InvoiceID}, Date}]}``, all three required by the ``Allocation`` schema): the amount is applied to the
  invoice: its ``AmountCredited`` grows and ``AmountDue`` shrinks, its ``CreditNotes[]`` lists the credit note, and
  it becomes PAID when nothing is due (only Xero sets PAID, api-contracts §3.2); the credit note's
  ``RemainingCredit`` shrinks, PAID at 0.
* Rules the simulator enforces (its messages are its own wording, **unverified**): only an AUTHORISED credit note is
  allocated, to an AUTHORISED invoice of the same contact and kind (ACCREC with ACCRECCREDIT); the amount is more
  than 0, at most the remaining credit and at most the invoice's amount due.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..msdate import to_ms_date
from .simbooks import ZERO, Outcome, _date, money, new_id

if TYPE_CHECKING:
    from .simbooks import Books

KINDS = {"ACCRECCREDIT": "ACCREC", "ACCPAYCREDIT": "ACCPAY"}


def create_credit_note(books: "Books", element: dict[str, Any]) -> Outcome:
    errors: list[str] = []
    kind = element.get("Type")
    if kind not in KINDS:
        errors.append("The Type field is mandatory: ACCRECCREDIT or ACCPAYCREDIT.")
    status = element.get("Status") or "DRAFT"
    if status not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
        errors.append(f"Credit notes cannot be created with status {status}.")
    try:
        issued = _date(element.get("Date")) or books.now().date()
    except ValueError:
        errors.append("Date must be a date (yyyy-mm-dd).")
        issued = books.now().date()
    if status != "DRAFT" and books.period_lock_date and issued <= books.period_lock_date:
        from .simbooks import locked_message

        errors.append(locked_message(books.period_lock_date))
    lines = books._lines(element.get("LineItems") or [], {}, status, errors)
    if status != "DRAFT" and not lines:
        errors.append("An approved credit note must have at least one line item.")
    contact = books._resolve_contact(element.get("Contact"), errors) if not errors else None
    if errors:
        return Outcome(errors=errors)
    books._credit_number = getattr(books, "_credit_number", 0) + 1
    note = {"Type": kind, "CreditNoteID": new_id(),
            "CreditNoteNumber": element.get("CreditNoteNumber") or f"CN-{books._credit_number:04d}",
            "Reference": element.get("Reference", ""), "ContactID": contact["ContactID"], "Date": issued,
            "Status": status, "LineAmountTypes": element.get("LineAmountTypes", "Exclusive"), "LineItems": lines,
            "CurrencyCode": element.get("CurrencyCode") or "USD", "CurrencyRate": Decimal("1"),
            "AmountPaid": ZERO, "AmountCredited": ZERO, "Allocations": [], "Payments": [],
            "UpdatedDateUTC": books.now()}
    books._totals(note)  # SubTotal, TotalTax, Total (an invoice's arithmetic)
    note.pop("AmountDue", None)
    note["RemainingCredit"] = note["Total"]
    books.credit_notes[note["CreditNoteID"]] = note
    return Outcome(record=note)


def allocate(books: "Books", note: dict[str, Any], element: dict[str, Any]) -> Outcome:
    given = element.get("Invoice") if isinstance(element.get("Invoice"), dict) else {}
    invoice = books.invoices.get(str(given.get("InvoiceID", "")).lower())
    if invoice is None:
        return Outcome(errors=["Invoice could not be found"])
    if element.get("Date") in (None, "") or element.get("Amount") in (None, ""):
        return Outcome(errors=["Amount, Invoice and Date are required for an allocation."])  # Allocation: required
    try:
        amount = money(element["Amount"])
        day = _date(element["Date"])
    except (ArithmeticError, ValueError):
        return Outcome(errors=["Amount must be a number and Date a date."])
    if note["Status"] != "AUTHORISED":
        return Outcome(errors=[f"Only an authorised credit note can be allocated ({note['Status']})."])
    if invoice["Status"] != "AUTHORISED" or KINDS[note["Type"]] != invoice["Type"] or \
            invoice["ContactID"] != note["ContactID"]:
        return Outcome(errors=["The credit note can only be allocated to an authorised invoice of the same contact "
                               f"({invoice['Status']})."])
    if amount <= 0:
        return Outcome(errors=["The allocation amount must be greater than zero."])
    if amount > note["RemainingCredit"]:
        return Outcome(errors=["The allocation amount is more than the credit note's remaining credit."])
    if amount > invoice["AmountDue"]:
        return Outcome(errors=["The allocation amount is more than the invoice's amount due."])
    allocation = {"AllocationID": new_id(), "Amount": amount,
                  "Date": datetime.combine(day or books.now().date(), datetime.min.time(), tzinfo=books.now().tzinfo),
                  "InvoiceID": invoice["InvoiceID"], "CreditNoteID": note["CreditNoteID"]}
    note["Allocations"].append(allocation)
    note["RemainingCredit"] = money(note["RemainingCredit"] - amount)
    if note["RemainingCredit"] <= 0:
        note["Status"] = "PAID"
    invoice["AmountCredited"] = money(invoice["AmountCredited"] + amount)
    invoice["AmountDue"] = money(invoice["Total"] - invoice["AmountPaid"] - invoice["AmountCredited"])
    invoice.setdefault("CreditNoteRefs", []).append(
        {"CreditNoteID": note["CreditNoteID"], "CreditNoteNumber": note["CreditNoteNumber"], "AppliedAmount": amount,
         "Total": note["Total"]})
    if invoice["AmountDue"] <= 0:
        invoice["Status"] = "PAID"
        invoice["FullyPaidOnDate"] = books.now()
    invoice["UpdatedDateUTC"] = note["UpdatedDateUTC"] = books.now()
    books.add_history(invoice["InvoiceID"], "Credit Note", f"Credit note {note['CreditNoteNumber']} of {amount} applied.")
    return Outcome(record=allocation)


def credit_note_json(books: "Books", note: dict[str, Any]) -> dict[str, Any]:
    contact = books.contacts[note["ContactID"]]
    out = {k: v for k, v in note.items() if k not in ("ContactID", "AmountPaid", "AmountCredited")}
    out["Contact"] = {"ContactID": contact["ContactID"], "Name": contact["Name"]}
    out["Date"], out["DateString"] = to_ms_date(note["Date"]), f"{note['Date'].isoformat()}T00:00:00"
    out["UpdatedDateUTC"] = to_ms_date(note["UpdatedDateUTC"])
    out["Allocations"] = [allocation_json(books, a) for a in note["Allocations"]]
    out["LineItems"] = [dict(line) for line in note["LineItems"]]
    return out


def allocation_json(books: "Books", allocation: dict[str, Any]) -> dict[str, Any]:
    """As the spec's example answer of createCreditNoteAllocation: Amount, Date, Invoice, CreditNote."""
    invoice = books.invoices[allocation["InvoiceID"]]
    return {"AllocationID": allocation["AllocationID"], "Amount": allocation["Amount"],
            "Date": to_ms_date(allocation["Date"]),
            "Invoice": {"InvoiceID": invoice["InvoiceID"], "InvoiceNumber": invoice["InvoiceNumber"],
                        "AmountDue": invoice["AmountDue"], "AmountCredited": invoice["AmountCredited"],
                        "Payments": [], "CreditNotes": [], "Prepayments": [], "Overpayments": [],
                        "HasErrors": False, "IsDiscounted": False, "LineItems": [], "ValidationErrors": []},
            "CreditNote": {"CreditNoteID": allocation["CreditNoteID"], "ID": allocation["CreditNoteID"],
                           "LineItems": []},
            "ValidationErrors": []}
