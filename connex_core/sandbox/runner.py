"""Starting every registered simulator on one loopback server, and writing a config that points at it.

The config's tasks are the flows the plugins contribute to the demo (:mod:`.flows`); which connection
settings are secrets comes from each connector's settings model (its ``SecretStr`` fields).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, Iterable, Optional

from ..plugins import PluginManager, get_manager
from ..secrets import secret_fields
from ..tokens import write_private
from . import SandboxServer, SimClock
from .flows import default_rules_dir, demo_plan



def build_sandbox(manager: PluginManager, *, clock: Optional[SimClock] = None, seed: int = 1, port: int = 0,
                  extra: Optional[dict[str, str]] = None, accounts: int = 1) -> SandboxServer:
    """Every registered simulator on one loopback server. ``extra`` mounts more instances: {mount: simulator name}.

    ``accounts`` > 1: that many independent simulated accounts (many sellers), each with every simulator under
    ``a<N>-<name>`` (``/a2-shipstation``), its own credentials (:meth:`SimulatedService.account_credentials`),
    data (its own seed) and rate limits."""
    clock = clock or SimClock()
    if accounts > 1:
        services = {}
        for n in range(1, accounts + 1):
            for name, factory in sorted(manager.sandboxes.items()):
                creds = getattr(factory, "account_credentials", lambda n: {})(n)
                services[f"a{n}-{name}"] = factory(clock=clock, seed=seed + 1000 * n, **creds)
        return SandboxServer(services, port=port)
    services = {name: factory(clock=clock, seed=seed) for name, factory in sorted(manager.sandboxes.items())}
    for mount, name in (extra or {}).items():
        if name in manager.sandboxes:
            services[mount] = manager.sandboxes[name](clock=clock, seed=seed + 1)
    return SandboxServer(services, port=port)


class AccountView:
    """One simulated account of a many-account sandbox, seen as a sandbox of its own (plain service names), so
    :func:`write_config` writes that account's config."""

    def __init__(self, server: SandboxServer, n: int):
        prefix = f"a{n}-"
        self.services = {mount[len(prefix):]: s for mount, s in server.services.items() if mount.startswith(prefix)}


def account_count(server: SandboxServer) -> int:
    return len({mount.split("-", 1)[0] for mount in server.services if re.match(r"^a\d+-", mount)})


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


def _secret_keys(manager: PluginManager, connector: str) -> Optional[set[str]]:
    """The secret settings of a connector (its model's SecretStr fields); None when no connector has that name."""
    cls = manager.connectors.get(connector)
    return set(secret_fields(cls.settings_model)) if cls is not None else None


def reference_secrets(values: dict[str, Any], secrets: Optional[Iterable[str]], secrets_dir: Path, config_dir: Path,
                      prefix: str) -> dict[str, Any]:
    """A connection table made of ``values``, each secret written to the 0600 file ``secrets_dir/PREFIX.KEY``
    and referenced as ``{ file = ... }`` (relative to ``config_dir`` when it can be); None values dropped.

    ``secrets``: the secret keys (a settings model's ``secret_fields``); None: every key but ``type`` and
    ``base_url`` is treated as one, to be safe.
    """
    keys = set(secrets) if secrets is not None else None
    table: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if (key in keys) if keys is not None else key not in ("type", "base_url"):
            path = secrets_dir / f"{prefix}.{key}"
            write_private(path, str(value).encode())
            try:
                ref = str(path.relative_to(config_dir))
            except ValueError:
                ref = str(path)
            table[key] = {"file": ref}
        else:
            table[key] = value
    return table


def connection_tables(server: SandboxServer, secrets_dir: Path, config_dir: Path,
                      manager: Optional[PluginManager] = None) -> dict[str, dict[str, Any]]:
    """One connection per mounted service, secrets in 0600 files referenced with ``{ file = ... }``.

    A secret is a setting its connector's settings model types ``SecretStr``; for a simulator without a
    connector of its name, every value but the base URL is kept out of the config, to be safe.
    """
    manager = manager or get_manager()
    tables: dict[str, dict[str, Any]] = {}
    for mount, service in server.services.items():
        secrets = _secret_keys(manager, service.name)
        tables[mount] = {"type": service.name,
                         **reference_secrets(service.client_config(), secrets, secrets_dir, config_dir, mount)}
    return tables


def standard_tasks(manager: Optional[PluginManager] = None) -> list[tuple[str, dict[str, Any]]]:
    """The flows the installed plugins contribute (``register_demo``), as ``(name, table)`` pairs."""
    return demo_plan(manager or get_manager()).tables()


def write_config(server: SandboxServer, path: Path, *, tasks: Optional[list[tuple[str, dict[str, Any]]]] = None,
                 state: str = "connex.db", manager: Optional[PluginManager] = None) -> Path:
    """Write a config whose connections point at the sandbox, with the plugins' demo flows as tasks, and the
    same flows on every other API version a plugin declares (``DemoPart.variants``); a task is left out when one
    of its connections has no simulator (its plugin is not installed or is disabled)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    manager = manager or get_manager()
    connections = connection_tables(server, path.parent / f"{path.stem}.secrets", path.parent, manager)
    lines = ["# Written by `connex sandbox --write-config`: connections to the simulated APIs on loopback.",
             "# Secrets are in the files referenced below (mode 0600), never inline.", "",
             "[state]", f"path = {_toml_value(state)}", ""]
    for name, table in connections.items():
        lines.append(f"[connections.{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
        lines.append("")
    if tasks is None:
        plan = demo_plan(manager)
        tasks = plan.tables() + plan.all_variant_tables()
    for name, task in tasks:
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
    defaults = default_rules_dir()
    for relative in rules:
        wanted, default = folder / relative, (defaults / Path(relative).name) if defaults else None
        if not wanted.exists() and default is not None and default.is_file():
            wanted.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(default, wanted)
