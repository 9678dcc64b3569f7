"""The webhook inbox of one config: verify a delivery, keep it, answer; then read it and queue the tasks it concerns.

``connex serve`` has one (:mod:`connex_core.serve`); ``connex serve --tenants`` has one per tenant, each over that
tenant's connections, secrets and state store (:mod:`connex_core.tenant_hooks`).

* The connection's connector verifies a delivery (ShipStation: the secret in the URL; QuickBooks and Xero: HMAC
  signatures) without any network call; a bad one is refused (401) and logged. A good one is kept in the durable
  inbox of the state store and answered at once.
* :meth:`WebhookInbox.drain` then reads each kept delivery (fetching what it points at) and hands the tasks
  reading from that connection, with the orders it carried, to ``enqueue``. A process killed after answering
  loses nothing: the inbox is worked through at the next start. A delivery that fails to read is retried a few
  times, then kept as failed, without holding up the others.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any, Callable, Optional

from .connections import Connections
from .errors import ConnexError, RetriableAPIError, WebhookRejected

log = logging.getLogger("connex.serve")

#: How many times a delivery whose reading hit a passing API error is tried before it is kept as failed.
INBOX_ATTEMPTS = 5


class WebhookInbox:
    """Receiving and reading the webhooks of one config's connections into one state store.

    ``enqueue(task, reason, orders)`` is called for every task a delivery concerns (``orders`` None: a run
    without given orders)."""

    def __init__(self, config: Any, manager: Any, store: Any, enqueue: Callable[..., Any], *,
                 connector_options: Optional[dict[str, Any]] = None, label: str = ""):
        self.config, self.store, self.enqueue = config, store, enqueue
        self.label = label
        """Prefix of this inbox's log lines (the tenant's name under ``serve --tenants``)."""
        options = connector_options or {}
        # Deliveries are read on the inbox thread while the HTTP threads verify others: connectors of their own
        # (a connector is not shared between threads), used one delivery at a time.
        self._read_connections = Connections(config, manager, options=options)
        self._read_lock = threading.Lock()
        # Verifying needs no network and must never wait behind a slow read: its own connectors, built under a
        # short lock, used without one (verification only reads settings).
        self._verify_connections = Connections(config, manager, options=options)
        self._verify_lock = threading.Lock()
        self.counts = {"accepted": 0, "rejected": 0}
        self.read = 0
        """Deliveries finished with (read, refused or failed for good)."""
        self._done = threading.Condition()
        self.wake = threading.Event()
        """Set when a delivery was kept: the inbox thread reads at once instead of at its next tick."""

    def _name(self, connection: str) -> str:
        return f"{self.label}/{connection}" if self.label else connection

    # -- receiving ------------------------------------------------------------------------------
    def receive(self, connection: str, secret: Optional[str], headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """Verify a delivery, keep it in the inbox and answer: no network call, no task run, before the answer."""
        where = self._name(connection)
        if connection not in self.config.connections:
            log.warning("webhook for unknown connection %r refused", where)
            return 404, b'{"error": "unknown connection"}'
        try:
            connector = self._verifier(connection)
            reply = connector.verify_webhook(headers, body, secret)
        except NotImplementedError:
            return self._receive_at_once(connection, secret, headers, body)
        except WebhookRejected as exc:
            self.counts["rejected"] += 1
            log.warning("webhook for %s refused: %s", where, exc)
            return 401, b'{"error": "refused"}'
        except ConnexError as exc:
            log.error("webhook for %s could not be verified: %s", where, exc)
            return 400, b'{"error": "could not be verified"}'
        except Exception as exc:  # a header that is not ASCII, a signature of the wrong shape: not verified
            self.counts["rejected"] += 1
            log.warning("webhook for %s refused: signature could not be checked (%s)", where, type(exc).__name__)
            return 401, b'{"error": "refused"}'
        digest = hashlib.sha256(body).hexdigest()
        kept = {k: v for k, v in headers.items() if k not in ("authorization", "cookie")}
        if self.store.inbox_put(connection, digest, kept, body) is None:
            log.info("webhook for %s: the same delivery again (already in the inbox)", where)
        self.counts["accepted"] += 1
        self.wake.set()
        return 200, reply or b""

    def _verifier(self, connection: str):
        with self._verify_lock:
            return self._verify_connections.get(connection)

    def _receive_at_once(self, connection, secret, headers, body) -> tuple[int, bytes]:
        """For a connector that only implements ``handle_webhook``: verify and read before answering."""
        where = self._name(connection)
        try:
            with self._read_lock:
                event = self._read_connections.get(connection).handle_webhook(headers, body, secret)
        except WebhookRejected as exc:
            self.counts["rejected"] += 1
            log.warning("webhook for %s refused: %s", where, exc)
            return 401, b'{"error": "refused"}'
        except NotImplementedError:
            return 404, b'{"error": "this connection does not take webhooks"}'
        except ConnexError as exc:
            log.error("webhook for %s could not be handled: %s", where, exc)
            return 502, b'{"error": "could not fetch the resource"}'
        self.counts["accepted"] += 1
        self.dispatch(connection, event)
        return 200, event.reply or b""

    def dispatch(self, connection: str, event) -> None:
        """Queue the tasks that read from ``connection``: with the orders the event carried, when it has any."""
        for name, task in self.config.tasks.items():
            if not task.enabled or task.source != connection:
                continue
            if task.kind == "orders" and event.orders is not None:
                if event.orders:
                    self.enqueue(name, f"webhook {event.kind}", list(event.orders))
            else:
                self.enqueue(name, f"webhook {event.kind}")

    # -- reading --------------------------------------------------------------------------------
    def _readers(self, connection: str, headers: dict[str, str], body: bytes) -> list[str]:
        """The connection a delivery came to, and every other connection of the same type that verifies it
        too (one app's delivery may speak of several companies: each connection reads its own)."""
        ctype = self.config.connections[connection].get("type")
        out = [connection]
        for other, raw in self.config.connections.items():
            if other == connection or raw.get("type") != ctype:
                continue
            try:
                self._verifier(other).verify_webhook(headers, body, None)
                out.append(other)
            except Exception:  # not this connection's delivery
                continue
        return out

    def drain(self, stopping: Optional[threading.Event] = None, limit: int = 50) -> int:
        """Read up to ``limit`` kept deliveries once; returns how many were finished with."""
        done = 0
        for entry in self.store.inbox_pending(limit=limit):
            if stopping is not None and stopping.is_set():
                break
            where = self._name(entry.connection)
            error, retry = None, False
            try:
                for connection in self._readers(entry.connection, entry.headers, entry.body):
                    with self._read_lock:
                        event = self._read_connections.get(connection).read_webhook(entry.headers, entry.body)
                    self.dispatch(connection, event)
            except WebhookRejected as exc:
                error = f"not readable: {exc}"
            except RetriableAPIError as exc:
                error, retry = str(exc), entry.attempts + 1 < INBOX_ATTEMPTS
            except ConnexError as exc:
                error = str(exc)
            except Exception as exc:  # a delivery Connex cannot read must not stop the others
                log.exception("webhook %s for %s could not be read", entry.id, where)
                error = f"{type(exc).__name__}: {exc}"
            if error:
                log.warning("webhook %s for %s: %s%s", entry.id, where, error, " (will try again)" if retry else "")
            self.store.inbox_finish(entry.id, error=error, retry=retry)
            if not retry:
                done += 1
                with self._done:
                    self.read += 1
                    self._done.notify_all()
        return done

    def wait_read(self, n: int, timeout: float = 10.0) -> bool:
        """Block until ``n`` deliveries in all have been finished with (for tests and tools)."""
        with self._done:
            return self._done.wait_for(lambda: self.read >= n, timeout)

    def close(self) -> None:
        self._read_connections.close()
        self._verify_connections.close()
