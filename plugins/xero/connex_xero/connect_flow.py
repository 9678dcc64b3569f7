"""``connex connect xero``: the OAuth2 authorization-code flow (:func:`connex_core.oauth.connect`), then the tenant choice.

The user opens the authorize address we print (or we open a browser); Xero redirects to
``http://127.0.0.1:PORT/callback`` (any free port, or the fixed one configured) with a ``code``,
which we trade for tokens, or, with a registered ``https`` redirect URI, the user pastes the
address Xero sent the browser to. Then ``/connections`` lists the organisations the user
allowed: with one we take it, with several we ask which. Tokens and the tenant are stored in the
connection's token store. A redirect ``connex serve`` received (:func:`finish`) has nobody to ask: the
connection's ``tenant_id``, else the only organisation allowed, else the page names them to pick from.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from connex_core.api import AuthenticationError, UsageError
from connex_core.api import WAIT_SECONDS, connect, granted

__all__ = ["WAIT_SECONDS", "authorize", "choose_tenant", "finish"]


def choose_tenant(tenants: list[dict[str, Any]], echo: Callable[[str], None], input_fn: Callable[[str], str],
                  connection: str) -> dict[str, Any]:
    """The organisation to use: the only one, or the one the user picks by number."""
    if not tenants:
        raise AuthenticationError(f"the Xero login allowed no organisation; run `connex connect {connection}` "
                                  "again and tick one", connector="xero")
    if len(tenants) == 1:
        return tenants[0]
    echo("Xero organisations this login can use:")
    for i, tenant in enumerate(tenants, 1):
        echo(f"  {i}. {tenant.get('tenantName')}")
    answer = input_fn(f"Which one should connection {connection!r} use? [1-{len(tenants)}] ").strip()
    if not answer.isdigit() or not 1 <= int(answer) <= len(tenants):
        raise UsageError(f"no organisation numbered {answer!r}")
    return tenants[int(answer) - 1]


def authorize(connector: Any, port: int, open_browser: bool, echo: Callable[[str], None],
              input_fn: Callable[[str], str], redirect_uri: Optional[str] = None) -> str:
    """Run the whole flow for a :class:`~connex_xero.connector.XeroConnector`; returns 'connected to NAME'."""
    settings, connection = connector.settings, connector.ctx.connection
    connect(connector.auth, redirect_uri=redirect_uri, port=port or settings.redirect_port, host_name="127.0.0.1",
            open_browser=open_browser, echo=echo, input_fn=input_fn)
    tenant = choose_tenant(connector.client.connections(), echo, input_fn, connection)
    connector.auth.remember(tenant_id=tenant["tenantId"], tenant_name=tenant.get("tenantName"))
    return f"connected to {tenant.get('tenantName') or tenant['tenantId']}"


def finish(connector: Any, answer: dict[str, str], redirect_uri: str) -> str:
    """Finish a sign-in whose redirect ``connex serve`` received (``state`` checked): exchange the code, then
    take the organisation the settings pin, or the only one allowed; returns 'connected to NAME'."""
    connection, auth = connector.ctx.connection, connector.auth
    answer = granted(answer, auth.app, connection)
    auth.exchange_code(answer["code"], redirect_uri)
    tenants = connector.client.connections()
    pinned = connector.settings.tenant_id
    named = ", ".join(f"{t.get('tenantName')} ({t['tenantId']})" for t in tenants)
    if pinned:
        chosen = [t for t in tenants if t["tenantId"] == pinned]
        if not chosen:
            raise AuthenticationError(f"the Xero login did not allow organisation {pinned} (the tenant_id of connection "
                                      f"{connection!r}); it allowed: {named or 'none'}", connector="xero")
        tenant = chosen[0]
    elif len(tenants) > 1:
        raise UsageError(f"the Xero login allowed {len(tenants)} organisations: {named}. Set tenant_id in connection "
                         f"{connection!r} to the one to use (the tokens are stored)")
    else:
        tenant = choose_tenant(tenants, lambda _: None, lambda _: "", connection)
    auth.remember(tenant_id=tenant["tenantId"], tenant_name=tenant.get("tenantName"))
    return f"connected to {tenant.get('tenantName') or tenant['tenantId']}"
