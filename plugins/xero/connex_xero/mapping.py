"""Xero payloads <-> the canonical order, as pure functions (no network).

Reading (Xero -> canonical): an ACCREC invoice plus its contact. Xero invoices carry no address,
so the contact's POBOX address is the bill-to and its STREET address the ship-to. Lines keep their
tracking categories as ``{category: option}``; lines on the shipping account are the order's
shipping. ``paid`` comes from the status (PAID) or from AmountPaid covering the total; an
unpaid AUTHORISED invoice is ``awaiting_payment``, a paid one ``awaiting_shipment``.

Writing (canonical -> Xero): an ACCREC invoice element with ``InvoiceNumber = order.number``,
product lines (SKU as ItemCode when Xero has that item), a shipping line on the shipping
account, tax spread over the lines as ``TaxAmount`` so Xero's total equals the order's, and a
contact element with both addresses for contacts that must be created.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable, Optional

from connex_core.api import countries
from connex_core.api import Address, Customer, LineItem, Order, OrderStatus, Shipment
from connex_core.api import allocate, to_cents, to_decimal

from .msdate import parse_ms_date
from .settings import XeroSettings

ZERO = Decimal("0")
#: Invoice status -> order status. AUTHORISED depends on payment (unpaid: awaiting_payment).
STATUSES = {"DRAFT": OrderStatus.draft, "SUBMITTED": OrderStatus.open, "PAID": OrderStatus.awaiting_shipment,
            "VOIDED": OrderStatus.voided, "DELETED": OrderStatus.cancelled}
NOTE_LIMIT = 250


def _text(value: Any) -> Optional[str]:
    text = str(value).strip() if value is not None else ""
    return text or None


_dec = to_decimal  # exact, unrounded (connex_core.money)
_money = to_cents  # to cents, half up


# -- Xero -> canonical -----------------------------------------------------------------------------
def country_code(name: Optional[str]) -> Optional[str]:
    """A Xero country (free text: 'United States', 'US', 'USA') as its ISO alpha-2 code; else as given."""
    return countries.normalised(_text(name))


def xero_country(value: Optional[str]) -> str:
    """The country of a Xero address: the ISO alpha-2 code. Xero's address Country is "max length = 50,
    [A-Z], [a-z] only" (xero_accounting.yaml, Address) and its own request example sends "US"; a code
    meets that rule where names ("Korea, Republic of") may not. Unknown values are left as given: the
    connector fails that order first, naming it (:func:`connex_core.countries.order_problems`)."""
    try:
        return countries.alpha2(value) or ""
    except countries.UnknownCountry:
        return value or ""


def address_from_xero(address: Optional[dict[str, Any]], contact_name: Optional[str], company: Optional[str] = None,
                      phone: Optional[str] = None) -> Address:
    """One of a contact's ``Addresses`` as a canonical address (empty strings count as absent).

    ``contact_name`` is who to address it to when it has no AttentionTo; ``company`` and
    ``phone`` come from the contact (Xero addresses carry neither).
    """
    if not address:
        return Address()
    street3 = " ".join(filter(None, [_text(address.get("AddressLine3")), _text(address.get("AddressLine4"))]))
    return Address(
        name=_text(address.get("AttentionTo")) or contact_name, company=company, phone=phone,
        street1=_text(address.get("AddressLine1")), street2=_text(address.get("AddressLine2")),
        street3=street3 or None, city=_text(address.get("City")), state=_text(address.get("Region")),
        postal_code=_text(address.get("PostalCode")), country=country_code(address.get("Country")),
    )


def _phone(contact: dict[str, Any]) -> Optional[str]:
    for phone in contact.get("Phones") or []:
        if phone.get("PhoneType") == "DEFAULT" and _text(phone.get("PhoneNumber")):
            return " ".join(filter(None, [_text(phone.get(k)) for k in
                                          ("PhoneCountryCode", "PhoneAreaCode", "PhoneNumber")]))
    return None


def line_from_xero(line: dict[str, Any], inclusive: bool) -> LineItem:
    quantity = _dec(line.get("Quantity") if line.get("Quantity") is not None else 1)
    tax = _dec(line.get("TaxAmount"))
    unit = _dec(line.get("UnitAmount"))
    gross = quantity * unit
    if line.get("DiscountAmount") is not None:
        discount = _dec(line["DiscountAmount"])
    elif line.get("DiscountRate") is not None:
        discount = _money(gross * _dec(line["DiscountRate"]) / 100)
    else:
        discount = ZERO
    if inclusive and quantity:
        unit = to_cents(unit - tax / quantity, places=4)  # canonical prices are before tax
    return LineItem(
        line_id=_text(line.get("LineItemID")), sku=_text(line.get("ItemCode")), name=_text(line.get("Description")),
        quantity=quantity, unit_price=unit, tax=tax, discount=discount, adjustment=unit < 0,
        tax_code=_text(line.get("TaxType")), account=_text(line.get("AccountCode")),
        tracking={t["Name"]: t["Option"] for t in line.get("Tracking") or [] if t.get("Name") and t.get("Option")},
    )


def calendar_day(moment: Optional[datetime]) -> Optional[datetime]:
    """An invoice date (a calendar day, which Xero sends as midnight UTC) as noon UTC of that day, so that
    it stays the same day in any target's time zone from UTC-11 to UTC+11 (ShipStation shows Pacific
    time: midnight UTC would be the evening before)."""
    return None if moment is None else datetime.combine(moment.date(), time(12), timezone.utc)


def order_from_xero(invoice: dict[str, Any], contact: Optional[dict[str, Any]], settings: XeroSettings) -> Order:
    """An ACCREC invoice (and its full contact, for the addresses) as a canonical order."""
    contact = contact or invoice.get("Contact") or {}
    addresses = {a.get("AddressType"): a for a in contact.get("Addresses") or []}
    name = _text(contact.get("Name"))
    person = " ".join(filter(None, [_text(contact.get("FirstName")), _text(contact.get("LastName"))]))
    inclusive = invoice.get("LineAmountTypes") == "Inclusive"
    lines, shipping = [], ZERO
    for raw in invoice.get("LineItems") or []:
        line = line_from_xero(raw, inclusive)
        if line.account == settings.shipping_account_code:
            shipping += line.amount - line.discount
        else:
            lines.append(line)
    status = invoice.get("Status") or ""
    total, paid_amount = _dec(invoice.get("Total")), _dec(invoice.get("AmountPaid"))
    paid = status == "PAID" or (total > 0 and paid_amount >= total)
    issued = calendar_day(parse_ms_date(invoice.get("Date")))
    due = parse_ms_date(invoice.get("DueDate"))
    company = name if person and person != name else None
    phone = _phone(contact)
    return Order(
        source="xero", source_id=invoice["InvoiceID"], number=invoice.get("InvoiceNumber") or invoice["InvoiceID"],
        status=STATUSES.get(status) or (OrderStatus.awaiting_shipment if paid else OrderStatus.awaiting_payment),
        order_date=issued, created_at=issued,
        modified_at=parse_ms_date(invoice.get("UpdatedDateUTC")), paid_at=parse_ms_date(invoice.get("FullyPaidOnDate")),
        due_date=due.date() if due else None,
        customer=Customer(id=_text(contact.get("ContactID")), name=name, email=_text(contact.get("EmailAddress")),
                          company=company, phone=phone),
        bill_to=address_from_xero(addresses.get("POBOX"), person or name, company, phone),
        ship_to=address_from_xero(addresses.get("STREET"), person or name, company, phone),
        lines=lines, shipping=_money(shipping), tax=_dec(invoice.get("TotalTax")),
        discount=_dec(invoice.get("TotalDiscount")) or sum((l.discount for l in lines), ZERO),
        total=total, amount_paid=paid_amount, paid=paid,
        currency=_text(invoice.get("CurrencyCode")), internal_notes=_text(invoice.get("Reference")),
        origin=f"xero:{invoice['InvoiceID']}",
    )


# -- canonical -> Xero -----------------------------------------------------------------------------
_spread = allocate  # amount over lines by weight, to the cent, the last line taking the rest


#: Tax categories other systems write on lines: the canonical words, and QuickBooks' US pseudo codes.
TAXABLE_CODES = frozenset({"taxable", "tax"})
EXEMPT_CODES = frozenset({"exempt", "non", "nontaxable", "non-taxable"})


def xero_tax_type(code: Optional[str], settings: XeroSettings) -> Optional[str]:
    """A line's or order's tax code as a Xero TaxType: a category (``taxable``/``exempt``, or QuickBooks'
    ``TAX``/``NON``) becomes the organisation's ``tax_type`` / ``no_tax_type``; a Xero TaxType is kept."""
    word = (code or "").strip()
    if word.lower() in TAXABLE_CODES:
        return settings.tax_type
    if word.lower() in EXEMPT_CODES:
        return settings.no_tax_type
    return word or None


def contact_to_xero(order: Order) -> dict[str, Any]:
    """A contact element for an order's customer, with POBOX = bill-to and STREET = ship-to."""

    def address(kind: str, a: Address) -> dict[str, Any]:
        return {"AddressType": kind, "AddressLine1": a.street1 or "", "AddressLine2": a.street2 or "",
                "AddressLine3": a.street3 or "", "City": a.city or "", "Region": a.state or "",
                "PostalCode": a.postal_code or "", "Country": xero_country(a.country), "AttentionTo": a.name or ""}

    element: dict[str, Any] = {"Name": contact_name(order),
                               "Addresses": [address("POBOX", order.bill_to), address("STREET", order.ship_to)]}
    if order.customer.email:
        element["EmailAddress"] = order.customer.email
    if order.customer.phone or order.bill_to.phone:
        element["Phones"] = [{"PhoneType": "DEFAULT", "PhoneNumber": order.customer.phone or order.bill_to.phone}]
    return element


def contact_name(order: Order) -> str:
    """The contact an order is booked to: customer name, else company, else e-mail, else bill-to name."""
    return (order.customer_ref or order.customer.name or order.customer.company or order.customer.email
            or order.bill_to.name or order.bill_to.company or "Unknown customer").strip()[:255]


def invoice_to_xero(order: Order, settings: XeroSettings, contact_id: Optional[str] = None,
                    known_items: Optional[set[str]] = None) -> dict[str, Any]:
    """An ACCREC invoice element for an order.

    ``known_items``: lower-cased item codes Xero has (a SKU is sent as ItemCode only if listed;
    None sends every SKU). Tax is spread over the lines (products and shipping) as ``TaxAmount``.
    """
    taxed = order.tax != 0
    tax_type = xero_tax_type(order.tax_code, settings) or (settings.tax_type if taxed else settings.no_tax_type)
    elements: list[dict[str, Any]] = []
    for line in order.lines:
        element: dict[str, Any] = {"Description": (line.description or line.name or line.sku or "Item")[:4000],
                                   "Quantity": line.quantity, "UnitAmount": line.unit_price,
                                   "AccountCode": line.account or settings.sales_account_code,
                                   "TaxType": xero_tax_type(line.tax_code, settings) or tax_type}
        if line.sku and settings.item_codes and (known_items is None or line.sku.lower() in known_items):
            element["ItemCode"] = line.sku
        if line.discount:
            element["DiscountAmount"] = line.discount
        if line.tracking:
            element["Tracking"] = [{"Name": k, "Option": v} for k, v in list(line.tracking.items())[:2]]
        elements.append(element)
    if order.shipping:
        service = f" ({order.requested_service})" if order.requested_service else ""
        elements.append({"Description": f"Shipping{service}", "Quantity": Decimal("1"), "UnitAmount": order.shipping,
                         "AccountCode": settings.shipping_account_code, "TaxType": tax_type})
    # The order's discount counts its adjustment lines (a coupon line) and per-line discounts, which are
    # on the invoice already; a Discount line carries only the rest.
    on_lines = sum((l.discount for l in order.lines), ZERO) - sum((l.amount for l in order.lines if l.adjustment), ZERO)
    if order.discount > on_lines:
        elements.append({"Description": "Discount", "Quantity": Decimal("1"),
                         "UnitAmount": -(order.discount - on_lines),
                         "AccountCode": settings.sales_account_code, "TaxType": tax_type})
    weights = [_money(_dec(e["Quantity"]) * _dec(e["UnitAmount"]) - _dec(e.get("DiscountAmount"))) for e in elements]
    for element, tax in zip(elements, _spread(order.tax, weights)):
        element["TaxAmount"] = tax
    issued = (order.order_date or order.created_at)
    issued_day = issued.date() if issued else None
    due = order.due_date or (issued_day + timedelta(days=settings.due_days) if issued_day else None)
    invoice: dict[str, Any] = {
        "Type": "ACCREC", "Contact": {"ContactID": contact_id} if contact_id else {"Name": contact_name(order)},
        "InvoiceNumber": order.number[:255], "Reference": (order.memo or order.source_key or order.number)[:255],
        "LineAmountTypes": "Exclusive", "Status": settings.invoice_status, "LineItems": elements,
    }
    if issued_day:
        invoice["Date"] = issued_day.isoformat()
    if due:
        invoice["DueDate"] = due.isoformat()
    if order.currency:
        invoice["CurrencyCode"] = order.currency
    return invoice


def amount_to_pay(order: Order) -> Decimal:
    """What the customer has paid, as the books should show it: nothing for an order not counted as paid
    (the source, or a rule's ``mark unpaid``), the total for a paid order with no amount (paid by a rule or
    by shipping) or the whole total, else the amount it paid (part paid)."""
    total = _money(order.total)
    if not order.paid or total <= 0:
        return ZERO
    paid = _money(order.amount_paid)
    return total if paid <= 0 or paid >= total else paid


def payment_to_xero(invoice_id: str, amount: Decimal, day: Optional[date], account_code: str,
                    reference: str) -> dict[str, Any]:
    """A ``createPayments`` element: ``amount`` received on the invoice, into the account with ``account_code``."""
    element: dict[str, Any] = {"Invoice": {"InvoiceID": invoice_id}, "Account": {"Code": account_code},
                               "Amount": amount, "Reference": reference[:255]}
    if day:
        element["Date"] = day.isoformat()
    return element


# -- tracking back ---------------------------------------------------------------------------------
def tracking_note(shipment: Shipment) -> str:
    """The history note written on the invoice when its order ships (at most 250 characters)."""
    carrier = " ".join(filter(None, [shipment.carrier, shipment.service and f"({shipment.service})"]))
    parts = [f"Shipped {shipment.ship_date.isoformat()}" if shipment.ship_date else "Shipped"]
    if carrier:
        parts.append(f"via {carrier}")
    parts.append(f"tracking {shipment.tracking_number or 'n/a'}")
    return " ".join(parts)[:NOTE_LIMIT]


def shipping_cost_line(shipment: Shipment, settings: XeroSettings) -> dict[str, Any]:
    """The line that adds a shipment's cost to an invoice; its description names the tracking number."""
    return {"Description": f"Shipping cost: {shipment.carrier or 'carrier'} {shipment.tracking_number or ''}".strip(),
            "Quantity": Decimal("1"), "UnitAmount": shipment.cost, "AccountCode": settings.shipping_account_code,
            "TaxType": settings.no_tax_type}


def tracking_reference(shipment: Shipment) -> str:
    """The short form appended to an invoice's Reference: 'Shipped 2026-09-16 ups 1Z999'."""
    day = shipment.ship_date.isoformat() if shipment.ship_date else ""
    return " ".join(filter(None, ["Shipped", day, shipment.carrier, shipment.tracking_number]))


def has_note(history: Iterable[dict[str, Any]], shipment: Shipment) -> bool:
    """Whether an invoice's history already holds the tracking note of this shipment."""
    needle = f"tracking {shipment.tracking_number}" if shipment.tracking_number else tracking_note(shipment)
    return any(needle in str(record.get("Details") or "") for record in history)
