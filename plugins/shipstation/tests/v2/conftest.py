"""Fixtures of the ShipStation API v2 tests: the documented payloads, a stepping clock, the v2 simulator on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from connex_core.connector import ConnectorContext
from connex_core.sandbox import SandboxServer, SimClock
from connex_shipstation.connector import ShipStationConnector, ShipStationSettings
from connex_shipstation.sim.v2 import ShipStationV2Simulator

FIXTURES = Path(__file__).parent.parent / "fixtures" / "v2"
BASE = "https://api.shipstation.com/v2"


def load_v2(name: str) -> Any:
    """A documented v2 payload from tests/fixtures/v2 (sources in its README.md)."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class StepClock:
    """``sleep`` advances ``now`` at once and is recorded: waits are asserted, not waited."""

    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += max(0.0, seconds)


@pytest.fixture
def v2_json() -> Callable[[str], Any]:
    return load_v2


@pytest.fixture
def step_clock() -> StepClock:
    return StepClock()


@pytest.fixture(scope="module")
def v2_server() -> Iterator[SandboxServer]:
    server = SandboxServer({"shipstation-v2": ShipStationV2Simulator()}).start()
    yield server
    server.stop()


@pytest.fixture
def v2_sim(sim_clock, v2_server) -> ShipStationV2Simulator:
    """A fresh v2 simulator per test, on the sped-up clock, at /shipstation-v2 on loopback."""
    sim = ShipStationV2Simulator(clock=sim_clock, seed=5)
    v2_server.services["shipstation-v2"] = sim
    sim.base_url = v2_server.url("shipstation-v2")
    return sim


@pytest.fixture
def v2_sim_realtime(v2_server) -> ShipStationV2Simulator:
    """A v2 simulator on a real-time clock: for webhook timestamps, which are checked against the clock."""
    sim = ShipStationV2Simulator(clock=SimClock(speed=1.0), seed=5)
    v2_server.services["shipstation-v2"] = sim
    sim.base_url = v2_server.url("shipstation-v2")
    return sim


@pytest.fixture
def v2_connector(tmp_path) -> Callable[..., ShipStationConnector]:
    """``v2_connector(sim, **settings)``: the registered ShipStation connector with ``api = "v2"``, on the sim's clock."""

    def build(sim: ShipStationV2Simulator, *, dry_run: bool = False, **overrides: Any):
        settings = ShipStationSettings.model_validate({**sim.client_config(), "timeout": 5.0, **overrides})
        ctx = ConnectorContext(connection="shipstation-v2", state_dir=tmp_path, dry_run=dry_run,
                               options={"clock": sim.clock})
        return ShipStationConnector(settings, ctx)

    return build
