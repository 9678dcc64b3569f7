"""``connex serve --tenants``: one scheduler for every tenant of a deployment, sending task runs to the workers.

Each tick it walks the tenants in turn (a different one first each time, so no tenant is always last) and
sends every task that is due as one message to the ``[broker]``; ``connex worker`` processes run them.
A tenant whose config no longer loads is logged and passed by; the others go on. Each task is sent once per
its ``every_minutes``; a run still going when the next one is due finds the task's lease held, and its message
is retried with backoff by the broker rather than run twice.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from .config import Config, load_config
from .errors import ConfigurationError

log = logging.getLogger("connex.scheduler")


class TenantScheduler:
    def __init__(self, config: Config, *, jobs: Any, registry: Any, tick: float = 1.0, refresh: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.config, self.jobs, self.registry = config, jobs, registry
        self.tick, self.refresh, self.clock = tick, refresh, clock
        self.stopping = threading.Event()
        self.sent: list[tuple[str, str]] = []
        """(tenant, task) of every message sent, in order."""
        self._tenants: list[dict[str, Any]] = []
        self._configs: dict[str, tuple[float, Config]] = {}
        self._next: dict[tuple[str, str], float] = {}
        self._loaded_at = float("-inf")
        self._turn = 0

    def _tenant_config(self, tenant: dict[str, Any]) -> Optional[Config]:
        path = Path(tenant["config"])
        try:
            mtime = path.stat().st_mtime
            cached = self._configs.get(tenant["name"])
            if cached is None or cached[0] != mtime:
                self._configs[tenant["name"]] = (mtime, load_config(path))
            return self._configs[tenant["name"]][1]
        except (OSError, ConfigurationError) as exc:
            log.error("tenant %s: config not loaded, its tasks wait: %s", tenant["name"], exc)
            return None

    def step(self) -> int:
        """One tick: send the due tasks of every tenant. Returns how many messages were sent."""
        now = self.clock()
        if now - self._loaded_at >= self.refresh:
            self._tenants, self._loaded_at = self.registry.list(), now
        if not self._tenants:
            return 0
        sent = 0
        start = self._turn % len(self._tenants)
        self._turn += 1
        for tenant in self._tenants[start:] + self._tenants[:start]:
            cfg = self._tenant_config(tenant)
            if cfg is None:
                continue
            tasks = sorted((n for n, t in cfg.tasks.items() if t.enabled), key=lambda n: cfg.tasks[n].kind == "tracking")
            for name in tasks:
                key = (tenant["name"], name)
                if now < self._next.get(key, float("-inf")):
                    continue
                self._next[key] = now + cfg.tasks[name].every_minutes * 60
                self.jobs.send(str(cfg.path), name)
                self.sent.append(key)
                sent += 1
        return sent

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.step()
            except Exception:  # the registry's database went away for a moment: try again next tick
                log.exception("scheduling failed; trying again")
            self.stopping.wait(self.tick)
