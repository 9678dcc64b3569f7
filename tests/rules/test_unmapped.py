"""The flag-and-map workflow end to end, through the simulators (issue 16): QuickBooks refuses orders
whose items it does not have (``unknown_items = "flag"``) and the log names each SKU; ``connex rules
unmapped`` lists them as a table to fill in; with the table filled and mapped, the next run syncs the
failed orders with the mapped items."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from connex_core.cli.rules import app
from connex_core.rules.unmapped import skus_in, unknown_sku_note, unmapped_skus
from connex_core.state import LogEntry

TASK = "shipstation-to-quickbooks"


@pytest.fixture
def box(tmp_path):
    from connex_core.plugins import get_manager, set_manager
    from connex_core.sandbox import SimClock
    from connex_core.sandbox.runner import build_sandbox
    from tests.e2e.helpers import SPEED, START, Sandbox, copy_default_rules

    set_manager(None)
    manager = get_manager()
    clock = SimClock(speed=SPEED, start=START)
    server = build_sandbox(manager, clock=clock, seed=11)
    copy_default_rules(tmp_path)
    sandbox = Sandbox(folder=tmp_path, clock=clock, server=server, manager=manager)
    with server:
        yield sandbox
        sandbox.close()


def test_the_note_reads_back_any_sku_exactly():
    for sku in ["MUG-BLK", 'odd "quoted", sku', "Ümlaut\\back"]:
        message = f"item {sku!r} (Sku) not found in QuickBooks: map it {unknown_sku_note(sku)}; other problem"
        assert skus_in(message) == [sku]
    assert skus_in("customer 'x' not found") == []


def test_only_orders_still_failing_count():
    entries = [LogEntry(TASK, "ss:1", "failed", "1001", reason=f"x {unknown_sku_note('A')}; y {unknown_sku_note('B')}"),
               LogEntry(TASK, "ss:2", "failed", "1002", reason=f"x {unknown_sku_note('A')}"),
               LogEntry(TASK, "ss:3", "failed", "1003", reason=f"x {unknown_sku_note('C')}"),
               LogEntry(TASK, "ss:3", "created", "1003")]
    assert [(u.sku, sorted(u.orders), u.example) for u in unmapped_skus(entries)] == [
        ("A", ["ss:1", "ss:2"], "1001"), ("B", ["ss:1"], "1001")]


def test_fail_then_unmapped_then_map_then_sync(box):
    from tests.e2e.helpers import pacific, ss_order, task_table

    qb, ss = box.quickbooks, box.shipstation
    qb.seed_documents(1)  # items SEED-000 .. SEED-007 (Sku = Name)
    orders = {"5001": [("MUG-BLK", "Black mug", 1, "12.00"), ("SEED-001", "Seed", 1, "8.00")],
              "5002": [("MUG-BLK", "Black mug", 2, "12.00")],
              "5003": [("TEE-OLD", "Old tee", 1, "20.00")],
              "5004": [("SEED-001", "Seed", 1, "8.00")]}
    for number, items in orders.items():
        order = ss.add_order(ss_order(number, pacific(2026, 9, 16), items=items))
        ss.ship_order(order["orderId"], "ups", f"1Z{number}", date(2026, 9, 17), Decimal("6"))
    table = task_table(TASK, target_options={"unknown_items": "flag", "item_match": "sku"})
    config = box.write([table])

    first = box.engine().run_task(TASK, since=datetime(2026, 9, 10, tzinfo=timezone.utc))
    assert (first.counts["created"], first.counts["failed"]) == (1, 3)
    failed = box.log(task=TASK, outcome="failed")
    assert {e.order_number: skus_in(e.reason) for e in failed} == {"5001": ["MUG-BLK"], "5002": ["MUG-BLK"],
                                                                    "5003": ["TEE-OLD"]}

    runner = CliRunner()
    listed = runner.invoke(app, ["unmapped", "--task", TASK, "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines() == ["from,to,#orders,#example order", "MUG-BLK,,2,5001", "TEE-OLD,,1,5003"]
    assert "2 unknown SKU(s) in 3 failing order(s)" in listed.stderr

    maps = box.folder / "rules" / "maps"
    maps.mkdir()
    written = runner.invoke(app, ["unmapped", "--task", TASK, "--config", str(config), "--csv", str(maps / "sku.csv")])
    assert written.exit_code == 0, written.output
    text = (maps / "sku.csv").read_text()
    assert text == "from,to,#orders,#example order\nMUG-BLK,,2,5001\nTEE-OLD,,1,5003\n"
    (box.folder / "rules" / "skus.rules").write_text("map line.sku using 'maps/sku.csv'\n")
    unfilled = runner.invoke(app, ["check", str(box.folder / "rules" / "skus.rules")])
    assert unfilled.exit_code == 3 and "sku.csv:2:9: error: empty cell in column 'to'" in unfilled.output
    (maps / "sku.csv").write_text(text.replace("MUG-BLK,,", "MUG-BLK,SEED-002,").replace("TEE-OLD,,", "TEE-OLD,SEED-003,"))
    assert runner.invoke(app, ["check", str(box.folder / "rules" / "skus.rules")]).exit_code == 0
    table[1]["rules"] = table[1]["rules"] + ["rules/skus.rules"]
    config = box.write([table])

    second = box.engine().run_task(TASK)  # no window: the failed orders come from the retry queue
    assert (second.counts["created"], second.counts["failed"]) == (3, 0)
    invoices = {d["DocNumber"]: d for d in qb.entities("Invoice")}
    items = {i["Id"]: i.get("Sku") for i in qb.entities("Item")}
    booked = {n: [items[line["SalesItemLineDetail"]["ItemRef"]["value"]] for line in invoices[n]["Line"]
                  if line.get("DetailType") == "SalesItemLineDetail" and line["Description"] != "Shipping"]
              for n in orders}
    assert booked == {"5001": ["SEED-002", "SEED-001"], "5002": ["SEED-002"], "5003": ["SEED-003"], "5004": ["SEED-001"]}
    assert not [i for i in qb.entities("Item") if i.get("Sku") in ("MUG-BLK", "TEE-OLD")], "nothing unmapped was created"
    changes = [c for e in box.log(task=TASK, outcome="created") for c in e.changes if c["field"].endswith(".sku")]
    assert sorted((c["before"], c["after"]) for c in changes) == [("MUG-BLK", "SEED-002"), ("MUG-BLK", "SEED-002"),
                                                                  ("TEE-OLD", "SEED-003")]

    after = runner.invoke(app, ["unmapped", "--task", TASK, "--config", str(config)])
    assert after.stdout.splitlines() == ["from,to,#orders,#example order"]
    assert "0 unknown SKU(s)" in after.stderr


def test_an_unknown_task_is_a_config_error(box):
    config = box.write()
    result = CliRunner().invoke(app, ["unmapped", "--task", "nope", "--config", str(config)])
    assert result.exit_code == 4 and "no task named 'nope'" in result.output


def test_csv_adds_only_new_skus_to_an_existing_table(box):
    from tests.e2e.helpers import pacific, ss_order, task_table

    for number, sku in (("6001", "MUG-BLK"), ("6002", "TEE-OLD")):
        order = box.shipstation.add_order(ss_order(number, pacific(2026, 9, 16), items=[(sku, "x", 1, "5.00")]))
        box.shipstation.ship_order(order["orderId"], "ups", f"1Z{number}", date(2026, 9, 17), Decimal("6"))
    config = box.write([task_table(TASK, target_options={"unknown_items": "flag", "item_match": "sku"})])
    assert box.engine().run_task(TASK, since=datetime(2026, 9, 10, tzinfo=timezone.utc)).counts["failed"] == 2
    table = box.folder / "sku.csv"
    table.write_text("from,to,item_name\nMUG-BLK,MUG-BLACK,Black mug\n")
    result = CliRunner().invoke(app, ["unmapped", "--task", TASK, "--config", str(config), "--csv", str(table)])
    assert result.exit_code == 0, result.output
    assert table.read_text() == "from,to,item_name\nMUG-BLK,MUG-BLACK,Black mug\nTEE-OLD,,\n"
    assert "1 unknown SKU(s)" in result.stderr
