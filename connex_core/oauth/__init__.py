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

``connex run`` warns when a stored refresh token ends within 14 days (:mod:`.expiry`).

The token endpoint is reached through a *transport* (:data:`Transport`), so each plugin keeps
its HTTP library (:func:`requests_transport` for ``requests``).
"""

from .expiry import WARN_WITHIN_DAYS, refresh_token_warning, warn_expiring_tokens
from .connect import WAIT_SECONDS, LoopbackReceiver, authorize_address, connect, granted, read_answer
from .tokens import (EXPIRY_MARGIN, OAuthApp, OAuthTokens, TokenEndpointUnreachable, Transport,
                     requests_transport)

__all__ = ["OAuthApp", "OAuthTokens", "TokenEndpointUnreachable", "Transport", "requests_transport",
           "LoopbackReceiver", "authorize_address", "read_answer", "granted", "connect", "EXPIRY_MARGIN", "WAIT_SECONDS",
           "WARN_WITHIN_DAYS", "refresh_token_warning", "warn_expiring_tokens"]
