"""OAuth 2.0 for QuickBooks Online, on intuit-oauth, with tokens that are never lost.

* :class:`IntuitAuthClient`: intuit-oauth's ``AuthClient`` without its network fetch of the
  discovery document at construction (the endpoints are Intuit's documented ones, or the
  settings' overrides such as the simulator's), and with a timeout on every request.
* :class:`TokenManager`: hands out a valid access token (one hour), refreshing it under the
  :class:`~connex_core.tokens.TokenStore` lock (one refresher at a time, across processes) and
  writing the rotated refresh token atomically *before* the new access token is used. A refused
  refresh token (``invalid_grant``) ends with "reconnect with `connex connect NAME`".
* :func:`authorize`: the authorization-code flow of ``connex connect``: print the authorize URL,
  receive the redirect on a loopback port, exchange the code, record the realm.
"""

from __future__ import annotations

import secrets
import time
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlsplit

import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

from connex_core.errors import AuthenticationError, RetriableAPIError
from connex_core.tokens import TokenStore

AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
REVOKE_URL = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
#: Refresh this many seconds before the access token expires (a request in flight must not outlive it).
EXPIRY_MARGIN = 60.0


class IntuitAuthClient(AuthClient):
    """intuit-oauth's client with fixed endpoints (no discovery fetch) and a timeout on every request."""

    def __init__(self, client_id: str, client_secret: str, redirect_uri: str, environment: str, *,
                 token_url: str, authorize_url: str, timeout: float):
        requests.Session.__init__(self)  # AuthClient.__init__ would fetch the discovery document
        self.verify = True
        self.client_id, self.client_secret = client_id, client_secret
        self.redirect_uri, self.environment = redirect_uri, environment
        self.state_token = None
        self.auth_endpoint, self.token_endpoint, self.revoke_endpoint = authorize_url, token_url, REVOKE_URL
        self.issuer_uri = self.jwks_uri = self.user_info_url = None
        self.realm_id = self.access_token = self.expires_in = self.refresh_token = None
        self.x_refresh_token_expires_in = self.id_token = None
        self.timeout = timeout

    def request(self, method, url, **kwargs):  # noqa: D102 - requests.Session.request with a default timeout
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)


def wall_time(clock: Any) -> float:
    """Epoch seconds on ``clock`` (a sandbox SimClock's ``utcnow()`` when it has one, else real time)."""
    utcnow = getattr(clock, "utcnow", None)
    return utcnow().timestamp() if utcnow else time.time()


class TokenManager:
    """The access token of one connection, refreshed when due, with the rotated refresh token saved first."""

    def __init__(self, *, client_id: str, client_secret: str, environment: str, token_url: str,
                 authorize_url: str, store: TokenStore, connection: str, clock: Any, timeout: float,
                 initial_refresh_token: Optional[str] = None, realm_id: str = ""):
        self.client_id, self._client_secret = client_id, client_secret
        self.environment, self.token_url, self.authorize_url = environment, token_url, authorize_url
        self.store, self.connection, self.clock, self.timeout = store, connection, clock, timeout
        self._initial_refresh_token = initial_refresh_token
        self._realm_id = realm_id

    def __repr__(self) -> str:
        return f"TokenManager(connection={self.connection!r})"

    @property
    def reconnect(self) -> str:
        return f"reconnect with `connex connect {self.connection}`"

    def auth_client(self, redirect_uri: str = "http://127.0.0.1/callback") -> IntuitAuthClient:
        return IntuitAuthClient(self.client_id, self._client_secret, redirect_uri, self.environment,
                                token_url=self.token_url, authorize_url=self.authorize_url, timeout=self.timeout)

    def realm_id(self) -> str:
        """The company: the settings' ``realm_id``, else the one ``connex connect`` recorded."""
        stored = (self.store.load() or {}).get("realm_id")
        realm = self._realm_id or stored
        if not realm:
            raise AuthenticationError(f"no QuickBooks company (realm) is known for this connection; {self.reconnect}")
        return realm

    def _valid(self, tokens: dict[str, Any]) -> bool:
        return bool(tokens.get("access_token")) and float(tokens.get("expires_at", 0)) - EXPIRY_MARGIN > wall_time(self.clock)

    def access_token(self) -> str:
        """A valid access token, refreshed first if it expires within a minute."""
        tokens = self.store.load() or {}
        return tokens["access_token"] if self._valid(tokens) else self.refresh(stale=tokens.get("access_token"))

    def refresh(self, stale: Optional[str] = None) -> str:
        """Refresh (once, under the store's lock) unless another refresher already replaced ``stale``."""
        with self.store.refreshing():
            tokens = self.store.load() or {}
            if tokens.get("access_token") != stale and self._valid(tokens):
                return tokens["access_token"]
            refresh_token = tokens.get("refresh_token") or self._initial_refresh_token
            if not refresh_token:
                raise AuthenticationError(f"QuickBooks is not connected yet; connect with `connex connect {self.connection}`")
            client = self.auth_client()
            self._call(lambda: client.refresh(refresh_token=refresh_token), "refresh the access token")
            self._save(client, tokens.get("realm_id") or self._realm_id)
            return client.access_token

    def exchange_code(self, client: IntuitAuthClient, code: str, realm_id: str) -> None:
        """Trade an authorization code for tokens and store them with the realm."""
        with self.store.refreshing():
            self._call(lambda: client.get_bearer_token(code, realm_id=realm_id), "exchange the authorization code")
            self._save(client, realm_id)

    def _call(self, fn: Callable[[], Any], what: str) -> None:
        try:
            fn()
        except AuthClientError as exc:
            if exc.status_code >= 500 or exc.status_code == 429:
                raise RetriableAPIError(f"QuickBooks could not {what} (HTTP {exc.status_code}); try again later",
                                        connector="quickbooks", status=exc.status_code) from None
            reason = "invalid_grant" if b"invalid_grant" in (exc.content or b"") else f"HTTP {exc.status_code}"
            raise AuthenticationError(f"QuickBooks refused to {what} ({reason}: the authorization is expired or "
                                      f"revoked); {self.reconnect}", connector="quickbooks",
                                      status=exc.status_code) from None
        except requests.RequestException as exc:
            raise RetriableAPIError(f"QuickBooks could not {what}: {type(exc).__name__}", connector="quickbooks") from None

    def _save(self, client: IntuitAuthClient, realm_id: Optional[str]) -> None:
        now = wall_time(self.clock)
        self.store.save({
            "access_token": client.access_token,
            "refresh_token": client.refresh_token,
            "expires_at": now + float(client.expires_in or 3600),
            "refresh_expires_at": (now + float(client.x_refresh_token_expires_in)
                                   if client.x_refresh_token_expires_in else None),
            "realm_id": realm_id,
            "refreshed_at": now,
        })


class _Callback(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}  # type: ignore[attr-defined]
        body = b"<html><body>Connex is connected to QuickBooks. You can close this window.</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def authorize(manager: TokenManager, *, port: int = 0, open_browser: bool = False,
              echo: Callable[[str], None] = print, wait_seconds: float = 300.0) -> str:
    """Run the authorization-code flow on a loopback redirect; returns the realm id it recorded."""
    server = HTTPServer(("127.0.0.1", port), _Callback)
    server.query = None  # type: ignore[attr-defined]
    server.timeout = 1.0
    try:
        redirect_uri = f"http://localhost:{server.server_port}/callback"
        client = manager.auth_client(redirect_uri)
        state = secrets.token_urlsafe(16)
        url = client.get_authorization_url([Scopes.ACCOUNTING], state_token=state)
        echo(f"Open this address in a browser and allow access to your QuickBooks company:\n{url}")
        if open_browser:
            webbrowser.open(url)
        deadline = time.monotonic() + wait_seconds
        while server.query is None and time.monotonic() < deadline:  # type: ignore[attr-defined]
            server.handle_request()
        query = server.query or {}  # type: ignore[attr-defined]
    finally:
        server.server_close()
    if not query:
        raise AuthenticationError(f"no answer from QuickBooks within {wait_seconds:.0f} s; run `connex connect "
                                  f"{manager.connection}` again")
    if query.get("state") != state:
        raise AuthenticationError("the answer from QuickBooks did not carry our state token (possible forgery); "
                                  f"run `connex connect {manager.connection}` again")
    if "code" not in query or "realmId" not in query:
        raise AuthenticationError(f"QuickBooks did not grant access ({query.get('error', 'no code')}); "
                                  f"run `connex connect {manager.connection}` again")
    manager.exchange_code(client, query["code"], query["realmId"])
    return query["realmId"]
