"""``connex undo``: take back what one run created in the target, newest first.

For each order the run logged as ``created`` (its document still the one the ledger points at):

- the target's connector voids or deletes the document, whichever the target allows for its state, with the
  payments Connex recorded on it (:meth:`Connector.cancel_orders` with ``OrderWrite.undo``: the same code as
  ``on_cancel = "void"``). A document **changed since** Connex wrote it (paid by someone, edited, shipped) is
  left, with the reason the connector gives;
- what was taken back is logged (outcome ``undone``) and the ledger's entry becomes ``undone`` (keeping the
  document it pointed at): a later run over the order's dates (``--since``/``--until``) or ``connex resync``
  posts it again with a new idempotency key; an incremental run leaves it (counted ``undone``).

Idempotent: an order already undone is said to be so and nothing is sent. Orders booked again since (by
``connex resync``), voided since (cancelled in the source) or whose booked version the ledger does not hold
are left with the reason. Customers, items and contacts the run created beside its documents (as the target's
connector reported them: ``WriteResult.created``, kept against the run) are listed, left in place with their ids:
other documents may use them, and the targets keep them anyway (QuickBooks only makes them inactive).

:func:`plan_undo` reads only (the plan ``connex undo`` shows before it asks); :func:`undo_run` carries it out.
Both take a :class:`~connex_core.sync.engine.SyncEngine`, so any front end (the command line today; the console has no
undo yet) calls the same code.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..connector import OrderWrite, WriteResult
from ..errors import AuthenticationError, ConnectorError, UsageError
from ..models import Order
from ..state import LedgerEntry, LedgerState, LogEntry, LogQuery, Outcome
from .run import RunSummary, TaskRun, connector_options, iso
from .write import idempotency_key

if TYPE_CHECKING:
    from .engine import SyncEngine

#: A step's actions: planned, done, or nothing to do; ``left`` is something that could not be undone.
PLANNED, UNDONE, ALREADY, LEFT = "void", "undone", "already-undone", "left"


@dataclass
class UndoStep:
    order: str
    """The order's number, as the source shows it."""
    source_key: str
    document: Optional[str]
    """The target's document (its number, else its id)."""
    action: str
    """``void`` (the plan), ``undone``, ``already-undone`` or ``left``."""
    message: str

    @property
    def ok(self) -> bool:
        return self.action != LEFT


@dataclass
class LeftInPlace:
    """A customer, item or contact the run created beside a document: listed, never deleted."""

    order: str
    kind: str
    target_id: str
    name: Optional[str]

    @property
    def message(self) -> str:
        named = f" {self.name!r}" if self.name else ""
        return f"{self.kind}{named} (id {self.target_id}) created by the run, left in place"


@dataclass
class UndoReport:
    task: str
    run_id: int
    """The run taken back."""
    target: str
    steps: list[UndoStep] = field(default_factory=list)
    applied: bool = False
    undo_run_id: Optional[int] = None
    """The run that recorded the undo (``connex runs`` lists it), once applied."""
    left_in_place: list[LeftInPlace] = field(default_factory=list)
    """What the run created beside its documents (customers, items, contacts), in the order it was created."""

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {"task": self.task, "run_id": self.run_id, "target": self.target, "applied": self.applied,
                "undo_run_id": self.undo_run_id, "ok": self.ok,
                "steps": [{k: v for k, v in asdict(s).items() if k != "source_key"} for s in self.steps],
                "left_in_place": [{**asdict(c), "message": c.message} for c in self.left_in_place]}


def _run_lines(engine: "SyncEngine", run_id: int) -> tuple[str, list[LogEntry]]:
    """The task of run ``run_id`` and the orders it created, newest first (one line per order)."""
    lines = engine.store.query_log(LogQuery(run_id=run_id))
    if not lines:
        newest = engine.store.runs(None, limit=1)
        if not newest or run_id > int(newest[0]["id"]) or run_id < 1:
            raise UsageError(f"there is no run #{run_id} (see connex runs)")
        raise UsageError(f"run #{run_id} wrote nothing to take back (it logged no orders)")
    task = lines[0].task
    engine.config.task(task)  # a run of a task no longer in the config: an error naming the tasks there are
    created, seen = [], set()
    for line in sorted(lines, key=lambda e: e.id or 0, reverse=True):
        if line.outcome == Outcome.CREATED and line.source_key not in seen:
            seen.add(line.source_key)
            created.append(line)
    return task, created


def _step(line: LogEntry, entry: Optional[LedgerEntry], target: str) -> UndoStep:
    number, doc = line.order_number or line.source_key, line.target_number or line.target_id
    step = UndoStep(number, line.source_key, doc, LEFT, "")
    if entry is None:
        step.message = "the ledger has no entry for it"
    elif entry.target_id != line.target_id:
        now = entry.target_number or entry.target_id
        step.message = (f"booked again since as {now} (connex resync); undo that run instead" if now else
                        f"the ledger no longer points at {doc} (it is {entry.state})")
    elif entry.state == LedgerState.UNDONE:
        step.action, step.message = ALREADY, f"{doc} was taken back already"
    elif entry.state == LedgerState.VOIDED:
        step.message = f"{doc} was voided already (the order was cancelled in the source)"
    elif entry.state != LedgerState.DONE:
        step.message = f"the ledger says {entry.state} ({entry.last_error or 'a write without an answer'})"
    elif not entry.snapshot:
        step.message = f"the ledger does not hold the version booked as {doc}; void it in {target} by hand"
    else:
        step.action, step.message = PLANNED, f"void or delete {doc} in {target}"
    return step


def plan_undo(engine: "SyncEngine", run_id: int) -> UndoReport:
    """What undoing run ``run_id`` would do, step by step (reads the state store only)."""
    task, lines = _run_lines(engine, run_id)
    target = engine.config.task(task).target
    ledger = engine.store.ledger_get(task, [line.source_key for line in lines])
    kept = [LeftInPlace(c.order_number or c.source_key, c.kind, c.target_id, c.name)
            for c in engine.store.created_in_run(run_id)]
    return UndoReport(task, run_id, target, [_step(line, ledger.get(line.source_key), target) for line in lines],
                      left_in_place=kept)


def undo_run(engine: "SyncEngine", run_id: int, *, on_step: Optional[Callable[[UndoStep], None]] = None) -> UndoReport:
    """Take back what run ``run_id`` created (:func:`plan_undo`, then each planned step, newest first), recorded
    as a run of its own. The caller holds the task's lease. ``on_step`` is told of each step as it ends."""
    report = plan_undo(engine, run_id)
    report.applied = True
    store = engine.store
    summary = RunSummary(task=report.task)
    started = time.monotonic()
    summary.run_id = report.undo_run_id = store.begin_run(report.task, {"undo": run_id})
    try:
        run = engine.task_run(report.task, summary)
        for step in report.steps:
            if step.action == PLANNED:
                _undo_one(run, step, run_id)
            summary.counts["undone" if step.action == UNDONE else "failed" if step.action == LEFT else "already_synced"] += 1
            if on_step is not None:
                on_step(step)
    except BaseException as exc:
        summary.status, summary.error = "error", str(exc)
        raise
    finally:
        summary.seconds = time.monotonic() - started
        store.finish_run(summary.run_id, summary.status, {**summary.as_dict(), "undone": summary.counts["undone"]})
    return report


def _undo_one(run: TaskRun, step: UndoStep, run_id: int) -> None:
    """Void or delete one document through the target's connector; log and keep what happened."""
    entry = run.store.ledger_get(run.name, [step.source_key])[step.source_key]
    booked = Order.model_validate_json(entry.snapshot or "")
    write = OrderWrite(order=booked, idempotency_key=idempotency_key(run.name, step.source_key, f"undo {entry.target_id}"),
                       options=connector_options(run.task.target_options), content_hash=entry.content_hash or "",
                       target_ref=entry.target_id, undo=True)
    try:
        [answer] = run.target.cancel_orders([write]) or [None]
    except NotImplementedError as exc:
        answer = WriteResult(write.key, ok=False, error=f"{exc}; void {step.document} in {run.target.name} by hand")
    except AuthenticationError:
        raise  # reconnect first: nothing more can be undone
    except ConnectorError as exc:
        answer = WriteResult(write.key, ok=False, error=str(exc))
    if answer is None:
        answer = WriteResult(write.key, ok=False, error=f"{run.target.name} gave no answer")
    if not answer.ok:
        step.action, step.message = LEFT, f"{step.document} left in {run.target.name}: {answer.error}"
        return
    step.action = UNDONE
    step.message = f"{answer.note or step.document + ' voided'} (connex undo of run #{run_id})"
    run.store.log([LogEntry(task=run.name, source_key=step.source_key, outcome=Outcome.UNDONE, run_id=run.summary.run_id,
                            order_number=step.order, target_id=entry.target_id, target_number=entry.target_number,
                            order_date=iso(booked.created_at) if booked.created_at else None,
                            message=step.message)])
    run.store.ledger_put([LedgerEntry(task=run.name, source_key=step.source_key, state=LedgerState.UNDONE,
                                      idempotency_key=entry.idempotency_key, target_id=entry.target_id,
                                      target_number=entry.target_number, attempts=entry.attempts,
                                      last_error=step.message, content_hash=entry.content_hash,
                                      snapshot=entry.snapshot)])
