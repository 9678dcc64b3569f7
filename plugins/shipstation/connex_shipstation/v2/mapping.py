"""ShipStation v2 payloads <-> the canonical model, each gap of v2 answered (see the README's table).

A v2 *shipment* is what v1 called an order; a v2 *label* is what v1 called a shipment.

From v2 (shipments, labels, fulfillments):

* identity: ``source="shipstation"`` as for v1, so rules and ledgers see one ShipStation.
  ``source_id`` is the shipment_id without ``se-`` when the rest is digits: v1 ``orderId`` 12345678
  is v2 ``se-12345678`` [MIG], so an order keeps its ledger key when a connection moves from v1 to
  v2 and is not booked twice. Other ids (``se-abc1``) are kept whole. ``number`` is
  ``shipment_number``, ``source_key`` is ``external_shipment_id``.
* which API: ``custom_fields["shipstation_api"]`` is ``"v2"`` (v1 orders have no such key), so a
  rule can tell them apart: ``when custom_fields['shipstation_api'] == 'v2' then ...``.
* no order total: ``total`` is computed as lines + shipping + tax - discount (v1's orderTotal rule).
* no order date, no payment date: ``order_date`` is ``created_at``; ``paid_at`` stays unset;
  timestamps are UTC (aware), and ``timezone`` is the connection's, so "the 15th" is counted there.
* no bill-to, only the ship-to e-mail: ``bill_to`` is the ship-to address, the customer is the
  ship-to person (name, e-mail, company, phone); no customer id or user name.
* money objects: ``amount_paid`` / ``shipping_paid`` / ``tax_paid`` ``{currency, amount}``; the
  currency is theirs (else the connection's); order-level shipping and tax win over item sums.
* no adjustment flag: a line with a negative unit price is an adjustment (counted in ``discount``).
* ``paid`` when amount paid > 0 or shipped; status from ``shipment_status`` (below).
* no split/merge facts: ``split`` stays False; ``merged`` is set when the items come from more than
  one sales order (their ``sales_order_id`` / ``external_order_id`` differ), an inference.

To v2 (orders from QuickBooks or Xero): ``external_shipment_id`` is ``connex:`` + the order's key
(the idempotency key: unique per account, fixed at creation, at most 50 characters, so a longer
key is replaced by ``connex:h:`` + a hash and its origin cannot be read back from it).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Optional

from connex_core.api import ZERO, Address, Customer, LineItem, Order, OrderStatus, Shipment

from ..mapping import KEY_PREFIX, money, origin_of

SOURCE = "shipstation"
API_FIELD = "shipstation_api"
MAX_EXTERNAL_ID = 50
#: The ship-to phone sent when the order has none (v2 refuses an empty one).
NO_PHONE = "not given"
#: v2 ``shipment_status`` -> the canonical status (the v1 names); ``pending`` depends on payment.
STATUS = {"processing": OrderStatus.awaiting_shipment, "label_purchased": OrderStatus.shipped,
          "cancelled": OrderStatus.cancelled, "on_hold": OrderStatus.on_hold}
#: v1 statuses (as a task's ``status`` option) -> the v2 ``shipment_status`` filter.
STATUS_FILTER = {"awaiting_shipment": "pending", "awaiting_payment": "pending", "shipped": "label_purchased",
                 "on_hold": "on_hold", "cancelled": "cancelled", "pending": "pending", "processing": "processing",
                 "label_purchased": "label_purchased"}


def _str(value: Any) -> Optional[str]:
    return None if value is None or value == "" else str(value)


def source_id_of(shipment_id: Any) -> str:
    """'12345678' for 'se-12345678' (v1's orderId), the id itself otherwise."""
    text = str(shipment_id)
    rest = text[3:] if text.startswith("se-") else None
    return rest if rest and rest.isdigit() else text


def shipment_id_of(source_id: str) -> str:
    """The inverse of :func:`source_id_of`."""
    return f"se-{source_id}" if source_id.isdigit() else source_id


def external_id_for(order: Order) -> str:
    """The ``external_shipment_id`` Connex gives an order: ``connex:<source>:<id>``, hashed past 50 characters."""
    key = KEY_PREFIX + order.key
    if len(key) <= MAX_EXTERNAL_ID:
        return key
    return KEY_PREFIX + "h:" + hashlib.sha256(order.key.encode()).hexdigest()[:MAX_EXTERNAL_ID - len(KEY_PREFIX) - 2]


def origin_from(external_id: Optional[str]) -> Optional[str]:
    """Where an order Connex wrote came from ('quickbooks:123'); None for others and for hashed keys."""
    if external_id and external_id.startswith(KEY_PREFIX + "h:"):
        return None
    return origin_of(external_id)


def amount(value: Any) -> Optional[Decimal]:
    """A v2 money object ``{currency, amount}`` (or a bare number) as Decimal; None when absent."""
    if isinstance(value, dict):
        value = value.get("amount")
    return None if value is None or value == "" else money(value)


def currency_of(data: dict, default: str) -> str:
    for key in ("amount_paid", "shipping_paid", "tax_paid"):
        value = data.get(key)
        if isinstance(value, dict) and value.get("currency"):
            return str(value["currency"]).upper()
    return default


def parse_utc(value: Any) -> Optional[datetime]:
    """A v2 timestamp (ISO 8601, UTC, ``Z``) as an aware datetime."""
    if not value:
        return None
    text = str(value).replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_day(value: Any) -> Optional[date]:
    """``ship_date``: date-only in v2 (a time part is 00:00 UTC) [SPEC]."""
    return date.fromisoformat(str(value)[:10]) if value else None


def format_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -- v2 -> canonical --------------------------------------------------------------------------------
def address_from(data: Optional[dict]) -> Address:
    data = data or {}
    residential = {"yes": True, "no": False}.get(str(data.get("address_residential_indicator") or "").lower())
    return Address(
        name=_str(data.get("name")), company=_str(data.get("company_name")), street1=_str(data.get("address_line1")),
        street2=_str(data.get("address_line2")), street3=_str(data.get("address_line3")),
        city=_str(data.get("city_locality")), state=_str(data.get("state_province")),
        postal_code=_str(data.get("postal_code")), country=_str(data.get("country_code")),
        phone=_str(data.get("phone")), residential=residential)


def line_from(item: dict) -> LineItem:
    options = {str(o.get("name")): str(o.get("value")) for o in item.get("options") or [] if o.get("name")}
    unit_price = amount(item.get("unit_price")) or ZERO
    return LineItem(
        line_id=_str(item.get("sales_order_item_id") or item.get("external_order_item_id")), sku=_str(item.get("sku")),
        name=_str(item.get("name")), quantity=Decimal(str(item.get("quantity") or 0)), unit_price=unit_price,
        tax=amount(item.get("tax_amount")) or ZERO, shipping=amount(item.get("shipping_amount")) or ZERO,
        adjustment=unit_price < 0, options=options)


def status_from(data: dict, paid: bool) -> Optional[OrderStatus]:
    raw = data.get("shipment_status")
    if raw == "pending":
        return OrderStatus.awaiting_shipment if paid else OrderStatus.awaiting_payment
    return STATUS.get(str(raw)) if raw else None


def order_from_v2(data: dict, *, currency: str = "USD", tz: str = "UTC",
                  shipment: Optional[Shipment] = None) -> Order:
    """Map one v2 shipment object to a canonical order (see the module docstring for each gap)."""
    lines = [line_from(item) for item in data.get("items") or []]
    discount = -sum((line.amount for line in lines if line.adjustment), ZERO)
    products = sum((line.amount for line in lines if not line.adjustment), ZERO)
    shipping = amount(data.get("shipping_paid"))
    shipping = sum((line.shipping for line in lines), ZERO) if shipping is None or (
        shipping == ZERO and any(line.shipping for line in lines)) else shipping
    tax = amount(data.get("tax_paid"))
    tax = sum((line.tax for line in lines), ZERO) if tax is None or (tax == ZERO and any(line.tax for line in lines)) else tax
    amount_paid = amount(data.get("amount_paid")) or ZERO
    shipped = data.get("shipment_status") == "label_purchased" or bool(shipment and shipment.tracking_number)
    paid = amount_paid > ZERO or shipped
    status = OrderStatus.shipped if shipped else status_from(data, amount_paid > ZERO)
    ship_to = address_from(data.get("ship_to"))
    email = _str((data.get("ship_to") or {}).get("email"))
    external_id = _str(data.get("external_shipment_id"))
    sales_orders = {str(i.get("sales_order_id") or i.get("external_order_id")) for i in data.get("items") or []
                    if i.get("sales_order_id") or i.get("external_order_id")}
    adv = data.get("advanced_options") or {}
    custom = {f"custom{i}": str(adv[f"custom_field{i}"]) for i in (1, 2, 3) if adv.get(f"custom_field{i}")}
    custom[API_FIELD] = "v2"
    created = parse_utc(data.get("created_at"))
    shipment_id = str(data["shipment_id"])
    return Order(
        source=SOURCE, source_id=source_id_of(shipment_id), number=str(data.get("shipment_number") or shipment_id),
        source_key=external_id, status=status,
        order_date=created, created_at=created, modified_at=parse_utc(data.get("modified_at")), timezone=tz,
        customer=Customer(name=ship_to.name, email=email, company=ship_to.company, phone=ship_to.phone),
        bill_to=ship_to.model_copy(), ship_to=ship_to,
        lines=lines, shipping=shipping, tax=tax, discount=discount, total=products + shipping + tax - discount,
        amount_paid=amount_paid, paid=paid, currency=currency_of(data, currency),
        shipment=shipment, requested_service=_str(data.get("requested_shipment_service")),
        store=_str(data.get("order_source_code")), store_id=_str(data.get("store_id")),
        tags=[str(t.get("name")) for t in data.get("tags") or [] if isinstance(t, dict) and t.get("name")],
        notes=_str(data.get("notes_from_buyer")), custom_fields=custom, origin=origin_from(external_id),
        merged=len(sales_orders) > 1, original_number=_str(data.get("shipment_number")))


def shipment_from_label(data: dict) -> Shipment:
    """A v2 label as a canonical shipment: cost is ``shipment_cost`` + ``insurance_cost`` [SPEC]."""
    cost = (amount(data.get("shipment_cost")) or ZERO) + (amount(data.get("insurance_cost")) or ZERO)
    external_id = _str(data.get("external_shipment_id"))
    shipment_id = _str(data.get("shipment_id"))
    return Shipment(
        source=SOURCE, source_id=str(data["label_id"]), order_source_id=source_id_of(shipment_id) if shipment_id else None,
        order_number=_str((data.get("shipment") or {}).get("shipment_number")), order_key=external_id,
        origin=origin_from(external_id), carrier=_str(data.get("carrier_code")), service=_str(data.get("service_code")),
        tracking_number=_str(data.get("tracking_number")), ship_date=parse_day(data.get("ship_date")), cost=cost,
        voided=bool(data.get("voided")) or data.get("status") == "voided", created_at=parse_utc(data.get("created_at")))


def shipment_from_fulfillment(data: dict, shipment: Optional[dict] = None) -> Shipment:
    """A v2 fulfillment (shipped outside ShipStation; its fields are unverified) as a canonical shipment.

    ``shipment`` is the v2 shipment it belongs to, when read, for the number and ``external_shipment_id``.
    """
    shipment = shipment or {}
    external_id = _str(data.get("external_shipment_id") or shipment.get("external_shipment_id"))
    shipment_id = _str(data.get("shipment_id"))
    return Shipment(
        source=SOURCE, source_id=f"fulfillment-{data.get('fulfillment_id')}",
        order_source_id=source_id_of(shipment_id) if shipment_id else None,
        order_number=_str(data.get("shipment_number") or shipment.get("shipment_number")), order_key=external_id,
        origin=origin_from(external_id), carrier=_str(data.get("carrier_code")), tracking_number=_str(data.get("tracking_number")),
        ship_date=parse_day(data.get("ship_date")), cost=ZERO, voided=bool(data.get("voided")),
        created_at=parse_utc(data.get("created_at")))


# -- canonical -> v2 --------------------------------------------------------------------------------
def money_to(value: Decimal, currency: str) -> dict:
    return {"currency": currency.lower(), "amount": value}


def address_to(address: Address, fallback_name: Optional[str], email: Optional[str]) -> dict:
    residential = {True: "yes", False: "no"}.get(address.residential, "unknown")  # type: ignore[arg-type]
    return {"name": address.name or fallback_name or "", "phone": address.phone or "", "email": email,
            "company_name": address.company, "address_line1": address.street1, "address_line2": address.street2,
            "address_line3": address.street3, "city_locality": address.city, "state_province": address.state,
            "postal_code": address.postal_code, "country_code": address.country,
            "address_residential_indicator": residential}


def item_to(line: LineItem) -> dict:
    """One line as a v2 item: whole units (a fractional quantity goes as one unit at the line amount)."""
    quantity, unit_price, name = line.quantity, line.unit_price, line.name or line.sku or "Item"
    if quantity != quantity.to_integral_value():
        name = f"{name} ({quantity.normalize()} x {unit_price})"
        quantity, unit_price = Decimal(1), line.amount
    item: dict[str, Any] = {"name": name, "sku": line.sku, "quantity": int(quantity), "unit_price": unit_price,
                            "external_order_item_id": line.line_id,
                            "options": [{"name": k, "value": v} for k, v in line.options.items()]}
    if line.tax:
        item["tax_amount"] = line.tax
    if line.shipping:
        item["shipping_amount"] = line.shipping
    return item


def items_to(order: Order) -> list[dict]:
    """The order's lines, its discount as one negative line unless it has adjustment lines already."""
    items = [item_to(line) for line in order.lines]
    if order.discount and not any(line.adjustment for line in order.lines):
        items.append({"name": "Discount", "sku": None, "quantity": 1, "unit_price": -order.discount, "options": []})
    return items


def owned_fields(order: Order, currency: str) -> dict:
    """The fields Connex owns on a shipment it wrote: what it may change on a re-sync.

    Everything else (ship-from and warehouse, carrier and service, packages and weights, tags, the
    ship-to once the warehouse corrected it, custom fields) is the warehouse's and is never sent again.
    """
    cur = order.currency or currency
    return {"shipment_number": order.number, "items": items_to(order),
            "amount_paid": money_to(order.amount_paid, cur), "shipping_paid": money_to(order.shipping, cur),
            "tax_paid": money_to(order.tax, cur), "notes_from_buyer": order.notes}


def order_to_v2(order: Order, *, currency: str = "USD", warehouse_id: Optional[str] = None,
                store_id: Optional[str] = None, hold_until: Optional[date] = None) -> dict:
    """A canonical order (from QuickBooks or Xero) as one entry of ``POST /shipments``.

    ``hold_until``: an unpaid order is created on hold until that day (v2 has no awaiting_payment),
    so the warehouse does not ship it; the re-sync once it is paid clears the hold.
    """
    name = order.customer.name or order.customer.company
    ship_to = order.ship_to if order.ship_to.street1 else order.bill_to
    address = address_to(ship_to, name, order.customer.email)
    # v2 requires a non-empty ship-to phone [SHIP]; accounting documents often have none.
    address["phone"] = ship_to.phone or order.customer.phone or order.bill_to.phone or NO_PHONE
    payload: dict[str, Any] = {"external_shipment_id": external_id_for(order), "create_sales_order": True,
                               "ship_to": address,
                               **owned_fields(order, currency)}
    payload["advanced_options"] = {f"custom_field{i}": order.custom_fields.get(f"custom{i}") for i in (1, 2, 3)}
    if warehouse_id:
        payload["warehouse_id"] = warehouse_id
    if store_id:
        payload["store_id"] = store_id
    if order.requested_service:
        payload["requested_shipment_service"] = order.requested_service
    if hold_until is not None and not order.paid:
        payload["hold_until_date"] = hold_until.isoformat()
    return payload
