"""Voiding in the simulated QuickBooks Online API over real HTTP, as Intuit documents it (api-contracts §2.1,
the void fixtures), and the connector's ``cancel_orders`` on top of it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connex_core.connector import OrderWrite
from connex_core.testing.factories import make_order


@pytest.fixture
def api(sim, client_for):
    return client_for(sim)


def fault_code(response) -> str:
    return response.json()["Fault"]["Error"][0]["code"]


def pay(api, invoice, amount) -> dict:
    r = api("POST", "payment", json={"CustomerRef": invoice["CustomerRef"], "TotalAmt": amount,
                                     "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]})
    assert r.status_code == 200, r.text
    return r.json()["Payment"]


def test_voiding_an_invoice_zeroes_it_and_keeps_it_like_the_fixture(sim, api, load_fixture):
    sim.seed_documents(2, unpaid_every=1)
    invoice = sim.entities("Invoice")[0]
    token = invoice["SyncToken"]
    stale = api("POST", "invoice", params={"operation": "void"}, json={"Id": invoice["Id"], "SyncToken": "7"})
    assert stale.status_code == 400 and fault_code(stale) == "5010"

    r = api("POST", "invoice", params={"operation": "void"}, json={"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]})

    assert r.status_code == 200, r.text
    voided, real = r.json()["Invoice"], load_fixture("qbo_invoice_void_response.json")["Invoice"]
    for key in ("TotalAmt", "Balance", "PrivateNote", "LinkedTxn"):
        assert voided[key] == real[key], key
    assert voided["SyncToken"] == str(int(token) + 1)
    assert all(line["Amount"] == 0 for line in voided["Line"])
    assert sim.get("Invoice", invoice["Id"]) is not None  # voided, not deleted


def test_voiding_a_payment_gives_the_invoice_its_balance_back(sim, api):
    sim.seed_documents(2, unpaid_every=1)
    invoice = sim.entities("Invoice")[0]
    total = float(invoice["TotalAmt"])
    payment = pay(api, invoice, total)
    assert sim.get("Invoice", invoice["Id"])["Balance"] == 0

    r = api("POST", "payment", params={"operation": "void"}, json={"Id": payment["Id"], "SyncToken": payment["SyncToken"]})

    assert r.status_code == 200, r.text
    assert r.json()["Payment"]["TotalAmt"] == 0 and r.json()["Payment"]["PrivateNote"] == "Voided"
    after = sim.get("Invoice", invoice["Id"])
    assert after["Balance"] == Decimal(str(total)) and after["LinkedTxn"] == []


def test_a_sales_receipt_is_voided_by_a_sparse_update_with_include_void(sim, api):
    sim.seed_documents(3, unpaid_every=99)
    doc = sim.entities("SalesReceipt")[0]
    wrong = api("POST", "salesreceipt", params={"operation": "void"}, json={"Id": doc["Id"], "SyncToken": doc["SyncToken"]})
    assert wrong.status_code == 400

    r = api("POST", "salesreceipt", params={"operation": "update", "include": "void"},
            json={"Id": doc["Id"], "SyncToken": doc["SyncToken"], "sparse": True})

    assert r.status_code == 200, r.text
    assert r.json()["SalesReceipt"]["TotalAmt"] == 0 and r.json()["SalesReceipt"]["PrivateNote"] == "Voided"


def test_cancel_orders_leaves_a_payment_that_pays_other_invoices_and_says_so(sim, make_connector):
    sim.seed_documents(4, unpaid_every=1)
    first, second = sim.entities("Invoice")[:2]
    # one customer payment applied to two invoices (as a user records it in QuickBooks)
    both = sim._write("Payment", {
        "CustomerRef": first["CustomerRef"], "TotalAmt": "2.00",
        "Line": [{"Amount": "1.00", "LinkedTxn": [{"TxnId": first["Id"], "TxnType": "Invoice"}]},
                 {"Amount": "1.00", "LinkedTxn": [{"TxnId": second["Id"], "TxnType": "Invoice"}]}]}, {})
    connector = make_connector()
    write = OrderWrite(order=make_order(), idempotency_key="k", target_ref=f"Invoice-{first['Id']}")

    [result] = connector.cancel_orders([write])

    assert not result.ok and "also pays other documents" in result.error
    assert sim.get("Invoice", first["Id"]).get("PrivateNote") != "Voided"
    assert sim.get("Payment", both["Id"])["TotalAmt"] == Decimal("2.00")
