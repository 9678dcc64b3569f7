"""Xero OAuth2, on :mod:`connex_core.oauth`: access tokens that last 30 minutes and refresh tokens that rotate.

We refresh ourselves instead of letting xero-python do it, because xero-python refreshes on
``time.time()`` (not on the sandbox's sped-up clock), takes no lock, and reports a refused
refresh as a bare ``Exception`` carrying the response. :class:`XeroAuth` is the core's
:class:`~connex_core.oauth.OAuthTokens` (refresh under the store's lock, reload before refresh,
save before use) over the connector's urllib3 pool. A refresh whose answer was lost is retried:
Xero honours the old refresh token for a 30-minute grace period.
"""

from __future__ import annotations

from typing import Any

import urllib3

from connex_core.api import OAuthApp, OAuthTokens, TokenEndpointUnreachable, Transport
from connex_core.api import TokenStore

from .settings import XeroSettings

#: Refresh this many seconds before the access token expires (as xero-python does).
EXPIRY_BUFFER = 60.0


def urllib3_transport(http: urllib3.PoolManager) -> Transport:
    """POST a form through the connector's urllib3 pool (TLS verified, the pool's timeouts)."""
    def post(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, bytes]:
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}  # urllib3 sets it for the form
        try:
            response = http.request("POST", url, fields=form, encode_multipart=False, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise TokenEndpointUnreachable(type(exc).__name__) from None
        return response.status, response.data

    return post


class XeroAuth(OAuthTokens):
    """Valid access tokens for one Xero connection, from its token store."""

    def __init__(self, settings: XeroSettings, store: TokenStore, http: urllib3.PoolManager, clock: Any,
                 connection: str):
        self.settings, self.http = settings, http
        app = OAuthApp(vendor="Xero", connector="xero", client_id=settings.client_id,
                       client_secret=settings.client_secret.get_secret_value(), token_url=settings.token_url,
                       authorize_url=settings.authorize_url, scopes=list(settings.scopes), access_seconds=1800.0)
        initial = settings.refresh_token.get_secret_value() if settings.refresh_token else None
        super().__init__(app, store, urllib3_transport(http), clock=clock, connection=connection,
                         initial_refresh_token=initial, margin=EXPIRY_BUFFER)
