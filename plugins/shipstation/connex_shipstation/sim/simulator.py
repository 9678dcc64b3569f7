"""A stateful simulation of ShipStation API v1, for tests, the demo and benchmarks.

Served by :class:`connex_core.sandbox.SandboxServer` at ``/shipstation``; the real client talks to
it over HTTP exactly as to ``https://ssapi.shipstation.com``. What it does as ShipStation does:

* Basic auth with an API key and secret (401 otherwise);
* 40 requests per minute per key, on the sandbox clock, with ``X-Rate-Limit-Limit/Remaining/Reset``
  on every answer and a 429 when the window is used up;
* ``GET /orders`` with its filters (create, modify, order and payment date ranges in Pacific time,
  ``orderStatus``, ``storeId``, ``customerName``, ``itemKeyword``, and ``orderNumber`` as a
  *starts with* match), ``sortBy``/``sortDir``, ``page``/``pageSize`` (at most 500);
* ``GET /orders/{id}`` (404 with an empty body when unknown), ``DELETE /orders/{id}`` (soft delete);
* ``POST /orders/createorder`` and ``/createorders`` (at most 100): upsert by ``orderKey``, a full
  replace; shipped and cancelled orders are refused per order; per-order results; the ASP.NET 400
  ``ModelState`` body when an object is sent instead of an array (or the reverse) or a value cannot
  be read (``apiOrders[3].items[0].quantity``);
* ``POST /orders/markasshipped`` (recorded under ``GET /fulfillments``), and labels created with
  :meth:`ShipStationSimulator.ship_order` (under ``GET /shipments``), voidable;
* ``GET /stores``, ``GET /accounts/listtags``, webhooks subscribe / list / unsubscribe, and
  ``ORDER_NOTIFY`` (new orders, one import batch per store) and ``SHIP_NOTIFY`` (labels)
  notifications queued in :attr:`outbox` and POSTed by :meth:`deliver_webhooks`; their
  ``resource_url`` lists the batch (``/orders?storeID=..&importBatch=..``, ``/shipments?batchId=..``);
* every timestamp as Pacific wall-clock time with no offset (``2026-09-15T23:30:00.0000000``).

Fault injection (errors, slow and dropped responses, a write committed whose response is lost)
comes from the base class: ``simulator.faults.add(Fault(...))``.

Where the real behaviour is not documented, the simulator's choice is stated in the method's
docstring (the default sort order, the wording of per-order error messages).
"""

from __future__ import annotations

import base64
import copy
import hmac
import json
import math
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import requests

from connex_core.sandbox import Request, Response, SimClock, SimulatedService, WindowLimiter, json_response, route

from ..client import MAX_BATCH, MAX_PAGE_SIZE, ORDER_STATUSES, UPDATABLE_STATUSES
from .generator import STORES, TAGS, OrderGenerator
from ..mapping import is_adjustment, money
from ..timezone import PACIFIC, format_timestamp, parse_timestamp

DEFAULT_PAGE_SIZE = 100
WEBHOOK_EVENTS = ("ORDER_NOTIFY", "ITEM_ORDER_NOTIFY", "SHIP_NOTIFY", "ITEM_SHIP_NOTIFY", "FULFILLMENT_SHIPPED",
                  "FULFILLMENT_REJECTED")
INVALID = "The request is invalid."

ADDRESS_TEMPLATE: dict[str, Any] = {
    "name": None, "company": None, "street1": None, "street2": None, "street3": None, "city": None, "state": None,
    "postalCode": None, "country": None, "phone": None, "residential": None, "addressVerified": None,
}
ITEM_TEMPLATE: dict[str, Any] = {
    "orderItemId": None, "lineItemKey": None, "sku": None, "name": None, "imageUrl": None,
    "weight": {"value": 0, "units": "ounces"}, "quantity": 1, "unitPrice": 0.0, "taxAmount": None,
    "shippingAmount": None, "warehouseLocation": None, "options": [], "productId": None, "fulfillmentSku": None,
    "adjustment": False, "upc": None, "createDate": None, "modifyDate": None,
}
ADVANCED_TEMPLATE: dict[str, Any] = {
    "warehouseId": 98765, "nonMachinable": False, "saturdayDelivery": False, "containsAlcohol": False,
    "mergedOrSplit": False, "mergedIds": [], "parentId": None, "storeId": STORES[0]["storeId"], "customField1": None,
    "customField2": None, "customField3": None, "source": None, "billToParty": None, "billToAccount": None,
    "billToPostalCode": None, "billToCountryCode": None, "billToMyOtherAccount": None,
}
ORDER_TEMPLATE: dict[str, Any] = {
    "orderId": None, "orderNumber": None, "orderKey": None, "orderDate": None, "createDate": None,
    "modifyDate": None, "paymentDate": None, "shipByDate": None, "orderStatus": None, "customerId": None,
    "customerUsername": None, "customerEmail": None, "billTo": ADDRESS_TEMPLATE, "shipTo": ADDRESS_TEMPLATE,
    "items": [], "orderTotal": 0.0, "amountPaid": 0.0, "taxAmount": 0.0, "shippingAmount": 0.0,
    "customerNotes": None, "internalNotes": None, "gift": False, "giftMessage": None, "paymentMethod": None,
    "requestedShippingService": None, "carrierCode": None, "serviceCode": None, "packageCode": None,
    "confirmation": None, "shipDate": None, "holdUntilDate": None, "weight": {"value": 0, "units": "ounces"},
    "dimensions": None, "insuranceOptions": {"provider": None, "insureShipment": False, "insuredValue": 0.0},
    "internationalOptions": {"contents": None, "customsItems": None, "nonDelivery": None},
    "advancedOptions": ADVANCED_TEMPLATE, "tagIds": None, "userId": None, "externallyFulfilled": False,
    "externallyFulfilledBy": None, "externallyFulfilledById": None, "externallyFulfilledByName": None,
    "labelMessages": None,
}
STORE_TEMPLATE: dict[str, Any] = {
    "accountName": None, "active": True, "autoRefresh": True, "companyName": "", "createDate": "2024-01-02T09:00:00.000",
    "email": "", "integrationUrl": "", "lastRefreshAttempt": None, "marketplaceId": 0, "marketplaceName": "",
    "modifyDate": "2024-01-02T09:00:00.000", "phone": "", "publicEmail": "", "refreshDate": None,
    "statusMappings": "", "storeId": 0, "storeName": "", "website": "",
}


def _merge(template: dict[str, Any], given: Any) -> dict[str, Any]:
    """A copy of ``template`` with the known keys of ``given`` (a full replace: omitted keys reset)."""
    result = copy.deepcopy(template)
    if isinstance(given, dict):
        result.update({k: v for k, v in given.items() if k in template})
    return result


def _in_range(value: Optional[str], start: Optional[str], end: Optional[str]) -> bool:
    """Whether a stored Pacific timestamp lies in [start, end] (filters are Pacific too; absent ends are open)."""
    if not start and not end:
        return True
    moment = parse_timestamp(value)
    if moment is None:
        return False
    return (not start or moment >= parse_timestamp(start)) and (not end or moment <= parse_timestamp(end))


def _model_state(key: str, message: str) -> Response:
    return json_response({"Message": INVALID, "ModelState": {key: [message]}}, 400)


def _not_array_message(type_name: str) -> str:
    return (f"Cannot deserialize the current JSON object (e.g. {{\"name\":\"value\"}}) into type '{type_name}' "
            "because the type requires a JSON array (e.g. [1,2,3]) to deserialize correctly.")


class ShipStationSimulator(SimulatedService):
    """The simulated ShipStation API. State: :attr:`orders` (by id), :attr:`shipments`, :attr:`fulfillments`,
    :attr:`webhooks`; :attr:`write_calls` counts the write requests answered."""

    name = "shipstation"

    @classmethod
    def account_credentials(cls, n: int) -> dict[str, Any]:
        return {"api_key": f"ss-sandbox-key-a{n}", "api_secret": f"ss-sandbox-secret-a{n}"}

    def __init__(self, clock: Optional[SimClock] = None, seed: int = 0, api_key: str = "ss-sandbox-key",
                 api_secret: str = "ss-sandbox-secret", rate_limit: int = 40):
        super().__init__(clock=clock, seed=seed)
        self.api_key, self.api_secret = api_key, api_secret
        self.limiter = WindowLimiter(rate_limit, 60.0, self.clock)
        self.generator = OrderGenerator(seed)
        self.orders: dict[int, dict[str, Any]] = {}
        self.deleted: set[int] = set()
        self.upsert_by_order_key = True
        """``createorder(s)`` updates the order that has the payload's ``orderKey`` (ShipStation API docs,
        Create/Update Order: "If the orderKey is specified, the method becomes idempotent and the existing
        order with that key will be updated"). Off, every create is a new order: the chaos harness can turn it
        off (issue 15) so that a repeated write shows up as a second order instead of being absorbed."""
        self.shipments: list[dict[str, Any]] = []
        self.fulfillments: list[dict[str, Any]] = []
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.outbox: list[tuple[str, dict[str, Any]]] = []
        """Webhook notifications waiting for :meth:`deliver_webhooks`: (target URL, body)."""
        self._order_batches: dict[str, set[int]] = {}
        self._shipment_batches: dict[str, set[int]] = {}
        self.stores = [_merge(STORE_TEMPLATE, dict(s, accountName=f"ACCT{s['storeId']}")) for s in STORES]
        self.tags = copy.deepcopy(TAGS)
        self.write_calls = 0
        self._order_ids = count(100_000_001)
        self._item_ids = count(500_000_001)
        self._shipment_ids = count(700_000_001)
        self._webhook_ids = count(1001)

    # -- base hooks ------------------------------------------------------------------------------
    def client_config(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "api_key": self.api_key, "api_secret": self.api_secret}

    def authenticate(self, request: Request) -> Optional[Response]:
        expected = base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
        given = request.headers.get("authorization", "")
        if given.startswith("Basic ") and hmac.compare_digest(given[6:].strip(), expected):
            return None
        return Response(401, b"", {"WWW-Authenticate": 'Basic realm="ShipStation"'})

    def rate_limit(self, request: Request) -> tuple[Optional[Response], dict[str, str]]:
        allowed, remaining, reset = self.limiter.hit(self.api_key)
        headers = {"X-Rate-Limit-Limit": str(self.limiter.limit), "X-Rate-Limit-Remaining": str(remaining),
                   "X-Rate-Limit-Reset": str(max(1, math.ceil(reset)))}
        if allowed:
            return None, headers
        return json_response({"message": "Too Many Requests"}, 429, headers), {}

    def not_found(self, request: Request) -> Response:
        return json_response({"Message": f"No HTTP resource was found that matches the request URI '{request.path}'."},
                             404)

    # -- state helpers (also the Python API for tests and the demo) ------------------------------
    def _now(self) -> str:
        return format_timestamp(self.clock.utcnow())

    def _by_key(self, order_key: Optional[str]) -> Optional[dict[str, Any]]:
        if not order_key or not self.upsert_by_order_key:
            return None
        for order_id, order in self.orders.items():
            if order["orderKey"] == order_key and order_id not in self.deleted:
                return order
        return None

    def _notify(self, event: str, store_id: Any, resource_path: str) -> None:
        """Queue an ``event`` notification for every webhook subscribed to it (and to this store, if it names one)."""
        for hook in self.webhooks.values():
            if hook["HookType"] == event and hook["StoreID"] in (None, store_id):
                self.outbox.append((hook["Url"], {"resource_url": self.base_url + resource_path,
                                                  "resource_type": event}))

    def _wants(self, event: str) -> bool:
        return any(hook["HookType"] == event for hook in self.webhooks.values())

    def _imported(self, orders: list[dict[str, Any]]) -> None:
        """New orders came in: one import batch, and one ORDER_NOTIFY, per store."""
        if not self._wants("ORDER_NOTIFY"):
            return
        by_store: dict[Any, set[int]] = {}
        for order in orders:
            by_store.setdefault(order["advancedOptions"]["storeId"], set()).add(order["orderId"])
        for store_id, ids in by_store.items():
            batch = "%032x" % self.generator.rng.getrandbits(128)
            self._order_batches[batch] = ids
            self._notify("ORDER_NOTIFY", store_id, f"/orders?storeID={store_id}&importBatch={batch}")

    def deliver_webhooks(self, timeout: float = 5.0) -> int:
        """POST the queued notifications to their targets, loopback ones only; returns how many got a 2xx.

        Called by whoever drives the simulator (a test, the demo), outside any request, so the
        receiver can call back for the ``resource_url`` at once.
        """
        with self.lock:
            pending, self.outbox = self.outbox, []
        delivered = 0
        for url, body in pending:
            if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
                continue
            try:
                delivered += requests.post(url, json=body, timeout=timeout).ok
            except requests.RequestException:
                pass
        return delivered

    def _materialise(self, payload: dict[str, Any], existing: Optional[dict[str, Any]]) -> dict[str, Any]:
        """The stored order for a create/upsert payload: defaults filled, read-only fields computed."""
        now = self._now()
        order = _merge(ORDER_TEMPLATE, payload)
        order["billTo"] = _merge(ADDRESS_TEMPLATE, payload.get("billTo"))
        order["shipTo"] = _merge(ADDRESS_TEMPLATE, payload.get("shipTo"))
        order["advancedOptions"] = _merge(ADVANCED_TEMPLATE, payload.get("advancedOptions"))
        order["orderId"] = existing["orderId"] if existing else payload.get("orderId") or next(self._order_ids)
        order["createDate"] = existing["createDate"] if existing else payload.get("createDate") or now
        order["modifyDate"] = payload.get("createDate") if not existing and payload.get("createDate") else now
        if existing:  # set at creation only
            order["orderKey"] = existing["orderKey"]
            order["advancedOptions"]["storeId"] = existing["advancedOptions"]["storeId"]
        elif not order["orderKey"]:
            order["orderKey"] = "%032x" % self.generator.rng.getrandbits(128)
        items = []
        for given in payload.get("items") or []:
            item = _merge(ITEM_TEMPLATE, given)
            item["orderItemId"] = next(self._item_ids)
            item["createDate"] = item["modifyDate"] = order["createDate"][:23]
            items.append(item)
        order["items"] = items
        products = sum((money(i["unitPrice"]) * i["quantity"] for i in items), Decimal(0))
        tax = money(order["taxAmount"]) or sum((money(i["taxAmount"]) for i in items), Decimal(0))
        shipping = money(order["shippingAmount"]) or sum((money(i["shippingAmount"]) for i in items), Decimal(0))
        order["taxAmount"], order["shippingAmount"] = money(order["taxAmount"]), money(order["shippingAmount"])
        order["orderTotal"] = products + tax + shipping
        order["amountPaid"] = money(order["amountPaid"])
        return order

    def _validate(self, payload: Any) -> Optional[str]:
        """Why ShipStation would refuse this order (per order), or None."""
        if not isinstance(payload, dict):
            return "The order must be an object."
        for field in ("orderNumber", "orderDate", "orderStatus", "billTo", "shipTo"):
            if not payload.get(field):
                return f"{field} is required."
        if payload["orderStatus"] not in ORDER_STATUSES:
            return f"Invalid orderStatus '{payload['orderStatus']}'."
        existing = self._by_key(payload.get("orderKey"))
        if existing and existing["orderStatus"] not in UPDATABLE_STATUSES:
            return f"The order cannot be updated: its status is {existing['orderStatus']}."
        if existing and existing["advancedOptions"]["mergedOrSplit"] and payload.get("orderId") != existing["orderId"]:
            return "The orderId is required to update a split or merged order."
        return None

    @staticmethod
    def _unreadable(orders: list[Any], prefix: str) -> Optional[Response]:
        """The 400 ModelState ShipStation gives when a value cannot be deserialised (a non-integer quantity)."""
        for i, order in enumerate(orders):
            for j, item in enumerate((order or {}).get("items") or [] if isinstance(order, dict) else []):
                quantity = item.get("quantity") if isinstance(item, dict) else None
                if quantity is not None and not (isinstance(quantity, int) and not isinstance(quantity, bool)):
                    key = f"{prefix}[{i}].items[{j}].quantity" if prefix == "apiOrders" else f"{prefix}.items[{j}].quantity"
                    return _model_state(key, f"Error converting value {json.dumps(quantity, default=str)} to type 'System.Int32'.")
        return None

    def _upsert(self, payload: dict[str, Any]) -> dict[str, Any]:
        existing = self._by_key(payload.get("orderKey"))
        order = self._materialise(payload, existing)
        self.orders[order["orderId"]] = order
        return order

    def add_order(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Store an order as if a store had imported it (upsert by orderKey); returns the stored order."""
        with self.lock:
            is_new = self._by_key(payload.get("orderKey")) is None
            order = self._upsert(payload)
            if is_new:
                self._imported([order])
            return copy.deepcopy(order)

    def seed_orders(self, n: int, start: Optional[datetime] = None) -> list[dict[str, Any]]:
        """Add ``n`` realistic orders (deterministic by the simulator's seed) and ship the shipped ones.

        Orders are created evenly from ``start`` (default: six days before the clock's now) over the
        next six days, oldest first; split orders count as two of the ``n``.
        """
        start = start or self.clock.utcnow() - timedelta(days=6)
        step = timedelta(days=6) / (n + 1)
        added: list[dict[str, Any]] = []
        with self.lock:
            while len(added) < n:
                created = start + step * (len(added) + 1)
                batch = self.generator.order(next(self._order_ids), created)
                if len(batch) > 1:
                    next(self._order_ids)
                for generated in batch[: n - len(added)]:
                    order = self._upsert(generated.payload)
                    if generated.paid:
                        order["amountPaid"] = order["orderTotal"] if generated.share == 1 else \
                            (money(order["orderTotal"]) * generated.share).quantize(Decimal("0.01"))
                    if generated.ship:
                        self.ship_order(order["orderId"], order["carrierCode"], self._tracking_number(),
                                        parse_timestamp(order["createDate"]).date() + timedelta(days=1),
                                        Decimal("4.35") + len(order["items"]), label=generated.ship == "label",
                                        at=order["createDate"])
                    added.append(copy.deepcopy(order))
            self._imported(added)
        return added

    def seed(self, n: int) -> int:
        """``connex sandbox --seed-orders N`` and the demo: ``n`` realistic orders over the last six days."""
        return len(self.seed_orders(n)) if n > 0 else 0

    def simulate_activity(self) -> dict[str, int]:
        """The warehouse ships every open order that came from an accounting system (orderKey ``connex:...``)."""
        shipped = 0
        with self.lock:
            for order in list(self.orders.values()):
                if (order["orderStatus"] in ("awaiting_shipment", "awaiting_payment")
                        and str(order.get("orderKey") or "").startswith("connex:")):
                    self.ship_order(order["orderId"], order.get("carrierCode") or "usps", self._tracking_number(),
                                    self.clock.utcnow().astimezone(PACIFIC).date(), Decimal("5.60"))
                    shipped += 1
        return {"orders shipped": shipped} if shipped else {}

    def _tracking_number(self) -> str:
        return "94001118995627" + "%08d" % self.generator.rng.randrange(10**8)

    def ship_order(self, order_id: int, carrier: str, tracking_number: str, ship_date: date,
                   cost: Decimal | float = Decimal("0"), *, label: bool = True, at: Optional[str] = None) -> dict[str, Any]:
        """Mark an order shipped: a label under ``/shipments`` (``label=True``), else a fulfillment
        (shipped outside ShipStation, as ``markasshipped`` records it). Returns the new record."""
        with self.lock:
            order = self.orders[int(order_id)]
            when = at or self._now()
            order.update(orderStatus="shipped", shipDate=ship_date.isoformat(), modifyDate=max(when, order["modifyDate"]))
            ship_to = copy.deepcopy(order["shipTo"])
            if label:
                record = {
                    "advancedOptions": {k: order["advancedOptions"][k] for k in
                                        ("billToAccount", "billToCountryCode", "billToParty", "billToPostalCode", "storeId")},
                    "batchNumber": None, "carrierCode": carrier, "confirmation": "none", "createDate": when,
                    "customerEmail": order["customerEmail"], "dimensions": None, "formData": None,
                    "insuranceCost": 0.0, "insuranceOptions": copy.deepcopy(order["insuranceOptions"]),
                    "isReturnLabel": False, "labelData": None, "marketplaceNotified": True, "notifyErrorMessage": None,
                    "orderId": order["orderId"], "orderKey": order["orderKey"], "orderNumber": order["orderNumber"],
                    "packageCode": "package", "serviceCode": order["serviceCode"], "shipDate": ship_date.isoformat(),
                    "shipTo": ship_to, "shipmentCost": money(cost), "shipmentId": next(self._shipment_ids),
                    "shipmentItems": None, "trackingNumber": tracking_number, "userId": None, "voidDate": None,
                    "voided": False, "warehouseId": order["advancedOptions"]["warehouseId"],
                    "weight": dict(copy.deepcopy(order["weight"]), WeightUnits=1),
                }
                self.shipments.append(record)
                if self._wants("SHIP_NOTIFY"):
                    batch = str(next(self._shipment_ids))
                    self._shipment_batches[batch] = {record["shipmentId"]}
                    self._notify("SHIP_NOTIFY", order["advancedOptions"]["storeId"],
                                 f"/shipments?batchId={batch}&includeShipmentItems=False")
            else:
                record = {
                    "carrierCode": carrier, "createDate": when, "customerEmail": order["customerEmail"],
                    "deliveryDate": None, "fulfillmentFee": money(cost), "fulfillmentId": next(self._shipment_ids),
                    "fulfillmentProviderCode": None, "fulfillmentServiceCode": None, "marketplaceNotified": False,
                    "notifyErrorMessage": None, "orderId": order["orderId"], "orderNumber": order["orderNumber"],
                    "shipDate": ship_date.isoformat() + "T00:00:00.0000000", "shipTo": ship_to,
                    "trackingNumber": tracking_number, "userId": None, "voidDate": None, "voidRequested": False,
                    "voided": False,
                }
                self.fulfillments.append(record)
            return copy.deepcopy(record)

    def void_shipment(self, shipment_id: int) -> None:
        """Void a label (it stays listed under /shipments, with ``voided: true``)."""
        with self.lock:
            for shipment in self.shipments:
                if shipment["shipmentId"] == shipment_id:
                    shipment.update(voided=True, voidDate=self._now())

    # -- listings --------------------------------------------------------------------------------
    @staticmethod
    def _page(request: Request, key: str, records: list[dict[str, Any]],
              sort_fields: dict[str, Callable[[dict], Any]], default_sort: Callable[[dict], Any]) -> Response:
        """Sort, page and answer ``{key: [...], total, page, pages}`` (pageSize at most 500)."""
        sort_by = (request.arg("sortBy") or "").lower()
        sort_key = sort_fields.get(sort_by, default_sort)
        records = sorted(records, key=lambda r: (sort_key(r) or "", r.get("orderId") or 0),
                         reverse=(request.arg("sortDir") or "ASC").upper() == "DESC")
        size = max(1, min(MAX_PAGE_SIZE, int(request.arg("pageSize") or DEFAULT_PAGE_SIZE)))
        page = max(1, int(request.arg("page") or 1))
        total = len(records)
        return json_response({key: copy.deepcopy(records[(page - 1) * size: page * size]), "total": total,
                              "page": page, "pages": math.ceil(total / size)})

    @route("GET", "/orders")
    def list_orders(self, request: Request) -> Response:
        """List orders. With no ``sortBy`` the simulator sorts by orderId ascending (undocumented in the real API)."""
        a = request.arg
        number, status, store = a("orderNumber"), a("orderStatus"), a("storeId")
        name, keyword = (a("customerName") or "").lower(), (a("itemKeyword") or "").lower()
        ranges = [(field, a(f"{prefix}Start"), a(f"{prefix}End")) for field, prefix in
                  (("createDate", "createDate"), ("modifyDate", "modifyDate"), ("orderDate", "orderDate"),
                   ("paymentDate", "paymentDate"))]
        batch = self._order_batches.get(a("importBatch") or "", set()) if a("importBatch") else None
        found = []
        for order_id, order in self.orders.items():
            if order_id in self.deleted or (batch is not None and order_id not in batch):
                continue
            if number and not str(order["orderNumber"]).lower().startswith(number.lower()):
                continue
            if status and order["orderStatus"] != status:
                continue
            if store and str(order["advancedOptions"]["storeId"]) != store:
                continue
            if name and name not in (order["billTo"]["name"] or "").lower() and name not in (order["shipTo"]["name"] or "").lower():
                continue
            if keyword and not any(keyword in f"{i['sku']} {i['name']}".lower() for i in order["items"]):
                continue
            if all(_in_range(order[field], start, end) for field, start, end in ranges):
                found.append(order)
        return self._page(request, "orders", found,
                          {"orderdate": lambda o: o["orderDate"], "modifydate": lambda o: o["modifyDate"],
                           "createdate": lambda o: o["createDate"]}, lambda o: o["orderId"])

    @route("GET", "/orders/{order_id}")
    def get_order(self, request: Request) -> Response:
        order = self.orders.get(int(request.params["order_id"])) if request.params["order_id"].isdigit() else None
        return json_response(copy.deepcopy(order)) if order else Response(404, b"")

    @route("GET", "/shipments")
    def list_shipments(self, request: Request) -> Response:
        found = self._filter_shipped(request, self.shipments)
        if (request.arg("includeShipmentItems") or "").lower() == "true":
            found = [dict(s, shipmentItems=self._shipment_items(s["orderId"])) for s in found]
        return self._page(request, "shipments", found, {"shipdate": lambda s: s["shipDate"],
                                                        "createdate": lambda s: s["createDate"]},
                          lambda s: s["shipmentId"])

    @route("GET", "/fulfillments")
    def list_fulfillments(self, request: Request) -> Response:
        found = self._filter_shipped(request, self.fulfillments)
        return self._page(request, "fulfillments", found, {"shipdate": lambda f: f["shipDate"],
                                                           "createdate": lambda f: f["createDate"]},
                          lambda f: f["fulfillmentId"])

    def _filter_shipped(self, request: Request, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        a = request.arg
        exact = {k: a(k) for k in ("orderId", "orderNumber", "trackingNumber", "carrierCode") if a(k)}
        store = a("storeId")
        batch = self._shipment_batches.get(a("batchId") or "", set()) if a("batchId") else None
        found = []
        for record in records:
            if batch is not None and record.get("shipmentId") not in batch:
                continue
            if any(str(record.get(k)) != v for k, v in exact.items()):
                continue
            if store and str((record.get("advancedOptions") or {}).get("storeId")) != store:
                continue
            if not _in_range(record["createDate"], a("createDateStart"), a("createDateEnd")):
                continue
            if not _in_range(record["shipDate"], a("shipDateStart"), a("shipDateEnd")):
                continue
            found.append(record)
        return found

    def _shipment_items(self, order_id: int) -> list[dict[str, Any]]:
        order = self.orders.get(order_id) or {"items": []}
        return [copy.deepcopy(i) for i in order["items"] if not is_adjustment(i)]

    # -- writes ----------------------------------------------------------------------------------
    def _body(self, request: Request) -> Any:
        return json.loads(request.body.decode("utf-8"), parse_float=Decimal) if request.body.strip() else None

    @route("POST", "/orders/createorders")
    def create_orders(self, request: Request) -> Response:
        """Upsert up to 100 orders by orderKey; one result per order, in order.

        Per-order refusals (a shipped order, a missing field) are ``success: false`` results with an
        ``errorMessage`` worded by the simulator; the real wording is not documented.
        """
        self.write_calls += 1
        body = self._body(request)
        if not isinstance(body, list):
            return _model_state("apiOrders.orderNumber", _not_array_message("SS.OpenApi.Models.Orders.Order[]"))
        if len(body) > MAX_BATCH:
            return _model_state("apiOrders", f"A maximum of {MAX_BATCH} orders can be created or updated at once.")
        unreadable = self._unreadable(body, "apiOrders")
        if unreadable is not None:
            return unreadable
        results, created = [], []
        for payload in body:
            error = self._validate(payload)
            if error:
                payload = payload if isinstance(payload, dict) else {}
                results.append({"orderId": None, "orderNumber": payload.get("orderNumber"),
                                "orderKey": payload.get("orderKey"), "success": False, "errorMessage": error})
                continue
            is_new = self._by_key(payload.get("orderKey")) is None
            order = self._upsert(payload)
            if is_new:
                created.append(order)
            results.append({"orderId": order["orderId"], "orderNumber": order["orderNumber"],
                            "orderKey": order["orderKey"], "success": True, "errorMessage": None})
        self._imported(created)
        return json_response({"hasErrors": any(not r["success"] for r in results), "results": results})

    @route("POST", "/orders/createorder")
    def create_order(self, request: Request) -> Response:
        """Upsert one order by orderKey (a full replace); answers the stored order."""
        self.write_calls += 1
        body = self._body(request)
        if not isinstance(body, dict):
            return _model_state("order", "Cannot deserialize the current JSON array (e.g. [1,2,3]) into type "
                                         "'SS.OpenApi.Models.Orders.Order' because the type requires a JSON object.")
        unreadable = self._unreadable([body], "order")
        if unreadable is not None:
            return unreadable
        error = self._validate(body)
        if error:
            return _model_state("order", error)
        is_new = self._by_key(body.get("orderKey")) is None
        order = self._upsert(body)
        if is_new:
            self._imported([order])
        return json_response(copy.deepcopy(order))

    @route("POST", "/orders/markasshipped")
    def mark_as_shipped(self, request: Request) -> Response:
        self.write_calls += 1
        body = self._body(request) or {}
        order = self.orders.get(int(body.get("orderId") or 0))
        if order is None:
            return json_response({"Message": "An error has occurred.",
                                  "ExceptionMessage": "Object reference not set to an instance of an object."}, 500)
        ship_date = parse_timestamp(body.get("shipDate")) or self.clock.utcnow()
        self.ship_order(order["orderId"], body.get("carrierCode"), body.get("trackingNumber"), ship_date.date(),
                        label=False)
        return json_response({"orderId": order["orderId"], "orderNumber": order["orderNumber"]})

    # -- the warehouse's work (what a ShipStation user does to an order between syncs) ------------------
    @route("POST", "/orders/holduntil")
    def hold_until(self, request: Request) -> Response:
        """Hold an order until a date: it becomes ``on_hold`` with ``holdUntilDate`` (v1 "Hold order until",
        api-contracts §1.5; the reply's wording is the simulator's)."""
        self.write_calls += 1
        body = self._body(request) or {}
        order = self.orders.get(int(body.get("orderId") or 0))
        if order is None or not body.get("holdUntilDate"):
            return _model_state("holdUntilDate" if order else "orderId", "The order and a date are required.")
        order.update(orderStatus="on_hold", holdUntilDate=str(body["holdUntilDate"]), modifyDate=self._now())
        return json_response({"success": True, "message": "Order held successfully."})

    @route("POST", "/orders/addtag")
    def add_tag(self, request: Request) -> Response:
        """Tag an order (v1 "Add tag to order", api-contracts §1.5; the tag must exist: ``GET /accounts/listtags``)."""
        self.write_calls += 1
        body = self._body(request) or {}
        order = self.orders.get(int(body.get("orderId") or 0))
        tag_id = body.get("tagId")
        if order is None or tag_id not in {t["tagId"] for t in self.tags}:
            return _model_state("tagId" if order else "orderId", "The order and an existing tag are required.")
        order["tagIds"] = sorted({*(order.get("tagIds") or []), tag_id})
        order["modifyDate"] = self._now()
        return json_response({"success": True, "message": "Tag added successfully."})

    def edit_in_shipstation(self, order_id: int, **fields: Any) -> dict[str, Any]:
        """A ShipStation user edits an order in the web app (weight, dimensions, carrier/service/package,
        confirmation, insurance, the warehouse in ``advancedOptions``, an item's weight or warehouse location by
        ``items=[{"lineItemKey": ..., "weight": ...}]``): those fields change and ``modifyDate`` moves, which is how
        the edit appears to the API (``GET /orders/{orderId}``, api-contracts §1.4). Returns the stored order."""
        with self.lock:
            order = self.orders[order_id]
            for key, value in fields.items():
                if key == "advancedOptions":
                    order["advancedOptions"].update(value)
                elif key == "items":
                    for change in value:
                        item = next(i for i in order["items"] if i["lineItemKey"] == change["lineItemKey"])
                        item.update({k: v for k, v in change.items() if k != "lineItemKey"})
                else:
                    if key not in ORDER_TEMPLATE:
                        raise KeyError(f"not a field of a ShipStation order: {key}")
                    order[key] = value
            order["modifyDate"] = self._now()
            return copy.deepcopy(order)

    @route("DELETE", "/orders/{order_id}")
    def delete_order(self, request: Request) -> Response:
        self.write_calls += 1
        order_id = int(request.params["order_id"]) if request.params["order_id"].isdigit() else -1
        if order_id not in self.orders:
            return Response(404, b"")
        self.deleted.add(order_id)
        return json_response({"success": True, "message": "The requested order has been deleted."})

    # -- account and webhooks --------------------------------------------------------------------
    @route("GET", "/stores")
    def list_stores(self, request: Request) -> Response:
        return json_response(copy.deepcopy(self.stores))

    @route("GET", "/accounts/listtags")
    def list_tags(self, request: Request) -> Response:
        return json_response(copy.deepcopy(self.tags))

    @route("POST", "/webhooks/subscribe")
    def subscribe(self, request: Request) -> Response:
        self.write_calls += 1
        body = self._body(request) or {}
        if body.get("event") not in WEBHOOK_EVENTS or not body.get("target_url"):
            return _model_state("subscribe", "target_url and a known event are required.")
        hook_id = next(self._webhook_ids)
        self.webhooks[hook_id] = {
            "IsLabelAPIHook": False, "WebHookID": hook_id, "SellerID": 100000, "StoreID": body.get("store_id"),
            "HookType": body["event"], "MessageFormat": "Json", "Url": body["target_url"],
            "Name": body.get("friendly_name"), "BulkCopyBatchID": None, "BulkCopyRecordID": None, "Active": True,
            "WebhookLogs": [], "Seller": None, "Store": None,
        }
        return json_response({"id": hook_id}, 201)

    @route("GET", "/webhooks")
    def list_webhooks(self, request: Request) -> Response:
        return json_response({"webhooks": copy.deepcopy(list(self.webhooks.values()))})

    @route("DELETE", "/webhooks/{webhook_id}")
    def unsubscribe(self, request: Request) -> Response:
        self.write_calls += 1
        hook_id = int(request.params["webhook_id"]) if request.params["webhook_id"].isdigit() else -1
        if self.webhooks.pop(hook_id, None) is None:
            return Response(404, b"")
        return Response(200, b"")
