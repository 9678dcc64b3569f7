"""``connex serve``: run tasks on their schedules and react to webhooks within seconds.

* Every enabled task runs every ``every_minutes`` (polling stays the fallback for missed webhooks).
* Runs go through one worker, one at a time: a task never runs twice at once, and two tasks never
  write the same ledger concurrently.
* Webhooks arrive at ``POST /webhooks/<connection>[/<secret>]``. The connection's connector verifies
  them (ShipStation: the secret in the URL; QuickBooks and Xero: HMAC signatures) and may fetch what
  they point at; a bad one is refused (401) and logged. A good one queues the tasks reading from that
  connection at once, with the orders it carried when there are any.
* :meth:`Server.stop` (SIGTERM, SIGINT) lets the batch in flight finish, then stops: nothing is
  half-written, and the interrupted task's cursor stays where it was.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

from .config import Config
from .engine import RunSummary, SyncEngine
from .errors import ConnexError, WebhookRejected
from .models import Order
from .plugins import PluginManager
from .state import SQLiteStore

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
                 on_run: Optional[Callable[[RunSummary], None]] = None):
        self.config = config
        self.manager = manager
        self.tick = tick
        self.on_run = on_run
        self.connector_options = connector_options or {}
        self.store = SQLiteStore(config.state_path)
        self.engine = SyncEngine(config, manager, self.store, connector_options=self.connector_options)
        self._hooks_engine = SyncEngine(config, manager, self.store, connector_options=self.connector_options)
        self._hooks_lock = threading.Lock()
        self.jobs: "queue.Queue[_Job]" = queue.Queue()
        self._queued: set[str] = set()
        self._queued_lock = threading.Lock()
        self.stopping = threading.Event()
        # Document tasks first: when several are due together, tracking is written once the documents exist.
        enabled = [name for name, t in config.tasks.items() if t.enabled]
        self.next_due = {name: 0.0 for name in sorted(enabled, key=lambda n: config.tasks[n].kind == "tracking")}
        self.runs: list[RunSummary] = []
        self.webhooks = {"accepted": 0, "rejected": 0}
        self.http = ThreadingHTTPServer((host, port), self._handler())
        self.http.daemon_threads = True
        self.host, self.port = self.http.server_address[:2]
        self._threads: list[threading.Thread] = []

    # -- queueing --------------------------------------------------------------------------------
    def enqueue(self, task: str, reason: str, orders: Optional[list[Order]] = None) -> bool:
        """Queue a run unless one without orders is already waiting (webhook orders always queue)."""
        with self._queued_lock:
            if orders is None and task in self._queued:
                return False
            if orders is None:
                self._queued.add(task)
        self.jobs.put(_Job(task, reason, orders))
        return True

    def _schedule_loop(self) -> None:
        while not self.stopping.is_set():
            now = time.monotonic()
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
                summary = self.engine.run_task(job.task, orders=job.orders)
                log.info("task %s (%s): %s", job.task, job.reason, summary.as_dict())
                self.runs.append(summary)
                if self.on_run:
                    self.on_run(summary)
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

    # -- webhooks ------------------------------------------------------------------------------
    def receive(self, connection: str, secret: Optional[str], headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if connection not in self.config.connections:
            return 404, b'{"error": "unknown connection"}'
        try:
            with self._hooks_lock:
                connector = self._hooks_engine.connector(connection)
                event = connector.handle_webhook(headers, body, secret)
        except WebhookRejected as exc:
            self.webhooks["rejected"] += 1
            log.warning("webhook for %s refused: %s", connection, exc)
            return 401, b'{"error": "refused"}'
        except NotImplementedError:
            return 404, b'{"error": "this connection does not take webhooks"}'
        except ConnexError as exc:
            log.error("webhook for %s could not be handled: %s", connection, exc)
            return 502, b'{"error": "could not fetch the resource"}'
        self.webhooks["accepted"] += 1
        for name, task in self.config.tasks.items():
            if not task.enabled or task.source != connection:
                continue
            if task.kind == "orders" and event.orders is not None:
                if event.orders:
                    self.enqueue(name, f"webhook {event.kind}", list(event.orders))
            else:
                self.enqueue(name, f"webhook {event.kind}")
        return 200, event.reply or b""

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/health":
                    body = json.dumps({"ok": True, "runs": len(server.runs), "webhooks": server.webhooks,
                                       "unfinished": server.jobs.unfinished_tasks}).encode()
                    return self._answer(200, body)
                self._answer(404, b'{"error": "not found"}')

            def do_POST(self) -> None:
                parts = self.path.split("?", 1)[0].strip("/").split("/")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(parts) < 2 or parts[0] != "webhooks":
                    return self._answer(404, b'{"error": "not found"}')
                secret = parts[2] if len(parts) > 2 else None
                status, reply = server.receive(parts[1], secret, {k.lower(): v for k, v in self.headers.items()}, body)
                self._answer(status, reply)

        return Handler

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "Server":
        serve_http = lambda: self.http.serve_forever(poll_interval=0.05)  # noqa: E731
        for target, name in ((serve_http, "webhooks"), (self._schedule_loop, "scheduler"),
                             (self._work_loop, "worker")):
            t = threading.Thread(target=target, name=f"connex-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        log.info("serving webhooks on http://%s:%s/webhooks/<connection>", self.host, self.port)
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stop: the batch in flight finishes, then every thread ends."""
        self.stopping.set()
        self.engine.cancel.set()
        self.http.shutdown()
        for t in self._threads:
            t.join(timeout)
        self.http.server_close()
        self.engine.close()
        self._hooks_engine.close()
        self.store.close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
