"""Fixtures of the QuickBooks plugin's tests: the simulator on loopback and connectors pointed at it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from connex_core.connector import ConnectorContext
from connex_core.sandbox import SandboxServer, SimClock
from connex_core.tokens import TokenStore
from connex_quickbooks.connector import QuickBooksConnector, QuickBooksSettings
from connex_quickbooks.simulator import QuickBooksSimulator

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> Any:
    text = (FIXTURES / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


@pytest.fixture
def clock() -> SimClock:
    """Simulated time 1,000 times faster than real: a 60-second throttle back-off takes 60 ms."""
    return SimClock(speed=1000.0)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """One loopback server for the session; each test mounts its own fresh simulator on it.

    (Starting and stopping a server per test costs half a second each: ``serve_forever`` polls
    for shutdown every 0.5 s.)
    """
    server = SandboxServer([QuickBooksSimulator()]).start()
    yield server
    server.stop()


@pytest.fixture
def mount(sandbox) -> Callable[[QuickBooksSimulator], QuickBooksSimulator]:
    """``mount(simulator)`` serves it at ``/quickbooks`` in place of the previous one."""

    def put(simulator: QuickBooksSimulator) -> QuickBooksSimulator:
        sandbox.services[simulator.name] = simulator
        simulator.base_url = sandbox.url(simulator.name)
        return simulator

    return put


@pytest.fixture
def sim(clock, mount) -> QuickBooksSimulator:
    return mount(QuickBooksSimulator(clock=clock))


@pytest.fixture
def make_connector(sim, clock, tmp_path) -> Callable[..., QuickBooksConnector]:
    """``make_connector(dry_run=False, bad_credentials=False, connection="quickbooks", **settings)``."""

    def make(dry_run: bool = False, bad_credentials: bool = False, connection: str = "quickbooks",
             **overrides: Any) -> QuickBooksConnector:
        config = sim.client_config()
        if bad_credentials:
            config["refresh_token"] = "revoked-refresh-token"
        config.update(overrides)
        settings = QuickBooksSettings(type="quickbooks", **config)
        ctx = ConnectorContext(connection=connection, state_dir=tmp_path, dry_run=dry_run,
                               tokens=TokenStore(tmp_path, connection), options={"clock": clock})
        return QuickBooksConnector(settings, ctx)

    return make
