"""``tracking`` tasks: shipments written back onto the target documents their orders became.

A shipment's document is found from the shipment's origin (``type:id`` of the target), or from the
ledger of the ``orders`` task that created it. A shipment whose order is still on its way to the target
(failed, held, unanswered) is read again next run: the cursor waits before it. So is a shipment whose order
no ``orders`` task of the same source has read yet: one made after the newest change such a task has read
(its cursor; shipping an order changes it), or before that task has finished its first run (busy in another
process, stopped by an error or a crash). Only a shipment of an order those tasks have read past and not
recorded is "not ours".
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from ..connector import TrackingWrite, WriteResult
from ..errors import FatalAPIError, RetriableAPIError
from ..models import Shipment, parse_origin
from ..state import LedgerEntry, LedgerState, LogEntry, Outcome
from .run import TaskRun, connector_options
from .write import commit, idempotency_key, write, write_outcome

Batch = list[tuple[Shipment, TrackingWrite]]
NOTHING_READ = datetime.min.replace(tzinfo=timezone.utc)
"""Where an ``orders`` task that has not finished a run has read up to."""
ALL_READ = datetime.max.replace(tzinfo=timezone.utc)
"""Where no ``orders`` task reads this source: every shipment of an order not in a ledger is "not ours"."""


def run_tracking(run: TaskRun) -> None:
    task, config = run.task, run.config
    query = run.window()
    creators = [t for t, cfg in config.tasks.items()
                if cfg.target == task.source and cfg.source == task.target and cfg.kind == "orders"]
    readers = [t for t, cfg in config.tasks.items()
               if cfg.source == task.source and cfg.target == task.target and cfg.kind == "orders"]
    creators += readers
    horizon = _read_up_to(run, [t for t in readers if config.tasks[t].enabled])
    options = connector_options(task.target_options)
    batch_size = max(1, run.target.write_batch_size)
    newest: Optional[datetime] = None
    held: Optional[datetime] = None  # the oldest shipment whose write failed retriably: the cursor stays before it
    batch: Batch = []
    for shipment in run.read(run.source.fetch_shipments(query)):
        if shipment.created_at and (newest is None or shipment.created_at > newest):
            newest = shipment.created_at
        if shipment.voided or not shipment.tracking_number:
            continue
        ref = _target_ref(run, shipment, creators)
        if ref is None:
            if _order_unread(shipment, horizon) or _order_in_flight(run, shipment, creators):  # no look-up first
                # Its order is on its way to the target (failed, held or unanswered for now), or not read yet by
                # the task that books it: read the shipment again next run, once the document exists, instead
                # of passing it by for good.
                run.counts["waiting"] += 1
                if shipment.created_at and (held is None or shipment.created_at < held):
                    held = shipment.created_at
            else:
                run.counts["not_ours"] += 1
            continue
        content = f"{shipment.tracking_number}|{shipment.ship_date}|{shipment.cost}"
        batch.append((shipment, TrackingWrite(shipment=shipment, target_ref=ref,
                                              idempotency_key=idempotency_key(run.name, shipment.key, content),
                                              options=dict(options))))
        if len(batch) >= batch_size:
            held = _oldest(batch, dispatch_tracking(run, batch), held)
            batch = []
    if batch:
        held = _oldest(batch, dispatch_tracking(run, batch), held)
    if held is not None and newest is not None:
        newest = min(newest, held)  # so the next run's window reads the failed shipment again
    run.advance_cursor(newest)


def _target_ref(run: TaskRun, shipment: Shipment, creators: list[str]) -> Optional[str]:
    origin = parse_origin(shipment.origin)
    if origin is not None:
        return origin[1] if origin[0] == run.target_type else None
    if shipment.source and shipment.order_source_id:
        entry = run.store.ledger_find_target(f"{shipment.source}:{shipment.order_source_id}", creators)
        if entry is not None and entry.target_id:
            return entry.target_id
    return None


def _read_up_to(run: TaskRun, readers: list[str]) -> datetime:
    """How far the ``orders`` tasks reading this task's source have read: the oldest of their cursors (the
    newest change each has read); :data:`NOTHING_READ` while one has not finished a run, :data:`ALL_READ`
    when there is no such task."""
    if not readers:
        return ALL_READ
    cursors = [run.store.get_cursor(t) for t in readers]
    if any(c is None for c in cursors):
        return NOTHING_READ
    return min(datetime.fromisoformat(c) for c in cursors if c is not None)


def _order_unread(shipment: Shipment, horizon: datetime) -> bool:
    """The shipment's order may yet be booked by a task that has not read it: the shipment is newer than what
    that task has read (an order changes when it ships), or the task has not finished a run."""
    if not (shipment.source and shipment.order_source_id) or horizon == ALL_READ:
        return False
    if horizon == NOTHING_READ:
        return True
    return shipment.created_at is not None and shipment.created_at > horizon


def _order_in_flight(run: TaskRun, shipment: Shipment, creators: list[str]) -> bool:
    if not (shipment.source and shipment.order_source_id):
        return False
    return run.store.ledger_find_target(f"{shipment.source}:{shipment.order_source_id}", creators,
                                        states=(LedgerState.PENDING, LedgerState.FAILED,
                                                LedgerState.HELD)) is not None


def dispatch_tracking(run: TaskRun, batch: Batch) -> set[str]:
    """Write one batch of tracking exactly once; returns the keys whose write failed and is to be retried."""
    name, target, counts = run.name, run.target, run.counts
    writes = {w.key: w for _, w in batch}
    ledger = run.store.ledger_get(name, writes)
    todo = []
    for key, w in writes.items():
        entry = ledger.get(key)
        if entry is not None and entry.state == LedgerState.DONE and entry.idempotency_key == w.idempotency_key:
            counts["already_synced"] += 1
        else:
            todo.append(w)
    if not todo:
        return set()
    if run.dry_run:
        counts[Outcome.WOULD_CREATE] += len(todo)
        return set()
    pending_keys = [w for w in todo if w.key in ledger and ledger[w.key].state == LedgerState.PENDING]
    found = target.find_tracking(pending_keys) if pending_keys else {}
    entries, logs = [], []
    for w in todo:
        if w.key in found:
            counts[Outcome.CREATED] += 1
            entries.append(LedgerEntry(task=name, source_key=w.key, state=LedgerState.DONE,
                                       idempotency_key=w.idempotency_key, target_id=w.target_ref))
            logs.append(_log(run, w, Outcome.CREATED, "found on the document after an interrupted write"))
    todo = [w for w in todo if w.key not in found]
    run.store.ledger_put([LedgerEntry(task=name, source_key=w.key, state=LedgerState.PENDING,
                                      idempotency_key=w.idempotency_key, target_id=w.target_ref,
                                      attempts=(ledger[w.key].attempts if w.key in ledger else 0) + 1)
                          for w in todo])
    try:
        results = write(target, target.write_tracking, todo) if todo else []
    except RetriableAPIError as exc:
        results = [WriteResult(key=w.key, ok=False, retriable=True, error=f"{exc} (will retry next run)") for w in todo]
    except FatalAPIError as exc:
        results = [WriteResult(key=w.key, ok=False, error=str(exc)) for w in todo]
        _record(run, todo, results, entries, logs)
        raise
    _record(run, todo, results, entries, logs)
    return {r.key for r in results if not r.ok and r.retriable}


def _record(run: TaskRun, todo: list[TrackingWrite], results: list[WriteResult], entries: list[LedgerEntry],
            logs: list[LogEntry]) -> None:
    by_key = {r.key: r for r in results}
    for w in todo:
        r = by_key.get(w.key) or WriteResult(key=w.key, ok=False, error="the connector gave no result")
        outcome, state = write_outcome(r, rewritten=True)  # tracking is added to a document that exists
        run.counts[outcome] += 1
        entries.append(LedgerEntry(task=run.name, source_key=w.key, state=state, idempotency_key=w.idempotency_key,
                                   target_id=w.target_ref, last_error=r.error))
        logs.append(_log(run, w, outcome, r.error or r.note))
    commit(run, logs, entries)


def _log(run: TaskRun, w: TrackingWrite, outcome: Outcome, message: Optional[str]) -> LogEntry:
    s = w.shipment
    text = f"tracking {s.tracking_number} ({s.carrier or 'carrier?'}, shipped {s.ship_date})"
    return LogEntry(task=run.name, source_key=w.key, outcome=outcome, run_id=run.summary.run_id,
                    order_number=s.order_number, target_id=w.target_ref,
                    message=f"{text}; {message}" if message else text,
                    reason=message if outcome == Outcome.FAILED else None)


def _oldest(batch: Batch, failed: set[str], held: Optional[datetime]) -> Optional[datetime]:
    """The creation time of the oldest shipment in ``batch`` whose key is in ``failed`` (or ``held``, if older)."""
    for shipment, write_ in batch:
        if write_.key in failed and shipment.created_at and (held is None or shipment.created_at < held):
            held = shipment.created_at
    return held
