"""``connex plugins``: what is installed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

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


@app.command("new")
@handle_errors
def new_plugin(
    name: Annotated[str, typer.Argument(
        help="The connector's name (lower case): the config's type, package connex_NAME.")],
    path: Annotated[Optional[Path], typer.Option(
        "--path", help="Folder to write connex-NAME/ into (default: here).")] = None,
    oauth: Annotated[bool, typer.Option(
        "--oauth", help="Authenticate with OAuth 2 (authorization code, refresh).")] = False,
    webhooks: Annotated[bool, typer.Option(
        "--webhooks", help="Receive signed webhooks (verify_webhook, read_webhook).")] = False,
) -> None:
    """Write a new connector distribution: connector, simulator, contract tests, README, pyproject."""
    from ..scaffold import write

    folder = write(name, path or Path.cwd(), oauth=oauth, webhooks=webhooks)
    emit(f"wrote {folder}")
    emit(f"next: cd {folder} && pip install -e '.[test]' && pytest")
