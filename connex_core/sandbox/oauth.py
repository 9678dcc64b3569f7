"""An OAuth 2.0 authorization server for simulators: the authorize redirect, and a token endpoint
with authorization codes and rotating refresh tokens, on the simulator's clock.

A simulator mixes :class:`OAuthServer` into its :class:`~connex_core.sandbox.SimulatedService`,
sets the class attributes to what its vendor documents, calls :meth:`OAuthServer.oauth_setup`
in ``__init__``, and routes its own paths to :meth:`~OAuthServer.oauth_authorize` and
:meth:`~OAuthServer.oauth_token`. What it may vary, each with the vendor's rule beside it in the
simulator:

* lifetimes: access tokens (``access_seconds``), codes (``code_seconds``), refresh tokens left
  unused (``refresh_idle_seconds``);
* rotation: every refresh rotates the refresh token, unless ``rotate_after_seconds`` says a refresh
  token younger than that is answered again as it is (Intuit: "about every 24 hours");
* a superseded refresh token: refused with ``invalid_grant``, or accepted for
  ``refresh_grace_seconds`` after its rotation, answered with its successor (``grace_answer =
  "successor"``, Xero) or a new pair (``"new"``);
* client authentication by HTTP Basic (and the form's ``client_id``/``client_secret`` when
  ``client_in_form``), refused with ``invalid_client_status``;
* whether a code is bound to its ``redirect_uri`` (``code_binds_redirect``, RFC 6749 4.1.3).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import parse_qs, urlencode

from .service import Request, Response, json_response

__all__ = ["OAuthServer", "RefreshState"]


@dataclass
class RefreshState:
    """One refresh token the server issued."""

    issued_at: float
    successor: Optional[str] = None
    rotated_at: Optional[float] = None
    used_at: Optional[float] = None


class OAuthServer:
    """Mixin for a :class:`~connex_core.sandbox.SimulatedService` (it needs ``self.clock`` and ``self.lock``)."""

    client_id: str
    client_secret: str
    access_seconds: float = 3600.0
    code_seconds: float = 300.0
    refresh_grace_seconds: float = 0.0
    refresh_idle_seconds: Optional[float] = None
    rotate_after_seconds: Optional[float] = None
    grace_answer: str = "new"
    invalid_client_status: int = 400
    client_in_form: bool = False
    code_binds_redirect: bool = True

    def oauth_setup(self, refresh_token: Optional[str] = None, issued_ago: float = 0.0) -> None:
        """Start with no access tokens and, when given, one valid refresh token (what the sandbox hands out),
        issued ``issued_ago`` seconds before now."""
        self._access: dict[str, float] = {}  # access token -> expiry (clock seconds)
        self._refresh: dict[str, RefreshState] = {}
        self._codes: dict[str, tuple[str, float]] = {}  # code -> (redirect_uri, expiry)
        self.token_answers = 0
        """Token answers sent (grants that succeeded)."""
        if refresh_token:
            self._refresh[refresh_token] = RefreshState(issued_at=self.clock.now() - issued_ago)  # type: ignore[attr-defined]

    # -- what tests and simulators use -----------------------------------------------------------------
    def access_expiry(self, token: str) -> Optional[float]:
        """When ``token`` expires (clock seconds); None for a token this server never issued."""
        return self._access.get(token)

    def access_valid(self, token: str) -> bool:
        expiry = self._access.get(token)
        return expiry is not None and expiry > self.clock.now()  # type: ignore[attr-defined]

    def expire_access_tokens(self) -> None:
        """Make every access token expire now (refresh tokens still work): the next call is a 401."""
        with self.lock:  # type: ignore[attr-defined]
            now = self.clock.now()  # type: ignore[attr-defined]
            self._access = {t: min(e, now) for t, e in self._access.items()}

    def revoke_tokens(self) -> None:
        """Forget every token (the user disconnected the app): the next call is a 401 / invalid_grant."""
        with self.lock:  # type: ignore[attr-defined]
            self._access.clear()
            self._refresh.clear()

    # -- hooks -------------------------------------------------------------------------------------------
    def oauth_refuse_authorize(self, request: Request) -> Optional[Response]:
        """A Response refusing an authorize request (wrong client, missing redirect), or None."""
        if request.arg("client_id") != self.client_id or not request.arg("redirect_uri"):
            return json_response({"error": "invalid_request"}, 400)
        return None

    def oauth_redirect_params(self, request: Request) -> dict[str, str]:
        """What the redirect carries besides ``code`` and ``state`` (QuickBooks: ``realmId``)."""
        return {}

    def oauth_answer(self, access: str, refresh: str) -> dict[str, Any]:
        """The token answer's body."""
        return {"access_token": access, "expires_in": int(self.access_seconds), "refresh_token": refresh,
                "token_type": "bearer"}

    def new_access_token(self) -> str:
        return secrets.token_urlsafe(24)

    def new_refresh_token(self) -> str:
        return secrets.token_urlsafe(24)

    # -- endpoints -----------------------------------------------------------------------------------------
    def oauth_authorize(self, request: Request) -> Response:
        """The authorize page: the user allows at once, and is redirected with a single-use code."""
        refused = self.oauth_refuse_authorize(request)
        if refused is not None:
            return refused
        redirect_uri = request.arg("redirect_uri") or ""
        code = secrets.token_urlsafe(16)
        self._codes[code] = (redirect_uri, self.clock.now() + self.code_seconds)  # type: ignore[attr-defined]
        query = urlencode({"code": code, "state": request.arg("state") or "", **self.oauth_redirect_params(request)})
        return Response(302, b"", {"Location": f"{redirect_uri}?{query}"})

    def _client(self, request: Request, form: dict[str, str]) -> tuple[Optional[str], Optional[str]]:
        client_id, client_secret = (form.get("client_id"), form.get("client_secret")) if self.client_in_form \
            else (None, None)
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                client_id = client_secret = None
        return client_id, client_secret

    def oauth_token(self, request: Request) -> Response:
        """The token endpoint: ``authorization_code`` and ``refresh_token`` grants."""
        try:
            form = {k: v[-1] for k, v in parse_qs(request.body.decode("utf-8")).items()}
        except UnicodeDecodeError:
            return json_response({"error": "invalid_request"}, 400)
        client_id, client_secret = self._client(request, form)
        if client_id != self.client_id or client_secret is None \
                or not secrets.compare_digest(client_secret.encode(), self.client_secret.encode()):
            return json_response({"error": "invalid_client"}, self.invalid_client_status)
        now = self.clock.now()  # type: ignore[attr-defined]
        grant = form.get("grant_type")
        if grant == "authorization_code":
            redirect_uri, expires = self._codes.pop(form.get("code", ""), ("", -1.0))
            if expires < now or (self.code_binds_redirect and redirect_uri != form.get("redirect_uri")):
                return json_response({"error": "invalid_grant"}, 400)
            return self._issue(now, None)
        if grant == "refresh_token":
            return self._refresh_grant(now, form.get("refresh_token", ""))
        return json_response({"error": "unsupported_grant_type"}, 400)

    def _refresh_grant(self, now: float, old: str) -> Response:
        state = self._refresh.get(old)
        if state is None:
            return json_response({"error": "invalid_grant"}, 400)
        if state.successor is not None:  # superseded
            if state.rotated_at is None or now - state.rotated_at >= self.refresh_grace_seconds \
                    or self.refresh_grace_seconds <= 0:
                return json_response({"error": "invalid_grant"}, 400)
            if self.grace_answer == "successor":
                return self._issue(now, None, keep=state.successor)
            return self._issue(now, None)
        last_use = state.used_at if state.used_at is not None else state.issued_at
        if self.refresh_idle_seconds is not None and now - last_use > self.refresh_idle_seconds:
            return json_response({"error": "invalid_grant"}, 400)
        if self.rotate_after_seconds is not None and now - state.issued_at < self.rotate_after_seconds:
            state.used_at = now
            return self._issue(now, None, keep=old)  # not due for rotation: the same refresh token again
        return self._issue(now, old)

    def _issue(self, now: float, rotated: Optional[str], keep: Optional[str] = None) -> Response:
        access = self.new_access_token()
        self._access[access] = now + self.access_seconds
        refresh = keep
        if refresh is None:
            refresh = self.new_refresh_token()
            self._refresh[refresh] = RefreshState(issued_at=now)
        if rotated is not None:
            self._refresh[rotated].successor, self._refresh[rotated].rotated_at = refresh, now
        self.token_answers += 1
        return json_response(self.oauth_answer(access, refresh))
