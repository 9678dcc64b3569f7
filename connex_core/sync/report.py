"""Reconciliation: did each order of a day reach the books? (``connex report``)

For one ``orders`` task and a window of days in the **source's time zone**: the orders the source has
(count, sum of totals), and what the ledger says of each: booked (count, sum), skipped, held, failed (by
reason), ignored, never seen by a run; and the booked orders whose document is gone from the target (the
connector's read-only ``find_orders``). A day is accounted for when every order is booked, skipped or
ignored and no booked document is gone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..connector import FetchQuery, OrderWrite
from ..models import Order
from ..state import LedgerState
from .run import TaskRun, connector_options
from .write import idempotency_key

#: Where an order stands, by its ledger state (no entry: never seen by a run).
_STANDING = {LedgerState.DONE: "booked", LedgerState.SKIPPED: "skipped", LedgerState.HELD: "held",
             LedgerState.RELEASED: "held", LedgerState.FAILED: "failed", LedgerState.PENDING: "failed",
             LedgerState.IGNORED: "ignored"}


@dataclass
class Day:
    day: date
    orders: int = 0
    total: Decimal = Decimal("0")
    booked: int = 0
    booked_total: Decimal = Decimal("0")
    counts: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    """Failed orders by reason."""
    gone: list[str] = field(default_factory=list)
    """Booked orders whose document is no longer in the target ("ORDER: DOC")."""
    unseen: list[str] = field(default_factory=list)

    @property
    def accounted(self) -> bool:
        return self.booked + self.counts["skipped"] + self.counts["ignored"] == self.orders and not self.gone

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "orders": self.orders, "total": f"{self.total:.2f}",
                "booked": self.booked, "booked_total": f"{self.booked_total:.2f}",
                "skipped": self.counts["skipped"], "held": self.counts["held"], "ignored": self.counts["ignored"],
                "failed": sum(self.failed.values()), "failed_by_reason": dict(self.failed),
                "not_seen": self.unseen, "gone": self.gone, "accounted": self.accounted}


def reconcile(run: TaskRun, since: datetime, until: datetime, tz: str) -> list[Day]:
    """The days from ``since`` (inclusive) to ``until`` (exclusive), in ``tz``, each reconciled."""
    zone = ZoneInfo(tz)
    query = FetchQuery(since=since, until=until, date_field=str(run.option("date_field", "created")),
                       options=connector_options(run.task.source_options))
    orders: list[Order] = list(run.read(run.source.fetch_orders(query)))
    days: dict[date, Day] = defaultdict(lambda: Day(date.min))
    ledger = run.store.ledger_get(run.name, [o.key for o in orders])
    booked: list[tuple[Order, Day]] = []
    for order in orders:
        d = order.created_at.astimezone(zone).date()
        day = days[d]
        day.day = d
        day.orders += 1
        day.total += order.total
        entry = ledger.get(order.key)
        standing = _STANDING.get(entry.state) if entry is not None else None
        number = order.original_number or order.number
        if standing is None:
            day.unseen.append(number)
        elif standing == "booked":
            day.booked += 1
            day.booked_total += order.total
            booked.append((order, day))
        elif standing == "failed":
            day.failed[entry.last_error or "no answer recorded (interrupted write)"] += 1
        else:
            day.counts[standing] += 1
    _find_gone(run, booked, ledger)
    return [days[d] for d in sorted(days)]


def _find_gone(run: TaskRun, booked: list[tuple[Order, Day]], ledger: dict) -> None:
    """The booked orders whose document the target no longer has (looked up in batches, read-only)."""
    size = max(1, run.target.write_batch_size)
    options = connector_options(run.task.target_options)
    for i in range(0, len(booked), size):
        chunk = booked[i:i + size]
        writes = []
        for order, _ in chunk:
            shaped = run.evaluate(order).order  # as the task posted it (the rules may set the number)
            content = shaped.content_hash()
            writes.append(OrderWrite(order=shaped, idempotency_key=idempotency_key(run.name, order.key, content),
                                     options=dict(options), content_hash=content))
        found = run.target.find_orders(writes)
        for (order, day), w in zip(chunk, writes):
            if w.key not in found:
                entry = ledger[order.key]
                day.gone.append(f"{order.original_number or order.number}: "
                                f"{entry.target_number or entry.target_id}")
