"""The ShipStation connector: orders and shipments out, orders (from QuickBooks or Xero) in.

Reading streams ``GET /orders`` page by page; the user's date window is sent in US Pacific time,
ShipStation's own (a user asking for 15 September gets 15 September in Pacific time). Writing
upserts through ``POST /orders/createorders`` with the deterministic ``orderKey``
``connex:<source>:<id>``, so a repeated write updates instead of duplicating, and an order that
has already shipped (or was cancelled) in ShipStation is never written over.
"""

from __future__ import annotations

import hmac
import json
import os
from collections import OrderedDict
from datetime import date, timedelta
from typing import Any, Iterator, Literal, Optional
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from connex_core.api import UnknownCountry
from connex_core.api import (
    Capability, Connector, ConnectorSettings, FetchQuery, Found, OrderWrite, WebhookEvent, WriteResult, batched,
)
from connex_core.api import ConfigurationError, FatalAPIError, RetriableAPIError, WebhookRejected
from connex_core.api import ApiBudget, Order, Shipment

from .client import (
    DEFAULT_BASE_URL, MAX_BATCH, ORDER_STATUSES, UPDATABLE_STATUSES, ShipStationClient, ShipStationRequestError,
)
from .mapping import (
    KEY_PREFIX, merge_for_update, order_from_shipstation, order_key_for, order_to_shipstation, shipment_from_fulfillment,
    shipment_from_shipstation,
)
from .options import DATE_FIELDS, ORDER_DATE_FILTERS, SHIPMENT_DATE_FILTERS, SourceOptions
from .timezone import PACIFIC_NAME, format_filter, pacific_day_bounds, parse_date, parse_timestamp

#: How many pages of ``orderNumber`` prefix matches a duplicate lookup reads before narrowing the prefix.
LOOKUP_PAGES = 1
#: Seconds a prefix listed in full answers later look-ups (with the orders written since) before it is read again.
LISTING_TTL = 600.0
#: How many shipped orders' shipment facts are remembered (by orderId and modifyDate) between pages and runs.
SHIPMENT_MEMORY = 5000


class ShipStationSettings(ConnectorSettings):
    """``[connections.NAME]`` for ``type = "shipstation"``.

    ShipStation keeps its dates in US Pacific time (America/Los_Angeles): the window of a task
    (``--since 2026-09-15``) is sent to ShipStation as Pacific time, so the 15th is the Pacific 15th.
    """

    type: str = "shipstation"
    api: Literal["v1", "v2"] = Field("v1", description="Which ShipStation API: \"v1\" (legacy, key and secret, "
                                     "Gold/Accelerate plans and up) or \"v2\" (api.shipstation.com/v2, one API key).")
    api_key: SecretStr = Field(description="ShipStation API key (Settings > Account > API Settings).")
    api_secret: Optional[SecretStr] = Field(None, description="ShipStation API secret (v1 only).")
    base_url: str = Field(DEFAULT_BASE_URL, description="API root; the sandbox's is http://127.0.0.1:PORT/shipstation "
                          "(v2: https://api.shipstation.com/v2, the default when api = \"v2\").")
    page_size: int = Field(500, ge=1, le=500, description="Orders per page when listing (ShipStation allows 500; "
                           "v2: 100 unless set, its maximum is undocumented).")
    store_id: Optional[int | str] = Field(None, description="Read only this store's orders, and create orders in it "
                                          "(v2 ids look like \"se-1234\").")
    currency: str = Field("USD", description="Currency of the account's orders (ShipStation v1 orders carry none).")
    webhook_secret: Optional[SecretStr] = Field(None, description="Shared secret in the webhook URL you give ShipStation "
                                                "(https://your-host/webhooks/NAME/SECRET); webhooks without it are refused.")
    attach_shipments: bool = Field(True, description="Attach tracking number, carrier and cost to shipped orders "
                                   "(one /shipments call, and a /fulfillments call when needed, per page).")

    # -- v2 only (api = "v2"): see connex_shipstation.v2 ---------------------------------------------
    warehouse_id: Optional[str] = Field(None, description="v2: the warehouse new shipments ship from (default: the "
                                        "account's default warehouse).")
    timezone: str = Field("America/Los_Angeles", description="v2: the time zone days are counted in (v2 dates are "
                          "UTC); the default keeps v1's Pacific days.")
    unpaid_hold_days: int = Field(30, ge=0, description="v2: an unpaid order is created on hold for this many days "
                                  "(v2 has no awaiting_payment); 0: not held.")
    webhook_jwks_url: str = Field("https://api.shipengine.com/jwks", description="v2: where the public keys that "
                                  "sign webhooks are published (unverified URL).")

    @model_validator(mode="before")
    @classmethod
    def _version_defaults(cls, data: Any) -> Any:
        """v2's base URL and page size when ``api = "v2"`` and they are not given; v1 needs its secret."""
        if isinstance(data, dict):
            if data.get("api") == "v2":
                data = {"base_url": "https://api.shipstation.com/v2", "page_size": 100, **data}
            elif data.get("api_secret") is None:
                raise ValueError("api_secret is required for ShipStation API v1 (or set api = \"v2\" with a v2 api_key)")
        return data

    @field_validator("base_url")
    @classmethod
    def _https_unless_loopback(cls, value: str) -> str:
        parts = urlsplit(value)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError("must be an https:// URL (plain http only for the loopback sandbox)")
        return value.rstrip("/")


class ShipStationConnector(Connector):
    """ShipStation API v1. Dates are US Pacific time both ways (see :mod:`connex_shipstation.timezone`)."""

    name = "shipstation"
    title = "ShipStation"
    settings_model = ShipStationSettings
    source_options_model = SourceOptions
    date_fields = DATE_FIELDS
    capabilities = frozenset({Capability.READ_ORDERS, Capability.WRITE_ORDERS, Capability.READ_SHIPMENTS})
    write_batch_size = MAX_BATCH
    upserts_orders = True  # createorders upserts by orderKey (and leaves shipped or cancelled orders alone)
    timezone = PACIFIC_NAME
    """The time zone of the account's dates: a day the user names ("15 September") is a Pacific day."""
    settings: ShipStationSettings

    def __new__(cls, settings: Optional[ShipStationSettings] = None, ctx=None, *args, **kwargs):
        """``api = "v2"`` builds the v2 connector (:mod:`connex_shipstation.v2`); v1 stays the default."""
        if cls is ShipStationConnector and getattr(settings, "api", "v1") == "v2":
            from .v2.connector import ShipStationV2Connector

            return ShipStationV2Connector(settings, ctx)
        return super().__new__(cls)

    def __init__(self, settings: ShipStationSettings, ctx):
        super().__init__(settings, ctx)
        self._client: Optional[ShipStationClient] = None
        self._names: Optional[tuple[dict[str, str], dict[str, str]]] = None
        self._looked_up: dict[str, Optional[dict]] = {}
        """orderKey -> the ShipStation order (None: not there), from the last find_orders, for write_orders."""
        self._listed: dict[str, float] = {}
        """Number prefixes whose every order was listed, and when (clock seconds): see :meth:`_lookup`."""
        self._known: dict[str, dict] = {}
        """orderKey -> what we know of a Connex order (orderId, number, status) from those listings and our writes."""
        self._from_memory: set[str] = set()
        """orderKeys whose last look-up was answered from :attr:`_known` (a refusal then asks ShipStation)."""
        self._shipped: OrderedDict[str, tuple[Optional[str], Optional[Shipment]]] = OrderedDict()
        """orderId -> (its modifyDate, its shipment facts or None), for the orders attached last."""
        self._too_broad: dict[str, int] = {}
        """Number prefix -> a page budget its orders exceeded (as does any shorter prefix's): orders are only
        added, so it stays too broad for that budget."""

    @property
    def client(self) -> ShipStationClient:
        if self._client is None:
            s = self.settings
            self._client = ShipStationClient(s.api_key.get_secret_value(), s.api_secret.get_secret_value(),
                                             base_url=s.base_url, timeout=s.timeout, clock=self.clock,
                                             page_size=s.page_size)
        return self._client

    def check(self) -> str:
        stores = self.client.list_stores()
        return f"connected to ShipStation ({len(stores)} store{'s' if len(stores) != 1 else ''})"

    def connect(self, **kwargs: Any) -> str:
        """``connex connect``: one cheap call; says the credentials are v1's and whether the plan allows v1."""
        from .v2.probe import connect_v1

        return connect_v1(self)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def api_budgets(self) -> list[ApiBudget]:
        """The API key's calls this minute, as Connex paces them (X-Rate-Limit-Remaining at 0 stops them)."""
        limiter = self.client.limiter
        return [ApiBudget(remaining=limiter.remaining(), per="minute", limit=limiter.limit,
                          source="paced by Connex to ShipStation's 40 calls a minute per API key")]

    # -- reading orders --------------------------------------------------------------------------
    def order_params(self, query: FetchQuery) -> dict[str, Any]:
        """The ``GET /orders`` filters for a query, dates in Pacific time."""
        prefix = ORDER_DATE_FILTERS.get(query.date_field)
        if prefix is None:
            raise ConfigurationError(f"unknown date_field {query.date_field!r} for ShipStation "
                                     f"(one of: {', '.join(ORDER_DATE_FILTERS)})", key="date_field")
        params: dict[str, Any] = {}
        if query.since:
            params[f"{prefix}Start"] = format_filter(query.since)
        if query.until:
            params[f"{prefix}End"] = format_filter(query.until)
        if query.modified_since:
            since = query.modified_since
            if prefix == "modifyDate" and query.since and query.since > since:
                since = query.since
            params["modifyDateStart"] = format_filter(since)
            params.update(sortBy="ModifyDate", sortDir="ASC")
        else:
            params.update(sortBy="CreateDate", sortDir="ASC")
        status = query.options.get("status")
        if status:
            if status not in ORDER_STATUSES:
                raise ConfigurationError(f"unknown ShipStation order status {status!r} (one of: "
                                         f"{', '.join(ORDER_STATUSES)})", key="source_options.status")
            params["orderStatus"] = status
        store_id = query.options.get("store_id", self.settings.store_id)
        if store_id is not None:
            params["storeId"] = store_id
        return params

    def _lookups(self) -> tuple[dict[str, str], dict[str, str]]:
        """Store and tag names by id (two calls, once per connector)."""
        if self._names is None:
            stores = {str(s["storeId"]): s.get("storeName") for s in self.client.list_stores()}
            tags = {str(t["tagId"]): t.get("name") for t in self.client.list_tags()}
            self._names = (stores, tags)
        return self._names

    def fetch_orders(self, query: FetchQuery) -> Iterator[Order]:
        """Stream the orders of the window, page by page (500 a page), sorted by ModifyDate when incremental."""
        params = self.order_params(query)
        stores, tags = self._lookups()
        for page in self.client.list_orders(**params):
            shipments = self._shipments_for(page) if self.settings.attach_shipments else {}
            for raw in page:
                yield order_from_shipstation(raw, stores=stores, tags=tags, currency=self.settings.currency,
                                             shipment=shipments.get(str(raw.get("orderId"))))

    def _shipments_for(self, page: list[dict]) -> dict[str, Shipment]:
        """Shipment facts of the page's shipped orders: labels first, then fulfillments for the rest.

        One ``/shipments`` listing over the page's range of ship dates (a shipped order's
        ``shipDate`` is the day it shipped), and one ``/fulfillments`` listing if some are left.
        Both are narrowed to records created between the orders' first ``createDate`` and last
        ``modifyDate`` (shipping an order modifies it), so a page reads its own shipments, not
        every shipment of those days.

        What was found for an order is remembered with its ``modifyDate`` (the last
        :data:`SHIPMENT_MEMORY` orders): the next run's overlap re-reads the same orders, unchanged,
        and needs no listing for them.
        """
        shipped = {str(o["orderId"]): o for o in page if o.get("orderStatus") == "shipped" and o.get("shipDate")}
        known: dict[str, Shipment] = {}
        for order_id, order in list(shipped.items()):
            memo = self._shipped.get(order_id)
            if memo is not None and memo[0] == order.get("modifyDate"):
                del shipped[order_id]
                if memo[1] is not None:
                    known[order_id] = memo[1].model_copy(deep=True)
        if not shipped:
            return known
        days = sorted(parse_date(o["shipDate"]) for o in shipped.values())
        window = {"shipDateStart": f"{days[0]:%Y-%m-%d} 00:00:00", "shipDateEnd": f"{days[-1]:%Y-%m-%d} 23:59:59"}
        created = [parse_timestamp(o.get("createDate")) for o in shipped.values()]
        modified = [parse_timestamp(o.get("modifyDate")) for o in shipped.values()]
        if all(created) and all(modified):
            window["createDateStart"] = format_filter(min(created))
            window["createDateEnd"] = format_filter(max(modified) + timedelta(seconds=1))
        found: dict[str, Shipment] = {}
        sources = ((self.client.list_shipments, lambda record, order: shipment_from_shipstation(record)),
                   (self.client.list_fulfillments,
                    lambda record, order: shipment_from_fulfillment(record, order.get("orderKey"))))
        for listing, convert in sources:
            if len(found) == len(shipped):
                break
            for records in listing(**window):
                for record in records:
                    order_id = str(record.get("orderId"))
                    if order_id in shipped and order_id not in found and not record.get("voided"):
                        found[order_id] = convert(record, shipped[order_id])
        for order_id, order in shipped.items():
            self._shipped[order_id] = (order.get("modifyDate"), found.get(order_id))
            self._shipped.move_to_end(order_id)
        while len(self._shipped) > SHIPMENT_MEMORY:
            self._shipped.popitem(last=False)
        return {**known, **{k: v.model_copy(deep=True) for k, v in found.items()}}

    def parse_orders(self, payload: Any) -> Iterator[Order]:
        """Map a saved ``GET /orders`` response, a list of orders or one order; no network.

        Store names and tag names are not looked up: the store falls back to ``advancedOptions.source``.
        """
        if isinstance(payload, dict):
            payload = payload["orders"] if "orders" in payload else [payload]
        for raw in payload:
            yield order_from_shipstation(raw, currency=self.settings.currency)

    def accepts(self, order: Order, query: FetchQuery) -> bool:
        """Whether an order delivered by a webhook passes the task's filters (status, store), as a listing would."""
        status = query.options.get("status")
        if status and (order.status is None or order.status.value != status):
            return False
        store_id = query.options.get("store_id", self.settings.store_id)
        return store_id is None or order.store_id == str(store_id)

    # -- webhooks --------------------------------------------------------------------------------
    def verify_webhook(self, headers: dict[str, str], body: bytes, secret: Optional[str]) -> Optional[bytes]:
        """ORDER_NOTIFY / SHIP_NOTIFY carry no signature: the secret in the webhook URL is checked."""
        expected = self.settings.webhook_secret
        if expected is None:
            raise WebhookRejected(f"connection {self.ctx.connection!r} has no webhook_secret; set one and put it in "
                                  "the webhook URL (/webhooks/NAME/SECRET)")
        if not secret or not hmac.compare_digest(secret.encode("utf-8", "surrogateescape"),
                                                 expected.get_secret_value().encode()):
            raise WebhookRejected("the secret in the webhook URL is wrong")
        return None

    def read_webhook(self, headers: dict[str, str], body: bytes) -> WebhookEvent:
        """Fetch the batch of orders or shipments the webhook's ``resource_url`` points at.

        Only its path and query are used, asked of the configured base URL (see
        :meth:`ShipStationClient.get_resource`): a forged webhook cannot make Connex send the credentials
        elsewhere.
        """
        try:
            data = json.loads(body)
            resource_url, kind = data["resource_url"], str(data.get("resource_type", ""))
        except (ValueError, KeyError, TypeError):
            raise WebhookRejected("not a ShipStation webhook body (expected resource_url and resource_type)") from None
        payload = self.client.get_resource(resource_url)
        if kind == "ORDER_NOTIFY":
            raws = payload.get("orders", []) if isinstance(payload, dict) else []
            stores, tags = self._lookups()
            shipments = self._shipments_for(raws) if self.settings.attach_shipments else {}
            orders = [order_from_shipstation(raw, stores=stores, tags=tags, currency=self.settings.currency,
                                             shipment=shipments.get(str(raw.get("orderId")))) for raw in raws]
            return WebhookEvent(kind=kind, orders=orders)
        if kind == "SHIP_NOTIFY":
            raws = payload.get("shipments", []) if isinstance(payload, dict) else []
            return WebhookEvent(kind=kind, shipments=[shipment_from_shipstation(r) for r in raws if not r.get("voided")])
        return WebhookEvent(kind=kind)

    # -- reading shipments -----------------------------------------------------------------------
    def fetch_shipments(self, query: FetchQuery) -> Iterator[Shipment]:
        """Labels (``/shipments``), then orders shipped outside ShipStation (``/fulfillments``); voided left out.

        ``modified_since`` selects by the record's create date; ``since``/``until`` by ship date
        (``date_field`` "shipped"; "created" selects by create date), in Pacific time. A fulfillment
        carries no orderKey: for those, the orders are read to learn where they came from (see
        :meth:`_order_keys_of`).
        """
        prefix = SHIPMENT_DATE_FILTERS.get(query.date_field, "shipDate")
        params: dict[str, Any] = {}
        if query.modified_since:
            params["createDateStart"] = format_filter(query.modified_since)
        if query.since and not (prefix == "createDate" and query.modified_since and query.modified_since > query.since):
            params[f"{prefix}Start"] = format_filter(query.since)
        if query.until:
            params[f"{prefix}End"] = format_filter(query.until)
        store_id = query.options.get("store_id", self.settings.store_id)
        for page in self.client.list_shipments(**params, storeId=store_id, sortBy="CreateDate", sortDir="ASC"):
            for record in page:
                if not record.get("voided"):
                    yield shipment_from_shipstation(record)
        for page in self.client.list_fulfillments(**params, sortBy="CreateDate", sortDir="ASC"):
            live = [r for r in page if not (r.get("voided") or r.get("voidRequested"))]
            order_keys = self._order_keys_of(live)
            for record in live:
                yield shipment_from_fulfillment(record, order_keys.get(str(record.get("orderId"))))

    def _order_keys_of(self, fulfillments: list[dict]) -> dict[str, Optional[str]]:
        """The orderKey of each fulfillment's order (a fulfillment carries none), by orderId.

        Marking an order shipped modifies it, so the page's orders are among the shipped orders
        modified since its first fulfillment was created: that listing is read (500 a page) while
        it costs fewer calls than reading the orders one by one, which is what is left over does.
        """
        wanted = {str(r.get("orderId")) for r in fulfillments}
        keys: dict[str, Optional[str]] = {}
        starts = [parse_timestamp(r.get("createDate")) for r in fulfillments]
        if len(wanted) > 2 and all(starts):
            listing = self.client.list_orders(orderStatus="shipped", modifyDateStart=format_filter(min(starts)),
                                              sortBy="ModifyDate", sortDir="ASC")
            for pages, orders in enumerate(listing, 1):
                keys.update({str(o.get("orderId")): o.get("orderKey") for o in orders if str(o.get("orderId")) in wanted})
                if len(keys) == len(wanted) or pages >= len(wanted) // 2:
                    break
        for order_id in sorted(wanted - set(keys)):
            order = self.client.get_order(order_id)
            keys[order_id] = order.get("orderKey") if order else None
        return keys

    # -- writing orders --------------------------------------------------------------------------
    def _lookup(self, writes: list[OrderWrite]) -> dict[str, Optional[dict]]:
        """The ShipStation orders with these writes' orderKeys (None where there is none).

        ShipStation cannot list by orderKey; its ``orderNumber`` filter is a prefix match. So the
        batch's numbers, sorted, are searched by their longest common prefix, whose listing is read
        when it takes no more pages (500 orders each) than the calls a split would take; else the
        numbers are split by the character after that prefix and each part searched the same way.
        A prefix found too broad is remembered, so later batches do not ask for it again. A batch of consecutive numbers
        (INV-0101..INV-0200) takes one or two calls; unrelated numbers take at most one call per order.

        A prefix listed in full is remembered for :data:`LISTING_TTL` seconds, with the Connex
        orders it held and those written since: a number under it is answered without a call (the
        first batch of an initial sync lists ``INV-``, and the batches after it cost nothing). Only
        Connex writes ``connex:`` orderKeys, so what could change meanwhile is an order's status
        (shipped by the warehouse), which ShipStation itself refuses to overwrite.
        """
        wanted = {order_key_for(w.order): w.order.number for w in writes}
        result: dict[str, Optional[dict]] = {k: self._looked_up.pop(k) for k in list(wanted) if k in self._looked_up}
        self._expire_listings()
        for key, number in wanted.items():
            if key not in result and any(number.startswith(p) for p in self._listed):
                result[key] = self._known.get(key)
                self._from_memory.add(key)
        pending = {k: n for k, n in wanted.items() if k not in result}
        self._from_memory.difference_update(pending)
        found: dict[str, dict] = {}
        self._search(sorted(set(pending.values())), set(pending), found)
        result.update({k: found.get(k) for k in pending})
        return result

    def _expire_listings(self) -> None:
        """Forget every remembered listing once the oldest is LISTING_TTL old (they were kept together)."""
        if self._listed and self.clock.now() - min(self._listed.values()) > LISTING_TTL:
            self._forget()

    def _forget(self) -> None:
        self._listed.clear()
        self._known.clear()
        self._from_memory.clear()

    def _remember(self, order: dict) -> None:
        key = str(order.get("orderKey") or "")
        if key.startswith(KEY_PREFIX):
            self._known[key] = {"orderId": order.get("orderId"), "orderNumber": order.get("orderNumber"),
                                "orderKey": key, "orderStatus": order.get("orderStatus"),
                                "advancedOptions": {"mergedOrSplit": (order.get("advancedOptions") or {}).get("mergedOrSplit")}}

    def _search(self, numbers: list[str], keys: set[str], found: dict[str, dict]) -> None:
        if not numbers or numbers == [""]:
            return  # an empty number cannot be searched for (and ShipStation refuses to store one)
        prefix = os.path.commonprefix(numbers)
        # Split where the numbers part (INV-0101..INV-0200 -> INV-01.., INV-0200): each part has a longer prefix.
        groups: dict[str, list[str]] = {}
        for number in numbers:
            groups.setdefault(number[:len(prefix) + 1], []).append(number)
        # Reading the prefix's listing is worth as many pages as splitting would cost calls.
        budget = None if len(numbers) == 1 else max(LOOKUP_PAGES, len(groups))
        broad = budget is not None and (not prefix or any(
            p.startswith(prefix) and exceeded >= budget for p, exceeded in self._too_broad.items()))
        orders = None if broad else self.client.orders_by_number(prefix, budget)
        if orders is None:
            if prefix and budget is not None:
                self._too_broad[prefix] = max(budget, self._too_broad.get(prefix, 0))
            for group in groups.values():
                self._search(group, keys, found)
            return
        self._listed[prefix] = self.clock.now()
        for order in orders:
            self._remember(order)
            if order.get("orderKey") in keys:
                found[order["orderKey"]] = order

    def find_orders(self, writes: list[OrderWrite]) -> dict[str, Found]:
        """Which of these orders ShipStation already has, by orderKey (see :meth:`_lookup` for the calls)."""
        looked_up = self._lookup(writes)
        self._looked_up = dict(looked_up)  # for the write_orders call that follows; only the last batch is kept
        return self._found(writes, looked_up)

    def find_booked(self, writes: list[OrderWrite]) -> dict[str, Found]:
        """The orders ShipStation still holds, read-only (``connex report``, ``connex resync``): as
        :meth:`find_orders`, but a cancelled order is gone (a deleted one is not listed at all)."""
        looked_up = self._lookup(writes)
        return self._found(writes, {k: o for k, o in looked_up.items() if o and o.get("orderStatus") != "cancelled"})

    @staticmethod
    def _found(writes: list[OrderWrite], looked_up: dict[str, Optional[dict]]) -> dict[str, Found]:
        result = {}
        for w in writes:
            order = looked_up.get(order_key_for(w.order))
            if order:
                result[w.key] = Found(target_id=str(order["orderId"]), target_number=order.get("orderNumber"),
                                      description=f"ShipStation order {order.get('orderNumber')} ({order.get('orderStatus')})")
        return result

    def write_orders(self, writes: list[OrderWrite]) -> list[WriteResult]:
        """Upsert the orders (100 per ``createorders`` call), one result per order.

        An order ShipStation already has in a status it will not change (shipped, cancelled) is
        left alone and reported as a duplicate with a note, never downgraded to awaiting_*. An order
        it has in an updatable status is read whole (the listing of the look-up, or ``GET /orders/{id}``
        when the look-up was answered from memory) and sent back with only Connex's fields changed
        (:func:`~connex_shipstation.mapping.merge_for_update`): the warehouse's weight, dimensions,
        carrier, service, package, confirmation, tags, warehouse and hold survive a re-sync.
        """
        existing = self._lookup(writes)
        results: list[WriteResult] = []
        to_send: list[tuple[OrderWrite, dict]] = []
        for w in writes:
            current = existing.get(order_key_for(w.order))
            if current and "items" not in current:  # remembered, not read: the update needs the whole order
                current = self.client.get_order(current["orderId"]) or None
            if current and current.get("orderStatus") not in UPDATABLE_STATUSES:
                results.append(WriteResult(key=w.key, ok=True, duplicate=True, target_id=str(current["orderId"]),
                                           target_number=current.get("orderNumber"),
                                           note=f"already {current.get('orderStatus')} in ShipStation; left unchanged"))
                continue
            try:
                payload = order_to_shipstation(w.order, store_id=self.settings.store_id)
            except UnknownCountry as exc:  # that order fails, naming the value and the field; the others go on
                results.append(WriteResult(w.key, ok=False, error=str(exc)))
                continue
            if current:  # createorders replaces the whole order: keep what the warehouse set
                payload = merge_for_update(current, payload)
            if current and (current.get("advancedOptions") or {}).get("mergedOrSplit"):
                payload["orderId"] = current["orderId"]  # ShipStation needs it to update a split/merged order
            to_send.append((w, payload))
        for batch in batched(to_send, MAX_BATCH):
            results.extend(self._send(batch))
        # A refusal where the look-up was answered from memory (the order may have shipped since): ask again.
        stale = {w.key: w for w, _ in to_send if order_key_for(w.order) in self._from_memory}
        refused = [stale[r.key] for r in results if not r.ok and not r.retriable and r.key in stale]
        if refused:
            self._forget()
            again = {r.key: r for r in self.write_orders(refused)}
            results = [again.get(r.key, r) for r in results]
        return results

    def cancel_orders(self, writes: list[OrderWrite]) -> list[WriteResult]:
        """Take back orders Connex created (``connex undo``, ``write.undo``): ``DELETE /orders/{orderId}`` (a soft
        delete: ShipStation keeps the order inactive) for those not yet shipped; a shipped or cancelled one is
        left with the reason. ShipStation has no void of an order for ``on_cancel``: that raises, as before."""
        if not all(w.undo for w in writes):
            raise NotImplementedError(f"{self.name} cannot void orders (connex undo deletes the unshipped ones)")
        results = []
        for w in writes:
            current = self.client.get_order(w.target_ref or "")
            number = (current or {}).get("orderNumber") or w.order.number
            if current is None:
                results.append(WriteResult(w.key, ok=True, target_id=w.target_ref, note=f"order {number} was deleted already"))
            elif current.get("orderStatus") not in UPDATABLE_STATUSES:
                results.append(WriteResult(w.key, ok=False, target_id=w.target_ref,
                                           error=f"order {number} is {current.get('orderStatus')} in ShipStation; "
                                                 "only orders not yet shipped are deleted"))
            else:
                self.client.request("DELETE", f"/orders/{current['orderId']}")
                self._forget()  # the look-ups must ask ShipStation again
                results.append(WriteResult(w.key, ok=True, target_id=w.target_ref, target_number=number,
                                           note=f"order {number} deleted"))
        return results

    def list_documents(self, first: date, last: date, options: dict[str, Any]) -> Iterator[Found]:
        """The orders whose ``orderDate`` is on the Pacific days ``first..last`` (``GET /orders`` with
        ``orderDateStart``/``orderDateEnd`` in Pacific time, 500 a page), of the connection's store (``store_id``, the
        store Connex creates orders in; without it the whole account, orders the shops import included); cancelled
        ones left out (deleted ones ShipStation no longer lists). ``connex report`` names those no ledger knows."""
        params: dict[str, Any] = {"orderDateStart": format_filter(pacific_day_bounds(first)[0]),
                                  "orderDateEnd": format_filter(pacific_day_bounds(last)[1]),
                                  "sortBy": "OrderDate", "sortDir": "ASC"}
        if self.settings.store_id is not None:
            params["storeId"] = self.settings.store_id
        for page in self.client.list_orders(**params):
            for raw in page:
                if raw.get("orderStatus") == "cancelled":
                    continue
                when = parse_timestamp(raw.get("orderDate"))
                yield Found(target_id=str(raw["orderId"]), target_number=raw.get("orderNumber"),
                            description=f"ShipStation order {raw.get('orderNumber')} ({raw.get('orderStatus')})",
                            day=when.date() if when is not None else None)

    def _send(self, batch: list[tuple[OrderWrite, dict]]) -> list[WriteResult]:
        """One createorders call; a 400 is pinned on the order its ModelState names (or found by halving)."""
        if not batch:
            return []
        try:
            answer = self.client.create_orders([payload for _, payload in batch])
        except RetriableAPIError as exc:
            self._forget()  # the write may have been committed: the next look-up asks ShipStation
            return [WriteResult(key=w.key, ok=False, error=str(exc), retriable=True) for w, _ in batch]
        except ShipStationRequestError as exc:
            bad = {i for i in exc.order_indexes() if i < len(batch)}
            if not bad and len(batch) > 1:
                middle = len(batch) // 2
                return self._send(batch[:middle]) + self._send(batch[middle:])
            bad = bad or {0}
            failed = [WriteResult(key=batch[i][0].key, ok=False, error=f"ShipStation refused order "
                                  f"{batch[i][0].order.number}: {exc}") for i in sorted(bad)]
            return failed + self._send([item for i, item in enumerate(batch) if i not in bad])
        by_key = {r.get("orderKey"): r for r in (answer or {}).get("results") or []}
        results = []
        for w, payload in batch:
            r = by_key.get(payload["orderKey"])
            if r is None:
                results.append(WriteResult(key=w.key, ok=False, retriable=True,
                                           error="ShipStation gave no result for this order"))
            elif r.get("success"):
                self._remember(dict(payload, orderId=r.get("orderId")))
                results.append(WriteResult(key=w.key, ok=True, target_id=str(r.get("orderId")),
                                           target_number=r.get("orderNumber")))
            else:
                results.append(WriteResult(key=w.key, ok=False, error=f"ShipStation refused order "
                                           f"{w.order.number}: {r.get('errorMessage') or 'no reason given'}"))
        return results

