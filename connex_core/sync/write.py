"""The exactly-once write protocol, and the ledger and log entries it leaves.

For one batch: drop what the ledger says is done; look the rest up in the target (duplicates, and
writes whose answer was lost); record the intent (ledger ``pending`` with a deterministic idempotency
key) **before** writing; write with the API's own idempotency mechanism; record each result after.
Every record goes to the transaction log first and to the ledger second: a crash between the two
repeats the log line on the next run instead of losing the reason. ``after_dispatch`` hooks are told
last, once the ledger holds the outcome.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Callable, Iterable, Optional

from ..connector import Connector, Found, OrderWrite, WriteResult
from ..errors import FatalAPIError, RetriableAPIError
from ..http import short_body
from ..waits import waits_at_most
from ..models import Order
from ..rules import RuleResult
from ..state import CreatedRecord, LedgerEntry, LedgerState, LogEntry, LogQuery, Outcome
from .dryrun import look, note
from .run import UNREADABLE, TaskRun, connector_options, iso

log = logging.getLogger("connex.engine")

#: How many times a batch whose write failed with a retriable error is reconciled and retried in one run.
WRITE_ATTEMPTS = 3

#: An order queued for writing, with what the rules made of it.
Pending = tuple[Order, RuleResult]


def idempotency_key(task: str, source_key: str, content: Optional[str] = None) -> str:
    """The key of an order's booking: stable per (task, source order) whatever its content becomes, so a
    write whose answer was lost is replayed (QuickBooks ``requestid``, Xero ``Idempotency-Key``) even when
    the order was edited before the rerun. A content change is an update of that booking, never a new one.
    ``content``: for writes that are new with each content (a shipment's tracking)."""
    text = f"{task}\x1f{source_key}" if content is None else f"{task}\x1f{source_key}\x1f{content}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def undone_key(task: str, source_key: str, undone_ref: str) -> str:
    """The key of an order's booking after ``connex undo`` took back the one booked as ``undone_ref``."""
    return idempotency_key(task, source_key, f"after undo of {undone_ref}")


def replaced(store: Any, task: str, entry: Optional[LedgerEntry]) -> Optional[str]:
    """The document ``connex undo`` took back that this order's next booking replaces: the ``undone`` entry's,
    or (a repost that failed or has no answer yet) the one its key was made for, from the log."""
    if entry is None or entry.state == LedgerState.UNDONE:
        return entry.target_id if entry is not None else None
    if entry.state not in (LedgerState.FAILED, LedgerState.PENDING) or not entry.idempotency_key:
        return None
    last = store.query_log(LogQuery(task=task, source_key=entry.source_key, outcome=Outcome.UNDONE,
                                    newest_first=True, limit=1))
    ref = last[0].target_id if last else None
    return ref if ref and entry.idempotency_key == undone_key(task, entry.source_key, ref) else None


def undone(entry: LedgerEntry) -> bool:
    return entry.state == LedgerState.UNDONE


def rule_outcome(result: RuleResult) -> Optional[Outcome]:
    """What the rules' decision is in the log and the ledger: ``None`` (sync: to be written), skipped or held."""
    if result.outcome == "sync":
        return None
    return Outcome.SKIPPED if result.outcome == "skip" else Outcome.HELD


def write_outcome(result: WriteResult, rewritten: bool) -> tuple[Outcome, LedgerState]:
    """What a write's answer is in the log and the ledger. ``rewritten``: the document existed before (an
    update in place, or tracking added to a document)."""
    if not result.ok:
        return Outcome.FAILED, LedgerState.FAILED
    return (Outcome.DUPLICATE if result.duplicate else Outcome.UPDATED if rewritten else Outcome.CREATED,
            LedgerState.DONE)


def write(target: Connector, write: Callable[[list], list[WriteResult]], items: list) -> list[WriteResult]:
    """``write(items)``; an answer the connector could not read (a shape it did not expect) is a retriable
    error naming the target: the writes are reconciled and retried, as after a lost answer."""
    try:
        return write(items)
    except UNREADABLE as exc:
        raise RetriableAPIError(f"{target.name} answered in a way Connex could not read ({type(exc).__name__}: "
                                f"{short_body(str(exc), 120)})", connector=target.name) from exc


def commit(run: TaskRun, logs: list[LogEntry], entries: list[LedgerEntry],
           told: Iterable[tuple[Order, str, Optional[str]]] = ()) -> None:
    """Record outcomes: the log first, then the ledger, then the ``after_dispatch`` hooks."""
    run.store.log(logs)
    run.store.ledger_put(entries)
    for order, outcome, target_id in told:
        after(run, order, outcome, target_id)


def record_created(run: TaskRun, answers: Iterable[tuple[Order, WriteResult]]) -> None:
    """What the target's connector created beside the documents (a new customer, item, contact: ``created``),
    kept against the run, whatever became of the document: ``connex undo`` lists them, left in place."""
    records = [CreatedRecord(task=run.name, run_id=run.summary.run_id, source_key=order.key, kind=c.kind,
                             target_id=c.target_id, name=c.name, order_number=order.original_number or order.number)
               for order, answer in answers for c in answer.created]
    if records and run.summary.run_id is not None:
        run.store.created_put(records)


def after(run: TaskRun, order: Order, outcome: str, target_id: Optional[str]) -> None:
    try:
        run.manager.after_dispatch(order=order, task=run.name, outcome=outcome, target_id=target_id)
    except Exception:
        log.warning("an after_dispatch hook failed for order %s", order.number, exc_info=True)


def log_entry(run: TaskRun, order: Order, result: Optional[RuleResult], outcome: str, **kw: Any) -> LogEntry:
    entry = LogEntry(task=run.name, source_key=order.key, outcome=outcome, run_id=run.summary.run_id,
                     order_number=order.original_number or order.number,
                     order_date=iso(order.created_at) if order.created_at else None, **kw)
    if result is not None:
        entry.fired = list(result.fired)
        entry.changes = [{"field": c.field, "before": c.before, "after": c.after, "rule": c.rule,
                          "line": c.line, "file": c.file} for c in result.changes]
        if result.outcome != "sync":
            entry.reason, entry.rule, entry.line, entry.rule_file = (result.reason, result.rule, result.line,
                                                                     result.file)
    return entry


class OrderWriter:
    """Writes the orders of one task run to its target, exactly once."""

    def __init__(self, run: TaskRun):
        self.run = run
        self.name = run.name
        self.store = run.store
        self.target = run.target
        self.counts = run.summary.counts
        self.options = connector_options(run.task.target_options)

    def booked_changed(self, order: Order, result: RuleResult, entry: LedgerEntry, content: str) -> bool:
        """An order the ledger has done: write it again (True) or not. By default only where the target
        updates in place and the content changed; ``orders`` tasks follow ``on_update`` (edits.py)."""
        if self.target.upserts_orders and entry.content_hash and entry.content_hash != content:
            return True
        self.counts["already_synced"] += 1
        return False

    def record_rule_outcome(self, order: Order, result: RuleResult, outcome: Outcome, *, ledger: bool = True) -> None:
        """An order the rules skipped or held: counted, logged and (``ledger``) kept in the ledger, held ones
        with their snapshot for the retry queue. Logged once while the reason stays the same."""
        self.counts[outcome] += 1
        if self.run.dry_run:
            note(self.run, order, str(outcome), result.reason)
            return
        if not ledger:
            self.store.log([log_entry(self.run, order, result, outcome)])
            return
        existing = self.store.ledger_get(self.name, [order.key]).get(order.key)
        if existing is not None and existing.state == LedgerState.IGNORED:
            self.counts[outcome] -= 1
            self.counts[Outcome.IGNORED] += 1
            return  # a person said never to post it
        if existing is not None and existing.state == LedgerState.DONE:
            if outcome == Outcome.HELD:  # nothing waits for a person (a released order, held again by its rule)
                self.counts[outcome] -= 1
                self.counts["already_synced"] += 1
            return  # already in the target; a later rule change does not undo that
        if existing is not None and existing.state == outcome and existing.last_error == result.reason:
            if outcome == Outcome.HELD:
                self.store.ledger_put([existing])  # held again: "last seen" (the entry's time) moves on
            return  # skipped or held for the same reason last time: logged already
        snapshot = order.model_dump_json() if outcome == Outcome.HELD else None
        commit(self.run, [log_entry(self.run, order, result, outcome)],
               [LedgerEntry(task=self.name, source_key=order.key, state=LedgerState(outcome.value), snapshot=snapshot,
                            attempts=existing.attempts if existing else 0, last_error=result.reason,
                            content_hash=order.content_hash())],
               [(order, outcome, None)])

    def dispatch(self, pending: list[Pending], *, may_yield: bool = False) -> None:
        """Write one batch exactly once: ledger check, target look-up, intent, write, result.

        ``may_yield`` (the caller stops cleanly on :class:`~connex_core.http.LongWait`): a rate-limit wait longer
        than the run's slice allows in the first look-up, before any intent of the batch, raises it instead of
        sleeping; what the batch's orders still need is then done by the next run."""
        by_key: dict[str, Pending] = {}
        for order, result in pending:
            by_key[order.key] = (order, result)  # a repeat within a batch counts once
        ledger = self.store.ledger_get(self.name, by_key)
        target = self.target
        writes: list[OrderWrite] = []
        changed: set[str] = set()  # done before, content changed since, and the target updates in place
        for key, (order, result) in by_key.items():
            entry = ledger.get(key)
            content = result.order.content_hash()
            if entry is not None and entry.state == LedgerState.IGNORED:
                self.counts[Outcome.IGNORED] += 1  # a person said never to post it
                continue
            if entry is not None and entry.state == LedgerState.DONE:
                if not self.booked_changed(order, result, entry, content):
                    if self.run.dry_run:
                        note(self.run, order, "already-synced", f"as {entry.target_number or entry.target_id}")
                    continue
                changed.add(key)
            ikey, replaces = idempotency_key(self.name, key), replaced(self.store, self.name, entry)
            if entry is not None and entry.state == LedgerState.UNDONE and not self.run.windowed:
                self.counts[Outcome.UNDONE] += 1  # taken back by connex undo: posted again only when asked
                if self.run.dry_run:
                    note(self.run, order, "undone", "taken back by connex undo: a run over its dates "
                                                    "(--since/--until) or connex resync posts it again")
                continue
            if replaces:
                ikey = undone_key(self.name, key, replaces)  # the old key would replay the undone document's answer
            writes.append(OrderWrite(order=result.order, idempotency_key=ikey, options=dict(self.options),
                                     content_hash=content, replaces=replaces))
        if not writes:
            return
        if self.run.dry_run:
            look(self.run, writes, ledger, changed)  # the target's read-only look-ups; nothing written
            return
        # Writing again is safe where the target upserts: what Connex wrote before (changed, or whose answer
        # was lost) is not looked up, so it is updated rather than taken as done.
        rewrite = {w.key for w in writes if target.upserts_orders and w.key in ledger}
        share = self.run.slice if may_yield and self.run.slice is not None else None
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            bound = share.wait_seconds if share is not None and attempt == 1 else None
            writes = self._reconcile([w for w in writes if w.key not in rewrite], ledger, by_key, bound) + \
                [w for w in writes if w.key in rewrite]
            if not writes:
                return
            self._intend(writes, ledger, by_key)
            try:
                results = write(target, target.write_orders, writes)
            except RetriableAPIError as exc:
                if attempt >= WRITE_ATTEMPTS:
                    self._record_failures(writes, ledger, by_key, f"{exc} (will retry next run)")
                    return
                log.warning("task %s: writing a batch failed (%s); reconciling and retrying", self.name, exc)
                continue
            except FatalAPIError as exc:
                self._record_failures(writes, ledger, by_key, str(exc))
                raise
            # Per-order failures (retriable or not) go to the ledger's retry queue for the next run.
            self._record_results(writes, results, ledger, by_key, changed)
            return

    def _intend(self, writes: list[OrderWrite], ledger: dict[str, LedgerEntry], by_key: dict[str, Pending]) -> None:
        """The intents, in the ledger before anything is sent."""
        intents = []
        for w in writes:
            order, _ = by_key[w.key]
            prior = ledger.get(w.key)
            intents.append(LedgerEntry(task=self.name, source_key=w.key, state=LedgerState.PENDING,
                                       idempotency_key=w.idempotency_key,
                                       # an update keeps the document it updates (for the log's outcome)
                                       target_id=prior.target_id if prior and not undone(prior) else None,
                                       target_number=prior.target_number if prior and not undone(prior) else None,
                                       attempts=(prior.attempts if prior else 0) + 1,
                                       content_hash=w.content_hash, snapshot=order.model_dump_json()))
        self.store.ledger_put(intents)
        for e in intents:
            ledger[e.source_key] = e

    def _reconcile(self, writes: list[OrderWrite], ledger: dict[str, LedgerEntry],
                   by_key: dict[str, Pending], bound: Optional[float] = None) -> list[OrderWrite]:
        """Look the batch up in the target; what is there is done (reconciled or a duplicate), not written again.
        ``bound``: the look-up (a read) raises :class:`LongWait` rather than wait longer on a rate limit."""
        with waits_at_most(bound):
            found: dict[str, Found] = self.target.find_orders(writes)
        if not found:
            return writes
        rest = []
        entries, logs, told = [], [], []
        completed = self._complete([(w, found[w.key]) for w in writes if w.key in found
                                    and found[w.key].missing and self._ours(ledger.get(w.key), w)])
        for w in writes:
            hit = found.get(w.key)
            prior = ledger.get(w.key)
            if hit is None or hit.target_id == w.replaces:
                rest.append(w)  # not there, or only the document connex undo voided
                continue
            order, result = by_key[w.key]
            reconciled = self._ours(prior, w)
            if reconciled and hit.missing:
                done = completed.get(w.key)
                if done is None or not done.ok:  # stays an intent: the next run completes it
                    self.counts[Outcome.FAILED] += 1
                    logs.append(log_entry(self.run, order, result, Outcome.FAILED, target_id=hit.target_id,
                                          target_number=hit.target_number, reason=done.error if done else None,
                                          message=f"found in {self.target.name} without its {hit.missing}; "
                                                  f"not completed: {done.error if done else 'no answer'}"))
                    continue
                hit.description = done.note
            outcome = Outcome.CREATED if reconciled else Outcome.DUPLICATE
            message = (f"found in {self.target.name} after an interrupted write" if reconciled else
                       f"already in {self.target.name} as {hit.target_number or hit.target_id}")
            if reconciled and hit.missing:
                message += f"; completed: {hit.description or hit.missing}"
            self.counts[outcome] += 1
            entries.append(LedgerEntry(task=self.name, source_key=w.key, state=LedgerState.DONE,
                                       idempotency_key=w.idempotency_key, target_id=hit.target_id,
                                       target_number=hit.target_number, attempts=prior.attempts if prior else 0,
                                       content_hash=w.content_hash,
                                       # the version booked, when it is Connex's own interrupted write
                                       snapshot=prior.snapshot if reconciled else None))
            logs.append(log_entry(self.run, order, result, outcome, target_id=hit.target_id,
                                  target_number=hit.target_number, message=message))
            told.append((w.order, outcome, hit.target_id))
        for e in entries:
            ledger[e.source_key] = e
        commit(self.run, logs, entries, told)
        return rest

    @staticmethod
    def _ours(prior: Optional[LedgerEntry], w: OrderWrite) -> bool:
        """This booking was begun by Connex (an intent, or a failure that may have reached the target)."""
        return (prior is not None and prior.state in (LedgerState.PENDING, LedgerState.FAILED)
                and prior.idempotency_key == w.idempotency_key)

    def _complete(self, items: list[tuple[OrderWrite, Found]]) -> dict[str, WriteResult]:
        """Bookings found with a part missing (a payment after a crash): the target writes that part."""
        if not items:
            return {}
        try:
            results = write(self.target, self.target.write_follow_ups, items)
        except RetriableAPIError as exc:
            return {w.key: WriteResult(w.key, ok=False, retriable=True, error=str(exc)) for w, _ in items}
        return {r.key: r for r in results}

    def _record_results(self, writes: list[OrderWrite], results: list[WriteResult], ledger: dict[str, LedgerEntry],
                        by_key: dict[str, Pending], changed: frozenset[str] | set[str] = frozenset()) -> None:
        by_result = {r.key: r for r in results}
        record_created(self.run, [(by_key[r.key][0], r) for r in results if r.key in by_key])
        entries, logs, told = [], [], []
        for w in writes:
            order, result = by_key[w.key]
            r = by_result.get(w.key) or WriteResult(key=w.key, ok=False, retriable=True,
                                                     error="SyncEngine: the connector gave no result")
            prior = ledger[w.key]
            outcome, state = write_outcome(r, rewritten=w.key in changed or prior.target_id is not None)
            if r.ok and r.duplicate and not (r.error or r.note):
                r.note = f"already in {self.run.task.target} as {r.target_number or r.target_id}"
            self.counts[outcome] += 1
            # A failed update of a booked document (or its failed retry) leaves the document as booked: keep it (the
            # intent, ``prior``, names a document only for an update, never an undone one).
            kept = not r.ok and not r.target_id and prior.target_id is not None
            target_id, target_number = (prior.target_id, prior.target_number) if kept else (r.target_id, r.target_number)
            entry = LedgerEntry(task=self.name, source_key=w.key, state=state, idempotency_key=w.idempotency_key,
                                target_id=target_id, target_number=target_number, attempts=prior.attempts,
                                last_error=r.error, content_hash=w.content_hash,
                                snapshot=prior.snapshot)  # done: the version booked; failed: for the retry queue
            entries.append(entry)
            ledger[w.key] = entry
            logs.append(log_entry(self.run, order, result, outcome, target_id=r.target_id,
                                  target_number=r.target_number, message=r.error or r.note,
                                  reason=None if r.ok else r.error))
            told.append((result.order, outcome, r.target_id))
        commit(self.run, logs, entries, told)

    def _record_failures(self, writes: list[OrderWrite], ledger: dict[str, LedgerEntry], by_key: dict[str, Pending],
                         message: str) -> None:
        """A whole batch failed. Its intents stay reconcilable: the next run looks in the target first."""
        results = [WriteResult(key=w.key, ok=False, error=message) for w in writes]
        self._record_results(writes, results, ledger, by_key)
