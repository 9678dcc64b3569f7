"""Fixtures of the QuickBooks plugin's tests: the simulator on loopback and connectors pointed at it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from connex_core.connector import ConnectorContext
from connex_core.sandbox import SandboxServer, SimClock
from connex_core.tokens import TokenStore
from connex_quickbooks.connector import QuickBooksConnector, QuickBooksSettings
from connex_quickbooks.sim.simulator import QuickBooksSimulator

FIXTURES = Path(__file__).parent / "fixtures"


def _load(name: str) -> Any:
    text = (FIXTURES / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


@pytest.fixture
def load_fixture() -> Callable[[str], Any]:
    """``load_fixture(name)``: a real payload from ``tests/fixtures`` (parsed JSON, or text)."""
    return _load


def _raw_client(sim: QuickBooksSimulator) -> Callable[..., requests.Response]:
    cfg = sim.client_config()
    token = requests.post(cfg["token_url"], auth=(cfg["client_id"], cfg["client_secret"]),
                          data={"grant_type": "refresh_token", "refresh_token": cfg["refresh_token"]}, timeout=5).json()
    base = f"{cfg['base_url']}/v3/company/{cfg['realm_id']}"

    def call(method: str, path: str, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}
        headers.update(kw.pop("headers", {}))
        return requests.request(method, f"{base}/{path}", headers=headers, timeout=5, **kw)

    return call


@pytest.fixture
def client_for() -> Callable[[QuickBooksSimulator], Callable[..., requests.Response]]:
    """``client_for(sim)``: a tiny raw HTTP client ``api(method, path, **kw)`` with a fresh bearer token."""
    return _raw_client


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
