"""``connex serve``: run tasks on their schedules and react to webhooks within seconds.

* Every enabled task runs every ``every_minutes`` (polling stays the fallback for missed webhooks).
* Runs go through one worker, one at a time: a task never runs twice at once, and two tasks never
  write the same ledger concurrently.
* Webhooks arrive at ``POST /webhooks/<connection>[/<secret>]`` (:mod:`connex_core.webhook_http`), are
  verified and kept in the durable inbox of the state store, answered at once, then read by the inbox
  thread, which queues the tasks reading from that connection (:mod:`connex_core.inbox`).
* :meth:`Server.stop` (SIGTERM, SIGINT) lets the batch in flight finish, then stops: nothing is
  half-written, and the interrupted task's cursor stays where it was.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .config import Config
from .engine import RunSummary, SyncEngine
from .errors import ConnexError
from .inbox import INBOX_ATTEMPTS, WebhookInbox  # noqa: F401  (INBOX_ATTEMPTS: re-exported for tests and tools)
from .models import Order
from .plugins import PluginManager
from .limits import configure as configure_limits
from .state.factory import open_store
from .state.lease import TaskBusy, TaskLease, holder_name
from .webhook_http import WebhookHTTP

log = logging.getLogger("connex.serve")


@dataclass
class _Job:
    task: str
    reason: str
    orders: Optional[list[Order]] = None
    queued_at: float = field(default_factory=time.monotonic)


class Server:
    """The scheduler, the worker and the webhook receiver of ``connex serve``."""

    def __init__(self, config: Config, manager: PluginManager, *, host: str = "127.0.0.1", port: int = 8787,
                 connector_options: Optional[dict[str, Any]] = None, tick: float = 1.0,
                 on_run: Optional[Callable[[RunSummary], None]] = None, console: bool = True):
        self.config = config
        self.manager = manager
        self.tick = tick
        self.on_run = on_run
        self.connector_options = connector_options or {}
        configure_limits(config)
        self.store = open_store(config)
        self.engine = SyncEngine(config, manager, self.store, connector_options=self.connector_options)
        # Webhooks are verified on the HTTP threads and read on the inbox thread while the worker runs tasks:
        # the inbox has connectors of its own (a connector is not shared between threads).
        self.inbox = WebhookInbox(config, manager, self.store, self.enqueue, connector_options=self.connector_options)
        self.jobs: "queue.Queue[_Job]" = queue.Queue()
        self._queued: set[str] = set()
        self._queued_lock = threading.Lock()
        self.stopping = threading.Event()
        # Document tasks first: when several are due together, tracking is written once the documents exist.
        self._schedule_lock = threading.Lock()
        self.next_due: dict[str, float] = {}
        self.tasks_changed(first=True)
        self.runs: list[RunSummary] = []
        self.busy: list[str] = []
        """Tasks whose run was passed by because another process held the task's lease."""
        self.lease_holder = holder_name("connex serve")
        self.broker_jobs = None
        """With a ``[broker]``: this process schedules and receives webhooks; ``connex worker`` runs the tasks."""
        self.sent: list[str] = []
        if config.broker is not None:
            from .jobs import Jobs

            self.broker_jobs = Jobs(config.broker.url, queue=config.broker.queue,
                                    heartbeat_seconds=config.broker.heartbeat_seconds)
        self.webhooks = self.inbox.counts
        self.console = None
        if console:
            from .console import build_console

            self.console = build_console(config, manager, self.store, run=self.enqueue, next_due=self._next_due,
                                         connector_options=self.connector_options, on_tasks=self.tasks_changed)
        self.http = WebhookHTTP(self.receive, self.health, host=host, port=port, oauth=self.oauth_callback,
                                console=self.console.app if self.console else None)
        self.host, self.port = host, port
        self.inbox_wake = self.inbox.wake
        self._threads: list[threading.Thread] = []

    # -- queueing --------------------------------------------------------------------------------
    def enqueue(self, task: str, reason: str, orders: Optional[list[Order]] = None) -> bool:
        """Queue a run unless one without orders is already waiting (webhook orders always queue).

        With a ``[broker]``, the run is sent to the workers as a message instead (docs/scale.md)."""
        if self.broker_jobs is not None:
            payload = [o.model_dump(mode="json") for o in orders] if orders is not None else None
            self.broker_jobs.send(str(self.config.path), task, payload)
            self.sent.append(task)
            return True
        with self._queued_lock:
            if orders is None and task in self._queued:
                return False
            if orders is None:
                self._queued.add(task)
        self.jobs.put(_Job(task, reason, orders))
        return True

    def tasks_changed(self, first: bool = False) -> None:
        """Schedule the enabled tasks (again, after the console saved a task's settings): a disabled task leaves
        the schedule, a newly enabled one is due now, a new interval counts from now when it comes sooner."""
        now = time.monotonic()
        tasks = self.config.tasks
        enabled = sorted((n for n, t in tasks.items() if t.enabled), key=lambda n: tasks[n].kind == "tracking")
        with self._schedule_lock:
            self.next_due = {name: 0.0 if first else min(self.next_due.get(name, now),
                                                         now + tasks[name].every_minutes * 60) for name in enabled}

    def _schedule_loop(self) -> None:
        while not self.stopping.is_set():
            now = time.monotonic()
            with self._schedule_lock:
                for name, due in self.next_due.items():
                    if now >= due:
                        self.next_due[name] = now + self.config.tasks[name].every_minutes * 60
                        self.enqueue(name, "schedule")
            self.stopping.wait(self.tick)

    def _work_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                job = self.jobs.get(timeout=self.tick)
            except queue.Empty:
                continue
            if job.orders is None:
                with self._queued_lock:
                    self._queued.discard(job.task)
            if self.stopping.is_set():
                self.jobs.task_done()
                break
            try:
                with TaskLease(self.store, job.task, holder=self.lease_holder, ttl=self.config.state.lease_seconds):
                    summary = self.engine.run_task(job.task, orders=job.orders)
                log.info("task %s (%s): %s", job.task, job.reason, summary.as_dict())
                self.runs.append(summary)
                if self.on_run:
                    self.on_run(summary)
            except TaskBusy as exc:  # another process runs it now; the schedule (or the webhook's retry) comes back
                log.warning("task %s not run: %s", job.task, exc)
                self.busy.append(job.task)
                if job.orders is not None and not self.stopping.is_set():  # a webhook's orders are not dropped
                    retry = threading.Timer(min(30.0, 5 * self.tick), self.jobs.put, (job,))
                    retry.daemon = True
                    retry.start()
            except ConnexError as exc:
                log.error("task %s failed: %s", job.task, exc)
            except Exception:
                log.exception("task %s failed unexpectedly", job.task)
            finally:
                self.jobs.task_done()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued run has finished (what a "nothing else happened" check waits on);
        False when some are still queued or running after ``timeout`` seconds."""
        with self.jobs.all_tasks_done:
            return self.jobs.all_tasks_done.wait_for(lambda: self.jobs.unfinished_tasks == 0, timeout)

    def _next_due(self) -> dict[str, float]:
        """Seconds until each scheduled task's next run (the console's dashboard shows them)."""
        now = time.monotonic()
        return {name: due - now for name, due in self.next_due.items()}

    # -- webhooks ------------------------------------------------------------------------------
    def receive(self, connection: str, secret: Optional[str], headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """Verify a delivery, keep it in the inbox and answer: no network call, no task run, before the answer."""
        return self.inbox.receive(connection, secret, headers, body)

    def oauth_callback(self, connection: str, query: dict[str, str]):
        """``GET /oauth/<connection>/callback``: finish a sign-in started through the state store
        (:mod:`connex_core.oauth.callback`), with connectors of its own (closed after)."""
        from .clock import wall_time
        from .connections import Connections
        from .oauth.callback import finish

        with Connections(self.config, self.manager, options=self.connector_options) as connections:
            return finish(self.store, connections.get, connection, query, known=connection in self.config.connections,
                          now=wall_time(self.connector_options.get("clock")),
                          console_page=lambda name, digest: f"/connections/{name}/signed-in?sign_in={digest}")

    def health(self) -> dict:
        return {"ok": True, "runs": len(self.runs), "webhooks": dict(self.webhooks),
                "unfinished": self.jobs.unfinished_tasks, "inbox": self.store.inbox_counts()}

    # -- the inbox -----------------------------------------------------------------------------
    @property
    def inbox_read(self) -> int:
        """Deliveries the inbox worker has finished with (read, refused or failed for good)."""
        return self.inbox.read

    def drain_inbox(self) -> int:
        """Read every kept delivery once; returns how many were finished with."""
        return self.inbox.drain(self.stopping)

    def wait_inbox(self, n: int, timeout: float = 10.0) -> bool:
        """Block until the inbox worker has finished with ``n`` deliveries in all (for tests and tools)."""
        return self.inbox.wait_read(n, timeout)

    def _inbox_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                if self.drain_inbox() == 0:
                    self.inbox_wake.wait(self.tick)
                    self.inbox_wake.clear()
            except Exception:  # the state store went away for a moment
                log.exception("the webhook inbox could not be read; trying again")
                self.stopping.wait(self.tick)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "Server":
        self.http.start()
        self.port = self.http.port
        loops = [(self._schedule_loop, "scheduler"), (self._inbox_loop, "inbox")]
        if self.broker_jobs is None:  # with a broker, the workers run the tasks
            loops.append((self._work_loop, "worker"))
        for target, name in loops:
            t = threading.Thread(target=target, name=f"connex-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        log.info("serving webhooks on http://%s:%s/webhooks/<connection>", self.host, self.port)
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stop: the batch in flight finishes, then every thread ends."""
        self.stopping.set()
        self.engine.cancel.set()
        self.inbox_wake.set()
        self.http.stop()
        for t in self._threads:
            t.join(timeout)
        self.engine.close()
        self.inbox.close()
        if self.console is not None:
            self.console.close()
        self.store.close()
        if self.broker_jobs is not None:
            self.broker_jobs.broker.close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
