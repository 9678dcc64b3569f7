"""Fixtures of the Xero plugin's tests: a simulator on loopback and connectors pointed at it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from connex_core.connector import ConnectorContext
from connex_core.sandbox import SandboxServer, SimClock, SteppedClock
from connex_core.tokens import TokenStore
from connex_xero import XeroConnector, XeroSettings, XeroSimulator

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def pytest_configure(config):
    config.addinivalue_line("markers", "stepped_clock: the test's clock moves only when the code waits on it")


@pytest.fixture
def clock(request) -> SimClock:
    """Simulated time, 1,000 times faster than real time (a 30-minute token lasts 1.8 s); a stepped clock
    for the tests marked ``stepped_clock`` (pacing)."""
    if request.node.get_closest_marker("stepped_clock"):
        return SteppedClock()
    return SimClock(speed=1000.0)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """One loopback server for the session (stopping one takes half a second); each test mounts its own simulator."""
    with SandboxServer({}) as server:
        yield server


@pytest.fixture
def mount(sandbox) -> Iterator[Callable[[XeroSimulator], XeroSimulator]]:
    """``mount(simulator)`` serves it at ``/xero`` on the session's loopback server, for this test."""

    def put(simulator: XeroSimulator) -> XeroSimulator:
        simulator.base_url = sandbox.url("xero")
        sandbox.services["xero"] = simulator
        return simulator

    yield put
    sandbox.services.pop("xero", None)


@pytest.fixture
def xero(mount, clock) -> XeroSimulator:
    """A fresh Xero simulator, served at ``/xero`` on the session's loopback server."""
    return mount(XeroSimulator(clock=clock, seed=7))


@pytest.fixture
def token_store(tmp_path) -> TokenStore:
    return TokenStore(tmp_path / "state", "xero")


@pytest.fixture
def make_xero(xero, clock, tmp_path, token_store) -> Callable[..., XeroConnector]:
    """``make_xero(dry_run=False, store=None, **settings)``: a connector on the simulator."""

    def make(dry_run: bool = False, store: TokenStore | None = None, **overrides: Any) -> XeroConnector:
        config = {"type": "xero", **xero.client_config(), **overrides}
        ctx = ConnectorContext(connection="xero", state_dir=tmp_path / "state", dry_run=dry_run,
                               tokens=store or token_store, options={"clock": clock})
        return XeroConnector(XeroSettings.model_validate(config), ctx)

    return make
