"""The pytest plugin of the connector authors' kit (registered as ``pytest11`` entry point ``connex``)."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from ..plugins import PluginManager
from ..sandbox import SandboxServer, SimClock, SimulatedService
from .factories import make_order


@pytest.fixture
def canonical_order() -> Callable[..., Any]:
    """``canonical_order(**overrides)`` builds a realistic canonical order."""
    return make_order


@pytest.fixture
def plugin_manager() -> PluginManager:
    """A plugin manager that loads no installed plugins: register the ones under test with ``.register()``."""
    return PluginManager(load_entrypoints=False).load()


@pytest.fixture
def sim_clock() -> SimClock:
    """A simulated clock 1,000 times faster than real time (a 60-second rate window passes in 60 ms)."""
    return SimClock(speed=1000.0)


@pytest.fixture
def serve() -> Iterator[Callable[..., SandboxServer]]:
    """``serve(service, ...)`` serves simulated services on loopback for the test; returns the server."""
    servers: list[SandboxServer] = []

    def start(*services: SimulatedService) -> SandboxServer:
        server = SandboxServer(list(services)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
