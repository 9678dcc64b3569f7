"""ShipStation payloads <-> the canonical model.

From ShipStation (orders, shipments, fulfillments):

* identity: ``source="shipstation"``, ``source_id=str(orderId)``, ``number=orderNumber``,
  ``source_key=orderKey``; an ``orderKey`` that starts with ``connex:`` marks an order Connex wrote
  from an accounting system, and the rest of it becomes ``origin`` ("quickbooks:Invoice-123");
* dates are Pacific wall-clock time (see :mod:`.timezone`);
* adjustment lines (``adjustment: true`` or a negative unit price) stay lines with
  ``adjustment=True`` and are counted into ``discount``; ``total`` is lines + shipping + tax -
  discount, which is what ShipStation's ``orderTotal`` is;
* order-level tax and shipping win over the sums of the item-level values when the store filled
  them in; otherwise the item sums are used (stores fill one or the other);
* paid when amount paid > 0 or shipped;
* split orders: ``advancedOptions.mergedOrSplit`` with a ``parentId`` (merged: with ``mergedIds``);
  a ``-N`` suffix on the number is left to rules (``strip suffix``), ``original_number`` keeps it.

To ShipStation (orders coming from QuickBooks or Xero): ``orderKey = "connex:" + order.key``,
``awaiting_shipment`` when paid and ``awaiting_payment`` otherwise, items by SKU, the discount as
an adjustment line.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Optional

from connex_core.api import countries
from connex_core.api import ZERO, Address, Customer, LineItem, Order, OrderStatus, Shipment
from connex_core.api import to_decimal

from .timezone import PACIFIC_NAME, format_timestamp, parse_date, parse_timestamp

SOURCE = "shipstation"
KEY_PREFIX = "connex:"
CUSTOM_FIELDS = ("customField1", "customField2", "customField3")


money = to_decimal  # a JSON number as Decimal, exact and unrounded (connex_core.money)


def order_key_for(order: Order) -> str:
    """The deterministic orderKey of an order Connex writes to ShipStation: ``connex:source:id``."""
    return KEY_PREFIX + order.key


def origin_of(order_key: Optional[str]) -> Optional[str]:
    """'quickbooks:Invoice-123' for the orderKey 'connex:quickbooks:Invoice-123'; None for others."""
    if order_key and order_key.startswith(KEY_PREFIX) and len(order_key) > len(KEY_PREFIX):
        return order_key[len(KEY_PREFIX):]
    return None


def _str(value: Any) -> Optional[str]:
    return None if value is None or value == "" else str(value)


# -- ShipStation -> canonical ---------------------------------------------------------------------
def address_from(data: Optional[dict]) -> Address:
    data = data or {}
    return Address(
        name=_str(data.get("name")), company=_str(data.get("company")),
        street1=_str(data.get("street1")), street2=_str(data.get("street2")), street3=_str(data.get("street3")),
        city=_str(data.get("city")), state=_str(data.get("state")), postal_code=_str(data.get("postalCode")),
        country=countries.normalised(_str(data.get("country"))), phone=_str(data.get("phone")), residential=data.get("residential"),
    )


def is_adjustment(item: dict) -> bool:
    return bool(item.get("adjustment")) or money(item.get("unitPrice")) < 0


def line_from(item: dict) -> LineItem:
    options = {str(o.get("name")): str(o.get("value")) for o in item.get("options") or [] if o.get("name")}
    line_id = item.get("orderItemId") or item.get("lineItemKey")
    return LineItem(
        line_id=_str(line_id), sku=_str(item.get("sku")), name=_str(item.get("name")),
        quantity=Decimal(str(item.get("quantity") or 0)), unit_price=money(item.get("unitPrice")),
        tax=money(item.get("taxAmount")), shipping=money(item.get("shippingAmount")),
        adjustment=is_adjustment(item), options=options,
    )


def _reconcile(order_level: Any, item_sum: Decimal) -> Decimal:
    """Order-level tax/shipping when the store gave one, else the sum of the item-level values."""
    value = money(order_level)
    return value if order_level is not None and (value != ZERO or item_sum == ZERO) else item_sum


def _split_facts(adv: dict) -> tuple[bool, bool, Optional[str], bool]:
    """(split, merged, parent id, split original) from advancedOptions: a split-off order points at its
    original with ``parentId``; a merged order lists the orders merged into it in ``mergedIds``. The
    original of a split keeps its number and is neither: flagged ``mergedOrSplit`` with no parent and
    no merged ids."""
    parent = _str(adv.get("parentId"))
    if not adv.get("mergedOrSplit"):
        return False, False, parent, False
    merged = bool(adv.get("mergedIds"))
    return parent is not None, merged, parent, parent is None and not merged


def order_from_shipstation(data: dict, *, stores: Optional[dict[str, str]] = None,
                           tags: Optional[dict[str, str]] = None, currency: str = "USD",
                           shipment: Optional[Shipment] = None) -> Order:
    """Map one ShipStation order object to a canonical order.

    ``stores`` and ``tags`` map ids to names (from ``GET /stores`` and ``GET /accounts/listtags``);
    without them the store falls back to ``advancedOptions.source`` and tags stay ids.
    """
    adv = data.get("advancedOptions") or {}
    lines = [line_from(item) for item in data.get("items") or []]
    products = [line for line in lines if not line.adjustment]
    discount = -sum((line.amount for line in lines if line.adjustment), ZERO)
    shipping = _reconcile(data.get("shippingAmount"), sum((line.shipping for line in lines), ZERO))
    tax = _reconcile(data.get("taxAmount"), sum((line.tax for line in lines), ZERO))
    computed = sum((line.amount for line in products), ZERO) + shipping + tax - discount
    total = money(data["orderTotal"]) if data.get("orderTotal") is not None else computed
    status = OrderStatus(data["orderStatus"]) if data.get("orderStatus") else None
    amount_paid = money(data.get("amountPaid"))
    store_id = _str(adv.get("storeId"))
    split, merged, parent, original = _split_facts(adv)
    bill_to, ship_to = address_from(data.get("billTo")), address_from(data.get("shipTo"))
    order_key = _str(data.get("orderKey"))
    return Order(
        source=SOURCE, source_id=str(data["orderId"]), number=str(data.get("orderNumber") or data["orderId"]),
        source_key=order_key, status=status,
        order_date=parse_timestamp(data.get("orderDate")), created_at=parse_timestamp(data.get("createDate")),
        modified_at=parse_timestamp(data.get("modifyDate")), paid_at=parse_timestamp(data.get("paymentDate")),
        timezone=PACIFIC_NAME,
        customer=Customer(
            id=_str(data.get("customerId")), name=bill_to.name or ship_to.name, email=_str(data.get("customerEmail")),
            company=bill_to.company or ship_to.company, phone=bill_to.phone or ship_to.phone,
            username=_str(data.get("customerUsername"))),
        bill_to=bill_to, ship_to=ship_to,
        lines=lines, shipping=shipping, tax=tax, discount=discount, total=total,
        amount_paid=amount_paid, paid=amount_paid > ZERO or status == OrderStatus.shipped,
        currency=currency, payment_method=_str(data.get("paymentMethod")),
        shipment=shipment, requested_service=_str(data.get("requestedShippingService")),
        store=(stores or {}).get(store_id or "") or _str(adv.get("source")), store_id=store_id,
        tags=[(tags or {}).get(str(t), str(t)) for t in data.get("tagIds") or []],
        notes=_str(data.get("customerNotes")), internal_notes=_str(data.get("internalNotes")),
        custom_fields={f"custom{i}": str(adv[name]) for i, name in enumerate(CUSTOM_FIELDS, 1) if adv.get(name)},
        origin=origin_of(order_key),
        split=split, merged=merged, parent_id=parent, merged_ids=[str(i) for i in adv.get("mergedIds") or []],
        split_original=original,
        original_number=_str(data.get("orderNumber")),
    )


def shipment_from_shipstation(data: dict) -> Shipment:
    """A ``GET /shipments`` item (a label) as a canonical shipment."""
    cost = money(data.get("shipmentCost")) + money(data.get("insuranceCost"))
    return Shipment(
        source=SOURCE, source_id=str(data["shipmentId"]), order_source_id=_str(data.get("orderId")),
        order_number=_str(data.get("orderNumber")), order_key=_str(data.get("orderKey")),
        origin=origin_of(data.get("orderKey")), carrier=_str(data.get("carrierCode")),
        service=_str(data.get("serviceCode")), tracking_number=_str(data.get("trackingNumber")),
        ship_date=parse_date(data.get("shipDate")), cost=cost, voided=bool(data.get("voided")),
        created_at=parse_timestamp(data.get("createDate")),
    )


def shipment_from_fulfillment(data: dict, order_key: Optional[str] = None) -> Shipment:
    """A ``GET /fulfillments`` item (shipped outside ShipStation) as a canonical shipment.

    Fulfillments carry no orderKey; pass the order's when known so ``origin`` can be set.
    """
    return Shipment(
        source=SOURCE, source_id=f"fulfillment-{data['fulfillmentId']}", order_source_id=_str(data.get("orderId")),
        order_number=_str(data.get("orderNumber")), order_key=order_key, origin=origin_of(order_key),
        carrier=_str(data.get("carrierCode")), service=_str(data.get("fulfillmentServiceCode")),
        tracking_number=_str(data.get("trackingNumber")), ship_date=parse_date(data.get("shipDate")),
        cost=money(data.get("fulfillmentFee")), voided=bool(data.get("voided")),
        created_at=parse_timestamp(data.get("createDate")),
    )


# -- canonical -> ShipStation ---------------------------------------------------------------------
def address_to(address: Address, fallback_name: Optional[str], field: str = "ship_to") -> dict:
    """A ShipStation address. Its country must be an ISO 3166-1 alpha-2 code (ShipStation v1 Address
    model); a name or alpha-3 code is converted, and a value that is no country raises
    :class:`~connex_core.countries.UnknownCountry` naming the value and ``field``."""
    return {
        "name": address.name or fallback_name or "", "company": address.company,
        "street1": address.street1, "street2": address.street2, "street3": address.street3,
        "city": address.city, "state": address.state, "postalCode": address.postal_code,
        "country": countries.alpha2(address.country, f"{field}.country"), "phone": address.phone,
        "residential": address.residential,
    }


def item_to(line: LineItem) -> dict:
    """One line as an OrderItem. ShipStation counts whole units; a fractional quantity is sent as one
    unit at the line amount, with the real quantity in the name."""
    quantity, unit_price, name = line.quantity, line.unit_price, line.name or line.sku or "Item"
    if quantity != quantity.to_integral_value():
        name = f"{name} ({quantity.normalize()} x {unit_price})"
        quantity, unit_price = Decimal(1), line.amount
    item: dict[str, Any] = {
        "lineItemKey": line.line_id, "sku": line.sku, "name": name, "quantity": int(quantity),
        "unitPrice": unit_price, "adjustment": line.adjustment,
        "options": [{"name": k, "value": v} for k, v in line.options.items()],
    }
    if line.tax:
        item["taxAmount"] = line.tax
    if line.shipping:
        item["shippingAmount"] = line.shipping
    return item


def order_to_shipstation(order: Order, *, store_id: Optional[int] = None) -> dict:
    """A canonical order (from QuickBooks or Xero) as a ``createorders`` object.

    The order-level discount goes as one adjustment line unless the order already has adjustment
    lines. Money stays Decimal here; the client writes it as a JSON number.
    """
    items = [item_to(line) for line in order.lines]
    if order.discount and not any(line.adjustment for line in order.lines):
        items.append({"sku": None, "name": "Discount", "quantity": 1, "unitPrice": -order.discount,
                      "adjustment": True, "options": []})
    when = order.order_date or order.created_at
    advanced: dict[str, Any] = {f"customField{i}": order.custom_fields.get(f"custom{i}") for i in (1, 2, 3)}
    if store_id is not None:
        advanced["storeId"] = store_id
    customer_name = order.customer.name or order.customer.company
    return {
        "orderNumber": order.number, "orderKey": order_key_for(order),
        "orderDate": format_timestamp(when) if when else None,
        "paymentDate": format_timestamp(order.paid_at) if order.paid and order.paid_at else None,
        "orderStatus": "awaiting_shipment" if order.paid else "awaiting_payment",
        "customerUsername": order.customer.username or order.customer.email,
        "customerEmail": order.customer.email,
        "billTo": address_to(order.bill_to, customer_name, "bill_to"),
        "shipTo": address_to(order.ship_to if order.ship_to.street1 else order.bill_to, customer_name,
                             "ship_to" if order.ship_to.street1 else "bill_to"),
        "items": items, "amountPaid": order.amount_paid, "taxAmount": order.tax, "shippingAmount": order.shipping,
        "customerNotes": order.notes, "internalNotes": order.internal_notes, "paymentMethod": order.payment_method,
        "requestedShippingService": order.requested_service, "advancedOptions": advanced,
    }


#: What the warehouse sets on an order in ShipStation and a re-sync keeps (createorders replaces the whole order:
#: api-contracts §1.5). Connex owns the items, amounts, addresses, notes, and the custom fields it sets.
WAREHOUSE_FIELDS = ("weight", "dimensions", "carrierCode", "serviceCode", "packageCode", "confirmation",
                    "insuranceOptions", "internationalOptions", "tagIds", "shipDate", "shipByDate", "holdUntilDate",
                    "userId", "gift", "giftMessage")
WAREHOUSE_ADVANCED = ("warehouseId", "nonMachinable", "saturdayDelivery", "containsAlcohol", "source",
                      "billToParty", "billToAccount", "billToPostalCode", "billToCountryCode", "billToMyOtherAccount")
WAREHOUSE_ITEM_FIELDS = ("weight", "warehouseLocation", "imageUrl", "productId", "fulfillmentSku", "upc")


def merge_for_update(current: dict, payload: dict) -> dict:
    """The ``createorders`` object that updates ``current`` (the order as ShipStation has it) with Connex's
    ``payload``: Connex's fields from the payload, the warehouse's from ``current``.

    Kept from ShipStation: :data:`WAREHOUSE_FIELDS`, :data:`WAREHOUSE_ADVANCED`, each item's
    :data:`WAREHOUSE_ITEM_FIELDS` (matched by ``lineItemKey``, else by SKU), a custom field Connex leaves
    empty, and a hold (``on_hold`` stays on hold until its date, whatever the source says).
    """
    merged = dict(payload)
    for key in WAREHOUSE_FIELDS:
        if key in current:
            merged[key] = current[key]
    advanced = dict(payload.get("advancedOptions") or {})
    was = current.get("advancedOptions") or {}
    for key in WAREHOUSE_ADVANCED:
        if key in was:
            advanced[key] = was[key]
    for i in (1, 2, 3):
        name = f"customField{i}"
        if advanced.get(name) in (None, "") and was.get(name) not in (None, ""):
            advanced[name] = was[name]  # set in ShipStation (or by an earlier rule): Connex sets nothing there now
    merged["advancedOptions"] = advanced
    if current.get("orderStatus") == "on_hold":
        merged["orderStatus"] = "on_hold"
    by_key = {i.get("lineItemKey"): i for i in current.get("items") or [] if i.get("lineItemKey")}
    by_sku = {i.get("sku"): i for i in current.get("items") or [] if i.get("sku")}
    items = []
    for item in payload.get("items") or []:
        before = by_key.get(item.get("lineItemKey")) if item.get("lineItemKey") else by_sku.get(item.get("sku"))
        if before is None and item.get("sku"):
            before = by_sku.get(item.get("sku"))
        items.append({**item, **{k: before[k] for k in WAREHOUSE_ITEM_FIELDS if before and before.get(k) is not None
                                 and item.get(k) is None}})
    merged["items"] = items
    return merged
