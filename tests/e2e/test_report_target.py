"""``connex report`` looks at the target's own documents: one posted by hand (not by Connex) in the window is
listed as unknown to the ledger, on its day, and the day is not accounted for; Connex's own documents, and
those ``connex undo`` voided, are not listed; an undone order makes its day not accounted for."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from connex_core.cli import app
from tests.e2e.helpers import add_invoice, pacific, ss_order
from tests.e2e.test_undo import QB, XERO, every_status

runner = CliRunner()
WINDOW = ["--since", "2026-09-16", "--until", "2026-09-20"]
SS_WINDOW = ["--since", "2026-09-19", "--until", "2026-09-21"]  # the QuickBooks documents seeded for ShipStation


def report(config, task: str, window: list[str] = WINDOW) -> tuple[int, dict, str]:
    """``connex report`` of ``task`` over ``window``: its exit code, its ``--json`` answer and its text."""
    result = runner.invoke(app, ["report", "--config", str(config), "-t", task, *window, "--json"])
    text = runner.invoke(app, ["report", "--config", str(config), "-t", task, *window]).stdout
    [out] = json.loads(result.stdout)
    return result.exit_code, out, text


def run_task(config, task: str, window: list[str] = SS_WINDOW) -> None:
    assert runner.invoke(app, ["run", "--config", str(config), "-t", task, *window]).exit_code == 0


def days(out: dict) -> dict[str, dict]:
    return {d["day"]: d for d in out["days"]}


def test_a_quickbooks_document_posted_by_hand_is_listed_and_an_undone_order_is_not_accounted_for(sandbox):
    ss, qb = sandbox.shipstation, sandbox.quickbooks
    ss.add_order(ss_order("8201", pacific(2026, 9, 16)))
    ss.add_order(ss_order("8202", pacific(2026, 9, 16, 11)))
    config = sandbox.write([every_status(QB, document="auto")])
    assert runner.invoke(app, ["run", "--config", str(config), "-t", QB, *WINDOW]).exit_code == 0
    code, out, _ = report(config, QB)
    assert code == 0 and out["accounted"] and out["note"] is None
    assert all(d["unknown_in_target"] == [] for d in out["days"])  # Connex's own documents are known

    [by_hand, _] = qb.seed_documents(2, unpaid_every=0)  # the bookkeeper enters two sales in QuickBooks
    code, out, text = report(config, QB)
    assert code == 5 and not out["accounted"]
    hand_day = days(out)[by_hand["TxnDate"]]
    assert sorted(hand_day["unknown_in_target"]) == ["QB-00001", "QB-00002"] and hand_day["orders"] == 0
    assert "in the target, unknown to the ledger: QB-00001, QB-00002  NOT ACCOUNTED FOR" in text

    [run] = json.loads(runner.invoke(app, ["runs", "--config", str(config), "-t", QB, "--json", "--limit", "1"]).stdout)
    assert runner.invoke(app, ["undo", "--config", str(config), "--run", str(run["id"]), "--yes"]).exit_code == 0
    code, out, text = report(config, QB)
    order_day = days(out)["2026-09-16"]
    assert order_day["undone"] == 2 and order_day["booked"] == 0 and not order_day["accounted"]
    assert order_day["unknown_in_target"] == []  # the voided documents are Connex's, and voided
    assert "undone 2" in text


def test_a_xero_invoice_posted_by_hand_is_listed(sandbox):
    ss, xero = sandbox.shipstation, sandbox.xero
    ss.add_order(ss_order("8301", pacific(2026, 9, 16), paid=False))
    config = sandbox.write([every_status(XERO)])
    assert runner.invoke(app, ["run", "--config", str(config), "-t", XERO, *WINDOW]).exit_code == 0
    code, out, _ = report(config, XERO)
    assert code == 0 and out["accounted"], out
    contact = next(iter(xero.contacts.values()))
    add_invoice(xero, "INV-BY-HAND", "ShipStation", contact["ContactID"])
    code, out, _ = report(config, XERO)
    assert code == 5
    assert [n for d in out["days"] for n in d["unknown_in_target"]] == ["INV-BY-HAND"]


def test_a_shipstation_order_created_by_hand_is_listed(sandbox):
    """ShipStation as the target (API v1): ``GET /orders`` by orderDate, Pacific days. An order entered in
    ShipStation by hand in the window is listed on its day; Connex's own, one cancelled, one outside the window and
    one deleted are not."""
    qb, ss = sandbox.quickbooks, sandbox.shipstation
    qb.seed_documents(3, unpaid_every=0, class_every=0)
    config = sandbox.write()
    task = "quickbooks-to-shipstation"
    run_task(config, task)

    code, out, _ = report(config, task, SS_WINDOW)
    assert out["note"] is None  # ShipStation lists its orders now
    assert code == 0 and out["accounted"] and all(d["unknown_in_target"] == [] for d in out["days"]), out
    ss.add_order(ss_order("PHONE-1", pacific(2026, 9, 20, 23, 30)))  # late on the 20th, Pacific
    ss.add_order(ss_order("PHONE-2", pacific(2026, 9, 20, 9), status="cancelled"))
    ss.add_order(ss_order("PHONE-3", pacific(2026, 9, 22, 0, 30)))  # after the window
    gone = ss.add_order(ss_order("PHONE-4", pacific(2026, 9, 19, 12)))
    ss.deleted.add(gone["orderId"])
    code, out, text = report(config, task, SS_WINDOW)
    assert code == 5 and not out["accounted"]
    assert {d["day"]: d["unknown_in_target"] for d in out["days"] if d["unknown_in_target"]} == {
        "2026-09-20": ["PHONE-1"]}
    assert "in the target, unknown to the ledger: PHONE-1  NOT ACCOUNTED FOR" in text


def test_a_shipstation_v2_shipment_created_by_hand_is_listed(sandbox):
    """ShipStation API v2 as the target: ``GET /v2/shipments`` by created_at, days in the connection's time zone
    (Pacific by default). A shipment created by hand in the window is listed; Connex's own are not."""
    from datetime import datetime, timezone

    qb, sim = sandbox.quickbooks, sandbox.server.services["shipstation-v2"]
    qb.seed_documents(2, unpaid_every=0, class_every=0)
    config = sandbox.write()
    task = "quickbooks-to-shipstation-v2"
    run_task(config, task)
    ours = {s["shipment_id"] for s in sim.shipments.values()}
    assert len(ours) == 2
    by_hand = dict(next(iter(sim.shipments.values())), shipment_number="PHONE-9", external_shipment_id="by-hand-9")
    # 02:30 UTC on the 21st is 19:30 on the 20th, Pacific
    sim.add_shipment({k: v for k, v in by_hand.items() if k not in ("shipment_id", "created_at", "modified_at")},
                     created=datetime(2026, 9, 21, 2, 30, tzinfo=timezone.utc))
    _, out, _ = report(config, task, SS_WINDOW)
    assert out["note"] is None
    assert {d["day"]: d["unknown_in_target"] for d in out["days"] if d["unknown_in_target"]} == {
        "2026-09-20": ["PHONE-9"]}


def test_shipstation_v2_shipments_booked_are_there_and_one_cancelled_by_hand_is_gone(sandbox):
    """ShipStation API v2 as the target: the report looks each booked order up by its ``external_shipment_id``
    (the write path looks nothing up ahead, so its ``find_orders`` cannot say). Booked shipments are there; one
    cancelled by hand in ShipStation (v2 deletes none) is gone, the others not; ``connex resync`` of a booked one
    finds it the same, of the cancelled one says ShipStation kept it cancelled."""
    import requests

    qb, sim = sandbox.quickbooks, sandbox.server.services["shipstation-v2"]
    qb.seed_documents(3, unpaid_every=0, class_every=0)
    config = sandbox.write()
    task = "quickbooks-to-shipstation-v2"
    run_task(config, task)
    assert len(sim.shipments) == 3

    code, out, _ = report(config, task, SS_WINDOW)
    assert sum(d["booked"] for d in out["days"]) == 3
    assert code == 0 and out["accounted"] and all(d["gone"] == [] for d in out["days"]), out

    cancelled = sorted(sim.shipments.values(), key=lambda s: s["shipment_number"])[1]
    answer = requests.put(f"{sim.base_url}/v2/shipments/{cancelled['shipment_id']}/cancel",
                          headers={"api-key": sim.api_key}, timeout=10)  # the warehouse cancels it in ShipStation
    assert answer.status_code == 204 and cancelled["shipment_status"] == "cancelled"
    code, out, text = report(config, task, SS_WINDOW)
    number = cancelled["shipment_number"]
    assert code == 5 and not out["accounted"]
    assert [n for d in out["days"] for n in d["gone"]] == [f"{number}: {number}"], out
    assert f"gone from the target: {number}: {number}" in text

    kept = next(s for s in sim.shipments.values() if s["shipment_status"] != "cancelled")
    writes = sim.write_calls
    [same] = json.loads(runner.invoke(app, ["resync", "--config", str(config), "-t", task, kept["shipment_number"],
                                            "--json"]).stdout)
    assert same["action"] == "same", same
    assert sim.write_calls == writes  # nothing written
    [again] = json.loads(runner.invoke(app, ["resync", "--config", str(config), "-t", task, number, "--json"]).stdout)
    assert again["action"] == "gone-reposted" and "already cancelled in ShipStation; left unchanged" in again["message"]
    assert cancelled["shipment_status"] == "cancelled" and len(sim.shipments) == 3


def test_a_shipstation_v1_order_cancelled_or_deleted_by_hand_is_gone(sandbox):
    """ShipStation API v1 as the target, as v2: a booked order cancelled by hand in ShipStation is gone from it
    (the write path's look-up still finds it, so it is not written again), one deleted is gone, the third is not."""
    qb, ss = sandbox.quickbooks, sandbox.shipstation
    qb.seed_documents(3, unpaid_every=0, class_every=0)
    config = sandbox.write()
    task = "quickbooks-to-shipstation"
    run_task(config, task)
    _, out, _ = report(config, task, SS_WINDOW)
    assert out["accounted"] and sum(d["booked"] for d in out["days"]) == 3, out
    first, second, _ = sorted((o for o in ss.orders.values()), key=lambda o: o["orderNumber"])
    first["orderStatus"] = "cancelled"  # cancelled in ShipStation by hand
    ss.deleted.add(second["orderId"])  # deleted there by hand
    code, out, _ = report(config, task, SS_WINDOW)
    assert code == 5 and not out["accounted"]
    assert sorted(n for d in out["days"] for n in d["gone"]) == [
        f"{first['orderNumber']}: {first['orderNumber']}", f"{second['orderNumber']}: {second['orderNumber']}"], out
