"""Xero OAuth2: access tokens that last 30 minutes and refresh tokens that rotate on every refresh.

We refresh ourselves instead of letting xero-python do it, because xero-python refreshes on
``time.time()`` (not on the sandbox's sped-up clock), takes no lock, and reports a refused
refresh as a bare ``Exception`` carrying the response. :class:`XeroAuth`:

* refreshes under the :class:`~connex_core.tokens.TokenStore` lock (one refresher at a time,
  across threads and processes); whoever waited re-reads the store and uses the fresh token
  instead of spending the rotated-away one;
* writes the new tokens to the store (atomically, mode 0600) **before** returning them;
* turns ``invalid_grant`` / ``invalid_client`` into an :class:`AuthenticationError` saying how to
  reconnect, and a failed connection to the token endpoint into a :class:`RetriableAPIError`
  (a refresh whose answer was lost can be retried: Xero honours the old refresh token for a
  30-minute grace period).
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timezone
from typing import Any, Optional

import urllib3

from connex_core.config import REDACTOR
from connex_core.errors import AuthenticationError, RetriableAPIError
from connex_core.tokens import TokenStore

from .settings import XeroSettings

#: Refresh this many seconds before the access token expires (as xero-python does).
EXPIRY_BUFFER = 60.0


def wall_clock(clock: Any) -> float:
    """Seconds since the epoch on ``clock`` (a sandbox SimClock has ``utcnow()``), else real time."""
    utcnow = getattr(clock, "utcnow", None)
    return utcnow().timestamp() if callable(utcnow) else time.time()


class XeroAuth:
    """Valid access tokens for one connection, from its token store."""

    def __init__(self, settings: XeroSettings, store: TokenStore, http: urllib3.PoolManager, clock: Any,
                 connection: str):
        self.settings = settings
        self.store = store
        self.http = http
        self.clock = clock
        self.connection = connection
        self._tokens: Optional[dict[str, Any]] = None

    @property
    def reconnect(self) -> str:
        return f"reconnect with `connex connect {self.connection}`"

    def _fresh(self, tokens: Optional[dict[str, Any]]) -> bool:
        return bool(tokens and tokens.get("access_token")
                    and float(tokens.get("expires_at") or 0) - EXPIRY_BUFFER > wall_clock(self.clock))

    def tokens(self) -> dict[str, Any]:
        """What the store holds (tenant included), refreshed first if the access token is (nearly) expired."""
        if not self._fresh(self._tokens):
            stored = self.store.load()
            self._tokens = stored if self._fresh(stored) else self.refresh()
        assert self._tokens is not None
        for key in ("access_token", "refresh_token"):
            REDACTOR.add(self._tokens.get(key))  # scrubbed from any log line or message that might carry them
        return self._tokens

    def access_token(self) -> str:
        return str(self.tokens()["access_token"])

    def refresh(self, rejected: Optional[str] = None) -> dict[str, Any]:
        """Spend the refresh token for a new pair, unless someone else already did.

        ``rejected`` is an access token the API just refused (a 401): a stored token equal to it
        is not fresh, whatever its expiry says.
        """
        with self.store.refreshing():
            current = self.store.load() or {}
            if self._fresh(current) and current.get("access_token") != rejected:
                self._tokens = current  # another process or thread refreshed while we waited
                return current
            refresh_token = current.get("refresh_token") or (
                self.settings.refresh_token.get_secret_value() if self.settings.refresh_token else None)
            if not refresh_token:
                raise AuthenticationError(f"Xero connection {self.connection!r} has no tokens yet: "
                                          f"connect with `connex connect {self.connection}`", connector="xero")
            answer = self.token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})
            saved = {**current, **self._normalise(answer)}
            self.store.save(saved)  # the rotated refresh token is on disk before anything uses it
            self._tokens = saved
            return saved

    def exchange_code(self, code: str, redirect_uri: str) -> dict[str, Any]:
        """Trade an authorization code for tokens and store them (``connex connect``)."""
        answer = self.token_request({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})
        with self.store.refreshing():
            saved = {**(self.store.load() or {}), **self._normalise(answer)}
            self.store.save(saved)
        self._tokens = saved
        return saved

    def remember(self, **facts: Any) -> None:
        """Add facts (the chosen tenant) to the stored tokens."""
        with self.store.refreshing():
            saved = {**(self.store.load() or {}), **facts}
            self.store.save(saved)
        self._tokens = saved

    def _normalise(self, answer: dict[str, Any]) -> dict[str, Any]:
        scope = answer.get("scope") or self.settings.scopes
        refresh = {"refresh_token": answer["refresh_token"]} if answer.get("refresh_token") else {}
        return {
            "access_token": answer["access_token"],
            **refresh,  # an answer without one leaves the stored refresh token in place
            "token_type": answer.get("token_type", "Bearer"),
            "scope": scope.split() if isinstance(scope, str) else list(scope),
            "expires_at": wall_clock(self.clock) + float(answer.get("expires_in") or 1800),
            "obtained_at": datetime.fromtimestamp(wall_clock(self.clock), timezone.utc).isoformat(),
        }

    def token_request(self, form: dict[str, str]) -> dict[str, Any]:
        """POST a grant to the token endpoint (client id and secret by HTTP Basic auth)."""
        secret = self.settings.client_secret.get_secret_value()
        basic = base64.b64encode(f"{self.settings.client_id}:{secret}".encode()).decode()
        try:
            response = self.http.request("POST", self.settings.token_url, fields=form, encode_multipart=False,
                                         headers={"Authorization": f"Basic {basic}", "Accept": "application/json"})
        except urllib3.exceptions.HTTPError as exc:
            raise RetriableAPIError(f"could not reach Xero's token endpoint ({type(exc).__name__})",
                                    connector="xero") from None
        if response.status >= 500 or response.status == 429:
            raise RetriableAPIError(f"Xero's token endpoint answered {response.status}; try again later",
                                    connector="xero", status=response.status)
        try:
            body = json.loads(response.data or b"{}")
        except ValueError:
            body = {}
        if response.status == 200 and body.get("access_token"):
            return body
        error = body.get("error") if isinstance(body, dict) else None
        if error == "invalid_client":
            raise AuthenticationError(f"Xero refused the client id or secret of connection {self.connection!r}: "
                                      f"check them in the config, then {self.reconnect}", connector="xero",
                                      status=response.status)
        if error == "invalid_grant":
            raise AuthenticationError(
                f"Xero refused the stored refresh token of connection {self.connection!r} (unused for 60 days, "
                f"revoked, or already spent by another process): {self.reconnect}", connector="xero",
                status=response.status)
        raise AuthenticationError(f"Xero's token endpoint refused the request ({response.status} {error or ''}): "
                                  f"{self.reconnect}", connector="xero", status=response.status)
