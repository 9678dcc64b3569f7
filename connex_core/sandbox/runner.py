"""Starting every registered simulator on one loopback server, and writing a config that points at it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Optional

from ..plugins import PluginManager
from ..tokens import write_private
from . import SandboxServer, SimClock

#: Settings whose values are secrets: written to files beside the config and referenced, never inline.
SECRET_KEYS = ("api_key", "api_secret", "client_secret", "refresh_token", "webhook_secret", "webhook_key",
               "verifier_token")

#: The flows of DESIGN as tasks, between the standard connectors; a task is left out when one of its
#: connections has no simulator (its plugin is not installed or is disabled).
STANDARD_TASKS: list[tuple[str, dict[str, Any]]] = [
    ("shipstation-to-quickbooks", {"source": "shipstation", "target": "quickbooks", "kind": "orders",
                                   "rules": ["rules/shipstation-to-quickbooks.rules",
                                             "rules/only-orders-from-shipstation.rules"],
                                   "source_options": {"status": "shipped"},
                                   "target_options": {"document": "invoice", "customer_match": "email",
                                                      "create_customers": True, "unknown_items": "create_non_inventory"}}),
    ("daily-summary", {"source": "shipstation", "target": "quickbooks-summary", "kind": "daily_summary",
                       "rules": ["rules/shipstation-to-quickbooks.rules", "rules/only-orders-from-shipstation.rules"],
                       "target_options": {"summary_date": "created", "fixed_customer": "Daily Sales",
                                          "customer_match": "fixed", "create_customers": True,
                                          "unknown_items": "create_non_inventory"}}),
    ("quickbooks-to-shipstation", {"source": "quickbooks", "target": "shipstation", "kind": "orders"}),
    ("tracking-to-quickbooks", {"source": "shipstation", "target": "quickbooks", "kind": "tracking"}),
    ("xero-to-shipstation", {"source": "xero", "target": "shipstation", "kind": "orders",
                             "rules": ["rules/xero-to-shipstation.rules"]}),
    ("tracking-to-xero", {"source": "shipstation", "target": "xero", "kind": "tracking"}),
    ("shipstation-to-xero", {"source": "shipstation", "target": "xero", "kind": "orders",
                             # the ShipStation order rules (split parts, paid/unpaid) serve any target
                             "rules": ["rules/shipstation-to-quickbooks.rules",
                                       "rules/only-orders-from-shipstation.rules"]}),
]

#: The ShipStation flows again on ShipStation's API v2 (the sandbox's ``shipstation-v2`` connection), beside the
#: v1 ones: ``shipstation-v2-to-quickbooks``, ``tracking-to-quickbooks-v2``, ``daily-summary-v2``, ...
V2_NAMES: dict[str, str] = {
    name: name.replace("shipstation", "shipstation-v2") if "shipstation" in name else f"{name}-v2"
    for name, task in STANDARD_TASKS if "shipstation" in (task["source"], task["target"])}
V2_TASKS: list[tuple[str, dict[str, Any]]] = [
    (V2_NAMES[name], dict(task, **{end: "shipstation-v2" for end in ("source", "target") if task[end] == "shipstation"}))
    for name, task in STANDARD_TASKS if name in V2_NAMES]


def build_sandbox(manager: PluginManager, *, clock: Optional[SimClock] = None, seed: int = 1, port: int = 0,
                  extra: Optional[dict[str, str]] = None) -> SandboxServer:
    """Every registered simulator on one loopback server. ``extra`` mounts more instances: {mount: simulator name}."""
    clock = clock or SimClock()
    services = {name: factory(clock=clock, seed=seed) for name, factory in sorted(manager.sandboxes.items())}
    for mount, name in (extra or {}).items():
        if name in manager.sandboxes:
            services[mount] = manager.sandboxes[name](clock=clock, seed=seed + 1)
    return SandboxServer(services, port=port)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def connection_tables(server: SandboxServer, secrets_dir: Path, config_dir: Path) -> dict[str, dict[str, Any]]:
    """One connection per mounted service, secrets in 0600 files referenced with ``{ file = ... }``."""
    tables: dict[str, dict[str, Any]] = {}
    for mount, service in server.services.items():
        table: dict[str, Any] = {"type": service.name}
        for key, value in service.client_config().items():
            if key in SECRET_KEYS and value is not None:
                path = secrets_dir / f"{mount}.{key}"
                write_private(path, str(value).encode())
                try:
                    ref = str(path.relative_to(config_dir))
                except ValueError:
                    ref = str(path)
                table[key] = {"file": ref}
            elif value is not None:
                table[key] = value
        tables[mount] = table
    return tables


def write_config(server: SandboxServer, path: Path, *, tasks: Optional[list[tuple[str, dict[str, Any]]]] = None,
                 state: str = "connex.db") -> Path:
    """Write a config whose connections point at the sandbox, with the standard flows (and their ShipStation
    API v2 twins, :data:`V2_TASKS`) as tasks."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    connections = connection_tables(server, path.parent / f"{path.stem}.secrets", path.parent)
    lines = ["# Written by `connex sandbox --write-config`: connections to the simulated APIs on loopback.",
             "# Secrets are in the files referenced below (mode 0600), never inline.", "",
             "[state]", f"path = {_toml_value(state)}", ""]
    for name, table in connections.items():
        lines.append(f"[connections.{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
        lines.append("")
    for name, task in (tasks if tasks is not None else STANDARD_TASKS + V2_TASKS):
        if task["source"] not in connections or task["target"] not in connections:
            continue
        lines.append(f"[tasks.{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in task.items()]
        lines.append("")
        copy_missing_rules(task.get("rules", []), path.parent)
    path.write_text("\n".join(lines))
    return path


def copy_missing_rules(rules: list[str], folder: Path) -> None:
    """Copy the default rule files a task names beside the config when they are not there yet, so that
    ``connex run`` works at once on a written config (and the user has the files to edit)."""
    from ..demo import default_rules_dir  # the demo's module imports this one

    defaults = default_rules_dir()
    for relative in rules:
        wanted, default = folder / relative, (defaults / Path(relative).name) if defaults else None
        if not wanted.exists() and default is not None and default.is_file():
            wanted.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(default, wanted)
