"""``connex connect`` for ShipStation: check the credentials with one cheap call and say which API they
belong to, and what the account's plan allows.

* v1 (``GET /stores``): works -> the plan includes v1 (Gold, Accelerate or higher); 402 -> it does not,
  use v2; 401 -> if the ``api_key`` works as a v2 key (one more call, only then), say so.
* v2 (``GET /v2/warehouses``): works -> the plan includes the Shipping API; 402 -> it lacks the add-on;
  401 -> if the connection also has an ``api_secret`` and the pair works on v1, say so.
"""

from __future__ import annotations

from typing import Any

from connex_core.api import AuthenticationError, ConfigurationError, FatalAPIError

from .client import PLAN_MESSAGE, ShipStationV2Client


def _v2_key_works(connector: Any) -> bool:
    base = "https://api.shipstation.com/v2"
    if connector.settings.base_url.startswith(("http://127.0.0.1", "http://localhost")):
        base = connector.settings.base_url.rstrip("/") + "-v2/v2"  # the sandbox mounts v2 beside v1
    client = ShipStationV2Client(connector.settings.api_key.get_secret_value(), base_url=base, clock=connector.clock,
                                 timeout=connector.settings.timeout, max_tries=1)
    try:
        client.list_warehouses()
        return True
    except FatalAPIError:
        return False
    finally:
        client.close()


def connect_v1(connector: Any) -> str:
    """Check v1 credentials (``api = "v1"``, the default)."""
    try:
        stores = connector.client.list_stores()
    except AuthenticationError:
        if _v2_key_works(connector):
            raise ConfigurationError('this api_key is a ShipStation API v2 key: set api = "v2" on the connection '
                                     "(no api_secret is needed)", key="api") from None
        raise
    except FatalAPIError as exc:
        if exc.status == 402:
            raise FatalAPIError(PLAN_MESSAGE, connector="shipstation", status=402) from None
        raise
    n = len(stores)
    return (f"ShipStation API v1 (legacy): connected, {n} store{'s' if n != 1 else ''}. The account's plan includes "
            'API v1 (Gold, Accelerate or higher); ShipStation recommends API v2 for new integrations (api = "v2").')


def connect_v2(connector: Any) -> str:
    """Check a v2 key (``api = "v2"``)."""
    try:
        warehouses = connector.client.list_warehouses()
    except AuthenticationError:
        secret = connector.settings.api_secret
        if secret is not None and _v1_pair_works(connector):
            raise ConfigurationError('these are ShipStation API v1 credentials (key and secret): set api = "v1" '
                                     "or generate a v2 key", key="api") from None
        raise
    n = len(warehouses)
    return (f"ShipStation API v2: connected, {n} warehouse{'s' if n != 1 else ''}. The key is a v2 key and the "
            "account's plan includes the Shipping API (shipments, labels, fulfillments).")


def _v1_pair_works(connector: Any) -> bool:
    from ..client import DEFAULT_BASE_URL, ShipStationClient

    base = DEFAULT_BASE_URL
    if connector.settings.base_url.startswith(("http://127.0.0.1", "http://localhost")):
        base = connector.settings.base_url.rstrip("/").rsplit("/", 1)[0].removesuffix("-v2")
    client = ShipStationClient(connector.settings.api_key.get_secret_value(),
                               connector.settings.api_secret.get_secret_value(), base_url=base, clock=connector.clock,
                               timeout=connector.settings.timeout, max_tries=1)
    try:
        client.list_stores()
        return True
    except FatalAPIError:
        return False
    finally:
        client.close()
