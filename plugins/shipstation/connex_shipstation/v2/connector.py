"""The ShipStation API v2 connector: shipments (v1's orders) out, orders from QuickBooks or Xero in.

Built by :class:`connex_shipstation.connector.ShipStationConnector` when a connection says
``api = "v2"`` (one registered type, ``shipstation``, for both versions; v1 stays the default).

* reading streams ``GET /v2/shipments`` page by page, the user's window in UTC (v2's own time);
  shipping facts come from labels (cost + insurance, summed over the live labels) and fulfillments;
* writing creates shipments with ``external_shipment_id = "connex:<source>:<id>"`` (the idempotency
  key: a duplicate is refused by ShipStation, so a retry cannot create two); a shipment that exists
  is read and only the fields Connex owns (items, amounts paid, number, buyer notes, the unpaid hold)
  are sent back when they differ, so the warehouse's work (service, packages, corrected address,
  tags) is kept; a shipment with a label or cancelled is never changed;
* webhooks are verified as v2 signs them (RSA-SHA256, see :meth:`ShipStationV2Connector.handle_webhook`).
"""

from __future__ import annotations

import base64
import hmac
import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterator, Optional
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests

from connex_core.api import (
    Capability, Connector, FetchQuery, Found, OrderWrite, WebhookEvent, WriteResult, batched,
)
from connex_core.api import ConfigurationError, FatalAPIError, RetriableAPIError, WebhookRejected
from connex_core.api import ZERO, Order, Shipment

from .client import MAX_CREATE_BATCH, ShipStationV2Client, ShipStationV2Error, describe_errors, errors_of
from .mapping import (
    STATUS_FILTER, amount, external_id_for, format_utc, parse_utc, order_from_v2, order_to_v2, owned_fields,
    shipment_from_fulfillment, shipment_from_label,
)

#: ``FetchQuery.date_field`` -> the v2 filter prefix. v2 has no order date (created_at is nearest).
DATE_FILTERS = {"created": "created_at", "order": "created_at", "modified": "modified_at", "paid": "payment_date"}
#: Seconds a webhook's ``x-shipengine-timestamp`` may be off our clock [WHV].
WEBHOOK_TOLERANCE = 300.0
#: Shipment statuses Connex never writes over.
FINAL = ("label_purchased", "cancelled")


def _normal(value: Any) -> Any:
    """A value as JSON would carry it, numbers as Decimal and currencies in lower case (for comparisons)."""
    if isinstance(value, dict):
        if set(value) == {"currency", "amount"}:
            return {"currency": str(value["currency"] or "").lower(), "amount": amount(value)}
        return {k: _normal(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


def _same(current: Any, wanted: Any) -> bool:
    """Whether the shipment already holds ``wanted`` (only the keys Connex sends are compared)."""
    if isinstance(wanted, list):
        return isinstance(current, list) and len(current) == len(wanted) and all(
            _same(c, w) for c, w in zip(current, wanted))
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(_same(current.get(k), v) for k, v in wanted.items()
                                                 if v is not None and v != [])
    if wanted is None:
        return current in (None, "")
    return _normal(current) == _normal(wanted)


class ShipStationV2Connector(Connector):
    """ShipStation API v2. Settings are :class:`connex_shipstation.connector.ShipStationSettings` with ``api = "v2"``."""

    name = "shipstation"
    title = "ShipStation (API v2)"
    capabilities = frozenset({Capability.READ_ORDERS, Capability.WRITE_ORDERS, Capability.READ_SHIPMENTS})
    write_batch_size = MAX_CREATE_BATCH
    upserts_orders = True  # an existing shipment is updated in place (Connex-owned fields only)

    def __init__(self, settings, ctx):
        super().__init__(settings, ctx)
        self.timezone = settings.timezone
        """The zone a day the user names is counted in (v2 itself is UTC): the connection's ``timezone``."""
        self._client: Optional[ShipStationV2Client] = None
        self._warehouse: Optional[str] = None
        self._jwks: dict[str, Any] = {}

    @property
    def client(self) -> ShipStationV2Client:
        if self._client is None:
            s = self.settings
            self._client = ShipStationV2Client(s.api_key.get_secret_value(), base_url=s.base_url, timeout=s.timeout,
                                               clock=self.clock, page_size=s.page_size)
        return self._client

    def check(self) -> str:
        warehouses = self.client.list_warehouses()
        return (f"connected to ShipStation API v2 ({len(warehouses)} warehouse{'s' if len(warehouses) != 1 else ''}); "
                "the key is a v2 key: shipments, labels and fulfillments can be read and written")

    def connect(self, **kwargs: Any) -> str:
        """``connex connect``: one cheap call; says the key is a v2 key (or a v1 pair set as v2)."""
        from .probe import connect_v2

        return connect_v2(self)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # -- reading orders --------------------------------------------------------------------------
    def shipment_params(self, query: FetchQuery) -> dict[str, Any]:
        """The ``GET /v2/shipments`` filters for a query, in UTC."""
        prefix = DATE_FILTERS.get(query.date_field)
        if prefix is None:
            raise ConfigurationError(f"unknown date_field {query.date_field!r} for ShipStation v2 "
                                     f"(one of: {', '.join(DATE_FILTERS)})", key="date_field")
        params: dict[str, Any] = {}
        if query.since:
            params[f"{prefix}_start"] = format_utc(query.since)
        if query.until:
            params[f"{prefix}_end"] = format_utc(query.until)
        if query.modified_since:
            since = query.modified_since
            if prefix == "modified_at" and query.since and query.since > since:
                since = query.since
            params["modified_at_start"] = format_utc(since)
            params.update(sort_by="modified_at", sort_dir="asc")
        else:
            params.update(sort_by="created_at", sort_dir="asc")
        status = query.options.get("status")
        if status:
            if status not in STATUS_FILTER:
                raise ConfigurationError(f"unknown ShipStation status {status!r} (one of: {', '.join(STATUS_FILTER)})",
                                         key="source_options.status")
            params["shipment_status"] = STATUS_FILTER[status]
        store_id = query.options.get("store_id", self.settings.store_id)
        if store_id is not None:
            params["store_id"] = str(store_id)
        return params

    def fetch_orders(self, query: FetchQuery) -> Iterator[Order]:
        """Stream the shipments of the window as orders, page by page, with their shipping facts
        (labels read alongside as one creation-ordered listing: see :class:`LabelStream`)."""
        stream = LabelStream(self.client)
        for page in self.client.list_shipments(**self.shipment_params(query)):
            facts = self._shipping_facts(page, stream) if self.settings.attach_shipments else {}
            for raw in page:
                order = self._order(raw, facts.get(str(raw.get("shipment_id"))))
                if self._status_matches(order, query):
                    yield order

    def _order(self, raw: dict, shipment: Optional[Shipment] = None) -> Order:
        return order_from_v2(raw, currency=self.settings.currency, tz=self.timezone, shipment=shipment)

    @staticmethod
    def _status_matches(order: Order, query: FetchQuery) -> bool:
        """v1's awaiting_payment and awaiting_shipment are both v2 ``pending``: told apart by payment."""
        status = query.options.get("status")
        if status in ("awaiting_payment", "awaiting_shipment"):
            return order.status is not None and order.status.value == status
        return True

    def accepts(self, order: Order, query: FetchQuery) -> bool:
        status = query.options.get("status")
        if status and (order.status is None or STATUS_FILTER.get(order.status.value, order.status.value)
                       != STATUS_FILTER.get(status)):
            return False
        if not self._status_matches(order, query):
            return False
        store_id = query.options.get("store_id", self.settings.store_id)
        return store_id is None or order.store_id == str(store_id)

    def parse_orders(self, payload: Any) -> Iterator[Order]:
        """A saved ``GET /v2/shipments`` answer (or a list of shipments) as orders."""
        raws = payload.get("shipments", []) if isinstance(payload, dict) else payload
        for raw in raws or []:
            yield self._order(raw)

    def _shipping_facts(self, page: list[dict], stream: "LabelStream") -> dict[str, Shipment]:
        """Tracking and cost of the page's shipped shipments: their labels, else their fulfillments.

        Labels can only be listed for one shipment per call [SPEC], so they come from ``stream``; a
        shipped shipment whose labels it does not hold (an old label on a shipment modified since) is
        asked about on its own, and one with no live label for its fulfillments.
        """
        wanted = {str(s["shipment_id"]): s for s in page if s.get("shipment_status") == "label_purchased"}
        if not wanted:
            return {}
        stream.forget_before(min(str(s.get("created_at")) for s in wanted.values()))
        stream.read_until(max(str(s.get("modified_at")) for s in wanted.values()))
        facts: dict[str, Shipment] = {}
        for shipment_id in wanted:
            found_labels = stream.take(shipment_id)
            if found_labels is None:
                found_labels = [lb for p in self.client.list_labels(shipment_id=shipment_id) for lb in p]
            fact = self._combine(found_labels)
            if fact is None:
                fulfilled = [f for p in self.client.list_fulfillments(shipment_id=shipment_id) for f in p
                             if not f.get("voided")]
                fact = shipment_from_fulfillment(fulfilled[-1], wanted[shipment_id]) if fulfilled else None
            if fact is not None:
                facts[shipment_id] = fact
        return facts

    @staticmethod
    def _combine(labels: list[dict]) -> Optional[Shipment]:
        """One shipment from a shipment's labels: the newest live label's tracking, every live label's cost."""
        live = sorted((shipment_from_label(lb) for lb in labels), key=lambda s: str(s.created_at or ""))
        live = [s for s in live if not s.voided]
        if not live:
            return None
        return live[-1].model_copy(update={"cost": sum((s.cost or ZERO for s in live), ZERO)})

    # -- reading shipments -----------------------------------------------------------------------
    def fetch_shipments(self, query: FetchQuery) -> Iterator[Shipment]:
        """Live labels, then fulfillments, created in the window (labels have no ship-date filter [SPEC])."""
        params: dict[str, Any] = {"sort_by": "created_at", "sort_dir": "asc"}
        start = max(filter(None, (query.modified_since, query.since)), default=None)
        if start:
            params["created_at_start"] = format_utc(start)
        if query.until:
            params["created_at_end"] = format_utc(query.until)
        for page in self.client.list_labels(**params):
            for label in page:
                shipment = shipment_from_label(label)
                if not shipment.voided:
                    yield shipment
        for page in self.client.list_fulfillments(**params):
            for record in page:
                if record.get("voided"):
                    continue
                parent = None if record.get("external_shipment_id") else self.client.get_shipment(str(record.get("shipment_id")))
                yield shipment_from_fulfillment(record, parent)

    def list_documents(self, first: date, last: date, options: dict[str, Any]) -> Iterator[Found]:
        """The shipments created on the days ``first..last`` of the connection's ``timezone`` (``GET /v2/shipments``
        with ``created_at_start``/``created_at_end`` in UTC, paged; v2 has no order date: ``created_at`` is the
        date Connex reads orders by), of the connection's store (``store_id``; else the whole account); cancelled
        ones left out. ``connex report`` names those no ledger knows."""
        zone = ZoneInfo(self.timezone)
        start = datetime.combine(first, time(0), tzinfo=zone)
        end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone) - timedelta(milliseconds=1)
        params: dict[str, Any] = {"created_at_start": format_utc(start), "created_at_end": format_utc(end),
                                  "sort_by": "created_at", "sort_dir": "asc"}
        if self.settings.store_id is not None:
            params["store_id"] = str(self.settings.store_id)
        for page in self.client.list_shipments(**params):
            for raw in page:
                if raw.get("shipment_status") == "cancelled":
                    continue
                when = parse_utc(raw.get("created_at"))
                yield Found(target_id=str(raw["shipment_id"]), target_number=raw.get("shipment_number"),
                            description=f"ShipStation shipment {raw.get('shipment_number')} ({raw.get('shipment_status')})",
                            day=when.astimezone(zone).date() if when is not None else None)

    # -- writing orders --------------------------------------------------------------------------
    def find_orders(self, writes: list[OrderWrite]) -> dict[str, Found]:
        """Nothing is looked up ahead: ShipStation refuses a second shipment with the same
        ``external_shipment_id`` [EXT], so :meth:`write_orders` creates first and looks up only what
        it refused (one call per such order instead of one per order). A write whose answer was lost
        is retried the same way and comes back as a duplicate with the shipment's id. Reports and resync ask
        :meth:`find_booked`, which looks each one up."""
        return {}

    def find_booked(self, writes: list[OrderWrite]) -> dict[str, Found]:
        """The shipments these booked orders still have, read-only, for ``connex report`` and ``connex resync``:
        ``GET /v2/shipments/external_shipment_id/{id}`` per order [EXT] (v2 lists by no more than one key). A
        cancelled shipment is gone (v2 deletes none: cancelling is how one is taken away [SPEC]), as
        :meth:`list_documents` leaves it out and v1 takes a cancelled order for gone here."""
        found: dict[str, Found] = {}
        for w in writes:
            raw = self.client.get_by_external_id(external_id_for(w.order))
            if raw and raw.get("shipment_id") and raw.get("shipment_status") != "cancelled":
                found[w.key] = Found(target_id=str(raw["shipment_id"]), target_number=raw.get("shipment_number"),
                                     description=f"ShipStation shipment {raw.get('shipment_number')} "
                                                 f"({raw.get('shipment_status')})")
        return found

    def _warehouse_id(self) -> Optional[str]:
        """The connection's ``warehouse_id``, else the account's default warehouse (one call, once)."""
        if self.settings.warehouse_id:
            return self.settings.warehouse_id
        if self._warehouse is None:
            warehouses = self.client.list_warehouses()
            default = next((w for w in warehouses if w.get("is_default")), warehouses[0] if warehouses else None)
            if default is None:
                raise ConfigurationError("the ShipStation account has no warehouse; set warehouse_id on the connection "
                                         "(v2 needs a ship-from address or a warehouse for every shipment)",
                                         key="warehouse_id")
            self._warehouse = str(default["warehouse_id"])
        return self._warehouse

    def write_orders(self, writes: list[OrderWrite]) -> list[WriteResult]:
        """Create (100 a call); an order ShipStation refuses is looked up by its ``external_shipment_id``
        and, when it is there, updated in its Connex-owned fields (or left alone once labelled)."""
        results: list[WriteResult] = []
        for batch in batched(writes, MAX_CREATE_BATCH):
            results.extend(self._create(batch))
        return results

    def _hold_until(self):
        days = self.settings.unpaid_hold_days
        return (datetime.now(timezone.utc).date() + timedelta(days=days)) if days > 0 else None

    def _create(self, batch: list[OrderWrite]) -> list[WriteResult]:
        warehouse = self._warehouse_id()
        store = str(self.settings.store_id) if self.settings.store_id is not None else None
        payloads = [order_to_v2(w.order, currency=self.settings.currency, warehouse_id=warehouse, store_id=store,
                                hold_until=self._hold_until()) for w in batch]
        try:
            answer = self.client.create_shipments(payloads)
        except RetriableAPIError as exc:  # maybe created: the engine's reconciliation asks find_orders next time
            return [WriteResult(key=w.key, ok=False, error=str(exc), retriable=True) for w in batch]
        except ShipStationV2Error as exc:
            if len(batch) > 1:  # the whole call was refused: find the order it was about by halving
                middle = len(batch) // 2
                return self._create(batch[:middle]) + self._create(batch[middle:])
            return [WriteResult(key=batch[0].key, ok=False, error=f"ShipStation refused {batch[0].order.number}: {exc}")]
        entries = answer.get("shipments") or []
        by_key = {e.get("external_shipment_id"): e for e in entries if isinstance(e, dict)}
        results = []
        request_id = answer.get("request_id")  # a 2xx body may carry none (the documented one has none)
        for i, (w, payload) in enumerate(zip(batch, payloads)):
            entry = by_key.get(payload["external_shipment_id"]) or (entries[i] if i < len(entries) else None)
            results.append(self._created(w, payload, entry, request_id))
        return results

    def _created(self, w: OrderWrite, payload: dict, entry: Optional[dict], request_id: Optional[str]) -> WriteResult:
        if entry is None:
            return WriteResult(key=w.key, ok=False, retriable=True, error="ShipStation gave no result for this order")
        errors = errors_of(entry)
        if not errors and entry.get("shipment_id"):
            return WriteResult(key=w.key, ok=True, target_id=str(entry["shipment_id"]),
                               target_number=entry.get("shipment_number"))
        said = describe_errors(errors)
        # Refused: if the reason is our key (the wording is not documented), the shipment is there.
        try:
            current = self.client.get_by_external_id(payload["external_shipment_id"])
        except RetriableAPIError as exc:
            return WriteResult(key=w.key, ok=False, retriable=True, error=f"{said}; then {exc}")
        if current:
            return self._update(w, current)
        rid = f" (request_id {request_id})" if request_id else ""
        return WriteResult(key=w.key, ok=False, error=f"ShipStation refused order {w.order.number}{rid}: {said}")

    def _update(self, w: OrderWrite, current: dict) -> WriteResult:
        """Read-then-change: send only the Connex-owned fields that differ; never touch a final shipment."""
        shipment_id = str(current["shipment_id"])
        status = current.get("shipment_status")
        done = dict(key=w.key, ok=True, target_id=shipment_id, target_number=current.get("shipment_number"))
        if status in FINAL:
            return WriteResult(**done, duplicate=True, note=f"already {status} in ShipStation; left unchanged")
        wanted = owned_fields(w.order, self.settings.currency)
        if w.order.paid and current.get("hold_until_date"):
            wanted["hold_until_date"] = None  # paid since: release the hold Connex put on it
        changes = {k: v for k, v in wanted.items() if not _same(current.get(k), v)}
        if not changes:
            return WriteResult(**done, duplicate=True, note="already in ShipStation with the same content")
        try:
            self.client.update_shipment(shipment_id, changes)
        except RetriableAPIError as exc:
            return WriteResult(key=w.key, ok=False, error=str(exc), retriable=True)
        except ShipStationV2Error as exc:
            return WriteResult(key=w.key, ok=False, error=f"ShipStation refused the update of {w.order.number}: {exc}")
        return WriteResult(**done, note=f"updated {', '.join(sorted(changes))}; the warehouse's fields kept")

    # -- webhooks --------------------------------------------------------------------------------
    def handle_webhook(self, headers: dict[str, str], body: bytes, secret: Optional[str]) -> WebhookEvent:
        """Verify a v2 webhook (RSA-SHA256 over the raw body [WHV]), then fetch its ``resource_url``.

        Headers ``x-shipengine-rsa-sha256-key-id``, ``-signature`` (base64) and ``x-shipengine-timestamp``;
        a timestamp more than five minutes off is refused. **Unverified** (see the README): the signed
        text is taken as ``timestamp + "." + raw body``, and keys come from ``webhook_jwks_url``.
        When the connection has a ``webhook_secret``, the URL must carry it too.
        """
        expected = self.settings.webhook_secret
        if expected is not None and not (secret and hmac.compare_digest(secret.encode(), expected.get_secret_value().encode())):
            raise WebhookRejected("the secret in the webhook URL is wrong")
        key_id = headers.get("x-shipengine-rsa-sha256-key-id")
        signature = headers.get("x-shipengine-rsa-sha256-signature")
        stamp = headers.get("x-shipengine-timestamp")
        if not (key_id and signature and stamp):
            raise WebhookRejected("not signed as ShipStation v2 signs webhooks (x-shipengine-rsa-sha256-* headers)")
        self._check_timestamp(stamp)
        if not self._verify(key_id, signature, stamp.encode() + b"." + body):
            raise WebhookRejected("the webhook's RSA-SHA256 signature does not match its body")
        try:
            data = json.loads(body)
            resource_url, kind = data["resource_url"], str(data.get("resource_type", "")).upper()
        except (ValueError, KeyError, TypeError):
            raise WebhookRejected("not a ShipStation webhook body (expected resource_url and resource_type)") from None
        try:
            payload = self.client.get_resource(resource_url)
        except FatalAPIError as exc:
            if "not on a ShipStation host" in str(exc):
                raise WebhookRejected(str(exc)) from None
            raise
        if kind in ("SHIPMENT_CREATED_V2", "SALES_ORDERS_IMPORTED"):
            raws = payload.get("shipments", [payload]) if isinstance(payload, dict) else []
            return WebhookEvent(kind=kind, orders=[self._order(r) for r in raws if isinstance(r, dict) and r.get("shipment_id")])
        if kind == "LABEL_CREATED_V2":
            raws = payload.get("labels", []) if isinstance(payload, dict) else []
            return WebhookEvent(kind=kind, shipments=[s for s in map(shipment_from_label, raws) if not s.voided])
        if kind == "FULFILLMENT_SHIPPED_V2":
            raws = payload.get("fulfillments", []) if isinstance(payload, dict) else []
            return WebhookEvent(kind=kind, shipments=[shipment_from_fulfillment(r) for r in raws if not r.get("voided")])
        return WebhookEvent(kind=kind)

    def _check_timestamp(self, stamp: str) -> None:
        try:
            moment = (datetime.fromtimestamp(float(stamp), timezone.utc) if stamp.replace(".", "").isdigit()
                      else datetime.fromisoformat(stamp.replace("Z", "+00:00")))
        except ValueError:
            raise WebhookRejected("unreadable x-shipengine-timestamp") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        utcnow = getattr(self.clock, "utcnow", None)
        now = utcnow() if callable(utcnow) else datetime.now(timezone.utc)
        if abs((now - moment).total_seconds()) > WEBHOOK_TOLERANCE:
            raise WebhookRejected("the webhook's timestamp is more than 5 minutes off (a replay?)")

    def _verify(self, key_id: str, signature: str, signed: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        key = self._public_key(key_id)
        if key is None:
            raise WebhookRejected(f"no public key {key_id!r} at the connection's webhook_jwks_url")
        try:
            key.verify(base64.b64decode(signature), signed, padding.PKCS1v15(), hashes.SHA256())
            return True
        except (InvalidSignature, ValueError):
            return False

    def _public_key(self, key_id: str):
        """The RSA key ``key_id`` of the JWKS (fetched once, and again for an unknown id)."""
        if key_id not in self._jwks:
            url = self.settings.webhook_jwks_url
            parts = urlsplit(url)
            if parts.scheme != "https" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
                raise WebhookRejected("webhook_jwks_url must be https")
            try:
                answer = requests.get(url, timeout=self.settings.timeout)
                answer.raise_for_status()
                keys = answer.json().get("keys", [])
            except (requests.RequestException, ValueError, AttributeError):
                raise WebhookRejected("could not read the webhook signing keys (webhook_jwks_url)") from None
            self._jwks.update({str(k.get("kid")): k for k in keys if isinstance(k, dict) and k.get("kty") == "RSA"})
        jwk = self._jwks.get(key_id)
        if jwk is None:
            return None
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

        def number(text: str) -> int:
            return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")

        return RSAPublicNumbers(number(jwk["e"]), number(jwk["n"])).public_key()


class LabelStream:
    """The account's labels in creation order, read a page at a time as the listing of shipments needs them.

    A label is created after its shipment, and buying it modifies the shipment; so the labels of a page
    of shipped shipments were created between their first ``created_at`` and their last ``modified_at``,
    and pages come in rising ``modified_at`` (incremental runs) or ``created_at`` order. The listing
    starts at the first page's first ``created_at``; labels read ahead wait in a buffer; those created
    before a page's first shipped shipment are dropped (in creation order they belong to no later page;
    in modification order a later page may still want one, and then asks for it on its own), so the
    buffer holds about the labels of the span between an order and its label. Each label page is read
    once: one call per 100 labels instead of one per shipment.
    """

    def __init__(self, client: ShipStationV2Client):
        self._client = client
        self._pages: Optional[Iterator[list[dict]]] = None
        self._buffer: dict[str, list[dict]] = {}
        self._last: Optional[datetime] = None
        self._done = False

    def read_until(self, moment: str) -> None:
        """Read label pages until one created after ``moment`` was seen (or there are no more)."""
        limit = parse_utc(moment)
        if self._pages is None:
            return
        while not self._done and (self._last is None or limit is None or self._last <= limit):
            page = next(self._pages, None)
            if page is None:
                self._done = True
                return
            for label in page:
                self._buffer.setdefault(str(label.get("shipment_id")), []).append(label)
                created = parse_utc(label.get("created_at"))
                if created is not None and (self._last is None or created > self._last):
                    self._last = created

    def take(self, shipment_id: str) -> Optional[list[dict]]:
        return self._buffer.pop(shipment_id, None)

    def forget_before(self, moment: str) -> None:
        """Drop the labels created before ``moment`` (they belong to shipments already read, or outside the window)."""
        limit = parse_utc(moment)
        if limit is None:
            return
        if self._pages is None:  # the first page that needs labels: the listing starts at its first shipment
            self._pages = self._client.list_labels(created_at_start=format_utc(limit), sort_by="created_at",
                                                   sort_dir="asc")
        for shipment_id in [k for k, v in self._buffer.items()
                            if all((parse_utc(lb.get("created_at")) or limit) < limit for lb in v)]:
            del self._buffer[shipment_id]
