"""The plugin manager: discovery, the registry, disabling, validation."""

from __future__ import annotations

import types

import pytest

from connex_core import hookimpl
from connex_core.connector import Capability, Connector
from connex_core.errors import PluginError
from connex_core.plugins import PluginManager
from tests.support import memory_plugin


def test_connectors_are_dispatched_by_name(manager):
    assert manager.connector("memory") is memory_plugin.MemoryConnector


def test_unknown_connector_names_what_is_installed(manager):
    with pytest.raises(PluginError, match=r"no connector named 'shopify' \(installed: memory\)"):
        manager.connector("shopify")


def test_a_duplicate_connector_name_is_an_error_naming_both_plugins(manager):
    class Other(Connector):
        name = "memory"

    dup = types.SimpleNamespace(register_connectors=hookimpl(lambda register: register(Other)))
    manager.register(dup, name="other-plugin")
    with pytest.raises(PluginError, match="registered twice: by plugin 'memory' and by plugin 'other-plugin'"):
        manager.connectors


def test_a_plugin_with_a_misspelt_hook_is_refused_at_load_with_a_plugin_error():
    """Connex's load() checks every registered plugin (as it does for installed ones) and says what is wrong."""
    typo = types.SimpleNamespace(register_conectors=hookimpl(lambda register: None))
    m = PluginManager(load_entrypoints=False)
    m.pm.register(typo, name="typo")  # as an installed plugin would be, before Connex loads
    with pytest.raises(PluginError, match="a plugin implements a hook Connex does not have: .*register_conectors"):
        m.load()


def test_the_installed_plugins_are_found_through_entry_points():
    m = PluginManager().load()
    assert {"shipstation", "quickbooks", "xero"} <= set(m.connectors)
    described = {p["name"]: p for p in m.describe()}
    for name in ("shipstation", "quickbooks", "xero"):
        assert described[name]["distribution"] == f"connex-{name}"
        assert described[name]["version"]
        assert "register_connectors" in described[name]["hooks"]


def test_a_plugin_can_be_disabled_by_name(monkeypatch):
    monkeypatch.setenv("CONNEX_DISABLE_PLUGINS", "xero, quickbooks")
    m = PluginManager().load()
    assert "xero" not in m.connectors and "quickbooks" not in m.connectors
    assert "shipstation" in m.connectors


def test_only_named_plugins_load_when_asked(monkeypatch):
    monkeypatch.setenv("CONNEX_LOAD_PLUGINS", "shipstation")
    m = PluginManager().load()
    assert set(m.connectors) == {"shipstation"}


def test_capabilities_and_settings_are_declared(manager):
    info = memory_plugin.MemoryConnector.describe()
    assert set(info["capabilities"]) == {c.value for c in Capability}
    assert "space" in info["settings"]


def test_rule_extensions_are_registered_with_their_plugin(manager):
    functions = manager.rule_functions
    assert functions["lower"].plugin == "connex_core.builtin"
    assert functions["lower"].function("ABC") == "abc"

    dup = types.SimpleNamespace(register_rule_functions=hookimpl(
        lambda register: register("lower", str.lower, params=[("text", str)], returns=str)))
    manager.register(dup, name="dup-functions")
    with pytest.raises(PluginError, match="'lower' is registered twice"):
        manager.rule_functions
