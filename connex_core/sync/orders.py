"""``orders`` tasks: one target document per source order.

1. read the window from the source (the task's cursor minus its overlap, or ``--since``/``--until``),
   streaming, then the ledger's retry queue (orders that failed, were held, or whose write has no
   recorded answer); webhook orders, when given, instead of the window;
2. run each order through the plugins' ``before_rules`` hooks and the task's rules: sync, skip or hold;
3. write what is to be synced in batches with :class:`~connex_core.sync.write.OrderWriter`;
4. advance the cursor only when the window was read to its end.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Optional

from ..connector import UnreadableOrder
from ..waits import LongWait
from ..models import Order, parse_origin
from ..state import LogEntry, Outcome
from .review import is_released, past_hold
from .run import TaskRun
from .books import book_check, booked_then_cancelled, cancel_booked, number_taken
from .edits import EditsWriter
from .splits import SaleGuard
from .write import OrderWriter, Pending, rule_outcome


def run_orders(run: TaskRun, given: Optional[Iterable[Order]] = None) -> None:
    """Run an ``orders`` task. ``given`` (from a webhook) are processed instead of reading a window; the
    cursor stays."""
    source, store = run.source, run.store
    query = run.window()
    if given is None:
        incoming = run.read(source.fetch_orders(query), stoppable=True)
    else:
        incoming = run.read((o for o in given if source.accepts(o, query)), stoppable=True, checked=False)
    writer = EditsWriter(run)
    guard = SaleGuard(run, writer)
    batch_size = max(1, run.target.write_batch_size)
    if run.slice is not None and run.slice.orders:
        batch_size = min(batch_size, run.slice.orders)  # a slice ends at a batch's end: no bigger than the share
    newest: Optional[datetime] = None
    seen: set[str] = set()
    pending: list[Pending] = []
    for order in incoming:
        if isinstance(order, UnreadableOrder):
            unreadable_order(run, order)
            continue
        seen.add(order.key)
        if order.modified_at and (newest is None or order.modified_at > newest):
            newest = order.modified_at
        route(run, writer, order, pending, guard)
        if len(pending) >= batch_size:
            pending = send(run, writer, pending)
            if run.stopped:
                break
    complete = not run.stopped
    # The retry queue: orders that failed, were held, or whose write has no recorded answer.
    if not run.dry_run and complete and given is None:
        for entry in store.ledger_retry_queue(run.name):
            if entry.source_key in seen or not entry.snapshot:
                continue
            order = Order.model_validate_json(entry.snapshot)
            run.counts["retried"] += 1
            route(run, writer, order, pending, guard)
            if len(pending) >= batch_size:
                pending = send(run, writer, pending)
                if run.stopped:
                    break
    if pending:
        send(run, writer, pending)
    guard.finish()
    complete = not run.stopped
    run.advance_cursor(newest if complete and given is None else None)
    if not complete:
        run.summary.status = "stopped"


def send(run: TaskRun, writer: OrderWriter, pending: list[Pending]) -> list[Pending]:
    """Write a batch (an empty list back). A run cut into slices whose look-up would wait long on a rate limit
    stops cleanly instead (:mod:`.slices`): nothing of the batch was written; its orders are the next run's."""
    try:
        writer.dispatch(pending, may_yield=True)
    except LongWait as exc:
        run.stopped, run.summary.yielded = True, exc.seconds
    return []


def unreadable_order(run: TaskRun, order: UnreadableOrder) -> None:
    """An order the source could not read: failed, with the source's reason in the log (not in the ledger: there
    is no order to keep for a retry; the source offers it again once it can be read)."""
    run.counts[Outcome.FAILED] += 1
    if run.dry_run:
        run.summary.orders.append({"order": order.number, "key": order.key, "outcome": "failed", "detail": order.reason})
    else:
        run.store.log([LogEntry(task=run.name, source_key=order.key, outcome=Outcome.FAILED, order_number=order.number,
                                reason=order.reason, message=order.reason, run_id=run.summary.run_id)])


def route(run: TaskRun, writer: OrderWriter, order: Order, pending: list[Pending],
          guard: Optional[SaleGuard] = None) -> None:
    """Run the rules on one order; record skip/hold at once, queue sync for the next batch."""
    result = run.evaluate(order)
    origin = parse_origin(order.origin)
    if result.outcome == "sync" and origin and origin[0] == run.target_type:
        # It came from the target in the first place (QuickBooks -> ShipStation -> QuickBooks): never echo it.
        result.outcome, result.reason = "skip", f"this order came from {origin[0]} ({origin[1]}); not sent back"
    if (booked := booked_then_cancelled(run, order)) is not None:
        cancel_booked(run, order, result, booked)  # on_cancel: void, hold or ignore, logged with the reason
        return
    if result.outcome == "sync":
        verdict = book_check(result.order, run.task)
        if verdict is None and (taken := number_taken(run, order, result, pending)):
            verdict = ("hold", taken)
        if verdict is not None:
            result.outcome, result.reason = verdict
            result.rule, result.line, result.file = "task defaults", None, None
    outcome = rule_outcome(result)
    if outcome == Outcome.HELD and is_released(run.store, run.name, order):
        result, outcome = past_hold(result), None  # a person released it: past the hold, this once
    if outcome is None and guard is not None and guard.takes(order, result):
        return  # split or merged: decided at the end of the run (splits.py)
    if outcome is None:
        pending.append((order, result))
    else:
        writer.record_rule_outcome(order, result, outcome)
