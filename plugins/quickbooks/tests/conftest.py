"""Fixtures of the QuickBooks plugin's tests: the simulator on loopback and connectors pointed at it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from connex_core.connector import ConnectorContext
from connex_core.sandbox import SimClock
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


@pytest.fixture
def sim(clock, serve) -> QuickBooksSimulator:
    simulator = QuickBooksSimulator(clock=clock)
    serve(simulator)
    return simulator


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
