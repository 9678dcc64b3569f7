"""The connections' health on the dashboard: when their tokens stop working and what is left of their API
budgets, read without a call to any API.

Tokens are the connector's stored ones (its ``ctx.tokens``); the refresh token's end and the warning are
:mod:`connex_core.oauth.expiry`'s, the ones ``connex run`` prints. Budgets are each connector's
:meth:`~connex_core.connector.Connector.api_budgets` (what the API last said, or the connector's own pacing).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Any, Optional

from ..clock import wall_time
from ..errors import ConnexError
from ..oauth.expiry import refresh_token_expiry, refresh_token_warning

log = logging.getLogger("connex.console")


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def tokens(connector) -> Optional[dict[str, Any]]:
    """The stored tokens' ends: ``access`` (when the access token needs a refresh), ``refresh`` (when the
    refresh token stops working), ``warning`` (``connex run``'s, within 14 days); None when none are stored."""
    store = getattr(connector.ctx, "tokens", None)
    if store is None:
        return None
    try:
        stored = store.load()
    except ConnexError as exc:  # a damaged file: its message names the repair, never a token
        return {"error": str(exc)}
    if not stored:
        return None
    now = wall_time(connector.clock)
    ends = refresh_token_expiry(stored)
    access = stored.get("expires_at")
    return {"access": _when(float(access)) if access else None,
            "access_expired": bool(access) and float(access) <= now,
            "refresh": _when(ends[0]) if ends else None,
            "warning": refresh_token_warning(stored, now, connector.ctx.connection)}


def budgets(connector) -> list[dict[str, Any]]:
    try:
        return [{"remaining": b.remaining, "per": b.per, "limit": b.limit, "source": b.source}
                for b in connector.api_budgets()]
    except Exception:  # informational: a connector's bug must not take the dashboard down
        log.warning("api_budgets of %s failed", connector.ctx.connection, exc_info=True)
        return []


class Health:
    """Connectors of their own for the dashboard (a connector is not shared between threads), built once."""

    def __init__(self, config, manager, connector_options: Optional[dict[str, Any]] = None):
        self.config, self.manager, self.options = config, manager, dict(connector_options or {})
        self._lock = threading.Lock()
        self._connections = None

    def of(self) -> dict[str, dict[str, Any]]:
        """Each connection's ``tokens`` and ``budgets``, or the ``error`` that kept its connector from being made."""
        from ..connections import Connections

        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            if self._connections is None:
                self._connections = Connections(self.config, self.manager, options=self.options)
            for name in self.config.connections:
                try:
                    connector = self._connections.get(name)
                except ConnexError as exc:
                    out[name] = {"error": str(exc), "tokens": None, "budgets": []}
                    continue
                out[name] = {"error": None, "tokens": tokens(connector), "budgets": budgets(connector)}
        return out

    def close(self) -> None:
        with self._lock:
            if self._connections is not None:
                self._connections.close()
                self._connections = None
