"""When a connection's refresh token stops working, and the warning ``connex run`` prints before that day.

The token answer says how long the refresh token lives: ``x_refresh_token_expires_in`` (QuickBooks: the
rolling 100 idle days) and, where Intuit returns it, ``x_refresh_token_hard_expires_in`` (the 5-year cap
from the consent). :meth:`OAuthTokens.normalise <connex_core.oauth.tokens.OAuthTokens.normalise>` stores
them as ``refresh_expires_at`` and ``refresh_hard_expires_at`` (epoch seconds). A refresh renews the
rolling expiry, never the hard one: only a new consent (``connex connect``) does.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Optional

from ..clock import wall_time

__all__ = ["WARN_WITHIN_DAYS", "refresh_token_expiry", "refresh_token_warning", "warn_expiring_tokens"]

#: Warn when a refresh token stops working within this many days.
WARN_WITHIN_DAYS = 14.0


def refresh_token_expiry(stored: Optional[dict[str, Any]]) -> Optional[tuple[float, str]]:
    """When the stored refresh token stops working (epoch seconds, the sooner of its two ends) and why; None
    when there is no refresh token or the answer gave no lifetime."""
    if not stored or not stored.get("refresh_token"):
        return None
    ends = [(float(stored[key]), why) for key, why in (
        ("refresh_hard_expires_at", "its hard limit: only a new sign-in renews it"),
        ("refresh_expires_at", "unless a run uses it before then"),
    ) if stored.get(key)]
    return min(ends) if ends else None


def refresh_token_warning(stored: Optional[dict[str, Any]], now: float, connection: str,
                          within_days: float = WARN_WITHIN_DAYS) -> Optional[str]:
    """The warning for ``stored`` tokens whose refresh token ends within ``within_days`` of ``now``, or None."""
    ends = refresh_token_expiry(stored)
    if ends is None:
        return None
    at, why = ends
    if at - now > within_days * 86400:
        return None
    day = datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if at <= now:
        return (f"warning: the refresh token of connection {connection!r} expired on {day}; "
                f"reconnect with `connex connect {connection}`")
    days = int((at - now) // 86400)
    left = f"in {days} days" if days > 1 else "in 1 day" if days == 1 else "within a day"
    return (f"warning: the refresh token of connection {connection!r} expires on {day} ({left}, "
            f"{why}); reconnect with `connex connect {connection}` before then")


def warn_expiring_tokens(connectors: Iterable[Any], echo: Callable[[str], None],
                         within_days: float = WARN_WITHIN_DAYS) -> list[str]:
    """Echo (and return) the warning of each connector whose stored refresh token ends soon, on its own clock."""
    said = []
    for connector in connectors:
        store = getattr(connector.ctx, "tokens", None)
        if store is None:
            continue
        try:
            stored = store.load()
        except Exception:  # a damaged token file: the run itself says what is wrong with it
            continue
        warning = refresh_token_warning(stored, wall_time(connector.clock), connector.ctx.connection, within_days)
        if warning:
            echo(warning)
            said.append(warning)
    return said
