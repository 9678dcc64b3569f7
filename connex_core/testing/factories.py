"""Builders of canonical test data."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from ..models import Address, Customer, LineItem, Order, OrderStatus


def make_order(**overrides: Any) -> Order:
    """A realistic, internally consistent canonical order; any field can be overridden."""
    lines = overrides.pop("lines", None) or [
        LineItem(sku="MUG-BLU", name="Blue mug", quantity=Decimal("2"), unit_price=Decimal("12.50")),
        LineItem(sku="TEE-L", name="T-shirt, large", quantity=Decimal("1"), unit_price=Decimal("20.00")),
    ]
    line_total = sum((l.quantity * l.unit_price for l in lines), Decimal("0"))
    shipping = overrides.pop("shipping", Decimal("5.00"))
    tax = overrides.pop("tax", Decimal("3.60"))
    discount = overrides.pop("discount", Decimal("0"))
    total = overrides.pop("total", line_total + shipping + tax - discount)
    base: dict[str, Any] = dict(
        source="test",
        source_id="1001",
        number="1001",
        status=OrderStatus.awaiting_shipment,
        created_at=datetime(2026, 9, 15, 18, 30, tzinfo=timezone.utc),
        modified_at=datetime(2026, 9, 15, 18, 30, tzinfo=timezone.utc),
        order_date=datetime(2026, 9, 15, 18, 30, tzinfo=timezone.utc),
        customer=Customer(name="Ana García", email="ana@shop.test"),
        bill_to=Address(name="Ana García", street1="1 Main St", city="Austin", state="TX", postal_code="78701", country="US"),
        ship_to=Address(name="Ana García", street1="1 Main St", city="Austin", state="TX", postal_code="78701", country="US"),
        lines=lines,
        shipping=shipping,
        tax=tax,
        discount=discount,
        total=total,
        amount_paid=total,
        paid=True,
        currency="USD",
        store="Web Store",
    )
    base.update(overrides)
    return Order(**base)
