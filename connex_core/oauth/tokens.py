"""Access tokens from a token store, refreshed under its lock (see :mod:`connex_core.oauth`)."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from ..clock import wall_time
from ..config import REDACTOR
from ..errors import AuthenticationError, RetriableAPIError
from ..tokens import TokenStore

__all__ = ["OAuthApp", "OAuthTokens", "TokenEndpointUnreachable", "Transport", "requests_transport", "EXPIRY_MARGIN"]

#: Refresh this many seconds before the access token expires (a request in flight must not outlive it).
EXPIRY_MARGIN = 60.0

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
    token_headers: dict[str, str] = field(default_factory=dict)
    """Extra headers on every token request (QuickBooks: the opt-in for the refresh token's hard expiry)."""


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
            answer = self._spend(current, refresh_token)
            saved = {**_settled(current), **self.facts(current), **self.normalise(answer)}
            self.store.save(saved)  # the rotated refresh token is on disk before anything uses it
            self._tokens = saved
            return saved

    def _spend(self, current: dict[str, Any], refresh_token: str) -> dict[str, Any]:
        """The refresh grant, with a note in the store while its answer is outstanding.

        The note (when, and a fingerprint of the token spent; never the token) stays only when no
        answer came (a dropped connection, or a process stopped in between): a later refusal of the
        same token can then say exactly what happened instead of a bare ``invalid_grant``.
        """
        print_ = _fingerprint(refresh_token)
        lost_before = current.get(SENT_FOR) == print_
        self.store.save({**current, SENT_FOR: print_,
                         SENT_AT: current.get(SENT_AT) if lost_before else _iso(wall_time(self.clock))})
        try:
            return self.grant({"grant_type": "refresh_token", "refresh_token": refresh_token}, "refresh")
        except RetriableAPIError as exc:
            if exc.status is not None:  # an answer came (429, 5xx): nothing was spent
                self.store.save(_settled(current))
            raise
        except AuthenticationError as exc:
            self.store.save(_settled(current) if not lost_before else current)
            if lost_before and exc.status == 400:
                raise AuthenticationError(
                    f"{self.app.vendor} refused the stored refresh token of connection {self.connection!r} "
                    f"(invalid_grant). Its refresh sent at {current.get(SENT_AT)} got no answer (a dropped connection "
                    f"or a stopped process), and {self.app.vendor} had replaced that token by then: it does not "
                    f"accept a replaced one. Nothing else is lost; {self.reconnect} (one sign-in stores new "
                    "tokens)", connector=self.app.connector, status=exc.status) from None
            raise

    def exchange_code(self, code: str, redirect_uri: str, **facts: Any) -> dict[str, Any]:
        """Trade an authorization code for tokens and store them with ``facts`` (the realm, say)."""
        with self.store.refreshing():
            answer = self.grant({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
                                "code")
            earlier = {k: v for k, v in _settled(self.store.load() or {}).items()
                       if k not in ("refresh_expires_at", "refresh_hard_expires_at")}  # a new consent: new limits
            saved = {**earlier, **self.normalise(answer), **facts}
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
        headers = {**app.token_headers, "Authorization": f"Basic {basic}", "Accept": "application/json",
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


SENT_AT, SENT_FOR = "refresh_sent_at", "refresh_sent_for"


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


def _settled(stored: dict[str, Any]) -> dict[str, Any]:
    """``stored`` without the note of an outstanding refresh."""
    return {k: v for k, v in stored.items() if k not in (SENT_AT, SENT_FOR)}
