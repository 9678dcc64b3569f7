"""``connex connect``: store credentials / run the OAuth flow for a connection."""

from __future__ import annotations

from typing import Annotated

import typer

from ..engine import SyncEngine
from ..plugins import get_manager
from ..state.factory import open_store
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
    store = open_store(cfg)
    engine = SyncEngine(cfg, get_manager(), store)
    try:
        connector = engine.connector(name)
        aside = connector.ctx.tokens.set_aside_if_damaged() if connector.ctx.tokens is not None else None
        if aside is not None:
            err(f"the damaged token file was set aside as {aside}")
        result = connector.connect(port=port, echo=err, input_fn=lambda prompt: typer.prompt(prompt, err=True))
    finally:
        engine.close()
        store.close()
    emit(result)
