"""The ShipStation flows on ShipStation's API v2 (the sandbox's ``shipstation-v2`` connection and the
``*-v2`` tasks that ``connex sandbox --write-config`` writes beside the v1 ones), asserted on the books."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from tests.e2e.helpers import doc_counts, money


def v2(sandbox):
    return sandbox.server.services["shipstation-v2"]


def sale(number: str, items: list[tuple[str, str, int, str]], *, shipping: str = "5.00", tax: str = "0.00",
         paid: bool = True, email: str | None = None) -> dict:
    """A v2 shipment as an order source imports it (money objects, ship-to only)."""
    goods = sum(Decimal(p) * q for _, _, q, p in items)
    total = goods + Decimal(shipping) + Decimal(tax)
    return {"shipment_number": number, "warehouse_id": "se-1001", "store_id": "se-2101", "order_source_code": "shopify",
            "items": [{"sku": s, "name": n, "quantity": q, "unit_price": float(p), "sales_order_id": f"so-{number}"}
                      for s, n, q, p in items],
            "ship_to": {"name": f"Buyer {number}", "phone": "555-0100", "email": email or f"b{number}@shop.test",
                        "address_line1": "1 Main St", "city_locality": "Austin", "state_province": "TX",
                        "postal_code": "78701", "country_code": "US"},
            "amount_paid": {"currency": "usd", "amount": float(total if paid else 0)},
            "shipping_paid": {"currency": "usd", "amount": float(shipping)},
            "tax_paid": {"currency": "usd", "amount": float(tax)}}


def utc(y, m, d, hh, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=timezone.utc)


def test_v2_shipments_become_quickbooks_invoices_once_with_their_totals_and_tracking(sandbox):
    sim, qb = v2(sandbox), sandbox.quickbooks
    # 05:30 UTC on the 17th is 22:30 Pacific on the 16th: the invoice is dated the 16th (the connection's zone).
    a = sim.add_shipment(sale("V2-7001", [("MUG-BLU", "Blue mug", 2, "12.50")], tax="2.06"), created=utc(2026, 9, 17, 5, 30))
    b = sim.add_shipment(sale("V2-7002", [("TEE-L", "T-shirt", 1, "22.00"), ("", "Coupon", 1, "-4.00")], shipping="0.00"),
                         created=utc(2026, 9, 17, 18))
    c = sim.add_shipment(sale("V2-7003", [("CAP", "Cap", 1, "15.00")]), created=utc(2026, 9, 18, 18))  # not shipped
    sim.buy_label(a["shipment_id"], "ups", "1ZV2A", date(2026, 9, 18), "7.10", at=utc(2026, 9, 18, 16))
    sim.buy_label(b["shipment_id"], "usps", "9400V2B", date(2026, 9, 19), "4.20", at=utc(2026, 9, 19, 16))
    sandbox.write()

    first = sandbox.run("shipstation-v2-to-quickbooks")

    assert first.counts["created"] == 2 and first.counts["failed"] == first.counts["held"] == 0
    invoices = {d["DocNumber"]: d for d in qb.entities("Invoice") + qb.entities("SalesReceipt")}
    assert sorted(invoices) == ["V2-7001", "V2-7002"]  # every shipped sale once, the open one not yet
    assert money(invoices["V2-7001"]["TotalAmt"]) == Decimal("25.00") + Decimal("5.00") + Decimal("2.06")
    assert money(invoices["V2-7002"]["TotalAmt"]) == Decimal("22.00") - Decimal("4.00")
    assert invoices["V2-7001"]["TxnDate"] == "2026-09-16"
    assert (invoices["V2-7001"]["TrackingNum"], invoices["V2-7001"]["ShipDate"]) == ("1ZV2A", "2026-09-18")
    assert c["shipment_number"] not in invoices

    counts = doc_counts(sandbox)
    again = sandbox.run("shipstation-v2-to-quickbooks")
    assert again.counts.get("created", 0) == 0 and doc_counts(sandbox) == counts


def test_v2_shipments_become_xero_invoices_once(sandbox):
    sim, xero = v2(sandbox), sandbox.xero
    a = sim.add_shipment(sale("V2-8101", [("TEE-L", "T-shirt", 2, "22.00")], email="zoe@shop.test"),
                         created=utc(2026, 9, 17, 18))
    b = sim.add_shipment(sale("V2-8102", [("MUG-BLU", "Blue mug", 1, "12.50")], paid=False, shipping="0.00"),
                         created=utc(2026, 9, 18, 18))
    sandbox.write()

    out = sandbox.run("shipstation-v2-to-xero")

    assert out.counts["created"] == 2
    by_number = {i["InvoiceNumber"]: i for i in xero.invoices.values()}
    assert money(by_number["V2-8101"]["Total"]) == Decimal("49.00")
    assert money(by_number["V2-8102"]["Total"]) == Decimal("12.50")
    # no bill-to in v2: the ship-to person is the customer
    assert xero.contacts[by_number["V2-8101"]["ContactID"]]["Name"] == "Buyer V2-8101"
    assert any(line.get("ItemCode") == "TEE-L" and money(line["Quantity"]) == 2
               for line in by_number["V2-8101"]["LineItems"])
    assert a["shipment_id"] != b["shipment_id"]
    counts = doc_counts(sandbox)
    assert sandbox.run("shipstation-v2-to-xero").counts.get("created", 0) == 0 and doc_counts(sandbox) == counts


def test_quickbooks_documents_become_v2_shipments_a_resync_keeps_warehouse_edits_and_tracking_comes_back(sandbox):
    qb, sim = sandbox.quickbooks, v2(sandbox)
    docs = qb.seed_documents(6, unpaid_every=2, class_every=0)
    sandbox.write()

    created = sandbox.run("quickbooks-to-shipstation-v2")

    assert created.counts["created"] == 6
    by_key = {s["external_shipment_id"]: s for s in sim.shipments.values()}
    for doc in docs:
        entity = "Invoice" if "DueDate" in doc else "SalesReceipt"
        current = qb.get(entity, doc["Id"])
        shipment = by_key[f"connex:quickbooks:{entity}-{doc['Id']}"]  # the idempotency key
        assert shipment["shipment_number"] == doc["DocNumber"]
        goods = sum(Decimal(str(i["unit_price"])) * i["quantity"] for i in shipment["items"])
        total = goods + money(shipment["shipping_paid"]["amount"]) + money(shipment["tax_paid"]["amount"])
        assert total == money(current["TotalAmt"]), doc["DocNumber"]
        unpaid = entity == "Invoice" and money(current["Balance"]) > 0
        assert shipment["shipment_status"] == ("on_hold" if unpaid else "pending"), doc["DocNumber"]

    # The warehouse works on one shipment; then the customer pays its invoice and the flow runs again.
    [held] = [s for s in sim.shipments.values() if s["shipment_status"] == "on_hold"][:1]
    sim.warehouse_edit(held["shipment_id"], service_code="ups_ground",
                       ship_to=dict(held["ship_to"], address_line2="Suite 200 (warehouse fix)"))
    invoice_id = held["external_shipment_id"].rsplit("-", 1)[-1]
    sandbox.clock.advance(600)
    qb.pay(invoice_id)
    again = sandbox.run("quickbooks-to-shipstation-v2")

    assert again.counts["updated"] == 1 and again.counts["created"] == 0
    now = sim.shipments[held["shipment_id"]]
    assert now["shipment_status"] == "pending" and now["service_code"] == "ups_ground"
    assert now["ship_to"]["address_line2"] == "Suite 200 (warehouse fix)"
    assert money(now["amount_paid"]["amount"]) == money(qb.get("Invoice", invoice_id)["TotalAmt"])
    assert len(sim.shipments) == 6

    # Labels bought: tracking and ship date back onto every QuickBooks document.
    sim.simulate_activity()
    tracked = sandbox.run("tracking-to-quickbooks-v2")
    assert tracked.counts["updated"] == 6
    for label in sim.labels:
        entity, ident = label["external_shipment_id"].removeprefix("connex:quickbooks:").split("-")
        assert qb.get(entity, ident)["TrackingNum"] == label["tracking_number"]
    counts = doc_counts(sandbox)
    assert sandbox.run("tracking-to-quickbooks-v2").counts.get("updated", 0) == 0
    echo = sandbox.run("shipstation-v2-to-quickbooks")
    assert echo.counts.get("created", 0) == 0 and echo.counts["skipped"] == 6
    assert doc_counts(sandbox) == counts


def test_xero_invoices_become_v2_shipments_and_cost_comes_back(sandbox):
    from tests.e2e.helpers import POBOX, STREET, add_invoice

    xero, sim = sandbox.xero, v2(sandbox)
    with xero.lock:
        contact = xero.books.create_contact({"Name": "Rose City Tea Co", "EmailAddress": "orders@rosecity.test",
                                             "Addresses": [POBOX, STREET]}).record
    flagged = add_invoice(xero, "INV-9301", "ShipStation", contact["ContactID"])
    sandbox.write()
    assert sandbox.run("xero-to-shipstation-v2").counts["created"] == 1
    [shipment] = sim.shipments.values()
    assert shipment["external_shipment_id"] == f"connex:xero:{flagged['InvoiceID']}"
    assert shipment["ship_to"]["address_line1"] == "1200 NW Naito Pkwy"

    sim.buy_label(shipment["shipment_id"], "ups", "1ZV2X", date(2026, 9, 19), "8.40", insurance="0.60")
    tracked = sandbox.run("tracking-to-xero-v2")
    assert tracked.counts["updated"] == 1
    invoice = xero.invoices[flagged["InvoiceID"]]
    [cost_line] = [line for line in invoice["LineItems"] if line["AccountCode"] == "260"]
    assert money(cost_line["LineAmount"]) == Decimal("9.00")  # postage + insurance
    assert money(invoice["Total"]) == Decimal("34.00")


def test_v2_daily_summaries_count_days_in_the_tasks_zone_pacific_by_default_from_created_at(sandbox):
    sim = v2(sandbox)
    # 06:30 UTC on the 16th is 23:30 Pacific on the 15th; 16:00 UTC on the 16th is 09:00 Pacific on the 16th.
    sim.add_shipment(sale("V2-9001", [("MUG-BLU", "Blue mug", 2, "12.50")]), created=utc(2026, 9, 16, 6, 30))
    sim.add_shipment(sale("V2-9002", [("CAP-01", "Cap", 1, "18.95")]), created=utc(2026, 9, 16, 16))
    sandbox.write()

    created = sandbox.run("daily-summary-v2")

    books = sandbox.summary_books
    docs = {d["DocNumber"]: d for d in books.entities("SalesReceipt") + books.entities("Invoice")}
    assert set(docs) == {"DS-20260915", "DS-20260916"} and created.counts["created"] == 2
    assert "V2-9001" in docs["DS-20260915"]["PrivateNote"] and "V2-9002" in docs["DS-20260916"]["PrivateNote"]
    assert money(docs["DS-20260915"]["TotalAmt"]) == Decimal("30.00")
    assert money(docs["DS-20260916"]["TotalAmt"]) == Decimal("23.95")
    counts = doc_counts(sandbox)
    assert sandbox.run("daily-summary-v2").counts.get("created", 0) == 0 and doc_counts(sandbox) == counts


def test_connect_says_which_api_the_credentials_belong_to(sandbox, connex):
    from connex_core.sandbox import Fault

    path = sandbox.write()
    v1 = connex("connect", "shipstation", "--config", path)
    assert "API v1 (legacy)" in v1.stdout and "Gold" in v1.stdout
    v2_out = connex("connect", "shipstation", "--config", path, "--connection", "shipstation-v2")
    assert "API v2" in v2_out.stdout and "warehouse" in v2_out.stdout
    assert v2(sandbox).total_calls == 1  # one cheap call

    # A v2 key written into a v1 connection: told to set api = "v2".
    text = path.read_text()
    v2_key = (path.parent / "connex.secrets" / "shipstation-v2.api_key").read_text()
    (path.parent / "connex.secrets" / "shipstation.api_key").write_text(v2_key)
    wrong = connex("connect", "shipstation", "--config", path, expect=4)
    assert 'api = "v2"' in wrong.stderr and v2_key not in wrong.stderr + wrong.stdout
    path.write_text(text)

    # A plan without v1: ShipStation answers 402, and the message says to use v2.
    (path.parent / "connex.secrets" / "shipstation.api_key").write_text(sandbox.shipstation.api_key)
    sandbox.shipstation.faults.add(Fault(kind="error", status=402, body=b'{"Message":"Payment Required"}'))
    plan = connex("connect", "shipstation", "--config", path, expect=6)
    assert "402" in plan.stderr and 'api = "v2"' in plan.stderr and "Gold" in plan.stderr

    wrong_type = connex("connect", "xero", "--config", path, "--connection", "shipstation-v2", expect=2)
    assert "is of type 'shipstation'" in wrong_type.stderr


def test_the_demo_runs_on_v2(tmp_path, connex):
    ran = connex("demo", "--dir", tmp_path / "demo", "--orders", "12", "--api", "shipstation=v2", "--json", timeout=180)
    runs = ran.json["runs"]
    assert {r["task"] for r in runs} == {"shipstation-v2-to-quickbooks", "daily-summary-v2", "quickbooks-to-shipstation-v2",
                                         "xero-to-shipstation-v2", "shipstation-v2-to-xero", "tracking-to-quickbooks-v2",
                                         "tracking-to-xero-v2"}
    assert all(r["failed"] == 0 and r["status"] == "ok" for r in runs), runs
    assert sum(r["created"] for r in runs) > 0
    assert all(r["created"] == 0 and r["failed"] == 0 for r in ran.json["reruns"]), ran.json["reruns"]
    assert connex("demo", "--dir", tmp_path / "bad", "--api", "shipstation=v3", expect=2).stderr


def v2_total(shipment: dict) -> Decimal:
    """What the sale comes to, from the raw v2 shipment: its lines (coupons negative) + shipping + tax paid."""
    goods = sum((Decimal(str(i["unit_price"])) * i["quantity"] for i in shipment["items"]), Decimal(0))
    return goods + money(shipment["shipping_paid"]["amount"]) + money(shipment["tax_paid"]["amount"])


def test_every_v2_flow_on_seeded_data_books_each_sale_once_with_its_total_and_a_rerun_posts_nothing(sandbox):
    from connex_core.demo import _on_version
    from connex_core.sandbox.flows import demo_plan

    plan = _on_version(demo_plan(sandbox.manager), "shipstation", "v2")  # every flow, ShipStation's on v2
    first_names, after_names = plan.stage("documents"), plan.stage("write_back")
    sim, qb, xero = v2(sandbox), sandbox.quickbooks, sandbox.xero
    for name, service in sandbox.server.services.items():
        service.seed(30 if name != "quickbooks-summary" else 0)
    sandbox.write()
    first = {name: sandbox.run(name) for name in first_names}
    sales = {s["shipment_number"]: s for s in sim.shipments.values() if not s["external_shipment_id"].startswith("connex:")}
    qb_docs = [(d["DocNumber"], d["TotalAmt"]) for d in qb.entities("Invoice") + qb.entities("SalesReceipt")]
    xero_docs = [(i["InvoiceNumber"], i["Total"]) for i in xero.invoices.values()]
    for docs in (qb_docs, xero_docs):
        numbers = [n for n, _ in docs if n in sales]
        assert len(numbers) == len(set(numbers)), "a sale was booked twice"
        for number, total in docs:
            if number in sales:
                assert money(total) == v2_total(sales[number]), number
    labelled = {s["shipment_number"] for s in sales.values() if s["shipment_status"] == "label_purchased"}
    assert labelled and labelled <= {n for n, _ in qb_docs}, "a shipped sale is missing from QuickBooks"
    assert set(sales) <= {n for n, _ in xero_docs}, "a sale is missing from Xero"
    for shipment in sim.shipments.values():  # and the other way: each document's total reached ShipStation
        origin = shipment["external_shipment_id"].removeprefix("connex:")
        if origin.startswith("quickbooks:"):
            entity, ident = origin.removeprefix("quickbooks:").split("-")
            assert v2_total(shipment) == money(qb.get(entity, ident)["TotalAmt"]), shipment["shipment_number"]
        elif origin.startswith("xero:"):
            assert v2_total(shipment) == money(xero.invoices[origin.removeprefix("xero:")]["Total"])

    for service in sandbox.server.services.values():
        service.simulate_activity()
    first.update({name: sandbox.run(name) for name in after_names})
    for name, summary in first.items():
        assert summary.counts["failed"] == 0 and summary.counts["held"] == 0, (name, summary.as_dict())
        assert summary.counts["created"] + summary.counts["updated"] > 0, (name, summary.as_dict())

    counts = doc_counts(sandbox)
    shipments = len(sim.shipments)
    for name in first_names + after_names:
        again = sandbox.run(name)
        assert again.counts["created"] == again.counts["failed"] == 0, (name, again.as_dict())
    assert doc_counts(sandbox) == counts and len(sim.shipments) == shipments
