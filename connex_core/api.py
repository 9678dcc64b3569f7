"""The public API of Connex for connector authors: everything a connector may import, and nothing else.

A connector (the code a plugin distribution ships) imports from ``connex_core`` only through:

* this module, ``connex_core.api``;
* ``connex_core.hookimpl`` (the hook marker, also re-exported here);
* the simulator kit, ``connex_core.sandbox`` (with ``connex_core.sandbox.oauth`` and
  ``connex_core.sandbox.flows``);
* the testing kit, ``connex_core.testing`` (contract tests, factories; it needs pytest).

Everything else under ``connex_core`` (the sync engine, the state stores, the config loader, the CLI,
the rule engine, ``connex serve``) is private: it may change in any release without notice, and
``tests/test_public_api.py`` fails when a plugin of this repository imports it. A name here changes only
with a deprecation period. The guide is ``docs/writing-a-connector.md``.

Module-style helpers are re-exported as modules: ``api.countries.alpha2(...)``,
``api.jsonutil.dumps(...)``, ``api.money.to_cents(...)``.

What each group is for:

* canonical models: :class:`Order`, :class:`LineItem`, :class:`Address`, :class:`Customer`,
  :class:`Shipment`, :class:`OrderStatus`, :class:`DocumentType`, ``ZERO``;
* the connector contract: :class:`Connector`, :class:`Capability`, :class:`ConnectorSettings`,
  :class:`NoOptions`, :func:`options_of`, :class:`ConnectorContext`, :class:`FetchQuery`,
  :class:`OrderWrite`, :class:`TrackingWrite`, :class:`WriteResult`, :class:`Created`, :class:`Found`,
  :class:`UnreadableOrder`, :class:`WebhookEvent`, :func:`batched`;
* errors (each maps to an exit code, :class:`ExitCode`);
* HTTP: :func:`make_session`, :class:`RetryPolicy`, :class:`RateLimiter`, :func:`limiter_for`, :class:`ApiBudget`,
  :func:`short_body`; paging: :class:`PageNumberPaginator`, :class:`OffsetPaginator`,
  :class:`CursorPaginator`, :class:`PagingLoopError`;
* OAuth 2: :class:`OAuthApp`, :class:`OAuthTokens`, :class:`TokenStore`, :func:`connect`, ...;
* webhooks: :func:`hmac_sha256_ok`, :func:`signed_json`, :func:`json_objects`;
* time: :class:`Clock`, ``REAL_CLOCK``, :func:`wall_time`; files: :func:`write_private`;
* rules: :func:`unknown_sku_note` (how a target names an item it does not know).
"""

from __future__ import annotations

from typing import Any

from . import countries, jsonutil, money
from .clock import REAL_CLOCK, Clock, RealClock, wall_time
from .connector import (Capability, Connector, ConnectorContext, ConnectorSettings, Created, FetchQuery, Found,
                        NoOptions, OrderWrite, TrackingWrite, UnreadableOrder, WebhookEvent, WriteResult, batched,
                        options_of)
from .countries import UnknownCountry
from .errors import (AuthenticationError, ConfigurationError, ConnectorError, ConnexError, DryRunWriteError, ExitCode,
                     FatalAPIError, OrderError, RateLimitExhausted, RetriableAPIError, UsageError, WebhookRejected)
from .hookspecs import hookimpl
from .http import ApiBudget, RateLimiter, RetryPolicy, limiter_for, make_session, short_body
from .models import ZERO, Address, Customer, DocumentType, LineItem, Order, OrderStatus, Shipment
from .money import allocate, to_cents, to_decimal
from .oauth import (EXPIRY_MARGIN, WAIT_SECONDS, OAuthApp, OAuthTokens, TokenEndpointUnreachable, Transport,
                    authorize_address, connect, granted, requests_transport)
from .paging import BasePaginator, CursorPaginator, OffsetPaginator, PageNumberPaginator, PagingLoopError
from .rules.unmapped import unknown_sku_note
from .tokens import TokenStore, write_private
from .webhooks import hmac_sha256_ok, json_objects, signed_json

__all__ = [
    # plugin hooks
    "hookimpl",
    # canonical models
    "Order", "LineItem", "Address", "Customer", "Shipment", "OrderStatus", "DocumentType", "ZERO",
    # the connector contract
    "Connector", "Capability", "ConnectorSettings", "NoOptions", "options_of", "ConnectorContext", "FetchQuery",
    "OrderWrite", "TrackingWrite", "WriteResult", "Created", "Found", "UnreadableOrder", "WebhookEvent",
    "batched",
    # errors
    "ExitCode", "ConnexError", "UsageError", "ConfigurationError", "ConnectorError", "RetriableAPIError",
    "FatalAPIError", "AuthenticationError", "RateLimitExhausted", "OrderError", "DryRunWriteError",
    "WebhookRejected", "UnknownCountry",
    # HTTP, paging
    "make_session", "short_body", "RetryPolicy", "RateLimiter", "limiter_for", "ApiBudget",
    "BasePaginator", "PageNumberPaginator", "OffsetPaginator", "CursorPaginator", "PagingLoopError",
    # OAuth 2 and token storage
    "OAuthApp", "OAuthTokens", "TokenEndpointUnreachable", "Transport", "requests_transport", "connect",
    "authorize_address", "granted", "EXPIRY_MARGIN", "WAIT_SECONDS", "TokenStore", "write_private",
    # webhooks
    "hmac_sha256_ok", "signed_json", "json_objects",
    # time, money, JSON, countries
    "Clock", "RealClock", "REAL_CLOCK", "wall_time", "money", "to_decimal", "to_cents", "allocate", "jsonutil",
    "countries",
    # rules
    "unknown_sku_note",
    # the simulator kit and the testing kit (loaded on first use)
    "SimulatedService", "SimClock", "SandboxServer", "Request", "Response", "route", "json_response",
    "WindowLimiter", "Fault", "FaultPlan", "ConnectorContractTests", "make_order",
]

_LAZY = {
    # the sandbox: loaded on first use, so a production process does not import the simulator kit
    "SimulatedService": "sandbox", "SimClock": "sandbox", "SandboxServer": "sandbox", "Request": "sandbox",
    "Response": "sandbox", "route": "sandbox", "json_response": "sandbox", "WindowLimiter": "sandbox",
    "Fault": "sandbox", "FaultPlan": "sandbox",
    # the testing kit needs pytest (the ``test`` extra), so it is never imported by a connector at run time
    "ConnectorContractTests": "testing", "make_order": "testing",
}


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'connex_core.api' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"connex_core.{where}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
