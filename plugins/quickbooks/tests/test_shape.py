"""The simulator's answers compared in shape with the real QuickBooks payloads (tests/fixtures).

A shape is the JSON structure with every value replaced by its JSON type. Each simulator answer
must have every key the real one has, with the same type, except the keys listed as not simulated
(with the reason); and no key the real API does not send, except those listed as optional.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest


#: Keys of the real payloads the simulator does not produce, and why.
NOT_SIMULATED = {
    "ProjectRef",      # projects are not simulated
    "CustomerMemo",    # only present when sent; the Intuit examples sent one
    "totalCount",      # real query answers carry it only sometimes (count queries always)
    "DepositToAccountRef.name",  # a default reference without its name on some real answers
}
#: Keys the simulator may send that a given real example happens not to have.
OPTIONAL = {"CurrencyRef", "CustomField", "DocNumber", "TxnDate", "PrintStatus", "EmailStatus", "Balance",
            "DepositToAccountRef", "Deposit", "LinkedTxn", "DueDate", "ApplyTaxAfterDiscount", "MetaData",
            "Description", "LineNum", "Id", "Qty", "UnitPrice", "TaxCodeRef", "UnappliedAmt", "ProcessPayment",
            "TxnTaxDetail", "TotalAmt", "SubTotalLineDetail", "FullyQualifiedName", "Active", "Type",
            "IncomeAccountRef", "PrivateNote", "CustomerRef", "Line", "ShipAddr", "BillAddr", "element", "Country",
            "BillEmail"}


def json_type(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def compare(real, ours, path="") -> list[str]:
    """Differences in shape between a real payload and the simulator's (empty when they agree)."""
    problems = []
    if isinstance(real, dict) and isinstance(ours, dict):
        for key, value in real.items():
            where = f"{path}.{key}".lstrip(".")
            if key not in ours:
                if key not in NOT_SIMULATED and where.split(".", 1)[-1] not in NOT_SIMULATED:
                    problems.append(f"missing {where}")
                continue
            problems += compare(value, ours[key], where)
        problems += [f"extra {path}.{k}".replace(" .", " ") for k in ours if k not in real and k not in OPTIONAL]
    elif isinstance(real, list) and isinstance(ours, list):
        if real and ours:
            problems += compare(real[0], ours[0], f"{path}[]")
    elif json_type(real) != json_type(ours) and not (path.endswith("Lat") or path.endswith("Long")):
        problems.append(f"{path}: real {json_type(real)}, simulator {json_type(ours)}")
    return problems


@pytest.fixture
def api(sim, client_for):
    sim.seed_documents(2, unpaid_every=1)
    return client_for(sim)


def customer_and_item(sim):
    return sim.entities("Customer")[0]["Id"], next(i["Id"] for i in sim.entities("Item") if i.get("Sku"))


def test_sales_receipt_create_answer(sim, api, load_fixture):
    customer, item = customer_and_item(sim)
    body = load_fixture("qbo_salesreceipt_create_request.json")
    body["CustomerRef"] = {"value": customer}
    body["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"] = item
    ours = api("POST", "salesreceipt", json=body).json()
    real = load_fixture("qbo_salesreceipt_create_response.json")
    real["SalesReceipt"].pop("CustomField")  # the Intuit sample company has a custom field definition
    assert compare(real, ours) == []


def test_invoice_create_answer(sim, api, load_fixture):
    customer, item = customer_and_item(sim)
    body = load_fixture("qbo_invoice_create_min_request.json")
    body["CustomerRef"] = {"value": customer}
    body["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"] = item
    ours = api("POST", "invoice", json=body).json()
    real = load_fixture("qbo_invoice_create_response.json")
    real["Invoice"].pop("CustomField")
    assert compare(real, ours) == []
    assert ours["Invoice"]["Balance"] == ours["Invoice"]["TotalAmt"] == 100


def test_payment_create_answer(sim, api, load_fixture):
    invoice = sim.entities("Invoice")[0]
    body = load_fixture("qbo_payment_create_linked_min_request.json")
    body["CustomerRef"] = {"value": invoice["CustomerRef"]["value"]}
    body["Line"][0]["LinkedTxn"][0]["TxnId"] = invoice["Id"]
    ours = api("POST", "payment", json=body).json()
    assert compare(load_fixture("qbo_payment_create_response.json"), ours) == []


def test_service_item_create_answer(sim, api, load_fixture):
    ours = api("POST", "item", json=load_fixture("qbo_item_service_create_min_request.json")).json()
    assert compare(load_fixture("qbo_item_service_create_response.json"), ours) == []
    assert ours["Item"]["IncomeAccountRef"]["name"] == "Services"


def test_query_answer(sim, api, load_fixture):
    number = sim.entities("Invoice")[0]["DocNumber"]
    ours = api("POST", "query", data=f"select * from Invoice where DocNumber = '{number}'",
               headers={"Content-Type": "application/text"}).json()
    real = load_fixture("qbo_invoice_query_response.json")
    for doc in real["QueryResponse"]["Invoice"]:
        doc.pop("CustomField", None)
    assert compare(real, ours) == []


def test_delete_answer(sim, api, load_fixture):
    invoice = sim.entities("Invoice")[0]
    ours = api("POST", "invoice", params={"operation": "delete"},
               json={"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]}).json()
    real = load_fixture("qbo_invoice_delete_response.json")
    assert compare(real, ours) == [] and ours["Invoice"]["status"] == "Deleted"


def test_sparse_update_request_of_the_docs_is_accepted(sim, api, load_fixture):
    receipt = sim.entities("SalesReceipt")[0]
    body = load_fixture("qbo_salesreceipt_sparse_update_request.json")
    body.update(Id=receipt["Id"], SyncToken=receipt["SyncToken"])
    ours = api("POST", "salesreceipt", json=body).json()["SalesReceipt"]
    assert ours["CustomerMemo"] == body["CustomerMemo"] and ours["Line"] == receipt["Line"]


def test_batch_answer_with_faults(sim, api, load_fixture):
    receipt = sim.entities("SalesReceipt")[0]
    request = {"BatchItemRequest": [
        {"bId": "bid1", "operation": "create", "Customer": {"DisplayName": sim.entities("Customer")[0]["DisplayName"]}},
        {"bId": "bid2", "operation": "delete", "Invoice": {"SyncToken": "0", "Id": "129"}},
        {"bId": "bid3", "operation": "update", "SalesReceipt": {"PrivateNote": "A private note.", "SyncToken": "9",
                                                                "domain": "QBO", "Id": receipt["Id"], "sparse": True}},
        {"bId": "bid4", "Query": "select * from SalesReceipt where TotalAmt > '1.00'"}]}
    ours = api("POST", "batch", json=request).json()
    real = load_fixture("qbo_batch_response_with_faults.json")
    for item in real["BatchItemResponse"]:
        for doc in item.get("QueryResponse", {}).get("SalesReceipt", []):
            doc.pop("CustomField")
    real_codes = [i.get("Fault", {}).get("Error", [{}])[0].get("code") for i in real["BatchItemResponse"]]
    our_codes = [i.get("Fault", {}).get("Error", [{}])[0].get("code") for i in ours["BatchItemResponse"]]
    assert our_codes == real_codes == ["6240", "610", "5010", None]
    ours["BatchItemResponse"][3]["QueryResponse"]["SalesReceipt"] = ours["BatchItemResponse"][3]["QueryResponse"]["SalesReceipt"][:1]
    problems = compare(real, ours)
    assert [p for p in problems if "PaymentRefNum" not in p and "PaymentMethodRef" not in p] == []


def test_fault_body(sim, api, load_fixture):
    ours = api("POST", "customer", json={"DisplayName": sim.entities("Customer")[0]["DisplayName"]})
    assert ours.status_code == 400
    assert compare(load_fixture("ruckus_json_tax_service_error_dup.json"), ours.json()) == []


def test_throttle_body_is_the_real_xml(mount, client_for, load_fixture):
    from connex_core.sandbox import SimClock
    from connex_quickbooks.sim.simulator import QuickBooksSimulator

    api = client_for(mount(QuickBooksSimulator(clock=SimClock(speed=0.01))))
    limited = [r for r in (api("GET", "preferences") for _ in range(11)) if r.status_code == 429][0]
    ns = {"q": "http://schema.intuit.com/finance/v3"}
    real = ET.fromstring(load_fixture("ruckus_too_many_requests_error.xml").encode())
    ours = ET.fromstring(limited.content)
    for doc in (real, ours):
        assert doc.tag == "{http://schema.intuit.com/finance/v3}IntuitResponse" and doc.get("time")
    assert ours.find("q:Fault", ns).attrib == real.find("q:Fault", ns).attrib == {"type": "SERVICE"}
    for tag in ("Message", "Detail"):
        assert ours.find(f"q:Fault/q:Error/q:{tag}", ns).text == real.find(f"q:Fault/q:Error/q:{tag}", ns).text
    assert ours.find("q:Fault/q:Error", ns).get("code") == "3001"
