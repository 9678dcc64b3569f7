"""The sync engine: runs one task of a config, exactly once, by its kind.

:class:`SyncEngine` loads the task's rules, gets its connectors from :class:`~connex_core.connections.Connections`,
checks their capabilities, records the run, and hands a :class:`~connex_core.sync.run.TaskRun` to the
module of the task's kind: :mod:`.orders`, :mod:`.tracking` or :mod:`.summary`. The write protocol they
share is :mod:`.write`.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from ..config import Config, TaskConfig
from ..connections import Connections
from ..connector import Capability, Connector
from ..errors import ConfigurationError, ConnectorError
from ..models import Order
from ..plugins import PluginManager
from ..rules import PASS_THROUGH, RuleSet, load_rules
from ..state import StateStore
from .orders import run_orders
from .run import ProgressFn, RunSummary, TaskRun
from .slices import Slice
from .summary import run_daily_summary
from .tracking import run_tracking

log = logging.getLogger("connex.engine")

#: What each task kind reads from its source and writes to its target.
NEEDS: dict[str, tuple[Capability, Capability]] = {
    "orders": (Capability.READ_ORDERS, Capability.WRITE_ORDERS),
    "daily_summary": (Capability.READ_ORDERS, Capability.WRITE_ORDERS),
    "tracking": (Capability.READ_SHIPMENTS, Capability.WRITE_TRACKING),
}

#: The connector option sections whose keys a connector names without the task's prefix.
_TASK_SECTIONS = ("source_options", "target_options")


class SyncEngine:
    """Runs tasks of one config against one state store.

    ``on_progress(task, n)`` is told as records are read (the command line draws a progress bar from it).
    ``connections`` may be shared with other users of the same connectors; by default the engine builds
    its own (with ``connector_options`` in every connector's context) and closes them in :meth:`close`.
    """

    def __init__(self, config: Config, manager: PluginManager, store: StateStore, *, dry_run: bool = False,
                 on_progress: Optional[ProgressFn] = None, connector_options: Optional[dict[str, Any]] = None,
                 connections: Optional[Connections] = None,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.config = config
        self.manager = manager
        self.store = store
        self.dry_run = dry_run
        self.on_progress = on_progress
        self.connections = connections or Connections(config, manager, dry_run=dry_run, options=connector_options)
        self.now = now
        self.cancel = threading.Event()
        """Set it (``connex serve`` does, on SIGTERM) to stop after the batch in flight; the cursor stays."""

    # -- building --------------------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return self.connections.state_dir

    def connector(self, connection: str, *, dry_run: Optional[bool] = None) -> Connector:
        return self.connections.get(connection, dry_run=self.dry_run if dry_run is None else dry_run)

    def rules_for(self, task: TaskConfig) -> RuleSet:
        if not task.rules:
            return PASS_THROUGH
        paths = [self.config.resolve(p) for p in task.rules]
        return load_rules(paths, env=self.manager.rule_environment())

    def close(self) -> None:
        self.connections.close()

    def task_run(self, name: str, summary: RunSummary) -> TaskRun:
        """A run of one task, built as :meth:`run_task` builds it, for work on single orders (resync, undo)."""
        task = self.config.task(name)
        source, target = self.connector(task.source), self.connector(task.target)
        _check_capabilities(name, task, source, target)
        return TaskRun(name=name, task=task, config=self.config, manager=self.manager, store=self.store,
                       source=source, target=target, rules=self.rules_for(task), summary=summary,
                       target_type=self.connections.type_of(task.target), dry_run=self.dry_run, now=self.now)

    # -- running ---------------------------------------------------------------------------------
    def run_task(self, name: str, *, since: Optional[datetime] = None, until: Optional[datetime] = None,
                 orders: Optional[Iterable[Order]] = None, slice: Optional[Slice] = None) -> RunSummary:
        """Run one task. ``orders`` (from a webhook) are processed instead of reading a window; the cursor stays.
        ``slice`` (a shared worker's share, :mod:`.slices`): the run may stop early with ``summary.yielded`` set."""
        task = self.config.task(name)
        summary = RunSummary(task=name, dry_run=self.dry_run)
        started = time.monotonic()
        rules = self.rules_for(task)  # rule errors stop the run before anything is read
        source = self.connector(task.source)
        target = self.connector(task.target)
        _check_capabilities(name, task, source, target)
        run = TaskRun(name=name, task=task, config=self.config, manager=self.manager, store=self.store,
                      source=source, target=target, rules=rules, summary=summary,
                      target_type=self.connections.type_of(task.target), dry_run=self.dry_run, since=since,
                      until=until, now=self.now, cancel=self.cancel, on_progress=self.on_progress, slice=slice)
        run_id = None if self.dry_run else self.store.begin_run(name, {"since": since, "until": until})
        summary.run_id = run_id
        try:
            if task.kind == "orders":
                run_orders(run, orders)
            elif task.kind == "tracking":
                run_tracking(run)
            else:
                run_daily_summary(run)
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
                self._alert(summary)
            if summary.status == "ok":
                self.manager.run_finished(task=name, summary=summary.as_dict())
        return summary


    def _alert(self, summary: RunSummary) -> None:
        """Tell a person what needs a look (``[alerts]``); an alert never changes how the run ends."""
        if self.config.alerts is None:
            return
        from ..alerts.policy import after_run

        try:
            after_run(self.config.alerts, self.store, summary.as_dict(), self.now())
        except Exception:
            log.warning("task %s: the alert could not be recorded", summary.task, exc_info=True)


def _check_capabilities(name: str, task: TaskConfig, source: Connector, target: Connector) -> None:
    for conn, cap in zip((source, target), NEEDS[task.kind]):
        if cap not in conn.capabilities:
            raise ConfigurationError(f"task {name!r}: connector {conn.name!r} cannot {cap.value.replace('_', ' ')}",
                                     key=f"tasks.{name}")


def _in_task(name: str, exc: ConfigurationError) -> ConfigurationError:
    """A connector's complaint about a task option (``source_options.x``), under the option's full key
    (``tasks.NAME.source_options.x``): connectors see only the options, not which task they belong to."""
    if exc.file or (exc.key or "").split(".")[0] not in _TASK_SECTIONS:
        return exc
    return exc.under(f"tasks.{name}")
