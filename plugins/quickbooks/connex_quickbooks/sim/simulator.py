"""A simulated QuickBooks Online Accounting API (v3) with its OAuth 2.0 endpoints, on loopback.

Mounted by the sandbox at ``/quickbooks``:

* ``GET  /quickbooks/connect/oauth2``: the authorize page; redirects at once to ``redirect_uri``
  with ``code``, ``state`` and ``realmId`` (so ``connex connect`` runs end to end on loopback);
* ``POST /quickbooks/oauth2/v1/tokens/bearer``: Basic client auth; ``authorization_code`` and
  ``refresh_token`` grants (:class:`~connex_core.sandbox.oauth.OAuthServer`). Access tokens last one hour on
  the simulator's clock; a refresh rotates the refresh token once it is a day old (a younger one comes back
  unchanged, as Intuit rotates "about every 24 h") and the superseded one answers ``invalid_grant`` (after
  :attr:`QuickBooksSimulator.refresh_grace_seconds`, 0 by default: Intuit documents no grace period);
* ``/quickbooks/v3/company/{realm}/...``: ``query`` (the language subset of :mod:`.qbquery`),
  ``batch`` (at most 30 items, run serially and independently, answered by ``bId``), create,
  sparse and full update (``SyncToken`` checked: 5010 when stale), ``operation=delete``, read by id,
  ``preferences`` and ``companyinfo``.

Fidelity, as the real API: a Fault body can come with HTTP 200 (in batch items); ``requestid``
replays the first answer; a duplicate ``DocNumber`` answers 6140 when the company warns about
duplicates (``include=allowduplicatedocnum`` lets it through); 6240 for a duplicate name; 2500
for a missing reference, 610 for an inactive one; the throttles (500 per minute per realm,
10 per second, 40 batches per minute) answer 429 with the XML body Intuit sends even to JSON
clients. Times are US Pacific with an offset, as QuickBooks writes them.

Company modes: ``country="US"`` (default) takes the pseudo tax codes ``TAX``/``NON`` on lines and the
tax as ``TxnTaxDetail.TotalTax`` says; ``"GB"``, ``"CA"`` and ``"AU"`` follow the global tax model (real
``TaxCode`` ids on every line, refusing ``TAX``/``NON``; tax computed from the codes' rates under
``GlobalTaxCalculation``), see :meth:`QuickBooksSimulator._line_tax_code` and ``_global_tax``. Customers,
vendors and employees share one DisplayName list (6240).

Simplifications (documented, not hidden): US sales tax is what ``TxnTaxDetail.TotalTax`` says (no
automated calculation); change data capture is not simulated; every field is filterable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Optional
from zoneinfo import ZoneInfo

from urllib.parse import urlsplit

from connex_core.sandbox import (
    Request, Response, SimClock, SimulatedService, WindowLimiter, json_response, route,
)
from connex_core.sandbox.oauth import OAuthServer

from .. import qbquery

PACIFIC = ZoneInfo("America/Los_Angeles")
CENT = Decimal("0.01")
BATCH_LIMIT = 30
TXN_TYPES = ("SalesReceipt", "Invoice")
ENTITIES = ("Account", "Class", "Customer", "Department", "Employee", "Invoice", "Item", "Payment",
            "PaymentMethod", "SalesReceipt", "TaxCode", "TaxRate", "Vendor")
#: Entities whose ``DisplayName`` share one name list: "The DisplayName attribute must be unique across
#: all other customers, employees, vendors" (Intuit Customer reference; api-contracts §2.2, error 6240).
NAME_LIST = ("Customer", "Vendor", "Employee")
DISPLAY_NAME_MAX = 500  # Customer.DisplayName: "max 500 chars" (Intuit Customer reference; api-contracts §2.2)
US_PSEUDO_CODES = ("TAX", "NON")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
#: The opt-in for ``x_refresh_token_hard_expires_in`` (third-party code; api-changes §2 [Q18], unverified).
HARD_EXPIRY_HEADER = "x-include-refresh-token-hard-expires-in"

#: The non-US company modes: home currency, the tax's name in Intuit's messages, and the company's sales tax
#: codes as ``(name, [(rate name, percent)])``. Code names follow what QuickBooks creates for a new company of
#: that country (UK "20.0% S"/"0.0% Z"/"Exempt"/"No VAT", Canada "GST"/"HST ON"/"Exempt"/"Zero-rated",
#: Australia "GST"/"GST free"/"Out of scope"); the set is a sample, not every code such a company has.
GLOBAL_COMPANIES: dict[str, tuple[str, str, list[tuple[str, list[tuple[str, Decimal]]]]]] = {
    "GB": ("GBP", "VAT", [("20.0% S", [("20.0% S (sales)", Decimal("20"))]), ("5.0% R", [("5.0% R (sales)", Decimal("5"))]),
                          ("0.0% Z", [("0.0% Z (sales)", Decimal("0"))]), ("Exempt", [("Exempt (sales)", Decimal("0"))]),
                          ("No VAT", [("No VAT (sales)", Decimal("0"))])]),
    "CA": ("CAD", "GST/HST", [("GST", [("GST (sales)", Decimal("5"))]), ("HST ON", [("HST ON (sales)", Decimal("13"))]),
                              ("GST/QST QC - 9.975", [("GST (sales)", Decimal("5")), ("QST (sales)", Decimal("9.975"))]),
                              ("Exempt", [("Exempt (sales)", Decimal("0"))]), ("Zero-rated", [("Zero-rated (sales)", Decimal("0"))])]),
    "AU": ("AUD", "GST", [("GST", [("GST (sales)", Decimal("10"))]), ("GST free", [("GST free (sales)", Decimal("0"))]),
                          ("Out of scope", [("Out of scope (sales)", Decimal("0"))])]),
}
GLOBAL_TAX_CALCULATION = ("TaxExcluded", "TaxInclusive", "NotApplicable")
_CANONICAL = {name.lower(): name for name in ENTITIES}

THROTTLE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<IntuitResponse time="{time}" xmlns="http://schema.intuit.com/finance/v3">\n'
    '  <Fault type="SERVICE">\n    <Error code="3001">\n'
    "      <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>\n"
    "      <Detail>The request limit was reached.  Try again later</Detail>\n"
    "    </Error>\n  </Fault>\n</IntuitResponse>\n"
)


class QBFault(Exception):
    """A Fault the simulated API answers with (``status`` is the HTTP status outside a batch)."""

    def __init__(self, code: str, message: str, detail: str = "", *, status: int = 400,
                 kind: str = "ValidationFault", element: str = ""):
        super().__init__(message)
        self.code, self.message, self.detail = code, message, detail or message
        self.status, self.kind, self.element = status, kind, element

    def body(self) -> dict[str, Any]:
        return {"type": self.kind, "Error": [
            {"Message": self.message, "Detail": self.detail, "code": self.code, "element": self.element}]}


def _not_found() -> "QBFault":
    return QBFault("610", "Object Not Found",
                   "Object Not Found : Something you're trying to use has been made inactive.")


def _money(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0)).quantize(CENT, ROUND_HALF_UP)


class QuickBooksSimulator(OAuthServer, SimulatedService):
    """A stateful QuickBooks Online company behind the real API's paths, auth and limits."""

    name = "quickbooks"
    #: Seconds a superseded refresh token keeps working after a rotation (Intuit documents none: "Intuit doesn't
    #: guarantee that a superseded value stays usable", reference/api-contracts.md 2.11).
    refresh_grace_seconds: float = 0.0
    #: A refresh answers with the same refresh token until it is a day old ("Intuit rotates it about every
    #: 24 h", reference/api-contracts.md 2.11): a refresh whose answer was lost can be retried within that day.
    rotate_after_seconds = 86400.0
    #: Refresh tokens left unused for 100 days expire (x_refresh_token_expires_in, reference/api-changes 2).
    refresh_idle_seconds = 8726400.0
    #: Refresh tokens end 5 years after the consent, however often they rotate (api-changes §2 [Q7]).
    refresh_hard_seconds = 5 * 365 * 86400.0
    #: Access tokens last one hour (Intuit: ``expires_in: 3600``).
    access_seconds = 3600.0
    #: A wrong client id or secret is a 401 ``invalid_client``.
    invalid_client_status = 401
    #: The simulator does not tie a code to its redirect URI.
    code_binds_redirect = False
    #: The real per-realm throttles: (limit, window seconds).
    #: "batch": per app and company; "company_batch": per company across all apps (api-changes §4 [Q5], [Q5b]:
    #: production since 2025-10-31). The simulator has one app; :meth:`other_apps_batch` spends the rest.
    limits = {"minute": (500, 60.0), "second": (10, 1.0), "batch": (40, 60.0), "company_batch": (120, 60.0)}

    @classmethod
    def account_credentials(cls, n: int) -> dict[str, Any]:
        """Another company of another app: its own keys, realm id and verifier token."""
        return {"client_id": f"qb-sandbox-client-a{n}", "client_secret": f"qb-sandbox-secret-a{n}",
                "realm_id": str(9130350000000001 + n), "refresh_token": f"qb-sandbox-refresh-a{n}",
                "verifier_token": f"qb-sandbox-verifier-a{n}"}

    def __init__(self, clock: Optional[SimClock] = None, seed: int = 0, client_id: str = "qb-sandbox-client",
                 client_secret: str = "qb-sandbox-secret", realm_id: str = "9130350000000001",
                 refresh_token: str = "qb-sandbox-refresh-0", verifier_token: str = "qb-sandbox-verifier",
                 country: str = "US", environment: str = "sandbox", redirect_uris: Optional[list[str]] = None):
        super().__init__(clock=clock, seed=seed)
        if environment not in ("sandbox", "production"):
            raise ValueError(f"unknown environment {environment!r}: 'sandbox' or 'production'")
        self.environment = environment
        """Which keys the client id is: Development (``"sandbox"``) or Production (api-changes §2 [Q11])."""
        self.redirect_uris: Optional[list[str]] = None
        """The redirect URIs registered on those keys; None: any (the simulator's default for tests)."""
        for uri in redirect_uris or []:
            self.register_redirect_uri(uri)
        if country != "US" and country not in GLOBAL_COMPANIES:
            raise ValueError(f"unknown company country {country!r}: 'US' or one of {sorted(GLOBAL_COMPANIES)}")
        self.country = country
        """The company's country: ``"US"`` (pseudo tax codes ``TAX``/``NON``, automated sales tax) or a
        non-US mode (``"GB"``, ``"CA"``, ``"AU"``: the global tax model, real ``TaxCode`` ids on every line)."""
        self.verifier_token = verifier_token
        self.client_id, self.client_secret, self.realm_id = client_id, client_secret, realm_id
        self.initial_refresh_token = refresh_token
        self.company_name = "Connex Sandbox Company"
        self.preferences: dict[str, Any] = {
            "SalesFormsPrefs": {"CustomTxnNumbers": True, "AllowShipping": True, "AllowDiscount": True,
                                "AllowDeposit": True, "DefaultDiscountAccount": "86"},
            "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": country == "US"},
            "CurrencyPrefs": {"MultiCurrencyEnabled": False,
                              "HomeCurrency": {"value": GLOBAL_COMPANIES[country][0] if self.is_global else "USD"}},
            # Simulator-specific spelling of the company setting "Warn if duplicate number is used".
            "OtherPrefs": {"NameValue": [{"Name": "SalesFormsPrefs.WarnDuplicateDocNum", "Value": "true"}]},
        }
        self.store: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in ENTITIES}
        self._next_id: Counter[str] = Counter()
        self.write_calls = 0
        """Write requests answered (creates, updates, deletes, and batches that hold any)."""
        self.replays = 0
        self._replies: dict[str, tuple[int, bytes]] = {}
        self.oauth_setup(refresh_token, issued_ago=self.rotate_after_seconds)  # obtained a day ago: due to rotate
        self.consent_at = self.clock.now() - self.rotate_after_seconds
        """When the user consented: refresh tokens stop working 5 years later whatever their rotation (api-changes
        §2 [Q7]); tests move it back to bring the hard expiry near."""
        self._limiters = {k: WindowLimiter(n, w, self.clock) for k, (n, w) in self.limits.items()}
        self._seed_company()

    # -- helpers for tests and the demo ----------------------------------------------------------
    @property
    def is_global(self) -> bool:
        """A non-US company: QuickBooks' global tax model (api-changes §5, Intuit's non-US sales tax guide [Q21])."""
        return self.country != "US"

    def tax_code(self, name: str) -> Optional[dict[str, Any]]:
        """The company's TaxCode of that name."""
        return self._by_name("TaxCode", name)

    def other_apps_batch(self, count: int) -> None:
        """Other apps connected to the company send ``count`` ``/batch`` requests now: they count against the
        company's batch cap (120 a minute across all apps, api-changes §4), not against this app's 40."""
        for _ in range(count):
            self._limiters["company_batch"].hit(self.realm_id)

    def add_vendor(self, name: str) -> dict[str, Any]:
        """A supplier of the company (its DisplayName joins the name list customers share)."""
        with self.lock:
            return self._create("Vendor", {"DisplayName": name}, {})

    def add_employee(self, name: str) -> dict[str, Any]:
        """An employee of the company (its DisplayName joins the name list customers share)."""
        with self.lock:
            return self._create("Employee", {"DisplayName": name}, {})

    @property
    def warn_duplicate_doc_number(self) -> bool:
        return self.preferences["OtherPrefs"]["NameValue"][0]["Value"] == "true"

    @warn_duplicate_doc_number.setter
    def warn_duplicate_doc_number(self, on: bool) -> None:
        self.preferences["OtherPrefs"]["NameValue"][0]["Value"] = "true" if on else "false"

    def entities(self, entity: str) -> list[dict[str, Any]]:
        """Stored entities of one type (``"Invoice"``), in id order."""
        return sorted(self.store[entity].values(), key=lambda e: int(e["Id"]))

    def get(self, entity: str, ident: str) -> Optional[dict[str, Any]]:
        return self.store[entity].get(str(ident))

    def client_config(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "client_id": self.client_id, "client_secret": self.client_secret,
                "refresh_token": self.initial_refresh_token, "realm_id": self.realm_id,
                "token_url": f"{self.base_url}/oauth2/v1/tokens/bearer",
                "authorize_url": f"{self.base_url}/connect/oauth2", "verifier_token": self.verifier_token}

    def webhook(self, entities: list[tuple[str, str, str]], token: Optional[str] = None, *,
                legacy: bool = False, realm_id: Optional[str] = None) -> tuple[dict[str, str], bytes]:
        """Headers and body of the webhook QuickBooks sends for ``[(entity, id, operation), ...]``, signed
        (``intuit-signature``: base64 HMAC-SHA256 of the body) with the verifier token.

        As Intuit sends them since 2026 (shared/reference/api-changes-2025-2026.md section 1): a JSON array of
        CloudEvents (``specversion`` 1.0, ``id``, ``type`` = ``qbo.<entity>.<operation>.v1`` in lower case with
        the operation in the past tense, ``intuitentityid``, ``intuitaccountid``, ``time``, ``data`` ``{}``),
        content type ``application/cloudevents+json``. ``legacy=True``: the ``eventNotifications`` body of before.
        ``realm_id``: another company's events (one app's delivery may mix companies).
        """
        realm = realm_id or self.realm_id
        if legacy:
            changes = [{"name": name, "id": ident, "operation": op, "lastUpdated": self._stamp()}
                       for name, ident, op in entities]
            body = json.dumps({"eventNotifications": [{"realmId": realm,
                                                       "dataChangeEvent": {"entities": changes}}]}).encode()
            ctype = "application/json"
        else:
            past = {"create": "created", "update": "updated", "delete": "deleted", "merge": "merged",
                    "void": "voided", "emailed": "emailed"}
            events = [{"specversion": "1.0", "id": uuid.uuid4().hex, "source": f"intuit.{realm}",
                       "type": f"qbo.{name.lower()}.{past.get(op.lower(), op.lower())}.v1",
                       "datacontenttype": "application/json", "time": self._stamp(),
                       "intuitentityid": str(ident), "intuitaccountid": str(realm), "data": {}}
                      for name, ident, op in entities]
            body = json.dumps(events).encode()
            ctype = "application/cloudevents+json"
        digest = hmac.new((token or self.verifier_token).encode(), body, hashlib.sha256).digest()
        return {"intuit-signature": base64.b64encode(digest).decode(), "content-type": ctype}, body

    def expire_tokens(self) -> None:
        """Make every access token expire now (as if an hour had passed)."""
        self.expire_access_tokens()

    def seed(self, n: int) -> int:
        """The sandbox's seeding hook (``connex sandbox --seed-orders``, ``connex demo``): ``n`` documents."""
        return len(self.seed_documents(n)) if n > 0 else 0

    def seed_documents(self, n: int, *, unpaid_every: int = 3, class_every: int = 2, class_name: str = "Web",
                       tracked_every: int = 0) -> list[dict[str, Any]]:
        """Create ``n`` invoices and sales receipts (alternating) for the QuickBooks -> ShipStation flow.

        Every ``unpaid_every``-th invoice is left unpaid (the others get a linked Payment), every
        ``class_every``-th document carries the class ``class_name``, and every ``tracked_every``-th
        (0: none) already has a tracking number. Returns the created documents.
        """
        with self.lock:
            catalogue = [self._ensure_item(f"Seed product {k}", f"SEED-{k:03d}", Decimal(5 + 3 * k)) for k in range(8)]
            docs = []
            for i in range(n):
                customer = self._ensure_customer(i % 25)
                kind = TXN_TYPES[i % 2]
                item_a, item_b = catalogue[i % 8], catalogue[(i * 3 + 1) % 8]
                body: dict[str, Any] = {
                    "CustomerRef": {"value": customer["Id"]},
                    "DocNumber": f"QB-{i + 1:05d}",
                    "BillEmail": customer.get("PrimaryEmailAddr"),
                    "ShipAddr": dict(customer["ShipAddr"]),
                    "Line": [self._seed_line(item_a, 1 + i % 3), self._seed_line(item_b, 1),
                             {"DetailType": "SalesItemLineDetail", "Amount": "7.50",
                              "SalesItemLineDetail": {"ItemRef": {"value": "SHIPPING_ITEM_ID"},
                                                      "TaxCodeRef": self._seed_tax_code(False)}}],
                    "TxnTaxDetail": {"TotalTax": "1.25"},
                }
                if class_every and i % class_every == 0:
                    body["ClassRef"] = {"value": self._by_name("Class", class_name)["Id"]}
                if tracked_every and i % tracked_every == 0:
                    body.update(TrackingNum=f"1Z{i:08d}", ShipDate=self._today().isoformat())
                doc = self._create(kind, body, {})
                paid = kind == "Invoice" and (not unpaid_every or (i // 2) % unpaid_every != unpaid_every - 1)
                if paid:
                    self._create("Payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": doc["TotalAmt"],
                                             "Line": [{"Amount": doc["TotalAmt"],
                                                       "LinkedTxn": [{"TxnId": doc["Id"], "TxnType": "Invoice"}]}]}, {})
                docs.append(self.store[kind][doc["Id"]])
            return docs

    def delete_document(self, entity: str, ident: str) -> None:
        """A user deletes a document in QuickBooks (for example a wrong invoice, before syncing it again): it is
        gone, as ``POST /{entity}?operation=delete`` with its current ``SyncToken`` leaves it (api-contracts.md,
        QuickBooks "Delete"); reading it then answers "Object Not Found" and its ``DocNumber`` is free again.
        Payments linked to it are left as they are (the simulator does not unapply them)."""
        with self.lock:
            current = self.store[entity][str(ident)]
            self._delete(entity, {"Id": current["Id"], "SyncToken": current["SyncToken"]})

    def void_document(self, entity: str, ident: str) -> dict[str, Any]:
        """A user voids a document in QuickBooks (Invoice or SalesReceipt): as ``POST /invoice?operation=void`` or
        ``POST /salesreceipt?operation=update&include=void`` with its current ``SyncToken`` leaves it (api-contracts
        §2.1; :meth:`_void`): kept, with every amount zero and ``PrivateNote`` "Voided"."""
        with self.lock:
            current = self.store[entity][str(ident)]
            return self._void(entity, {"Id": current["Id"], "SyncToken": current["SyncToken"]})

    def pay(self, invoice_id: str, amount: Optional[Decimal] = None) -> dict[str, Any]:
        """The customer pays an invoice (its whole balance by default): a linked Payment, as the company records it."""
        with self.lock:
            invoice = self.store["Invoice"][str(invoice_id)]
            paid = str(_money(invoice["Balance"]) if amount is None else amount)
            return self._create("Payment", {"CustomerRef": invoice["CustomerRef"], "TotalAmt": paid,
                                            "Line": [{"Amount": paid,
                                                      "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]}, {})

    # -- company data ----------------------------------------------------------------------------
    def _seed_company(self) -> None:
        for ident, name, kind in (("1", "Services", "Income"), ("79", "Sales of Product Income", "Income"),
                                  ("4", "Undeposited Funds", "Other Current Asset"), ("35", "Checking", "Bank"),
                                  ("86", "Discounts given", "Income"), ("80", "Cost of Goods Sold", "Cost of Goods Sold"),
                                  ("81", "Inventory Asset", "Other Current Asset"), ("90", "Shipping Income", "Income")):
            self._put("Account", {"Id": ident, "Name": name, "AccountType": kind, "FullyQualifiedName": name,
                                  "Active": True, "CurrentBalance": 0})
        for name in ("Cash", "Check", "Credit Card", "PayPal", "Visa", "MasterCard", "American Express"):
            self._put("PaymentMethod", {"Name": name, "Active": True, "Type": "NON_CREDIT_CARD"})
        for name in ("Web", "AZ", "Wholesale"):
            self._put("Class", {"Name": name, "FullyQualifiedName": name, "Active": True, "SubClass": False})
        for name in ("Main Store", "Warehouse"):
            self._put("Department", {"Name": name, "FullyQualifiedName": name, "Active": True, "SubDepartment": False})
        self._seed_tax_codes()
        self._put("Item", {"Id": "1", "Name": "Services", "FullyQualifiedName": "Services", "Type": "Service",
                           "Active": True, "IncomeAccountRef": {"value": "1", "name": "Services"}})

    def _seed_tax_codes(self) -> None:
        """The company's sales tax codes. A US company has one sales-tax code (Intuit's invoice example
        references TxnTaxCodeRef "2" at 8%); lines there use the pseudo codes TAX/NON, which are not TaxCodes."""
        codes = GLOBAL_COMPANIES[self.country][2] if self.is_global else [("California", [("California", Decimal("8"))])]
        for name, rates in codes:
            refs = []
            for rate_name, percent in rates:
                rate = self._by_name("TaxRate", rate_name) or self._put("TaxRate", {
                    "Name": rate_name, "Description": rate_name, "Active": True, "RateValue": percent,
                    "AgencyRef": {"value": "1"}, "SpecialTaxType": "NONE", "DisplayType": "ReadOnly"})
                refs.append({"TaxRateRef": {"value": rate["Id"], "name": rate_name},
                             "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0})
            self._put("TaxCode", {"Name": name, "Description": name, "Active": True, "Hidden": False,
                                  "Taxable": any(p > 0 for _, p in rates), "TaxGroup": len(rates) > 1,
                                  "SalesTaxRateList": {"TaxRateDetail": refs},
                                  "PurchaseTaxRateList": {"TaxRateDetail": []}})

    def _seed_line(self, item: dict[str, Any], qty: int) -> dict[str, Any]:
        price = _money(item["UnitPrice"])
        return {"DetailType": "SalesItemLineDetail", "Amount": str(price * qty), "Description": item["Name"],
                "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": qty, "UnitPrice": str(price),
                                        "TaxCodeRef": self._seed_tax_code(True)}}

    def _seed_tax_code(self, taxable: bool) -> dict[str, str]:
        if not self.is_global:
            return {"value": "TAX" if taxable else "NON"}
        codes = self.entities("TaxCode")
        return {"value": next(c["Id"] for c in codes if c["Taxable"] == taxable)}

    def _ensure_item(self, name: str, sku: str, price: Decimal) -> dict[str, Any]:
        found = self._by_name("Item", name)
        return found or self._create("Item", {"Name": name, "Sku": sku, "Type": "NonInventory", "UnitPrice": str(price),
                                              "IncomeAccountRef": {"value": "79"}}, {})

    def _ensure_customer(self, k: int) -> dict[str, Any]:
        name = f"Seed Customer {k:02d}"
        found = self._by_name("Customer", name, field="DisplayName")
        address = {"Line1": f"{100 + k} Market St", "City": "San Francisco", "CountrySubDivisionCode": "CA",
                   "PostalCode": "94105", "Country": "US"}
        return found or self._create("Customer", {
            "DisplayName": name, "GivenName": "Seed", "FamilyName": f"Customer {k:02d}",
            "PrimaryEmailAddr": {"Address": f"customer{k:02d}@example.org"},
            "BillAddr": dict(address), "ShipAddr": dict(address)}, {})

    def _by_name(self, entity: str, name: str, field: str = "Name") -> Optional[dict[str, Any]]:
        return next((e for e in self.store[entity].values() if str(e.get(field, "")).lower() == name.lower()), None)

    def _now(self) -> datetime:
        return self.clock.utcnow().astimezone(PACIFIC)

    def _today(self) -> date:
        return self._now().date()

    def _stamp(self) -> str:
        return self._now().isoformat(timespec="seconds")

    def _time(self) -> str:
        return self._now().isoformat(timespec="milliseconds")

    def _new_id(self, entity: str) -> str:
        highest = max((int(i) for i in self.store.get(entity, {})), default=0)
        self._next_id[entity] = max(self._next_id[entity] + 1, highest + 1)
        return str(self._next_id[entity])

    def _put(self, entity: str, obj: dict[str, Any]) -> dict[str, Any]:
        if "Id" not in obj:
            obj["Id"] = self._new_id(entity)
        stamp = self._stamp()
        obj.setdefault("SyncToken", "0")
        obj.setdefault("domain", "QBO")
        obj.setdefault("sparse", False)
        obj["MetaData"] = {"CreateTime": stamp, "LastUpdatedTime": stamp}
        self.store[entity][obj["Id"]] = obj
        return obj

    # -- OAuth (connex_core.sandbox.oauth.OAuthServer) ------------------------------------------------------
    def register_redirect_uri(self, uri: str) -> None:
        """Add a redirect URI to the keys, as the developer portal does. Production keys take only ``https``
        addresses that are not localhost (api-changes §2: [Q13], [Q14]; "use http for localhost", sandbox
        only: [Q11], [Q11b]); the portal refuses anything else, so this raises ValueError."""
        parts = urlsplit(uri)
        if self.environment == "production" and (parts.scheme != "https" or parts.hostname in LOOPBACK_HOSTS):
            raise ValueError(f"production keys take only https redirect URIs that are not localhost: {uri}")
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"not a redirect URI: {uri}")
        self.redirect_uris = [*(self.redirect_uris or []), uri]

    def oauth_refuse_authorize(self, request: Request) -> Optional[Response]:
        refused = super().oauth_refuse_authorize(request)
        if refused is not None or self.redirect_uris is None:
            return refused
        uri = request.arg("redirect_uri") or ""
        if uri not in self.redirect_uris:  # an exact match with a registered URI, per environment [Q11]
            # Intuit shows this on its error page (wording as users report it; not in a stored Intuit page).
            text = ("invalid_request: The redirect_uri query parameter value is invalid. Make sure it is listed "
                    "in the Redirect URIs section on your app's keys tab and matches it exactly.")
            return Response(400, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})
        return None

    @route("GET", "/connect/oauth2")
    def authorize(self, request: Request) -> Response:
        return self.oauth_authorize(request)

    def oauth_redirect_params(self, request: Request) -> dict[str, str]:
        return {"realmId": self.realm_id}  # the company the user picked rides on the redirect

    @route("POST", "/oauth2/v1/tokens/bearer")
    def token(self, request: Request) -> Response:
        return self.oauth_token(request)

    def oauth_token(self, request: Request) -> Response:
        # The 5-year cap's seconds left ride on the answer only on opt-in (api-changes §2 [Q17], [Q18]; the
        # header name is from third-party code, unverified).
        self._hard_opt_in = request.headers.get(HARD_EXPIRY_HEADER, "").lower() == "true"
        self._code_grant = b"grant_type=authorization_code" in request.body
        if b"grant_type=refresh_token" in request.body \
                and self.clock.now() >= self.consent_at + self.refresh_hard_seconds:
            return json_response({"error": "invalid_grant"}, 400)  # past the 5-year cap: a new consent only
        return super().oauth_token(request)

    def oauth_answer(self, access: str, refresh: str) -> dict[str, Any]:
        # x_refresh_token_expires_in: the rolling 100 days, counted from this answer (the idle limit).
        answer = {"access_token": access, "expires_in": 3600, "refresh_token": refresh,
                  "x_refresh_token_expires_in": int(self.refresh_idle_seconds or 8726400), "token_type": "bearer"}
        if getattr(self, "_code_grant", False):
            self.consent_at = self.clock.now()  # a new consent starts a new 5-year window
        if getattr(self, "_hard_opt_in", False):
            left = self.consent_at + self.refresh_hard_seconds - self.clock.now()
            answer["x_refresh_token_hard_expires_in"] = max(0, int(left))
        return answer

    # -- the base class's hooks ------------------------------------------------------------------
    def authenticate(self, request: Request) -> Optional[Response]:
        if not request.path.startswith("/v3/"):
            return None
        header = request.headers.get("authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        if self._access.get(token, -1) <= self.clock.now():
            detail = "Token expired" if token in self._access else "Token invalid"
            return json_response({"fault": {"error": [{
                "message": f"message=AuthenticationFailed; errorDetail={detail}; statusCode=401",
                "detail": detail, "code": "3200"}], "type": "AUTHENTICATION"}, "time": self._time()}, 401)
        realm = request.path.split("/")[3] if request.path.count("/") >= 3 else ""
        if realm != self.realm_id:
            return self._fault(QBFault("120", "Authorization Failure", "the token is not for this company",
                                       status=403, kind="AuthorizationFault"))
        return None

    def rate_limit(self, request: Request) -> tuple[Optional[Response], dict[str, str]]:
        if not request.path.startswith("/v3/"):
            return None, {}
        keys = ["minute", "second"] + (["batch", "company_batch"] if request.path.rstrip("/").endswith("/batch")
                                       else [])
        for key in keys:
            allowed, _, _ = self._limiters[key].hit(self.realm_id)
            if not allowed:
                body = THROTTLE_XML.format(time=self._time()).encode()
                return Response(429, body, {"Content-Type": "application/xml"}), {}
        return None, {}

    def _fault(self, fault: QBFault) -> Response:
        return json_response({"Fault": fault.body(), "time": self._time()}, fault.status)

    # -- API routes ------------------------------------------------------------------------------
    @route("GET", "/v3/company/{realm}/preferences")
    def get_preferences(self, request: Request) -> Response:
        prefs = dict(self.preferences, Id="1", SyncToken="0", domain="QBO", sparse=False)
        return json_response({"Preferences": prefs, "time": self._time()})

    @route("GET", "/v3/company/{realm}/companyinfo/{ident}")
    def get_company_info(self, request: Request) -> Response:
        return json_response({"CompanyInfo": {"CompanyName": self.company_name, "LegalName": self.company_name,
                                              "Country": self.country, "Id": "1", "SyncToken": "0", "domain": "QBO"},
                              "time": self._time()})

    @route("GET", "/v3/company/{realm}/{entity}/{ident}")
    def read(self, request: Request) -> Response:
        entity = _CANONICAL.get(request.params["entity"].lower())
        obj = self.store[entity].get(request.params["ident"]) if entity else None
        if obj is None:
            return self._fault(_not_found())
        return json_response({entity: obj, "time": self._time()})

    @route("GET", "/v3/company/{realm}/query")
    def query_get(self, request: Request) -> Response:
        return self._answer(lambda: {"QueryResponse": self._query(request.arg("query") or "")})

    @route("POST", "/v3/company/{realm}/{entity}")
    def post(self, request: Request) -> Response:
        target = request.params["entity"].lower()
        if target == "query":
            return self._answer(lambda: {"QueryResponse": self._query(request.body.decode("utf-8"))})
        request_id = request.arg("requestid")
        if request_id and request_id in self._replies:
            self.replays += 1
            status, body = self._replies[request_id]
            return Response(status, body, {"Content-Type": "application/json;charset=UTF-8"})
        limit = 36 if target == "batch" else 50
        if request_id and len(request_id) > limit:
            return self._fault(QBFault("2050", "String length is either shorter or longer than supported by specification",
                                       f"requestid: Max:{limit} supported. Supplied length:{len(request_id)}"))
        body = json.loads(request.body.decode("utf-8") or "{}", parse_float=Decimal)
        if target == "batch":
            response = self._answer(lambda: self._batch(body, bool(request_id)))
        else:
            entity = _CANONICAL.get(target)
            response = self._answer(lambda: {entity: self._write(entity, body, request.query)}) if entity else \
                self._fault(QBFault("4000", "Unsupported Operation", f"unsupported entity {target}"))
        if target != "batch" or any("operation" in item for item in body.get("BatchItemRequest", [])):
            self.write_calls += 1
        if request_id:
            self._replies[request_id] = (response.status, response.body)
        return response

    def _answer(self, produce) -> Response:
        try:
            payload = produce()
        except QBFault as fault:
            return self._fault(fault)
        payload["time"] = self._time()
        return json_response(payload)

    # -- query -----------------------------------------------------------------------------------
    def _query(self, text: str) -> dict[str, Any]:
        try:
            query = qbquery.parse(text)
        except qbquery.QueryError as exc:
            raise QBFault("4000", "Error parsing query", f"QueryParserError: {exc}") from None
        entity = _CANONICAL.get(query.entity.lower())
        if entity is None:
            raise QBFault("4001", "Invalid query", f"QueryValidationError: Invalid entity {query.entity}")
        rows = [e for e in self.entities(entity) if all(qbquery.matches(e, c) for c in query.conditions)]
        if query.count:
            return {"totalCount": len(rows)}
        for path, desc in reversed(query.order_by):
            rows.sort(key=lambda e: str(qbquery.field_value(e, path) or ""), reverse=desc)
        page = rows[query.start - 1: query.start - 1 + query.max_results]
        if not page:
            return {}
        return {entity: page, "startPosition": query.start, "maxResults": len(page)}

    # -- batch -----------------------------------------------------------------------------------
    def _batch(self, body: dict[str, Any], with_request_id: bool) -> dict[str, Any]:
        items = body.get("BatchItemRequest") or []
        if len(items) > BATCH_LIMIT:
            raise QBFault("6000", "A business validation error has occurred while processing your request",
                          f"Batch size exceeds the maximum of {BATCH_LIMIT} items")
        answers = []
        for item in items:
            bid = str(item.get("bId", ""))
            try:
                if with_request_id and len(bid) > 10:
                    raise QBFault("2050", "String length is either shorter or longer than supported by specification",
                                  "bId: Max:10 supported with requestid")
                if "Query" in item:
                    answers.append({"bId": bid, "QueryResponse": self._query(item["Query"])})
                    continue
                entity = next((_CANONICAL[k.lower()] for k in item if k.lower() in _CANONICAL), None)
                if entity is None:
                    raise QBFault("4000", "Unsupported Operation", "no entity in batch item")
                op = (item.get("operation") or "create").lower()
                params = {"operation": [op]} if op in ("delete", "update") else {}
                answers.append({"bId": bid, entity: self._write(entity, item[next(k for k in item if k.lower() == entity.lower())], params)})
            except QBFault as fault:
                answers.append({"bId": bid, "Fault": fault.body()})
        return {"BatchItemResponse": answers}

    # -- writes ------------------------------------------------------------------------------------
    def _write(self, entity: str, body: dict[str, Any], query: dict[str, list[str]]) -> dict[str, Any]:
        operation = (query.get("operation") or [""])[-1].lower()
        include = (query.get("include") or [""])[-1].lower()
        if operation == "delete":
            return self._delete(entity, body)
        # Void (api-contracts §2.1, from Intuit's API reference): Invoice and Payment `operation=void`, SalesReceipt
        # `operation=update&include=void`; each body {Id, SyncToken}.
        if (operation == "void" and entity in ("Invoice", "Payment")) or \
                (operation == "update" and include == "void" and entity == "SalesReceipt"):
            return self._void(entity, body)
        if operation == "void":
            raise QBFault("4000", "Unsupported Operation", f"Operation void is not supported for {entity}")
        if "Id" in body and body.get("Id") not in (None, ""):
            return self._update(entity, body)
        return self._create(entity, body, {"allow_duplicate": include == "allowduplicatedocnum"})

    def _create(self, entity: str, body: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
        obj = json.loads(json.dumps(body, default=str), parse_float=Decimal)
        obj.pop("Id", None)
        obj.pop("SyncToken", None)
        if entity in NAME_LIST:
            self._check_customer(obj, entity)
        elif entity in ("Item", "Class", "Department", "PaymentMethod", "Account"):
            self._check_named(entity, obj)
        elif entity in TXN_TYPES:
            self._check_txn(entity, obj, allow_duplicate=flags.get("allow_duplicate", False))
        elif entity == "Payment":
            self._apply_payment(obj)
        return self._put(entity, obj)

    def _check_customer(self, obj: dict[str, Any], entity: str = "Customer") -> None:
        name = obj.get("DisplayName") or " ".join(p for p in (obj.get("GivenName"), obj.get("FamilyName")) if p) \
            or obj.get("CompanyName")
        if not name:
            raise QBFault("2020", "Required param missing, need to supply the required value for the API",
                          "Required parameter DisplayName is missing in the request")
        if len(name) > DISPLAY_NAME_MAX:  # "max 500 chars" (Intuit Customer reference)
            raise QBFault("2050", "String length is either shorter or longer than supported by specification",
                          f"DisplayName: Min:0 Max:{DISPLAY_NAME_MAX} supported. Supplied length:{len(name)}",
                          element="DisplayName")
        if ":" in name:
            raise QBFault("6000", "A business validation error has occurred while processing your request",
                          "Business Validation Error: DisplayName cannot contain a colon (:).")
        # One name list for customers, vendors and employees (Intuit Customer reference: DisplayName "must be
        # unique across all other customers, employees, vendors"); the error as Intuit words it (6240,
        # ruckus/quickbooks-ruby customer_duplicate_error.xml; api-contracts §2.9).
        holder = next((kind for kind in NAME_LIST if self._by_name(kind, name, field="DisplayName")), None)
        if holder:
            raise QBFault("6240", "Duplicate Name Exists Error",
                          "The name supplied already exists. : Another customer, vendor or employee is already using "
                          f"this name. Please use a different name. (used by a {holder.lower()})")
        obj.update(DisplayName=name, FullyQualifiedName=name, Active=obj.get("Active", True))
        if entity == "Customer":
            obj["Balance"] = 0
        for key in ("BillAddr", "ShipAddr"):
            if obj.get(key):
                obj[key]["Id"] = self._new_id("PhysicalAddress")

    def _check_named(self, entity: str, obj: dict[str, Any]) -> None:
        name = obj.get("Name")
        if not name:
            raise QBFault("2020", "Required param missing, need to supply the required value for the API",
                          "Required parameter Name is missing in the request")
        if self._by_name(entity, name):
            raise QBFault("6240", "Duplicate Name Exists Error",
                          "The name supplied already exists. : Another product or service is already using this name. Please use a different name.")
        if entity == "Item":
            if obj.get("Type", "Inventory") != "Category":
                ref = obj.get("IncomeAccountRef") or {}
                account = self.store["Account"].get(str(ref.get("value")))
                if account is None:
                    raise QBFault("2500", "Invalid Reference Id", "Invalid Reference Id : Accounts element id "
                                  f"{ref.get('value')} not found", element="IncomeAccountRef")
                ref["name"] = account["Name"]
            obj.setdefault("Type", "Inventory")
            if obj.get("SalesTaxCodeRef"):  # a real TaxCode (UK item example [Q24]; api-changes §5)
                self._tax_code_ref(obj["SalesTaxCodeRef"], "SalesTaxCodeRef")
        obj.update(FullyQualifiedName=name, Active=obj.get("Active", True))

    def _ref(self, entity: str, ref: Any, element: str) -> dict[str, Any]:
        if not isinstance(ref, dict) or not ref.get("value"):
            raise QBFault("2020", "Required param missing, need to supply the required value for the API",
                          f"Required parameter {element} is missing in the request", element=element)
        found = self.store[entity].get(str(ref["value"]))
        if found is None:
            raise QBFault("2500", "Invalid Reference Id",
                          f"Invalid Reference Id : {entity} element id {ref['value']} not found", element=element)
        if found.get("Active") is False:
            raise QBFault("610", "Object Not Found", "Object Not Found : Something you're trying to use has been made "
                          "inactive. Check the fields with accounts, customers, items, vendors or employees.")
        ref["name"] = found.get("DisplayName") or found.get("Name")
        return found

    def _tax_code_ref(self, ref: Any, element: str) -> dict[str, Any]:
        """A TaxCode reference. ``TAX``/``NON`` are US pseudo codes, not TaxCodes: a non-US company knows
        only real ``TaxCode.Id``s from ``select * from TaxCode`` (api-changes §5, Intuit's non-US sales tax
        guide [Q21]); the answer for an unknown one is the usual invalid reference (2500)."""
        value = str((ref or {}).get("value", "")) if isinstance(ref, dict) else ""
        code = self.store["TaxCode"].get(value)
        if code is None:
            raise QBFault("2500", "Invalid Reference Id", f"Invalid Reference Id : TaxCode element id {value or '(none)'} "
                          "not found" + (" (TAX and NON are US sales tax codes)" if value in US_PSEUDO_CODES else ""),
                          element=element)
        if code.get("Active") is False:
            raise _not_found()
        ref["name"] = code["Name"]
        return code

    def _check_txn(self, entity: str, obj: dict[str, Any], *, allow_duplicate: bool) -> None:
        customer = self._ref("Customer", obj.get("CustomerRef"), "CustomerRef")
        for key in ("BillAddr", "ShipAddr"):  # as QuickBooks does, the customer's addresses by default
            if not obj.get(key) and customer.get(key):
                obj[key] = dict(customer[key])
            elif obj.get(key):
                obj[key].setdefault("Id", self._new_id("PhysicalAddress"))
            if obj.get(key):  # the simulator geocodes nothing, as QuickBooks marks it
                obj[key].update(Lat="INVALID", Long="INVALID")
        for key, target in (("ClassRef", "Class"), ("DepartmentRef", "Department"),
                            ("DepositToAccountRef", "Account"), ("PaymentMethodRef", "PaymentMethod")):
            if obj.get(key):
                self._ref(target, obj[key], key)
        number = obj.get("DocNumber")
        if number and len(str(number)) > 21:
            raise QBFault("2050", "String length is either shorter or longer than supported by specification",
                          f"DocNumber: Min:0 Max:21 supported. Supplied length:{len(str(number))}", element="DocNumber")
        if not number:
            number = str(1000 + sum(len(self.store[t]) for t in TXN_TYPES) + 1)
            obj["DocNumber"] = number
        elif self.warn_duplicate_doc_number and not allow_duplicate:
            clash = next((e for e in self.store[entity].values() if str(e.get("DocNumber", "")).lower() == str(number).lower()), None)
            if clash:
                raise QBFault("6140", "Duplicate Document Number Error",
                              f"Duplicate Document Number Error : You must specify a different number. This number has "
                              f"already been used. DocNumber={number} is assigned to TxnType={entity} with TxnId={clash['Id']}")
        self._compute_txn(entity, obj)
        today = self._today()
        obj.setdefault("TxnDate", today.isoformat())
        obj.setdefault("CurrencyRef", {"value": self.preferences["CurrencyPrefs"]["HomeCurrency"]["value"]})
        obj.setdefault("PrintStatus", "NotSet")
        obj.setdefault("EmailStatus", "NotSet")
        obj.setdefault("ApplyTaxAfterDiscount", False)
        obj.setdefault("CustomField", [])
        if entity == "Invoice":
            obj.setdefault("DueDate", (date.fromisoformat(obj["TxnDate"]) + timedelta(days=30)).isoformat())
            obj.update(Balance=obj["TotalAmt"], Deposit=0, LinkedTxn=[])
        else:
            obj["Balance"] = 0
            obj.setdefault("DepositToAccountRef", {"value": "4", "name": "Undeposited Funds"})

    def _compute_txn(self, entity: str, obj: dict[str, Any]) -> None:
        lines = [l for l in obj.get("Line") or [] if l.get("DetailType") != "SubTotalLineDetail"]
        if not lines:
            raise QBFault("2020", "Required param missing, need to supply the required value for the API",
                          "Required parameter Line is missing in the request", element="Line")
        sales, discounts, subtotal = [], [], Decimal("0")
        for line in lines:
            kind = line.get("DetailType")
            if kind == "SalesItemLineDetail":
                detail = line.get("SalesItemLineDetail") or {}
                ref = detail.get("ItemRef") or {}
                if ref.get("value") == "SHIPPING_ITEM_ID":
                    if not self.preferences["SalesFormsPrefs"]["AllowShipping"]:
                        raise QBFault("2500", "Invalid Reference Id", "Invalid Reference Id : SHIPPING_ITEM_ID "
                                      "(shipping is not enabled for this company)", element="ItemRef")
                    ref["name"] = "Shipping"
                    item = None
                else:
                    item = self._ref("Item", ref, "ItemRef")
                amount = _money(line.get("Amount"))
                if "Qty" in detail and "UnitPrice" in detail and \
                        abs(Decimal(str(detail["Qty"])) * Decimal(str(detail["UnitPrice"])) - amount) > CENT:
                    raise QBFault("6070", "Amount calculation incorrect in the request",
                                  "Amount is not equal to UnitPrice * Qty", element="Line.Amount")
                self._line_tax_code(detail, item)
                line["Amount"] = amount
                subtotal += amount
                sales.append(line)
            elif kind == "DiscountLineDetail":
                discounts.append(line)
            elif kind != "DescriptionOnly":
                raise QBFault("6000", "A business validation error has occurred while processing your request",
                              f"Unsupported line type {kind}")
        if len(discounts) > 1:
            raise QBFault("6000", "A business validation error has occurred while processing your request",
                          "Only one discount line is allowed")
        discount = Decimal("0")
        for line in discounts:
            detail = line.get("DiscountLineDetail") or {}
            if detail.get("PercentBased"):
                discount = _money(subtotal * Decimal(str(detail.get("DiscountPercent", 0))) / 100)
            else:
                discount = _money(line.get("Amount"))
            line["Amount"] = discount
            detail.setdefault("DiscountAccountRef", {"value": self.preferences["SalesFormsPrefs"]["DefaultDiscountAccount"],
                                                     "name": "Discounts given"})
        for n, line in enumerate(sales, 1):
            line.update(LineNum=n, Id=str(n))
        obj["Line"] = sales + [{"DetailType": "SubTotalLineDetail", "Amount": subtotal, "SubTotalLineDetail": {}}] + discounts
        if self.is_global:
            obj["TotalAmt"] = self._global_tax(obj, sales, subtotal, discount)
            return
        detail = obj.get("TxnTaxDetail") or {}
        if detail.get("TxnTaxCodeRef"):  # a real TaxCode (Intuit's invoice example: TxnTaxCodeRef "2")
            self._tax_code_ref(detail["TxnTaxCodeRef"], "TxnTaxCodeRef")
        tax = _money(detail.get("TotalTax"))
        obj["TxnTaxDetail"] = dict(detail, TotalTax=tax)
        obj["TotalAmt"] = subtotal - discount + tax

    def _line_tax_code(self, detail: dict[str, Any], item: Optional[dict[str, Any]]) -> None:
        """A sales line's tax code, as the company's tax model wants it.

        US: the pseudo codes ``TAX``/``NON`` only (Intuit's US sales tax guide [Q22]; api-contracts §2.2), ``NON``
        when left out. Non-US: a real TaxCode id [Q21]; a line without one takes its item's ``SalesTaxCodeRef``
        (how the QuickBooks forms fill it in; **unverified** for the API), and with neither it is refused with the
        business validation error third-party integrations report ("Make sure all your transactions have a VAT
        rate before you save", the tax's local name in its place; wording **unverified**).
        """
        ref = detail.get("TaxCodeRef")
        if not self.is_global:
            detail.setdefault("TaxCodeRef", {"value": "NON"})
            if str(detail["TaxCodeRef"].get("value")) not in US_PSEUDO_CODES:
                raise QBFault("2500", "Invalid Reference Id", f"Invalid Reference Id : TaxCodeRef "
                              f"{detail['TaxCodeRef'].get('value')!r}: a US company's lines take TAX or NON",
                              element="TaxCodeRef")
            return
        if not ref and item is not None and item.get("SalesTaxCodeRef"):
            ref = detail["TaxCodeRef"] = dict(item["SalesTaxCodeRef"])
        if not ref:
            raise QBFault("6000", "A business validation error has occurred while processing your request",
                          f"Business Validation Error: Make sure all your transactions have a "
                          f"{GLOBAL_COMPANIES[self.country][1]} rate before you save.", element="TaxCodeRef")
        self._tax_code_ref(ref, "TaxCodeRef")

    def _global_tax(self, obj: dict[str, Any], sales: list[dict[str, Any]], subtotal: Decimal, discount: Decimal) -> Decimal:
        """Tax of a non-US document computed from its lines' TaxCodes, as QuickBooks does (``TxnTaxDetail`` comes
        back with ``TaxLine[]``: ``TaxRateRef``, ``TaxPercent``, ``NetAmountTaxable``; api-changes §5).

        ``GlobalTaxCalculation``: ``TaxExcluded`` (line amounts are net, tax added), ``TaxInclusive`` (line amounts
        include tax) or ``NotApplicable`` (no tax) [Q21], [Q23]; another value is refused. Simplifications: a
        missing value means ``TaxExcluded``; a discount reduces every line's taxable amount in proportion; a sent
        ``TotalTax`` is recomputed (Intuit lets ``TaxLine`` amounts override the calculation: not simulated).
        Returns the document's total.
        """
        mode = obj.setdefault("GlobalTaxCalculation", "TaxExcluded")
        if mode not in GLOBAL_TAX_CALCULATION:
            raise QBFault("2500", "Invalid Enumeration", f"GlobalTaxCalculation: {mode!r} is not one of "
                          f"{', '.join(GLOBAL_TAX_CALCULATION)}", element="GlobalTaxCalculation")
        share = (subtotal - discount) / subtotal if subtotal else Decimal("1")
        per_rate: dict[str, list[Decimal]] = {}
        for line in sales:
            code = self.store["TaxCode"][str(line["SalesItemLineDetail"]["TaxCodeRef"]["value"])]
            amount = line["Amount"] * share
            rates = [self.store["TaxRate"][d["TaxRateRef"]["value"]] for d in code["SalesTaxRateList"]["TaxRateDetail"]]
            total_rate = sum((Decimal(str(r["RateValue"])) for r in rates), Decimal("0"))
            net = amount / (1 + total_rate / 100) if mode == "TaxInclusive" else amount
            for rate in rates:
                entry = per_rate.setdefault(rate["Id"], [Decimal("0"), Decimal("0")])
                entry[0] += net
                entry[1] += net * Decimal(str(rate["RateValue"])) / 100
        tax_lines, tax = [], Decimal("0")
        if mode != "NotApplicable":
            for rate_id, (net, amount) in sorted(per_rate.items(), key=lambda kv: int(kv[0])):
                rate = self.store["TaxRate"][rate_id]
                tax_lines.append({"DetailType": "TaxLineDetail", "Amount": _money(amount), "TaxLineDetail": {
                    "TaxRateRef": {"value": rate_id, "name": rate["Name"]}, "PercentBased": True,
                    "TaxPercent": rate["RateValue"], "NetAmountTaxable": _money(net)}})
                tax += _money(amount)
        obj["TxnTaxDetail"] = {"TotalTax": tax, "TaxLine": tax_lines}
        return subtotal - discount + (tax if mode == "TaxExcluded" else Decimal("0"))

    def _apply_payment(self, obj: dict[str, Any]) -> None:
        self._ref("Customer", obj.get("CustomerRef"), "CustomerRef")
        if obj.get("TotalAmt") is None:
            raise QBFault("2020", "Required param missing, need to supply the required value for the API",
                          "Required parameter TotalAmt is missing in the request", element="TotalAmt")
        total, applied = _money(obj["TotalAmt"]), Decimal("0")
        links = []
        for line in obj.get("Line") or []:
            amount = _money(line.get("Amount"))
            for link in line.get("LinkedTxn") or []:
                invoice = self.store["Invoice"].get(str(link.get("TxnId")))
                if invoice is None or link.get("TxnType") != "Invoice":
                    raise QBFault("2500", "Invalid Reference Id", f"Invalid Reference Id : Invoice {link.get('TxnId')} not found")
                if amount > _money(invoice["Balance"]):
                    raise QBFault("6000", "A business validation error has occurred while processing your request",
                                  "The payment amount is more than the invoice balance")
                links.append((invoice, amount))
            applied += amount
        if applied > total:
            raise QBFault("6000", "A business validation error has occurred while processing your request",
                          "The amounts applied are more than the payment total")
        obj.setdefault("DepositToAccountRef", {"value": "4"})
        obj.setdefault("TxnDate", self._today().isoformat())
        obj.update(Id=self._new_id("Payment"), TotalAmt=total, UnappliedAmt=total - applied, ProcessPayment=False)
        for invoice, amount in links:
            invoice["Balance"] = _money(invoice["Balance"]) - amount
            invoice["SyncToken"] = str(int(invoice["SyncToken"]) + 1)
            invoice["MetaData"]["LastUpdatedTime"] = self._stamp()
            invoice.setdefault("LinkedTxn", []).append({"TxnId": obj["Id"], "TxnType": "Payment"})

    def _update(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        current = self.store[entity].get(str(body["Id"]))
        if current is None:
            raise _not_found()
        if str(body.get("SyncToken")) != current["SyncToken"]:
            raise QBFault("5010", "Stale Object Error", "Stale Object Error : You and root were working on this at the "
                          "same time. root finished before you did, so your work was not saved.")
        changes = json.loads(json.dumps(body, default=str), parse_float=Decimal)
        keep = {"Id": current["Id"], "MetaData": current["MetaData"]}
        updated = dict(current, **changes) if changes.get("sparse") else dict(changes)
        updated.update(keep, sparse=False, SyncToken=str(int(current["SyncToken"]) + 1))
        if entity in TXN_TYPES and ("Line" in changes or "TxnTaxDetail" in changes):
            balance_paid = _money(current.get("TotalAmt")) - _money(current.get("Balance"))
            self._compute_txn(entity, updated)
            updated["Balance"] = updated["TotalAmt"] - balance_paid if entity == "Invoice" else 0
        updated["MetaData"] = dict(current["MetaData"], LastUpdatedTime=self._stamp())
        self.store[entity][current["Id"]] = updated
        return updated

    def _void(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        """The document stays, with every amount zero, ``PrivateNote`` "Voided" and ``SyncToken`` + 1 (fixtures
        qbo_invoice_void_response.json, qbo_salesreceipt_void_response.json, qbo_payment_void_response.json:
        ``TotalAmt`` 0, ``Balance`` 0, lines' ``Amount`` and ``Qty`` 0, ``TxnTaxDetail.TotalTax`` 0, an invoice's
        ``LinkedTxn`` empty, a payment's ``Line`` empty and ``UnappliedAmt`` 0). A voided payment gives the
        invoices it paid their balance back; a voided invoice unlinks the payments applied to it, whose amounts
        become unapplied (the invoice's ``LinkedTxn`` is empty after the void)."""
        current = self.store[entity].get(str(body.get("Id")))
        if current is None:
            raise _not_found()
        if str(body.get("SyncToken")) != current["SyncToken"]:
            raise QBFault("5010", "Stale Object Error", "Stale Object Error : the object was changed since you read it.")
        if entity == "Payment":
            for line in current.get("Line") or []:
                for link in line.get("LinkedTxn") or []:
                    invoice = self.store["Invoice"].get(str(link.get("TxnId")))
                    if invoice is not None and link.get("TxnType") == "Invoice":
                        invoice["Balance"] = _money(invoice["Balance"]) + _money(line.get("Amount"))
                        invoice["LinkedTxn"] = [t for t in invoice.get("LinkedTxn") or [] if t.get("TxnId") != current["Id"]]
                        invoice["SyncToken"] = str(int(invoice["SyncToken"]) + 1)
            current.update(Line=[], UnappliedAmt=Decimal("0"))
        else:
            for link in current.get("LinkedTxn") or []:
                payment = self.store["Payment"].get(str(link.get("TxnId"))) if link.get("TxnType") == "Payment" else None
                if payment is None:
                    continue
                kept = []
                for line in payment.get("Line") or []:
                    if any(str(t.get("TxnId")) == current["Id"] for t in line.get("LinkedTxn") or []):
                        payment["UnappliedAmt"] = _money(payment.get("UnappliedAmt")) + _money(line.get("Amount"))
                    else:
                        kept.append(line)
                payment["Line"] = kept
                payment["SyncToken"] = str(int(payment["SyncToken"]) + 1)
            for line in current.get("Line") or []:
                line["Amount"] = Decimal("0")
                detail = line.get("SalesItemLineDetail")
                if isinstance(detail, dict):
                    detail["Qty"] = 0
            current["TxnTaxDetail"] = {"TotalTax": Decimal("0")}
            current.update(Balance=Decimal("0"), LinkedTxn=[])
        current.update(TotalAmt=Decimal("0"), PrivateNote="Voided", SyncToken=str(int(current["SyncToken"]) + 1))
        current["MetaData"] = dict(current["MetaData"], LastUpdatedTime=self._stamp())
        return current

    def _delete(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        current = self.store[entity].get(str(body.get("Id")))
        if current is None:
            raise _not_found()
        if str(body.get("SyncToken")) != current["SyncToken"]:
            raise QBFault("5010", "Stale Object Error", "Stale Object Error : the object was changed since you read it.")
        del self.store[entity][current["Id"]]
        return {"status": "Deleted", "domain": "QBO", "Id": current["Id"]}
