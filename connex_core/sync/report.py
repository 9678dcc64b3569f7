"""Reconciliation: did each order of a day reach the books? (``connex report``)

For one ``orders`` task and a window of days in the **source's time zone**: the orders the source has
(count, sum of totals), and what the ledger says of each: booked (count, sum), skipped, held, failed (by
reason), ignored, never seen by a run; and the booked orders whose document is gone from the target (the
connector's read-only ``find_booked``, handed the document the ledger recorded, not the write path's
``find_orders``: a voided, cancelled or deleted document is gone); and the documents the target holds dated that day that the ledger of no task writing to
that target knows (the connector's ``list_documents``; voided and deleted ones left out): posted by hand,
by another tool, or by a Connex with another state file. A day is accounted for when every order is booked,
skipped or ignored, no booked document is gone and no document is unknown.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..connector import FetchQuery, OrderWrite
from ..models import Order
from ..state import LEDGER_STATES, LedgerState
from .run import TaskRun, connector_options
from .write import idempotency_key

#: Where an order stands, by its ledger state (no entry: never seen by a run).
_STANDING = {LedgerState.DONE: "booked", LedgerState.SKIPPED: "skipped", LedgerState.HELD: "held",
             LedgerState.RELEASED: "held", LedgerState.FAILED: "failed", LedgerState.PENDING: "failed",
             LedgerState.IGNORED: "ignored", LedgerState.UNDONE: "undone", LedgerState.VOIDED: "voided"}


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
    unknown: list[str] = field(default_factory=list)
    """Documents in the target dated this day that no ledger knows (their numbers)."""

    @property
    def accounted(self) -> bool:
        return (self.booked + self.counts["skipped"] + self.counts["ignored"] + self.counts["voided"] == self.orders
                and not self.gone and not self.unknown)

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "orders": self.orders, "total": f"{self.total:.2f}",
                "booked": self.booked, "booked_total": f"{self.booked_total:.2f}",
                "skipped": self.counts["skipped"], "held": self.counts["held"], "ignored": self.counts["ignored"],
                "failed": sum(self.failed.values()), "failed_by_reason": dict(self.failed),
                "undone": self.counts["undone"], "voided": self.counts["voided"],
                "not_seen": self.unseen, "gone": self.gone, "unknown_in_target": sorted(self.unknown),
                "accounted": self.accounted}


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
    first, last = since.astimezone(zone).date(), (until - timedelta(microseconds=1)).astimezone(zone).date()
    if _find_unknown(run, first, last, days) is False:
        run.summary.error = f"{run.target.name} cannot list its documents: documents unknown to the ledger not checked"
    return [days[d] for d in sorted(days)]


def _find_unknown(run: TaskRun, first: date, last: date, days: dict[date, Day]) -> bool:
    """The target's documents dated ``first..last`` that no ledger of a task writing there knows, each on its
    own day. False when the target cannot list its documents."""
    try:
        docs = list(run.target.list_documents(first, last, connector_options(run.task.target_options)))
    except NotImplementedError:
        return False
    tasks = [n for n, t in run.config.tasks.items() if t.target == run.task.target]
    known = {e.target_id for n in tasks for e in run.store.ledger_in_states(LEDGER_STATES, n) if e.target_id}
    for doc in docs:
        if doc.target_id in known or doc.day is None or not first <= doc.day <= last:
            continue
        day = days[doc.day]
        day.day = doc.day
        day.unknown.append(doc.target_number or doc.target_id)
    return True


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
                                     options=dict(options), content_hash=content,
                                     target_ref=ledger[order.key].target_id))  # the document to look for
        found = run.target.find_booked(writes)
        for (order, day), w in zip(chunk, writes):
            if w.key not in found:
                entry = ledger[order.key]
                day.gone.append(f"{order.original_number or order.number}: "
                                f"{entry.target_number or entry.target_id}")
