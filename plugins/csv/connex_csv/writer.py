"""Canonical orders to rows of the output column set (:data:`~connex_csv.columns.OUTPUT`), and back.

Every row of an order repeats the order-level values, so a spreadsheet can filter or sort lines and
still see whose they are. Values never contain a line break (replaced by a space), so each row is one
line of the file: a crash in the middle of an append leaves at most a torn last order, which
:func:`index_file` recognises (fewer rows than its ``lines_in_order``) and cuts off.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

from connex_core.api import Address, Order

from .columns import OUTPUT


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):
        return str(value.value)
    return " ".join(str(value).splitlines())


def _address(prefix: str, a: Address) -> dict[str, Any]:
    out = {f"{prefix}_{f}": getattr(a, f) for f in ("name", "company", "street1", "street2", "city", "state",
                                                   "postal_code", "country")}
    if prefix == "ship":
        out["ship_phone"] = a.phone
    return out


def order_rows(order: Order, key: str) -> list[list[str]]:
    """The rows of one order, in the order of :data:`OUTPUT`; ``key`` is the order's key in Connex."""
    shipment = order.shipment
    head: dict[str, Any] = {
        "order_number": order.number, "order_date": order.order_date or order.created_at,
        "status": order.status, "paid": order.paid, "amount_paid": order.amount_paid, "paid_at": order.paid_at,
        "currency": order.currency, "customer_name": order.customer.name, "customer_email": order.customer.email,
        "customer_phone": order.customer.phone, **_address("bill", order.bill_to), **_address("ship", order.ship_to),
        "store": order.store, "payment_method": order.payment_method, "notes": order.notes,
        "shipping": order.shipping, "tax": order.tax, "discount": order.discount, "total": order.total,
        "lines_in_order": len(order.lines), "order_key": key,
        "tracking_number": shipment.tracking_number if shipment else None,
        "carrier": shipment.carrier if shipment else None, "ship_date": shipment.ship_date if shipment else None,
    }
    out = []
    for line in order.lines:
        row = dict(head, sku=line.sku, item_name=line.name, quantity=line.quantity, unit_price=line.unit_price,
                   line_tax=line.tax, line_discount=line.discount, line_amount=line.amount)
        out.append([_text(row.get(column)) for column in OUTPUT])
    return out


def to_csv(rows: list[list[str]], header: bool = False, delimiter: str = ",") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    if header:
        writer.writerow(OUTPUT)
    writer.writerows(rows)
    return buffer.getvalue()


@dataclass
class Written:
    """An order found complete in an output file."""

    file: str
    row: int
    number: str


def index_file(path: Path, delimiter: str = ",") -> tuple[dict[str, Written], Optional[int]]:
    """The complete orders of one output file by key, and the byte length to cut the file to when its last
    order is torn (None when it is whole)."""
    data = path.read_bytes()
    found: dict[str, Written] = {}
    key_at, count_at, number_at = OUTPUT.index("order_key"), OUTPUT.index("lines_in_order"), OUTPUT.index("order_number")
    pos, good_end, row_number = 0, 0, 0
    pending: Optional[list[Any]] = None  # [key, rows still expected, first row, number]
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl == -1:
            break  # a row without its line end: torn
        raw, pos = data[pos:nl], nl + 1
        row_number += 1
        if row_number == 1 or not raw.strip():
            if pending is None:
                good_end = pos
            continue
        row = next(csv.reader([raw.decode("utf-8", "replace")], delimiter=delimiter), [])
        if len(row) != len(OUTPUT) or (pending is not None and pending[0] != row[key_at]):
            break  # a torn row, or the previous order stopped short
        if pending is None:
            try:
                expected = int(row[count_at])
            except ValueError:
                break
            pending = [row[key_at], expected, row_number, row[number_at]]
        pending[1] -= 1
        if pending[1] <= 0:
            found[pending[0]] = Written(path.name, pending[2], pending[3])
            pending, good_end = None, pos
    return found, (good_end if good_end < len(data) else None)
