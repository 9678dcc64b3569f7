"""What every benchmark needs: simulators on loopback, a config pointing at them, an engine, and call counts.

A :class:`Bench` starts the given simulators on one :class:`~connex_core.sandbox.SandboxServer`, writes a
config with the given tasks (secrets in 0600 files, as ``connex sandbox --write-config`` does), and builds a
:class:`~connex_core.engine.SyncEngine` whose connectors wait on the same sped-up
:class:`~connex_core.sandbox.SimClock` as the simulators. Nothing here times or asserts anything: the
benchmarks print ratios.

The seeding helpers put many realistic records into the simulators quickly, through their Python APIs
(no HTTP), with a bounded number of customers and SKUs so that look-ups can be shared between orders.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

from connex_core.config import load_config
from connex_core.engine import RunSummary, SyncEngine
from connex_core.plugins import PluginManager
from connex_core.sandbox import SandboxServer, SimClock, SimulatedService
from connex_core.sandbox.runner import write_config
from connex_core.state import SQLiteStore

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"

#: Calls that are not API economy: OAuth token grants and refreshes (one an hour of simulated time).
TOKEN_ROUTES = ("tokens/bearer", "connect/token", "/connections")

_MANAGER: Optional[PluginManager] = None


def manager() -> PluginManager:
    """The plugin manager with the installed plugins (loaded once per process)."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = PluginManager().load()
    return _MANAGER


def api_calls(service: SimulatedService) -> int:
    """Calls answered by ``service``, leaving out 429s and OAuth token traffic."""
    return sum(n for label, n in service.calls.items() if label != "429" and not any(t in label for t in TOKEN_ROUTES))


def calls_by_route(service: SimulatedService) -> Counter:
    return Counter({label: n for label, n in service.calls.items() if n})


class BenchClock(SimClock):
    """A :class:`SimClock` whose speed can change mid-benchmark without a jump in its time."""

    def set_speed(self, speed: float) -> None:
        with self._lock:
            now = self.now()
            self.speed = float(speed)
            self._offset += now - self.now()


class RemoteService:
    """A simulator served by another process (``connex sandbox --json``), known by its client config.

    Given to :class:`Bench` beside local simulators, it becomes a connection in the config without being
    served (or held) in this process.
    """

    def __init__(self, name: str, client_config: dict[str, Any]):
        self.name = name
        self._config = dict(client_config)

    def client_config(self) -> dict[str, Any]:
        return dict(self._config)


class Bench:
    """Simulators, config, state and engine for one benchmark run (a context manager; cleans up after)."""

    def __init__(self, services: dict[str, SimulatedService | RemoteService], tasks: list[tuple[str, dict[str, Any]]],
                 clock: SimClock, folder: Optional[Path] = None):
        self.clock = clock
        self.services = {k: v for k, v in services.items() if not isinstance(v, RemoteService)}
        self.remote = {k: v for k, v in services.items() if isinstance(v, RemoteService)}
        self.tasks = tasks
        self._tmp = None if folder else tempfile.TemporaryDirectory(prefix="connex-bench-")
        self.folder = Path(folder or self._tmp.name)
        self.server = SandboxServer(self.services)
        self.engine: Optional[SyncEngine] = None
        self.store: Optional[SQLiteStore] = None

    def __enter__(self) -> "Bench":
        self.server.start()
        served = SimpleNamespace(services={**self.server.services, **self.remote})  # what write_config reads
        path = write_config(served, self.folder / "connex.toml", tasks=self.tasks)
        self.config = load_config(path)
        self.store = SQLiteStore(self.config.state_path)
        self.engine = self.new_engine()
        return self

    def new_engine(self, *, dry_run: bool = False) -> SyncEngine:
        """A fresh engine (fresh connectors, so nothing cached in memory) on the same state and clock."""
        return SyncEngine(self.config, manager(), self.store, connector_options={"clock": self.clock},
                          now=self.clock.utcnow, dry_run=dry_run)

    def run(self, task: str) -> RunSummary:
        return self.engine.run_task(task)

    def reset_counts(self) -> None:
        for service in self.services.values():
            service.calls.clear()

    def __exit__(self, *exc: Any) -> None:
        if self.engine is not None:
            self.engine.close()
        if self.store is not None:
            self.store.close()
        self.server.stop()
        if self._tmp is not None:
            self._tmp.cleanup()


def rule_path(name: str) -> str:
    return str(RULES / name)


# -- seeding ------------------------------------------------------------------------------------------------
def seed_shipstation(sim, n: int, *, customers: int, skus: int, seed: int = 1) -> None:
    """``n`` generated ShipStation orders, their customers drawn from ``customers`` people and their
    products from ``skus`` SKUs (the generator's own mix of statuses, splits and shipments otherwise)."""
    sim.seed_orders(n)
    rng = random.Random(seed)
    people = [(f"Customer {i:05d}", f"customer{i:05d}@shop.test") for i in range(customers)]
    for order in sim.orders.values():
        name, email = people[rng.randrange(customers)]
        order["customerEmail"] = order["customerUsername"] = email
        order["billTo"]["name"] = order["shipTo"]["name"] = name
        for item in order["items"]:
            if not item.get("adjustment"):
                k = rng.randrange(skus)
                item["sku"], item["name"] = f"SKU-{k:04d}", f"Product {k:04d}"
    for record in sim.shipments + sim.fulfillments:
        record["customerEmail"] = sim.orders[record["orderId"]]["customerEmail"]


def ceil_div(a: int, b: int) -> int:
    return math.ceil(a / b) if a > 0 else 0
