"""The connector against the simulator, over real HTTP through python-quickbooks."""

from __future__ import annotations

import json

import threading
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

from connex_core.connector import ConnectorContext, FetchQuery, OrderWrite, TrackingWrite
from connex_core.errors import AuthenticationError, DryRunWriteError
from connex_core.models import Customer, DocumentType, LineItem, OrderStatus, Shipment
from connex_core.sandbox import Fault, SteppedClock
from connex_core.testing import make_order
from connex_core.tokens import TokenStore
from connex_quickbooks.connector import QuickBooksConnector, QuickBooksSettings
from connex_quickbooks.sim.simulator import THROTTLE_XML, QuickBooksSimulator

D = Decimal


def write(connector, *orders, **options):
    return connector.write_orders([OrderWrite(order=o, idempotency_key=f"idem-{o.key}", options=options) for o in orders])


def docs(sim, entity, number=None):
    return [d for d in sim.entities(entity) if number is None or d["DocNumber"] == number]


def test_paid_order_becomes_a_sales_receipt_with_every_part(sim, make_connector):
    order = make_order(notes="leave at door", source="shipstation", source_key="ss-key-1")
    [result] = write(make_connector(), order)
    assert result.ok and not result.duplicate and result.target_id.startswith("SalesReceipt-")
    [doc] = docs(sim, "SalesReceipt")
    assert result.target_id == f"SalesReceipt-{doc['Id']}" and result.target_number == doc["DocNumber"] == "1001"
    assert D(str(doc["TotalAmt"])) == order.total == D("53.60")
    assert D(str(doc["TxnTaxDetail"]["TotalTax"])) == D("3.60")
    assert doc["TxnDate"] == "2026-09-15"  # 18:30 UTC is 11:30 in Pacific time
    shipping = [l for l in doc["Line"] if l.get("SalesItemLineDetail", {}).get("ItemRef", {}).get("value") == "SHIPPING_ITEM_ID"]
    assert [D(str(l["Amount"])) for l in shipping] == [D("5.00")]
    assert doc["BillEmail"] == {"Address": "ana@shop.test"}
    assert doc["ShipAddr"]["Line1"] == "Ana García" and doc["ShipAddr"]["City"] == "Austin"
    assert "[connex shipstation:1001]" in doc["PrivateNote"] and "ss-key-1" in doc["PrivateNote"]
    [customer] = sim.entities("Customer")
    assert customer["DisplayName"] == "Ana García" and customer["PrimaryEmailAddr"]["Address"] == "ana@shop.test"
    assert {i["Sku"] for i in sim.entities("Item") if "Sku" in i} == {"MUG-BLU", "TEE-L"}
    assert {i["Type"] for i in sim.entities("Item") if "Sku" in i} == {"NonInventory"}


def test_paid_invoice_gets_a_linked_payment_and_unpaid_does_not(sim, make_connector):
    paid = make_order(source_id="1", number="P-1")
    unpaid = make_order(source_id="2", number="U-1", paid=False, amount_paid=D("0"))
    partly = make_order(source_id="3", number="X-1", amount_paid=D("10.00"))
    results = write(make_connector(), paid, unpaid, partly, document="invoice")
    assert all(r.ok for r in results)
    by_number = {d["DocNumber"]: d for d in docs(sim, "Invoice")}
    assert by_number["P-1"]["Balance"] == 0 and by_number["U-1"]["Balance"] == by_number["U-1"]["TotalAmt"]
    # part paid (issue 14): a payment of the amount paid, the rest left open
    assert by_number["X-1"]["Balance"] == by_number["X-1"]["TotalAmt"] - D("10.00")
    payments = {p["Line"][0]["LinkedTxn"][0]["TxnId"]: p for p in sim.entities("Payment")}
    assert set(payments) == {by_number["P-1"]["Id"], by_number["X-1"]["Id"]}
    assert payments[by_number["X-1"]["Id"]]["TotalAmt"] == D("10.00")
    assert "payment" in results[0].note and "part paid" in results[2].note


def test_a_rule_choosing_the_document_type_wins(sim, make_connector):
    order = make_order(document_type=DocumentType.invoice)
    write(make_connector(), order, document="sales_receipt")
    assert len(docs(sim, "Invoice")) == 1 and not docs(sim, "SalesReceipt")


def test_duplicates_are_detected_by_doc_number(sim, make_connector):
    connector = make_connector()
    order = make_order()
    [first] = write(connector, order)
    twin = make_order(source_id="1001-split", number="1001")
    found = connector.find_orders([OrderWrite(order=twin, idempotency_key="x")])
    assert found[twin.key].target_id == first.target_id and found[twin.key].target_number == "1001"
    [again] = write(connector, twin)
    assert again.ok and again.duplicate and again.target_id == first.target_id
    assert len(docs(sim, "SalesReceipt")) == 1


def test_two_orders_with_one_doc_number_in_a_batch_post_once(sim, make_connector):
    a, b = make_order(source_id="a", number="2001"), make_order(source_id="b", number="2001")
    ra, rb = write(make_connector(), a, b)
    assert ra.ok and not ra.duplicate
    assert rb.duplicate and rb.target_id == ra.target_id
    assert len(docs(sim, "SalesReceipt", "2001")) == 1


def test_long_order_numbers_are_shortened_deterministically(sim, make_connector):
    number = "AMZ-114-5551234-8812345-X"
    [result] = write(make_connector(), make_order(number=number))
    assert len(result.target_number) == 21 and result.target_number.startswith("AMZ-114-5551")
    [doc] = docs(sim, "SalesReceipt")
    assert f"full order number: {number}" in doc["PrivateNote"]
    [again] = write(make_connector(), make_order(source_id="other", number=number))
    assert again.duplicate, "the same long number maps to the same DocNumber"


@pytest.mark.parametrize("match, expect_new", [("email", False), ("display_name", True), ("company", False)])
def test_customer_matching(sim, make_connector, match, expect_new):
    sim.seed_documents(1)  # "Seed Customer 00", customer00@example.org
    existing = sim.entities("Customer")[0]
    existing["CompanyName"] = "Acme Co"
    order = make_order(customer=Customer(name="A. Buyer", email="customer00@example.org", company="Acme Co"))
    write(make_connector(), order, customer_match=match)
    [doc] = docs(sim, "SalesReceipt", "1001")
    assert (doc["CustomerRef"]["value"] != existing["Id"]) is expect_new


def test_fixed_customer_and_create_customers_off(sim, make_connector):
    connector = make_connector()
    [ok] = write(connector, make_order(), customer_match="fixed", fixed_customer="Web Store")
    assert ok.ok and docs(sim, "SalesReceipt")[0]["CustomerRef"]["name"] == "Web Store"
    [refused] = write(connector, make_order(source_id="2", number="2", customer=Customer(name="Nobody", email="n@x.test")),
                      create_customers=False)
    assert not refused.ok and "'n@x.test' not found" in refused.error


@pytest.mark.parametrize("match, expected", [
    ("display_name", "Seed Customer 00"),                             # the customer of that name
    ("email", "Seed Customer 00 (someone-else@example.org)"),          # another person: a new customer
])
def test_a_name_already_taken(sim, make_connector, match, expected):
    sim.seed_documents(1)
    order = make_order(customer=Customer(name="Seed Customer 00", email="someone-else@example.org"))
    [result] = write(make_connector(), order, customer_match=match)
    assert result.ok, result.error
    assert docs(sim, "SalesReceipt", "1001")[0]["CustomerRef"]["name"] == expected


def test_unknown_items_flag_the_order_and_the_others_go_on(sim, make_connector):
    sim.seed_documents(1)  # items SEED-000..SEED-007
    known = make_order(source_id="k", number="K-1", lines=[LineItem(sku="SEED-001", name="x", quantity=D(1), unit_price=D("8"))])
    unknown = make_order(source_id="u", number="U-1")
    ok, flagged = write(make_connector(), known, unknown, unknown_items="flag")
    assert ok.ok and not flagged.ok
    assert "'MUG-BLU'" in flagged.error and "map it" in flagged.error
    assert docs(sim, "SalesReceipt", "K-1") and not docs(sim, "SalesReceipt", "U-1")
    assert not [i for i in sim.entities("Item") if i.get("Sku") == "MUG-BLU"]


def test_created_items_are_services_when_asked_never_inventory(sim, make_connector):
    write(make_connector(), make_order(), unknown_items="create_service", item_match="name")
    created = [i for i in sim.entities("Item") if i["Name"] in ("Blue mug", "T-shirt, large")]
    assert [i["Type"] for i in created] == ["Service", "Service"]
    assert not any(i["Type"] == "Inventory" for i in sim.entities("Item"))


def test_shipping_item_when_the_company_does_not_allow_shipping(sim, make_connector):
    sim.preferences["SalesFormsPrefs"]["AllowShipping"] = False
    [result] = write(make_connector(), make_order(), shipping_item="Freight")
    assert result.ok, result.error
    [freight] = [i for i in sim.entities("Item") if i["Name"] == "Freight"]
    assert freight["Type"] == "Service"
    lines = docs(sim, "SalesReceipt")[0]["Line"]
    assert any(l.get("SalesItemLineDetail", {}).get("ItemRef", {}).get("value") == freight["Id"] for l in lines)


def test_a_rule_choosing_the_shipping_item_wins_over_built_in_shipping(sim, make_connector):
    chosen = make_order(source_id="s1", number="SH-1", shipping_item="Freight & Handling")
    default = make_order(source_id="s2", number="SH-2")
    assert all(r.ok for r in write(make_connector(), chosen, default))
    [freight] = [i for i in sim.entities("Item") if i["Name"] == "Freight & Handling"]

    def shipping_refs(number):
        [doc] = docs(sim, "SalesReceipt", number)
        return [l["SalesItemLineDetail"]["ItemRef"]["value"] for l in doc["Line"]
                if D(str(l.get("Amount", 0))) == D("5.00") and "SalesItemLineDetail" in l]

    assert shipping_refs("SH-1") == [freight["Id"]]
    assert shipping_refs("SH-2") == ["SHIPPING_ITEM_ID"]


def test_discount_and_adjustment_lines(sim, make_connector):
    lines = [LineItem(sku="MUG-BLU", name="Blue mug", quantity=D(2), unit_price=D("12.50")),
             LineItem(name="Coupon SAVE5", quantity=D(1), unit_price=D("-5.00"), adjustment=True)]
    order = make_order(lines=lines, shipping=D("0"), tax=D("0"), total=D("20.00"))
    write(make_connector(), order)
    doc = docs(sim, "SalesReceipt")[0]
    [discount] = [l for l in doc["Line"] if l["DetailType"] == "DiscountLineDetail"]
    assert D(str(discount["Amount"])) == D("5.00") and D(str(doc["TotalAmt"])) == D("20.00")


def test_hints_set_by_rules_become_refs(sim, make_connector):
    order = make_order(class_name="AZ", location="Warehouse", deposit_account="Checking", payment_method="PayPal")
    bad = make_order(source_id="2", number="2", class_name="Nope")
    ok, failed = write(make_connector(), order, bad)
    doc = docs(sim, "SalesReceipt", "1001")[0]
    assert doc["ClassRef"]["name"] == "AZ" and doc["DepartmentRef"]["name"] == "Warehouse"
    assert doc["DepositToAccountRef"]["name"] == "Checking" and doc["PaymentMethodRef"]["name"] == "PayPal"
    assert not failed.ok and "class 'Nope' not found" in failed.error


def test_shipped_order_carries_tracking(sim, make_connector):
    order = make_order(status=OrderStatus.shipped, shipment=Shipment(tracking_number="9400100000000000000000",
                                                                     ship_date=date(2026, 9, 16), carrier="usps",
                                                                     service="USPS Priority Mail"))
    write(make_connector(), order)
    doc = docs(sim, "SalesReceipt")[0]
    assert (doc["TrackingNum"], doc["ShipDate"], doc["ShipMethodRef"]["value"]) == (
        "9400100000000000000000", "2026-09-16", "USPS Priority Mail")


def test_daily_summary_posts_once_per_day(sim, make_connector):
    start = datetime(2026, 9, 15, 0, 0, tzinfo=timezone(timedelta(hours=-7)))
    summary = make_order(source="summary", source_id="daily:2026-09-15", number="DS-20260915", customer=Customer(),
                         created_at=start, order_date=start, timezone="America/Los_Angeles",
                         memo="Daily summary of 2026-09-15: 2 orders: 1001, 1002")
    connector = make_connector()
    [first] = write(connector, summary, fixed_customer="Daily Sales")
    assert first.ok and first.target_number == "DS-20260915"
    doc = docs(sim, "SalesReceipt")[0]
    assert doc["CustomerRef"]["name"] == "Daily Sales" and doc["TxnDate"] == "2026-09-15"
    assert doc["PrivateNote"].startswith("Daily summary of 2026-09-15: 2 orders: 1001, 1002")
    [again] = write(connector, summary, fixed_customer="Daily Sales")
    assert again.duplicate and len(sim.entities("SalesReceipt")) == 1


def test_thirty_orders_in_five_calls(sim, make_connector):
    connector = make_connector()
    connector.company  # country, preferences and tax codes: read once per connector
    before = sim.total_calls
    orders = [make_order(source_id=str(i), number=f"B-{i}", customer=Customer(name=f"Buyer {i}", email=f"b{i}@x.test"))
              for i in range(30)]
    results = write(connector, *orders, document="invoice")
    assert all(r.ok for r in results) and len(docs(sim, "Invoice")) == 30 and len(sim.entities("Payment")) == 30
    # look-ups; 30 customers + 2 items (two batches of at most 30); invoices; payments
    assert sim.total_calls - before == 5


class LoseWriteAnswers(Fault):
    """Commit a write batch, then drop its answer (only batches that carry a requestid, i.e. writes)."""

    def matches(self, request):
        return super().matches(request) and request.arg("requestid") is not None


def test_a_lost_answer_is_replayed_not_posted_twice(sim, make_connector):
    connector = make_connector()
    write(connector, make_order(source_id="warm", number="W-1"))  # its customer and items now exist
    sim.faults.add(LoseWriteAnswers(kind="lost_response", methods=("POST",), path="/batch$", times=1))
    [result] = write(connector, make_order(source_id="lost", number="L-1"))
    assert result.ok and result.target_number == "L-1"
    assert sim.faults.injected["lost_response"] == 1 and sim.replays == 1
    assert len(docs(sim, "SalesReceipt", "L-1")) == 1


def test_throttle_is_waited_out(sim, make_connector, clock):
    connector = make_connector()
    sim.faults.add(Fault(kind="error", status=429, body=THROTTLE_XML.format(time="t").encode(),
                         headers={"Content-Type": "application/xml"}, path="/batch$", times=1))
    before = clock.now()
    [result] = write(connector, make_order())
    assert result.ok and sim.faults.injected["error"] == 1
    assert clock.now() - before >= 60


def test_expired_access_token_is_refreshed_and_the_rotation_saved(sim, make_connector, clock, tmp_path):
    connector = make_connector()
    connector.check()
    first = connector.tokens.store.load()
    clock.advance(3601)
    connector.check()
    within_the_day = connector.tokens.store.load()  # Intuit rotates a refresh token about once a day
    assert within_the_day["refresh_token"] == first["refresh_token"]
    assert within_the_day["access_token"] != first["access_token"]
    clock.advance(86400)
    connector.check()
    second = connector.tokens.store.load()
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert connector.tokens.store.load()["realm_id"] == sim.realm_id
    cfg = sim.client_config()
    stale = requests.post(cfg["token_url"], auth=(cfg["client_id"], cfg["client_secret"]), timeout=5,
                          data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert stale.json() == {"error": "invalid_grant"}, "the superseded refresh token is dead: it had to be saved"


def test_a_token_the_api_refuses_is_refreshed_once(sim, make_connector):
    connector = make_connector()
    connector.check()
    refreshes = sim.calls["POST /oauth2/v1/tokens/bearer"]
    sim.expire_tokens()  # the server says 401 although our copy has not expired
    assert connector.check().startswith("connected to")
    assert sim.calls["POST /oauth2/v1/tokens/bearer"] == refreshes + 1


def test_bad_refresh_token_says_reconnect(make_connector):
    with pytest.raises(AuthenticationError, match="reconnect with `connex connect quickbooks`"):
        make_connector(bad_credentials=True).check()


def test_dry_run_never_writes_tracking(make_connector):
    with pytest.raises(DryRunWriteError):
        make_connector(dry_run=True).write_tracking([])


# -- QuickBooks as a source -------------------------------------------------------------------------

def test_fetch_filters_by_class_and_leaves_out_tracked_documents(sim, make_connector):
    sim.seed_documents(12, class_every=3, class_name="Web", tracked_every=4, unpaid_every=2)
    orders = list(make_connector().fetch_orders(FetchQuery(options={"class": "web", "page_size": 5})))
    expected = [d for t in ("Invoice", "SalesReceipt") for d in sim.entities(t)
                if d.get("ClassRef", {}).get("name") == "Web" and not d.get("TrackingNum")]
    assert sorted(o.number for o in orders) == sorted(d["DocNumber"] for d in expected) == ["QB-00004", "QB-00007", "QB-00010"]
    assert all(o.class_name == "Web" and o.shipment is None for o in orders)
    unpaid = [o for o in orders if o.source_id.startswith("Invoice-") and not o.paid]
    assert unpaid and all(o.status == OrderStatus.open and o.amount_paid == 0 for o in unpaid)
    assert all(l.sku and l.sku.startswith("SEED-") for o in orders for l in o.lines)
    assert all(o.shipping == D("7.50") and o.tax == D("1.25") for o in orders)


def test_fetch_reads_what_changed_since_the_cursor(sim, make_connector, clock):
    sim.seed_documents(4)
    clock.advance(3600)
    cursor = sim._now()
    clock.advance(10)
    changed = sim.entities("SalesReceipt")[0]
    connector = make_connector()
    sim._update("SalesReceipt", {"Id": changed["Id"], "SyncToken": changed["SyncToken"], "sparse": True, "PrivateNote": "edited"})
    orders = list(connector.fetch_orders(FetchQuery(modified_since=cursor)))
    assert [o.source_id for o in orders] == [f"SalesReceipt-{changed['Id']}"]


def test_documents_made_from_another_source_carry_their_origin(sim, make_connector):
    connector = make_connector()
    write(connector, make_order(source="shipstation", source_id="777"))
    [order] = list(connector.fetch_orders(FetchQuery()))
    assert order.origin == "shipstation:777"


# -- tracking back --------------------------------------------------------------------------------

def shipment(n="1Z999"):
    return Shipment(source="shipstation", source_id=f"s-{n}", tracking_number=n, ship_date=date(2026, 9, 16),
                    carrier="ups", service="UPS Ground")


def test_tracking_is_written_by_sparse_update(sim, make_connector):
    sim.seed_documents(2, unpaid_every=1)
    invoice = sim.entities("Invoice")[0]
    connector = make_connector()
    ref = f"Invoice-{invoice['Id']}"
    [result] = connector.write_tracking([TrackingWrite(shipment=shipment(), target_ref=ref, idempotency_key="t1")])
    assert result.ok and result.target_id == ref
    doc = sim.get("Invoice", invoice["Id"])
    assert (doc["TrackingNum"], doc["ShipDate"], doc["ShipMethodRef"]["value"]) == ("1Z999", "2026-09-16", "UPS Ground")
    assert doc["Line"] == invoice["Line"], "a sparse update keeps the lines"
    write_again = TrackingWrite(shipment=shipment(), target_ref=ref, idempotency_key="t1")
    assert connector.find_tracking([write_again])[write_again.key].target_id == ref
    [again] = connector.write_tracking([write_again])
    assert again.duplicate


class RacySimulator(QuickBooksSimulator):
    """Another user edits each document just before the first update batch lands (5010 for us)."""

    raced = 0

    def _batch(self, body, with_request_id):
        items = body.get("BatchItemRequest") or []
        if not self.raced and any(i.get("operation") == "update" for i in items):
            self.raced += 1
            for item in items:
                doc = item.get("Invoice") or item.get("SalesReceipt")
                entity = "Invoice" if "Invoice" in item else "SalesReceipt"
                current = self.get(entity, doc["Id"])
                self._update(entity, {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True,
                                      "PrivateNote": "edited by someone else"})
        return super()._batch(body, with_request_id)


def test_stale_sync_token_is_reread_and_retried(mount, clock, make_connector):
    racy = mount(RacySimulator(clock=clock))
    racy.seed_documents(2, unpaid_every=1)
    receipt = racy.entities("SalesReceipt")[0]
    [result] = make_connector().write_tracking([TrackingWrite(shipment=shipment("1Z5010"), target_ref=f"SalesReceipt-{receipt['Id']}",
                                                              idempotency_key="t")])
    assert racy.raced == 1 and result.ok
    doc = racy.get("SalesReceipt", receipt["Id"])
    assert doc["TrackingNum"] == "1Z5010" and doc["PrivateNote"] == "edited by someone else"


def test_tracking_errors_are_per_write(sim, make_connector):
    sim.seed_documents(2)
    receipt = sim.entities("SalesReceipt")[0]
    voided = shipment("1ZVOID").model_copy(update={"voided": True})
    writes = [TrackingWrite(shipment=shipment(), target_ref="Estimate-1", idempotency_key="a"),
              TrackingWrite(shipment=voided, target_ref=f"SalesReceipt-{receipt['Id']}", idempotency_key="b"),
              TrackingWrite(shipment=shipment("1ZGONE"), target_ref="Invoice-9999", idempotency_key="c"),
              TrackingWrite(shipment=shipment("1ZOK"), target_ref=f"SalesReceipt-{receipt['Id']}", idempotency_key="d")]
    results = make_connector().write_tracking(writes)
    assert [r.ok for r in results] == [False, False, False, True]
    assert "not a QuickBooks document" in results[0].error and "voided" in results[1].error
    assert "not found" in results[2].error


# -- connex connect ---------------------------------------------------------------------------------

def test_connect_runs_the_authorization_code_flow_on_loopback(sim, make_connector):
    connector = make_connector(refresh_token=None, realm_id="")
    printed = []

    def browser(text: str) -> None:
        printed.append(text)
        url = text.splitlines()[-1]
        threading.Thread(target=lambda: requests.get(url, timeout=5), daemon=True).start()

    description = connector.connect(port=0, echo=browser)
    assert description == f"connected to {sim.company_name} (realm {sim.realm_id})"
    assert printed and "response_type=code" in printed[0] and "redirect_uri=http%3A%2F%2Flocalhost" in printed[0]
    stored = connector.tokens.store.load()
    assert stored["realm_id"] == sim.realm_id and stored["refresh_token"] and stored["access_token"]


def test_an_item_named_like_the_sku_is_reused_on_a_name_clash(sim, make_connector):
    sim._create("Item", {"Name": "MUG-BLU", "Type": "Service", "IncomeAccountRef": {"value": "1"}}, {})
    [mug] = [i for i in sim.entities("Item") if i["Name"] == "MUG-BLU"]
    [result] = write(make_connector(), make_order(), item_match="sku")
    assert result.ok, result.error
    item_refs = [l["SalesItemLineDetail"]["ItemRef"]["value"] for l in docs(sim, "SalesReceipt")[0]["Line"]
                 if l["DetailType"] == "SalesItemLineDetail"]
    assert mug["Id"] in item_refs
    assert len([i for i in sim.entities("Item") if i["Name"] == "MUG-BLU"]) == 1


def test_two_processes_refreshing_at_once_spend_the_refresh_token_once(sim, make_connector, clock):
    """Two connectors on one token store (two processes): the lock lets one refresh; the other reuses it."""
    first, second = make_connector(), make_connector()
    first.check()
    clock.advance(3601)
    refreshes = sim.calls["POST /oauth2/v1/tokens/bearer"]
    errors: list[Exception] = []

    def run(connector):
        try:
            connector.check()
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert sim.calls["POST /oauth2/v1/tokens/bearer"] == refreshes + 1


def test_a_flagged_order_creates_nothing(sim, make_connector):
    order = make_order(customer=Customer(name="New Person", email="new@x.test"))
    [result] = write(make_connector(), order, unknown_items="flag")
    assert not result.ok
    assert not sim.entities("Customer") and not [i for i in sim.entities("Item") if i.get("Sku")]


def test_the_twin_of_a_failed_order_is_not_marked_done(sim, make_connector):
    a = make_order(source_id="a", number="3001", class_name="Nope")
    b = make_order(source_id="b", number="3001")
    ra, rb = write(make_connector(), a, b)
    assert not ra.ok and not rb.ok and rb.retriable and "same DocNumber" in rb.error


def test_a_refused_order_fixed_by_the_user_is_not_refused_again_by_replay(sim, make_connector):
    """QuickBooks replays the first answer to a requestid, Faults included: a refused write moves to a new id."""
    connector = make_connector()
    write(connector, make_order(source_id="warm", number="W-1"))
    mug = next(i for i in sim.entities("Item") if i.get("Sku") == "MUG-BLU")
    mug["Active"] = False
    order = make_order(source_id="x", number="X-1")
    [refused] = write(connector, order)
    assert not refused.ok and "610" in refused.error
    mug["Active"] = True  # the user reactivates the item; the engine retries the same write
    [posted] = write(make_connector(), order)  # a new process: the refusal was remembered on disk
    assert posted.ok, posted.error
    assert sim.replays == 0


def test_without_custom_numbers_quickbooks_numbers_and_requestid_guards(sim, make_connector):
    sim.preferences["SalesFormsPrefs"]["CustomTxnNumbers"] = False
    sim.seed_documents(1)  # its own "QB-00001"
    order = make_order(number="QB-00001")
    connector = make_connector()
    assert connector.find_orders([OrderWrite(order=order, idempotency_key="k")]) == {}, "a DocNumber proves nothing"
    [first] = write(connector, order)
    assert first.ok and not first.duplicate and first.target_number != "QB-00001"
    [again] = write(make_connector(), order)  # the same write again: QuickBooks replays it
    assert again.target_id == first.target_id and sim.replays == 1
    assert len(sim.entities("SalesReceipt")) == 2


# -- webhooks (connex serve) ------------------------------------------------------------------------

def test_a_signed_webhook_brings_the_documents_it_names(sim, make_connector):
    sim.seed_documents(4)
    invoice, receipt = sim.entities("Invoice")[0], sim.entities("SalesReceipt")[0]
    headers, body = sim.webhook([("Invoice", invoice["Id"], "Create"), ("SalesReceipt", receipt["Id"], "Update"),
                                 ("Customer", "1", "Update"), ("Invoice", "999", "Delete")])
    event = make_connector().handle_webhook(headers, body, None)
    assert event.kind == "documents"
    assert sorted(o.source_id for o in event.orders) == sorted([f"Invoice-{invoice['Id']}", f"SalesReceipt-{receipt['Id']}"])
    assert all(l.sku for o in event.orders for l in o.lines)


def test_a_webhook_that_does_not_verify_is_refused(sim, make_connector):
    from connex_core.errors import WebhookRejected

    headers, body = sim.webhook([("Invoice", "1", "Create")], token="not-the-verifier")
    with pytest.raises(WebhookRejected):
        make_connector().handle_webhook(headers, body, None)
    headers, body = sim.webhook([("Invoice", "1", "Create")])
    with pytest.raises(WebhookRejected):
        make_connector().handle_webhook(headers, body.replace(b'"1"', b'"2"'), None)  # tampered after signing


def test_cloudevents_and_legacy_deliveries_name_the_same_documents(sim, make_connector):
    """Intuit's format since 2026 (a JSON array of CloudEvents, application/cloudevents+json) and the legacy
    eventNotifications body are both read (shared/reference/api-changes-2025-2026.md section 1)."""
    sim.seed_documents(3)
    refs = [("Invoice", d["Id"], "Create") for d in sim.entities("Invoice")]
    new_headers, new_body = sim.webhook(refs)
    old_headers, old_body = sim.webhook(refs, legacy=True)
    assert new_headers["content-type"] == "application/cloudevents+json" and new_body.startswith(b"[")
    assert b"eventNotifications" in old_body
    connector = make_connector()
    numbers = lambda h, b: sorted(o.number for o in connector.handle_webhook(h, b, None).orders)  # noqa: E731
    assert numbers(new_headers, new_body) == numbers(old_headers, old_body) == sorted(d["DocNumber"] for d in
                                                                                    sim.entities("Invoice"))


def test_a_delivery_mixing_companies_brings_only_this_companys_documents(sim, make_connector):
    from connex_quickbooks.webhooks import changed_documents

    sim.seed_documents(4)
    mine = sim.entities("Invoice")[0]
    _, other = sim.webhook([("Invoice", "77", "Create")], realm_id="4620816365000000001")
    _, own = sim.webhook([("Invoice", mine["Id"], "Update")])
    mixed = json.dumps(json.loads(other) + json.loads(own)).encode()
    assert changed_documents(mixed, sim.realm_id) == [("Invoice", mine["Id"])]
    assert changed_documents(mixed, "4620816365000000001") == [("Invoice", "77")]


def test_an_unreadable_event_is_passed_over_and_the_rest_read(sim, make_connector):
    """One element Connex cannot read never spoils the delivery (Intuit's best practices); a body that is
    neither format is refused."""
    from connex_core.errors import WebhookRejected
    from connex_quickbooks.webhooks import changed_documents

    sim.seed_documents(1)
    doc = (sim.entities("Invoice") or sim.entities("SalesReceipt"))[0]
    entity = "Invoice" if sim.entities("Invoice") else "SalesReceipt"
    _, good = sim.webhook([(entity, doc["Id"], "Create")])
    broken = [1, "x", None, {"type": 5}, {"type": "qbo.invoice"}, {"type": "qbo.invoice.created.v1"},
              {"type": "qbo.invoice.created.v1", "intuitentityid": {"a": 1}, "intuitaccountid": sim.realm_id}]
    assert changed_documents(json.dumps(broken + json.loads(good)).encode(), sim.realm_id) == [(entity, doc["Id"])]
    for body in (b"not json", b"5", b'"x"', b'{"eventNotifications": 3}', b'{"events": "x"}'):
        with pytest.raises(WebhookRejected):
            changed_documents(body, sim.realm_id)
    assert changed_documents(b'{"eventNotifications": [1, {"dataChangeEvent": 3}]}', sim.realm_id) == []


def test_a_webhook_without_documents_carries_no_orders(sim, make_connector):
    headers, body = sim.webhook([("Customer", "1", "Create"), ("Invoice", "5", "Delete")])
    event = make_connector().handle_webhook(headers, body, None)
    assert event.orders == []


def test_webhook_orders_pass_the_same_source_filters(sim, make_connector):
    sim.seed_documents(6, class_every=2, tracked_every=5)
    connector = make_connector()
    headers, body = sim.webhook([(t, d["Id"], "Create") for t in ("Invoice", "SalesReceipt") for d in sim.entities(t)])
    orders = connector.handle_webhook(headers, body, None).orders
    query = FetchQuery(options={"class": "Web"})
    accepted = sorted(o.number for o in orders if connector.accepts(o, query))
    listed = sorted(o.number for o in connector.fetch_orders(query))
    assert accepted == listed and 0 < len(accepted) < len(orders)


def test_api_budgets_show_this_minutes_pacing_without_a_call(sim, tmp_path):
    clock = SteppedClock()  # time stands still: at x1000 the minute's calls would age out in 60 real ms
    connector = QuickBooksConnector(QuickBooksSettings(type="quickbooks", **sim.client_config()), ConnectorContext(
        connection="quickbooks", state_dir=tmp_path, tokens=TokenStore(tmp_path, "quickbooks"), options={"clock": clock}))
    [fresh] = connector.api_budgets()
    assert (fresh.per, fresh.limit, fresh.remaining) == ("minute", 500, 500)
    write(connector, make_order(number="B-1"))
    made = sum(n for call, n in sim.calls.items() if call.startswith(("GET /v3", "POST /v3")))
    before = dict(sim.calls)
    [minute] = connector.api_budgets()
    assert minute.remaining == 500 - made  # the calls of the last minute (sim time) are counted
    assert dict(sim.calls) == before  # asking made no call
    clock.advance(62)
    assert connector.api_budgets()[0].remaining == 500  # a minute later the budget is whole again
