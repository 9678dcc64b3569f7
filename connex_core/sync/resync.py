"""``connex resync``: look again at orders already posted, and put the target right.

For each order (by number): read it from the source again (the day the log recorded for it), run the
task's rules, and look in the target (the connector's read-only ``find_booked``, as ``connex report`` does):

- the document is **gone** (deleted, voided or cancelled in the target): post it again, with a new
  idempotency key (the old one would replay the deleted document's answer), and the ledger points at the new
  document (a target that keeps the cancelled document and refuses a second one says so in the message);
- it is there but the order **changed** since it was posted (its content differs from what the ledger
  recorded): write it again where the target updates in place (``upserts_orders``), else say why not;
- it is there and the **same**: say so.

Each is logged as ``resynced`` with what was found and done. "The same" means the same as Connex posted
it; an edit made by hand in the target is not compared.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from ..connector import FetchQuery, OrderWrite
from ..errors import UsageError
from ..models import Order
from ..state import LedgerEntry, LedgerState, LogEntry, LogQuery, Outcome
from .run import RunSummary, TaskRun, connector_options
from .write import idempotency_key, log_entry, record_created, replaced, write


@dataclass
class Resynced:
    order: str
    action: str
    """gone-reposted, updated, same, differs, not-posted, failed, unknown"""
    message: str
    target_number: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.action in ("gone-reposted", "updated", "same")


def _known(run: TaskRun, number: str) -> Optional[LogEntry]:
    entries = run.store.query_log(LogQuery(task=run.name, order_number=number))
    return entries[-1] if entries else None


def _read_again(run: TaskRun, seen: LogEntry, entry: Optional[LedgerEntry]) -> Optional[Order]:
    """The order as the source has it now (the day the log recorded), else the ledger's saved copy."""
    if seen.order_date:
        day = datetime.fromisoformat(seen.order_date)
        query = FetchQuery(since=day - timedelta(days=1), until=day + timedelta(days=1),
                           date_field=str(run.option("date_field", "created")),
                           options=connector_options(run.task.source_options))
        for order in run.source.fetch_orders(query):
            if order.key == seen.source_key:
                return order
    if entry is not None and entry.snapshot:
        return Order.model_validate_json(entry.snapshot)
    return None


def resync_one(run: TaskRun, number: str) -> Resynced:
    store, target = run.store, run.target
    seen = _known(run, number)
    if seen is None:
        return Resynced(number, "unknown", f"task {run.name!r} has never seen order {number}; run it over the "
                                           "order's date first (connex run --since DAY --until DAY)")
    entry = store.ledger_get(run.name, [seen.source_key]).get(seen.source_key)
    order = _read_again(run, seen, entry)
    if order is None:
        return Resynced(number, "unknown", f"order {number} is no longer in {run.source.name}")
    result = run.evaluate(order)
    if result.outcome != "sync":
        return _record(run, order, Resynced(number, "not-posted", f"the rules {result.outcome} it now: "
                                                                   f"{result.reason} (rule {result.rule!r})"))
    content = result.order.content_hash()
    w = OrderWrite(order=result.order, idempotency_key=idempotency_key(run.name, order.key, content),
                   options=connector_options(run.task.target_options), content_hash=content,
                   target_ref=entry.target_id if entry is not None else None)  # the document to look for
    w.replaces = replaced(run.store, run.name, entry)  # the document connex undo voided is not the order's booking
    undone = w.replaces is not None
    found = target.find_booked([w]).get(order.key)
    if found is not None and found.target_id == w.replaces:
        found = None
    if found is not None:
        doc = found.target_number or found.target_id
        posted = entry is not None and entry.state == LedgerState.DONE
        if posted and entry.content_hash == content:
            return _record(run, order, Resynced(number, "same", f"{doc} in {target.name} is what the order says",
                                                doc), entry)
        if not target.upserts_orders:
            return _record(run, order, Resynced(
                number, "differs", f"{doc} in {target.name} differs from the order now, and {target.name} does not "
                f"update a posted document in place: delete {doc} in {target.name}, then resync", doc), entry)
        return _post(run, order, w, entry, "updated", f"{doc} in {target.name} updated to what the order says now")
    # Gone (or never there): a new idempotency key, or the target would replay the deleted document's answer;
    # a gone document that a target keeps (voided by hand: it keeps its number) is not the order's booking either.
    w.idempotency_key = idempotency_key(run.name, order.key, f"{content}\x1fresync {run.now().isoformat()}")
    w.replaces = w.replaces or w.target_ref
    w.target_ref = None
    was = (entry.target_number or entry.target_id) if entry is not None else None
    why = (f"{was} was taken back (connex undo)" if undone else f"{was} is gone from {target.name}") if was \
        else f"not in {target.name}"
    return _post(run, order, w, entry, "gone-reposted", f"{why}; posted again")


def _post(run: TaskRun, order: Order, w: OrderWrite, entry: Optional[LedgerEntry], action: str,
          message: str) -> Resynced:
    """Intent in the ledger first (as every write), then the write, then its result."""
    attempts = (entry.attempts if entry else 0) + 1
    run.store.ledger_put([LedgerEntry(task=run.name, source_key=order.key, state=LedgerState.PENDING,
                                      idempotency_key=w.idempotency_key, attempts=attempts,
                                      content_hash=w.content_hash, snapshot=order.model_dump_json())])
    [r] = write(run.target, run.target.write_orders, [w]) or [None]
    if r is not None:
        record_created(run, [(order, r)])
    if r is None or not r.ok:
        error = r.error if r is not None else "the connector gave no result"
        run.store.ledger_put([LedgerEntry(task=run.name, source_key=order.key, state=LedgerState.FAILED,
                                          idempotency_key=w.idempotency_key, attempts=attempts, last_error=error,
                                          content_hash=w.content_hash, snapshot=order.model_dump_json())])
        return _record(run, order, Resynced(order.number, "failed", f"{message.split(';')[0]}; posting failed: {error}"))
    doc = r.target_number or r.target_id
    done = LedgerEntry(task=run.name, source_key=order.key, state=LedgerState.DONE, idempotency_key=w.idempotency_key,
                       target_id=r.target_id, target_number=r.target_number, attempts=attempts,
                       content_hash=w.content_hash)
    said = f"{message} as {doc}" if action != "updated" else message
    if r.duplicate and r.note:  # the target kept what it holds (ShipStation: a cancelled order is left cancelled)
        said = f"{said} ({r.note})"
    return _record(run, order, Resynced(order.number, action, said, doc), done)


def _record(run: TaskRun, order: Order, outcome: Resynced, entry: Optional[LedgerEntry] = None) -> Resynced:
    """The log line (``resynced``, with what was found and done), then the ledger."""
    run.counts[f"resync_{outcome.action}"] += 1
    line = log_entry(run, order, None, Outcome.RESYNCED, target_number=outcome.target_number,
                     message=f"{outcome.action}: {outcome.message}")
    if not outcome.ok:
        line.reason = outcome.message
    run.store.log([line])
    if entry is not None:
        run.store.ledger_put([entry])
    return outcome


def check_numbers(numbers: list[str]) -> None:
    if not numbers:
        raise UsageError("name at least one order number")


def task_run(engine: Any, name: str, summary: RunSummary) -> TaskRun:
    """A run of one task, as :meth:`SyncEngine.run_task` builds it, for commands that act on single orders."""
    return engine.task_run(name, summary)


def resync_orders(engine: Any, task: str, numbers: list[str], holder: str) -> list[Resynced]:
    """``connex resync`` (and the console's Resync button): each order looked up and put right, in one run of
    the task recorded in the run history, under the task's lease (:class:`~connex_core.state.lease.TaskBusy`
    when another runner holds it)."""
    from ..state.lease import TaskLease

    check_numbers(numbers)
    store = engine.store
    summary = RunSummary(task=task)
    started = time.monotonic()
    results: list[Resynced] = []
    with TaskLease(store, task, holder=holder, ttl=engine.config.state.lease_seconds):
        try:
            summary.run_id = store.begin_run(task, {"resync": numbers})
            run = task_run(engine, task, summary)
            for number in numbers:
                results.append(resync_one(run, number))
        finally:
            if summary.run_id is not None:
                summary.seconds = time.monotonic() - started
                store.finish_run(summary.run_id, "ok", {**summary.as_dict(), "resynced": len(results)})
    return results
