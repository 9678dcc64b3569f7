"""Webhooks per tenant under ``connex serve --tenants``: ``POST /webhooks/<tenant>/<connection>[/<secret>]``.

Each tenant's deliveries are verified by that tenant's connections (its own secrets: the ShipStation secret in
the URL, the QuickBooks verifier token, the Xero webhook key), kept in that tenant's inbox (its own state schema),
read with that tenant's credentials, and the task runs they call for are sent to the workers with that tenant's
config: one tenant's webhook never runs another's task. A delivery for a tenant that is not registered is
answered 404; one for a tenant whose config does not load, 503 (the sender tries again later).

One thread reads every open tenant's inbox in turn, a few deliveries each, starting with a different tenant each
time (a tenant with a flood of deliveries does not hold up the others). A tenant is opened (its config loaded,
its state store connected) at the first delivery and at start, when each registered tenant's inbox is worked
through once (deliveries answered before a restart are not lost); a tenant whose config file changed is opened
again. Each open tenant holds one connection to PostgreSQL.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from .config import load_config
from .errors import ConfigurationError, ConnexError
from .inbox import WebhookInbox
from .state.factory import open_store
from .webhook_http import WebhookHTTP

log = logging.getLogger("connex.serve")

#: Deliveries read from one tenant's inbox before the next tenant's turn.
PER_TURN = 10


class _Tenant:
    def __init__(self, name: str, path: Path, mtime: float, config: Any, store: Any, inbox: WebhookInbox):
        self.name, self.path, self.mtime, self.config, self.store, self.inbox = name, path, mtime, config, store, inbox

    def close(self) -> None:
        self.inbox.close()
        self.store.close()


class TenantWebhooks:
    """The webhook receiver and inbox reader of every tenant of one registry.

    ``send(config_path, task, orders)`` sends one task run to the workers (``orders``: the delivery's orders as
    JSON, or None)."""

    def __init__(self, registry: Any, manager: Any, send: Callable[[str, str, Optional[list[dict]]], Any], *,
                 host: str = "127.0.0.1", port: int = 8787, tick: float = 1.0, refresh: float = 2.0,
                 connector_options: Optional[dict[str, Any]] = None):
        self.registry, self.manager, self.send = registry, manager, send
        self.tick, self.refresh = tick, refresh
        self.connector_options = connector_options or {}
        self.tenants: dict[str, _Tenant] = {}
        self._registered: dict[str, str] = {}
        self._listed_at = float("-inf")
        self._lock = threading.RLock()
        self._retired: list[_Tenant] = []
        self.counts = {"accepted": 0, "rejected": 0, "unknown_tenant": 0}
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self._turn = 0
        self._thread: Optional[threading.Thread] = None
        self.http = WebhookHTTP(self.receive, self.health, host=host, port=port, tenants=True)
        self.host, self.port = host, port

    # -- tenants ---------------------------------------------------------------------------------
    def _list(self, force: bool = False) -> dict[str, str]:
        """Registered tenants (name -> config path), read again at most every ``refresh`` seconds."""
        with self._lock:
            if force or time.monotonic() - self._listed_at >= self.refresh:
                self._registered = {t["name"]: t["config"] for t in self.registry.list()}
                self._listed_at = time.monotonic()
            return self._registered

    def _open(self, name: str) -> Optional[_Tenant]:
        """The tenant's inbox (opened now if needed, again if its config changed); None when not registered.
        Raises ConfigurationError when its config does not load."""
        with self._lock:
            path = self._list().get(name)
            if path is None and name not in self.tenants:
                path = self._list(force=time.monotonic() - self._listed_at >= min(self.refresh, 1.0)).get(name)
            if path is None:
                return None
            path = Path(path)
            try:
                mtime = path.stat().st_mtime
            except OSError as exc:
                raise ConfigurationError(f"tenant {name}: its config {path} cannot be read ({exc.strerror})") from None
            known = self.tenants.get(name)
            if known is not None and known.path == path and known.mtime == mtime:
                return known
            config = load_config(path)
            store = open_store(config)

            def enqueue(task: str, reason: str, orders: Any = None, _path: str = str(config.path)) -> bool:
                payload = [o.model_dump(mode="json") for o in orders] if orders is not None else None
                self.send(_path, task, payload)
                log.info("tenant %s: task %s sent (%s)", name, task, reason)
                return True

            inbox = WebhookInbox(config, self.manager, store, enqueue, connector_options=self.connector_options,
                                 label=name)
            inbox.wake = self.wake  # one reader thread for every tenant
            self.tenants[name] = _Tenant(name, path, mtime, config, store, inbox)
            if known is not None:
                self._retired.append(known)  # closed by the reader once no request can be using it
            return self.tenants[name]

    # -- HTTP ------------------------------------------------------------------------------------
    def receive(self, tenant: str, connection: str, secret: Optional[str], headers: dict[str, str],
                body: bytes) -> tuple[int, bytes]:
        try:
            opened = self._open(tenant)
        except ConnexError as exc:
            log.error("webhook for tenant %s not taken: %s", tenant, exc)
            return 503, b'{"error": "this tenant cannot take webhooks now"}'
        if opened is None:
            self.counts["unknown_tenant"] += 1
            log.warning("webhook for unknown tenant %r refused", tenant[:64])
            return 404, b'{"error": "unknown tenant"}'
        status, reply = opened.inbox.receive(connection, secret, headers, body)
        if status == 200:
            self.counts["accepted"] += 1
        elif status == 401:
            self.counts["rejected"] += 1
        return status, reply

    def health(self) -> dict:
        with self._lock:
            inbox = {name: t.store.inbox_counts() for name, t in self.tenants.items()}
        return {"ok": True, "tenants": len(self._registered), "webhooks": dict(self.counts), "inbox": inbox}

    # -- reading ---------------------------------------------------------------------------------
    def drain(self) -> int:
        """One pass over every open tenant's inbox, a few deliveries each; returns how many were finished with."""
        with self._lock:
            retired, self._retired = self._retired, []
            opened = sorted(self.tenants.values(), key=lambda t: t.name)
        for old in retired:
            old.close()
        if not opened:
            return 0
        start = self._turn % len(opened)
        self._turn += 1
        done = 0
        for tenant in opened[start:] + opened[:start]:
            if self.stopping.is_set():
                break
            try:
                done += tenant.inbox.drain(self.stopping, limit=PER_TURN)
            except Exception:  # this tenant's database went away for a moment: the others go on
                log.exception("tenant %s: the webhook inbox could not be read; trying again", tenant.name)
        return done

    def wait_read(self, tenant: str, n: int, timeout: float = 10.0) -> bool:
        """Block until ``n`` deliveries of ``tenant`` have been finished with (for tests and tools)."""
        deadline = time.monotonic() + timeout
        while tenant not in self.tenants:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return self.tenants[tenant].inbox.wait_read(n, max(0.0, deadline - time.monotonic()))

    def _loop(self) -> None:
        for name in list(self._list(force=True)):  # deliveries kept before a restart are read now
            try:
                self._open(name)
            except ConnexError as exc:
                log.error("tenant %s: webhooks not taken until its config loads: %s", name, exc)
        while not self.stopping.is_set():
            if self.drain() == 0:
                self.wake.wait(self.tick)
                self.wake.clear()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "TenantWebhooks":
        self.http.start()
        self.port = self.http.port
        self._thread = threading.Thread(target=self._loop, name="connex-tenant-inbox", daemon=True)
        self._thread.start()
        log.info("serving webhooks on http://%s:%s/webhooks/<tenant>/<connection>", self.host, self.port)
        return self

    def stop(self, timeout: float = 60.0) -> None:
        self.stopping.set()
        self.wake.set()
        self.http.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            for tenant in list(self.tenants.values()) + self._retired:
                tenant.close()
            self.tenants.clear()
            self._retired = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
