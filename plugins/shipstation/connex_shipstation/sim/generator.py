"""Realistic ShipStation orders, deterministic by seed, for the simulator, the demo and benchmarks.

The mix is chosen to exercise what real accounts throw at an integration:

* split orders: a parent ``1050`` and its child ``1050-1`` (``advancedOptions.mergedOrSplit``,
  the child's ``parentId``), each part paid its own total;
* shipped orders with nothing paid (marketplace orders settled elsewhere), shipped orders paid in part (a
  deposit of half, numbers ending in 7), unpaid
  ``awaiting_payment`` orders, ``on_hold`` and ``cancelled`` ones;
* adjustment lines (a coupon with a negative unit price and ``adjustment: true``);
* tax and shipping given at order level by some stores and per item by others;
* international addresses and non-ASCII names (Zoë, José, Łukasz, 山田);
* several stores, tags and custom fields.

:class:`OrderGenerator` only builds payloads; :meth:`ShipStationSimulator.seed_orders` stores
them (filling the read-only fields) and ships the shipped ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Optional

from ..timezone import format_timestamp

STORES: list[dict[str, Any]] = [
    {"storeId": 101, "storeName": "Web Store", "marketplaceId": 0, "marketplaceName": "ShipStation"},
    {"storeId": 202, "storeName": "Amazon US", "marketplaceId": 2, "marketplaceName": "Amazon"},
    {"storeId": 303, "storeName": "My Shopify Store", "marketplaceId": 26, "marketplaceName": "Shopify"},
]

TAGS: list[dict[str, Any]] = [
    {"tagId": 11, "name": "VIP", "color": "#FFD700"},
    {"tagId": 12, "name": "Wholesale", "color": "#1E90FF"},
    {"tagId": 13, "name": "Gift", "color": "#FF69B4"},
]

PRODUCTS: list[tuple[str, str, str, int]] = [  # sku, name, unit price, weight (oz)
    ("MUG-BLU", "Blue mug", "12.50", 14), ("MUG-RED", "Red mug", "12.50", 14),
    ("TEE-S", "T-shirt, small", "20.00", 6), ("TEE-L", "T-shirt, large", "22.00", 7),
    ("CAP-01", "Baseball cap", "18.95", 4), ("BAG-TOTE", "Canvas tote bag", "15.00", 8),
    ("NB-A5", "A5 notebook", "9.99", 10), ("PEN-SET", "Fountain pen set", "45.00", 5),
    ("TEA-EG", "Earl Grey tea, 100 g", "7.49", 4), ("CANDLE-L", "Lavender candle", "16.00", 12),
]

NAMES = [
    "Ana García", "John Smith", "Zoë Müller", "José Álvarez", "Mary O'Brien", "Łukasz Wiśniewski",
    "Søren Kierkegaard", "Chloé Lefèvre", "山田 太郎", "Priya Natarajan", "David Lee", "Björk Guðmundsdóttir",
    "Emily Johnson", "Nguyễn Văn An", "Michael Brown", "Sarah Davis",
]

US_ADDRESSES = [
    ("1 Main St", "Austin", "TX", "78701"), ("742 Evergreen Ter", "Springfield", "OR", "97477"),
    ("350 5th Ave", "New York", "NY", "10118"), ("1600 Amphitheatre Pkwy", "Mountain View", "CA", "94043"),
    ("200 E Randolph St", "Chicago", "IL", "60601"), ("85 Pike St", "Seattle", "WA", "98101"),
]

INTERNATIONAL_ADDRESSES = [  # street, city, state, postal code, country
    ("221B Baker St", "London", "", "NW1 6XE", "GB"), ("Unter den Linden 77", "Berlin", "", "10117", "DE"),
    ("100 Queen St W", "Toronto", "ON", "M5H 2N2", "CA"), ("1-1 Chiyoda", "Chiyoda-ku, Tokyo", "", "100-0001", "JP"),
    ("1 Macquarie St", "Sydney", "NSW", "2000", "AU"), ("5 Rue de Rivoli", "Paris", "", "75001", "FR"),
    ("Av. Reforma 222", "Ciudad de México", "CDMX", "06600", "MX"),
]

SERVICES = [
    ("USPS Priority Mail", "stamps_com", "usps_priority_mail"), ("UPS Ground", "ups", "ups_ground"),
    ("FedEx Home Delivery", "fedex", "fedex_home_delivery"), ("Standard Shipping", "stamps_com", "usps_first_class_mail"),
]


@dataclass
class Generated:
    """One generated order: the payload, and whether (and how) it is to be shipped once stored."""

    payload: dict[str, Any]
    ship: Optional[str] = None
    """None, 'label' (a shipment created in ShipStation) or 'fulfillment' (marked shipped elsewhere)."""
    paid: bool = True
    """Whether the customer paid: the simulator sets ``amountPaid`` to the order's total, else 0."""
    share: Decimal = Decimal("1")
    """The part of the total paid when ``paid`` (a deposit, the rest due on account: below 1)."""


class OrderGenerator:
    """Builds ShipStation order payloads from a seeded random generator (same seed, same orders)."""

    def __init__(self, seed: int = 0, first_number: int = 1001):
        self.rng = random.Random(seed)
        self.next_number = first_number

    def _money(self, value: Decimal) -> float:
        return float(value.quantize(Decimal("0.01")))

    def _address(self, name: str, international: bool) -> dict[str, Any]:
        rng = self.rng
        if international:
            street, city, state, postal, country = rng.choice(INTERNATIONAL_ADDRESSES)
        else:
            (street, city, state, postal), country = rng.choice(US_ADDRESSES), "US"
        return {"name": name, "company": rng.choice([None, None, "", "Acme Ltd"]), "street1": street, "street2": "",
                "street3": None, "city": city, "state": state, "postalCode": postal, "country": country,
                "phone": rng.choice([None, "555-0100"]), "residential": rng.random() < 0.8,
                "addressVerified": "Address validated successfully"}

    def _items(self, count: int, item_level: bool) -> list[dict[str, Any]]:
        items = []
        for sku, name, price, weight in self.rng.sample(PRODUCTS, count):
            quantity = self.rng.choice([1, 1, 1, 2, 3])
            amount = Decimal(price) * quantity
            items.append({
                "lineItemKey": f"li-{self.rng.getrandbits(32):08x}", "sku": sku, "name": name,
                "weight": {"value": weight, "units": "ounces"}, "quantity": quantity, "unitPrice": float(price),
                "taxAmount": self._money(amount * Decimal("0.0825")) if item_level else None,
                "shippingAmount": 2.5 if item_level else None, "adjustment": False,
                "options": [{"name": "Size", "value": "Large"}] if sku.startswith("TEE") else [],
            })
        return items

    def order(self, order_id: int, created: datetime) -> list[Generated]:
        """One order (or a split pair) created at ``created``; ids from ``order_id`` upwards."""
        rng = self.rng
        number = str(self.next_number)
        self.next_number += 1
        name = rng.choice(NAMES)
        international = rng.random() < 0.2
        item_level = rng.random() < 0.25
        store = rng.choice(STORES)
        service, carrier, service_code = rng.choice(SERVICES)
        items = self._items(rng.choice([1, 1, 2, 2, 3]) + (1 if rng.random() < 0.05 else 0), item_level)
        if rng.random() < 0.15:
            product_total = sum(Decimal(str(i["unitPrice"])) * i["quantity"] for i in items)
            items.append({"lineItemKey": None, "sku": "COUPON10", "name": "10% OFF", "quantity": 1,
                          "unitPrice": -self._money(product_total / 10), "adjustment": True, "options": [],
                          "weight": {"value": 0, "units": "ounces"}, "taxAmount": None, "shippingAmount": None})
        roll = rng.random()
        status, ship, paid = ("awaiting_shipment", None, True)
        if roll < 0.35:
            status, ship = "shipped", rng.choice(["label", "label", "label", "fulfillment"])
        elif roll < 0.40:
            status, ship, paid = "shipped", "label", False  # shipped, nothing paid (settled elsewhere)
        elif roll < 0.50:
            status, paid = "awaiting_payment", False
        elif roll < 0.53:
            status = "on_hold"
        elif roll < 0.55:
            status = "cancelled"
        if status == "awaiting_shipment" and number.endswith("13"):
            status = "cancelled"  # the customer cancelled before it shipped (no draw of the random generator)
        email = f"{number}.customer@{rng.choice(['gmail.com', 'example.org', 'shop.test'])}"
        ordered = created - timedelta(minutes=rng.randint(1, 600))
        base = {
            "orderNumber": number, "orderKey": "%08x-%04x-4%03x-a%03x-%012x" % (
                rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12), rng.getrandbits(12), rng.getrandbits(48)),
            "orderDate": format_timestamp(ordered), "createDate": format_timestamp(created),
            "paymentDate": format_timestamp(ordered) if paid else None,
            "orderStatus": status, "customerId": rng.randint(10_000_000, 99_999_999),
            "customerUsername": email, "customerEmail": email,
            "billTo": {"name": name}, "shipTo": self._address(name, international), "items": items,
            "taxAmount": 0.0 if item_level else None, "shippingAmount": 0.0 if item_level else rng.choice([0.0, 5.0, 7.95, 12.0]),
            "customerNotes": rng.choice([None, None, "Please leave at the back door.", "Gift — no invoice in the box, merci!"]),
            "internalNotes": None, "gift": False, "giftMessage": None,
            "paymentMethod": rng.choice(["Credit Card", "PayPal", None]) if paid else None,
            "requestedShippingService": service, "carrierCode": carrier, "serviceCode": service_code,
            "packageCode": "package", "confirmation": "none",
            "tagIds": rng.sample([t["tagId"] for t in TAGS], rng.choice([0, 0, 0, 1, 2])) or None,
            "advancedOptions": {"storeId": store["storeId"], "source": store["marketplaceName"],
                                "customField1": rng.choice([None, None, "EARLY BIRD SPECIAL"])},
        }
        if not item_level:
            product_total = sum(Decimal(str(i["unitPrice"])) * i["quantity"] for i in items if not i["adjustment"])
            base["taxAmount"] = self._money(product_total * Decimal("0.0825")) if rng.random() < 0.6 else 0.0
        split = len([i for i in items if not i["adjustment"]]) >= 2 and rng.random() < 0.15
        if not split:
            # a deposit of half, the rest due on account: shipped paid orders numbered ...7 (no draw of the random
            # generator, so every other order stays as the seed makes it)
            share = Decimal("0.5") if paid and status == "shipped" and number.endswith("7") else Decimal("1")
            return [Generated(dict(base, orderId=order_id), ship, paid, share)]
        # A split order: the parent keeps the first line, the child "NNNN-1" takes the rest.
        parent = dict(base, orderId=order_id, items=items[:1])
        child = dict(base, orderId=order_id + 1, orderNumber=f"{number}-1", orderKey=base["orderKey"] + "-1",
                     items=items[1:], shippingAmount=0.0, taxAmount=0.0 if item_level else base["taxAmount"])
        parent["advancedOptions"] = dict(base["advancedOptions"], mergedOrSplit=True, parentId=None)
        child["advancedOptions"] = dict(base["advancedOptions"], mergedOrSplit=True, parentId=order_id)
        if not item_level:
            parent["taxAmount"] = self._money(Decimal(str(base["taxAmount"])) / 2)
            child["taxAmount"] = self._money(Decimal(str(base["taxAmount"])) - Decimal(str(parent["taxAmount"])))
        return [Generated(parent, ship, paid), Generated(child, ship, paid)]
