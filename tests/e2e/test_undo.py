"""``connex undo --run N``: what one run created is taken back in the target (QuickBooks voids, Xero voids or
deletes, ShipStation deletes unshipped orders), a document changed since is left with the reason, the ledger
and the log say so, a second undo does nothing, and a run over the orders' dates posts them again."""

from __future__ import annotations

import json
from decimal import Decimal

from typer.testing import CliRunner

from connex_core.cli import app
from connex_core.state import SQLiteStore
from tests.e2e.helpers import money, pacific, ss_order, task_table

QB = "shipstation-to-quickbooks"
XERO = "shipstation-to-xero"
runner = CliRunner()


def every_status(name: str, **target: object) -> tuple[str, dict]:
    name, table = task_table(name)
    table["source_options"] = {}
    table["target_options"] = {**table.get("target_options", {}), **target}
    return name, table


def cli(config, *args: str, expect: int = 0, input: str | None = None):
    result = runner.invoke(app, [*args, "--config", str(config)], input=input)
    assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr)
    return result


def run_day(config, task: str, expect: int = 0) -> dict:
    [summary] = json.loads(cli(config, "run", "-t", task, "--since", "2026-09-16", "--until", "2026-09-16", "--json",
                               expect=expect).stdout)
    return summary


def docs(sim, entity: str) -> dict[str, dict]:
    return {d["DocNumber"]: d for d in sim.entities(entity)}


def ledger_states(config, task: str) -> dict[str, str]:
    store = SQLiteStore(config.parent / "connex.db")
    try:
        return {e.target_number: str(e.state) for e in store.ledger_in_states(
            ("done", "undone", "voided", "failed", "held", "pending"), task)}
    finally:
        store.close()


def test_undo_voids_what_a_quickbooks_run_created_leaves_a_paid_one_and_a_later_run_posts_again(sandbox):
    ss, qb = sandbox.shipstation, sandbox.quickbooks
    ss.add_order(ss_order("8001", pacific(2026, 9, 16)))  # paid in full: a sales receipt
    ss.add_order(ss_order("8002", pacific(2026, 9, 16, 11), amount_paid=Decimal("10.00")))  # invoice + payment
    ss.add_order(ss_order("8003", pacific(2026, 9, 16, 12), paid=False))  # invoice, to be paid in QuickBooks
    config = sandbox.write([every_status(QB, document="auto")])
    first = run_day(config, QB)
    assert first["created"] == 3
    qb.pay(docs(qb, "Invoice")["8003"]["Id"], Decimal("30.00"))  # the customer pays 8003 in QuickBooks

    plan = json.loads(cli(config, "undo", "--run", str(first["run_id"]), "--dry-run", "--json", expect=0).stdout)
    assert [(s["order"], s["action"]) for s in plan["steps"]] == [("8003", "void"), ("8002", "void"), ("8001", "void")]
    assert money(docs(qb, "SalesReceipt")["8001"]["TotalAmt"]) == Decimal("30.00")  # the dry run changed nothing
    # Without --yes it asks; a "no" changes nothing.
    asked = cli(config, "undo", "--run", str(first["run_id"]), expect=5, input="n\n")
    assert "take back 3 document(s)" in asked.stderr and "nothing changed" in asked.stderr
    assert docs(qb, "Invoice")["8002"].get("PrivateNote") != "Voided"

    done = json.loads(cli(config, "undo", "--run", str(first["run_id"]), "--yes", "--json", expect=5).stdout)
    steps = {s["order"]: s for s in done["steps"]}
    assert steps["8003"]["action"] == "left" and "was paid since it was booked (30.00 received" in steps["8003"]["message"]
    assert steps["8001"]["action"] == "undone" and steps["8002"]["action"] == "undone"
    receipt, invoice = docs(qb, "SalesReceipt")["8001"], docs(qb, "Invoice")["8002"]
    assert money(receipt["TotalAmt"]) == 0 and receipt["PrivateNote"] == "Voided"
    assert money(invoice["TotalAmt"]) == 0 and invoice["PrivateNote"] == "Voided"
    [payment] = [p for p in qb.entities("Payment") if money(p["TotalAmt"]) == 0]  # Connex's 10.00, voided with it
    assert payment["PrivateNote"] == "Voided"
    untouched = docs(qb, "Invoice")["8003"]
    assert money(untouched["TotalAmt"]) == Decimal("30.00") and money(untouched["Balance"]) == 0
    assert ledger_states(config, QB) == {"8001": "undone", "8002": "undone", "8003": "done"}
    logged = sandbox.log(task=QB, outcome="undone")
    assert sorted(e.order_number for e in logged) == ["8001", "8002"]
    assert all(e.run_id == done["undo_run_id"] for e in logged)

    # Idempotent: nothing more is sent, and the paid one is still listed.
    writes = qb.write_calls
    again = json.loads(cli(config, "undo", "--run", str(first["run_id"]), "--yes", "--json", expect=5).stdout)
    assert {s["order"]: s["action"] for s in again["steps"]} == {"8003": "left", "8002": "already-undone",
                                                                  "8001": "already-undone"}
    assert qb.write_calls == writes and len(sandbox.log(task=QB, outcome="undone")) == 2

    # An incremental run leaves the undone orders; a run over their dates posts them again, once.
    sandbox.clock.advance(60)
    incremental = json.loads(cli(config, "run", "-t", QB, "--json").stdout)[0]
    assert incremental.get("created", 0) == 0
    # A company that refuses a document number used before (the voided document keeps it) says so: not booked.
    refused = run_day(config, QB, expect=5)
    assert refused["failed"] == 2 and refused["created"] == 0
    [why, _] = sandbox.log(task=QB, outcome="failed")
    assert "the voided document keeps it" in why.reason
    qb.warn_duplicate_doc_number = False  # the bookkeeper turns the warning off
    # resync finds only the voided document under the number: not the order's booking, so it posts it again.
    [resynced] = json.loads(cli(config, "resync", "-t", QB, "8001", "--json").stdout)
    assert resynced["action"] == "gone-reposted", resynced
    again_run = run_day(config, QB)
    assert again_run["created"] == 1  # 8002; 8001 was posted by resync
    assert again_run["already_synced"] == 2
    live = [d for d in qb.entities("SalesReceipt") if d["DocNumber"] == "8001" and money(d["TotalAmt"]) > 0]
    assert len(live) == 1 and money(live[0]["TotalAmt"]) == Decimal("30.00")
    assert ledger_states(config, QB) == {"8001": "done", "8002": "done", "8003": "done"}
    assert run_day(config, QB)["created"] == 0  # and not a third time


def test_undo_of_a_xero_run_voids_and_an_invoice_paid_since_is_left(sandbox):
    ss, xero = sandbox.shipstation, sandbox.xero
    ss.add_order(ss_order("8101", pacific(2026, 9, 16), paid=False))
    ss.add_order(ss_order("8102", pacific(2026, 9, 16, 11), paid=False))
    config = sandbox.write([every_status(XERO)])
    first = run_day(config, XERO)
    assert first["created"] == 2
    invoices = {i["InvoiceNumber"]: i for i in xero.invoices.values()}
    xero.pay(invoices["8102"]["InvoiceID"])  # the customer pays 8102 in Xero

    done = json.loads(cli(config, "undo", "--run", str(first["run_id"]), "--yes", "--json", expect=5).stdout)
    steps = {s["order"]: s for s in done["steps"]}
    assert steps["8101"]["action"] == "undone"
    assert steps["8102"]["action"] == "left" and "was paid since it was booked" in steps["8102"]["message"]
    invoices = {i["InvoiceNumber"]: i for i in xero.invoices.values()}
    assert invoices["8101"]["Status"] in ("VOIDED", "DELETED") and invoices["8102"]["Status"] == "PAID"
    assert ledger_states(config, XERO)["8101"] == "undone"


def test_undo_of_an_unknown_run_is_a_clear_error(sandbox):
    config = sandbox.write()
    result = cli(config, "undo", "--run", "99", "--yes", expect=2)
    assert "there is no run #99" in result.stderr


def test_undo_of_a_run_into_shipstation_deletes_the_unshipped_orders_and_leaves_a_shipped_one(sandbox):
    from datetime import date

    qb, ss = sandbox.quickbooks, sandbox.shipstation
    qb.seed_documents(3, unpaid_every=0, class_every=0)
    config = sandbox.write()
    [first] = json.loads(cli(config, "run", "-t", "quickbooks-to-shipstation", "--since", "2026-09-19", "--until",
                             "2026-09-21", "--json").stdout)
    assert first["created"] == 3
    ours = {o["orderNumber"]: o for o in ss.orders.values() if o["orderKey"].startswith("connex:")}
    shipped = ours["QB-00002"]
    ss.ship_order(shipped["orderId"], "fedex", "7712345678", date(2026, 9, 19), Decimal("9.15"))

    done = json.loads(cli(config, "undo", "--run", str(first["run_id"]), "--yes", "--json", expect=5).stdout)
    steps = {s["order"]: s for s in done["steps"]}
    assert steps["QB-00002"]["action"] == "left" and "is shipped in ShipStation" in steps["QB-00002"]["message"]
    assert steps["QB-00001"]["action"] == steps["QB-00003"]["action"] == "undone"
    assert ss.deleted == {ours["QB-00001"]["orderId"], ours["QB-00003"]["orderId"]}
    listed = json.loads(runner.invoke(app, ["undo", "--run", str(first["run_id"]), "--dry-run", "--json",
                                            "--config", str(config)]).stdout)
    # The plan comes from the ledger: the shipped one would be tried again (and left again, as above).
    assert {s["order"]: s["action"] for s in listed["steps"]} == {"QB-00001": "already-undone",
                                                                   "QB-00002": "void", "QB-00003": "already-undone"}
