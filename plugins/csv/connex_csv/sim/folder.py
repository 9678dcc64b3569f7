"""The simulator of the CSV connector: the file system itself (a temporary folder), plus faults.

A file system has no API documents to imitate: what this adds to the real folder is what tests cannot
make happen on demand, drawn from the sandbox kit's :class:`~connex_core.sandbox.FaultPlan` exactly as the
HTTP simulators draw theirs:

* ``Fault(kind="error", body=b"EBUSY")``: the next matching call fails with that errno, as the OS raises
  it for a file another program holds (``EBUSY``, ``EAGAIN``), a stalled network share (``ETIMEDOUT``,
  ``ESTALE``, ``EIO``); ``methods`` are ``LIST``, ``READ``, ``WRITE``; ``path`` matches ``/<file name>``;
* ``denied = True``: every call fails with ``EACCES``, as for an account without access to the folder
  (tests often run as root, for whom the file modes grant everything, so modes cannot show it);

and :meth:`FolderService.seed_orders` writes order files the way a marketplace exports them (Shopify's
orders export: one row per line item, the order's values on its first row only), remembering every
order so a test can check what reached the target.
"""

from __future__ import annotations

import csv
import errno
import os
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from connex_core.sandbox import FaultPlan, Request

from ..files import LocalFiles

#: The columns of Shopify's orders export this simulator writes (a subset, in Shopify's order and spelling).
SHOPIFY_HEADER = ("Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Currency", "Subtotal",
                  "Shipping", "Taxes", "Total", "Discount Amount", "Created at", "Lineitem quantity",
                  "Lineitem name", "Lineitem price", "Lineitem sku", "Billing Name", "Shipping Name",
                  "Shipping Address1", "Shipping City", "Shipping Zip", "Shipping Province", "Shipping Country")
PRODUCTS = (("MUG-BLU", "Blue mug", "12.50"), ("TEE-L", "T-shirt, large", "20.00"), ("CAP-RED", "Red cap", "15.25"),
            ("SOCK-3", "Socks, 3 pairs", "9.99"), ("POSTER-A2", "Poster A2", "7.40"))


@dataclass
class SeededOrder:
    """What a seeded order is, for a test to check the target against."""

    number: str
    lines: list[tuple[str, str, int, Decimal]]
    shipping: Decimal
    tax: Decimal
    total: Decimal
    created: datetime
    email: str


class SimFiles(LocalFiles):
    """The real file system, with the service's faults raised before the real call."""

    def __init__(self, service: "FolderService"):
        self.service = service

    def _fault(self, op: str, path: Path) -> None:
        if self.service.denied:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        fault = self.service.faults.draw(Request(method=op, path=f"/{path.name}", query={}, headers={}))
        if fault is None:
            return
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return
        code = getattr(errno, (fault.body or b"EAGAIN").decode())
        raise OSError(code, os.strerror(code), str(path))

    def list(self, folder: Path, pattern: str) -> list[Path]:
        self._fault("LIST", folder)
        return super().list(folder, pattern)

    def read(self, path: Path) -> bytes:
        self._fault("READ", path)
        self.service.reads += 1
        return super().read(path)

    def append(self, path: Path, data: bytes) -> None:
        self._fault("WRITE", path)
        self.service.write_calls += 1
        super().append(path, data)

    def truncate(self, path: Path, size: int) -> None:
        self._fault("WRITE", path)
        super().truncate(path, size)


@dataclass
class FolderService:
    """A folder of order files with fault injection: the CSV connector's sandbox."""

    folder: Path
    seed: int = 0
    faults: FaultPlan = field(default_factory=FaultPlan)
    denied: bool = False
    reads: int = 0
    write_calls: int = 0
    seeded: dict[str, SeededOrder] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._rng = random.Random(self.seed)

    def files(self) -> SimFiles:
        """The file system to give the connector (``ctx.options["csv_files"]``)."""
        return SimFiles(self)

    def seed_orders(self, n: int, *, per_file: int = 500, prefix: str = "shopify-orders",
                    start: datetime = datetime(2026, 9, 14, 9, 0, tzinfo=timezone.utc), first: int = 1001) -> list[Path]:
        """Write ``n`` orders into files of at most ``per_file`` orders, as Shopify's orders export does."""
        paths = []
        numbers = list(range(first + len(self.seeded), first + len(self.seeded) + n))
        for part in range(0, n, per_file):
            path = self.folder / f"{prefix}-{numbers[part]}.csv"
            with path.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(SHOPIFY_HEADER)
                for number in numbers[part:part + per_file]:
                    order = self._order(str(number), start + timedelta(minutes=7 * (number - first)))
                    self.seeded[order.number] = order
                    writer.writerows(shopify_rows(order))
            paths.append(path)
        return paths

    def _order(self, number: str, created: datetime) -> SeededOrder:
        lines = []
        for sku, name, price in self._rng.sample(PRODUCTS, self._rng.randint(1, 3)):
            lines.append((sku, name, self._rng.randint(1, 4), Decimal(price)))
        subtotal = sum((price * qty for _, _, qty, price in lines), Decimal("0"))
        shipping = Decimal(self._rng.choice(("0.00", "4.95", "7.50")))
        tax = (subtotal * Decimal("0.0825")).quantize(Decimal("0.01"))
        return SeededOrder(number, lines, shipping, tax, subtotal + shipping + tax, created,
                           f"buyer.{number}@shop.test")


def shopify_rows(order: SeededOrder) -> list[list[str]]:
    """An order as Shopify's export writes it: order values on the first row, line values on every row."""
    stamp = order.created.strftime("%Y-%m-%d %H:%M:%S %z")
    subtotal = order.total - order.shipping - order.tax
    rows = []
    for n, (sku, name, qty, price) in enumerate(order.lines):
        head = [f"#{order.number}", order.email, "paid", stamp, "", "USD", str(subtotal), str(order.shipping),
                str(order.tax), str(order.total), "0.00", stamp] if n == 0 else [f"#{order.number}", order.email] + [""] * 10
        address = ([f"Buyer {order.number}", f"Buyer {order.number}", "1 Main St", "Austin", "78701", "TX", "US"]
                   if n == 0 else [""] * 7)
        rows.append(head + [str(qty), name, str(price), sku] + address)
    return rows
