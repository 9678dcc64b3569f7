"""Unit tests with ``responses`` over the real QuickBooks payloads (tests/fixtures, sources in SOURCES.md).

The client is python-quickbooks on ``requests``, so ``responses`` sees every call: timeouts,
``minorversion``, bearer tokens, the token refresh, and how each real error body is mapped.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
import responses
from responses import matchers

from connex_core.connector import ConnectorContext
from connex_core.errors import AuthenticationError, FatalAPIError, RetriableAPIError
from connex_core.models import DocumentType, OrderStatus
from connex_core.tokens import TokenStore
from connex_quickbooks.client import QuickBooksFault, item_error
from connex_quickbooks.connector import QuickBooksConnector, QuickBooksSettings

API = "https://qbo.test"
TOKEN_URL = "https://oauth.test/oauth2/v1/tokens/bearer"
REALM = "123145"
BASE = f"{API}/v3/company/{REALM}"
SECRET = "client-secret-value-xyz"


class RecordingClock:
    """A clock whose sleeps pass at once and are recorded (a test double for waiting, not for the client)."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def utcnow(self):
        from datetime import datetime, timezone
        return datetime.fromtimestamp(self.t, timezone.utc)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@pytest.fixture
def clock() -> RecordingClock:
    return RecordingClock()


@pytest.fixture
def store(tmp_path) -> TokenStore:
    return TokenStore(tmp_path, "quickbooks")


@pytest.fixture
def connector(tmp_path, store, clock) -> QuickBooksConnector:
    store.save({"access_token": "access-1", "refresh_token": "refresh-1", "expires_at": clock.t + 3000,
                "realm_id": REALM})
    settings = QuickBooksSettings(type="quickbooks", client_id="cid", client_secret=SECRET, realm_id=REALM,
                                  base_url=API, token_url=TOKEN_URL, timeout=12.5)
    ctx = ConnectorContext(connection="quickbooks", state_dir=tmp_path, tokens=store, options={"clock": clock})
    return QuickBooksConnector(settings, ctx)


def company_info() -> dict:
    return {"CompanyInfo": {"CompanyName": "Sandbox Co", "Id": "1"}, "time": "2026-01-01T00:00:00-08:00"}


@responses.activate
def test_every_request_has_a_timeout_minorversion_and_bearer(connector):
    responses.get(f"{BASE}/companyinfo/{REALM}", json=company_info(),
                  match=[matchers.query_param_matcher({"minorversion": "75"})])
    assert connector.check() == f"connected to Sandbox Co (realm {REALM})"
    call = responses.calls[0]
    assert call.request.req_kwargs["timeout"] == 12.5
    assert call.request.headers["Authorization"] == "Bearer access-1"


@responses.activate
def test_fault_inside_a_200_is_an_error(connector, load_fixture):
    responses.post(f"{BASE}/query", json=load_fixture("ruckus_json_tax_service_error_dup.json"), status=200)
    with pytest.raises(QuickBooksFault) as info:
        connector.api.query("select * from Customer")
    assert info.value.code == "6240"
    assert "Duplicate Name Exists Error" in str(info.value)


@responses.activate(registry=responses.registries.OrderedRegistry)
def test_xml_429_backs_off_60_seconds_then_retries(connector, clock, load_fixture):
    responses.post(f"{BASE}/query", body=load_fixture("ruckus_too_many_requests_error.xml"), status=429,
                   content_type="application/xml")
    responses.post(f"{BASE}/query", json=load_fixture("qbo_invoice_query_response.json"))
    rows = connector.api.query("select * from Invoice")["Invoice"]
    assert rows[0]["DocNumber"] == "1070"
    assert len(responses.calls) == 2
    assert 60.0 in clock.sleeps


@responses.activate(registry=responses.registries.OrderedRegistry)
def test_5xx_and_dropped_connections_are_retried(connector, clock):
    responses.get(f"{BASE}/companyinfo/{REALM}", body="<html>Service Unavailable</html>", status=503)
    responses.get(f"{BASE}/companyinfo/{REALM}", body=requests.ConnectionError("connection reset"))
    responses.get(f"{BASE}/companyinfo/{REALM}", json=company_info())
    assert connector.check().startswith("connected to Sandbox Co")
    assert len(responses.calls) == 3 and len(clock.sleeps) == 2


@responses.activate
def test_retries_end_with_a_retriable_error(connector, clock):
    responses.get(f"{BASE}/companyinfo/{REALM}", body="busy", status=503)
    with pytest.raises(RetriableAPIError):
        connector.check()
    assert len(responses.calls) == 5, "max_tries"


@responses.activate(registry=responses.registries.OrderedRegistry)
def test_401_refreshes_once_and_stores_the_rotated_token_before_using_it(connector, store):
    seen_in_store = []

    def api_answer(request):
        seen_in_store.append(store.load()["refresh_token"])
        return 200, {}, json.dumps(company_info())

    responses.get(f"{BASE}/companyinfo/{REALM}", status=401, json={"fault": {"error": [{"code": "3200"}]}})
    responses.post(TOKEN_URL, json={"access_token": "access-2", "refresh_token": "refresh-2", "expires_in": 3600,
                                    "x_refresh_token_expires_in": 8726400, "token_type": "bearer"},
                   match=[matchers.urlencoded_params_matcher({"grant_type": "refresh_token", "refresh_token": "refresh-1"})])
    responses.add_callback(responses.GET, f"{BASE}/companyinfo/{REALM}", callback=api_answer)
    connector.check()
    assert responses.calls[1].request.headers["Authorization"].startswith("Basic ")
    assert responses.calls[1].request.req_kwargs["timeout"] == 12.5, "the token endpoint has a timeout too"
    assert responses.calls[2].request.headers["Authorization"] == "Bearer access-2"
    assert seen_in_store == ["refresh-2"], "the rotated refresh token was on disk before the token was used"
    assert (store.path.stat().st_mode & 0o777) == 0o600


@responses.activate
def test_expired_access_token_is_refreshed_before_the_call(connector, store, clock):
    clock.t += 3000  # within a minute of expiry
    responses.post(TOKEN_URL, json={"access_token": "access-2", "refresh_token": "refresh-2", "expires_in": 3600})
    responses.get(f"{BASE}/companyinfo/{REALM}", json=company_info())
    connector.check()
    assert [c.request.url for c in responses.calls][0] == TOKEN_URL
    assert responses.calls[1].request.headers["Authorization"] == "Bearer access-2"
    assert store.load()["expires_at"] == pytest.approx(clock.t + 3600)


@responses.activate
def test_invalid_grant_says_how_to_reconnect_and_leaks_nothing(connector, store, clock):
    clock.t += 4000
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
    with pytest.raises(AuthenticationError) as info:
        connector.check()
    text = str(info.value)
    assert "reconnect with `connex connect quickbooks`" in text and "invalid_grant" in text
    for secret in ("refresh-1", "access-1", SECRET):
        assert secret not in text
    assert SECRET not in repr(connector.settings)
    assert store.load()["refresh_token"] == "refresh-1", "a refused refresh does not touch the stored token"


@responses.activate
def test_company_status_6190_is_fatal(connector):
    responses.post(f"{BASE}/query", status=400, json={"Fault": {"type": "ValidationFault", "Error": [
        {"Message": "Invalid Company Status", "Detail": "subscription", "code": "6190"}]}})
    with pytest.raises(FatalAPIError):
        connector.api.query("select * from Item")


@responses.activate
def test_batch_answers_by_bid_with_the_real_fault_codes(connector, load_fixture):
    responses.post(f"{BASE}/batch", json=load_fixture("qbo_batch_response_with_faults.json"),
                   match=[matchers.query_param_matcher({"minorversion": "75", "requestid": "rid-1"})])
    request = load_fixture("qbo_batch_request.json")["BatchItemRequest"]
    answers = connector.api.batch(request, request_id="rid-1")
    assert json.loads(responses.calls[0].request.body) == {"BatchItemRequest": request}
    codes = {bid: getattr(item_error(answer), "code", None) for bid, answer in answers.items()}
    assert codes == {"bid1": "6240", "bid2": "610", "bid3": "5010", "bid4": None}
    assert answers["bid4"]["QueryResponse"]["SalesReceipt"][0]["DocNumber"] == "1003"


def test_real_sales_receipt_maps_to_a_canonical_order(connector, load_fixture):
    [order] = connector.parse_orders(load_fixture("qbo_salesreceipt_object.json"))
    assert (order.source, order.source_id, order.number) == ("quickbooks", "SalesReceipt-11", "1003")
    assert order.total == Decimal("337.50") and order.paid and order.amount_paid == Decimal("337.50")
    assert order.document_type == DocumentType.sales_receipt
    [line] = order.lines
    assert (line.name, line.quantity, line.unit_price, line.item_name) == ("Custom Design", Decimal("4.5"), Decimal("75"), "Design")
    assert order.customer.name == "Dylan Sollfrank"
    assert order.created_at.utcoffset().total_seconds() == -7 * 3600


def test_real_invoice_maps_balance_addresses_and_tax(connector, load_fixture):
    [order] = connector.parse_orders(load_fixture("qbo_invoice_object.json"))
    assert order.source_id == "Invoice-130" and order.number == "1037"
    assert not order.paid and order.status == OrderStatus.open and order.amount_paid == 0
    assert order.tax == Decimal("26.82") and order.total == Decimal("362.07")
    assert sum(l.amount for l in order.lines) == Decimal("335.25")
    assert order.ship_to.street1 == "5647 Cypress Hill Ave." and order.ship_to.state == "CA"
    assert order.bill_to.name == "Russ Sonnenschein"
    assert order.customer.email == "Familiystore@intuit.com"
    assert order.due_date.isoformat() == "2014-10-19"


def test_a_saved_query_response_parses(connector, load_fixture):
    orders = list(connector.parse_orders(load_fixture("qbo_invoice_query_response.json")))
    assert [o.number for o in orders] == ["1070"]


def test_saved_payloads_map_without_credentials(tmp_path, load_fixture):
    """``connex rules dry-run --source quickbooks`` builds the connector from bare settings."""
    bare = QuickBooksSettings.model_construct(type="quickbooks")
    connector = QuickBooksConnector(bare, ConnectorContext(connection="quickbooks", state_dir=tmp_path, dry_run=True))
    assert [o.number for o in connector.parse_orders(load_fixture("qbo_invoice_object.json"))] == ["1037"]
