"""``connex tenants``: the sellers one deployment serves (docs/scale.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..config import load_config
from ..errors import ConfigurationError, UsageError
from .common import ConfigOption, JsonOption, config_from, emit, emit_json, err, handle_errors

app = typer.Typer(no_args_is_help=True, help="Register the sellers (configs) one deployment serves.")


@app.command("add")
@handle_errors
def add(name: Annotated[str, typer.Argument(help="The tenant's name (letters, digits, . _ -).")],
        config: ConfigOption = None) -> None:
    """Register a tenant's config in the registry of its PostgreSQL state store."""
    from ..tenants import check_tenant, registry_for

    cfg = config_from(config)
    registry = registry_for(cfg)
    try:
        check_tenant(cfg, registry.list(), name)
        registry.add(name, cfg.path)
    finally:
        registry.close()
    err(f"tenant {name!r}: {cfg.path} ({len(cfg.tasks)} tasks)")


@app.command("remove")
@handle_errors
def remove(name: Annotated[str, typer.Argument(help="The tenant to forget (its state stays).")],
           config: ConfigOption = None) -> None:
    """Forget a tenant: no more runs are scheduled for it. Its state (ledger, log) is kept."""
    from ..tenants import registry_for

    registry = registry_for(config_from(config))
    try:
        if not registry.remove(name):
            raise UsageError(f"no tenant named {name!r}")
    finally:
        registry.close()
    err(f"tenant {name!r} removed")


@app.command("list")
@handle_errors
def list_(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """The registered tenants, with their configs and tasks (a config that no longer loads is shown so)."""
    from ..tenants import registry_for

    registry = registry_for(config_from(config))
    try:
        rows = registry.list()
    finally:
        registry.close()
    for row in rows:
        try:
            tenant_cfg = load_config(row["config"])
            row["tasks"], row["error"] = sorted(tenant_cfg.tasks), None
        except ConfigurationError as exc:
            row["tasks"], row["error"] = [], str(exc)
    if json_out:
        emit_json(rows)
        return
    for row in rows:
        emit(f"{row['name']}\t{row['config']}\t" + (f"error: {row['error']}" if row["error"] else
                                                    ", ".join(row["tasks"]) or "no tasks"))
