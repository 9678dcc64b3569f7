"""``connex plugins``: what is installed."""

from __future__ import annotations

from typing import Annotated

import typer

from ..plugins import get_manager
from .common import JsonOption, emit, emit_json, handle_errors

app = typer.Typer(no_args_is_help=True, help="Installed plugins and their connectors.")


@app.command("list")
@handle_errors
def list_plugins(
    json_out: JsonOption = False,
    all_: Annotated[bool, typer.Option("--all", help="Include Connex's own built-in plugins.")] = False,
) -> None:
    """List plugins: name, version, distribution, connectors, hooks."""
    manager = get_manager()
    plugins = manager.describe(include_builtins=all_)
    connectors = {name: cls.describe() for name, cls in manager.connectors.items()}
    for p in plugins:
        p["connector_details"] = [connectors[c] for c in p["connectors"]]
    if json_out:
        emit_json(plugins)
        return
    if not plugins:
        emit("no plugins installed")
        return
    for p in plugins:
        emit(f"{p['name']} {p['version'] or ''}  ({p['distribution'] or 'built-in'})")
        for c in p["connector_details"]:
            emit(f"  connector {c['name']}: {', '.join(c['capabilities']) or 'no capabilities'}")
        emit(f"  hooks: {', '.join(p['hooks'])}")
