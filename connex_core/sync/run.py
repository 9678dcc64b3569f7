"""What every task run shares: its summary, its window and cursor, reading from the source, progress.

A :class:`TaskRun` is built by :class:`~connex_core.sync.engine.SyncEngine` for one run of one task and
handed to the task kind's module (:mod:`.orders`, :mod:`.tracking`, :mod:`.summary`).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator, Optional

from ..config import Config, TaskConfig
from ..connector import Connector, FetchQuery
from ..errors import FatalAPIError
from ..http import short_body
from ..waits import LongWait, waits_at_most
from ..models import Order
from ..plugins import PluginManager
from ..rules import RuleResult, RuleSet
from ..state import StateStore
from .slices import Slice

#: What a connector raises on an answer of a shape it did not expect (as opposed to Connex's own errors).
UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, IndexError, ArithmeticError)

#: ``on_progress(task, n)``: ``n`` more records of ``task`` were read (the command line draws it).
ProgressFn = Callable[[str, int], None]

#: Task keys the engine itself reads, and where they were written before ``TaskConfig`` had a field for each.
ENGINE_KEYS: dict[str, tuple[str, ...]] = {
    "date_field": ("source_options",),
    "timezone": ("source_options", "target_options"),
    "summary_date": ("target_options",),
    "summary_prefix": ("target_options",),
}


def task_option(task: TaskConfig, key: str, default: Any = None) -> Any:
    """An engine-owned task key: the typed ``TaskConfig`` field when it has one and it is set, else the
    key where older configs put it (``source_options`` / ``target_options``), else ``default``."""
    value = getattr(task, key, None)
    if value is not None:
        return value
    for where in ENGINE_KEYS[key]:
        options = getattr(task, where)
        if key in options:
            return options[key]
    return default


def task_option_key(name: str, task: TaskConfig, key: str) -> str:
    """The full config key an engine-owned task key was read from (for error messages)."""
    if getattr(task, key, None) is None:
        for where in ENGINE_KEYS[key]:
            if key in getattr(task, where):
                return f"tasks.{name}.{where}.{key}"
    return f"tasks.{name}.{key}"


def connector_options(options: dict[str, Any]) -> dict[str, Any]:
    """A task's options without the engine's own keys: what the connector is given."""
    return {k: v for k, v in options.items() if k not in ENGINE_KEYS}


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
    orders: list[dict[str, Any]] = field(default_factory=list)
    """In a dry run: what each order would come to (see :mod:`.dryrun`)."""
    yielded: Optional[float] = None
    """The run stopped at the end of its :class:`~.slices.Slice`: its continuation may run in this many seconds."""

    def as_dict(self) -> dict[str, Any]:
        keys = ("created", "updated", "duplicate", "already_synced", "skipped", "held", "failed", "voided")
        if self.dry_run:
            keys = ("would_create", "would_update") + keys
        return {
            "task": self.task,
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "status": self.status,
            "error": self.error,
            "read": self.counts.get("read", 0),
            **{k: self.counts.get(k, 0) for k in keys},
            **{k: self.counts[k] for k in ("ignored", "undone", "waiting") if self.counts.get(k)},
            **({"yielded": round(self.yielded, 3)} if self.yielded is not None else {}),
            "cursor": self.cursor,
            "seconds": round(self.seconds, 3),
            **({"orders": self.orders} if self.dry_run else {}),
        }

    @property
    def problems(self) -> int:
        return self.counts.get("failed", 0) + self.counts.get("held", 0)


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


def unreadable(source: Connector, exc: Exception) -> FatalAPIError:
    """A record the connector cannot read (a malformed answer that passed its checks: a field missing, a
    wrong type) stops the task with an API error naming the connector, not a crash of the command; what the
    task synced before it is kept, and the cursor stays where it was."""
    return FatalAPIError(f"{source.name} sent a record Connex could not read ({type(exc).__name__}: "
                         f"{short_body(str(exc), 120)}); the task stopped there and keeps what it synced",
                         connector=source.name)


@dataclass
class TaskRun:
    """One run of one task: what the task kind's module needs, and the steps every kind shares."""

    name: str
    task: TaskConfig
    config: Config
    manager: PluginManager
    store: StateStore
    source: Connector
    target: Connector
    rules: RuleSet
    summary: RunSummary
    target_type: str
    dry_run: bool = False
    since: Optional[datetime] = None
    until: Optional[datetime] = None
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    cancel: threading.Event = field(default_factory=threading.Event)
    on_progress: Optional[ProgressFn] = None
    stopped: bool = False
    """The run was cancelled, or its slice ended, before it read its window to the end (see :meth:`read`)."""
    slice: Optional[Slice] = None
    """On a shared worker: the share of work after which the run stops and yields (:mod:`.slices`)."""

    @property
    def windowed(self) -> bool:
        """``--since``/``--until`` given: the run reads that window and leaves the cursor alone."""
        return bool(self.since or self.until)

    @property
    def counts(self) -> Counter:
        return self.summary.counts

    def option(self, key: str, default: Any = None) -> Any:
        return task_option(self.task, key, default)

    def option_key(self, key: str) -> str:
        return task_option_key(self.name, self.task, key)

    def evaluate(self, order: Order) -> RuleResult:
        """The plugins' ``before_rules`` (a chain), then the task's rules."""
        order = self.manager.before_rules(order, self.name)
        if order.original_number is None:
            order = order.model_copy(update={"original_number": order.number})
        return self.rules.apply(order)

    def read(self, records: Iterable[Any], *, stoppable: bool = False, checked: bool = True) -> Iterator[Any]:
        """The source's records (``checked``: one it cannot read is :func:`unreadable`), counted as read and reported to
        ``on_progress``. ``stoppable``: once :attr:`cancel` is set, or the run's :attr:`slice` is spent, or
        reading would wait on a rate limit longer than the slice allows, the next record is not taken and
        :attr:`stopped` is set (the batch in flight is finished by the caller; a slice's end also sets
        ``summary.yielded``)."""
        counts, progress, name, cancel = self.summary.counts, self.on_progress, self.name, self.cancel
        share = self.slice if stoppable and self.slice is not None and self.slice.active else None
        bound = waits_at_most(share.wait_seconds if share is not None else None)
        it = iter(records)
        while True:
            if share is not None and share.spent(counts):
                self.stopped, self.summary.yielded = True, 0.0
                return
            try:
                with bound:  # reading has no side effect: a long rate-limit wait here gives the worker up
                    record = next(it)
            except StopIteration:
                return
            except LongWait as exc:
                self.stopped, self.summary.yielded = True, exc.seconds
                return
            except UNREADABLE as exc:
                if not checked:
                    raise
                raise unreadable(self.source, exc) from exc
            if stoppable and cancel.is_set():
                self.stopped = True
                return
            counts["read"] += 1
            if progress is not None:
                progress(name, 1)
            yield record

    def window(self) -> FetchQuery:
        """What to read: ``--since``/``--until``, or the cursor minus the task's overlap (the first run: its
        ``initial_days``)."""
        date_field = str(self.option("date_field", "created"))
        options = connector_options(self.task.source_options)
        if self.windowed:
            return FetchQuery(since=self.since, until=self.until, date_field=date_field, options=options)
        cursor = self.store.get_cursor(self.name)
        if cursor:
            start = datetime.fromisoformat(cursor) - timedelta(minutes=self.task.overlap_minutes)
        else:
            start = self.now() - timedelta(days=self.task.initial_days)
        return FetchQuery(modified_since=start, date_field=date_field, options=options)

    def advance_cursor(self, to: Optional[datetime | date]) -> None:
        """Move the cursor forward to ``to`` (a time, or for daily summaries the last day posted); never
        back, never in a dry run or a ``--since``/``--until`` run. ``summary.cursor`` is what it is after."""
        if to is not None and not self.dry_run and not self.windowed:
            old = self.store.get_cursor(self.name)
            kind = date if not isinstance(to, datetime) else datetime
            if old is None or kind.fromisoformat(old) < to:
                self.store.set_cursor(self.name, to.isoformat() if kind is date else iso(to))
        self.summary.cursor = self.store.get_cursor(self.name)
