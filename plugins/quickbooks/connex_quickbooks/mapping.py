"""Canonical orders to QuickBooks sales documents and back.

Pure functions over plain dicts (the JSON QuickBooks speaks); every lookup of an id (customer,
items, class...) is done beforehand by :mod:`.resolve`, so these need no network and are what
``connex rules dry-run --source quickbooks`` uses on saved payloads.

Identity: a QuickBooks document is ``source="quickbooks"``, ``source_id="Invoice-123"`` or
``"SalesReceipt-45"`` (type and Id), ``number=DocNumber``; paid or not comes from ``Balance``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Iterable, Optional
from zoneinfo import ZoneInfo

from connex_core.api import countries
from connex_core.api import Address, Customer, DocumentType, LineItem, Order, OrderStatus, Shipment
from connex_core.api import to_cents

from . import taxes
from .taxes import TaxPlan

ZERO = Decimal("0")
DOC_NUMBER_MAX = 21
PRIVATE_NOTE_MAX = 4000
SHIPPING_ITEM_ID = "SHIPPING_ITEM_ID"
COMPANY_TZ = ZoneInfo("America/Los_Angeles")
ENTITY_OF = {DocumentType.sales_receipt: "SalesReceipt", DocumentType.invoice: "Invoice"}
DOCUMENT_OF = {v: k for k, v in ENTITY_OF.items()}


money = to_cents  # amounts to cents, half up (connex_core.money)


# -- identity -----------------------------------------------------------------------------------

def doc_number(number: str) -> str:
    """The order number as a DocNumber (at most 21 characters).

    A longer number is shortened deterministically: its first 12 characters, a dash and 8 hex
    digits of its SHA-1, so the same order always gets the same DocNumber (duplicate detection
    keeps working) and two long numbers with the same start do not collide.
    """
    if len(number) <= DOC_NUMBER_MAX:
        return number
    return f"{number[:12]}-{hashlib.sha1(number.encode()).hexdigest()[:8]}"


def target_ref(entity: str, ident: str) -> str:
    return f"{entity}-{ident}"


def parse_ref(ref: str) -> tuple[str, str]:
    """``"Invoice-123"`` -> ``("Invoice", "123")``; raises ValueError for anything else."""
    entity, _, ident = (ref or "").partition("-")
    if entity not in DOCUMENT_OF or not ident.isdigit():
        raise ValueError(f"not a QuickBooks document reference: {ref!r} (expected 'Invoice-123' or 'SalesReceipt-45')")
    return entity, ident


def amount_to_pay(order: Order) -> Decimal:
    """What the customer has paid, as the books should show it.

    An order not counted as paid (the source, or a rule's ``mark unpaid``) has paid nothing; a paid
    order with no amount (paid by a rule, or by shipping) or with the whole total has paid its total;
    otherwise the amount it paid (partly paid).
    """
    total = money(order.total)
    if not order.paid or total <= 0:
        return ZERO
    paid = money(order.amount_paid)
    return total if paid <= 0 or paid >= total else paid


def document_entity(order: Order, default: str = "auto") -> str:
    """SalesReceipt or Invoice: the order's own ``document_type`` (set by rules), else the task's ``document``.

    ``"auto"`` follows the money: paid in full -> SalesReceipt; nothing or part paid -> Invoice (with a
    Payment of the amount paid, see :func:`amount_to_pay`).
    """
    if order.document_type:
        return ENTITY_OF[DocumentType(order.document_type)]
    if default == "auto":
        return "SalesReceipt" if order.total > 0 and amount_to_pay(order) == money(order.total) else "Invoice"
    return ENTITY_OF[DocumentType(default)]


def receipt_refusal(order: Order, entity: str) -> Optional[str]:
    """Why a SalesReceipt (money received in full) would misstate ``order``, or None."""
    if entity != "SalesReceipt" or order.total <= 0:
        return None
    paid = amount_to_pay(order)
    if paid == money(order.total):
        return None
    return (f"not booked: a sales receipt records the whole {money(order.total)} as received, but the order has "
            f"{'nothing' if paid == 0 else paid} paid; use document = \"auto\" or \"invoice\" (an invoice "
            f"{'with a payment of ' + str(paid) if paid else 'left open'})")


# -- canonical -> QuickBooks ---------------------------------------------------------------------

def qb_country(value: Optional[str]) -> Optional[str]:
    """The ISO alpha-3 code QuickBooks reads addresses back with (since 2025-10-31, api-changes "at a
    glance"); a value that is no country is left as given: the writer fails that order first, naming it
    (:func:`connex_core.countries.order_problems`)."""
    try:
        return countries.alpha3(value)
    except countries.UnknownCountry:
        return value


def address_to_qb(addr: Address) -> Optional[dict[str, Any]]:
    """A PhysicalAddress: name and company first, then the street lines (Line1..Line5), city, state..."""
    lines = [v for v in (addr.name, addr.company, addr.street1, addr.street2, addr.street3) if v][:5]
    out: dict[str, Any] = {f"Line{i}": v for i, v in enumerate(lines, 1)}
    for key, value in (("City", addr.city), ("CountrySubDivisionCode", addr.state),
                       ("PostalCode", addr.postal_code), ("Country", qb_country(addr.country))):
        if value:
            out[key] = value
    return out or None


ORIGIN_MARK = re.compile(r"\[connex ([\w.-]+:[^\]\s]+)\]")


def private_note(order: Order) -> str:
    """The memo: the rules' memo, where the order came from, and the full number when DocNumber shortened it.

    It ends with ``[connex SOURCE:ID]``, read back as the order's ``origin`` when QuickBooks is a
    source, so a document Connex made from a ShipStation order is never sent back to ShipStation.
    """
    parts = [order.memo] if order.memo else []
    if order.source != "summary":
        parts.append(f"{order.source} order {order.original_number or order.number}"
                     + (f" (key {order.source_key})" if order.source_key else ""))
    if doc_number(order.number) != order.number:
        parts.append(f"full order number: {order.number}")
    mark = f"[connex {order.key}]"
    return " | ".join(parts)[:PRIVATE_NOTE_MAX - len(mark) - 1] + " " + mark if parts else mark


def discount_total(order: Order) -> Decimal:
    """The order's discount: its own ``discount``, else its adjustment lines and per-line discounts.

    (Sources give one or the other; adding both would count a coupon twice.)
    """
    if order.discount > 0:
        return money(order.discount)
    from_lines = sum((-l.amount for l in order.lines if l.adjustment and l.amount < 0), ZERO)
    from_lines += sum((l.discount for l in order.lines if not l.adjustment), ZERO)
    return money(from_lines)


def txn_date(order: Order) -> Optional[date]:
    when = order.order_date or order.created_at
    if when is None:
        return None
    return when.astimezone(ZoneInfo(order.timezone) if order.timezone else COMPANY_TZ).date()


def build_document(order: Order, entity: str, *, customer_id: str, item_ids: list[Optional[str]],
                   shipping_ref: Optional[dict[str, str]], refs: dict[str, dict[str, str]],
                   custom_numbers: bool = True, tax: Optional[TaxPlan] = None,
                   tax_calculation: Optional[str] = None) -> dict[str, Any]:
    """The create body of a SalesReceipt or Invoice for ``order``.

    ``item_ids`` has one entry per ``order.lines`` (None for adjustment lines, folded into the
    discount); ``refs`` holds the resolved ``ClassRef``, ``DepartmentRef``, ``DepositToAccountRef``,
    ``PaymentMethodRef``. ``custom_numbers`` is the company's CustomTxnNumbers preference: when
    off, QuickBooks numbers the document itself and DocNumber is not sent. ``tax`` holds each line's
    ``TaxCodeRef`` (see :mod:`.taxes`; a US company's TAX/NON by default); ``tax_calculation`` is the
    ``GlobalTaxCalculation`` of a non-US company: then QuickBooks computes the tax from the codes and
    no ``TxnTaxDetail`` is sent, while a US document keeps the source's tax (``TotalTax``, with a
    ``TxnTaxCodeRef`` when the order names the company's sales tax code), as automated sales tax expects.
    """
    if tax is None:
        tax = taxes.plan(order, taxes.Company(), {})
    lines: list[dict[str, Any]] = []
    for line, item_id, code in zip(order.lines, item_ids, tax.lines):
        if line.adjustment or item_id is None:
            continue
        price = line.unit_price
        detail: dict[str, Any] = {"ItemRef": {"value": item_id}, "Qty": line.quantity, "UnitPrice": price,
                                  "TaxCodeRef": {"value": code}}
        lines.append({"DetailType": "SalesItemLineDetail", "Amount": money(line.quantity * price),
                      "Description": line.description or line.name or line.sku or "",
                      "SalesItemLineDetail": detail})
    if order.shipping > 0 and shipping_ref:
        lines.append({"DetailType": "SalesItemLineDetail", "Amount": money(order.shipping), "Description": "Shipping",
                      "SalesItemLineDetail": {"ItemRef": dict(shipping_ref), "TaxCodeRef": {"value": tax.shipping}}})
    discount = discount_total(order)
    if discount > 0:
        lines.append({"DetailType": "DiscountLineDetail", "Amount": discount,
                      "DiscountLineDetail": {"PercentBased": False}})
    body: dict[str, Any] = {"CustomerRef": {"value": customer_id}, "Line": lines}
    if tax_calculation:
        body["GlobalTaxCalculation"] = tax_calculation
    else:
        body["TxnTaxDetail"] = {"TotalTax": money(order.tax)}
        if tax.txn_code:
            body["TxnTaxDetail"]["TxnTaxCodeRef"] = {"value": tax.txn_code}
    if custom_numbers:
        body["DocNumber"] = doc_number(order.number)
    when = txn_date(order)
    if when:
        body["TxnDate"] = when.isoformat()
    note = private_note(order)
    if note:
        body["PrivateNote"] = note
    if order.customer.email:
        body["BillEmail"] = {"Address": order.customer.email}
    for key, addr in (("BillAddr", order.bill_to), ("ShipAddr", order.ship_to)):
        value = address_to_qb(addr)
        if value:
            body[key] = value
    if order.shipped and order.shipment:
        body.update(shipment_fields(order.shipment))
    for key in ("ClassRef", "DepartmentRef"):
        if key in refs:
            body[key] = refs[key]
    if entity == "SalesReceipt":
        for key in ("DepositToAccountRef", "PaymentMethodRef"):
            if key in refs:
                body[key] = refs[key]
    elif order.due_date:
        body["DueDate"] = order.due_date.isoformat()
    return body


def shipment_fields(shipment: Shipment) -> dict[str, Any]:
    """TrackingNum, ShipDate and ShipMethodRef (a free-text reference) for a shipped order."""
    out: dict[str, Any] = {}
    if shipment.tracking_number:
        out["TrackingNum"] = shipment.tracking_number[:31]
    if shipment.ship_date:
        out["ShipDate"] = shipment.ship_date.isoformat()
    method = shipment.service or shipment.carrier
    if method:
        out["ShipMethodRef"] = {"value": method[:31], "name": method[:31]}
    return out


def payment_body(invoice: dict[str, Any], refs: dict[str, dict[str, str]],
                 amount: Optional[Decimal] = None) -> dict[str, Any]:
    """A Payment linked to the invoice: for its whole total, or ``amount`` (part paid)."""
    amount = money(invoice["TotalAmt"]) if amount is None else money(amount)
    body: dict[str, Any] = {"CustomerRef": {"value": invoice["CustomerRef"]["value"]}, "TotalAmt": amount,
                            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]}
    if invoice.get("TxnDate"):
        body["TxnDate"] = invoice["TxnDate"]
    for key in ("DepositToAccountRef", "PaymentMethodRef"):
        if key in refs:
            body[key] = refs[key]
    return body


# -- QuickBooks -> canonical ---------------------------------------------------------------------

def address_from_qb(addr: Optional[dict[str, Any]], name: Optional[str] = None) -> Address:
    """A canonical address; a first line equal to the customer's name (or without digits, when more follow) is the name."""
    if not addr:
        return Address()
    lines = [addr.get(f"Line{i}") for i in range(1, 6) if addr.get(f"Line{i}")]
    person = None
    if len(lines) > 1 and (lines[0] == name or not any(ch.isdigit() for ch in lines[0])):
        person = lines.pop(0)
    lines += [None, None, None]
    return Address(name=person, street1=lines[0], street2=lines[1], street3=lines[2], city=addr.get("City"),
                   state=addr.get("CountrySubDivisionCode"), postal_code=addr.get("PostalCode"),
                   country=countries.normalised(addr.get("Country")))


def _when(text: Optional[str]) -> Optional[datetime]:
    return datetime.fromisoformat(text) if text else None


def order_from_document(entity: str, doc: dict[str, Any], skus: Optional[dict[str, str]] = None,
                        shipping_items: Iterable[str] = ()) -> Order:
    """A canonical order from a SalesReceipt or Invoice (``skus``: item Id -> Sku, when known)."""
    skus = skus or {}
    shipping_ids = {SHIPPING_ITEM_ID, *shipping_items}
    lines, shipping, discount = [], ZERO, ZERO
    for line in doc.get("Line") or []:
        kind = line.get("DetailType")
        if kind == "SalesItemLineDetail":
            detail = line.get("SalesItemLineDetail") or {}
            ref = detail.get("ItemRef") or {}
            if ref.get("value") in shipping_ids:
                shipping += money(line.get("Amount"))
                continue
            qty = Decimal(str(detail.get("Qty", 1)))
            price = Decimal(str(detail["UnitPrice"])) if "UnitPrice" in detail else money(line.get("Amount")) / (qty or 1)
            lines.append(LineItem(line_id=line.get("Id"), sku=skus.get(str(ref.get("value"))) or None,
                                  name=line.get("Description") or ref.get("name"), quantity=qty, unit_price=price,
                                  item_name=ref.get("name"),
                                  tax_code=(detail.get("TaxCodeRef") or {}).get("value")))
        elif kind == "DiscountLineDetail":
            discount += money(line.get("Amount"))
    total, balance = money(doc.get("TotalAmt")), money(doc.get("Balance"))
    paid = entity == "SalesReceipt" or balance == 0
    customer_ref = doc.get("CustomerRef") or {}
    meta = doc.get("MetaData") or {}
    day = date.fromisoformat(doc["TxnDate"]) if doc.get("TxnDate") else None
    shipment = None
    if doc.get("TrackingNum"):
        method = (doc.get("ShipMethodRef") or {}).get("value")
        shipment = Shipment(source="quickbooks", tracking_number=doc["TrackingNum"], service=method,
                            ship_date=date.fromisoformat(doc["ShipDate"]) if doc.get("ShipDate") else None)
    status = OrderStatus.shipped if shipment else (OrderStatus.paid if paid else OrderStatus.open)
    return Order(
        source="quickbooks", source_id=target_ref(entity, str(doc["Id"])),
        number=str(doc.get("DocNumber") or doc["Id"]), status=status,
        order_date=datetime.combine(day, time(0), COMPANY_TZ) if day else None,
        created_at=_when(meta.get("CreateTime")), modified_at=_when(meta.get("LastUpdatedTime")),
        due_date=date.fromisoformat(doc["DueDate"]) if doc.get("DueDate") else None,
        timezone=str(COMPANY_TZ),
        customer=Customer(id=customer_ref.get("value"), name=customer_ref.get("name"),
                          email=(doc.get("BillEmail") or {}).get("Address")),
        bill_to=address_from_qb(doc.get("BillAddr"), customer_ref.get("name")),
        ship_to=address_from_qb(doc.get("ShipAddr"), customer_ref.get("name")),
        lines=lines, shipping=shipping, discount=discount,
        tax=money((doc.get("TxnTaxDetail") or {}).get("TotalTax")), total=total, amount_paid=total - balance,
        paid=paid, currency=(doc.get("CurrencyRef") or {}).get("value"),
        shipment=shipment, document_type=DOCUMENT_OF[entity],
        class_name=(doc.get("ClassRef") or {}).get("name"), location=(doc.get("DepartmentRef") or {}).get("name"),
        memo=doc.get("PrivateNote") or None, notes=(doc.get("CustomerMemo") or {}).get("value"),
        origin=mark.group(1) if (mark := ORIGIN_MARK.search(doc.get("PrivateNote") or "")) else None,
    )
