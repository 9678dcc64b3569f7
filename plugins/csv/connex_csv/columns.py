"""The column set: what each column of an order file means, and the headers it is recognised by.

One row per order line. Order-level columns (number, date, customer, addresses, shipping, tax, total)
may be repeated on every line of the order or given on its first line only (as Shopify exports do);
when two lines of one order give different values, the order is malformed.

The files this connector writes have exactly :data:`OUTPUT` as header, so they read back unchanged.
"""

from __future__ import annotations

import re

#: column -> what it holds (plugins/csv/README.md shows this table; a test keeps the two the same).
COLUMNS: dict[str, str] = {
    "order_number": "The order's number; rows with the same number are one order's lines (a leading '#' is dropped).",
    "order_date": "When the order was placed (a date, or a date and time; the connection's timezone when no offset).",
    "status": "awaiting_payment, awaiting_shipment, shipped, cancelled, on_hold (Connex's order statuses).",
    "fulfillment_status": "fulfilled / shipped (status shipped), unfulfilled, partial (as Shopify exports it).",
    "paid": "Whether the order is paid: true/false, yes/no, 1/0.",
    "financial_status": "paid / partially_paid / pending / refunded / voided (as Shopify exports it).",
    "amount_paid": "How much the customer paid.",
    "paid_at": "When the order was paid.",
    "currency": "Three-letter currency code.",
    "customer_name": "The buyer's name.",
    "customer_email": "The buyer's e-mail address.",
    "customer_phone": "The buyer's phone number.",
    "bill_name": "Billing address: name.", "bill_company": "Billing address: company.",
    "bill_street1": "Billing address: first street line.", "bill_street2": "Billing address: second street line.",
    "bill_city": "Billing address: city.", "bill_state": "Billing address: state or region.",
    "bill_postal_code": "Billing address: postal code.", "bill_country": "Billing address: country (two letters).",
    "ship_name": "Shipping address: name.", "ship_company": "Shipping address: company.",
    "ship_street1": "Shipping address: first street line.", "ship_street2": "Shipping address: second street line.",
    "ship_city": "Shipping address: city.", "ship_state": "Shipping address: state or region.",
    "ship_postal_code": "Shipping address: postal code.", "ship_country": "Shipping address: country (two letters).",
    "ship_phone": "Shipping address: phone.",
    "store": "The store or marketplace.",
    "payment_method": "How the customer paid.",
    "notes": "The customer's notes.",
    "sku": "The line's SKU (a line needs a SKU or an item name).",
    "item_name": "The line's product name.",
    "quantity": "How many units (a number, may have decimals).",
    "unit_price": "The price of one unit before tax.",
    "line_tax": "Tax on the line (for the whole line).",
    "line_discount": "Discount on the line (a positive amount taken off).",
    "shipping": "Shipping charged on the order.",
    "tax": "Tax on the order (default: the sum of line_tax).",
    "discount": "Discount on the order (default: the sum of line_discount).",
    "total": "What the customer owes (default: lines + shipping + tax - discount).",
    "tracking_number": "The carrier's tracking number (the order has shipped).",
    "carrier": "The carrier.",
    "ship_date": "The day the order shipped.",
    # written by this connector (read back, not required)
    "line_amount": "quantity x unit_price (written; read back as a check).",
    "lines_in_order": "How many lines the order has (written; read back as a check).",
    "order_key": "Where the order came from in Connex ('shipstation:123'); written so a rerun finds it.",
}

#: The header of the files this connector writes (every column above, in this order).
OUTPUT: tuple[str, ...] = (
    "order_number", "order_date", "status", "paid", "amount_paid", "paid_at", "currency", "customer_name",
    "customer_email", "customer_phone", "bill_name", "bill_company", "bill_street1", "bill_street2", "bill_city",
    "bill_state", "bill_postal_code", "bill_country", "ship_name", "ship_company", "ship_street1", "ship_street2",
    "ship_city", "ship_state", "ship_postal_code", "ship_country", "ship_phone", "store", "payment_method", "notes",
    "sku", "item_name", "quantity", "unit_price", "line_tax", "line_discount", "line_amount", "shipping", "tax",
    "discount", "total", "lines_in_order", "tracking_number", "carrier", "ship_date", "order_key",
)

#: Other headers each column is recognised by (compared lower-case, with spaces, '-' and '_' alike). Sources:
#: Shopify's orders export ("Name", "Lineitem sku", "Financial Status", ...), Etsy's sold-order-items export
#: ("Order ID", "Sale Date", "Item Name", "Ship Zipcode", ...), and plain spreadsheet names.
ALIASES: dict[str, tuple[str, ...]] = {
    "order_number": ("name", "order id", "order", "order no", "order #", "number"),
    "order_date": ("created at", "sale date", "date", "order created", "purchase date"),
    "financial_status": ("financial status",),
    "fulfillment_status": ("fulfillment status",),
    "paid_at": ("paid at", "date paid"),
    "customer_name": ("buyer", "buyer name", "customer", "billing name"),
    "customer_email": ("email", "buyer email"),
    "customer_phone": ("phone",),
    "bill_name": ("billing name",),
    "bill_company": ("billing company",),
    "bill_street1": ("billing address1", "billing street"),
    "bill_street2": ("billing address2",),
    "bill_city": ("billing city",),
    "bill_state": ("billing province", "billing state"),
    "bill_postal_code": ("billing zip", "billing postal code"),
    "bill_country": ("billing country",),
    "ship_name": ("shipping name", "ship name"),
    "ship_company": ("shipping company",),
    "ship_street1": ("shipping address1", "shipping street", "ship address1"),
    "ship_street2": ("shipping address2", "ship address2"),
    "ship_city": ("shipping city", "ship city"),
    "ship_state": ("shipping province", "ship state"),
    "ship_postal_code": ("shipping zip", "ship zipcode"),
    "ship_country": ("shipping country", "ship country"),
    "ship_phone": ("shipping phone",),
    "payment_method": ("payment method", "payment type"),
    "sku": ("lineitem sku", "item sku"),
    "item_name": ("lineitem name", "item name", "product", "product name", "description"),
    "quantity": ("lineitem quantity", "qty"),
    "unit_price": ("lineitem price", "price", "unit price", "item price"),
    "line_discount": ("lineitem discount",),
    "shipping": ("order shipping", "shipping cost"),
    "tax": ("taxes", "order sales tax", "sales tax"),
    "discount": ("discount amount",),
    "total": ("order total", "order value"),
    "notes": ("note",),
    "tracking_number": ("tracking", "tracking no"),
    "ship_date": ("date shipped", "shipped at"),
}

#: Without these a file is not an order file.
REQUIRED = ("order_number", "quantity", "unit_price")


def normal(header: str) -> str:
    return re.sub(r"[\s_\-]+", " ", header.strip().lower())


def detect(header: list[str], given: dict[str, str]) -> tuple[dict[str, int], list[str]]:
    """Which column of the file is which: ``({column: index}, [missing required columns])``.

    ``given`` (the connection's ``columns`` setting) wins; then a header equal to a column's own name; then
    its aliases. A header is used for one column only.
    """
    index = {normal(h): i for i, h in reversed(list(enumerate(header)))}
    found: dict[str, int] = {}
    used: set[int] = set()
    for column, name in given.items():
        if normal(name) in index:
            found[column] = index[normal(name)]
            used.add(found[column])
    for column in COLUMNS:
        if column not in found and normal(column) in index and index[normal(column)] not in used:
            found[column] = index[normal(column)]
            used.add(found[column])
    for column, names in ALIASES.items():
        if column in found:
            continue
        for name in names:
            i = index.get(normal(name))
            if i is not None and i not in used:
                found[column] = i
                used.add(i)
                break
    missing = [c for c in REQUIRED if c not in found]
    if "sku" not in found and "item_name" not in found:
        missing.append("sku or item_name")
    return found, missing
