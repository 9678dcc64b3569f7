"""OAuth 2.0 for QuickBooks Online, on :mod:`connex_core.oauth`: tokens that are never lost.

* :class:`TokenManager`: hands out a valid access token (one hour), refreshing it under the
  :class:`~connex_core.tokens.TokenStore` lock (one refresher at a time, across processes) and
  writing the rotated refresh token atomically *before* the new access token is used. A refused
  refresh token (``invalid_grant``) ends with "reconnect with `connex connect NAME`".
* :func:`authorize`: the authorization-code flow of ``connex connect``: print the authorize URL,
  receive the redirect on a loopback port (any free one, or a fixed one) or read the redirected
  address the user pastes back (a registered ``https`` redirect URI), exchange the code, record
  the realm.
* :func:`finish_authorization`: the same end for a redirect ``connex serve`` received at
  ``/oauth/NAME/callback`` (its ``state`` checked by serve).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import requests

from connex_core.api import AuthenticationError
from connex_core.api import WAIT_SECONDS, OAuthApp, OAuthTokens, connect, granted, requests_transport
from connex_core.api import TokenStore

AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
SCOPES = ["com.intuit.quickbooks.accounting"]
#: Asks Intuit to add ``x_refresh_token_hard_expires_in`` (the 5-year cap) to token answers. The header name is
#: from third-party code (Intuit's SDKs expose the opt-in as a setting); an unknown header is ignored.
HARD_EXPIRY_OPT_IN = {"x-include-refresh-token-hard-expires-in": "true"}


class TokenManager(OAuthTokens):
    """The access token of one QuickBooks connection, refreshed when due, with the rotated refresh token saved first."""

    def __init__(self, *, client_id: str, client_secret: str, environment: str, token_url: str,
                 authorize_url: str, store: TokenStore, connection: str, clock: Any, timeout: float,
                 initial_refresh_token: Optional[str] = None, realm_id: str = ""):
        self.environment, self.token_url, self.authorize_url = environment, token_url, authorize_url
        self.session = requests.Session()  # TLS verified (requests' default)
        app = OAuthApp(vendor="QuickBooks", connector="quickbooks", client_id=client_id, client_secret=client_secret,
                       token_url=token_url, authorize_url=authorize_url, scopes=list(SCOPES), access_seconds=3600.0,
                       token_headers=dict(HARD_EXPIRY_OPT_IN))
        super().__init__(app, store, requests_transport(self.session, timeout), clock=clock, connection=connection,
                         initial_refresh_token=initial_refresh_token)
        self._realm_id = realm_id

    def facts(self, stored: dict[str, Any]) -> dict[str, Any]:
        return {"realm_id": stored.get("realm_id") or self._realm_id}

    def realm_id(self) -> str:
        """The company: the settings' ``realm_id``, else the one ``connex connect`` recorded."""
        stored = (self.store.load() or {}).get("realm_id")
        realm = self._realm_id or stored
        if not realm:
            raise AuthenticationError(f"no QuickBooks company (realm) is known for this connection; {self.reconnect}")
        return realm


def authorize(manager: TokenManager, *, port: int = 0, redirect_uri: Optional[str] = None,
              open_browser: bool = False, echo: Callable[[str], None] = print,
              input_fn: Callable[[str], str] = input, wait_seconds: float = WAIT_SECONDS) -> str:
    """Run the authorization-code flow; returns the realm id it recorded.

    Loopback redirects use ``http://localhost:PORT/callback`` (what Intuit accepts for sandbox keys).
    """
    answer = connect(manager, redirect_uri=redirect_uri, port=port, host_name="localhost", open_browser=open_browser,
                     echo=echo, input_fn=input_fn, required=("realmId",), wait_seconds=wait_seconds)
    manager.remember(realm_id=answer["realmId"])
    return answer["realmId"]


def finish_authorization(manager: TokenManager, answer: dict[str, str], redirect_uri: str) -> str:
    """Exchange the code of a redirect serve received (``state`` checked) and store the tokens with the realm of
    the redirect, in one write; returns the realm id."""
    answer = granted(answer, manager.app, manager.connection, required=("realmId",))
    manager.exchange_code(answer["code"], redirect_uri, realm_id=answer["realmId"])
    return answer["realmId"]
