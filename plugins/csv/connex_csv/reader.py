"""An order file to canonical orders: rows grouped by order number, each value checked.

A value that cannot be read (an amount that is not a number, a date in no known format, a quantity of
'two') makes its order malformed: :func:`read_orders` gives a :class:`RowError` naming the file, the row
(as a spreadsheet numbers it: the header is row 1) and the column, and leaves that order out; the
file's other orders are read. Money is :class:`~decimal.Decimal`, dates are time-zone aware.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator, Optional, Union
from zoneinfo import ZoneInfo

from connex_core.api import ZERO, Address, Customer, LineItem, Order, OrderStatus, Shipment

from .columns import detect
from .settings import CsvSettings

SOURCE = "csv"
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M %z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d",
                "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%m/%d/%y")
TRUE = {"true", "yes", "y", "1", "paid"}
FALSE = {"false", "no", "n", "0", "unpaid", ""}
STATUS_WORDS = {"fulfilled": OrderStatus.shipped, "shipped": OrderStatus.shipped, "canceled": OrderStatus.cancelled,
                "cancelled": OrderStatus.cancelled, "unfulfilled": None, "partial": None, "restocked": None}
PAID_WORDS = {"paid": True, "partially_paid": False, "partially paid": False, "pending": False, "authorized": False,
              "refunded": True, "partially_refunded": True, "voided": False, "unpaid": False}
#: An amount: digits with an optional decimal point, thousands separated by ',' in groups of three only, so a
#: decimal comma ('12,50', as some spreadsheets write it) is refused rather than read as 1250.
MONEY = re.compile(r"^[-+]?[$€£]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$|^[-+]?[$€£]?\.\d+$")


class BadValue(ValueError):
    """One value that cannot be read: the column it is in and why."""

    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column = column


@dataclass
class RowError:
    """An order left out of the read: which file, row and column, and why."""

    file: str
    row: int
    column: str
    order_number: Optional[str]
    message: str

    def __str__(self) -> str:
        number = f" (order {self.order_number})" if self.order_number else ""
        return f"{self.file} row {self.row}{number}, column {self.column}: {self.message}"


@dataclass
class FileError:
    """A file that is not an order file (no header Connex recognises)."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


class Values:
    """The values of one row by column name, parsed on request (a failure is a :class:`BadValue`)."""

    def __init__(self, row: list[str], found: dict[str, int], settings: CsvSettings):
        self.row, self.found, self.settings = row, found, settings

    def text(self, column: str) -> Optional[str]:
        i = self.found.get(column)
        if i is None or i >= len(self.row):
            return None
        value = self.row[i].strip()
        return value or None

    def money(self, column: str) -> Optional[Decimal]:
        value = self.text(column)
        if value is None:
            return None
        if not MONEY.match(value):
            raise BadValue(column, f"{value!r} is not an amount")
        try:
            return Decimal(re.sub(r"[$€£,]", "", value))
        except InvalidOperation:
            raise BadValue(column, f"{value!r} is not an amount") from None

    def number(self, column: str) -> Optional[Decimal]:
        value = self.text(column)
        if value is None:
            return None
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise BadValue(column, f"{value!r} is not a number") from None
        if not result.is_finite():
            raise BadValue(column, f"{value!r} is not a number")
        return result

    def when(self, column: str) -> Optional[datetime]:
        value = self.text(column)
        if value is None:
            return None
        return parse_datetime(value, column, self.settings)

    def flag(self, column: str) -> Optional[bool]:
        value = self.text(column)
        if value is None:
            return None
        if value.lower() in TRUE:
            return True
        if value.lower() in FALSE:
            return False
        raise BadValue(column, f"{value!r} is not true or false")


def parse_datetime(value: str, column: str, settings: CsvSettings) -> datetime:
    """A date or date-and-time as an aware datetime: its own offset, else the connection's time zone."""
    zone = ZoneInfo(settings.timezone)
    formats = (settings.date_format,) if settings.date_format else DATE_FORMATS
    parsed: Optional[datetime] = None
    if not settings.date_format:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
    for fmt in formats:
        if parsed is not None:
            break
        try:
            parsed = datetime.strptime(value, fmt)  # type: ignore[arg-type]
        except ValueError:
            continue
    if parsed is None:
        expected = f"the format {settings.date_format!r}" if settings.date_format else "a known date format"
        raise BadValue(column, f"{value!r} is not a date in {expected} (set the connection's date_format)")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def rows(text: str, settings: CsvSettings) -> Iterator[list[str]]:
    return csv.reader(io.StringIO(text, newline=""), delimiter=settings.delimiter)


def read_orders(name: str, data: bytes, settings: CsvSettings, modified_at: datetime
                ) -> Iterator[Union[Order, RowError, FileError]]:
    """The orders of one file (``name`` for messages), then nothing else; malformed ones as :class:`RowError`."""
    try:
        text = data.decode(settings.encoding)
    except UnicodeDecodeError as exc:
        yield FileError(name, f"not {settings.encoding} text (byte {exc.start}); set the connection's encoding")
        return
    reader = rows(text, settings)
    header = next(reader, None)
    if not header:
        return
    found, missing = detect(header, settings.columns)
    if missing:
        yield FileError(name, f"no column for {', '.join(missing)} in its header ({', '.join(header)}); "
                              "name them with the connection's columns setting")
        return
    groups: dict[str, list[tuple[int, list[str]]]] = {}
    blank: list[int] = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        key = Values(row, found, settings).text("order_number")
        if key is None:
            blank.append(number)
            continue
        groups.setdefault(key.lstrip("#") or key, []).append((number, row))
    for row_number in blank:
        yield RowError(name, row_number, header[found["order_number"]], None, "no order number: the row is not read")
    for key, group in groups.items():
        try:
            yield build_order(key, group, found, settings, modified_at)
        except BadValue as exc:
            row_number = getattr(exc, "row", group[0][0])
            column = header[found[exc.column]] if exc.column in found else exc.column
            yield RowError(name, row_number, column, key, str(exc))


def build_order(key: str, group: list[tuple[int, list[str]]], found: dict[str, int], settings: CsvSettings,
                modified_at: datetime) -> Order:
    """One order from its rows (every value checked; a :class:`BadValue` carries the row it is on)."""
    values = [(n, Values(row, found, settings)) for n, row in group]

    def one(column: str, kind: str = "text") -> Any:
        """An order-level value: the first row that gives it; another row giving a different one is an error."""
        seen: Any = None
        seen_row = 0
        for n, v in values:
            try:
                value = getattr(v, kind)(column)
            except BadValue as exc:
                exc.row = n  # type: ignore[attr-defined]
                raise
            if value is None:
                continue
            if seen is None:
                seen, seen_row = value, n
            elif value != seen:
                err = BadValue(column, f"{v.text(column)!r} differs from row {seen_row} of the same order "
                                       f"({seen}); an order's rows must agree")
                err.row = n  # type: ignore[attr-defined]
                raise err
        return seen

    lines: list[LineItem] = []
    for n, v in values:
        try:
            quantity = v.number("quantity")
            price = v.money("unit_price")
            if quantity is None:
                raise BadValue("quantity", "no quantity")
            if price is None:
                raise BadValue("unit_price", "no unit price")
            sku, item = v.text("sku"), v.text("item_name")
            if sku is None and item is None:
                raise BadValue("sku" if "sku" in found else "item_name", "the line has neither a SKU nor an item name")
            line = LineItem(line_id=str(len(lines) + 1), sku=sku, name=item, quantity=quantity, unit_price=price,
                            tax=v.money("line_tax") or ZERO, discount=v.money("line_discount") or ZERO)
            written = v.money("line_amount")
            if written is not None and written != line.amount:
                raise BadValue("line_amount", f"{written} is not quantity x unit_price ({line.amount})")
        except BadValue as exc:
            exc.row = n  # type: ignore[attr-defined]
            raise
        lines.append(line)

    count = one("lines_in_order", "number")
    if count is not None and count != len(lines):
        err = BadValue("lines_in_order", f"the order has {len(lines)} rows but says it has {count} lines")
        err.row = group[-1][0]  # type: ignore[attr-defined]
        raise err
    shipping = one("shipping", "money") or ZERO
    tax = one("tax", "money")
    tax = tax if tax is not None else sum((l.tax for l in lines), ZERO)
    discount = one("discount", "money")
    discount = discount if discount is not None else sum((l.discount for l in lines), ZERO)
    total = one("total", "money")
    if total is None:
        total = sum((l.amount for l in lines), ZERO) + shipping + tax - discount
    status = order_status(one("status"), one("fulfillment_status"), "status" if "status" in found else "fulfillment_status")
    paid, amount_paid = payment(one("paid", "flag"), one("financial_status"), one("amount_paid", "money"), total,
                                settings.paid)
    ordered = one("order_date", "when")
    tracking = one("tracking_number")
    shipment = None
    if tracking:
        shipped_on = one("ship_date", "when")
        shipment = Shipment(source=SOURCE, order_number=key, tracking_number=tracking, carrier=one("carrier"),
                            ship_date=shipped_on.date() if shipped_on else None)
        status = status or OrderStatus.shipped
    customer_name = one("customer_name")
    return Order(
        source=SOURCE, source_id=key, number=key, status=status or (OrderStatus.awaiting_shipment if paid else
                                                                    OrderStatus.awaiting_payment),
        order_date=ordered, created_at=ordered, modified_at=modified_at, paid_at=one("paid_at", "when"),
        timezone=settings.timezone,
        customer=Customer(name=customer_name, email=one("customer_email"), phone=one("customer_phone")),
        bill_to=address(one, "bill", customer_name), ship_to=address(one, "ship", customer_name),
        lines=lines, shipping=shipping, tax=tax, discount=discount, total=total, amount_paid=amount_paid, paid=paid,
        currency=(one("currency") or settings.currency).upper(), payment_method=one("payment_method"),
        store=one("store") or settings.store, notes=one("notes"), shipment=shipment,
    )


def address(one: Any, prefix: str, fallback_name: Optional[str]) -> Address:
    fields = ("name", "company", "street1", "street2", "city", "state", "postal_code", "country")
    data = {f: one(f"{prefix}_{f}") for f in fields}
    if prefix == "ship":
        data["phone"] = one("ship_phone")
    if any(data.values()) and not data["name"]:
        data["name"] = fallback_name
    return Address(**data)


def order_status(status: Optional[str], fulfillment: Optional[str], column: str) -> Optional[OrderStatus]:
    for value in (status, fulfillment):
        if value is None:
            continue
        word = value.strip().lower().replace(" ", "_")
        if word in STATUS_WORDS:
            if STATUS_WORDS[word] is not None:
                return STATUS_WORDS[word]
            continue
        try:
            return OrderStatus(word)
        except ValueError:
            names = ", ".join(s.value for s in OrderStatus)
            raise BadValue(column, f"{value!r} is not an order status ({names})") from None
    return None


def payment(paid: Optional[bool], financial: Optional[str], amount_paid: Optional[Decimal], total: Decimal,
            default: bool) -> tuple[bool, Decimal]:
    """(paid, amount paid) from whichever of the columns the file has."""
    if paid is None and financial is not None:
        word = financial.strip().lower()
        if word not in PAID_WORDS:
            raise BadValue("financial_status", f"{financial!r} is not one of {', '.join(PAID_WORDS)}")
        paid = PAID_WORDS[word]
    if paid is None and amount_paid is not None:
        paid = amount_paid >= total
    if paid is None:
        paid = default
    if amount_paid is None:
        amount_paid = total if paid else ZERO
    return paid, amount_paid


def iso_day(value: Optional[date]) -> str:
    return value.isoformat() if value else ""
