"""Isolation for the core's tests: no installed plugin leaks in unless a test asks for it, and
every config and state path is under the test's own temporary folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from connex_core.plugins import PluginManager, set_manager
from tests.support import memory_plugin


@pytest.fixture(autouse=True)
def _isolate(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONNEX_CONFIG", str(tmp_path / "connex.toml"))
    monkeypatch.delenv("CONNEX_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("CONNEX_LOAD_PLUGINS", raising=False)
    memory_plugin.SPACES.clear()
    yield
    set_manager(None)
    memory_plugin.SPACES.clear()


@pytest.fixture
def manager() -> PluginManager:
    """The process-wide manager with only the built-ins and the in-memory test connector."""
    m = PluginManager(load_entrypoints=False).load()
    m.register(memory_plugin, name="memory")
    set_manager(m)
    return m


@pytest.fixture
def write_config(tmp_path):
    def write(body: str, name: str = "connex.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(body))
        return path

    return write


@pytest.fixture
def memory_config(write_config):
    """A config with a memory source ("src") and a memory target ("dst") and one orders task."""
    return write_config("""
        [connections.src]
        type = "memory"
        space = "src"

        [connections.dst]
        type = "memory"
        space = "dst"

        [tasks.orders]
        source = "src"
        target = "dst"
        initial_days = 30
    """)
