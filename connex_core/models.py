"""The canonical order model.

Every connector maps its API's payloads to these models and back, and every rule reads and
writes them. The field names are what users write in rule files (``order.number``,
``amount_paid``, ``ship_to.state``), so they are chosen to read like a bookkeeper's words.
Each field's description is shown by ``connex rules fields`` and in ``docs/rules.md``.

Conventions:

* Money is :class:`~decimal.Decimal`, never float. Amounts are in the order's ``currency``.
* Every datetime is timezone-aware. A source whose API gives local times without an offset
  (ShipStation: US Pacific) converts them with :mod:`zoneinfo` in its mapping.
* ``None`` means "the source did not say"; an empty string or list is a real empty value.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any, Optional

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ZERO = Decimal("0")


class OrderStatus(str, Enum):
    """Where an order stands. ShipStation's statuses, plus the accounting documents' own."""

    awaiting_payment = "awaiting_payment"
    awaiting_shipment = "awaiting_shipment"
    pending_fulfillment = "pending_fulfillment"
    on_hold = "on_hold"
    shipped = "shipped"
    cancelled = "cancelled"
    rejected_fulfillment = "rejected_fulfillment"
    draft = "draft"
    open = "open"
    paid = "paid"
    voided = "voided"


class DocumentType(str, Enum):
    """Which accounting document an order becomes in the target (a rule may choose per order)."""

    sales_receipt = "sales_receipt"
    invoice = "invoice"


class _Model(BaseModel):
    model_config = ConfigDict(validate_assignment=True, extra="forbid", use_enum_values=False)


class Address(_Model):
    """A postal address (bill-to or ship-to)."""

    name: Optional[str] = Field(None, description="Name of the person at this address.")
    company: Optional[str] = Field(None, description="Company name at this address.")
    street1: Optional[str] = Field(None, description="First street line.")
    street2: Optional[str] = Field(None, description="Second street line.")
    street3: Optional[str] = Field(None, description="Third street line.")
    city: Optional[str] = Field(None, description="City or town.")
    state: Optional[str] = Field(None, description="State, province or region (a code such as 'CA' where the source gives one).")
    postal_code: Optional[str] = Field(None, description="ZIP or postal code.")
    country: Optional[str] = Field(None, description="Country, as a two-letter ISO code where the source gives one ('US').")
    phone: Optional[str] = Field(None, description="Phone number at this address.")
    residential: Optional[bool] = Field(None, description="Whether this is a residential address (shipping only).")


class Customer(_Model):
    """Who bought the order."""

    id: Optional[str] = Field(None, description="The customer's id in the source system.")
    name: Optional[str] = Field(None, description="The customer's display name.")
    email: Optional[str] = Field(None, description="The customer's e-mail address.")
    company: Optional[str] = Field(None, description="The customer's company.")
    phone: Optional[str] = Field(None, description="The customer's phone number.")
    username: Optional[str] = Field(None, description="The customer's user name at the store (ShipStation customerUsername).")


class LineItem(_Model):
    """One line of an order."""

    line_id: Optional[str] = Field(None, description="The line's id in the source system.")
    sku: Optional[str] = Field(None, description="Stock-keeping unit: the product code the items are matched by.")
    name: Optional[str] = Field(None, description="Product name or line description.")
    quantity: Decimal = Field(Decimal("1"), description="How many units.")
    unit_price: Decimal = Field(ZERO, description="Price of one unit, before tax.")
    tax: Decimal = Field(ZERO, description="Tax on this line (total for the line, not per unit).")
    discount: Decimal = Field(ZERO, description="Discount on this line (a positive amount taken off).")
    shipping: Decimal = Field(ZERO, description="Shipping charged on this line, where the source charges shipping per item.")
    adjustment: bool = Field(False, description="True for an adjustment line (a coupon or credit the source shows as a line with a negative price).")
    tax_code: Optional[str] = Field(None, description="Tax code or tax type for this line in the target (rules may set it).")
    account: Optional[str] = Field(None, description="Income account for this line in the target (rules may set it).")
    item_name: Optional[str] = Field(None, description="The target's product/service name to post this line as (rules may set it; default: matched by sku).")
    description: Optional[str] = Field(None, description="The text the target document shows on this line (rules may set it; default: the name, else the sku).")
    class_name: Optional[str] = Field(None, description="Class to book this line under, for targets that book classes per line (QuickBooks today books the order's class). In rules: 'line.class'.")
    tracking: dict[str, str] = Field(default_factory=dict, description="Tracking categories on the line (Xero): category name -> option name.")
    options: dict[str, str] = Field(default_factory=dict, description="Product options the buyer chose (size, colour...).")

    @property
    def amount(self) -> Decimal:
        """quantity x unit price (before tax and discount)."""
        return self.quantity * self.unit_price


class Shipment(_Model):
    """A shipment: the facts written back to the accounting document once an order ships."""

    source: Optional[str] = Field(None, description="The connector the shipment was read from ('shipstation').")
    source_id: Optional[str] = Field(None, description="The shipment's id in the source system.")
    order_source_id: Optional[str] = Field(None, description="The id, in the shipping system, of the order this shipment belongs to.")
    order_number: Optional[str] = Field(None, description="The order number of the order this shipment belongs to.")
    order_key: Optional[str] = Field(None, description="The shipping system's unique key of the order (ShipStation orderKey).")
    origin: Optional[str] = Field(None, description="Where the order came from, as 'connector:id' (the accounting document to write tracking back to), when known.")
    carrier: Optional[str] = Field(None, description="Carrier code or name ('usps', 'ups', 'fedex').")
    service: Optional[str] = Field(None, description="Carrier service ('usps_priority_mail').")
    tracking_number: Optional[str] = Field(None, description="The carrier's tracking number.")
    ship_date: Optional[date] = Field(None, description="The day the order shipped (in the shipping system's local day).")
    cost: Optional[Decimal] = Field(None, description="What the shipment cost the seller (postage and insurance).")
    voided: bool = Field(False, description="True if the label was voided (voided shipments are never written back).")
    created_at: Optional[AwareDatetime] = Field(None, description="When the shipment was created.")

    @property
    def key(self) -> str:
        return f"{self.source}:shipment:{self.source_id}"


class Order(_Model):
    """An order, as every source maps it and every target reads it.

    Rules see these fields by name: ``number`` and ``order.number`` are the same field.
    """

    # -- identity -----------------------------------------------------------------------------------
    source: str = Field(description="The connector the order was read from ('shipstation', 'quickbooks', 'xero').")
    source_id: str = Field(description="The order's id in the source system.")
    number: str = Field(description="The order number people see ('1001', 'INV-0042'). Rules may change it (strip suffix).")
    source_key: Optional[str] = Field(None, description="The source's own unique key, where it has one (ShipStation orderKey).")
    status: Optional[OrderStatus] = Field(None, description="Where the order stands: awaiting_payment, awaiting_shipment, shipped, cancelled, on_hold, open, paid, ...")

    # -- dates ------------------------------------------------------------------------------------
    order_date: Optional[AwareDatetime] = Field(None, description="When the customer placed the order.")
    created_at: Optional[AwareDatetime] = Field(None, description="When the order was created in the source system.")
    modified_at: Optional[AwareDatetime] = Field(None, description="When the order was last changed in the source system.")
    paid_at: Optional[AwareDatetime] = Field(None, description="When the order was paid.")
    due_date: Optional[date] = Field(None, description="When payment is due (invoices).")
    timezone: Optional[str] = Field(None, description="The source system's local time zone ('America/Los_Angeles' for ShipStation): days such as 'the 15th' are counted in it.")

    # -- who --------------------------------------------------------------------------------------------
    customer: Customer = Field(default_factory=Customer, description="Who bought the order.")
    bill_to: Address = Field(default_factory=Address, description="Billing address.")
    ship_to: Address = Field(default_factory=Address, description="Shipping address.")

    # -- what ---------------------------------------------------------------------------------------
    lines: list[LineItem] = Field(default_factory=list, description="The order's lines.")
    shipping: Decimal = Field(ZERO, description="Shipping charged to the customer (order level, including any per-line shipping).")
    tax: Decimal = Field(ZERO, description="Total tax on the order.")
    discount: Decimal = Field(ZERO, description="Total discount on the order (a positive amount taken off).")
    total: Decimal = Field(ZERO, description="Order total the customer owes: lines + shipping + tax - discount.")
    amount_paid: Decimal = Field(ZERO, description="How much the customer has paid.")
    paid: bool = Field(False, description="Whether the order counts as paid. Sources set it (ShipStation: amount paid > 0 or shipped); 'mark paid' / 'mark unpaid' change it.")
    currency: Optional[str] = Field(None, description="Three-letter currency code ('USD').")
    payment_method: Optional[str] = Field(None, description="How the customer paid ('Credit Card', 'PayPal'); rules may set it for the target.")

    # -- shipping -----------------------------------------------------------------------------------
    shipment: Optional[Shipment] = Field(None, description="Shipment facts once shipped: carrier, service, tracking_number, ship_date, cost.")
    requested_service: Optional[str] = Field(None, description="The shipping service the customer chose at checkout.")

    # -- where from -----------------------------------------------------------------------------------
    store: Optional[str] = Field(None, description="The store or marketplace the order came from ('Amazon', 'My Shopify Store').")
    store_id: Optional[str] = Field(None, description="The store's id in the source system.")
    tags: list[str] = Field(default_factory=list, description="Tags on the order; rules may add more ('tag').")
    notes: Optional[str] = Field(None, description="The customer's notes on the order.")
    internal_notes: Optional[str] = Field(None, description="The seller's internal notes on the order.")
    custom_fields: dict[str, str] = Field(default_factory=dict, description="Custom fields of the source (ShipStation custom1..custom3).")
    origin: Optional[str] = Field(None, description="For an order that came into the shipping system from an accounting system: where from, as 'connector:id'.")

    # -- split and merged orders --------------------------------------------------------------------
    split: bool = Field(False, description="True when the source split this order off another.")
    merged: bool = Field(False, description="True when the source merged other orders into this one.")
    parent_id: Optional[str] = Field(None, description="For a split order: the id of the order it was split from.")
    split_original: bool = Field(False, description="True for the original of a split order: the source split other orders off it (its lines are fewer than those it was sold with).")
    merged_ids: list[str] = Field(default_factory=list, description="For a merged order: the ids of the orders merged into it (each is booked as part of this order, not on its own).")
    original_number: Optional[str] = Field(None, description="The number as the source gave it, before any rule changed it.")

    # -- target hints (rules set these) -------------------------------------------------------------
    document_type: Optional[DocumentType] = Field(None, description="Which document the target creates: sales_receipt or invoice (default: the task's option).")
    class_name: Optional[str] = Field(None, description="Class to book the order under (QuickBooks classes). In rules: 'class'.")
    location: Optional[str] = Field(None, description="Location / department to book the order under.")
    deposit_account: Optional[str] = Field(None, description="Account the payment is deposited to.")
    tax_code: Optional[str] = Field(None, description="Tax code (QuickBooks) or tax type (Xero) for the whole order.")
    memo: Optional[str] = Field(None, description="Memo / reference text on the target document.")
    customer_ref: Optional[str] = Field(None, description="The target's customer to post the order to (overrides the task's customer matching).")
    shipping_item: Optional[str] = Field(None, description="The target's product/service to book the shipping charge on, whatever the method (QuickBooks; default: the task's shipping_item option, or the company's built-in shipping).")

    # -- helpers --------------------------------------------------------------------------------------
    @property
    def key(self) -> str:
        """The order's identity across runs: 'source:source_id'. Never changed by rules."""
        return f"{self.source}:{self.source_id}"

    @property
    def shipped(self) -> bool:
        """The order has shipped (status shipped, or shipment facts present)."""
        return self.status == OrderStatus.shipped or (self.shipment is not None and bool(self.shipment.tracking_number))

    @property
    def line_total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    def content_hash(self) -> str:
        """A stable hash of everything the target would see, for change detection."""
        exclude: dict[str, Any] = {"modified_at": True}
        # Line fields added after orders were first hashed are left out while empty, so that the hash of
        # an order that does not use them stays what it was (no spurious updates after an upgrade).
        unset = {n: keys for n, line in enumerate(self.lines)
                 if (keys := {k for k in LINE_FIELDS_SINCE_HASHED if getattr(line, k) is None})}
        if unset:
            exclude["lines"] = unset
        exclude.update({k: True for k in ORDER_FIELDS_SINCE_HASHED if not getattr(self, k)})
        data = self.model_dump_json(exclude=exclude)
        return hashlib.sha256(data.encode()).hexdigest()[:16]


#: Line fields added after content hashes were first stored (see :meth:`Order.content_hash`).
LINE_FIELDS_SINCE_HASHED = ("description", "class_name")
#: Order fields added after content hashes were first stored, left out of the hash while empty.
ORDER_FIELDS_SINCE_HASHED = ("merged_ids", "split_original")

#: Names the rule language accepts for fields whose Python name differs (of orders and of lines).
FIELD_ALIASES: dict[str, str] = {"class": "class_name"}

#: Named predicates the rule language knows as bare words (``when shipped and paid``).
PREDICATES: dict[str, str] = {
    "shipped": "The order has shipped (status shipped, or a tracking number is present).",
    "paid": "The order counts as paid (the 'paid' field).",
    "split": "The source split this order off another.",
    "merged": "The source merged other orders into this one.",
}


def parse_origin(origin: str | None) -> tuple[str, str] | None:
    """Split an origin reference 'connector:id' into its parts (None if absent or malformed)."""
    if not origin or ":" not in origin:
        return None
    connector, _, ident = origin.partition(":")
    return (connector, ident) if connector and ident else None


def order_from_json(data: dict[str, Any]) -> Order:
    """Build an order from canonical JSON (as written by ``Order.model_dump(mode='json')``)."""
    return Order.model_validate(data)
