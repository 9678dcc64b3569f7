"""Fixtures of the ShipStation plugin's tests: the real payloads, a test clock, the simulator on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from connex_core.connector import ConnectorContext
from connex_core.sandbox import SandboxServer
from connex_shipstation.connector import ShipStationConnector, ShipStationSettings
from connex_shipstation.sim.simulator import ShipStationSimulator

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> Any:
    """A real ShipStation payload from tests/fixtures (sources in tests/fixtures/README.md)."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class StepClock:
    """A test clock: ``sleep`` advances ``now`` at once and is recorded, so waits are asserted, not waited."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += max(0.0, seconds)


@pytest.fixture
def fixture_json() -> Callable[[str], Any]:
    return load_fixture


@pytest.fixture
def step_clock() -> StepClock:
    return StepClock()


@pytest.fixture(scope="module")
def sandbox_server() -> Iterator[SandboxServer]:
    """One loopback server per test module (stopping one takes half a second: its poll interval)."""
    server = SandboxServer({"shipstation": ShipStationSimulator()}).start()
    yield server
    server.stop()


@pytest.fixture
def simulator(sim_clock, sandbox_server) -> ShipStationSimulator:
    """A fresh simulator for each test, on the sped-up test clock, mounted at /shipstation on loopback."""
    sim = ShipStationSimulator(clock=sim_clock, seed=7)
    sandbox_server.services["shipstation"] = sim
    sim.base_url = sandbox_server.url("shipstation")
    return sim


@pytest.fixture
def connector_for(tmp_path) -> Callable[..., ShipStationConnector]:
    """``connector_for(simulator, **settings)``: a connector pointed at a served simulator, on its clock."""

    def build(sim: ShipStationSimulator, *, dry_run: bool = False, **overrides: Any) -> ShipStationConnector:
        settings = ShipStationSettings(**{**sim.client_config(), "timeout": 5.0, **overrides})
        ctx = ConnectorContext(connection="shipstation", state_dir=tmp_path, dry_run=dry_run,
                               options={"clock": sim.clock})
        return ShipStationConnector(settings, ctx)

    return build
