"""``connex connect``: the authorization-code flow, on loopback or by paste-back (see :mod:`connex_core.oauth`)."""

from __future__ import annotations

import secrets
import time
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlencode, urlsplit

from ..errors import AuthenticationError, UsageError
from .tokens import OAuthApp, OAuthTokens

__all__ = ["LoopbackReceiver", "authorize_address", "read_answer", "granted", "connect", "WAIT_SECONDS"]

#: How long ``connex connect`` waits for the browser's redirect (a person is clicking: real time).
WAIT_SECONDS = 300.0


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
    return granted(answer, app, connection, required)


def granted(answer: dict[str, str], app: OAuthApp, connection: str, required: tuple[str, ...] = ()) -> dict[str, str]:
    """Check that the redirect's query (its ``state`` checked) carries a ``code`` and the ``required`` keys."""
    again = f"run `connex connect {connection}` again"
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
