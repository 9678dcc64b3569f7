"""``connex undo`` lists the customers, items and contacts the run created beside its documents (the connector
reports them, the engine keeps them against the run), with their ids, and leaves them in the target; a run that
found them there already created nothing of the kind, and its undo lists none."""

from __future__ import annotations

import json

from tests.e2e.helpers import pacific, ss_order
from tests.e2e.test_undo import QB, XERO, cli, every_status


def run(config, task: str, day: str) -> dict:
    [summary] = json.loads(cli(config, "run", "-t", task, "--since", day, "--until", day, "--json").stdout)
    return summary


def ids(sim, entity: str) -> dict[str, dict]:
    return {e["Id"]: e for e in sim.entities(entity)}


def same_buyer(first: dict, number: str, when) -> dict:
    """Another order of the buyer of ``first`` (same name, e-mail, addresses), for the same item."""
    order = ss_order(number, when, email=first["customerEmail"])
    order.update(billTo=first["billTo"], shipTo=first["shipTo"], customerUsername=first["customerUsername"])
    return order


def test_undo_lists_the_quickbooks_customer_and_items_a_run_created_and_leaves_them(sandbox):
    ss, qb = sandbox.shipstation, sandbox.quickbooks
    first = ss_order("8401", pacific(2026, 9, 16), items=[("MUG-BLU", "Blue mug", 2, "12.50")])
    ss.add_order(first)
    config = sandbox.write([every_status(QB, document="auto")])
    customers, items = ids(qb, "Customer"), ids(qb, "Item")
    made = run(config, QB, "2026-09-16")
    assert made["created"] == 1
    new_customers = {i: c for i, c in ids(qb, "Customer").items() if i not in customers}
    new_items = {i: c for i, c in ids(qb, "Item").items() if i not in items}
    assert len(new_customers) == 1 and "MUG-BLU" in {i.get("Sku") for i in new_items.values()}
    expected = sorted([("Customer", i, c["DisplayName"]) for i, c in new_customers.items()] +
                      [("Item", i, c["Name"]) for i, c in new_items.items()])

    plan = json.loads(cli(config, "undo", "--run", str(made["run_id"]), "--dry-run", "--json").stdout)
    assert sorted((c["kind"], c["target_id"], c["name"]) for c in plan["left_in_place"]) == expected
    assert {c["order"] for c in plan["left_in_place"]} == {"8401"}
    done = json.loads(cli(config, "undo", "--run", str(made["run_id"]), "--yes", "--json").stdout)
    assert [s["action"] for s in done["steps"]] == ["undone"]
    assert sorted((c["kind"], c["target_id"], c["name"]) for c in done["left_in_place"]) == expected
    # Left in QuickBooks as they were: the document is voided, its customer and items are not touched.
    for ident, customer in new_customers.items():
        assert ids(qb, "Customer")[ident] == customer
    for ident, item in new_items.items():
        assert ids(qb, "Item")[ident] == item
    text = cli(config, "undo", "--run", str(made["run_id"]), "--dry-run").stdout
    [customer_id] = new_customers
    assert (f"8401  left: Customer {new_customers[customer_id]['DisplayName']!r} (id {customer_id}) created by the "
            "run, left in place") in text

    # The same buyer and item again: both found in QuickBooks, nothing created, nothing listed.
    ss.add_order(same_buyer(first, "8402", pacific(2026, 9, 17)))
    again = run(config, QB, "2026-09-17")
    assert again["created"] == 1
    assert ids(qb, "Customer").keys() == customers.keys() | new_customers.keys()
    assert ids(qb, "Item").keys() == items.keys() | new_items.keys()
    plan = json.loads(cli(config, "undo", "--run", str(again["run_id"]), "--dry-run", "--json").stdout)
    assert [s["order"] for s in plan["steps"]] == ["8402"] and plan["left_in_place"] == []


def test_undo_lists_the_xero_contact_a_run_created_and_a_run_that_reused_it_lists_none(sandbox):
    ss, xero = sandbox.shipstation, sandbox.xero
    first = ss_order("8501", pacific(2026, 9, 16), paid=False)
    ss.add_order(first)
    config = sandbox.write([every_status(XERO)])
    before = set(xero.contacts)
    made = run(config, XERO, "2026-09-16")
    assert made["created"] == 1
    [new] = [c for i, c in xero.contacts.items() if i not in before]

    done = json.loads(cli(config, "undo", "--run", str(made["run_id"]), "--yes", "--json").stdout)
    assert [(c["order"], c["kind"], c["target_id"], c["name"]) for c in done["left_in_place"]] == [
        ("8501", "Contact", new["ContactID"], new["Name"])]
    assert xero.contacts[new["ContactID"]]["ContactStatus"] == "ACTIVE"  # left in Xero

    ss.add_order(same_buyer(first, "8502", pacific(2026, 9, 17)))
    again = run(config, XERO, "2026-09-17")
    assert again["created"] == 1 and set(xero.contacts) == before | {new["ContactID"]}
    plan = json.loads(cli(config, "undo", "--run", str(again["run_id"]), "--dry-run", "--json").stdout)
    assert plan["left_in_place"] == []
