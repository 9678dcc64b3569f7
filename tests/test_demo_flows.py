"""The demo's flows come from the plugins (``register_demo``), and the sandbox's config writer finds secrets
in the settings models: the core names neither tasks nor secret keys."""

from __future__ import annotations

import sys

import pytest
from pydantic import SecretStr

from connex_core import hookimpl
from connex_core.connector import Connector, ConnectorSettings
from connex_core.plugins import PluginManager
from connex_core.sandbox import SandboxServer, SimClock, SimulatedService
from connex_core.sandbox.flows import DemoPart, DemoTask, demo_plan
from connex_core.sandbox.runner import build_sandbox, standard_tasks, write_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: The flows `connex demo` ran and `connex sandbox --write-config` wrote before the plugins contributed them
#: (the core's former STANDARD_TASKS and FIRST/AFTER_SHIPPING lists, copied here to pin the behaviour).
ORDERS_RULES = ["rules/shipstation-to-quickbooks.rules", "rules/only-orders-from-shipstation.rules"]
FORMER_TASKS = [
    ("shipstation-to-quickbooks", {"source": "shipstation", "target": "quickbooks", "kind": "orders",
                                   "rules": ORDERS_RULES, "source_options": {"status": "shipped"},
                                   "target_options": {"document": "invoice", "customer_match": "email",
                                                      "create_customers": True, "unknown_items": "create_non_inventory"}}),
    ("daily-summary", {"source": "shipstation", "target": "quickbooks-summary", "kind": "daily_summary",
                       "rules": ORDERS_RULES,
                       "target_options": {"summary_date": "created", "fixed_customer": "Daily Sales",
                                          "customer_match": "fixed", "create_customers": True,
                                          "unknown_items": "create_non_inventory"}}),
    ("quickbooks-to-shipstation", {"source": "quickbooks", "target": "shipstation", "kind": "orders"}),
    ("tracking-to-quickbooks", {"source": "shipstation", "target": "quickbooks", "kind": "tracking"}),
    ("xero-to-shipstation", {"source": "xero", "target": "shipstation", "kind": "orders",
                             "rules": ["rules/xero-to-shipstation.rules"]}),
    ("tracking-to-xero", {"source": "shipstation", "target": "xero", "kind": "tracking"}),
    ("shipstation-to-xero", {"source": "shipstation", "target": "xero", "kind": "orders", "rules": ORDERS_RULES}),
]
FORMER_FIRST = ["shipstation-to-quickbooks", "daily-summary", "quickbooks-to-shipstation", "xero-to-shipstation",
                "shipstation-to-xero"]
FORMER_AFTER_SHIPPING = ["tracking-to-quickbooks", "tracking-to-xero"]


@pytest.fixture(scope="module")
def installed():
    return PluginManager().load()


def test_the_installed_plugins_contribute_the_flows_the_core_used_to_hard_code(installed):
    plan = demo_plan(installed)
    assert plan.tables() == FORMER_TASKS
    assert standard_tasks(installed) == FORMER_TASKS
    assert plan.stage("documents") == FORMER_FIRST
    assert plan.stage("write_back") == FORMER_AFTER_SHIPPING
    assert plan.order == FORMER_FIRST + FORMER_AFTER_SHIPPING
    assert plan.mounts == {"quickbooks-summary": "quickbooks"}
    assert plan.titles == ["QuickBooks Online", "ShipStation", "Xero"]


def test_a_disabled_plugin_takes_its_flows_with_it(monkeypatch):
    monkeypatch.setenv("CONNEX_DISABLE_PLUGINS", "xero")
    plan = demo_plan(PluginManager().load())
    assert [name for name, _ in plan.tables()] == [n for n, t in FORMER_TASKS if "xero" not in (t["source"], t["target"])]
    assert "Xero" not in plan.titles


# -- a plugin of its own, to show the core assembles whatever is registered ----------------------------------------

class VaultSettings(ConnectorSettings):
    type: str = "vault"
    base_url: str = ""
    passphrase: SecretStr
    region: str = "eu"


class VaultConnector(Connector):
    name = "vault"
    settings_model = VaultSettings


class VaultSim(SimulatedService):
    name = "vault"

    def client_config(self):
        return {"base_url": self.base_url, "passphrase": "open-sesame-42", "region": "eu-west"}


class VaultPlugin:
    @hookimpl
    def register_connectors(self, register):
        register(VaultConnector)

    @hookimpl
    def register_sandbox(self, register):
        register("vault", VaultSim)

    @hookimpl
    def register_demo(self, register):
        register("vault", DemoPart(title="Vault", mounts={"vault-2": "vault"}, tasks=(
            DemoTask("vault-back", {"source": "vault-2", "target": "vault", "kind": "tracking"}, stage="write_back"),
            DemoTask("vault-copy", {"source": "vault", "target": "vault-2"}),
            DemoTask("vault-elsewhere", {"source": "vault", "target": "nowhere"}),
        )))


def vault_manager() -> PluginManager:
    manager = PluginManager(load_entrypoints=False).load()
    manager.register(VaultPlugin(), name="vault")
    return manager


def test_a_new_plugin_is_assembled_in_stage_order(tmp_path):
    plan = demo_plan(vault_manager())
    assert plan.order == ["vault-copy", "vault-elsewhere", "vault-back"]
    assert plan.mounts == {"vault-2": "vault"} and plan.titles == ["Vault"]


def test_the_config_writer_finds_secrets_in_the_settings_model(tmp_path):
    manager = vault_manager()
    plan = demo_plan(manager)
    server = build_sandbox(manager, clock=SimClock(), extra=plan.mounts)
    path = write_config(server, tmp_path / "connex.toml", manager=manager)
    text = path.read_text()
    assert "open-sesame-42" not in text  # the SecretStr field went to a file...
    config = tomllib.loads(text)
    vault = config["connections"]["vault"]
    assert vault["passphrase"] == {"file": "connex.secrets/vault.passphrase"}
    assert (tmp_path / "connex.secrets" / "vault.passphrase").read_text() == "open-sesame-42"
    assert vault["region"] == "eu-west"  # ...and the others stay in the config
    # the tasks are the plugin's, a task whose connection has no simulator left out
    assert list(config["tasks"]) == ["vault-back", "vault-copy"]
    assert config["tasks"]["vault-copy"] == {"source": "vault", "target": "vault-2"}


def test_a_simulator_without_a_connector_keeps_every_value_but_its_url_out_of_the_config(tmp_path):
    manager = PluginManager(load_entrypoints=False).load()

    class Anon:
        @hookimpl
        def register_sandbox(self, register):
            register("anon", VaultSim)

    manager.register(Anon(), name="anon")
    server = SandboxServer({"anon": VaultSim(clock=SimClock())})
    text = write_config(server, tmp_path / "c.toml", tasks=[], manager=manager).read_text()
    table = tomllib.loads(text)["connections"]["anon"]
    assert table["base_url"].startswith("http://127.0.0.1:")
    assert table["passphrase"] == {"file": "c.secrets/anon.passphrase"}
    assert table["region"] == {"file": "c.secrets/anon.region"}
    server._server.server_close()


def test_a_bad_demo_registration_is_refused():
    manager = PluginManager(load_entrypoints=False).load()

    class Twice:
        @hookimpl
        def register_demo(self, register):
            register("a", DemoPart(title="A", tasks=(DemoTask("t", {"source": "x", "target": "y"}),)))
            register("b", DemoPart(title="B", tasks=(DemoTask("t", {"source": "y", "target": "x"}),)))

    manager.register(Twice(), name="twice")
    with pytest.raises(ValueError, match="demo task 't' is registered twice"):
        demo_plan(manager)
    with pytest.raises(ValueError, match="stage must be one of documents, write_back"):
        DemoTask("t", {"source": "x", "target": "y"}, stage="later")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="its table needs target"):
        DemoTask("t", {"source": "x"})
