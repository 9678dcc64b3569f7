"""``connex connect xero``: the OAuth2 authorization-code flow on a loopback redirect, then the tenant choice.

The user opens the authorize address we print (or we open a browser); Xero redirects to
``http://127.0.0.1:PORT/callback`` with a ``code``, which we trade for tokens. Then
``/connections`` lists the organisations the user allowed: with one we take it, with several we
ask which. Tokens and the tenant are stored in the connection's token store.
"""

from __future__ import annotations

import secrets
import time
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlencode, urlsplit

from connex_core.errors import AuthenticationError, UsageError

WAIT_SECONDS = 300.0


class _CallbackServer(HTTPServer):
    """A one-shot loopback server that keeps the query of the first ``/callback`` request."""

    answer: Optional[dict[str, str]] = None

    def __init__(self, port: int):
        super().__init__(("127.0.0.1", port), _CallbackHandler)
        self.timeout = 0.5

    def wait(self, seconds: float) -> Optional[dict[str, str]]:
        deadline = time.monotonic() + seconds  # a person is clicking: real time, not the sandbox clock
        while self.answer is None and time.monotonic() < deadline:
            self.handle_request()
        return self.answer


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackServer

    def log_message(self, format: str, *args: Any) -> None:  # the query holds the code: never log it
        return

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/callback":
            self.send_error(404)
            return
        self.server.answer = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body = b"Connex is connected to Xero. You can close this window."
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def choose_tenant(tenants: list[dict[str, Any]], echo: Callable[[str], None], input_fn: Callable[[str], str],
                  connection: str) -> dict[str, Any]:
    """The organisation to use: the only one, or the one the user picks by number."""
    if not tenants:
        raise AuthenticationError(f"the Xero login allowed no organisation; run `connex connect {connection}` "
                                  "again and tick one", connector="xero")
    if len(tenants) == 1:
        return tenants[0]
    echo("Xero organisations this login can use:")
    for i, tenant in enumerate(tenants, 1):
        echo(f"  {i}. {tenant.get('tenantName')}")
    answer = input_fn(f"Which one should connection {connection!r} use? [1-{len(tenants)}] ").strip()
    if not answer.isdigit() or not 1 <= int(answer) <= len(tenants):
        raise UsageError(f"no organisation numbered {answer!r}")
    return tenants[int(answer) - 1]


def authorize(connector: Any, port: int, open_browser: bool, echo: Callable[[str], None],
              input_fn: Callable[[str], str]) -> str:
    """Run the whole flow for a :class:`~connex_xero.connector.XeroConnector`; returns 'connected to NAME'."""
    settings, connection = connector.settings, connector.ctx.connection
    server = _CallbackServer(port or settings.redirect_port)
    try:
        redirect_uri = f"http://127.0.0.1:{server.server_port}/callback"
        state = secrets.token_urlsafe(16)
        url = settings.authorize_url + "?" + urlencode({
            "response_type": "code", "client_id": settings.client_id, "redirect_uri": redirect_uri,
            "scope": " ".join(settings.scopes), "state": state})
        echo(f"Open this address to let Connex use your Xero organisation:\n{url}")
        if open_browser:
            webbrowser.open(url)
        answer = server.wait(WAIT_SECONDS)
    finally:
        server.server_close()
    if answer is None:
        raise AuthenticationError(f"no answer from Xero within {int(WAIT_SECONDS)} s; run `connex connect "
                                  f"{connection}` again", connector="xero")
    if answer.get("state") != state:
        raise AuthenticationError("the answer from Xero does not belong to this login (state mismatch); "
                                  f"run `connex connect {connection}` again", connector="xero")
    if "code" not in answer:
        raise AuthenticationError(f"Xero did not authorise the app ({answer.get('error', 'no code')}); "
                                  f"run `connex connect {connection}` again", connector="xero")
    connector.auth.exchange_code(answer["code"], redirect_uri)
    tenant = choose_tenant(connector.client.connections(), echo, input_fn, connection)
    connector.auth.remember(tenant_id=tenant["tenantId"], tenant_name=tenant.get("tenantName"))
    return f"connected to {tenant.get('tenantName') or tenant['tenantId']}"
