"""``connex connect``: store credentials / run the OAuth flow for a connection."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..connections import Connections
from ..errors import ConfigurationError, UsageError
from ..plugins import get_manager
from .common import ConfigOption, emit, err, handle_errors


@handle_errors
def connect(
    name: Annotated[str, typer.Argument(help="The connection's name in the config ([connections.NAME]), or a "
                                             "connector type (shipstation) when one connection has it.")],
    config: ConfigOption = None,
    port: Annotated[int, typer.Option(help="Loopback port for the OAuth redirect (0: any free port).")] = 0,
    redirect_uri: Annotated[Optional[str], typer.Option("--redirect-uri", help="The redirect URI registered with "
                            "the app (default: the connection's redirect_uri setting). An https address: Connex "
                            "prints the authorize address and you paste back the address the browser lands on; "
                            "http://localhost:PORT/PATH or http://127.0.0.1:PORT/PATH: Connex listens on that port.")] = None,
    connection: Annotated[Optional[str], typer.Option("--connection", help="The connection to connect, when NAME "
                                                      "is a connector type.")] = None,
    via_serve: Annotated[bool, typer.Option("--via-serve", help="A running `connex serve` receives the sign-in at "
                         "its /oauth/NAME/callback: the redirect URI (--redirect-uri or the connection's redirect_uri) "
                         "is https://SERVE-HOST/oauth/NAME/callback. Connex prints the address to open and waits "
                         "until serve has stored the tokens.")] = False,
) -> None:
    """Connect a connection: runs the OAuth authorization-code flow (QuickBooks, Xero) and stores the tokens
    (mode 0600, next to the state file), or checks an API key (ShipStation: says which API version it belongs to)."""
    from .common import config_from

    cfg = config_from(config)
    name = _connection_named(cfg, name, connection)
    with Connections(cfg, get_manager()) as connections:
        connector = connections.get(name)
        aside = connector.ctx.tokens.set_aside_if_damaged() if connector.ctx.tokens is not None else None
        if aside is not None:
            err(f"the damaged token file was set aside as {aside}")
        if redirect_uri is not None and port:
            raise UsageError("give --redirect-uri or --port, not both (a loopback redirect URI names its port)")
        if via_serve:
            if port:
                raise UsageError("give --via-serve or --port, not both (serve receives the sign-in on its own port)")
            emit(_via_serve(cfg, name, connector, redirect_uri))
            return
        kwargs = {"redirect_uri": redirect_uri} if redirect_uri is not None else {}
        result = connector.connect(port=port, echo=err, input_fn=lambda prompt: typer.prompt(prompt, err=True),
                                   **kwargs)
    emit(result)


def _via_serve(cfg, name: str, connector, redirect_uri: Optional[str]) -> str:
    """Start a sign-in that ``connex serve`` finishes (:mod:`connex_core.oauth.callback`), wait for its outcome."""
    import time

    from ..errors import AuthenticationError
    from ..oauth.callback import PENDING_SECONDS, begin, outcome, redirect_uri_for
    from ..state.factory import open_store

    uri = redirect_uri or redirect_uri_for(cfg.connections.get(name, {}), name, None)
    store = open_store(cfg)
    try:
        started = begin(connector, store, name, uri, started_by="cli", now=time.time())
        err(f"Open this address in a browser and allow Connex to use the account; connex serve receives the "
            f"answer at {uri}:\n{started.url}")
        err(f"Waiting for connex serve (up to {int(PENDING_SECONDS // 60)} minutes) ...")
        deadline = time.monotonic() + PENDING_SECONDS  # a person is clicking: real time
        while time.monotonic() < deadline:
            row = outcome(store, started.digest) or {}
            if row.get("state") == "done":
                return str(row.get("message") or "connected")
            if row.get("state") == "failed":
                raise AuthenticationError(f"connex serve could not connect {name!r}: {row.get('message')}")
            time.sleep(0.5)
        raise AuthenticationError(f"no answer reached connex serve at {uri} within {int(PENDING_SECONDS)} s (is it "
                                  f"running there?); run `connex connect {name} --via-serve` again")
    finally:
        store.close()


def _connection_named(cfg, name: str, connection: Optional[str]) -> str:
    """The connection ``connex connect NAME [--connection C]`` means: C (whose type must be NAME), the
    connection NAME, or the one connection whose type is NAME."""
    types = {n: str(t.get("type")) for n, t in cfg.connections.items()}
    if connection is not None:
        if connection not in types:
            raise ConfigurationError(f"no connection named {connection!r} (connections: {', '.join(sorted(types)) or 'none'})",
                                     key="connections")
        if name not in (connection, types[connection]):
            raise UsageError(f"connection {connection!r} is of type {types[connection]!r}, not {name!r}")
        return connection
    if name in types:
        return name
    matching = sorted(n for n, t in types.items() if t == name)
    if len(matching) == 1:
        return matching[0]
    if matching:
        raise UsageError(f"{len(matching)} connections are of type {name!r} ({', '.join(matching)}): "
                         f"pick one with --connection NAME")
    return name  # unknown: the engine says which connections there are
