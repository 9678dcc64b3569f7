"""A small client of ShipStation API v2 on ``requests``.

Facts it follows (sources in the plugin README, "API v2"):

* one ``api-key`` header, base ``https://api.shipstation.com/v2``, TLS on, a timeout on every call;
* 200 requests a minute per key by default: one limiter per key in the process; a 429 waits its
  ``Retry-After`` seconds (the one rate header v2 documents); ``X-Rate-Limit-Remaining/-Reset`` are
  read too when an answer carries them (documented for v1 only: unverified for v2);
* retries on 429, 5xx and dropped connections only; a 429 whose ``error_source`` is a carrier or an
  order source is not ShipStation's limit and is reported, not waited out for a minute;
* errors are ``{"request_id", "errors": [{error_source, error_type, error_code, message}]}``: every
  message raised here names the ``request_id`` (for ShipStation support) and never the key;
* a 2xx can still carry ``errors`` (partial success): :meth:`ShipStationV2Client.request` returns the
  body and the caller reads the per-item errors; :func:`errors_of` describes them;
* listings page with ``page``/``page_size`` and stop at ``pages`` (``links.next`` is only set while
  ``page < pages``), streamed page by page.
"""

from __future__ import annotations

import hashlib
import json
import logging
from decimal import Decimal
from typing import Any, Iterator, Optional
from urllib.parse import quote, urlsplit

import requests

from connex_core.api import AuthenticationError, FatalAPIError, RetriableAPIError
from connex_core.api import RateLimiter, RetryPolicy, limiter_for, make_session, short_body

CONNECTOR = "shipstation"
DEFAULT_BASE_URL = "https://api.shipstation.com/v2"
RATE_LIMIT = 200
RATE_WINDOW = 60.0
DEFAULT_PAGE_SIZE = 100
#: The documented default is 25; the maximum is not documented (unverified): 500 is the most we ask for.
MAX_PAGE_SIZE = 500
#: Shipments per ``POST /shipments``: the maximum is not documented (unverified); 100 is our own cap.
MAX_CREATE_BATCH = 100
#: ``shipment_status`` values [SPEC, LIST] plus ``on_hold`` [HOLD].
SHIPMENT_STATUSES = ("pending", "processing", "label_purchased", "cancelled", "on_hold")

AUTH_MESSAGE = ("ShipStation v2 rejected the API key; check connections.NAME.api_key (a v2 key from Settings > "
                "Account > API Settings; a v1 key and secret need api = \"v1\")")
PLAN_MESSAGE = ("ShipStation answered 402 Payment Required: this account's plan does not include API v1 "
                "(legacy; Gold, Accelerate or higher plans only). Generate a v2 API key (Settings > Account > "
                "API Settings) and set api = \"v2\" and api_key in the connection")

log = logging.getLogger("connex.shipstation.v2")


class ShipStationV2Error(FatalAPIError):
    """ShipStation v2 refused a request (4xx). ``errors`` is the body's list, ``request_id`` its id."""

    def __init__(self, message: str, *, status: int, request_id: Optional[str] = None,
                 errors: Optional[list[dict]] = None):
        super().__init__(message, connector=CONNECTOR, status=status)
        self.request_id = request_id
        self.errors = errors or []


class ShipStationV2NotFound(ShipStationV2Error):
    """404: the id asked for does not exist."""


def errors_of(body: Any) -> list[dict]:
    """The ``errors`` list of a v2 body (error or partial success), only its dict entries."""
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def describe_errors(errors: list[dict], limit: int = 300) -> str:
    """'validation/invalid_field_value: ship_to.postal_code is invalid; ...' in one short line."""
    parts = []
    for e in errors:
        code = "/".join(str(e[k]) for k in ("error_type", "error_code") if e.get(k))
        source = e.get("error_source")
        prefix = f"{code} ({source})" if source and source != "shipstation" and source != "ShipStation" else code
        parts.append(f"{prefix}: {e.get('message') or 'no message'}" if prefix else str(e.get("message")))
    return short_body("; ".join(parts), limit) if parts else "(no error details)"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _number_header(response: requests.Response, name: str) -> Optional[float]:
    try:
        return float(response.headers[name])
    except (KeyError, ValueError):
        return None


def _is_page(data: Any, key: str) -> bool:
    return (isinstance(data, dict) and isinstance(data.get(key), list) and all(isinstance(i, dict) for i in data[key])
            and isinstance(data.get("pages", 0), (int, float)))


class ShipStationV2Client:
    """ShipStation API v2 over ``requests``. One per connection; it shares its key's limiter."""

    def __init__(self, api_key: str, *, base_url: str = DEFAULT_BASE_URL, timeout: float = 30.0, clock: Any,
                 page_size: int = DEFAULT_PAGE_SIZE, max_tries: int = 5, rate_limit: int = RATE_LIMIT,
                 session: Optional[requests.Session] = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.clock = clock
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.session = session or make_session("connex-shipstation-v2")
        self.session.headers["api-key"] = api_key
        digest = hashlib.sha256(api_key.encode()).hexdigest()[:12]
        self.limiter: RateLimiter = limiter_for(
            (CONNECTOR, "v2", digest, id(clock)),
            lambda: RateLimiter(rate_limit, RATE_WINDOW, clock=clock.now, sleep=clock.sleep, margin=1.0))
        self.retry = RetryPolicy(max_tries=max_tries, sleep=clock.sleep)
        self.last_request_id: Optional[str] = None

    # -- transport -------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: Optional[dict[str, Any]] = None, body: Any = None,
                listing: Optional[str] = None) -> Any:
        """One call, rate-limited and retried; the decoded JSON (None for an empty body, as a 204)."""
        what = f"ShipStation v2 {method} {path}"
        url = self.base_url + path

        def once() -> Any:
            data = self._once(method, url, params, body, what)
            if listing is not None and not _is_page(data, listing):
                raise RetriableAPIError(f"{what}: answered a page without its list of {listing}", connector=CONNECTOR)
            return data

        return self.retry.call(once, what)

    def _once(self, method: str, url: str, params: Optional[dict[str, Any]], body: Any, what: str) -> Any:
        self.limiter.acquire()
        try:
            response = self.session.request(
                method, url, params={k: v for k, v in (params or {}).items() if v is not None} or None,
                data=None if body is None else json.dumps(body, default=_json_default),
                headers={"Content-Type": "application/json", "Accept": "application/json"}, timeout=self.timeout)
        except requests.Timeout as exc:
            raise RetriableAPIError(f"{what}: no answer within {self.timeout:g}s", connector=CONNECTOR) from exc
        except requests.ConnectionError as exc:
            raise RetriableAPIError(f"{what}: connection dropped or refused", connector=CONNECTOR) from exc
        remaining = _number_header(response, "X-Rate-Limit-Remaining")
        reset = _number_header(response, "X-Rate-Limit-Reset")
        self.limiter.update(None if remaining is None else int(remaining), reset)
        data: Any = None
        if response.content.strip():
            try:
                data = response.json()
            except ValueError:
                data = None
                if response.status_code < 400:
                    raise RetriableAPIError(f"{what}: answered {response.status_code} with a body that is not JSON "
                                            f"({short_body(response.text, 120)})", connector=CONNECTOR,
                                            status=response.status_code) from None
        self.last_request_id = str(data["request_id"]) if isinstance(data, dict) and data.get("request_id") else None
        if response.status_code < 400:
            if errors_of(data):  # partial success: the caller reads the per-item errors
                log.warning("%s: answered %d with errors (request_id %s): %s", what, response.status_code,
                            data.get("request_id") or "none", describe_errors(errors_of(data)))
            return data
        raise self._error(response, data, what)

    def _error(self, response: requests.Response, data: Any, what: str) -> Exception:
        """The one status -> error table of the v2 client; every message names the request_id."""
        status = response.status_code
        errors = errors_of(data)
        request_id = str(data.get("request_id")) if isinstance(data, dict) and data.get("request_id") else None
        said = describe_errors(errors) if errors else short_body(response.text, 160) or "(empty body)"
        rid = f" (request_id {request_id})" if request_id else " (no request_id)"
        log.log(logging.DEBUG if status == 404 else logging.WARNING, "%s: %d%s: %s", what, status, rid, said)
        if status == 429:
            sources = {str(e.get("error_source") or "").lower() for e in errors}
            wait = _number_header(response, "Retry-After")
            if sources and sources <= {"carrier", "order_source"}:
                return ShipStationV2Error(f"{what}: a {'/'.join(sorted(sources))} is rate-limiting ShipStation, "
                                          f"not ShipStation itself{rid}: {said}", status=429,
                                          request_id=request_id, errors=errors)
            wait = RATE_WINDOW if wait is None else wait
            self.limiter.block_for(wait)
            return RetriableAPIError(f"{what}: rate limit reached; waiting {wait:g}s{rid}", connector=CONNECTOR,
                                     status=429, retry_after=wait)
        if status >= 500:
            return RetriableAPIError(f"{what}: ShipStation answered {status}{rid}: {said}", connector=CONNECTOR,
                                     status=status)
        if status in (401, 403):
            return AuthenticationError(f"{AUTH_MESSAGE}{rid}", connector=CONNECTOR, status=status)
        if status == 402:
            return ShipStationV2Error(f"ShipStation v2 answered 402 Payment Required{rid}: the account's plan "
                                      f"lacks the Shipping API or Inventory API add-on: {said}", status=402,
                                      request_id=request_id, errors=errors)
        cls = ShipStationV2NotFound if status == 404 else ShipStationV2Error
        return cls(f"{what}: ShipStation refused the request ({status}){rid}: {said}", status=status,
                   request_id=request_id, errors=errors)

    def paginate(self, path: str, key: str, params: Optional[dict[str, Any]] = None) -> Iterator[list[dict]]:
        """Yield the pages of a v2 listing (``{key: [...], total, page, pages, links}``), one list at a time."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        query["page_size"] = self.page_size
        page, previous = 1, None
        while True:
            query["page"] = page
            data = self.request("GET", path, params=dict(query), listing=key)
            items = data[key]
            if items and items == previous:
                raise FatalAPIError(f"ShipStation v2 GET {path}: page {page} repeats page {page - 1} (paging loop)",
                                    connector=CONNECTOR)
            previous = items
            if items:
                yield items
            pages = int(data.get("pages") or 0)
            if not items or page >= pages:
                return
            page += 1

    # -- shipments (what v1 and the UI call orders) ----------------------------------------------
    def list_shipments(self, **filters: Any) -> Iterator[list[dict]]:
        return self.paginate("/shipments", "shipments", filters)

    def get_shipment(self, shipment_id: str) -> Optional[dict]:
        try:
            return self.request("GET", f"/shipments/{quote(shipment_id, safe='')}")
        except ShipStationV2NotFound:
            return None

    def get_by_external_id(self, external_shipment_id: str) -> Optional[dict]:
        """``GET /shipments/external_shipment_id/{id}``: the shipment with our key, or None."""
        try:
            return self.request("GET", f"/shipments/external_shipment_id/{quote(external_shipment_id, safe='')}")
        except ShipStationV2NotFound:
            return None

    def create_shipments(self, shipments: list[dict]) -> dict:
        """``POST /shipments``: ``{has_errors, shipments: [... each with errors[]]}`` (partial success)."""
        if len(shipments) > MAX_CREATE_BATCH:
            raise ValueError(f"at most {MAX_CREATE_BATCH} shipments per call, got {len(shipments)}")
        return self.request("POST", "/shipments", body={"shipments": list(shipments)}) or {}

    def update_shipment(self, shipment_id: str, changes: dict) -> dict:
        """``PUT /shipments/{id}``: send only what changes [UPD]."""
        return self.request("PUT", f"/shipments/{quote(shipment_id, safe='')}", body=changes) or {}

    # -- labels and fulfillments (shipping facts) ------------------------------------------------
    def list_labels(self, **filters: Any) -> Iterator[list[dict]]:
        return self.paginate("/labels", "labels", filters)

    def list_fulfillments(self, **filters: Any) -> Iterator[list[dict]]:
        return self.paginate("/fulfillments", "fulfillments", filters)

    # -- account ---------------------------------------------------------------------------------
    def list_warehouses(self) -> list[dict]:
        """``GET /warehouses``: the cheap authenticated call ``check`` makes."""
        data = self.request("GET", "/warehouses")
        return data.get("warehouses", []) if isinstance(data, dict) else []

    def get_resource(self, resource_url: str) -> Any:
        """Follow a webhook's ``resource_url``: only on ShipStation's hosts or under this client's base URL."""
        parts = urlsplit(resource_url)
        host = (parts.hostname or "").lower()
        own = parts.scheme == "https" and (host in ("shipstation.com", "shipengine.com")
                                           or host.endswith((".shipstation.com", ".shipengine.com")))
        root = self.base_url.rsplit("/v2", 1)[0] if self.base_url.endswith("/v2") else self.base_url
        if not own and not resource_url.startswith(root + "/"):
            raise FatalAPIError("ShipStation webhook resource_url is not on a ShipStation host; not followed",
                                connector=CONNECTOR)
        what = f"ShipStation v2 GET {parts.path}"
        return self.retry.call(lambda: self._once("GET", resource_url, None, None, what), what)

    def close(self) -> None:
        self.session.close()
