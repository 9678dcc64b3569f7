"""A simulated Xero Accounting API, served on loopback, that xero-python talks to as to the real one.

Mounted at ``/xero`` by :class:`~connex_core.sandbox.SandboxServer`:

* ``/xero/api.xro/2.0/...``: Invoices (GET with ``where``, ``Statuses``, ``IDs``,
  ``InvoiceNumbers``, ``ContactIDs``, ``page``/``pageSize``, ``If-Modified-Since``; PUT creates,
  POST creates or updates, ``summarizeErrors``), invoice History, Contacts (list, PUT, and one by
  ``/Contacts/{ContactID}`` or ``/Contacts/{ContactNumber}``, as xero-python's ``get_contact`` and
  ``get_contact_by_contact_number`` call them; ``POST /Contacts/{ContactID}`` updates one), TrackingCategories, Items;
* ``/xero/connections``: the organisations (tenants) the token may use;
* ``/xero/connect/authorize`` and ``/xero/connect/token``: the OAuth2 authorization-code and
  refresh-token grants. Access tokens last 30 minutes **on the simulator's clock**; every refresh
  rotates the refresh token, the old one still answering for a 30-minute grace period; a refresh
  token unused for 60 days expires.

Faithful in what the connector relies on: bearer auth and ``xero-tenant-id`` (401 problem body,
403), per-element ``ValidationErrors`` with ``summarizeErrors=false`` and the 400
``ValidationException`` without (valid elements of the request are still created, as on the real
API), ``Idempotency-Key`` replay (same key and request: the first answer again, nothing written;
same key, other request: 400), the rate limits (60 a minute, 5,000 a day, 5 at once per
organisation) with ``X-MinLimit-Remaining``, ``X-DayLimit-Remaining``, ``Retry-After`` and
``X-Rate-Limit-Problem``, and 503 "The Organisation is offline" (:meth:`XeroSimulator.go_offline`).
Faults are injected with :attr:`faults` as for every simulator.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import json
import math
import random
import secrets
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from connex_core.sandbox import Request, Response, SimClock, SimulatedService, WindowLimiter, json_response, route
from connex_core.sandbox.oauth import OAuthServer

from ..msdate import parse_http_date, to_ms_date
from . import simcredit
from .simbooks import Books, Outcome, new_id
from .simwhere import QueryParseError, compile_where

API = "/api.xro/2.0"
DEFAULT_TENANT_ID = "3f5c1f2e-8c4b-4d7a-9b1e-6a2d0c9e7f41"
#: Calls per organisation per day on the paid tiers; the free Starter tier gets 1,000 (``day_limit=STARTER_DAY_LIMIT``).
DAY_LIMIT_DEFAULT, STARTER_DAY_LIMIT = 5000, 1000
#: Broad scopes an app created since 2026-03-02 may not request (api-changes §6 [X3], [X7]).
BROAD_SCOPES = ("accounting.transactions", "accounting.transactions.read", "accounting.reports.read")
SCOPES = "openid profile email offline_access accounting.invoices accounting.contacts accounting.settings"

PRODUCTS = [("MUG-BLU", "Blue mug", "12.50"), ("TEE-L", "T-shirt, large", "20.00"), ("CAP-RED", "Red cap", "15.00"),
            ("SOCK-3PK", "Socks, 3 pack", "9.99"), ("BAG-TOTE", "Canvas tote", "18.00"),
            ("POSTER-A2", "Poster A2", "25.00")]
PEOPLE = [("Ana", "García"), ("Ben", "Okafor"), ("Chloe", "Martin"), ("Dev", "Patel"), ("Emma", "Schultz"),
          ("Farid", "Haddad"), ("Grace", "Liu"), ("Hugo", "Rossi"), ("Iris", "Nakamura"), ("Jon", "Eriksen")]
PLACES = [("Austin", "TX", "78701"), ("Portland", "OR", "97205"), ("Denver", "CO", "80202"), ("Boston", "MA", "02108"),
          ("Chicago", "IL", "60601"), ("Seattle", "WA", "98101"), ("Miami", "FL", "33131")]
STREETS = ["Main St", "Oak Ave", "Pine Rd", "Maple Dr", "Cedar Ln", "Elm St"]


def _problem(status: int, title: str, detail: str) -> Response:
    return json_response({"Type": None, "Title": title, "Status": status, "Detail": detail}, status)


def _validation_exception(elements: list[dict[str, Any]]) -> Response:
    return json_response({"ErrorNumber": 10, "Type": "ValidationException",
                          "Message": "A validation exception occurred", "Elements": elements}, 400)


def _bad_request(kind: str, message: str, number: int = 14) -> Response:
    return json_response({"ErrorNumber": number, "Type": kind, "Message": message}, 400)


def _idempotent(handler: Callable[["XeroSimulator", Request], Response]) -> Callable:
    """Replay the first answer to a write that carries an ``Idempotency-Key`` it has seen (nothing written)."""

    @functools.wraps(handler)
    def wrapped(self: "XeroSimulator", request: Request) -> Response:
        key = request.headers.get("idempotency-key")
        if not key:
            self.write_calls += 1
            return handler(self, request)
        if len(key) > 128:
            return _bad_request("ValidationException", "The Idempotency-Key header must be 128 characters or fewer.")
        fingerprint = hashlib.sha256(f"{request.method} {request.path} {sorted(request.query.items())}".encode()
                                     + request.body).hexdigest()
        slot = (request.headers.get("xero-tenant-id", "").lower(), key)
        seen = self._idempotency.get(slot)
        if seen and self.clock.now() - seen[0] <= self.idempotency_window:
            if seen[1] != fingerprint:
                return _bad_request("ValidationException",
                                    "The Idempotency-Key has already been used for a different request.")
            self.replays += 1
            return Response(seen[2].status, seen[2].body, dict(seen[2].headers))
        self.write_calls += 1
        response = handler(self, request)
        if response.status < 500:
            self._idempotency[slot] = (self.clock.now(), fingerprint, response)
        return response

    return wrapped


class XeroSimulator(OAuthServer, SimulatedService):
    """The simulated Xero API (see the module docstring). State lives in :attr:`books`."""

    name = "xero"
    ACCESS_TOKEN_SECONDS = 1800
    REFRESH_GRACE_SECONDS = 1800
    REFRESH_TOKEN_LIFETIME = 60 * 86400  # a refresh token unused for 60 days expires
    # The OAuth server's rules (api-contracts: Xero identity): access tokens last 30 minutes; every refresh
    # rotates, the old token answering with its successor for a 30-minute grace period; 60 idle days expire
    # a refresh token; client credentials by Basic auth or in the form; a code is bound to its redirect URI.
    access_seconds = float(ACCESS_TOKEN_SECONDS)
    refresh_grace_seconds = float(REFRESH_GRACE_SECONDS)
    refresh_idle_seconds = float(REFRESH_TOKEN_LIFETIME)
    grace_answer = "successor"
    client_in_form = True
    MINUTE_LIMIT, DAY_LIMIT, CONCURRENT_LIMIT = 60, DAY_LIMIT_DEFAULT, 5
    PAGE_SIZE = 100

    @classmethod
    def account_credentials(cls, n: int) -> dict[str, Any]:
        return {"client_id": f"xero-sandbox-client-a{n}", "client_secret": f"xero-sandbox-secret-a{n}",
                "refresh_token": f"xero-sandbox-refresh-a{n}", "webhook_key": f"xero-sandbox-webhook-key-a{n}",
                "tenant_name": f"Connex Demo Ltd {n}"}

    def __init__(self, clock: Optional[SimClock] = None, seed: int = 0, client_id: str = "xero-sandbox-client",
                 client_secret: str = "xero-sandbox-secret", tenant_id: str = DEFAULT_TENANT_ID,
                 refresh_token: str = "xero-sandbox-refresh-0", tenant_name: str = "Connex Demo Ltd",
                 webhook_key: str = "xero-sandbox-webhook-key", day_limit: int = DAY_LIMIT_DEFAULT,
                 redirect_uris: Optional[list[str]] = None, granular_only: bool = False):
        super().__init__(clock=clock, seed=seed)
        self.redirect_uris: Optional[list[str]] = None
        """The app's registered redirect URIs; None: any (the simulator's default for tests)."""
        for uri in redirect_uris or []:
            self.register_redirect_uri(uri)
        self.granular_only = granular_only
        """An app created since 2026-03-02: it may request only granular scopes (api-changes §6 [X3])."""
        self.client_id, self.client_secret = client_id, client_secret
        self.tenants: dict[str, str] = {tenant_id: tenant_name}
        self.tenant_id = tenant_id
        self.initial_refresh_token = refresh_token
        self.webhook_key = webhook_key
        self.books = Books(now=self.clock.utcnow)
        self.rng = random.Random(seed)
        self.write_calls = 0
        """Writes (PUT/POST to the API) that were processed; an idempotent replay is not one."""
        self.replays = 0
        self.idempotency_window = 24 * 3600.0
        self._idempotency: dict[tuple[str, str], tuple[float, str, Response]] = {}
        self.oauth_setup(refresh_token)
        self.minute_window = WindowLimiter(self.MINUTE_LIMIT, 60.0, self.clock)
        """Calls per organisation per minute (tests may change ``.limit`` or spend calls with ``.hit(tenant)``)."""
        self.day_window = WindowLimiter(day_limit, 86400.0, self.clock)
        """Calls per organisation per day: 5,000, or 1,000 on the free Starter tier (api-changes §6 [X4], [X6];
        the tier figures are third-party, unverified). ``X-DayLimit-Remaining`` counts it down."""
        self._in_flight: dict[str, int] = {}
        self._flight_lock = threading.Lock()
        self._offline_until = -1.0
        self.sales_channel = self.books.add_tracking_category("Sales Channel", ["ShipStation", "Retail"])
        self.region = self.books.add_tracking_category("Region", ["East", "West"])
        for code, title, price in PRODUCTS:
            self.books.add_item(code, title, Decimal(price))

    # -- what clients and tests use -----------------------------------------------------------------
    def client_config(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "client_id": self.client_id, "client_secret": self.client_secret,
                "refresh_token": self.initial_refresh_token, "token_url": f"{self.base_url}/connect/token",
                "authorize_url": f"{self.base_url}/connect/authorize", "tenant_id": self.tenant_id,
                "webhook_key": self.webhook_key}

    def webhook(self, invoice_ids: list[str], key: Optional[str] = None) -> tuple[dict[str, str], bytes]:
        """Headers and body of the webhook Xero sends when these invoices change (signed with the webhooks key).

        No ids: the "intent to receive" check Xero sends when webhooks are switched on.
        """
        events = [{"resourceUrl": f"{self.base_url}{API}/Invoices/{i}", "resourceId": i,
                   "eventDateUtc": self.clock.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f"), "eventType": "UPDATE",
                   "eventCategory": "INVOICE", "tenantId": self.tenant_id, "tenantType": "ORGANISATION"}
                  for i in invoice_ids]
        body = json.dumps({"events": events, "firstEventSequence": 1, "lastEventSequence": len(events),
                           "entropy": secrets.token_hex(10).upper()}).encode()
        digest = hmac.new((key or self.webhook_key).encode(), body, hashlib.sha256).digest()
        return {"x-xero-signature": base64.b64encode(digest).decode(), "content-type": "application/json"}, body

    @property
    def invoices(self) -> dict[str, dict[str, Any]]:
        return self.books.invoices

    @property
    def contacts(self) -> dict[str, dict[str, Any]]:
        return self.books.contacts

    def history(self, invoice_id: str) -> list[dict[str, Any]]:
        return self.books.history.get(invoice_id, [])

    def add_tenant(self, name: str) -> str:
        """Connect another organisation (``/connections`` then lists several)."""
        tenant_id = new_id()
        self.tenants[tenant_id] = name
        return tenant_id

    def go_offline(self, seconds: float) -> None:
        """Answer 503 "The Organisation is offline" for ``seconds`` of simulated time (a data upgrade)."""
        self._offline_until = self.clock.now() + seconds

    def seed(self, n: int) -> int:
        """The sandbox's seeding hook (``connex sandbox --seed-orders``, ``connex demo``): ``n`` invoices."""
        return len(self.seed_invoices(n)) if n > 0 else 0

    def simulate_activity(self) -> dict[str, int]:
        """Time passes in the business: customers pay every third open invoice (by invoice number)."""
        with self.lock:
            open_ = sorted((i for i in self.books.invoices.values()
                            if i["Status"] == "AUTHORISED" and i["AmountPaid"] == 0), key=lambda i: i["InvoiceNumber"])
            paying = open_[::3]
            for invoice in paying:
                self.books.pay(invoice["InvoiceID"])
        return {"invoices_paid": len(paying)}

    def seed_invoices(self, n: int, *, flagged: float = 0.8, status: Optional[str] = None,
                      contacts: Optional[int] = None, age_days: float = 3.0) -> list[str]:
        """Create ``n`` ACCREC invoices (deterministic by seed) and return their ids.

        Each has a contact with a POBOX (billing) and a STREET (shipping) address and 1 to 3 lines
        of catalogue items. A fraction ``flagged`` of them carry the tracking option
        "Sales Channel: ShipStation" on their lines, the rest "Retail". Status is ``status``, or
        mostly AUTHORISED with some DRAFT, SUBMITTED and PAID. ``UpdatedDateUTC`` is spread over
        the last ``age_days`` days.
        """
        rng = self.rng
        with self.lock:
            pool = [self._seed_contact(rng) for _ in range(contacts or max(3, min(n // 3 + 1, 200)))]
            ids = []
            for _ in range(n):
                channel = "ShipStation" if rng.random() < flagged else "Retail"
                lines = []
                for code, title, price in rng.sample(PRODUCTS, rng.randint(1, 3)):
                    tracking = [{"Name": "Sales Channel", "Option": channel}]
                    if rng.random() < 0.5:
                        tracking.append({"Name": "Region", "Option": rng.choice(["East", "West"])})
                    lines.append({"ItemCode": code, "Description": title, "Quantity": rng.randint(1, 3),
                                  "UnitAmount": price, "AccountCode": "200", "TaxType": "TAX001",
                                  "Tracking": tracking})
                chosen = status or rng.choices(["AUTHORISED", "DRAFT", "SUBMITTED", "PAID"], [70, 10, 5, 15])[0]
                issued = self.clock.utcnow() - timedelta(days=rng.randint(0, 10))
                outcome = self.books.create_invoice({
                    "Type": "ACCREC", "Contact": {"ContactID": rng.choice(pool)}, "LineItems": lines,
                    "Status": "AUTHORISED" if chosen == "PAID" else chosen, "Date": issued.date().isoformat(),
                    "DueDate": (issued + timedelta(days=30)).date().isoformat(),
                    "Reference": f"Web order {rng.randint(10000, 99999)}",
                })
                assert outcome.record is not None, outcome.errors
                invoice_id = outcome.record["InvoiceID"]
                if chosen == "PAID":
                    self.books.pay(invoice_id)
                age = timedelta(seconds=rng.uniform(0, age_days * 86400))
                self.books.backdate(invoice_id, self.clock.utcnow() - age)
                ids.append(invoice_id)
            return ids

    def _seed_contact(self, rng: random.Random) -> str:
        first, last = rng.choice(PEOPLE)
        city, region, postcode = rng.choice(PLACES)
        street = f"{rng.randint(1, 999)} {rng.choice(STREETS)}"
        name = f"{first} {last}"
        while self.books.find_contact_by_name(name):
            name = f"{first} {last} {rng.randint(2, 9999)}"
        ship_city, ship_region, ship_post = rng.choice(PLACES)
        outcome = self.books.create_contact({
            "Name": name, "FirstName": first, "LastName": last,
            "EmailAddress": f"{first}.{last}{rng.randint(1, 999)}@example.org".lower(),
            "Addresses": [
                {"AddressType": "POBOX", "AddressLine1": f"PO Box {rng.randint(100, 9999)}", "City": city,
                 "Region": region, "PostalCode": postcode, "Country": "United States", "AttentionTo": name},
                {"AddressType": "STREET", "AddressLine1": street, "AddressLine2": rng.choice(["", "Apt 4"]),
                 "City": ship_city, "Region": ship_region, "PostalCode": ship_post, "Country": "United States",
                 "AttentionTo": name},
            ],
            "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": f"555-{rng.randint(1000, 9999)}",
                        "PhoneAreaCode": "512"}],
        })
        assert outcome.record is not None
        return outcome.record["ContactID"]

    def pay(self, invoice_id: str, amount: Optional[Decimal] = None) -> None:
        """Record a customer's payment on an invoice (full by default: it becomes PAID)."""
        with self.lock:
            self.books.pay(invoice_id, amount)

    # -- auth, limits, dispatch -------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        tenant = request.headers.get("xero-tenant-id", "").lower()
        if not request.path.lower().startswith(API.lower()):
            return super().handle(request)
        with self._flight_lock:
            busy = self._in_flight.get(tenant, 0) >= self.CONCURRENT_LIMIT
            if not busy:
                self._in_flight[tenant] = self._in_flight.get(tenant, 0) + 1
        if busy:
            self.calls["429"] += 1
            return json_response({"Title": "Too Many Requests", "Status": 429, "Detail": "concurrent limit"}, 429,
                                 {"X-Rate-Limit-Problem": "concurrent"})
        try:
            return super().handle(request)
        finally:
            with self._flight_lock:
                self._in_flight[tenant] -= 1

    def authenticate(self, request: Request) -> Optional[Response]:
        path = request.path.lower()
        if path.startswith("/connect/"):
            return None
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        expires = self._access.get(token)
        if expires is None or expires <= self.clock.now():
            return Response(401, json.dumps({"Type": None, "Title": "Unauthorized", "Status": 401,
                                             "Detail": "AuthenticationUnsuccessful"}).encode(),
                            {"Content-Type": "application/json", "WWW-Authenticate": 'Bearer error="invalid_token"'})
        if path.startswith(API.lower()):
            tenant = request.headers.get("xero-tenant-id", "")
            if tenant.lower() not in {t.lower() for t in self.tenants}:
                return _problem(403, "Forbidden", "AuthenticationUnsuccessful")
            if self.clock.now() < self._offline_until:
                return Response(503, b"The Organisation is offline", {"Content-Type": "text/plain"})
        return None

    def rate_limit(self, request: Request) -> tuple[Optional[Response], dict[str, str]]:
        if not request.path.lower().startswith(API.lower()):
            return None, {}
        tenant = request.headers.get("xero-tenant-id", "").lower()
        allowed, minute_left, minute_reset = self.minute_window.hit(tenant)
        if not allowed:
            return self._too_many("minute", minute_reset), {}
        allowed, day_left, day_reset = self.day_window.hit(tenant)
        if not allowed:
            return self._too_many("day", day_reset), {}
        return None, {"X-MinLimit-Remaining": str(minute_left), "X-DayLimit-Remaining": str(day_left),
                      "X-AppMinLimit-Remaining": "9999"}

    @staticmethod
    def _too_many(problem: str, reset: float) -> Response:
        return json_response({"Title": "Too Many Requests", "Status": 429, "Detail": f"{problem} limit exceeded"}, 429,
                             {"Retry-After": str(max(1, math.ceil(reset))), "X-Rate-Limit-Problem": problem})

    def _envelope(self, **payload: Any) -> dict[str, Any]:
        return {"Id": new_id(), "Status": "OK", "ProviderName": "Connex sandbox",
                "DateTimeUTC": to_ms_date(self.clock.utcnow()).replace("+0000", ""), **payload}

    # -- OAuth2 (connex_core.sandbox.oauth.OAuthServer) ------------------------------------------------------
    @route("GET", "/connect/authorize")
    def authorize(self, request: Request) -> Response:
        return self.oauth_authorize(request)

    def register_redirect_uri(self, uri: str) -> None:
        """Add a redirect URI to the app (developer.xero.com, My Apps). https, or http on localhost only
        (third-party guides; Xero's FAQ: absolute URIs, no wildcards)."""
        parts = urlsplit(uri)
        if not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1"))):
            raise ValueError(f"Xero takes https redirect URIs, or http on localhost: {uri}")
        self.redirect_uris = [*(self.redirect_uris or []), uri]

    def oauth_refuse_authorize(self, request: Request) -> Optional[Response]:
        # Xero shows an error page (a 500 screen) for a bad authorize address: a redirect_uri that matches no
        # registered one, an invalid scope, a wrong client id (developer.xero.com/documentation/oauth2/troubleshooting).
        # The exact wording of each page is not in a stored source.
        if request.arg("client_id") != self.client_id or request.arg("response_type") != "code":
            return Response(400, b"unauthorized_client", {"Content-Type": "text/plain"})
        if self.redirect_uris is not None and request.arg("redirect_uri") not in self.redirect_uris:
            return Response(500, b"unauthorized_client: Invalid redirect_uri", {"Content-Type": "text/plain"})
        broad = [s for s in (request.arg("scope") or "").split() if s in BROAD_SCOPES]
        if self.granular_only and broad:
            return Response(500, f"invalid_scope: {' '.join(broad)}".encode(), {"Content-Type": "text/plain"})
        return None

    def oauth_redirect_params(self, request: Request) -> dict[str, str]:
        return {"scope": request.arg("scope") or SCOPES, "session_state": secrets.token_hex(8)}

    @route("POST", "/connect/token")
    def token(self, request: Request) -> Response:
        return self.oauth_token(request)

    def new_access_token(self) -> str:
        return "xat-" + secrets.token_hex(16)

    def new_refresh_token(self) -> str:
        return "xrt-" + secrets.token_hex(16)

    def oauth_answer(self, access: str, refresh: str) -> dict[str, Any]:
        return {"id_token": "xero-sandbox-id-token", "access_token": access, "expires_in": self.ACCESS_TOKEN_SECONDS,
                "token_type": "Bearer", "refresh_token": refresh, "scope": SCOPES}

    @route("GET", "/connections")
    def connections(self, request: Request) -> Response:
        stamp = self.clock.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f0")
        return json_response([{"id": new_id(), "authEventId": new_id(), "tenantId": tenant_id,
                               "tenantType": "ORGANISATION", "tenantName": name, "createdDateUtc": stamp,
                               "updatedDateUtc": stamp} for tenant_id, name in self.tenants.items()])

    # -- Invoices --------------------------------------------------------------------------------
    @route("GET", API + "/Invoices")
    def get_invoices(self, request: Request) -> Response:
        try:
            found = self._filter(list(self.books.invoices.values()), request, self._invoice_field)
        except QueryParseError as exc:
            return _bad_request("QueryParseException", str(exc), 16)
        for name, key in (("IDs", "InvoiceID"), ("InvoiceNumbers", "InvoiceNumber"), ("ContactIDs", "ContactID"),
                          ("Statuses", "Status")):
            wanted = request.arg(name)
            if wanted:
                values = {v.strip().lower() for v in wanted.split(",") if v.strip()}
                found = [i for i in found if str(i.get(key, "")).lower() in values]
        if (request.arg("includeArchived") or "").lower() != "true" and not request.arg("Statuses"):
            found = [i for i in found if i["Status"] != "DELETED"]
        found.sort(key=lambda i: (i["UpdatedDateUTC"], i["InvoiceID"]))
        if (request.arg("order") or "").lower().endswith("desc"):
            found.reverse()
        summary = (request.arg("summaryOnly") or "").lower() == "true"
        page, extra = self._page(found, request)
        # Without ``page`` Xero returns every match, but without line items.
        with_lines = request.arg("page") is not None and not summary
        return json_response(self._envelope(**extra, Invoices=[self.books.invoice_json(i, with_lines) for i in page]))

    @route("GET", API + "/Invoices/{invoice_id}")
    def get_invoice(self, request: Request) -> Response:
        invoice = self._lookup(request.params["invoice_id"])
        if invoice is None:
            return Response(404, b"The resource you're looking for cannot be found", {"Content-Type": "text/plain"})
        return json_response(self._envelope(Invoices=[self.books.invoice_json(invoice)]))

    @route("PUT", API + "/Invoices")
    @_idempotent
    def put_invoices(self, request: Request) -> Response:
        return self._write(request, "Invoices", lambda e: self.books.create_invoice(e), self.books.invoice_json)

    @route("POST", API + "/Invoices")
    @_idempotent
    def post_invoices(self, request: Request) -> Response:
        def upsert(element: dict[str, Any]) -> Outcome:
            existing = self._lookup(element.get("InvoiceID") or "") if element.get("InvoiceID") else (
                self.books.find_invoice_by_number(element["InvoiceNumber"]) if element.get("InvoiceNumber") else None)
            if element.get("InvoiceID") and existing is None:
                return Outcome(errors=["Invoice could not be found"])
            return self.books.update_invoice(existing, element) if existing else self.books.create_invoice(element)

        return self._write(request, "Invoices", upsert, self.books.invoice_json)

    @route("POST", API + "/Invoices/{invoice_id}")
    @_idempotent
    def post_invoice(self, request: Request) -> Response:
        invoice = self._lookup(request.params["invoice_id"])
        if invoice is None:
            return Response(404, b"The resource you're looking for cannot be found", {"Content-Type": "text/plain"})
        return self._write(request, "Invoices", lambda e: self.books.update_invoice(invoice, e),
                           self.books.invoice_json)

    @route("GET", API + "/Invoices/{invoice_id}/History")
    def get_history(self, request: Request) -> Response:
        invoice = self._lookup(request.params["invoice_id"])
        if invoice is None:
            return Response(404, b"The resource you're looking for cannot be found", {"Content-Type": "text/plain"})
        records = [self.books.history_json(r) for r in self.history(invoice["InvoiceID"])]
        return json_response(self._envelope(HistoryRecords=records))

    @route("PUT", API + "/Invoices/{invoice_id}/History")
    @_idempotent
    def put_history(self, request: Request) -> Response:
        invoice = self._lookup(request.params["invoice_id"])
        if invoice is None:
            return Response(404, b"The resource you're looking for cannot be found", {"Content-Type": "text/plain"})

        def note(element: dict[str, Any]) -> Outcome:
            details = str(element.get("Details") or "").strip()
            if not details:
                return Outcome(errors=["The Details field is mandatory."])
            if len(details) > 2500:
                return Outcome(errors=["Details must be 2500 characters or fewer."])
            return Outcome(record=self.books.add_history(invoice["InvoiceID"], "Note", details, "Connex"))

        return self._write(request, "HistoryRecords", note, self.books.history_json)

    # -- Contacts, TrackingCategories, Items ------------------------------------------------------
    @route("GET", API + "/Contacts")
    def get_contacts(self, request: Request) -> Response:
        try:
            found = self._filter(list(self.books.contacts.values()), request, lambda c, f: c.get(f))
        except QueryParseError as exc:
            return _bad_request("QueryParseException", str(exc), 16)
        wanted = request.arg("IDs")
        if wanted:
            ids = {v.strip().lower() for v in wanted.split(",")}
            found = [c for c in found if c["ContactID"] in ids]
        if (request.arg("includeArchived") or "").lower() != "true":
            found = [c for c in found if c["ContactStatus"] == "ACTIVE"]
        term = (request.arg("searchTerm") or "").lower()
        if term:
            found = [c for c in found if any(term in str(c.get(k, "")).lower()
                                             for k in ("Name", "FirstName", "LastName", "EmailAddress"))]
        summary = (request.arg("summaryOnly") or "").lower() == "true"
        page, extra = self._page(found, request)
        return json_response(self._envelope(**extra, Contacts=[self.books.contact_json(c, summary) for c in page]))

    @route("GET", API + "/Contacts/{ident}")
    def get_contact(self, request: Request) -> Response:
        """One contact: ``GET /Contacts/{ContactID}`` (operationId getContact) or, by the same path,
        ``/Contacts/{ContactNumber}`` (getContactByContactNumber), answered as a ``Contacts`` array with
        the one contact, archived ones included (xero_accounting.yaml, both operations)."""
        ident = request.params["ident"]
        contact = self.books.contacts.get(ident.lower()) or next(
            (c for c in self.books.contacts.values() if c.get("ContactNumber") and c["ContactNumber"] == ident), None)
        if contact is None:
            return Response(404, b"The resource you're looking for cannot be found", {"Content-Type": "text/plain"})
        return json_response(self._envelope(Contacts=[self.books.contact_json(contact)]))

    @route("PUT", API + "/Contacts")
    @_idempotent
    def put_contacts(self, request: Request) -> Response:
        return self._write(request, "Contacts", self.books.create_contact, self.books.contact_json)

    @route("POST", API + "/Contacts/{ident}")
    @_idempotent
    def post_contact(self, request: Request) -> Response:
        """``updateContact`` (xero_accounting.yaml): ``{"Contacts": [{...}]}`` changes the contact
        ``/Contacts/{ContactID}`` names; an unknown id is the 404 of the other ``/Contacts/{...}`` routes."""
        contact = self.books.contacts.get(request.params["ident"].lower())
        if contact is None:
            return Response(404, b"The resource you're looking for cannot be found", {"Content-Type": "text/plain"})
        return self._write(request, "Contacts", lambda e: self.books.update_contact(contact, e),
                           self.books.contact_json)

    @route("PUT", API + "/Payments")
    @_idempotent
    def put_payments(self, request: Request) -> Response:
        """``createPayments``: ``{"Payments": [...]}``, each checked as :meth:`Books.create_payment` says."""
        return self._write(request, "Payments", self.books.create_payment, self.books.payment_json)

    @route("POST", API + "/Payments/{payment_id}")
    @_idempotent
    def post_payment(self, request: Request) -> Response:
        """``deletePayment``: the body is ``PaymentDelete`` (``{"Status": "DELETED"}``; the spec's example wraps it
        as ``{"Payments": [{"Status": "DELETED"}]}``: both are read)."""
        payment = self.books.payments.get(request.params["payment_id"].lower())
        if payment is None:
            return Response(404, b"The resource you're looking for cannot be found", {"Content-Type": "text/plain"})
        try:
            body = request.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "Payments" not in body:
            request = dataclasses.replace(request, body=json.dumps({"Payments": [body]}).encode("utf-8"))
        return self._write(request, "Payments", lambda e: self.books.delete_payment(payment, e), self.books.payment_json)

    @route("PUT", API + "/CreditNotes")
    @_idempotent
    def put_credit_notes(self, request: Request) -> Response:
        """``createCreditNotes``: ``{"CreditNotes": [...]}`` (:mod:`.simcredit`)."""
        return self._write(request, "CreditNotes", lambda e: simcredit.create_credit_note(self.books, e),
                           lambda n: simcredit.credit_note_json(self.books, n))

    @route("GET", API + "/CreditNotes/{credit_note_id}")
    def get_credit_note(self, request: Request) -> Response:
        note = self.books.credit_notes.get(request.params["credit_note_id"].lower())
        if note is None:
            return Response(404, b"The resource you're looking for cannot be found", {"Content-Type": "text/plain"})
        return json_response(self._envelope(CreditNotes=[simcredit.credit_note_json(self.books, note)]))

    @route("PUT", API + "/CreditNotes/{credit_note_id}/Allocations")
    @_idempotent
    def put_allocations(self, request: Request) -> Response:
        """``createCreditNoteAllocation``: ``{"Allocations": [{Amount, Invoice, Date}]}`` (:mod:`.simcredit`)."""
        note = self.books.credit_notes.get(request.params["credit_note_id"].lower())
        if note is None:
            return Response(404, b"The resource you're looking for cannot be found", {"Content-Type": "text/plain"})
        return self._write(request, "Allocations", lambda e: simcredit.allocate(self.books, note, e),
                           lambda a: simcredit.allocation_json(self.books, a))

    @route("GET", API + "/Payments")
    def get_payments(self, request: Request) -> Response:
        return json_response(self._envelope(Payments=[self.books.payment_json(p) for p in self.books.payments.values()]))

    @route("GET", API + "/Accounts")
    def get_accounts(self, request: Request) -> Response:
        return json_response(self._envelope(Accounts=list(self.books.accounts.values())))

    @route("GET", API + "/TrackingCategories")
    def get_tracking_categories(self, request: Request) -> Response:
        archived = (request.arg("includeArchived") or "").lower() == "true"
        try:
            found = self._filter(list(self.books.tracking.values()), request, lambda c, f: c.get(f))
        except QueryParseError as exc:
            return _bad_request("QueryParseException", str(exc), 16)
        categories = [{**c, "Options": [o for o in c["Options"] if archived or o["Status"] == "ACTIVE"]}
                      for c in found if archived or c["Status"] == "ACTIVE"]
        return json_response(self._envelope(TrackingCategories=categories))

    @route("GET", API + "/Items")
    def get_items(self, request: Request) -> Response:
        items = [{**i, "UpdatedDateUTC": to_ms_date(i["UpdatedDateUTC"])} for i in self.books.items.values()]
        return json_response(self._envelope(Items=items))

    # -- helpers ---------------------------------------------------------------------------------
    def _lookup(self, ident: str) -> Optional[dict[str, Any]]:
        """An invoice by InvoiceID or, as Xero also allows, by InvoiceNumber."""
        return self.books.invoices.get(ident.lower()) or self.books.find_invoice_by_number(ident)

    def _invoice_field(self, invoice: dict[str, Any], name: str) -> Any:
        if name.startswith("Contact."):
            contact = self.books.contacts.get(invoice["ContactID"], {})
            return contact.get(name.split(".", 1)[1])
        return invoice.get(name)

    def _filter(self, records: list[dict[str, Any]], request: Request,
                get: Callable[[dict[str, Any], str], Any]) -> list[dict[str, Any]]:
        where = request.arg("where")
        if where:
            predicate = compile_where(where)
            records = [r for r in records if predicate(lambda f, r=r: get(r, f))]
        since = parse_http_date(request.headers.get("if-modified-since"))
        if since is not None:
            records = [r for r in records if r.get("UpdatedDateUTC") and r["UpdatedDateUTC"] >= since]
        return records

    def _page(self, records: list[dict[str, Any]], request: Request) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        if request.arg("page") is None:
            return records, {}
        try:
            page = max(1, int(request.arg("page") or 1))
            size = min(1000, max(1, int(request.arg("pageSize") or self.PAGE_SIZE)))
        except ValueError:
            page, size = 1, self.PAGE_SIZE
        chunk = records[(page - 1) * size: page * size]
        pagination = {"page": page, "pageSize": size, "pageCount": math.ceil(len(records) / size),
                      "itemCount": len(records)}
        return chunk, {"pagination": pagination}

    def _write(self, request: Request, plural: str, apply: Callable[[dict[str, Any]], Outcome],
               render: Callable[[dict[str, Any]], dict[str, Any]]) -> Response:
        try:
            payload = request.json()
            elements = payload[plural] if isinstance(payload, dict) else None
        except (ValueError, KeyError, UnicodeDecodeError):
            elements = None
        if not isinstance(elements, list) or not all(isinstance(e, dict) for e in elements):
            return _bad_request("PostDataInvalidException", f"The request body must be {{\"{plural}\": [...]}}.", 17)
        summarize = (request.arg("summarizeErrors") or "true").lower() != "false"
        answers, failed = [], []
        for element in elements:
            outcome = apply(element)
            if outcome.errors:
                bad = {**element, "StatusAttributeString": "ERROR", "HasErrors": True,
                       "ValidationErrors": [{"Message": m} for m in outcome.errors]}
                answers.append(bad)
                failed.append(bad)
            else:
                answers.append({**render(outcome.record), "StatusAttributeString": "OK"})
        if summarize and failed:
            return _validation_exception(failed)
        return json_response(self._envelope(**{plural: answers}))
