"""``connex connect``: store credentials / run the OAuth flow for a connection."""

from __future__ import annotations

from typing import Annotated

import typer

from ..connections import Connections
from ..plugins import get_manager
from .common import ConfigOption, emit, err, handle_errors


@handle_errors
def connect(
    name: Annotated[str, typer.Argument(help="The connection's name in the config ([connections.NAME]).")],
    config: ConfigOption = None,
    port: Annotated[int, typer.Option(help="Loopback port for the OAuth redirect (0: any free port).")] = 0,
) -> None:
    """Connect a connection: runs the OAuth authorization-code flow (QuickBooks, Xero) and stores the tokens
    (mode 0600, next to the state file), or checks an API key (ShipStation)."""
    from .common import config_from

    cfg = config_from(config)
    with Connections(cfg, get_manager()) as connections:
        connector = connections.get(name)
        result = connector.connect(port=port, echo=err, input_fn=lambda prompt: typer.prompt(prompt, err=True))
    emit(result)
