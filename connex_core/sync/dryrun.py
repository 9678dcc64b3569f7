"""A dry run that looks: what each order would come to, with the target's read-only look-ups made.

``connex run --dry-run`` reads and applies the rules as a run does, then asks the target (the connector's
``find_orders``, which only reads) which orders it already has, and writes nothing. Each order is noted in
the summary (``orders``): would-create, would-update, duplicate of DOC, already synced as DOC, held (reason),
skipped (reason), failed (reason: a look-up that failed, or an order the ledger says failed before).
"""

from __future__ import annotations

from typing import Optional

from ..connector import OrderWrite
from ..errors import AuthenticationError, ConnectorError
from ..models import Order
from ..state import LedgerEntry, Outcome
from .run import TaskRun


def note(run: TaskRun, order: Order, outcome: str, detail: Optional[str] = None) -> None:
    """One order's line in a dry run's report."""
    run.summary.orders.append({"order": order.original_number or order.number, "key": order.key,
                               "outcome": outcome, "detail": detail})


def look(run: TaskRun, writes: list[OrderWrite], ledger: dict[str, LedgerEntry], changed: set[str]) -> None:
    """Look the batch up in the target and note what a run would do with each order; write nothing."""
    try:
        found = run.target.find_orders([w for w in writes if w.key not in changed])
    except AuthenticationError:
        raise  # as in a real run: reconnect first
    except ConnectorError as exc:
        for w in writes:
            run.counts[Outcome.FAILED] += 1
            note(run, w.order, "failed", f"looking it up in {run.target.name} failed: {exc}")
        return
    for w in writes:
        hit = found.get(w.key)
        prior = ledger.get(w.key)
        if w.key in changed:
            run.counts["would_update"] += 1
            note(run, w.order, "would-update", f"{prior.target_number or prior.target_id} changed since it was posted"
                 if prior else None)
        elif hit is not None and hit.target_id != w.replaces:  # not the document connex undo took back
            run.counts[Outcome.DUPLICATE] += 1
            note(run, w.order, "duplicate", f"of {hit.target_number or hit.target_id} already in {run.target.name}")
        else:
            run.counts[Outcome.WOULD_CREATE] += 1
            note(run, w.order, "would-create",
                 f"failed before: {prior.last_error}" if prior is not None and prior.last_error else None)
