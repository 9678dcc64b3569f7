"""A small client of ShipStation API v1 on ``requests``.

* Basic auth (API key and secret), a timeout on every request, TLS verification on;
* one rate limiter per API key, shared in the process, that reads ``X-Rate-Limit-Limit``,
  ``-Remaining`` and ``-Reset`` and waits out a 429 for ``Reset`` seconds;
* retries with backoff on 429, 5xx and dropped connections only (every call here is safe to
  repeat: reads, and ``createorder(s)``, which upserts by ``orderKey``);
* errors as :mod:`connex_core.errors` classes, with messages that carry the method and path but
  never the credentials or a whole body; a 400 keeps ASP.NET's ``ModelState`` so a batch write can
  tell which order it belongs to;
* listings streamed page by page (``page``/``pages``), never all in memory.

All waiting goes through the ``clock`` given (the connector's clock: a sped-up sandbox clock in
tests and benchmarks).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Iterator, Optional
from urllib.parse import parse_qsl, urlsplit

import requests

from connex_core.api import jsonutil
from connex_core.api import AuthenticationError, FatalAPIError, RetriableAPIError, WebhookRejected
from connex_core.api import RateLimiter, RetryPolicy, limiter_for, make_session, short_body
from connex_core.api import PageNumberPaginator, PagingLoopError

CONNECTOR = "shipstation"
DEFAULT_BASE_URL = "https://ssapi.shipstation.com"
RATE_LIMIT = 40
RATE_WINDOW = 60.0
MAX_PAGE_SIZE = 500
MAX_BATCH = 100
#: Every order status ShipStation knows (``GET /orders?orderStatus=``).
ORDER_STATUSES = ("awaiting_payment", "awaiting_shipment", "pending_fulfillment", "shipped", "on_hold", "cancelled",
                  "rejected_fulfillment")
#: The statuses ``createorder(s)`` may change; a shipped or cancelled order cannot be updated.
UPDATABLE_STATUSES = frozenset({"awaiting_payment", "awaiting_shipment", "pending_fulfillment", "on_hold"})

AUTH_MESSAGE = ("ShipStation rejected the API key and secret; check them in the config "
                "(connections.NAME.api_key / api_secret)")


#: What a webhook's resource_url may point at (ShipStation's webhook payloads: import batches of orders, shipments).
RESOURCE_PATHS = frozenset({"/orders", "/shipments", "/fulfillments"})

class ShipStationRequestError(FatalAPIError):
    """ShipStation refused a request as invalid (400). ``model_state`` is ASP.NET's per-field messages."""

    def __init__(self, message: str, *, status: int, model_state: Optional[dict[str, list[str]]] = None):
        super().__init__(message, connector=CONNECTOR, status=status)
        self.model_state = model_state or {}

    def order_indexes(self) -> set[int]:
        """Indexes into the posted array that the ModelState keys name (``apiOrders[3].items[0].sku`` -> 3)."""
        found = set()
        for key in self.model_state:
            m = re.match(r"^[A-Za-z]*\[(\d+)\]", key)
            if m:
                found.add(int(m.group(1)))
        return found


class ShipStationNotFound(FatalAPIError):
    """The id asked for does not exist (404, often with an empty body)."""


def describe_error_body(response: requests.Response) -> str:
    """What an error body says, in one short line: ASP.NET JSON, HTML from the edge, or nothing."""
    text = response.text or ""
    if not text.strip():
        return "(empty body)"
    try:
        data = response.json()
    except ValueError:
        if "<" in text and ">" in text:
            title = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
            plain = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
            return "HTML page: " + short_body(plain, 120)
        return short_body(text, 200)
    if isinstance(data, dict):
        parts = [str(data[k]) for k in ("Message", "message", "ExceptionMessage") if data.get(k)]
        for field, messages in (data.get("ModelState") or {}).items():
            first = messages[0] if isinstance(messages, list) and messages else messages
            parts.append(f"{field}: {short_body(str(first), 160)}")
        if parts:
            return short_body("; ".join(parts), 400)
    return short_body(text, 200)


def _is_page(data: Any, key: str) -> bool:
    """A listing page as ShipStation sends one: ``{key: [objects], "pages": number, ...}``."""
    return (isinstance(data, dict) and isinstance(data.get(key), list) and all(isinstance(i, dict) for i in data[key])
            and isinstance(data.get("pages", 0), (int, float)))


def _int_header(response: requests.Response, name: str) -> Optional[int]:
    try:
        return int(float(response.headers[name]))
    except (KeyError, ValueError):
        return None


class ShipStationClient:
    """ShipStation API v1 over ``requests``. Construct one per connection; it shares the key's limiter."""

    def __init__(self, api_key: str, api_secret: str, *, base_url: str = DEFAULT_BASE_URL,
                 timeout: float = 30.0, clock: Any, page_size: int = MAX_PAGE_SIZE,
                 max_tries: int = 5, session: Optional[requests.Session] = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.clock = clock
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.session = session or make_session("connex-shipstation")
        self.session.auth = (api_key, api_secret)
        digest = hashlib.sha256(api_key.encode()).hexdigest()[:12]
        # One limiter per API key; the clock is part of the key so a sped-up test clock never
        # shares a limiter with real time (in production there is one clock: one limiter per key).
        self.limiter: RateLimiter = limiter_for(
            (CONNECTOR, digest, id(clock)),
            lambda: RateLimiter(RATE_LIMIT, RATE_WINDOW, clock=clock.now, sleep=clock.sleep, margin=1.0))
        self.retry = RetryPolicy(max_tries=max_tries, sleep=clock.sleep)

    # -- transport -------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: Optional[dict[str, Any]] = None,
                body: Any = None, listing: Optional[str] = None) -> Any:
        """One API call, rate-limited and retried; returns the decoded JSON (None for an empty body).

        ``listing`` names the list a page of a listing holds (``"orders"``): an answer without it
        (an empty body, ``{}``, wrong types) is retried like a 5xx instead of read as "no more orders".
        """
        what = f"ShipStation {method} {path}"
        url = self.base_url + path

        def once() -> Any:
            data = self._once(method, url, params, body, what)
            if listing is not None and not _is_page(data, listing):
                raise RetriableAPIError(f"{what}: answered a page without its list of {listing} "
                                        f"({short_body(json.dumps(data, default=str), 120)})", connector=CONNECTOR)
            return data

        return self.retry.call(once, what)

    def get_resource(self, resource_url: Any) -> Any:
        """Follow a webhook's ``resource_url`` (the batch of orders or shipments it points at).

        Only its path and query are taken, checked against the listings a webhook may point at, and asked of
        this client's own base URL: whatever host the URL names (``https://evil\\@ssapi.shipstation.com``,
        an IP address), the credentials only ever go to the configured host.
        """
        if not isinstance(resource_url, str) or len(resource_url) > 2000:
            raise WebhookRejected("ShipStation webhook resource_url is not a URL")
        parts = urlsplit(resource_url.strip())
        path = parts.path.rstrip("/").lower()
        mount = urlsplit(self.base_url).path.rstrip("/").lower()  # a base URL under a path (a proxy, the sandbox)
        if mount and path.startswith(mount + "/"):
            path = path[len(mount):]
        if path not in RESOURCE_PATHS or any(c in resource_url for c in "\\@\r\n\t "):
            raise WebhookRejected(f"ShipStation webhook resource_url names {path or 'no path'!r}, not one of "
                                  f"{', '.join(sorted(RESOURCE_PATHS))}; not followed")
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        what = f"ShipStation GET {path}"
        url = self.base_url + path
        return self.retry.call(lambda: self._once("GET", url, params or None, None, what), what)

    def _once(self, method: str, url: str, params: Optional[dict[str, Any]], body: Any, what: str) -> Any:
        self.limiter.acquire()
        try:
            response = self.session.request(
                method, url, params=params,
                data=None if body is None else jsonutil.dumps(body),
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                timeout=self.timeout)
        except requests.Timeout as exc:
            raise RetriableAPIError(f"{what}: no answer within {self.timeout:g}s", connector=CONNECTOR) from exc
        except requests.ConnectionError as exc:
            raise RetriableAPIError(f"{what}: connection dropped or refused", connector=CONNECTOR) from exc
        self._read_rate_headers(response)
        if response.status_code < 400:
            if not response.content.strip():
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise RetriableAPIError(f"{what}: answered {response.status_code} with a body that is not JSON "
                                        f"({describe_error_body(response)})", connector=CONNECTOR,
                                        status=response.status_code) from exc
        raise self._error(response, what)

    def _read_rate_headers(self, response: requests.Response) -> None:
        remaining = _int_header(response, "X-Rate-Limit-Remaining")
        reset = _int_header(response, "X-Rate-Limit-Reset")
        self.limiter.update(remaining, reset)

    def _error(self, response: requests.Response, what: str) -> Exception:
        """The one status -> error table of this connector."""
        status = response.status_code
        said = describe_error_body(response)
        if status == 429:
            reset = _int_header(response, "X-Rate-Limit-Reset")
            wait = float(reset) if reset is not None else RATE_WINDOW
            self.limiter.block_for(wait)
            return RetriableAPIError(f"{what}: rate limit reached; waiting {wait:g}s", connector=CONNECTOR,
                                     status=429, retry_after=wait)
        if status >= 500:
            return RetriableAPIError(f"{what}: ShipStation answered {status}: {said}", connector=CONNECTOR,
                                     status=status)
        if status in (401, 403):
            return AuthenticationError(AUTH_MESSAGE, connector=CONNECTOR, status=status)
        if status == 402:  # v1 is for Gold/Accelerate plans and up; lower plans get 402 (see connex_shipstation.v2)
            from .v2.client import PLAN_MESSAGE

            return FatalAPIError(f"{what}: {PLAN_MESSAGE}", connector=CONNECTOR, status=402)
        if status == 404:
            return ShipStationNotFound(f"{what}: not found ({said})", connector=CONNECTOR, status=404)
        model_state = None
        try:
            data = response.json()
            if isinstance(data, dict) and isinstance(data.get("ModelState"), dict):
                model_state = data["ModelState"]
        except ValueError:
            pass
        return ShipStationRequestError(f"{what}: ShipStation refused the request ({status}): {said}",
                                       status=status, model_state=model_state)

    def paginate(self, path: str, key: str, params: Optional[dict[str, Any]] = None) -> Iterator[list[dict]]:
        """Yield the pages of a listing (``{key: [...], page, pages}``), one list at a time.

        Stops when ``page >= pages`` or a page comes back empty; a server that answers the same
        page twice in a row (a paging loop) is an error rather than followed for ever.
        """
        query = {k: v for k, v in (params or {}).items() if v is not None}
        query["pageSize"] = self.page_size

        def fetch(page: int) -> dict:
            return self.request("GET", path, params={**query, "page": page}, listing=key)

        paginator = PageNumberPaginator(items=lambda data: data[key], page_count=lambda data: int(data.get("pages") or 0))
        try:
            for data in paginator.pages(fetch):
                if data[key]:
                    yield data[key]
        except PagingLoopError as exc:
            raise FatalAPIError(f"ShipStation GET {path}: {exc}", connector=CONNECTOR) from None

    # -- orders ----------------------------------------------------------------------------------
    def list_orders(self, **filters: Any) -> Iterator[list[dict]]:
        """Pages of ``GET /orders`` (filters by their API names: ``modifyDateStart``, ``orderStatus``...)."""
        return self.paginate("/orders", "orders", filters)

    def orders_by_number(self, prefix: str, max_pages: Optional[int] = None) -> Optional[list[dict]]:
        """Every order whose number starts with ``prefix`` (ShipStation's ``orderNumber`` filter is a
        prefix match), or None when that would take more than ``max_pages`` pages to read."""
        found: list[dict] = []
        params = {"orderNumber": prefix, "pageSize": self.page_size, "sortBy": "CreateDate", "sortDir": "ASC"}
        paginator = PageNumberPaginator(items=lambda data: data["orders"],
                                        page_count=lambda data: int(data.get("pages") or 0))
        try:
            for data in paginator.pages(lambda page: self.request("GET", "/orders", params={**params, "page": page},
                                                                  listing="orders")):
                if max_pages is not None and int(data.get("pages") or 0) > max_pages:
                    return None
                found.extend(data["orders"])
        except PagingLoopError as exc:
            raise FatalAPIError(f"ShipStation GET /orders: {exc}", connector=CONNECTOR) from None
        return found

    def get_order(self, order_id: int | str) -> Optional[dict]:
        try:
            return self.request("GET", f"/orders/{order_id}")
        except ShipStationNotFound:
            return None

    def create_orders(self, orders: list[dict]) -> dict:
        """``POST /orders/createorders``: at most 100, upsert by orderKey; ``{hasErrors, results[]}``."""
        if len(orders) > MAX_BATCH:
            raise ValueError(f"createorders takes at most {MAX_BATCH} orders, got {len(orders)}")
        return self.request("POST", "/orders/createorders", body=list(orders))

    def create_order(self, order: dict) -> dict:
        """``POST /orders/createorder``: create, or replace the order with the same orderKey."""
        return self.request("POST", "/orders/createorder", body=order)

    # -- shipments -------------------------------------------------------------------------------
    def list_shipments(self, **filters: Any) -> Iterator[list[dict]]:
        """Pages of ``GET /shipments`` (labels created in ShipStation); voided ones included, as the API gives them."""
        return self.paginate("/shipments", "shipments", filters)

    def list_fulfillments(self, **filters: Any) -> Iterator[list[dict]]:
        """Pages of ``GET /fulfillments`` (orders marked shipped outside ShipStation)."""
        return self.paginate("/fulfillments", "fulfillments", filters)

    # -- account ---------------------------------------------------------------------------------
    def list_stores(self) -> list[dict]:
        return self.request("GET", "/stores") or []

    def list_tags(self) -> list[dict]:
        return self.request("GET", "/accounts/listtags") or []

    # -- webhooks --------------------------------------------------------------------------------
    def subscribe_webhook(self, target_url: str, event: str, *, store_id: Optional[int] = None,
                          friendly_name: Optional[str] = None) -> int:
        """``POST /webhooks/subscribe``; returns the new webhook's id."""
        body = {"target_url": target_url, "event": event, "store_id": store_id, "friendly_name": friendly_name}
        return int(self.request("POST", "/webhooks/subscribe", body=body)["id"])

    def list_webhooks(self) -> list[dict]:
        data = self.request("GET", "/webhooks")
        return data.get("webhooks", []) if isinstance(data, dict) else (data or [])

    def unsubscribe_webhook(self, webhook_id: int | str) -> None:
        self.request("DELETE", f"/webhooks/{webhook_id}")

    def close(self) -> None:
        self.session.close()
