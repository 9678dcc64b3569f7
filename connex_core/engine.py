"""The sync engine: one task run, exactly once.

A run of an ``orders`` task:

1. reads the window from the source (the task's cursor minus its overlap, or ``--since``/``--until``),
   streaming, then the ledger's retry queue (orders that failed, were held, or whose write has no
   recorded answer);
2. runs each order through the plugins' ``before_rules`` hooks and the task's rules: sync, skip or hold;
3. drops what the ledger says is done;
4. looks the rest up in the target in one batched call (duplicate detection, and reconciliation of
   writes whose answer was lost);
5. records the intent (ledger ``pending`` with a deterministic idempotency key) **before** writing,
   writes the batch with the API's own idempotency mechanism, and records each result after;
6. logs every outcome in the transaction log and advances the cursor only when the window was read
   to its end.

A crash anywhere leaves either nothing, or an intent without a result, which the next run
reconciles by looking in the target before writing again: no order is posted twice, none is lost.

``tracking`` tasks do the same with shipments (their target document is found from the shipment's
origin or from the ledger of the task that created it); ``daily_summary`` tasks post one document
per closed day in the source's time zone.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional
from zoneinfo import ZoneInfo

from .config import Config, TaskConfig
from .connector import (Capability, Connector, ConnectorContext, FetchQuery, Found, OrderWrite, TrackingWrite,
                        WriteResult, batched)
from .errors import ConfigurationError, ConnectorError, FatalAPIError, RetriableAPIError
from .http import short_body
from .models import LineItem, Order, OrderStatus, Shipment, ZERO, parse_origin
from .plugins import PluginManager
from .rules import PASS_THROUGH, RuleResult, RuleSet, load_rules
from .state import LedgerEntry, LogEntry, StateStore
from .tokens import TokenStore

log = logging.getLogger("connex.engine")

#: What a connector raises on an answer of a shape it did not expect (as opposed to Connex's own errors).
UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, IndexError, ArithmeticError)

#: How many times a batch whose write failed with a retriable error is reconciled and retried in one run.
WRITE_ATTEMPTS = 3


@dataclass
class RunSummary:
    """What a task run did (``connex run --json`` prints one per task)."""

    task: str
    run_id: Optional[int] = None
    dry_run: bool = False
    counts: Counter = field(default_factory=Counter)
    cursor: Optional[str] = None
    status: str = "ok"
    error: Optional[str] = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        keys = ("created", "updated", "duplicate", "already_synced", "skipped", "held", "failed")
        if self.dry_run:
            keys = ("would_create",) + keys
        return {
            "task": self.task,
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "status": self.status,
            "error": self.error,
            "read": self.counts.get("read", 0),
            **{k: self.counts.get(k, 0) for k in keys},
            "cursor": self.cursor,
            "seconds": round(self.seconds, 3),
        }

    @property
    def problems(self) -> int:
        return self.counts.get("failed", 0) + self.counts.get("held", 0)


def idempotency_key(task: str, source_key: str, content: str) -> str:
    """Deterministic: the same order with the same content gets the same key (so the API replays it)."""
    return hashlib.sha256(f"{task}\x1f{source_key}\x1f{content}".encode()).hexdigest()[:32]


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


class Progress:
    """Counts orders on stderr while a run goes (no-op when stderr is not a terminal)."""

    def __init__(self, label: str, enabled: bool):
        self.enabled = enabled
        self.label = label
        self._progress = None
        self._task = None
        if enabled:
            from rich.console import Console
            from rich.progress import Progress as RichProgress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = RichProgress(SpinnerColumn(), TextColumn("[bold]{task.description}"),
                                          TextColumn("{task.completed} orders"), TimeElapsedColumn(),
                                          console=Console(stderr=True), transient=True)

    def __enter__(self) -> "Progress":
        if self._progress:
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=None)
        return self

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def __exit__(self, *exc: Any) -> None:
        if self._progress:
            self._progress.stop()


class SyncEngine:
    """Runs tasks of one config against one state store."""

    def __init__(self, config: Config, manager: PluginManager, store: StateStore, *, dry_run: bool = False,
                 show_progress: bool = False, connector_options: Optional[dict[str, Any]] = None,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.config = config
        self.manager = manager
        self.store = store
        self.dry_run = dry_run
        self.show_progress = show_progress
        self.connector_options = dict(connector_options or {})
        self.now = now
        self.cancel = threading.Event()
        """Set it (``connex serve`` does, on SIGTERM) to stop after the batch in flight; the cursor stays."""
        self._connectors: dict[tuple[str, bool], Connector] = {}
        self._types: dict[str, str] = {}

    # -- building --------------------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return self.config.state_path.parent / ".connex"

    def connector(self, connection: str, *, dry_run: Optional[bool] = None) -> Connector:
        dry = self.dry_run if dry_run is None else dry_run
        key = (connection, dry)
        if key not in self._connectors:
            settings = self.config.connection_settings(connection, self.manager)
            cls = self.manager.connector(settings.type)
            ctx = ConnectorContext(connection=connection, state_dir=self.state_dir, dry_run=dry,
                                   tokens=TokenStore(self.state_dir, connection),
                                   options=dict(self.connector_options))
            self._connectors[key] = cls(settings, ctx)
        return self._connectors[key]

    def rules_for(self, task: TaskConfig) -> RuleSet:
        if not task.rules:
            return PASS_THROUGH
        paths = [self.config.resolve(p) for p in task.rules]
        return load_rules(paths, manager=self.manager)

    def close(self) -> None:
        for connector in self._connectors.values():
            try:
                connector.close()
            except Exception:  # closing must not hide the run's real outcome
                log.debug("closing %s failed", connector.name, exc_info=True)
        self._connectors.clear()

    # -- running ---------------------------------------------------------------------------------
    def run_task(self, name: str, *, since: Optional[datetime] = None, until: Optional[datetime] = None,
                 orders: Optional[Iterable[Order]] = None) -> RunSummary:
        """Run one task. ``orders`` (from a webhook) are processed instead of reading a window; the cursor stays."""
        task = self.config.task(name)
        summary = RunSummary(task=name, dry_run=self.dry_run)
        started = time.monotonic()
        rules = self.rules_for(task)  # rule errors stop the run before anything is read
        source = self.connector(task.source)
        target = self.connector(task.target)
        self._check_capabilities(name, task, source, target)
        run_id = None if self.dry_run else self.store.begin_run(name, {"since": since, "until": until})
        summary.run_id = run_id
        try:
            if task.kind == "orders":
                self._run_orders(name, task, rules, source, target, since, until, summary, orders)
            elif task.kind == "tracking":
                self._run_tracking(name, task, source, target, since, until, summary)
            else:
                self._run_daily_summary(name, task, rules, source, target, since, until, summary)
        except ConfigurationError as exc:
            exc = _in_task(name, exc)
            summary.status, summary.error = "error", str(exc)
            raise exc from None
        except ConnectorError as exc:
            summary.status, summary.error = "error", str(exc)
            raise
        except BaseException as exc:
            summary.status, summary.error = "error", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            summary.seconds = time.monotonic() - started
            if run_id is not None:
                self.store.finish_run(run_id, summary.status, summary.as_dict())
            if summary.status == "ok":
                self.manager.hook.run_finished(task=name, summary=summary.as_dict())
        return summary

    @staticmethod
    def _check_capabilities(name: str, task: TaskConfig, source: Connector, target: Connector) -> None:
        needs = {
            "orders": (Capability.READ_ORDERS, Capability.WRITE_ORDERS),
            "daily_summary": (Capability.READ_ORDERS, Capability.WRITE_ORDERS),
            "tracking": (Capability.READ_SHIPMENTS, Capability.WRITE_TRACKING),
        }[task.kind]
        for conn, cap in ((source, needs[0]), (target, needs[1])):
            if cap not in conn.capabilities:
                raise ConfigurationError(f"task {name!r}: connector {conn.name!r} cannot {cap.value.replace('_', ' ')}",
                                         key=f"tasks.{name}")

    def _window(self, name: str, task: TaskConfig, since: Optional[datetime], until: Optional[datetime]) -> FetchQuery:
        opts = dict(task.source_options)
        date_field = str(opts.pop("date_field", "created"))
        if since or until:
            return FetchQuery(since=since, until=until, date_field=date_field, options=opts)
        cursor = self.store.get_cursor(name)
        if cursor:
            start = datetime.fromisoformat(cursor) - timedelta(minutes=task.overlap_minutes)
        else:
            start = self.now() - timedelta(days=task.initial_days)
        return FetchQuery(modified_since=start, date_field=date_field, options=opts)

    # -- orders ----------------------------------------------------------------------------------
    def _evaluate(self, name: str, rules: RuleSet, order: Order) -> RuleResult:
        for changed in self.manager.hook.before_rules(order=order, task=name):
            if changed is not None:
                order = changed
        if order.original_number is None:
            order = order.model_copy(update={"original_number": order.number})
        return rules.apply(order)

    def _run_orders(self, name: str, task: TaskConfig, rules: RuleSet, source: Connector, target: Connector,
                    since: Optional[datetime], until: Optional[datetime], summary: RunSummary,
                    given: Optional[Iterable[Order]] = None) -> None:
        query = self._window(name, task, since, until)
        incoming = _read(source, source.fetch_orders(query)) if given is None else (
            o for o in given if source.accepts(o, query))
        complete = True
        newest: Optional[datetime] = None
        seen: set[str] = set()
        pending: list[tuple[Order, RuleResult]] = []
        batch_size = max(1, target.write_batch_size)
        with Progress(f"{name}", self.show_progress) as progress:
            for order in incoming:
                if self.cancel.is_set():
                    complete = False
                    break
                summary.counts["read"] += 1
                progress.advance()
                seen.add(order.key)
                if order.modified_at and (newest is None or order.modified_at > newest):
                    newest = order.modified_at
                self._route(name, task, rules, order, pending, summary)
                if len(pending) >= batch_size:
                    self._dispatch(name, task, target, pending, summary)
                    pending = []
            # The retry queue: orders that failed, were held, or whose write has no recorded answer.
            if not self.dry_run and complete and given is None:
                for entry in self.store.ledger_retry_queue(name):
                    if entry.source_key in seen or not entry.snapshot:
                        continue
                    order = Order.model_validate_json(entry.snapshot)
                    summary.counts["retried"] += 1
                    self._route(name, task, rules, order, pending, summary)
                    if len(pending) >= batch_size:
                        self._dispatch(name, task, target, pending, summary)
                        pending = []
            if pending:
                self._dispatch(name, task, target, pending, summary)
        if not self.dry_run and complete and given is None and newest is not None and not (since or until):
            old = self.store.get_cursor(name)
            if old is None or datetime.fromisoformat(old) < newest:
                self.store.set_cursor(name, _iso(newest))
        if not complete:
            summary.status = "stopped"
        summary.cursor = self.store.get_cursor(name)

    def _route(self, name: str, task: TaskConfig, rules: RuleSet, order: Order,
               pending: list[tuple[Order, RuleResult]], summary: RunSummary) -> None:
        """Run the rules on one order; log skip/hold at once, queue sync for the next batch."""
        result = self._evaluate(name, rules, order)
        origin = parse_origin(order.origin)
        if result.outcome == "sync" and origin and origin[0] == self._target_type(task):
            # It came from the target in the first place (QuickBooks -> ShipStation -> QuickBooks): never echo it.
            result.outcome, result.reason = "skip", f"this order came from {origin[0]} ({origin[1]}); not sent back"
        if result.outcome == "sync":
            pending.append((order, result))
            return
        outcome = "skipped" if result.outcome == "skip" else "held"
        summary.counts[outcome] += 1
        if self.dry_run:
            return
        existing = self.store.ledger_get(name, [order.key]).get(order.key)
        if existing is not None and existing.state == "done":
            return  # already in the target; a later rule change does not undo that
        if existing is not None and existing.state == outcome and existing.last_error == result.reason:
            return  # skipped or held for the same reason last time: logged already
        snapshot = order.model_dump_json() if outcome == "held" else None
        # The log line first: a crash between the two repeats the line next run, instead of losing the reason.
        self.store.log([self._log_entry(name, order, result, outcome, summary.run_id)])
        self.store.ledger_put([LedgerEntry(task=name, source_key=order.key, state=outcome, snapshot=snapshot,
                                           attempts=existing.attempts if existing else 0,
                                           last_error=result.reason, content_hash=order.content_hash())])
        self._after(order, name, outcome, None)

    def _target_type(self, task: TaskConfig) -> str:
        """The connector type of the task's target (cached: this is on the per-order path)."""
        if task.target not in self._types:
            self._types[task.target] = self.config.connection_settings(task.target, self.manager).type
        return self._types[task.target]

    def _log_entry(self, name: str, order: Order, result: Optional[RuleResult], outcome: str, run_id: Optional[int],
                   **kw: Any) -> LogEntry:
        entry = LogEntry(task=name, source_key=order.key, outcome=outcome, run_id=run_id,
                         order_number=order.original_number or order.number,
                         order_date=_iso(order.created_at) if order.created_at else None, **kw)
        if result is not None:
            entry.fired = list(result.fired)
            entry.changes = [{"field": c.field, "before": c.before, "after": c.after, "rule": c.rule,
                              "line": c.line, "file": c.file} for c in result.changes]
            if result.outcome != "sync":
                entry.reason, entry.rule, entry.line, entry.rule_file = (result.reason, result.rule, result.line,
                                                                         result.file)
        return entry

    def _after(self, order: Order, name: str, outcome: str, target_id: Optional[str]) -> None:
        try:
            self.manager.hook.after_dispatch(order=order, task=name, outcome=outcome, target_id=target_id)
        except Exception:
            log.warning("an after_dispatch hook failed for order %s", order.number, exc_info=True)

    def _dispatch(self, name: str, task: TaskConfig, target: Connector,
                  pending: list[tuple[Order, RuleResult]], summary: RunSummary) -> None:
        """Write one batch exactly once: ledger check, target look-up, intent, write, result."""
        by_key: dict[str, tuple[Order, RuleResult]] = {}
        for order, result in pending:
            by_key[order.key] = (order, result)  # a repeat within a batch counts once
        ledger = self.store.ledger_get(name, by_key)
        writes: list[OrderWrite] = []
        changed: set[str] = set()  # done before, content changed since, and the target updates in place
        for key, (order, result) in by_key.items():
            entry = ledger.get(key)
            content = result.order.content_hash()
            if entry is not None and entry.state == "done":
                if not (target.upserts_orders and entry.content_hash and entry.content_hash != content):
                    summary.counts["already_synced"] += 1
                    continue
                changed.add(key)
            writes.append(OrderWrite(order=result.order, idempotency_key=idempotency_key(name, key, content),
                                     options=dict(task.target_options), content_hash=content))
        if not writes:
            return
        if self.dry_run:
            summary.counts["would_create"] += len(writes)
            return
        # Writing again is safe where the target upserts: what Connex wrote before (changed, or whose answer
        # was lost) is not looked up, so it is updated rather than taken as done.
        rewrite = {w.key for w in writes if target.upserts_orders and w.key in ledger}
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            writes = self._reconcile(name, target, [w for w in writes if w.key not in rewrite], ledger, by_key,
                                     summary) + [w for w in writes if w.key in rewrite]
            if not writes:
                return
            intents = []
            for w in writes:
                order, _ = by_key[w.key]
                prior = ledger.get(w.key)
                intents.append(LedgerEntry(task=name, source_key=w.key, state="pending",
                                           idempotency_key=w.idempotency_key,
                                           # an update keeps the document it updates (for the log's outcome)
                                           target_id=prior.target_id if prior else None,
                                           target_number=prior.target_number if prior else None,
                                           attempts=(prior.attempts if prior else 0) + 1,
                                           content_hash=w.content_hash, snapshot=order.model_dump_json()))
            self.store.ledger_put(intents)
            for e in intents:
                ledger[e.source_key] = e
            try:
                results = _write(target, target.write_orders, writes)
            except RetriableAPIError as exc:
                if attempt >= WRITE_ATTEMPTS:
                    self._record_failures(name, writes, ledger, by_key, f"{exc} (will retry next run)", summary)
                    return
                log.warning("task %s: writing a batch failed (%s); reconciling and retrying", name, exc)
                continue
            except FatalAPIError as exc:
                self._record_failures(name, writes, ledger, by_key, str(exc), summary)
                raise
            # Per-order failures (retriable or not) go to the ledger's retry queue for the next run.
            self._record_results(name, writes, results, ledger, by_key, summary, changed)
            return

    def _reconcile(self, name: str, target: Connector, writes: list[OrderWrite], ledger: dict[str, LedgerEntry],
                   by_key: dict, summary: RunSummary) -> list[OrderWrite]:
        """Look the batch up in the target; what is there is done (reconciled or a duplicate), not written again."""
        found: dict[str, Found] = target.find_orders(writes)
        if not found:
            return writes
        rest = []
        entries, logs, told = [], [], []
        for w in writes:
            hit = found.get(w.key)
            if hit is None:
                rest.append(w)
                continue
            order, result = by_key[w.key]
            prior = ledger.get(w.key)
            reconciled = prior is not None and prior.state == "pending" and prior.idempotency_key == w.idempotency_key
            outcome = "created" if reconciled else "duplicate"
            message = (f"found in {target.name} after an interrupted write" if reconciled else
                       f"already in {target.name} as {hit.target_number or hit.target_id}")
            summary.counts[outcome] += 1
            entries.append(LedgerEntry(task=name, source_key=w.key, state="done", idempotency_key=w.idempotency_key,
                                       target_id=hit.target_id, target_number=hit.target_number,
                                       attempts=prior.attempts if prior else 0, content_hash=w.content_hash))
            logs.append(self._log_entry(name, order, result, outcome, summary.run_id, target_id=hit.target_id,
                                        target_number=hit.target_number, message=message))
            told.append((w.order, outcome, hit.target_id))
        self.store.log(logs)  # before the ledger, as in _route
        self.store.ledger_put(entries)
        for e in entries:
            ledger[e.source_key] = e
        for order, outcome, target_id in told:
            self._after(order, name, outcome, target_id)
        return rest

    def _record_results(self, name: str, writes: list[OrderWrite], results: list[WriteResult],
                        ledger: dict[str, LedgerEntry], by_key: dict, summary: RunSummary,
                        changed: frozenset[str] | set[str] = frozenset()) -> None:
        by_result = {r.key: r for r in results}
        target_name = self.config.tasks[name].target
        entries, logs = [], []
        for w in writes:
            order, result = by_key[w.key]
            r = by_result.get(w.key) or WriteResult(key=w.key, ok=False, retriable=True,
                                                     error=f"{type(self).__name__}: the connector gave no result")
            prior = ledger[w.key]
            if r.ok:
                rewritten = w.key in changed or prior.target_id is not None
                outcome = "duplicate" if r.duplicate else "updated" if rewritten else "created"
                state = "done"
                if r.duplicate and not (r.error or r.note):
                    r.note = f"already in {target_name} as {r.target_number or r.target_id}"
            else:
                outcome, state = "failed", "failed"
            summary.counts[outcome] += 1
            entries.append(LedgerEntry(task=name, source_key=w.key, state=state, idempotency_key=w.idempotency_key,
                                       target_id=r.target_id, target_number=r.target_number, attempts=prior.attempts,
                                       last_error=r.error, content_hash=w.content_hash,
                                       snapshot=None if r.ok else prior.snapshot))
            logs.append(self._log_entry(name, order, result, outcome, summary.run_id, target_id=r.target_id,
                                        target_number=r.target_number, message=r.error or r.note,
                                        reason=None if r.ok else r.error))
        self.store.log(logs)  # before the ledger, as in _route
        self.store.ledger_put(entries)
        for e, entry_log in zip(entries, logs):
            ledger[e.source_key] = e
            self._after(by_key[e.source_key][1].order, name, entry_log.outcome, e.target_id)

    def _record_failures(self, name: str, writes: list[OrderWrite], ledger: dict[str, LedgerEntry], by_key: dict,
                         message: str, summary: RunSummary) -> None:
        """A whole batch failed. Its intents stay reconcilable: the next run looks in the target first."""
        results = [WriteResult(key=w.key, ok=False, error=message) for w in writes]
        self._record_results(name, writes, results, ledger, by_key, summary)

    # -- tracking --------------------------------------------------------------------------------
    def _run_tracking(self, name: str, task: TaskConfig, source: Connector, target: Connector,
                      since: Optional[datetime], until: Optional[datetime], summary: RunSummary) -> None:
        query = self._window(name, task, since, until)
        creators = [t for t, cfg in self.config.tasks.items()
                    if cfg.target == task.source and cfg.source == task.target and cfg.kind == "orders"]
        creators += [t for t, cfg in self.config.tasks.items()
                     if cfg.source == task.source and cfg.target == task.target and cfg.kind == "orders"]
        target_type = self.config.connection_settings(task.target, self.manager).type
        newest: Optional[datetime] = None
        held: Optional[datetime] = None  # the oldest shipment whose write failed retriably: the cursor stays before it
        batch: list[tuple[Shipment, TrackingWrite]] = []
        with Progress(name, self.show_progress) as progress:
            for shipment in _read(source, source.fetch_shipments(query)):
                summary.counts["read"] += 1
                progress.advance()
                if shipment.created_at and (newest is None or shipment.created_at > newest):
                    newest = shipment.created_at
                if shipment.voided or not shipment.tracking_number:
                    continue
                ref = self._tracking_target(shipment, target_type, creators)
                if ref is None:
                    if self._order_in_flight(shipment, creators):
                        # Its order is on its way to the target (failed, held or unanswered for now): read the
                        # shipment again next run, once the document exists, instead of passing it by for good.
                        summary.counts["waiting"] += 1
                        if shipment.created_at and (held is None or shipment.created_at < held):
                            held = shipment.created_at
                    else:
                        summary.counts["not_ours"] += 1
                    continue
                content = f"{shipment.tracking_number}|{shipment.ship_date}|{shipment.cost}"
                batch.append((shipment, TrackingWrite(shipment=shipment, target_ref=ref,
                                                      idempotency_key=idempotency_key(name, shipment.key, content),
                                                      options=dict(task.target_options))))
                if len(batch) >= max(1, target.write_batch_size):
                    held = _oldest(batch, self._dispatch_tracking(name, target, batch, summary), held)
                    batch = []
            if batch:
                held = _oldest(batch, self._dispatch_tracking(name, target, batch, summary), held)
        if held is not None and newest is not None:
            newest = min(newest, held)  # so the next run's window reads the failed shipment again
        if not self.dry_run and newest is not None and not (since or until):
            old = self.store.get_cursor(name)
            if old is None or datetime.fromisoformat(old) < newest:
                self.store.set_cursor(name, _iso(newest))
        summary.cursor = self.store.get_cursor(name)

    def _tracking_target(self, shipment: Shipment, target_type: str, creators: list[str]) -> Optional[str]:
        origin = parse_origin(shipment.origin)
        if origin is not None:
            return origin[1] if origin[0] == target_type else None
        if shipment.source and shipment.order_source_id:
            entry = self.store.ledger_find_target(f"{shipment.source}:{shipment.order_source_id}", creators)
            if entry is not None and entry.target_id:
                return entry.target_id
        return None

    def _order_in_flight(self, shipment: Shipment, creators: list[str]) -> bool:
        if not (shipment.source and shipment.order_source_id):
            return False
        return self.store.ledger_find_target(f"{shipment.source}:{shipment.order_source_id}", creators,
                                             states=("pending", "failed", "held")) is not None

    def _dispatch_tracking(self, name: str, target: Connector, batch: list[tuple[Shipment, TrackingWrite]],
                           summary: RunSummary) -> set[str]:
        """Write one batch of tracking; returns the keys whose write failed and is to be retried."""
        writes = {w.key: w for _, w in batch}
        ledger = self.store.ledger_get(name, writes)
        todo = []
        for key, w in writes.items():
            entry = ledger.get(key)
            if entry is not None and entry.state == "done" and entry.idempotency_key == w.idempotency_key:
                summary.counts["already_synced"] += 1
            else:
                todo.append(w)
        if not todo:
            return set()
        if self.dry_run:
            summary.counts["would_create"] += len(todo)
            return set()
        pending_keys = [w for w in todo if ledger.get(w.key) is not None and ledger[w.key].state == "pending"]
        found = target.find_tracking(pending_keys) if pending_keys else {}
        entries, logs = [], []
        for w in todo:
            if w.key in found:
                summary.counts["created"] += 1
                entries.append(LedgerEntry(task=name, source_key=w.key, state="done", idempotency_key=w.idempotency_key,
                                           target_id=w.target_ref))
                logs.append(self._tracking_log(name, w, "created", summary.run_id, "found on the document after an interrupted write"))
        todo = [w for w in todo if w.key not in found]
        self.store.ledger_put([LedgerEntry(task=name, source_key=w.key, state="pending", idempotency_key=w.idempotency_key,
                                           target_id=w.target_ref,
                                           attempts=(ledger[w.key].attempts if w.key in ledger else 0) + 1)
                               for w in todo])
        try:
            results = _write(target, target.write_tracking, todo) if todo else []
        except RetriableAPIError as exc:
            results = [WriteResult(key=w.key, ok=False, retriable=True, error=f"{exc} (will retry next run)") for w in todo]
        except FatalAPIError as exc:
            results = [WriteResult(key=w.key, ok=False, error=str(exc)) for w in todo]
            self._record_tracking(name, todo, results, entries, logs, summary)
            raise
        self._record_tracking(name, todo, results, entries, logs, summary)
        return {r.key for r in results if not r.ok and r.retriable}

    def _record_tracking(self, name, todo, results, entries, logs, summary) -> None:
        by_key = {r.key: r for r in results}
        for w in todo:
            r = by_key.get(w.key) or WriteResult(key=w.key, ok=False, error="the connector gave no result")
            outcome = ("duplicate" if r.duplicate else "updated") if r.ok else "failed"
            summary.counts[outcome] += 1
            entries.append(LedgerEntry(task=name, source_key=w.key, state="done" if r.ok else "failed",
                                       idempotency_key=w.idempotency_key, target_id=w.target_ref, last_error=r.error))
            logs.append(self._tracking_log(name, w, outcome, summary.run_id, r.error or r.note))
        self.store.log(logs)  # before the ledger, as in _route
        self.store.ledger_put(entries)

    @staticmethod
    def _tracking_log(name: str, w: TrackingWrite, outcome: str, run_id: Optional[int], message: Optional[str]) -> LogEntry:
        s = w.shipment
        text = f"tracking {s.tracking_number} ({s.carrier or 'carrier?'}, shipped {s.ship_date})"
        return LogEntry(task=name, source_key=w.key, outcome=outcome, run_id=run_id, order_number=s.order_number,
                        target_id=w.target_ref, message=f"{text}; {message}" if message else text,
                        reason=message if outcome == "failed" else None)

    # -- daily summaries -------------------------------------------------------------------------
    def _run_daily_summary(self, name: str, task: TaskConfig, rules: RuleSet, source: Connector, target: Connector,
                           since: Optional[datetime], until: Optional[datetime], summary: RunSummary) -> None:
        """One document per closed day (in the source's time zone), by creation date or by ship date."""
        opts = dict(task.target_options)
        by = str(opts.get("summary_date", "created"))
        if by not in ("created", "shipped"):
            raise ConfigurationError("expected \"created\" or \"shipped\"", key=f"tasks.{name}.target_options.summary_date")
        tz = ZoneInfo(str(task.source_options.get("timezone", opts.get("timezone", "America/Los_Angeles"))))
        today = self.now().astimezone(tz).date()
        cursor = self.store.get_cursor(name)
        if since:
            first = since.astimezone(tz).date()
        elif cursor:
            first = date.fromisoformat(cursor) + timedelta(days=1)
        else:
            first = today - timedelta(days=max(1, int(task.initial_days)))
        last = (until.astimezone(tz).date() - timedelta(days=1)) if until else today - timedelta(days=1)
        if first > last:
            summary.cursor = cursor
            return
        start = datetime.combine(first, datetime.min.time(), tz)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz)
        src_opts = {k: v for k, v in task.source_options.items() if k not in ("date_field", "timezone")}
        if by == "created":
            query = FetchQuery(since=start, until=end, date_field="created", options=src_opts)
        else:  # an order shipped on day D was modified on or after D
            query = FetchQuery(modified_since=start, date_field="modified", options=src_opts)
        days: dict[date, _DayTotals] = {}
        with Progress(name, self.show_progress) as progress:
            for order in _read(source, source.fetch_orders(query)):
                summary.counts["read"] += 1
                progress.advance()
                result = self._evaluate(name, rules, order)
                if result.outcome != "sync":
                    summary.counts["skipped" if result.outcome == "skip" else "held"] += 1
                    if not self.dry_run:
                        self.store.log([self._log_entry(name, order, result,
                                                        "skipped" if result.outcome == "skip" else "held",
                                                        summary.run_id)])
                    continue
                o = result.order
                if by == "created":
                    when = o.created_at.astimezone(tz).date() if o.created_at else None
                else:
                    when = o.shipment.ship_date if o.shipment and o.shipment.ship_date else None
                if when is None or not (first <= when <= last):
                    continue
                days.setdefault(when, _DayTotals()).add(o)
        prefix = str(opts.get("summary_prefix", "DS-"))
        pending = []
        for day in sorted(days):
            order = days[day].to_order(name, day, tz, prefix, by)
            pending.append((order, RuleResult(order=order)))
        for chunk in batched(pending, max(1, target.write_batch_size)):
            self._dispatch(name, task, target, chunk, summary)
        if not self.dry_run and not (since or until) and summary.counts.get("failed", 0) == 0:
            self.store.set_cursor(name, last.isoformat())
        summary.cursor = self.store.get_cursor(name)


def _in_task(name: str, exc: ConfigurationError) -> ConfigurationError:
    """A connector's complaint about a task option, under the option's full key (``tasks.NAME.source_options.x``):
    connectors see only the options, not which task they belong to."""
    key = exc.key or ""
    if exc.file or key.split(".")[0] not in ("source_options", "target_options"):
        return exc
    return ConfigurationError(str(exc)[len(key) + 2:], key=f"tasks.{name}.{key}")


def _write(target: Connector, write: Callable[[list], list[WriteResult]], items: list) -> list[WriteResult]:
    """``write(items)``; an answer the connector could not read (a shape it did not expect) is a retriable
    error naming the target: the writes are reconciled and retried, as after a lost answer."""
    try:
        return write(items)
    except UNREADABLE as exc:
        raise RetriableAPIError(f"{target.name} answered in a way Connex could not read ({type(exc).__name__}: "
                                f"{short_body(str(exc), 120)})", connector=target.name) from exc


def _read(source: Connector, records: Iterable[Any]) -> Iterator[Any]:
    """The source's records. One the connector cannot read (a malformed answer that passed its checks: a
    field missing, a wrong type) stops the task with an API error naming the connector, not a crash of
    the command; what the task synced before it is kept, and the cursor stays where it was."""
    it = iter(records)
    while True:
        try:
            record = next(it)
        except StopIteration:
            return
        except UNREADABLE as exc:
            raise FatalAPIError(f"{source.name} sent a record Connex could not read ({type(exc).__name__}: "
                                f"{short_body(str(exc), 120)}); the task stopped there and keeps what it synced",
                                connector=source.name) from exc
        yield record


def _oldest(batch: list[tuple[Shipment, TrackingWrite]], failed: set[str], held: Optional[datetime]) -> Optional[datetime]:
    """The creation time of the oldest shipment in ``batch`` whose key is in ``failed`` (or ``held``, if older)."""
    for shipment, write in batch:
        if write.key in failed and shipment.created_at and (held is None or shipment.created_at < held):
            held = shipment.created_at
    return held


class _DayTotals:
    """What one day's summary document adds up (streaming: orders are not kept)."""

    def __init__(self) -> None:
        self.numbers: list[str] = []
        self.lines: dict[tuple, LineItem] = {}
        self.shipping = self.tax = self.discount = self.total = self.paid_amount = ZERO
        self.currency: Optional[str] = None
        self.all_paid = True

    def add(self, order: Order) -> None:
        self.numbers.append(order.number)
        for line in order.lines:
            key = (line.sku or line.name, line.unit_price, line.adjustment)
            have = self.lines.get(key)
            if have is None:
                self.lines[key] = LineItem(sku=line.sku, name=line.name, quantity=line.quantity,
                                           unit_price=line.unit_price, tax=line.tax, discount=line.discount,
                                           adjustment=line.adjustment, item_name=line.item_name)
            else:
                have.quantity += line.quantity
                have.tax += line.tax
                have.discount += line.discount
        self.shipping += order.shipping
        self.tax += order.tax
        self.discount += order.discount
        self.total += order.total
        self.paid_amount += order.amount_paid
        self.currency = self.currency or order.currency
        self.all_paid = self.all_paid and order.paid

    def to_order(self, task: str, day: date, tz: ZoneInfo, prefix: str, by: str) -> Order:
        numbers = sorted(set(self.numbers))
        memo = f"Daily summary of {day.isoformat()} ({tz.key}, by {'creation' if by == 'created' else 'ship'} date): " \
               f"{len(numbers)} orders: " + ", ".join(numbers)
        start = datetime.combine(day, datetime.min.time(), tz)
        return Order(source="summary", source_id=f"{task}:{day.isoformat()}", number=f"{prefix}{day:%Y%m%d}",
                     status=OrderStatus.paid if self.all_paid else OrderStatus.open,
                     created_at=start, order_date=start, timezone=tz.key,
                     lines=list(self.lines.values()), shipping=self.shipping, tax=self.tax, discount=self.discount,
                     total=self.total, amount_paid=self.paid_amount, paid=self.all_paid, currency=self.currency,
                     memo=memo[:4000], tags=["daily-summary"])
