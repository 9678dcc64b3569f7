"""Sign-ins finished by ``connex serve``: the OAuth callback at ``/oauth/<connection>/callback``.

Whoever starts a sign-in (``connex connect NAME --via-serve``, the console's Connect button) calls :func:`begin`:
a fresh random ``state`` goes into the authorize address, and only its SHA-256 into the state store's pending
sign-ins, with the connection, the redirect URI, who started it and an expiry (:data:`PENDING_SECONDS`). The
state itself is kept nowhere but in the browser's address, so the store (SQLite or PostgreSQL, shared by every
process) holds nothing that would let anyone finish a sign-in.

``connex serve``'s callback (:func:`finish`) claims the pending sign-in of the state it was sent: once, for
the connection in its path, before it expires, in one statement of the store (two requests, or two processes,
cannot both claim it). Only then does the connection's connector trade the code for tokens (stored in its token
store, as ``connex connect`` stores them; ``finish_connect``), and the outcome is written beside the pending
sign-in for whoever started it (:func:`outcome`). A missing, unknown, expired, reused or another connection's
state is answered 400 with a page that says which, and changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import quote, urlsplit

from ..errors import ConnexError, RetriableAPIError, UsageError

log = logging.getLogger("connex.oauth")

__all__ = ["PENDING_SECONDS", "Answer", "Started", "begin", "callback_path", "check_redirect_uri", "digest_of",
           "finish", "outcome", "redirect_uri_for"]

#: How long a started sign-in waits for its callback (a person reads the vendor's page and clicks: 10 minutes).
PENDING_SECONDS = 600.0

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def callback_path(connection: str) -> str:
    """Where ``connex serve`` receives the sign-in of ``connection``."""
    return f"/oauth/{quote(connection, safe='')}/callback"


def digest_of(state: str) -> str:
    """What the store keeps of a ``state``: its SHA-256, which names the sign-in and cannot be turned back."""
    return hashlib.sha256(state.encode()).hexdigest()


def check_redirect_uri(connection: str, redirect_uri: str) -> None:
    """A redirect URI that reaches ``connex serve``'s callback of ``connection``, or a :class:`UsageError`."""
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError(f"the redirect URI {redirect_uri!r} is not an address (https://HOST{callback_path(connection)})")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise UsageError(f"the redirect URI {redirect_uri} must be https (or http on localhost/127.0.0.1)")
    if parts.path.rstrip("/") != callback_path(connection) or parts.query or parts.fragment:
        raise UsageError(f"connex serve receives the sign-in of connection {connection!r} at "
                         f"{callback_path(connection)}; the redirect URI {redirect_uri} names another address: "
                         f"register https://YOUR-SERVE-HOST{callback_path(connection)} with the app and use that")


def redirect_uri_for(settings: dict[str, Any], connection: str, base_url: Optional[str]) -> str:
    """The redirect URI of a sign-in through serve: the connection's ``redirect_uri`` setting (the address the
    app registered: serve's public https address), else serve's own address ``base_url`` (loopback use)."""
    configured = str(settings.get("redirect_uri") or "")
    if configured:
        return configured
    if not base_url:
        raise UsageError(f"connection {connection!r} has no redirect_uri: give --redirect-uri "
                         f"https://YOUR-SERVE-HOST{callback_path(connection)} (the address registered with the app)")
    return base_url.rstrip("/") + callback_path(connection)


@dataclass
class Started:
    """A sign-in waiting for serve's callback."""

    url: str
    """The authorize address to open."""
    digest: str
    """Names the pending sign-in in the store (:func:`outcome`); not a secret."""
    redirect_uri: str
    expires_at: float


def begin(connector: Any, store: Any, connection: str, redirect_uri: str, *, started_by: str, now: float,
          ttl: float = PENDING_SECONDS) -> Started:
    """Start a sign-in of ``connection`` that serve's callback finishes (``connector`` is the connection's)."""
    check_redirect_uri(connection, redirect_uri)
    state = secrets.token_urlsafe(24)
    try:
        url = connector.authorize_address(redirect_uri, state)
    except NotImplementedError as exc:
        raise UsageError(str(exc)) from None
    digest = digest_of(state)
    store.oauth_begin(digest, connection, redirect_uri, started_by, now + ttl)
    return Started(url=url, digest=digest, redirect_uri=redirect_uri, expires_at=now + ttl)


def outcome(store: Any, digest: str) -> Optional[dict[str, Any]]:
    """The sign-in ``digest`` names: ``state`` is ``pending``, ``claimed`` (the callback came, tokens are being
    fetched), ``done`` or ``failed``, with the ``message`` of the last two; None when the store has no such sign-in."""
    return store.oauth_status(digest)


@dataclass
class Answer:
    """What the callback answers: a page (``status``, ``title``, ``message``), or a redirect to ``location``."""

    status: int
    title: str
    message: str
    location: Optional[str] = None


def _again(connection: str) -> str:
    return (f"Start the sign-in again from the console's Connect button or with "
            f"`connex connect {connection} --via-serve`.")


def finish(store: Any, connector_for: Callable[[str], Any], connection: str, query: dict[str, str], *,
           now: float, known: bool = True, console_page: Optional[Callable[[str, str], str]] = None) -> Answer:
    """Answer serve's callback for ``connection`` (``query``: the redirect's query; ``known``: whether the config
    has that connection). ``console_page(connection, digest)``: where a sign-in the console started sends the
    browser back to (the outcome is in the store)."""
    if not known:
        return Answer(404, "Unknown connection", f"This Connex has no connection named {connection!r}.")
    state = query.get("state") or ""
    if not state:
        return Answer(400, "Sign-in refused", "This address carries no sign-in state, so it cannot belong to a "
                                              f"sign-in Connex started. {_again(connection)}")
    digest = digest_of(state)
    row = store.oauth_claim(digest, connection, now)
    refused = _refusal(row, connection, now)
    if refused:
        log.warning("OAuth callback for %s refused: %s", connection, refused)
        return Answer(400, "Sign-in refused", f"{refused} Nothing was changed. {_again(connection)}")
    assert row is not None
    try:
        description = connector_for(connection).finish_connect(query, row["redirect_uri"])
        result = Answer(200, "Connected", f"Connection {connection}: {description}.")
        store.oauth_finish(digest, "done", description)
    except ConnexError as exc:  # the connectors' messages name no secret
        log.warning("OAuth callback for %s: %s", connection, exc)
        status = 502 if isinstance(exc, RetriableAPIError) else 400
        result = Answer(status, "Not connected", f"Connection {connection}: {exc}")
        store.oauth_finish(digest, "failed", str(exc))
    except Exception as exc:  # a bug: an answer all the same, the details in the log
        log.exception("OAuth callback for %s could not be finished", connection)
        said = f"the sign-in could not be finished ({type(exc).__name__}); the details are in serve's log"
        result = Answer(500, "Not connected", f"Connection {connection}: {said}.")
        store.oauth_finish(digest, "failed", said)
    if row.get("started_by") == "console" and console_page is not None:
        result.location = console_page(connection, digest)
    return result


def _refusal(row: Optional[dict[str, Any]], connection: str, now: float) -> str:
    """Why a claim failed ("" when it succeeded)."""
    if row is None:
        return "This sign-in is unknown: Connex did not start it, or forgot it a day after it expired."
    if row.get("claimed"):
        return ""
    if row["connection"] != connection:
        return "This sign-in was started for another connection."
    if row["state"] != "pending":
        return "This sign-in was used already: each one can connect once."
    if float(row["expires_at"]) <= now:
        return f"This sign-in expired: it waits {int(PENDING_SECONDS // 60)} minutes for the answer."
    return "This sign-in could not be claimed."
