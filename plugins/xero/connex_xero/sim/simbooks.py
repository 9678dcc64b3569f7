"""The simulated organisation's books: contacts, invoices, history, tracking categories, items.

This is the state behind :class:`~connex_xero.sim.simulator.XeroSimulator`, kept apart from HTTP:
it validates elements the way Xero does (messages in Xero's words, one list per element),
computes totals (Exclusive / Inclusive / NoTax line amounts, tax rates by TaxType, discounts),
enforces the status rules (PAID and VOIDED invoices are read-only; an AUTHORISED invoice with a
payment cannot be edited) and renders records as Xero's JSON.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable, Optional

from ..msdate import parse_ms_date, to_ms_date

CENT = Decimal("0.01")
ZERO = Decimal("0")

#: Tax rates of the simulated organisation, by TaxType.
TAX_RATES: dict[str, Decimal] = {"NONE": ZERO, "EXEMPTOUTPUT": ZERO, "OUTPUT": Decimal("0.15"),
                                 "TAX001": Decimal("0.0825")}
#: Accounts of the simulated organisation (codes and names of Xero's default chart).
ACCOUNTS: dict[str, str] = {"200": "Sales", "260": "Other Revenue", "270": "Interest Income", "400": "Advertising",
                            "425": "Freight & Courier"}
CURRENCIES = {"USD", "NZD", "AUD", "GBP", "EUR", "CAD"}
EDITABLE = {"DRAFT", "SUBMITTED", "AUTHORISED"}
TRANSITIONS = {
    "DRAFT": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
    "SUBMITTED": {"SUBMITTED", "AUTHORISED", "DRAFT", "DELETED"},
    "AUTHORISED": {"AUTHORISED", "VOIDED"},
    "PAID": {"PAID"},
    "VOIDED": {"VOIDED"},
    "DELETED": {"DELETED"},
}
PAID_MESSAGE = "This document cannot be edited as it has a payment or credit note allocated to it."


def locked_message(lock: date) -> str:
    """Xero's refusal of a document dated in a locked period. Wording as Xero gives it for the end of year lock date
    ("The document date cannot be before the end of year lock date, currently set at 31-Jul-2013", xeroizer issue
    #92); the period lock date's is assumed alike (**unverified**)."""
    return f"The document date cannot be before the period lock date, currently set at {lock.strftime('%d-%b-%Y')}"


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)


def new_id() -> str:
    return str(uuid.uuid4())


def _date(value: Any) -> Optional[date]:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    parsed = parse_ms_date(str(value))
    return parsed.date() if parsed else None


@dataclass
class Outcome:
    """The result of one element of a write: the stored record, or the validation messages."""

    record: Optional[dict[str, Any]] = None
    errors: list[str] = field(default_factory=list)


class Books:
    """One organisation's data, changed one request at a time (the simulator holds its lock)."""

    def __init__(self, now: Callable[[], datetime], app_name: str = "Connex"):
        self.now = now
        self.app_name = app_name
        self.unique_invoice_numbers = True
        """Xero refuses an ACCREC invoice whose InvoiceNumber another (not deleted) one has ("Invoice # must be
        unique.", Xero's validation error for invoices). The chaos harness turns it off (issue 15), so that a
        duplicate it finds is one Connex posted, not one this check refused."""
        self.period_lock_date: Optional[date] = None
        """The organisation's ``PeriodLockDate`` (``Organisation`` in xero_accounting.yaml): no approved document
        dated on or before it is created or changed (:func:`locked_message`)."""
        self.contacts: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.tracking: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.credit_notes: dict[str, dict[str, Any]] = {}
        """Credit notes by CreditNoteID (:mod:`.simcredit`)."""
        self.accounts: dict[str, dict[str, Any]] = {}
        # The chart: a bank account, the accounts of ACCOUNTS, and the equity account with payments enabled
        # that the createPayments example pays to.
        kinds = {"200": "REVENUE", "260": "REVENUE", "270": "REVENUE", "400": "EXPENSE", "425": "EXPENSE"}
        for code, name, kind, enabled in ([("090", "Business Bank Account", "BANK", False)]
                                          + [(c, n, kinds.get(c, "REVENUE"), False) for c, n in ACCOUNTS.items()]
                                          + [("970", "Owner A Funds Introduced", "EQUITY", True)]):
            self.accounts[code] = {"AccountID": new_id(), "Code": code, "Name": name, "Type": kind, "Status": "ACTIVE",
                                   "EnablePaymentsToAccount": enabled, "TaxType": "NONE"}
        self._number = 0

    # -- reference data ---------------------------------------------------------------------------
    def add_tracking_category(self, name: str, options: list[str]) -> dict[str, Any]:
        category = {"TrackingCategoryID": new_id(), "Name": name, "Status": "ACTIVE",
                    "Options": [{"TrackingOptionID": new_id(), "Name": o, "Status": "ACTIVE",
                                 "HasValidationErrors": False, "IsDeleted": False, "IsArchived": False,
                                 "IsActive": True} for o in options]}
        self.tracking[category["TrackingCategoryID"]] = category
        return category

    def add_item(self, code: str, name: str, price: Decimal) -> dict[str, Any]:
        item = {"ItemID": new_id(), "Code": code, "Name": name, "Description": name, "IsSold": True,
                "IsPurchased": False, "SalesDetails": {"UnitPrice": price, "AccountCode": "200"},
                "UpdatedDateUTC": self.now()}
        self.items[code.lower()] = item
        return item

    def _option(self, line_tracking: dict[str, Any]) -> Optional[dict[str, Any]]:
        for category in self.tracking.values():
            if category["Status"] != "ACTIVE":
                continue
            if line_tracking.get("TrackingCategoryID") not in (None, category["TrackingCategoryID"]):
                continue
            if "Name" in line_tracking and line_tracking["Name"].lower() != category["Name"].lower():
                continue
            for option in category["Options"]:
                if option["Status"] != "ACTIVE":
                    continue
                if line_tracking.get("TrackingOptionID") == option["TrackingOptionID"] or (
                        str(line_tracking.get("Option", "")).lower() == option["Name"].lower()):
                    return {"TrackingCategoryID": category["TrackingCategoryID"], "Name": category["Name"],
                            "TrackingOptionID": option["TrackingOptionID"], "Option": option["Name"]}
        return None

    # -- contacts ---------------------------------------------------------------------------------
    def find_contact_by_name(self, name: str) -> Optional[dict[str, Any]]:
        for contact in self.contacts.values():
            if contact["ContactStatus"] == "ACTIVE" and contact["Name"].lower() == name.lower():
                return contact
        return None

    def _check_name(self, name: str, except_id: Optional[str] = None) -> Optional[str]:
        """Why a contact may not take ``name`` (None when it may). createContacts' name rules: required, and unique
        among active contacts other than ``except_id`` (api-contracts §3.4, the message of
        ``spec_createContacts_400.json``)."""
        if not name:
            return "The contact name field is mandatory."
        other = self.find_contact_by_name(name)
        if other is not None and other["ContactID"] != except_id:
            return (f"The contact name {name} is already assigned to another contact. "
                    "The contact name must be unique across all active contacts.")
        return None

    def create_contact(self, element: dict[str, Any]) -> Outcome:
        name = (element.get("Name") or "").strip()
        refusal = self._check_name(name)
        if refusal:
            return Outcome(errors=[refusal])
        addresses = {a.get("AddressType"): a for a in element.get("Addresses") or [] if isinstance(a, dict)}
        contact = {
            "ContactID": new_id(), "ContactStatus": "ACTIVE", "Name": name,
            "FirstName": element.get("FirstName", ""), "LastName": element.get("LastName", ""),
            "EmailAddress": element.get("EmailAddress", ""),
            **({"ContactNumber": str(element["ContactNumber"])[:50]} if element.get("ContactNumber") else {}),
            "Addresses": [self._address(kind, addresses.get(kind, {})) for kind in ("STREET", "POBOX")],
            "Phones": [{"PhoneType": t, "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""}
                       for t in ("DDI", "DEFAULT", "FAX", "MOBILE")],
            "UpdatedDateUTC": self.now(), "ContactGroups": [], "IsSupplier": False, "IsCustomer": False,
            "ContactPersons": [], "HasAttachments": False, "HasValidationErrors": False,
        }
        for phone in element.get("Phones") or []:
            for stored in contact["Phones"]:
                if stored["PhoneType"] == phone.get("PhoneType"):
                    stored.update({k: v for k, v in phone.items() if k in stored})
        self.contacts[contact["ContactID"]] = contact
        return Outcome(record=contact)

    def update_contact(self, contact: dict[str, Any], element: dict[str, Any]) -> Outcome:
        """``updateContact`` (``POST /Contacts/{ContactID}``, xero_accounting.yaml: "an array of Contacts containing
        single Contact object with properties to update"): the fields sent change, the others stay; an address or
        phone replaces the one of its type. A name sent meets createContacts' name rules (:meth:`_check_name`:
        required, and unique among active contacts; api-contracts §3.4, the message of
        ``spec_createContacts_400.json``)."""
        name = str(element.get("Name") or "").strip()
        refusal = self._check_name(name, except_id=contact["ContactID"]) if "Name" in element else None
        if refusal:
            return Outcome(errors=[refusal])
        for key in ("Name", "FirstName", "LastName", "EmailAddress"):
            if key in element:
                contact[key] = str(element[key] or "").strip() if key == "Name" else str(element[key] or "")
        given = {a.get("AddressType"): a for a in element.get("Addresses") or [] if isinstance(a, dict)}
        contact["Addresses"] = [self._address(a["AddressType"], given[a["AddressType"]])
                                if a["AddressType"] in given else a for a in contact["Addresses"]]
        for phone in element.get("Phones") or []:
            for stored in contact["Phones"]:
                if stored["PhoneType"] == phone.get("PhoneType"):
                    stored.update({k: v for k, v in phone.items() if k in stored})
        contact["UpdatedDateUTC"] = self.now()
        return Outcome(record=contact)

    @staticmethod
    def _address(kind: str, given: dict[str, Any]) -> dict[str, Any]:
        keys = ("AddressLine1", "AddressLine2", "AddressLine3", "AddressLine4", "City", "Region", "PostalCode",
                "Country", "AttentionTo")
        return {"AddressType": kind, **{k: str(given.get(k) or "") for k in keys}}

    # -- invoices ---------------------------------------------------------------------------------
    def next_number(self) -> str:
        while True:
            self._number += 1
            number = f"INV-{self._number:04d}"
            if not self.find_invoice_by_number(number):
                return number

    def find_invoice_by_number(self, number: str) -> Optional[dict[str, Any]]:
        for invoice in self.invoices.values():
            if invoice["Type"] == "ACCREC" and invoice["Status"] != "DELETED" and \
                    (invoice.get("InvoiceNumber") or "").lower() == number.lower():
                return invoice
        return None

    def _lines(self, raw_lines: Any, old: dict[str, dict[str, Any]], status: str, errors: list[str]) -> list[dict]:
        lines = []
        if not isinstance(raw_lines, list):
            errors.append("LineItems must be a list.")
            return lines
        for raw in raw_lines:
            line: dict[str, Any] = dict(old.get(raw.get("LineItemID") or "", {}))
            line.update({k: v for k, v in raw.items() if k != "Tracking"})
            line.setdefault("LineItemID", new_id())
            if not line.get("Description") and not line.get("ItemCode"):
                errors.append("Description is mandatory for each line item.")
            try:
                line["Quantity"] = Decimal(str(line.get("Quantity", 1)))
                line["UnitAmount"] = Decimal(str(line.get("UnitAmount", 0)))
                for key in ("DiscountRate", "DiscountAmount", "TaxAmount"):
                    if line.get(key) is not None:
                        line[key] = Decimal(str(line[key]))
            except (InvalidOperation, ValueError):
                errors.append("Quantity, UnitAmount, DiscountAmount and TaxAmount must be numbers.")
                continue
            code = line.get("ItemCode")
            if code:
                item = self.items.get(str(code).lower())
                if item is None:
                    errors.append(f"Item code '{code}' is not valid")
                elif not line.get("Description"):
                    line["Description"] = item["Description"]
            account = line.get("AccountCode")
            if account and account not in ACCOUNTS:
                errors.append(f"Account code '{account}' is not a valid code for this document.")
            elif not account and status != "DRAFT":
                errors.append("Account code is mandatory for approved invoices.")
            tax_type = line.get("TaxType") or ("TAX001" if account else None)
            if tax_type and tax_type not in TAX_RATES:
                errors.append(f"The TaxType code '{tax_type}' does not exist or cannot be used for this type "
                              "of transaction.")
            line["TaxType"] = tax_type or "NONE"
            tracking = raw.get("Tracking", line.get("Tracking")) or []
            if len(tracking) > 2:
                errors.append("A line item can have at most 2 tracking categories.")
            resolved = []
            for t in tracking:
                option = self._option(t)
                if option is None:
                    option_name = t.get("Option", t.get("TrackingOptionID"))
                    category_name = t.get("Name", t.get("TrackingCategoryID"))
                    errors.append(f"Tracking option '{option_name}' for tracking category '{category_name}' "
                                  "does not exist or is archived.")
                else:
                    resolved.append(option)
            line["Tracking"] = resolved
            line.setdefault("ValidationErrors", [])
            lines.append(line)
        return lines

    @staticmethod
    def _totals(invoice: dict[str, Any]) -> None:
        kind = invoice.get("LineAmountTypes") or "Exclusive"
        subtotal = tax_total = discount_total = ZERO
        for line in invoice["LineItems"]:
            gross = line["Quantity"] * line["UnitAmount"]
            if line.get("DiscountAmount") is not None:
                discount = line["DiscountAmount"]
            elif line.get("DiscountRate") is not None:
                discount = gross * line["DiscountRate"] / 100
            else:
                discount = ZERO
            amount = money(gross - discount)
            rate = ZERO if kind == "NoTax" else TAX_RATES.get(line["TaxType"], ZERO)
            if line.get("TaxAmount") is not None and kind != "NoTax":
                tax = money(line["TaxAmount"])
            elif kind == "Inclusive":
                tax = money(amount - amount / (1 + rate))
            else:
                tax = money(amount * rate)
            line["LineAmount"], line["TaxAmount"] = amount, tax
            subtotal += amount - tax if kind == "Inclusive" else amount
            tax_total += tax
            discount_total += money(discount)
        invoice.update(SubTotal=money(subtotal), TotalTax=money(tax_total), Total=money(subtotal + tax_total),
                       TotalDiscount=money(discount_total))
        invoice["AmountDue"] = money(invoice["Total"] - invoice["AmountPaid"] - invoice["AmountCredited"])

    def _resolve_contact(self, given: Any, errors: list[str]) -> Optional[dict[str, Any]]:
        given = given if isinstance(given, dict) else {}
        if given.get("ContactID"):
            contact = self.contacts.get(str(given["ContactID"]).lower())
            if contact is None:
                errors.append("The contact could not be found. Check the ContactID.")
            return contact
        if given.get("Name"):
            return self.find_contact_by_name(given["Name"]) or self.create_contact({"Name": given["Name"]}).record
        errors.append("The Contact must contain at least 1 of the following elements to identify the contact: "
                      "Name, ContactID, ContactNumber")
        return None

    def create_invoice(self, element: dict[str, Any]) -> Outcome:
        errors: list[str] = []
        kind = element.get("Type")
        if kind not in ("ACCREC", "ACCPAY"):
            errors.append("The Type field is mandatory: ACCREC or ACCPAY.")
        status = element.get("Status") or "DRAFT"
        if status not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
            errors.append(f"Invoices cannot be created with status {status}.")
        number = element.get("InvoiceNumber")
        if number and kind == "ACCREC" and self.unique_invoice_numbers and self.find_invoice_by_number(str(number)):
            errors.append("Invoice # must be unique.")
        currency = element.get("CurrencyCode") or "USD"
        if currency not in CURRENCIES:
            errors.append(f"The currency code {currency} is not a valid currency for this organisation.")
        if element.get("LineAmountTypes", "Exclusive") not in ("Exclusive", "Inclusive", "NoTax"):
            errors.append("LineAmountTypes must be Exclusive, Inclusive or NoTax.")
        try:
            issued = _date(element.get("Date")) or self.now().date()
            due = _date(element.get("DueDate"))
        except ValueError:
            errors.append("Date and DueDate must be dates (yyyy-mm-dd).")
            issued, due = self.now().date(), None
        if status == "AUTHORISED" and due is None:
            errors.append("Due Date is mandatory for approved invoices (the organisation has no default terms).")
        if status != "DRAFT" and self.period_lock_date and issued <= self.period_lock_date:
            errors.append(locked_message(self.period_lock_date))
        lines = self._lines(element.get("LineItems") or [], {}, status, errors)
        if status != "DRAFT" and not lines:
            errors.append("An approved invoice must have at least one line item.")
        contact = self._resolve_contact(element.get("Contact"), errors) if not errors else None
        if errors:
            return Outcome(errors=errors)
        invoice = {
            "Type": kind, "InvoiceID": new_id(), "InvoiceNumber": number or self.next_number(),
            "Reference": element.get("Reference", ""), "ContactID": contact["ContactID"], "Date": issued,
            "DueDate": due, "Status": status, "LineAmountTypes": element.get("LineAmountTypes", "Exclusive"),
            "LineItems": lines, "CurrencyCode": currency, "CurrencyRate": Decimal("1"), "AmountPaid": ZERO,
            "AmountCredited": ZERO, "Payments": [], "SentToContact": False, "HasAttachments": False,
            "IsDiscounted": False, "UpdatedDateUTC": self.now(), "Url": element.get("Url"),
        }
        self._totals(invoice)
        self.invoices[invoice["InvoiceID"]] = invoice
        self.add_history(invoice["InvoiceID"], "Created",
                         f"{invoice['InvoiceNumber']} to {contact['Name']} for {invoice['Total']}.")
        return Outcome(record=invoice)

    def update_invoice(self, invoice: dict[str, Any], element: dict[str, Any]) -> Outcome:
        errors: list[str] = []
        status = element.get("Status") or invoice["Status"]
        content_keys = set(element) - {"InvoiceID", "InvoiceNumber", "Type", "Status"}
        locked = invoice["Status"] not in EDITABLE or invoice["AmountPaid"] > 0 or invoice["AmountCredited"] > 0
        if locked and content_keys:
            errors.append(PAID_MESSAGE)
        elif content_keys and self.period_lock_date and status != "DRAFT":
            dated = _date(element["Date"]) if element.get("Date") else invoice["Date"]
            if min(dated, invoice["Date"]) <= self.period_lock_date:  # neither the old nor the new date may be locked
                errors.append(locked_message(self.period_lock_date))
        if status not in TRANSITIONS[invoice["Status"]]:
            errors.append(f"An invoice with status {invoice['Status']} cannot become {status}.")
        elif status == "VOIDED" and invoice["Status"] != "VOIDED" and (invoice["AmountPaid"] > 0 or invoice["AmountCredited"] > 0):
            # "AUTHORISED can become VOIDED, but only if it has no payments" (api-contracts §3.2, Xero's Invoices docs)
            errors.append(PAID_MESSAGE)
        number = element.get("InvoiceNumber")
        if number and number != invoice["InvoiceNumber"] and self.unique_invoice_numbers and \
                self.find_invoice_by_number(str(number)):
            errors.append("Invoice # must be unique.")
        lines = invoice["LineItems"]
        if "LineItems" in element and not errors:
            old = {line["LineItemID"]: line for line in invoice["LineItems"]}
            lines = self._lines(element["LineItems"] or [], old, status, errors)
        contact_id = invoice["ContactID"]
        # Contact is writable on update (xero_accounting.yaml: the Invoice schema's Contact is not read-only and the
        # updateInvoice example sends one); like every content field, only while the invoice is editable (above).
        if element.get("Contact") and not errors:
            contact = self._resolve_contact(element["Contact"], errors)
            contact_id = contact["ContactID"] if contact else contact_id
        if errors:
            return Outcome(errors=errors)
        for key in ("Reference", "Url", "CurrencyCode", "LineAmountTypes"):
            if key in element:
                invoice[key] = element[key]
        for key in ("Date", "DueDate"):
            if key in element:
                invoice[key] = _date(element[key])
        invoice.update(LineItems=lines, Status=status, ContactID=contact_id, UpdatedDateUTC=self.now(),
                       InvoiceNumber=number or invoice["InvoiceNumber"])
        self._totals(invoice)
        self.add_history(invoice["InvoiceID"], "Edited", f"Invoice {invoice['InvoiceNumber']} edited.")
        return Outcome(record=invoice)

    def pay(self, invoice_id: str, amount: Optional[Decimal] = None) -> dict[str, Any]:
        """Record a payment (what a customer paying the invoice does in Xero)."""
        invoice = self.invoices[invoice_id]
        amount = money(amount if amount is not None else invoice["AmountDue"])
        invoice["Payments"].append({"PaymentID": new_id(), "Date": self.now(), "Amount": amount,
                                    "CurrencyRate": Decimal("1"), "HasAccount": False, "HasValidationErrors": False})
        invoice["AmountPaid"] = money(invoice["AmountPaid"] + amount)
        invoice["AmountDue"] = money(invoice["Total"] - invoice["AmountPaid"] - invoice["AmountCredited"])
        if invoice["AmountDue"] <= 0:
            invoice["Status"] = "PAID"
            invoice["FullyPaidOnDate"] = self.now()
        invoice["UpdatedDateUTC"] = self.now()
        self.add_history(invoice_id, "Payment", f"Payment received from customer for {amount}.")
        return invoice

    def create_payment(self, element: dict[str, Any]) -> Outcome:
        """``PUT /Payments``: a payment on a sales invoice, from a bank account (or one with payments enabled).

        Rules (xero_accounting.yaml Payment and createPayments; Xero's Payments documentation): the invoice by
        ``InvoiceID`` or ``InvoiceNumber``, the account by ``AccountID`` or ``Code``; the amount "must be less
        than or equal to the outstanding amount owing on the invoice" ("Payment amount exceeds the amount
        outstanding on this document", the spec's example error); only an AUTHORISED invoice takes a payment
        (DRAFT/SUBMITTED are not yet owed, PAID/VOIDED are closed; api-contracts §3.2); the account must be a
        BANK account or have EnablePaymentsToAccount. The wording of the messages other than the spec's
        example is the simulator's own (**unverified**).
        """
        given_invoice = element.get("Invoice") if isinstance(element.get("Invoice"), dict) else {}
        invoice = self.invoices.get(str(given_invoice.get("InvoiceID", "")).lower()) or (
            self.find_invoice_by_number(str(given_invoice["InvoiceNumber"])) if given_invoice.get("InvoiceNumber") else None)
        if invoice is None:
            return Outcome(errors=["Invoice could not be found"])
        given_account = element.get("Account") if isinstance(element.get("Account"), dict) else {}
        account = next((a for a in self.accounts.values()
                        if (given_account.get("AccountID") and a["AccountID"] == str(given_account["AccountID"]).lower())
                        or (given_account.get("Code") and a["Code"] == str(given_account["Code"]))), None)
        if account is None:
            return Outcome(errors=["Account could not be found"])
        if account["Type"] != "BANK" and not account["EnablePaymentsToAccount"]:
            return Outcome(errors=[f"Account type is invalid for making a payment to/from ({account['Code']})"])
        if invoice["Status"] != "AUTHORISED":
            return Outcome(errors=[f"Payments can only be made against Authorised documents ({invoice['Status']})"])
        try:
            amount = money(element.get("Amount"))
        except ArithmeticError:
            return Outcome(errors=["Amount is not a number"])
        if amount <= 0:
            return Outcome(errors=["Payment amount must be greater than zero"])
        if amount > invoice["AmountDue"]:
            return Outcome(errors=["Payment amount exceeds the amount outstanding on this document"])
        day = _date(element.get("Date")) or self.now().date()
        payment = {"PaymentID": new_id(), "Date": datetime.combine(day, datetime.min.time(), tzinfo=self.now().tzinfo),
                   "Amount": amount, "BankAmount": amount, "CurrencyRate": Decimal("1"), "PaymentType": "ACCRECPAYMENT",
                   "Status": "AUTHORISED", "Reference": str(element.get("Reference") or ""), "IsReconciled": False,
                   "HasAccount": True, "HasValidationErrors": False, "UpdatedDateUTC": self.now(),
                   "Account": {"AccountID": account["AccountID"], "Code": account["Code"], "Name": account["Name"]},
                   "InvoiceID": invoice["InvoiceID"]}
        self.payments[payment["PaymentID"]] = payment
        invoice["Payments"].append({"PaymentID": payment["PaymentID"], "Date": payment["Date"], "Amount": amount,
                                    "CurrencyRate": Decimal("1"), "HasAccount": True, "HasValidationErrors": False})
        invoice["AmountPaid"] = money(invoice["AmountPaid"] + amount)
        invoice["AmountDue"] = money(invoice["Total"] - invoice["AmountPaid"] - invoice["AmountCredited"])
        if invoice["AmountDue"] <= 0:
            invoice["Status"] = "PAID"
            invoice["FullyPaidOnDate"] = self.now()
        invoice["UpdatedDateUTC"] = self.now()
        self.add_history(invoice["InvoiceID"], "Payment", f"Payment received from customer for {amount}.")
        return Outcome(record=payment)

    def delete_payment(self, payment: dict[str, Any], element: dict[str, Any]) -> Outcome:
        """``POST /Payments/{PaymentID}`` (``deletePayment``, xero_accounting.yaml): body ``PaymentDelete``
        ``{"Status": "DELETED"}`` (required, the only value). The payment's Status becomes DELETED and the invoice
        it paid is reopened: the spec's example answer shows the invoice AUTHORISED with ``AmountPaid`` 0 and
        the amount due again. A deleted payment stays DELETED."""
        if element.get("Status") != "DELETED":
            return Outcome(errors=["Status must be DELETED to delete a payment"])
        if payment["Status"] == "DELETED":
            return Outcome(record=payment)
        invoice = self.invoices[payment["InvoiceID"]]
        invoice["Payments"] = [p for p in invoice["Payments"] if p["PaymentID"] != payment["PaymentID"]]
        invoice["AmountPaid"] = money(invoice["AmountPaid"] - payment["Amount"])
        invoice["AmountDue"] = money(invoice["Total"] - invoice["AmountPaid"] - invoice["AmountCredited"])
        if invoice["Status"] == "PAID" and invoice["AmountDue"] > 0:
            invoice["Status"] = "AUTHORISED"
            invoice.pop("FullyPaidOnDate", None)
        invoice["UpdatedDateUTC"] = payment["UpdatedDateUTC"] = self.now()
        payment["Status"] = "DELETED"
        self.add_history(invoice["InvoiceID"], "Payment", f"Payment of {payment['Amount']} deleted.")
        return Outcome(record=payment)

    def payment_json(self, payment: dict[str, Any]) -> dict[str, Any]:
        invoice = self.invoices[payment["InvoiceID"]]
        out = {k: v for k, v in payment.items() if k != "InvoiceID"}
        out.update(Date=to_ms_date(payment["Date"]), UpdatedDateUTC=to_ms_date(payment["UpdatedDateUTC"]),
                   Invoice={"Type": invoice["Type"], "InvoiceID": invoice["InvoiceID"],
                            "InvoiceNumber": invoice["InvoiceNumber"], "AmountDue": invoice["AmountDue"],
                            "AmountPaid": invoice["AmountPaid"], "Contact": {"ContactID": invoice["ContactID"]}})
        return out

    def add_history(self, invoice_id: str, changes: str, details: str, user: str = "System Generated") -> dict:
        record = {"Changes": changes, "DateUTC": self.now(), "User": user, "Details": details}
        self.history.setdefault(invoice_id, []).append(record)
        return record

    # -- rendering --------------------------------------------------------------------------------
    def contact_json(self, contact: dict[str, Any], summary: bool = False) -> dict[str, Any]:
        out = {k: v for k, v in contact.items() if not (summary and k in ("Addresses", "Phones", "ContactPersons"))}
        out["UpdatedDateUTC"] = to_ms_date(contact["UpdatedDateUTC"])
        return out

    def invoice_json(self, invoice: dict[str, Any], lines: bool = True) -> dict[str, Any]:
        contact = self.contacts[invoice["ContactID"]]
        out: dict[str, Any] = {k: v for k, v in invoice.items()
                               if k not in ("ContactID", "Url", "CreditNoteRefs") and v is not None}
        out["Contact"] = {"ContactID": contact["ContactID"], "Name": contact["Name"], "Addresses": [], "Phones": [],
                          "ContactGroups": [], "ContactPersons": [], "HasValidationErrors": False}
        for key in ("Date", "DueDate"):
            if invoice.get(key):
                out[key], out[f"{key}String"] = to_ms_date(invoice[key]), f"{invoice[key].isoformat()}T00:00:00"
        out["UpdatedDateUTC"] = to_ms_date(invoice["UpdatedDateUTC"])
        out["UpdatedDateUTCString"] = invoice["UpdatedDateUTC"].strftime("%Y-%m-%d %H:%M:%S+00:00")
        if invoice.get("FullyPaidOnDate"):
            out["FullyPaidOnDate"] = to_ms_date(invoice["FullyPaidOnDate"])
        out["Payments"] = [{**p, "Date": to_ms_date(p["Date"])} for p in invoice["Payments"]]
        out.update(CreditNotes=[dict(c) for c in invoice.get("CreditNoteRefs") or []], Prepayments=[], Overpayments=[],
                   HasErrors=False)
        out["LineItems"] = [dict(line) for line in invoice["LineItems"]] if lines else []
        if invoice.get("Url"):
            out["Url"] = invoice["Url"]
        return out

    def history_json(self, record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "DateUTC": to_ms_date(record["DateUTC"]),
                "DateUTCString": record["DateUTC"].strftime("%Y-%m-%dT%H:%M:%S"), "ValidationErrors": []}

    # -- seeding helpers --------------------------------------------------------------------------
    def backdate(self, invoice_id: str, updated: datetime) -> None:
        """Set an invoice's UpdatedDateUTC (seeding a history of changes)."""
        self.invoices[invoice_id]["UpdatedDateUTC"] = updated
