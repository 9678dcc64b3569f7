"""The console's Connect button: a sign-in that ``connex serve``'s OAuth callback finishes.

``POST /connections/NAME/connect`` starts the sign-in (:func:`connex_core.oauth.callback.begin`, started by
"console") and sends the browser to the vendor's authorize page. The vendor sends it back to serve's
``/oauth/NAME/callback`` (the connection's ``redirect_uri``, else this console's own address), which stores the
tokens and sends the browser on to ``GET /connections/NAME/signed-in?sign_in=DIGEST``: the outcome, read from
the state store.
"""

from __future__ import annotations

from typing import Any

from ..clock import wall_time
from ..connector import Connector
from ..errors import ConnexError


def signs_in(config: Any, manager: Any) -> set[str]:
    """The connections whose connector signs in by OAuth (it implements ``authorize_address``)."""
    names = set()
    for name, raw in config.connections.items():
        try:
            cls = manager.connector(str(raw.get("type")))
        except Exception:  # an unknown type: config check says so
            continue
        if getattr(cls, "authorize_address", None) is not Connector.authorize_address:
            names.add(name)
    return names


def start(console: Any, request: Any) -> Any:
    """Begin the sign-in and redirect to the authorize page; the refusal on a page of its own otherwise."""
    from starlette.responses import RedirectResponse

    from ..connections import Connections
    from ..oauth.callback import begin, redirect_uri_for

    name = request.path_params["name"]
    if name not in console.config.connections:
        return console._page(request, "signed_in.html", 404, nav="dashboard", name=name, ok=False,
                             message=f"There is no connection named {name!r}.")
    try:
        uri = redirect_uri_for(console.config.connections[name], name, str(request.base_url))
        with Connections(console.config, console.manager, options=console.connector_options) as connections:
            started = begin(connections.get(name), console.store, name, uri, started_by="console",
                            now=wall_time(console.connector_options.get("clock")))
    except ConnexError as exc:
        return console._page(request, "signed_in.html", 400, nav="dashboard", name=name, ok=False, message=str(exc))
    return RedirectResponse(started.url, status_code=303)


def signed_in(console: Any, request: Any) -> Any:
    """The outcome of a sign-in the console started (where serve's callback sends the browser)."""
    from ..oauth.callback import outcome

    name = request.path_params["name"]
    row = outcome(console.store, str(request.query_params.get("sign_in", "")))
    if row is None or row.get("connection") != name or row.get("started_by") != "console":
        return console._page(request, "signed_in.html", 404, nav="dashboard", name=name, ok=False,
                             message="No such sign-in: start it with the Connect button.")
    if row["state"] == "done":
        return console._page(request, "signed_in.html", nav="dashboard", name=name, ok=True,
                             message=f"{name} is connected: {row.get('message')}")
    if row["state"] == "failed":
        return console._page(request, "signed_in.html", nav="dashboard", name=name, ok=False,
                             message=f"{name} is not connected: {row.get('message')}")
    return console._page(request, "signed_in.html", nav="dashboard", name=name, ok=False,
                         message=f"The sign-in of {name} has not come back from the vendor yet.")
