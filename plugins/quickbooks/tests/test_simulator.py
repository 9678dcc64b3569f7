"""The simulated QuickBooks Online API over real HTTP (plain requests): auth, queries, batch, errors, throttles."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connex_core.sandbox import Fault, SimClock
from connex_quickbooks.sim.simulator import QuickBooksSimulator


@pytest.fixture
def api(sim, client_for):
    return client_for(sim)


def query(api, text: str) -> dict:
    response = api("POST", "query", data=text, headers={"Content-Type": "application/text"})
    assert response.status_code == 200, response.text
    return response.json()["QueryResponse"]


def receipt(customer="1", item="1", number=None, amount="10.00", **extra):
    body = {"CustomerRef": {"value": customer}, "Line": [
        {"DetailType": "SalesItemLineDetail", "Amount": amount,
         "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 1, "UnitPrice": amount}}], **extra}
    if number:
        body["DocNumber"] = number
    return body


def fault_code(response: requests.Response) -> str:
    return response.json()["Fault"]["Error"][0]["code"]


# -- OAuth ------------------------------------------------------------------------------------------

def test_refresh_rotates_and_the_old_token_is_refused(sim):
    cfg = sim.client_config()
    post = lambda rt: requests.post(cfg["token_url"], auth=(cfg["client_id"], cfg["client_secret"]),
                                    data={"grant_type": "refresh_token", "refresh_token": rt}, timeout=5)
    first = post(cfg["refresh_token"])
    assert first.status_code == 200
    body = first.json()
    assert body["expires_in"] == 3600 and body["token_type"] == "bearer"
    assert body["refresh_token"] != cfg["refresh_token"]
    again = post(cfg["refresh_token"])
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}
    assert post(body["refresh_token"]).status_code == 200


def test_token_endpoint_needs_client_credentials(sim):
    cfg = sim.client_config()
    r = requests.post(cfg["token_url"], auth=(cfg["client_id"], "wrong"),
                      data={"grant_type": "refresh_token", "refresh_token": cfg["refresh_token"]}, timeout=5)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_access_token_lasts_one_hour_on_the_sim_clock(sim, api, clock):
    assert api("GET", "preferences").status_code == 200
    clock.advance(3601)
    expired = api("GET", "preferences")
    assert expired.status_code == 401
    assert expired.json()["fault"]["error"][0]["code"] == "3200"


def test_authorize_redirects_with_code_state_and_realm(sim):
    cfg = sim.client_config()
    r = requests.get(cfg["authorize_url"], params={"client_id": cfg["client_id"], "redirect_uri": "http://localhost:1/cb",
                                                   "state": "xyz", "response_type": "code", "scope": "x"},
                     allow_redirects=False, timeout=5)
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["Location"]).query)
    assert query["state"] == ["xyz"] and query["realmId"] == [cfg["realm_id"]]
    code = query["code"][0]
    exchange = lambda: requests.post(cfg["token_url"], auth=(cfg["client_id"], cfg["client_secret"]), timeout=5,
                                     data={"grant_type": "authorization_code", "code": code, "redirect_uri": "x"})
    assert exchange().status_code == 200
    assert exchange().json() == {"error": "invalid_grant"}, "an authorization code is single-use"


# -- queries --------------------------------------------------------------------------------------

def test_query_language_subset(sim, api):
    sim.seed_documents(6, class_every=2)
    invoices = query(api, "select * from Invoice where DocNumber IN ('QB-00002', 'QB-00004') MAXRESULTS 10")
    assert sorted(d["DocNumber"] for d in invoices["Invoice"]) == ["QB-00002", "QB-00004"]
    assert invoices["startPosition"] == 1 and invoices["maxResults"] == 2
    assert query(api, "SELECT COUNT(*) FROM SalesReceipt") == {"totalCount": 3}
    like = query(api, "select * from Customer where DisplayName LIKE 'Seed Customer 0%'")
    assert len(like["Customer"]) == 6
    big = query(api, "select * from Invoice where TotalAmt > '10.00' AND DocNumber < 'QB-00005'")
    assert {d["DocNumber"] for d in big["Invoice"]} == {"QB-00002", "QB-00004"}


def test_empty_result_has_no_entity_key(api):
    assert query(api, "select * from Invoice where DocNumber = 'nope'") == {}


def test_paging_with_startposition(sim, api):
    sim.seed_documents(10)
    first = query(api, "select * from SalesReceipt STARTPOSITION 1 MAXRESULTS 3")["SalesReceipt"]
    second = query(api, "select * from SalesReceipt STARTPOSITION 4 MAXRESULTS 3")["SalesReceipt"]
    assert len(first) == 3 and len(second) == 2
    assert not {d["Id"] for d in first} & {d["Id"] for d in second}


@pytest.mark.parametrize("text", [
    "select * from Invoice where DocNumber = 'a' OR DocNumber = 'b'",
    "select * from Invoice MAXRESULTS 1001",
    "select from",
])
def test_bad_queries_are_refused_with_a_fault(api, text):
    r = api("POST", "query", data=text, headers={"Content-Type": "application/text"})
    assert r.status_code == 400
    assert fault_code(r) == "4000"


def test_quoted_strings_with_escaped_quote(sim, api):
    r = api("POST", "customer", json={"DisplayName": "Tim O'Brien"})
    assert r.status_code == 200
    found = query(api, "select * from Customer where DisplayName = 'Tim O\\'Brien'")
    assert found["Customer"][0]["Id"] == r.json()["Customer"]["Id"]


# -- writes and errors ----------------------------------------------------------------------------

def test_create_sales_receipt_computes_totals_and_subtotal_line(sim, api):
    sim.seed_documents(1)
    body = receipt(number="SR-1", amount="12.50", TxnTaxDetail={"TotalTax": 1.1})
    body["Line"].append({"DetailType": "SalesItemLineDetail", "Amount": 4,
                         "SalesItemLineDetail": {"ItemRef": {"value": "SHIPPING_ITEM_ID"}}})
    body["Line"].append({"DetailType": "DiscountLineDetail", "Amount": 2, "DiscountLineDetail": {"PercentBased": False}})
    r = api("POST", "salesreceipt", json=body, params={"minorversion": 75})
    assert r.status_code == 200, r.text
    doc = r.json()["SalesReceipt"]
    assert Decimal(str(doc["TotalAmt"])) == Decimal("15.60")  # 12.50 + 4 - 2 + 1.10
    assert [l["DetailType"] for l in doc["Line"]] == ["SalesItemLineDetail", "SalesItemLineDetail",
                                                       "SubTotalLineDetail", "DiscountLineDetail"]
    assert doc["Balance"] == 0 and doc["SyncToken"] == "0" and doc["DocNumber"] == "SR-1"
    assert doc["CustomerRef"]["name"] == "Seed Customer 00"


def test_errors_carry_the_real_codes(sim, api):
    sim.seed_documents(1)
    assert fault_code(api("POST", "salesreceipt", json=receipt(customer="999"))) == "2500"
    assert fault_code(api("POST", "salesreceipt", json=receipt(item="999"))) == "2500"
    assert fault_code(api("POST", "salesreceipt", json=receipt(number="X" * 22))) == "2050"
    bad_amount = receipt()
    bad_amount["Line"][0]["Amount"] = "11.00"
    assert fault_code(api("POST", "salesreceipt", json=bad_amount)) == "6070"
    assert fault_code(api("POST", "customer", json={"DisplayName": "Seed Customer 00"})) == "6240"
    sim.store["Item"]["1"]["Active"] = False
    assert fault_code(api("POST", "salesreceipt", json=receipt())) == "610"


def test_duplicate_doc_number_when_the_company_warns(sim, api):
    sim.seed_documents(1)
    assert api("POST", "salesreceipt", json=receipt(number="D-1")).status_code == 200
    dup = api("POST", "salesreceipt", json=receipt(number="D-1"))
    assert dup.status_code == 400 and fault_code(dup) == "6140"
    assert "DocNumber=D-1" in dup.json()["Fault"]["Error"][0]["Detail"]
    allowed = api("POST", "salesreceipt", json=receipt(number="D-1"), params={"include": "allowduplicatedocnum"})
    assert allowed.status_code == 200
    sim.warn_duplicate_doc_number = False
    assert api("POST", "salesreceipt", json=receipt(number="D-1")).status_code == 200, "silently accepted"


def test_sparse_update_checks_sync_token(sim, api):
    sim.seed_documents(2, unpaid_every=1)
    doc = sim.entities("Invoice")[0]
    ok = api("POST", "invoice", json={"Id": doc["Id"], "SyncToken": doc["SyncToken"], "sparse": True, "TrackingNum": "1Z1"})
    assert ok.status_code == 200
    updated = ok.json()["Invoice"]
    assert updated["TrackingNum"] == "1Z1" and updated["SyncToken"] == "1"
    assert updated["Line"] == doc["Line"] and updated["CustomerRef"] == doc["CustomerRef"], "sparse keeps the rest"
    stale = api("POST", "invoice", json={"Id": doc["Id"], "SyncToken": "0", "sparse": True, "TrackingNum": "1Z2"})
    assert stale.status_code == 400 and fault_code(stale) == "5010"


def test_payment_reduces_the_invoice_balance(sim, api):
    sim.seed_documents(2, unpaid_every=1)
    invoice = sim.entities("Invoice")[0]
    total = invoice["TotalAmt"]
    r = api("POST", "payment", json={"CustomerRef": invoice["CustomerRef"], "TotalAmt": float(total),
                                     "Line": [{"Amount": float(total), "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]})
    assert r.status_code == 200, r.text
    assert sim.get("Invoice", invoice["Id"])["Balance"] == 0
    assert sim.get("Invoice", invoice["Id"])["LinkedTxn"] == [{"TxnId": r.json()["Payment"]["Id"], "TxnType": "Payment"}]


# -- batch and requestid --------------------------------------------------------------------------

def test_batch_is_serial_not_atomic_and_answers_by_bid(sim, api):
    sim.seed_documents(1)
    items = [{"bId": "a", "operation": "create", "Customer": {"DisplayName": "New One"}},
             {"bId": "b", "operation": "create", "Customer": {"DisplayName": "New One"}},
             {"bId": "c", "Query": "select * from Customer where DisplayName = 'New One'"}]
    r = api("POST", "batch", json={"BatchItemRequest": items})
    assert r.status_code == 200
    answers = {a["bId"]: a for a in r.json()["BatchItemResponse"]}
    assert answers["a"]["Customer"]["DisplayName"] == "New One"
    assert answers["b"]["Fault"]["Error"][0]["code"] == "6240", "a Fault inside a 200"
    assert len(answers["c"]["QueryResponse"]["Customer"]) == 1


def test_batch_holds_at_most_30(api):
    items = [{"bId": str(i), "Query": "select * from Item"} for i in range(31)]
    r = api("POST", "batch", json={"BatchItemRequest": items})
    assert r.status_code == 400 and fault_code(r) == "6000"


def test_requestid_replays_the_first_answer(sim, api):
    sim.seed_documents(1)
    first = api("POST", "salesreceipt", json=receipt(number="R-1"), params={"requestid": "abc-1"})
    again = api("POST", "salesreceipt", json=receipt(number="R-1"), params={"requestid": "abc-1"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert sum(1 for d in sim.entities("SalesReceipt") if d["DocNumber"] == "R-1") == 1
    assert sim.replays == 1
    too_long = api("POST", "batch", json={"BatchItemRequest": []}, params={"requestid": "x" * 37})
    assert too_long.status_code == 400 and fault_code(too_long) == "2050"


# -- throttles and faults --------------------------------------------------------------------------

def test_throttle_answers_the_xml_429(mount, client_for):
    api = client_for(mount(QuickBooksSimulator(clock=SimClock(speed=0.01))))  # a simulated second lasts 100 s
    answers = [api("GET", "preferences") for _ in range(11)]
    assert [r.status_code for r in answers] == [200] * 10 + [429], "at most 10 per second"
    limited = answers[-1]
    assert limited.headers["Content-Type"] == "application/xml"
    assert "<IntuitResponse" in limited.text and 'code="3001"' in limited.text and "ThrottleExceeded" in limited.text


def test_batch_throttle_is_40_per_minute(mount, client_for):
    clock = SimClock(speed=0.01)
    api = client_for(mount(QuickBooksSimulator(clock=clock)))
    statuses = []
    for _ in range(41):
        statuses.append(api("POST", "batch", json={"BatchItemRequest": []}).status_code)
        clock.advance(0.2)  # stay under 10 per second
    assert statuses[:40] == [200] * 40 and statuses[40] == 429


def test_injected_faults(sim, api):
    sim.faults.add(Fault(kind="error", status=503, body=b"Service Unavailable", path="/preferences", times=1))
    assert api("GET", "preferences").status_code == 503
    assert api("GET", "preferences").status_code == 200
    sim.faults.add(Fault(kind="lost_response", methods=("POST",), path="/salesreceipt", times=1))
    sim.seed_documents(1)
    with pytest.raises(requests.ConnectionError):
        api("POST", "salesreceipt", json=receipt(number="LOST-1"))
    assert any(d["DocNumber"] == "LOST-1" for d in sim.entities("SalesReceipt")), "committed, answer lost"
