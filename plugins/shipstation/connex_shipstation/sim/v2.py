"""A stateful simulation of ShipStation API v2, for tests, the sandbox and the demo.

Mounted by ``connex sandbox`` at ``/shipstation-v2``; its API lives under ``/v2`` there, as under
``https://api.shipstation.com/v2``. Each rule below names its source (keys as in the plugin README,
"API v2 sources"); where v2 is not documented the simulator's choice is marked **choice**.

* auth: one ``api-key`` header; otherwise 401 with a v2 error body [SPEC];
* 200 requests a minute per key; over it a 429 with ``Retry-After`` (seconds) and an error whose
  ``error_code`` is ``rate_limit_exceeded`` [RL]; no ``X-Rate-Limit-*`` headers (documented for v1
  only [RL], **choice**);
* error bodies ``{request_id, errors: [{error_source, error_type, error_code, message}]}`` [SPEC], [ERR];
* ``GET /v2/shipments``: filters ``shipment_status``, ``created_at_*``, ``modified_at_*``,
  ``payment_date_*`` (a filter only [SPEC]), ``store_id``, ``shipment_number``,
  ``external_shipment_id``, ``sales_order_id``; ``sort_by`` ``modified_at``/``created_at``,
  ``sort_dir`` default ``desc`` [LIST]; pages of ``page_size`` (default 25; at most 500, **choice**:
  the maximum is undocumented) shaped ``{shipments, total, page, pages, links}``, ``links.next``
  only while ``page < pages``, a page past the end empty [SPEC];
* ``POST /v2/shipments`` ``{"shipments": [...]}``: partial success ``{has_errors, shipments}`` with
  ``errors`` per entry [SHIP]; ``ship_to`` required and ``ship_from`` or ``warehouse_id`` [SPEC];
  a duplicate ``external_shipment_id`` is refused [EXT], an id over 50 characters is cut [EXT];
  at most 100 per call (**choice**: undocumented); ids ``se-<digits>`` [MIG]; a future
  ``hold_until_date`` puts the shipment ``on_hold`` [HOLD];
* ``PUT /v2/shipments/{id}``: only the fields sent change [UPD]; the read-only fields
  (``shipment_id``, ``created_at``, ``modified_at``, ``shipment_status``, ``tags``, ``total_weight``,
  ``batch_ids``) and a changed ``external_shipment_id`` are refused [UPD], [EXT]; arrays are replaced
  whole (**choice**: unverified); a shipment with a label or cancelled is refused (**choice**:
  updates are "meant to happen before a label is bought" [UPD]); clearing ``hold_until_date``
  restores ``pending`` (**choice**: [HOLD] documents a restore call);
* ``PUT /v2/shipments/{id}/cancel`` -> 204 [SPEC]; ``GET /v2/shipments/external_shipment_id/{id}`` [EXT];
* labels (``GET /v2/labels``, one ``shipment_id`` per call, ``created_at_*``, ``sort_by``) with
  ``shipment_cost`` and ``insurance_cost`` money objects and ``voided`` [SPEC]; fulfillments
  (``POST``/``GET /v2/fulfillments``; fields beyond those of [FUL] are a **choice**);
* webhooks: ``POST``/``GET /v2/environment/webhooks`` [SPEC]; notifications
  ``{resource_url, resource_type}`` [WH] queued in :attr:`outbox`, POSTed by :meth:`deliver_webhooks`
  signed RSA-SHA256 with ``x-shipengine-rsa-sha256-key-id``, ``-signature`` and
  ``x-shipengine-timestamp`` [WHV] over ``timestamp + "." + body`` (**choice**: the signed string is
  unverified); the public key is served as a JWKS at ``GET /jwks`` (**choice**).
"""

from __future__ import annotations

import base64
import copy
import hmac
import json
import math
import random
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from itertools import count
from typing import Any, Optional
from urllib.parse import unquote, urlencode, urlsplit

import requests

from connex_core.sandbox import Request, Response, SimClock, SimulatedService, WindowLimiter, json_response, route

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 500
MAX_CREATE = 100
MAX_EXTERNAL_ID = 50
STATUSES = ("pending", "processing", "label_purchased", "cancelled", "on_hold")
READ_ONLY = ("shipment_id", "created_at", "modified_at", "shipment_status", "tags", "total_weight", "batch_ids")
#: Fields every shipment object carries: ``shipment.required`` of [SPEC].
REQUIRED_SHIPMENT_FIELDS = ("shipment_id", "created_at", "modified_at", "shipment_status", "ship_to", "ship_from",
                            "return_to", "confirmation", "advanced_options", "insurance_provider", "tags", "packages",
                            "total_weight")
WEBHOOK_EVENTS = ("batch", "carrier_connected", "order_source_refresh_complete", "rate", "report_complete",
                  "sales_orders_imported", "track", "batch_processed_v2", "track_event_v2", "shipment_created_v2",
                  "label_created_v2", "fulfillment_shipped_v2", "fulfillment_rejected_v2")

ADDRESS: dict[str, Any] = {
    "name": None, "phone": None, "email": None, "company_name": None, "address_line1": None, "address_line2": None,
    "address_line3": None, "city_locality": None, "state_province": None, "postal_code": None, "country_code": None,
    "address_residential_indicator": "unknown"}
WAREHOUSE_ADDRESS = dict(ADDRESS, name="Connex Warehouse", phone="555-0100", address_line1="100 Dock St",
                         city_locality="Austin", state_province="TX", postal_code="78701", country_code="US",
                         address_residential_indicator="no")
ITEM: dict[str, Any] = {
    "name": None, "sales_order_id": None, "sales_order_item_id": None, "quantity": 1, "sku": None, "bundle_sku": None,
    "external_order_id": None, "external_order_item_id": None, "asin": None, "order_source_code": None,
    "image_url": None, "weight": {"value": 0, "unit": "ounce"}, "unit_price": 0.0, "tax_amount": None,
    "shipping_amount": None, "inventory_location": None, "options": [], "product_id": None, "fulfillment_sku": None,
    "upc": None}
SHIPMENT: dict[str, Any] = {
    "shipment_id": None, "carrier_id": None, "service_code": None, "requested_shipment_service": None,
    "shipping_rule_id": None, "external_order_id": None, "hold_until_date": None, "ship_by_date": None,
    "retail_rate": None, "store_id": None, "items": [], "notes_from_buyer": None, "notes_for_gift": None,
    "is_gift": False, "assigned_user": None, "amount_paid": None, "shipping_paid": None, "tax_paid": None,
    "zone": None, "display_scheme": None, "tax_identifiers": None, "external_shipment_id": None,
    "shipment_number": None, "ship_date": None, "created_at": None, "modified_at": None, "shipment_status": "pending",
    "ship_to": ADDRESS, "ship_from": WAREHOUSE_ADDRESS, "warehouse_id": None, "return_to": WAREHOUSE_ADDRESS,
    "is_return": False, "confirmation": "none", "customs": None,
    "advanced_options": {"custom_field1": None, "custom_field2": None, "custom_field3": None, "bill_to_party": None,
                         "non_machinable": False, "saturday_delivery": False, "contains_alcohol": False},
    "insurance_provider": "none", "tags": [], "order_source_code": None, "packages": [],
    "total_weight": {"value": 0, "unit": "ounce"}, "comparison_rate_type": None}
PRODUCTS = [("MUG-BLK", "Black Mug", "12.50"), ("TEE-M", "T-Shirt M", "19.99"), ("CAP-RED", "Red Cap", "15.00"),
            ("SOCK-3", "Socks (3 pairs)", "9.95"), ("BAG-TOTE", "Tote Bag", "24.00")]
NAMES = ["Ada Park", "Ben Ortiz", "Chloe Nguyen", "Dev Patel", "Emma Rossi", "Felix Braun"]
STORES = [("se-2101", "amazon_us"), ("se-2102", "shopify"), ("se-2103", "ebay")]


def stamp(moment: datetime) -> str:
    """v2 timestamps: ISO 8601 in UTC with milliseconds and ``Z`` [SPEC]."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _merge(template: dict[str, Any], given: Any) -> dict[str, Any]:
    result = copy.deepcopy(template)
    if isinstance(given, dict):
        result.update({k: copy.deepcopy(v) for k, v in given.items() if k in template})
    return result


def _money(value: Any) -> Decimal:
    if isinstance(value, dict):
        value = value.get("amount")
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def _b64url(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class ShipStationV2Simulator(SimulatedService):
    """The simulated ShipStation API v2. State: :attr:`shipments` (by shipment_id), :attr:`labels`,
    :attr:`fulfillments`, :attr:`webhooks`; :attr:`write_calls` counts the write requests answered."""

    name = "shipstation"

    @classmethod
    def account_credentials(cls, n: int) -> dict[str, Any]:
        return {"api_key": f"ss-v2-sandbox-key-a{n}"}

    def __init__(self, clock: Optional[SimClock] = None, seed: int = 0, api_key: str = "ss-v2-sandbox-key",
                 rate_limit: int = 200):
        super().__init__(clock=clock, seed=seed)
        self.api_key = api_key
        self.limiter = WindowLimiter(rate_limit, 60.0, self.clock)
        self.rng = random.Random(seed)
        self.shipments: dict[str, dict[str, Any]] = {}
        self._external: dict[str, str] = {}  # external_shipment_id -> shipment_id (fixed at creation [EXT])
        self.labels: list[dict[str, Any]] = []
        self.fulfillments: list[dict[str, Any]] = []
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.outbox: list[tuple[str, dict[str, Any]]] = []
        self.warehouses = [{"warehouse_id": "se-1001", "name": "Main", "is_default": True,
                            "created_at": "2024-01-02T09:00:00.000Z", "origin_address": copy.deepcopy(WAREHOUSE_ADDRESS),
                            "return_address": copy.deepcopy(WAREHOUSE_ADDRESS)}]
        self.write_calls = 0
        self._ids = count(200_000_001)
        self._label_ids = count(300_000_001)
        self._key = None  # the webhook signing key, made on first use (RSA generation takes a moment)
        self.key_id = "connex-sim-1"

    # -- base hooks ------------------------------------------------------------------------------
    def client_config(self) -> dict[str, Any]:
        return {"api": "v2", "base_url": self.base_url + "/v2", "api_key": self.api_key,
                "webhook_jwks_url": self.base_url + "/jwks"}

    def _error(self, status: int, error_type: str, code: str, message: str, source: str = "shipstation",
               headers: Optional[dict[str, str]] = None) -> Response:
        return json_response({"request_id": str(uuid.UUID(int=self.rng.getrandbits(128))),
                              "errors": [{"error_source": source, "error_type": error_type, "error_code": code,
                                          "message": message}]}, status, headers)

    def authenticate(self, request: Request) -> Optional[Response]:
        if request.path.rstrip("/") == "/jwks":
            return None
        given = request.headers.get("api-key", "")
        if given and hmac.compare_digest(given.encode(), self.api_key.encode()):
            return None
        return self._error(401, "security", "unauthorized", "The API key is invalid. Please see https://www.shipstation.com/docs/api/")

    def rate_limit(self, request: Request) -> tuple[Optional[Response], dict[str, str]]:
        """200 a minute per key; a 429's ``Retry-After`` is the seconds until the window resets [RL]."""
        if request.path.rstrip("/") == "/jwks":
            return None, {}
        allowed, _remaining, reset = self.limiter.hit(self.api_key)
        if allowed:
            return None, {}
        return self._error(429, "system", "rate_limit_exceeded", "You have exceeded the rate limit.",
                           headers={"Retry-After": str(max(1, math.ceil(reset)))}), {}

    def not_found(self, request: Request) -> Response:
        return self._error(404, "validation", "not_found", f"No resource at {request.method} {request.path}")

    # -- state helpers (the Python API for tests, the demo and the warehouse) --------------------
    def _now(self) -> str:
        return stamp(self.clock.utcnow())

    def _by_external(self, external_id: Optional[str]) -> Optional[dict[str, Any]]:
        if not external_id:
            return None
        shipment = self.shipments.get(self._external.get(external_id, ""))
        return shipment if shipment is not None and shipment["external_shipment_id"] == external_id else None

    def _validate(self, payload: Any) -> Optional[str]:
        if not isinstance(payload, dict):
            return "Each shipment must be an object."
        ship_to = payload.get("ship_to")
        if not isinstance(ship_to, dict):
            return "ship_to is required."
        for field in ("name", "phone", "address_line1"):  # non-empty and required in ship_to [SHIP]
            if not str(ship_to.get(field) or "").strip():
                return f"ship_to.{field} is required."
        if not payload.get("ship_from") and not payload.get("warehouse_id"):
            return "Either ship_from or warehouse_id must be set."
        if payload.get("warehouse_id") and payload["warehouse_id"] not in {w["warehouse_id"] for w in self.warehouses}:
            return f"warehouse_id {payload['warehouse_id']} was not found."
        for i, item in enumerate(payload.get("items") or []):
            quantity = item.get("quantity") if isinstance(item, dict) else None
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
                return f"items[{i}].quantity must be an integer of at least 0."
        external = str(payload.get("external_shipment_id") or "")[:MAX_EXTERNAL_ID]
        if external and self._by_external(external):
            return f"A shipment with external_shipment_id '{external}' already exists."
        return None

    def _store(self, payload: dict[str, Any], created: Optional[str] = None) -> dict[str, Any]:
        now = self._now()
        shipment = _merge(SHIPMENT, payload)
        number = next(self._ids)
        shipment["shipment_id"] = f"se-{number}"
        shipment["external_shipment_id"] = str(payload.get("external_shipment_id") or shipment["shipment_id"])[:MAX_EXTERNAL_ID]
        shipment["shipment_number"] = shipment["shipment_number"] or str(number)
        shipment["created_at"] = created or now
        shipment["modified_at"] = created or now
        shipment["ship_to"] = _merge(ADDRESS, payload.get("ship_to"))
        if payload.get("warehouse_id"):
            warehouse = next(w for w in self.warehouses if w["warehouse_id"] == payload["warehouse_id"])
            shipment["ship_from"] = copy.deepcopy(warehouse["origin_address"])
        elif payload.get("ship_from"):
            shipment["ship_from"] = _merge(ADDRESS, payload["ship_from"])
        shipment["advanced_options"] = _merge(SHIPMENT["advanced_options"], payload.get("advanced_options"))
        shipment["items"] = [self._item(item, shipment) for item in payload.get("items") or []]
        shipment["shipment_status"] = "pending"
        self._apply_hold(shipment)
        self.shipments[shipment["shipment_id"]] = shipment
        self._external[shipment["external_shipment_id"]] = shipment["shipment_id"]
        self._notify("shipment_created_v2", f"/v2/shipments/{shipment['shipment_id']}")
        return shipment

    def _item(self, given: Any, shipment: dict[str, Any]) -> dict[str, Any]:
        item = _merge(ITEM, given)
        item["sales_order_id"] = item["sales_order_id"] or "se-so-" + shipment["shipment_id"][3:]
        item["sales_order_item_id"] = item["sales_order_item_id"] or f"se-soi-{next(self._ids)}"
        return item

    def _apply_hold(self, shipment: dict[str, Any]) -> None:
        """A ``hold_until_date`` later than today holds the shipment; none (or a past one) restores it [HOLD]."""
        hold = shipment.get("hold_until_date")
        today = self.clock.utcnow().date()
        if hold and date.fromisoformat(str(hold)[:10]) > today:
            shipment["shipment_status"] = "on_hold"
        elif shipment["shipment_status"] == "on_hold":
            shipment["shipment_status"] = "pending"

    def add_shipment(self, payload: dict[str, Any], created: Optional[datetime] = None) -> dict[str, Any]:
        """Store a shipment as if an order source had imported it; returns a copy."""
        with self.lock:
            return copy.deepcopy(self._store(payload, stamp(created) if created else None))

    def warehouse_edit(self, shipment_id: str, **changes: Any) -> dict[str, Any]:
        """What a person in the warehouse does in the UI: change any fields (service, packages, ship_to...)."""
        with self.lock:
            shipment = self.shipments[shipment_id]
            for key, value in changes.items():
                shipment[key] = _merge(ADDRESS, value) if key in ("ship_to", "ship_from") else value
            shipment["modified_at"] = self._now()
            return copy.deepcopy(shipment)

    def _sale(self, index: int, created: datetime) -> dict[str, Any]:
        rng = self.rng
        name = NAMES[rng.randrange(len(NAMES))]
        store_id, source = STORES[rng.randrange(len(STORES))]
        items = []
        for _ in range(rng.randint(1, 3)):
            sku, title, price = PRODUCTS[rng.randrange(len(PRODUCTS))]
            items.append({"name": title, "sku": sku, "quantity": rng.randint(1, 3), "unit_price": float(price),
                          "external_order_id": f"{source}-{index}", "order_source_code": source})
        if rng.random() < 0.15:
            items.append({"name": "Coupon SAVE5", "sku": None, "quantity": 1, "unit_price": -5.0,
                          "external_order_id": f"{source}-{index}", "order_source_code": source})
        goods = sum((Decimal(str(i["unit_price"])) * i["quantity"] for i in items), Decimal(0))
        shipping = Decimal(rng.choice(["0", "4.99", "7.50"]))
        tax = (goods * Decimal("0.0825")).quantize(Decimal("0.01"))
        paid = goods + shipping + tax if rng.random() < 0.9 else Decimal(0)
        first, last = name.split()
        return {"shipment_number": f"V2-{index:05d}", "store_id": store_id, "order_source_code": source,
                "external_order_id": f"{source}-{index}", "warehouse_id": "se-1001", "items": items,
                "ship_to": dict(ADDRESS, name=name, email=f"{first.lower()}.{last.lower()}@example.com",
                                phone="555-0142", address_line1=f"{rng.randint(1, 999)} Main St",
                                city_locality="Portland", state_province="OR", postal_code="97201",
                                country_code="US", address_residential_indicator="yes"),
                "amount_paid": {"currency": "usd", "amount": float(paid)},
                "shipping_paid": {"currency": "usd", "amount": float(shipping)},
                "tax_paid": {"currency": "usd", "amount": float(tax)},
                "requested_shipment_service": "USPS Priority Mail"}

    def seed_shipments(self, n: int, start: Optional[datetime] = None) -> list[dict[str, Any]]:
        """Add ``n`` realistic shipments over six days from ``start``; about half get a label the next day."""
        start = start or self.clock.utcnow() - timedelta(days=6)
        step = timedelta(days=6) / (n + 1)
        added = []
        with self.lock:
            for i in range(n):
                created = start + step * (i + 1)
                shipment = self._store(self._sale(len(self.shipments) + 1, created), stamp(created))
                if _money(shipment["amount_paid"]) > 0 and self.rng.random() < 0.5:
                    self.buy_label(shipment["shipment_id"], at=created + timedelta(hours=20))
                added.append(copy.deepcopy(self.shipments[shipment["shipment_id"]]))
        return added

    def seed(self, n: int) -> int:
        return len(self.seed_shipments(n)) if n > 0 else 0

    def simulate_activity(self) -> dict[str, int]:
        """The warehouse buys a label for every open shipment Connex created (external id ``connex:...``)."""
        shipped = 0
        with self.lock:
            for shipment in list(self.shipments.values()):
                if shipment["shipment_status"] == "pending" and str(shipment["external_shipment_id"]).startswith("connex:"):
                    self.buy_label(shipment["shipment_id"])
                    shipped += 1
        return {"shipments labelled": shipped} if shipped else {}

    def buy_label(self, shipment_id: str, carrier: str = "stamps_com", tracking_number: Optional[str] = None,
                  ship_date: Optional[date] = None, cost: Decimal | float | str = "5.60",
                  insurance: Decimal | float | str = "0", at: Optional[datetime] = None) -> dict[str, Any]:
        """Buy a label: the shipment becomes ``label_purchased`` and the label is listed under /v2/labels."""
        with self.lock:
            shipment = self.shipments[shipment_id]
            when = at or self.clock.utcnow()
            day = ship_date or when.date()
            label = {
                "label_id": f"se-{next(self._label_ids)}", "status": "completed", "shipment_id": shipment_id,
                "external_shipment_id": shipment["external_shipment_id"], "external_order_id": shipment["external_order_id"],
                "ship_date": f"{day.isoformat()}T00:00:00Z", "created_at": stamp(when),
                "shipment_cost": {"currency": "usd", "amount": float(Decimal(str(cost)))},
                "insurance_cost": {"currency": "usd", "amount": float(Decimal(str(insurance)))},
                "tracking_number": tracking_number or "9400111899562" + "%09d" % self.rng.randrange(10**9),
                "is_return_label": False, "is_international": False, "batch_id": "", "carrier_id": "se-4001",
                "service_code": "usps_priority_mail", "package_code": "package", "voided": False, "voided_at": None,
                "carrier_code": carrier, "tracking_status": "in_transit", "trackable": True,
                "shipment": {"shipment_number": shipment["shipment_number"]}}
            self.labels.append(label)
            shipment.update(shipment_status="label_purchased", ship_date=day.isoformat() + "T00:00:00Z",
                            modified_at=max(stamp(when), shipment["modified_at"]))
            self._notify("label_created_v2", f"/v2/labels?shipment_id={shipment_id}")
            return copy.deepcopy(label)

    def void_label(self, label_id: str) -> None:
        with self.lock:
            for label in self.labels:
                if label["label_id"] == label_id:
                    label.update(voided=True, voided_at=self._now(), status="voided")
                    shipment = self.shipments[label["shipment_id"]]
                    if not any(not lb["voided"] for lb in self.labels if lb["shipment_id"] == label["shipment_id"]):
                        shipment.update(shipment_status="pending", modified_at=self._now())

    # -- webhooks --------------------------------------------------------------------------------
    def _signing_key(self):
        if self._key is None:
            from cryptography.hazmat.primitives.asymmetric import rsa

            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._key

    def jwks(self) -> dict[str, Any]:
        numbers = self._signing_key().public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.key_id,
                          "n": _b64url(numbers.n), "e": _b64url(numbers.e)}]}

    def sign(self, body: bytes, timestamp: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        signature = self._signing_key().sign(timestamp.encode() + b"." + body, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def _notify(self, event: str, resource_path: str) -> None:
        for hook in self.webhooks.values():
            if hook["event"] == event:
                self.outbox.append((hook["url"], {"resource_url": self.base_url + resource_path,
                                                  "resource_type": event.upper()}))

    def deliver_webhooks(self, timeout: float = 5.0) -> int:
        """POST the queued notifications (loopback targets only), signed; returns how many got a 2xx."""
        with self.lock:
            pending, self.outbox = self.outbox, []
        delivered = 0
        for url, payload in pending:
            if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
                continue
            body = json.dumps(payload).encode()
            timestamp = self.clock.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
            headers = {"Content-Type": "application/json", "x-shipengine-rsa-sha256-key-id": self.key_id,
                       "x-shipengine-rsa-sha256-signature": self.sign(body, timestamp),
                       "x-shipengine-timestamp": timestamp}
            try:
                delivered += requests.post(url, data=body, headers=headers, timeout=timeout).ok
            except requests.RequestException:
                pass
        return delivered

    @route("GET", "/jwks")
    def get_jwks(self, request: Request) -> Response:
        return json_response(self.jwks())

    @route("POST", "/v2/environment/webhooks")
    def create_webhook(self, request: Request) -> Response:
        self.write_calls += 1
        body = request.json() or {}
        if body.get("event") not in WEBHOOK_EVENTS or not body.get("url"):
            return self._error(400, "validation", "invalid_field_value", "event (a known event) and url are required.")
        hook_id = f"se-{next(self._ids)}"
        self.webhooks[hook_id] = {"webhook_id": hook_id, "url": body["url"], "event": body["event"],
                                  "headers": body.get("headers") or []}
        return json_response(copy.deepcopy(self.webhooks[hook_id]), 201)

    @route("GET", "/v2/environment/webhooks")
    def list_webhooks(self, request: Request) -> Response:
        return json_response(copy.deepcopy(list(self.webhooks.values())))

    # -- listings --------------------------------------------------------------------------------
    def _page(self, request: Request, key: str, records: list[dict[str, Any]], path: str) -> Response:
        """Sort and page as v2 pages: ``{key, total, page, pages, links}`` [SPEC]."""
        sort_by = request.arg("sort_by") or "created_at"
        if sort_by not in ("created_at", "modified_at"):
            return self._error(400, "validation", "invalid_field_value", f"sort_by {sort_by!r} is not valid.")
        descending = (request.arg("sort_dir") or "desc").lower() == "desc"
        records = sorted(records, key=lambda r: (r.get(sort_by) or "", r.get("shipment_id") or r.get("label_id") or ""),
                         reverse=descending)
        try:
            size = int(request.arg("page_size") or DEFAULT_PAGE_SIZE)
            page = int(request.arg("page") or 1)
        except ValueError:
            return self._error(400, "validation", "invalid_field_value", "page and page_size must be integers.")
        if size < 1 or page < 1:
            return self._error(400, "validation", "invalid_field_value", "page and page_size must be at least 1.")
        size = min(size, MAX_PAGE_SIZE)
        total = len(records)
        pages = math.ceil(total / size)
        query = {k: v[-1] for k, v in request.query.items() if k not in ("page",)}

        def link(n: int) -> dict[str, str]:
            return {"href": f"{self.base_url}{path}?{urlencode(dict(query, page=n))}"}

        links = {"first": link(1), "last": link(max(1, pages)), "prev": link(page - 1) if page > 1 else {},
                 "next": link(page + 1) if page < pages else {}}
        return json_response({key: copy.deepcopy(records[(page - 1) * size: page * size]), "total": total,
                              "page": page, "pages": pages, "links": links})

    @staticmethod
    def _in(value: Optional[str], start: Optional[str], end: Optional[str]) -> bool:
        if not start and not end:
            return True
        moment = _parse(value)
        return moment is not None and (not start or moment >= _parse(start)) and (not end or moment <= _parse(end))

    @route("GET", "/v2/shipments")
    def list_shipments(self, request: Request) -> Response:
        a = request.arg
        status = a("shipment_status")
        if status and status not in STATUSES:
            return self._error(400, "validation", "invalid_field_value", f"shipment_status {status!r} is not valid.")
        exact = {k: a(k) for k in ("store_id", "shipment_number", "external_shipment_id", "shipment_status") if a(k)}
        sales_order = a("sales_order_id")
        found = []
        for shipment in self.shipments.values():
            if any(str(shipment.get(k)) != v for k, v in exact.items()):
                continue
            if sales_order and sales_order not in {i["sales_order_id"] for i in shipment["items"]}:
                continue
            if not (self._in(shipment["created_at"], a("created_at_start"), a("created_at_end"))
                    and self._in(shipment["modified_at"], a("modified_at_start"), a("modified_at_end"))):
                continue
            if (a("payment_date_start") or a("payment_date_end")) and not self._in(
                    shipment["created_at"] if _money(shipment["amount_paid"]) > 0 else None,
                    a("payment_date_start"), a("payment_date_end")):
                continue  # choice: the payment date is not returned; a paid shipment's is its created_at
            found.append(shipment)
        return self._page(request, "shipments", found, "/v2/shipments")

    @route("GET", "/v2/shipments/{shipment_id}")
    def get_shipment(self, request: Request) -> Response:
        shipment = self.shipments.get(unquote(request.params["shipment_id"]))
        if shipment is None:
            return self._error(404, "validation", "not_found", f"Shipment {request.params['shipment_id']} was not found.")
        return json_response(copy.deepcopy(shipment))

    @route("GET", "/v2/shipments/external_shipment_id/{external_id}")
    def get_by_external(self, request: Request) -> Response:
        shipment = self._by_external(unquote(request.params["external_id"]))
        if shipment is None:
            return self._error(404, "validation", "not_found", "No shipment has that external_shipment_id.")
        return json_response(copy.deepcopy(shipment))

    @route("GET", "/v2/labels")
    def list_labels(self, request: Request) -> Response:
        a = request.arg
        found = [label for label in self.labels
                 if (not a("shipment_id") or label["shipment_id"] == a("shipment_id"))
                 and (not a("label_status") or label["status"] == a("label_status"))
                 and (not a("tracking_number") or label["tracking_number"] == a("tracking_number"))
                 and self._in(label["created_at"], a("created_at_start"), a("created_at_end"))]
        return self._page(request, "labels", found, "/v2/labels")

    @route("GET", "/v2/fulfillments")
    def list_fulfillments(self, request: Request) -> Response:
        a = request.arg
        found = [f for f in self.fulfillments if (not a("shipment_id") or f["shipment_id"] == a("shipment_id"))
                 and self._in(f["created_at"], a("created_at_start"), a("created_at_end"))]
        return self._page(request, "fulfillments", found, "/v2/fulfillments")

    @route("GET", "/v2/warehouses")
    def list_warehouses(self, request: Request) -> Response:
        return json_response({"warehouses": copy.deepcopy(self.warehouses)})

    # -- writes ----------------------------------------------------------------------------------
    def _body(self, request: Request) -> Any:
        try:
            return json.loads(request.body.decode("utf-8"), parse_float=Decimal) if request.body.strip() else None
        except ValueError:
            return None

    @route("POST", "/v2/shipments")
    def create_shipments(self, request: Request) -> Response:
        """Create shipments; each entry answers with its own ``errors`` (partial success) [SHIP]."""
        self.write_calls += 1
        body = self._body(request)
        if not isinstance(body, dict) or not isinstance(body.get("shipments"), list):
            return self._error(400, "validation", "invalid_field_value", "The body must be {\"shipments\": [...]}.")
        if len(body["shipments"]) > MAX_CREATE:
            return self._error(400, "validation", "invalid_field_value", f"At most {MAX_CREATE} shipments per request.")
        answers = []
        for payload in body["shipments"]:
            error = self._validate(payload)
            if error:
                given = payload if isinstance(payload, dict) else {}
                answers.append(dict(copy.deepcopy(SHIPMENT), shipment_id=None, shipment_status="pending",
                                    external_shipment_id=given.get("external_shipment_id"),
                                    shipment_number=given.get("shipment_number"),
                                    errors=[{"error_source": "shipstation", "error_type": "validation",
                                             "error_code": "invalid_field_value", "message": error}]))
                continue
            answers.append(dict(copy.deepcopy(self._store(payload)), errors=[]))
        return json_response({"has_errors": any(a["errors"] for a in answers), "shipments": answers})

    @route("PUT", "/v2/shipments/{shipment_id}")
    def update_shipment(self, request: Request) -> Response:
        """Change only the fields sent [UPD]; see the module docstring for what is refused."""
        self.write_calls += 1
        shipment = self.shipments.get(unquote(request.params["shipment_id"]))
        if shipment is None:
            return self._error(404, "validation", "not_found", f"Shipment {request.params['shipment_id']} was not found.")
        body = self._body(request)
        if not isinstance(body, dict):
            return self._error(400, "validation", "invalid_field_value", "The body must be a shipment object.")
        read_only = [k for k in READ_ONLY if k in body and body[k] != shipment.get(k)]
        if read_only:
            return self._error(400, "validation", "invalid_field_value", f"{', '.join(read_only)} cannot be changed.")
        if "external_shipment_id" in body and body["external_shipment_id"] != shipment["external_shipment_id"]:
            return self._error(400, "validation", "invalid_field_value", "external_shipment_id cannot be changed.")
        if shipment["shipment_status"] in ("label_purchased", "cancelled"):
            return self._error(400, "business_rules", "invalid_status",
                               f"The shipment is {shipment['shipment_status']} and cannot be updated.")
        unknown = [k for k in body if k not in SHIPMENT]
        if unknown:
            return self._error(400, "validation", "invalid_field_value", f"Unknown fields: {', '.join(sorted(unknown))}.")
        for key, value in body.items():
            if key in ("ship_to", "ship_from", "return_to"):
                shipment[key] = _merge(ADDRESS, value)
            elif key == "items":
                shipment["items"] = [self._item(item, shipment) for item in value or []]
            elif key == "advanced_options":
                shipment[key] = _merge(SHIPMENT["advanced_options"], dict(shipment[key], **(value or {})))
            else:
                shipment[key] = copy.deepcopy(value)
        self._apply_hold(shipment)
        shipment["modified_at"] = self._now()
        return json_response(copy.deepcopy(shipment))

    @route("PUT", "/v2/shipments/{shipment_id}/cancel")
    def cancel_shipment(self, request: Request) -> Response:
        self.write_calls += 1
        shipment = self.shipments.get(unquote(request.params["shipment_id"]))
        if shipment is None:
            return self._error(404, "validation", "not_found", "Shipment not found.")
        if any(not lb["voided"] for lb in self.labels if lb["shipment_id"] == shipment["shipment_id"]):
            return self._error(400, "business_rules", "invalid_status", "Void the shipment's label first.")
        shipment.update(shipment_status="cancelled", modified_at=self._now())
        return Response(204, b"")

    @route("POST", "/v2/fulfillments")
    def create_fulfillments(self, request: Request) -> Response:
        """Mark shipments shipped without a label [FUL]; per-entry errors (partial success)."""
        self.write_calls += 1
        body = self._body(request) or {}
        answers = []
        for entry in body.get("fulfillments") or []:
            shipment = self.shipments.get(str((entry or {}).get("shipment_id")))
            if shipment is None or not entry.get("tracking_number"):
                answers.append({"shipment_id": (entry or {}).get("shipment_id"), "fulfillment_id": None,
                                "errors": [{"error_source": "shipstation", "error_type": "validation",
                                            "error_code": "invalid_field_value",
                                            "message": "shipment_id (an existing shipment) and tracking_number are required."}]})
                continue
            answers.append(dict(self.fulfill(shipment["shipment_id"], entry["tracking_number"],
                                             entry.get("carrier_code"), entry.get("ship_date")), errors=[]))
        return json_response({"has_errors": any(a["errors"] for a in answers), "fulfillments": answers})

    def fulfill(self, shipment_id: str, tracking_number: str, carrier_code: Optional[str] = None,
                ship_date: Optional[str] = None) -> dict[str, Any]:
        """Shipped outside ShipStation. **choice**: the shipment then counts as ``label_purchased``."""
        with self.lock:
            shipment = self.shipments[shipment_id]
            record = {"fulfillment_id": f"se-{next(self._label_ids)}", "shipment_id": shipment_id,
                      "shipment_number": shipment["shipment_number"],
                      "external_shipment_id": shipment["external_shipment_id"], "tracking_number": tracking_number,
                      "carrier_code": carrier_code, "ship_date": (ship_date or self._now())[:10] + "T00:00:00Z",
                      "created_at": self._now(), "voided": False}
            self.fulfillments.append(record)
            shipment.update(shipment_status="label_purchased", modified_at=self._now())
            self._notify("fulfillment_shipped_v2", f"/v2/fulfillments?shipment_id={shipment_id}")
            return copy.deepcopy(record)


def check_shipment_shape(shipment: dict[str, Any]) -> list[str]:
    """What a shipment object lacks of the fields [SPEC] requires (empty: none)."""
    return [name for name in REQUIRED_SHIPMENT_FIELDS if name not in shipment]
