"""OAuth 2.0 for connectors: rotating refresh tokens that are never lost, and the ways to connect.

:class:`OAuthTokens` hands out valid access tokens for one connection, kept in its
:class:`~connex_core.tokens.TokenStore`:

* **rotation under a lock**: a refresh holds the store's lock (threads and processes), so one
  refresher spends the refresh token at a time;
* **reload before refresh**: whoever waited for the lock re-reads the store and uses the token
  the winner saved, instead of spending the rotated-away refresh token;
* **save before use**: the rotated refresh token is written (atomically, mode 0600) before the
  new access token is returned;
* a refused grant (``invalid_grant``, ``invalid_client``) is an
  :class:`~connex_core.errors.AuthenticationError` saying how to reconnect; an unreachable or
  overloaded token endpoint is a :class:`~connex_core.errors.RetriableAPIError`.

The authorization-code flow of ``connex connect`` (:func:`connect`) runs one of two ways:

* **loopback**: Connex listens on ``127.0.0.1`` (a free port, or the fixed port of a configured
  ``http://localhost:PORT/...`` or ``http://127.0.0.1:PORT/...`` redirect URI, or ``--port``),
  prints the authorize address, and receives the redirect itself;
* **paste-back**: for a registered ``https`` redirect URI (production apps): Connex prints the
  authorize address, the user allows access and pastes the full address the browser was sent
  to; Connex checks ``state`` and exchanges the code.

The token endpoint is reached through a *transport* (:data:`Transport`), so each plugin keeps
its HTTP library (:func:`requests_transport` for ``requests``).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import webbrowser
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlencode, urlsplit

from .clock import wall_time
from .config import REDACTOR
from .errors import AuthenticationError, RetriableAPIError, UsageError
from .tokens import TokenStore

__all__ = ["OAuthApp", "OAuthTokens", "TokenEndpointUnreachable", "Transport", "requests_transport",
           "LoopbackReceiver", "authorize_address", "read_answer", "connect", "EXPIRY_MARGIN", "WAIT_SECONDS"]

#: Refresh this many seconds before the access token expires (a request in flight must not outlive it).
EXPIRY_MARGIN = 60.0
#: How long ``connex connect`` waits for the browser's redirect (a person is clicking: real time).
WAIT_SECONDS = 300.0

#: ``transport(url, form, headers) -> (status, body)``: POST a urlencoded form; raise
#: :class:`TokenEndpointUnreachable` when no answer came (refused, reset, timed out).
Transport = Callable[[str, dict[str, str], dict[str, str]], tuple[int, bytes]]


class TokenEndpointUnreachable(Exception):
    """The token endpoint gave no answer (the name of the underlying error is the message)."""


def requests_transport(session: Any, timeout: float) -> Transport:
    """A :data:`Transport` on a ``requests`` session, with a timeout on every request."""
    import requests

    def post(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            response = session.post(url, data=form, headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            raise TokenEndpointUnreachable(type(exc).__name__) from None
        return response.status_code, response.content

    return post


@dataclass
class OAuthApp:
    """The app registered with the vendor, and where its OAuth endpoints are."""

    vendor: str
    """The name in messages ("QuickBooks", "Xero")."""
    connector: str
    """The connector name errors carry ("quickbooks")."""
    client_id: str
    client_secret: str = field(repr=False)
    token_url: str
    authorize_url: str
    scopes: list[str] = field(default_factory=list)
    access_seconds: float = 3600.0
    """Access token lifetime when the answer gives no ``expires_in``."""


class OAuthTokens:
    """Valid access tokens for one connection (see the module docstring)."""

    def __init__(self, app: OAuthApp, store: TokenStore, transport: Transport, *, clock: Any, connection: str,
                 initial_refresh_token: Optional[str] = None, margin: float = EXPIRY_MARGIN):
        self.app, self.store, self.transport = app, store, transport
        self.clock, self.connection, self.margin = clock, connection, margin
        self._initial_refresh_token = initial_refresh_token
        self._tokens: Optional[dict[str, Any]] = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(connection={self.connection!r})"

    @property
    def reconnect(self) -> str:
        return f"reconnect with `connex connect {self.connection}`"

    def fresh(self, tokens: Optional[dict[str, Any]]) -> bool:
        """Whether ``tokens`` hold an access token valid for more than the margin."""
        return bool(tokens and tokens.get("access_token")
                    and float(tokens.get("expires_at") or 0) - self.margin > wall_time(self.clock))

    def tokens(self) -> dict[str, Any]:
        """What the store holds, refreshed first when the access token is (nearly) expired."""
        if not self.fresh(self._tokens):
            stored = self.store.load()
            self._tokens = stored if self.fresh(stored) else self.refresh()
        assert self._tokens is not None
        for key in ("access_token", "refresh_token"):
            REDACTOR.add(self._tokens.get(key))  # scrubbed from any log line or message that might carry them
        return self._tokens

    def access_token(self) -> str:
        return str(self.tokens()["access_token"])

    def refresh(self, rejected: Optional[str] = None) -> dict[str, Any]:
        """Spend the refresh token for new tokens, unless another refresher already did.

        Under the store's lock the store is read again: a fresh access token there that is not
        ``rejected`` (one the API just refused with a 401) is the winner's, and is used as it is.
        """
        with self.store.refreshing():
            current = self.store.load() or {}
            if self.fresh(current) and current.get("access_token") != rejected:
                self._tokens = current  # another process or thread refreshed while we waited
                return current
            refresh_token = current.get("refresh_token") or self._initial_refresh_token
            if not refresh_token:
                raise AuthenticationError(f"{self.app.vendor} connection {self.connection!r} is not connected yet: "
                                          f"connect with `connex connect {self.connection}`",
                                          connector=self.app.connector)
            answer = self.grant({"grant_type": "refresh_token", "refresh_token": refresh_token}, "refresh")
            saved = {**current, **self.facts(current), **self.normalise(answer)}
            self.store.save(saved)  # the rotated refresh token is on disk before anything uses it
            self._tokens = saved
            return saved

    def exchange_code(self, code: str, redirect_uri: str, **facts: Any) -> dict[str, Any]:
        """Trade an authorization code for tokens and store them with ``facts`` (the realm, say)."""
        with self.store.refreshing():
            answer = self.grant({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
                                "code")
            saved = {**(self.store.load() or {}), **self.normalise(answer), **facts}
            self.store.save(saved)
        self._tokens = saved
        return saved

    def remember(self, **facts: Any) -> dict[str, Any]:
        """Add facts (the chosen tenant) to the stored tokens."""
        with self.store.refreshing():
            saved = {**(self.store.load() or {}), **facts}
            self.store.save(saved)
        self._tokens = saved
        return saved

    def facts(self, stored: dict[str, Any]) -> dict[str, Any]:
        """What a refresh stores beside the tokens (subclasses: the company the settings name, say)."""
        return {}

    def normalise(self, answer: dict[str, Any]) -> dict[str, Any]:
        """What is stored of a token answer: the tokens, their expiries as epoch seconds, scope, when obtained."""
        now = wall_time(self.clock)
        saved: dict[str, Any] = {
            "access_token": answer["access_token"],
            "token_type": answer.get("token_type", "Bearer"),
            "expires_at": now + float(answer.get("expires_in") or self.app.access_seconds),
            "obtained_at": datetime.fromtimestamp(now, timezone.utc).isoformat(),
        }
        if answer.get("refresh_token"):  # an answer without one leaves the stored refresh token in place
            saved["refresh_token"] = answer["refresh_token"]
        scope = answer.get("scope") or self.app.scopes
        if scope:
            saved["scope"] = scope.split() if isinstance(scope, str) else list(scope)
        for key, stored in (("x_refresh_token_expires_in", "refresh_expires_at"),
                            ("x_refresh_token_hard_expires_in", "refresh_hard_expires_at")):
            if answer.get(key):
                saved[stored] = now + float(answer[key])
        return saved

    def grant(self, form: dict[str, str], purpose: str = "refresh") -> dict[str, Any]:
        """POST a grant to the token endpoint (client id and secret by HTTP Basic auth); the answer's JSON."""
        vendor, app = self.app.vendor, self.app
        basic = base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}", "Accept": "application/json",
                   "Content-Type": "application/x-www-form-urlencoded"}
        try:
            status, data = self.transport(app.token_url, form, headers)
        except TokenEndpointUnreachable as exc:
            raise RetriableAPIError(f"could not reach {vendor}'s token endpoint ({exc})",
                                    connector=app.connector) from None
        if status >= 500 or status == 429:
            raise RetriableAPIError(f"{vendor}'s token endpoint answered {status}; try again later",
                                    connector=app.connector, status=status)
        try:
            body = json.loads(data or b"{}")
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        if status == 200 and body.get("access_token"):
            return body
        return self.refused(status, str(body.get("error") or ""), purpose)

    def refused(self, status: int, error: str, purpose: str) -> Any:
        """Raise the error for a refused grant (subclasses add what their vendor documents)."""
        vendor, conn = self.app.vendor, self.connection
        if error == "invalid_client":
            message = (f"{vendor} refused the client id or secret of connection {conn!r} (invalid_client): "
                       f"check them in the config, then {self.reconnect}")
        elif error == "invalid_grant" and purpose == "code":
            message = (f"{vendor} refused the authorization code (invalid_grant: expired, used already, or sent "
                       f"with another redirect URI); run `connex connect {conn}` again")
        elif error == "invalid_grant":
            message = (f"{vendor} refused the stored refresh token of connection {conn!r} (invalid_grant: expired, "
                       f"revoked, or already spent by another process); {self.reconnect}")
        else:
            message = f"{vendor}'s token endpoint refused the request ({status} {error}); {self.reconnect}"
        raise AuthenticationError(message, connector=self.app.connector, status=status)


# -- connecting: the authorization-code flow ---------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    server: "LoopbackReceiver"

    def log_message(self, format: str, *args: Any) -> None:  # the query holds the code: never log it
        return

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        if parts.path.rstrip("/") != self.server.path.rstrip("/"):
            self.send_error(404)
            return
        self.server.answer = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        body = f"Connex is connected to {self.server.vendor}. You can close this window.".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LoopbackReceiver(HTTPServer):
    """A one-shot server on 127.0.0.1 that keeps the query of the first request to its callback path."""

    def __init__(self, port: int = 0, *, host_name: str = "127.0.0.1", path: str = "/callback", vendor: str = ""):
        super().__init__(("127.0.0.1", port), _Handler)
        self.timeout = 0.5
        self.answer: Optional[dict[str, str]] = None
        self.host_name, self.path, self.vendor = host_name, path or "/callback", vendor

    @property
    def redirect_uri(self) -> str:
        return f"http://{self.host_name}:{self.server_port}{self.path}"

    def wait(self, seconds: float) -> Optional[dict[str, str]]:
        deadline = time.monotonic() + seconds  # a person is clicking: real time, not the sandbox clock
        while self.answer is None and time.monotonic() < deadline:
            self.handle_request()
        return self.answer


def authorize_address(app: OAuthApp, redirect_uri: str, state: str, **extra: str) -> str:
    """The address the user opens to allow access."""
    query = {"client_id": app.client_id, "response_type": "code", "scope": " ".join(app.scopes),
             "redirect_uri": redirect_uri, "state": state, **extra}
    return app.authorize_url + ("&" if "?" in app.authorize_url else "?") + urlencode(query)


def read_answer(answer: Optional[dict[str, str]], state: str, app: OAuthApp, connection: str,
                required: tuple[str, ...] = ()) -> dict[str, str]:
    """Check the redirect's query: it exists, carries our ``state``, a ``code`` and the ``required`` keys."""
    again = f"run `connex connect {connection}` again"
    if answer is None:
        raise AuthenticationError(f"no answer from {app.vendor} within {int(WAIT_SECONDS)} s; {again}",
                                  connector=app.connector)
    if not secrets.compare_digest(answer.get("state", ""), state):
        raise AuthenticationError(f"the answer from {app.vendor} does not belong to this login (state mismatch: "
                                  f"a stale or forged address); {again}", connector=app.connector)
    missing = [key for key in ("code", *required) if not answer.get(key)]
    if missing:
        said = answer.get("error_description") or answer.get("error") or f"no {missing[0]}"
        raise AuthenticationError(f"{app.vendor} did not grant access ({said}); {again}", connector=app.connector)
    return answer


def _is_loopback(redirect_uri: str) -> bool:
    parts = urlsplit(redirect_uri)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")


def _paste_back(app: OAuthApp, redirect_uri: str, state: str, echo: Callable[[str], None],
                input_fn: Callable[[str], str], connection: str) -> Optional[dict[str, str]]:
    echo(f"After you allow access, {app.vendor} sends your browser to {redirect_uri}?code=... "
         "Copy that whole address from the browser's address bar and paste it here.")
    pasted = input_fn("Address after allowing access: ").strip()
    parts, expected = urlsplit(pasted), urlsplit(redirect_uri)
    if (parts.scheme, parts.netloc.lower(), parts.path.rstrip("/")) != \
            (expected.scheme, expected.netloc.lower(), expected.path.rstrip("/")):
        raise UsageError(f"the pasted address does not start with the redirect URI {redirect_uri}; "
                         f"run `connex connect {connection}` again and paste the whole address")
    return {k: v[-1] for k, v in parse_qs(parts.query).items()}


def connect(tokens: OAuthTokens, *, redirect_uri: Optional[str] = None, port: int = 0, host_name: str = "127.0.0.1",
            open_browser: bool = False, echo: Callable[[str], None] = print, input_fn: Callable[[str], str] = input,
            required: tuple[str, ...] = (), wait_seconds: float = WAIT_SECONDS,
            extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """Run the authorization-code flow and store the tokens; returns the redirect's query (``realmId``...).

    ``redirect_uri`` an ``https`` address: paste-back. A loopback ``http`` address: Connex listens
    on its port and path. None: loopback on ``port`` (0: any free port) at ``http://HOST:PORT/callback``.
    """
    app, connection = tokens.app, tokens.connection
    state = secrets.token_urlsafe(16)
    if redirect_uri and not _is_loopback(redirect_uri):
        if urlsplit(redirect_uri).scheme != "https":
            raise UsageError(f"the redirect URI {redirect_uri} must be https (or http on localhost/127.0.0.1)")
        url = authorize_address(app, redirect_uri, state, **(extra or {}))
        echo(f"Open this address in a browser and allow Connex to use your {app.vendor} account:\n{url}")
        if open_browser:
            webbrowser.open(url)
        answer = _paste_back(app, redirect_uri, state, echo, input_fn, connection)
    else:
        if redirect_uri:
            parts = urlsplit(redirect_uri)
            if parts.port is None:
                raise UsageError(f"the loopback redirect URI {redirect_uri} needs a port (http://localhost:PORT/...)")
            receiver = LoopbackReceiver(parts.port, host_name=parts.hostname or host_name, path=parts.path,
                                        vendor=app.vendor)
        else:
            receiver = LoopbackReceiver(port, host_name=host_name, vendor=app.vendor)
        try:
            redirect_uri = receiver.redirect_uri
            url = authorize_address(app, redirect_uri, state, **(extra or {}))
            echo(f"Open this address in a browser and allow Connex to use your {app.vendor} account:\n{url}")
            if open_browser:
                webbrowser.open(url)
            answer = receiver.wait(wait_seconds)
        finally:
            receiver.server_close()
    answer = read_answer(answer, state, app, connection, required)
    tokens.exchange_code(answer["code"], redirect_uri)
    return answer
