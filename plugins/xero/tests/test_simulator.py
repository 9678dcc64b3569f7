"""The simulated Xero API over real HTTP (urllib3, as xero-python uses): auth, limits, idempotency, errors."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import urllib3

from connex_core.sandbox import Fault
from connex_xero.sim.simulator import XeroSimulator

#: Time stands still between calls (it moves when a test advances it): at the x1000 clock a 30-minute token
#: lasts 1.8 real seconds, which a loaded machine spent before seven concurrent calls were answered (all 401).
pytestmark = pytest.mark.stepped_clock

HTTP = urllib3.PoolManager(retries=False, timeout=5.0)
BASIC = {"Authorization": "Basic " + base64.b64encode(b"xero-sandbox-client:xero-sandbox-secret").decode()}


def grant(sim: XeroSimulator, **form) -> urllib3.BaseHTTPResponse:
    return HTTP.request("POST", sim.base_url + "/connect/token", fields=form, encode_multipart=False, headers=BASIC)


def login(sim: XeroSimulator) -> dict:
    response = grant(sim, grant_type="refresh_token", refresh_token=sim.initial_refresh_token)
    assert response.status == 200, response.data
    return response.json()


def api(sim, method, path, token, body=None, headers=None, **query):
    url = f"{sim.base_url}/api.xro/2.0{path}"
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    h = {"Authorization": f"Bearer {token}", "xero-tenant-id": sim.tenant_id, "Accept": "application/json",
         "Content-Type": "application/json", **(headers or {})}
    return HTTP.request(method, url, body=json.dumps(body) if body is not None else None, headers=h)


@pytest.fixture
def token(xero) -> str:
    return login(xero)["access_token"]


def invoice_element(contact="Kim Li", number=None, **extra):
    element = {"Type": "ACCREC", "Contact": {"Name": contact}, "Date": "2026-09-15", "DueDate": "2026-10-15",
               "Status": "AUTHORISED", "LineItems": [{"Description": "Mug", "Quantity": 2, "UnitAmount": 12.5,
                                                      "AccountCode": "200", "TaxType": "NONE"}], **extra}
    if number:
        element["InvoiceNumber"] = number
    return element


# -- OAuth ----------------------------------------------------------------------------------------
def test_access_tokens_last_30_minutes_on_the_sim_clock(xero, clock):
    answer = login(xero)
    assert answer["expires_in"] == 1800 and answer["token_type"] == "Bearer"
    assert api(xero, "GET", "/Invoices", answer["access_token"]).status == 200
    clock.advance(1801)
    expired = api(xero, "GET", "/Invoices", answer["access_token"])
    assert expired.status == 401
    assert expired.json() == {"Type": None, "Title": "Unauthorized", "Status": 401,
                              "Detail": "AuthenticationUnsuccessful"}


def test_refresh_tokens_rotate_with_a_30_minute_grace(xero, clock):
    first = login(xero)
    assert first["refresh_token"] != xero.initial_refresh_token
    again = grant(xero, grant_type="refresh_token", refresh_token=xero.initial_refresh_token).json()
    assert again["refresh_token"] == first["refresh_token"]  # a lost answer can be retried in the grace period
    clock.advance(1801)
    late = grant(xero, grant_type="refresh_token", refresh_token=xero.initial_refresh_token)
    assert late.status == 400 and late.json() == {"error": "invalid_grant"}
    assert grant(xero, grant_type="refresh_token", refresh_token=first["refresh_token"]).status == 200


def test_a_refresh_token_unused_for_60_days_expires(xero, clock):
    clock.advance(61 * 86400)
    late = grant(xero, grant_type="refresh_token", refresh_token=xero.initial_refresh_token)
    assert late.status == 400 and late.json() == {"error": "invalid_grant"}


def test_wrong_client_secret_is_invalid_client(xero):
    response = HTTP.request("POST", xero.base_url + "/connect/token", encode_multipart=False,
                            fields={"grant_type": "refresh_token", "refresh_token": xero.initial_refresh_token,
                                    "client_id": "xero-sandbox-client", "client_secret": "nope"})
    assert response.status == 400 and response.json()["error"] == "invalid_client"


def test_authorization_code_flow_and_connections(xero):
    redirect = "http://127.0.0.1:9/callback"
    r = HTTP.request("GET", f"{xero.base_url}/connect/authorize?response_type=code&client_id=xero-sandbox-client"
                            f"&redirect_uri={redirect}&scope=offline_access&state=s1", redirect=False)
    assert r.status == 302
    query = parse_qs(urlsplit(r.headers["Location"]).query)
    assert query["state"] == ["s1"]
    tokens = grant(xero, grant_type="authorization_code", code=query["code"][0], redirect_uri=redirect).json()
    reused = grant(xero, grant_type="authorization_code", code=query["code"][0], redirect_uri=redirect)
    assert reused.status == 400  # a code is single-use
    xero.add_tenant("Second Org")
    connections = HTTP.request("GET", xero.base_url + "/connections",
                               headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert {c["tenantName"] for c in connections} == {"Connex Demo Ltd", "Second Org"}
    assert all(c["tenantType"] == "ORGANISATION" for c in connections)


def test_unknown_tenant_is_forbidden(xero, token):
    r = api(xero, "GET", "/Invoices", token, headers={"xero-tenant-id": "00000000-0000-0000-0000-000000000000"})
    assert r.status == 403 and r.json()["Title"] == "Forbidden"


# -- limits ----------------------------------------------------------------------------------------
def test_minute_limit_headers_and_429(xero, token, clock):
    clock.speed = 1.0  # hold the window still while we spend it
    remaining = [int(api(xero, "GET", "/Invoices", token).headers["X-MinLimit-Remaining"]) for _ in range(60)]
    assert remaining[0] == 59 and remaining[-1] == 0
    limited = api(xero, "GET", "/Invoices", token)
    assert limited.status == 429
    assert limited.headers["X-Rate-Limit-Problem"] == "minute" and 0 < int(limited.headers["Retry-After"]) <= 60
    assert int(api(xero, "GET", "/Contacts", token, headers={}).status) == 429
    clock.advance(61)
    ok = api(xero, "GET", "/Invoices", token)
    assert ok.status == 200 and ok.headers["X-DayLimit-Remaining"] == str(5000 - 61)


def test_day_limit_says_day_with_retry_after(xero, token, clock):
    xero.day_window.limit = 3
    for _ in range(3):
        assert api(xero, "GET", "/Invoices", token).status == 200
    limited = api(xero, "GET", "/Invoices", token)
    assert limited.status == 429 and limited.headers["X-Rate-Limit-Problem"] == "day"
    assert int(limited.headers["Retry-After"]) > 3600


def test_more_than_five_at_once_is_a_concurrent_429(xero, token):
    xero.faults.add(Fault(kind="slow", delay=0.3, path="/Invoices$"))
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda: statuses.append(api(xero, "GET", "/Invoices", token).status))
               for _ in range(7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses).count(200) == 5 and statuses.count(429) == 2


def test_offline_organisation_is_a_503(xero, token, clock):
    xero.go_offline(60)
    r = api(xero, "GET", "/Invoices", token)
    assert r.status == 503 and r.data == b"The Organisation is offline"
    clock.advance(61)
    assert api(xero, "GET", "/Invoices", token).status == 200


# -- invoices --------------------------------------------------------------------------------------
def test_summarize_errors_false_answers_each_element(xero, token):
    body = {"Invoices": [invoice_element(number="A-1"),
                         invoice_element(number="A-2", LineItems=[{"Description": "x", "Quantity": 1, "UnitAmount": 1,
                                                                   "AccountCode": "999"}])]}
    r = api(xero, "PUT", "/Invoices", token, body, summarizeErrors="false")
    assert r.status == 200
    ok, bad = r.json()["Invoices"]
    assert ok["StatusAttributeString"] == "OK" and ok["Total"] == 25 and ok["InvoiceNumber"] == "A-1"
    assert bad["StatusAttributeString"] == "ERROR"
    assert bad["ValidationErrors"] == [{"Message": "Account code '999' is not a valid code for this document."}]


def test_summarized_errors_are_a_400_but_valid_elements_are_still_created(xero, token):
    body = {"Invoices": [invoice_element(number="B-1"), invoice_element(number="B-1")]}
    r = api(xero, "PUT", "/Invoices", token, body)
    assert r.status == 400
    data = r.json()
    assert data["Type"] == "ValidationException" and len(data["Elements"]) == 1
    assert data["Elements"][0]["ValidationErrors"][0]["Message"] == "Invoice # must be unique."
    assert [i["InvoiceNumber"] for i in xero.invoices.values()] == ["B-1"]  # the trap: B-1 exists, id unknown


def test_idempotency_key_replays_the_first_answer(xero, token):
    body = {"Invoices": [invoice_element(number="C-1")]}
    first = api(xero, "PUT", "/Invoices", token, body, headers={"Idempotency-Key": "k-1"}, summarizeErrors="false")
    second = api(xero, "PUT", "/Invoices", token, body, headers={"Idempotency-Key": "k-1"}, summarizeErrors="false")
    assert first.json()["Invoices"][0]["InvoiceID"] == second.json()["Invoices"][0]["InvoiceID"]
    assert len(xero.invoices) == 1 and xero.write_calls == 1 and xero.replays == 1
    other = api(xero, "PUT", "/Invoices", token, {"Invoices": [invoice_element(number="C-2")]},
                headers={"Idempotency-Key": "k-1"}, summarizeErrors="false")
    assert other.status == 400 and len(xero.invoices) == 1


def test_invoice_filters_paging_and_if_modified_since(xero, token, clock):
    ids = xero.seed_invoices(150, status="AUTHORISED")
    xero.seed_invoices(5, status="DRAFT")
    page2 = api(xero, "GET", "/Invoices", token, page=2, Statuses="AUTHORISED").json()
    assert page2["pagination"] == {"page": 2, "pageSize": 100, "pageCount": 2, "itemCount": 150}
    assert len(page2["Invoices"]) == 50 and all(i["LineItems"] for i in page2["Invoices"])
    unpaged = api(xero, "GET", "/Invoices", token, Statuses="DRAFT").json()
    assert len(unpaged["Invoices"]) == 5 and not any(i["LineItems"] for i in unpaged["Invoices"])
    cutoff = clock.utcnow() - timedelta(days=1)
    recent = api(xero, "GET", "/Invoices", token, headers={"If-Modified-Since": cutoff.isoformat()}).json()["Invoices"]
    expected = [i for i in xero.invoices.values() if i["UpdatedDateUTC"] >= cutoff]
    assert 0 < len(recent) == len(expected) < 155
    one = xero.invoices[ids[3]]
    by_number = api(xero, "GET", "/Invoices", token, InvoiceNumbers=one["InvoiceNumber"]).json()["Invoices"]
    assert [i["InvoiceID"] for i in by_number] == [ids[3]]
    where = f'Type=="ACCREC" AND Contact.ContactID==guid("{one["ContactID"]}")'
    mine = api(xero, "GET", "/Invoices", token, where=quote(where)).json()["Invoices"]
    assert ids[3] in {i["InvoiceID"] for i in mine}
    bad = api(xero, "GET", "/Invoices", token, where=quote("Type=="))
    assert bad.status == 400 and bad.json()["Type"] == "QueryParseException"


def test_seed_flags_most_but_not_all_invoices_with_the_shipstation_channel(xero):
    xero.seed_invoices(60)
    channels = {t["Option"] for i in xero.invoices.values() for l in i["LineItems"] for t in l["Tracking"]
                if t["Name"] == "Sales Channel"}
    flagged = sum(any(t["Option"] == "ShipStation" for l in i["LineItems"] for t in l["Tracking"])
                  for i in xero.invoices.values())
    assert channels == {"ShipStation", "Retail"} and 30 < flagged < 60
    for contact in xero.contacts.values():
        kinds = {a["AddressType"]: a for a in contact["Addresses"]}
        assert kinds["POBOX"]["City"] and kinds["STREET"]["AddressLine1"]
    assert {i["Status"] for i in xero.invoices.values()} >= {"AUTHORISED", "PAID"}


def test_paid_invoices_are_read_only_but_take_history_notes(xero, token):
    created = api(xero, "PUT", "/Invoices", token, {"Invoices": [invoice_element(number="D-1")]}).json()["Invoices"][0]
    xero.pay(created["InvoiceID"])
    update = {"Invoices": [{"InvoiceID": created["InvoiceID"], "Reference": "new"}]}
    r = api(xero, "POST", f"/Invoices/{created['InvoiceID']}", token, update, summarizeErrors="false")
    assert r.json()["Invoices"][0]["ValidationErrors"][0]["Message"].startswith("This document cannot be edited")
    note = api(xero, "PUT", f"/Invoices/{created['InvoiceID']}/History", token, {"HistoryRecords": [{"Details": "hi"}]})
    assert note.status == 200 and note.json()["HistoryRecords"][0]["Details"] == "hi"
    history = api(xero, "GET", f"/Invoices/{created['InvoiceID']}/History", token).json()["HistoryRecords"]
    assert [h["Changes"] for h in history] == ["Created", "Payment", "Note"]


def test_updating_lines_keeps_sent_ids_and_drops_the_rest(xero, token):
    def line(text, amount, account="200"):
        return {"Description": text, "Quantity": 1, "UnitAmount": amount, "AccountCode": account, "TaxType": "NONE"}

    element = invoice_element(number="E-1", LineItems=[line("a", 10), line("b", 5)])
    created = api(xero, "PUT", "/Invoices", token, {"Invoices": [element]}).json()["Invoices"][0]
    keep = created["LineItems"][0]["LineItemID"]
    body = {"Invoices": [{"InvoiceID": created["InvoiceID"], "LineItems": [{"LineItemID": keep}, line("c", 2, "400")]}]}
    updated = api(xero, "POST", "/Invoices", token, body, summarizeErrors="false").json()["Invoices"][0]
    assert [l["Description"] for l in updated["LineItems"]] == ["a", "c"] and updated["Total"] == 12
    assert updated["LineItems"][0]["LineItemID"] == keep


def test_unknown_tracking_option_and_duplicate_contact_name_are_validation_errors(xero, token):
    bad = invoice_element(LineItems=[{"Description": "x", "Quantity": 1, "UnitAmount": 1, "AccountCode": "200",
                                      "Tracking": [{"Name": "Sales Channel", "Option": "Amazon"}]}])
    answer = api(xero, "PUT", "/Invoices", token, {"Invoices": [bad]}, summarizeErrors="false").json()["Invoices"][0]
    assert "Tracking option 'Amazon'" in answer["ValidationErrors"][0]["Message"]
    api(xero, "PUT", "/Contacts", token, {"Contacts": [{"Name": "Dup Co"}]})
    dup = api(xero, "PUT", "/Contacts", token, {"Contacts": [{"Name": "Dup Co"}]})
    assert dup.status == 400 and "must be unique across all active contacts" in \
        dup.json()["Elements"][0]["ValidationErrors"][0]["Message"]


def test_tracking_categories_list_the_sales_channel(xero, token):
    categories = api(xero, "GET", "/TrackingCategories", token).json()["TrackingCategories"]
    channel = next(c for c in categories if c["Name"] == "Sales Channel")
    assert [o["Name"] for o in channel["Options"]] == ["ShipStation", "Retail"]


def test_sandbox_hook_registers_the_simulator(plugin_manager):
    import connex_xero

    plugin_manager.register(connex_xero, name="connex_xero")
    assert plugin_manager.sandboxes["xero"] is XeroSimulator
    assert plugin_manager.connector("xero") is connex_xero.XeroConnector


def test_sandbox_seed_and_activity_hooks(xero):
    assert xero.seed(20) == 20 and len(xero.invoices) == 20
    open_before = sum(i["Status"] == "AUTHORISED" for i in xero.invoices.values())
    paid = xero.simulate_activity()["invoices_paid"]
    assert 0 < paid < open_before
    assert sum(i["Status"] == "AUTHORISED" for i in xero.invoices.values()) == open_before - paid
    assert xero.seed(0) == 0


def test_with_unique_invoice_numbers_off_a_number_is_taken_twice(xero, token):
    """The chaos harness's switch (issue 15): Xero's "Invoice # must be unique." check off."""
    xero.books.unique_invoice_numbers = False
    body = {"Invoices": [invoice_element(number="C-1"), invoice_element(number="C-1")]}
    r = api(xero, "PUT", "/Invoices", token, body)
    assert r.status == 200
    assert [i["InvoiceNumber"] for i in xero.invoices.values()] == ["C-1", "C-1"]
