"""Mapping tables (issue 16): ``map FIELD using 'FILE'`` looks a field up in a CSV table found next to
the rule file; ``connex rules check`` validates the whole table with positions in the CSV file."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connex_core.cli.rules import app
from connex_core.models import LineItem, OrderStatus
from connex_core.rules import RuleCheckError, check_files, format_report, load_rules
from connex_core.testing.factories import make_order

D = Decimal
SKU_CSV = ("from,to,item_name,class,tax_code\n"
           "MUG-BLK,MUG-BLACK-11OZ,Black mug 11oz,Homeware,TAX\n"
           "TEE-WHT-M, TSHIRT-WHITE-M ,\"White T-shirt, medium\",Apparel,TAX\n"
           "GIFT-25,GIFT-CARD,\"Gift card \"\"25\"\"\",Gift cards,NON\n")


def setup(tmp_path: Path, rules: str, tables: dict[str, str]) -> Path:
    folder = tmp_path / "rules"
    for name, text in tables.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    folder.mkdir(exist_ok=True)
    path = folder / "main.rules"
    path.write_text(rules)
    return path


def lines(*skus: str) -> list[LineItem]:
    return [LineItem(sku=sku, name=f"item {sku}", unit_price=D("10")) for sku in skus]


def apply_both(ruleset, order):
    compiled = ruleset.apply(order)
    explained, traces = ruleset.explain(order)
    assert [(c.field, c.before, c.after) for c in compiled.changes] == [(c.field, c.before, c.after)
                                                                       for c in explained.changes]
    assert compiled.order == explained.order and compiled.fired == explained.fired
    assert [t.rule.name for t in traces if t.fired] == compiled.fired
    return compiled


# -- running ------------------------------------------------------------------------------------------
def test_a_line_map_sets_the_sku_and_the_extra_columns_and_leaves_unknown_skus(tmp_path):
    path = setup(tmp_path, "map line.sku using 'maps/sku.csv'\n", {"maps/sku.csv": SKU_CSV})
    ruleset = load_rules([path])
    order = make_order(lines=lines("TEE-WHT-M", "UNKNOWN", "GIFT-25", "MUG-BLK"))
    result = apply_both(ruleset, order)
    assert [(l.sku, l.item_name, l.class_name, l.tax_code) for l in result.order.lines] == [
        ("TSHIRT-WHITE-M", "White T-shirt, medium", "Apparel", "TAX"), ("UNKNOWN", None, None, None),
        ("GIFT-CARD", 'Gift card "25"', "Gift cards", "NON"), ("MUG-BLACK-11OZ", "Black mug 11oz", "Homeware", "TAX")]
    assert result.changes[0].field == "lines[1].sku" and result.fired == ["main.rules:1"]
    untouched = make_order(lines=lines("UNKNOWN"))
    none = apply_both(ruleset, untouched)
    assert none.fired == [] and none.order is untouched  # a map with no row for the order does not fire


def test_a_map_inside_a_rule_maps_when_the_condition_holds(tmp_path):
    path = setup(tmp_path, "when store == 'Amazon' then map line.sku using 'maps/amazon.csv'\n"
                           "for each line when line.quantity > 1 then map line.sku using 'maps/bulk.csv'\n",
                 {"maps/amazon.csv": "from,to\nA,AMZ-A\nB,AMZ-B\n", "maps/bulk.csv": "from,to\nAMZ-A,BULK-A\nC,BULK-C\n"})
    ruleset = load_rules([path])
    order = make_order(store="Amazon", lines=[LineItem(sku="A", quantity=D(2)), LineItem(sku="A"), LineItem(sku="C")])
    assert [l.sku for l in apply_both(ruleset, order).order.lines] == ["BULK-A", "AMZ-A", "C"]
    web = make_order(store="Web", lines=[LineItem(sku="A", quantity=D(2)), LineItem(sku="C", quantity=D(3))])
    assert [l.sku for l in apply_both(ruleset, web).order.lines] == ["A", "BULK-C"]


def test_maps_on_order_fields(tmp_path):
    path = setup(tmp_path, "map customer.email using 'emails.csv'\nmap store using 'stores.csv'\n"
                           "map status using 'status.csv'\n",
                 {"emails.csv": "from,to,customer_ref\nana@shop.test,ana@example.org,Ana G.\n",
                  "stores.csv": "from,to,class\nAmazon US,Amazon,AZ\n",
                  "status.csv": "from,to\nawaiting_shipment,on_hold\n"})
    ruleset = load_rules([path])
    result = apply_both(ruleset, make_order(store="Amazon US", status=OrderStatus.awaiting_shipment))
    order = result.order
    assert (order.customer.email, order.customer_ref, order.store, order.class_name, order.status) == (
        "ana@example.org", "Ana G.", "Amazon", "AZ", OrderStatus.on_hold)
    assert len(result.fired) == 3


# -- checking ---------------------------------------------------------------------------------------------
BROKEN = ("from,to,item_name,clas,quantity\n"       # 1: unknown column (did you mean)
          "A,B,Item,x,1\n"
          "A,C,Item,x,2\n"                         # 3: duplicate from
          "D,,Item,x,1\n"                          # 4: empty cell
          "E,F,Item,x\n"                           # 5: too few cells
          "G,H,Item,x,two\n"                       # 6: not a number
          "\"I,J,Item,x,1\n")                      # 7: unterminated quote


def test_every_problem_of_a_table_is_positioned_in_the_csv_file(tmp_path):
    path = setup(tmp_path, "map line.sku using 'maps/sku.csv'\n", {"maps/sku.csv": BROKEN})
    _, diags, _ = check_files([path])
    csv = str(path.parent / "maps" / "sku.csv")
    assert [(d.file, d.line, d.col, d.message) for d in diags] == [
        (csv, 1, 19, "unknown column 'clas'; did you mean 'class'?"),
        (csv, 3, 1, "duplicate 'from' value 'A' (first on line 2)"),
        (csv, 4, 3, "empty cell in column 'to'"),
        (csv, 5, 1, "this row has 4 cell(s); the header has 5"),
        (csv, 6, 12, "'line.quantity' is number, not 'two'"),
        (csv, 7, 1, "unterminated quote (a cell in quotes must end on its line)"),
    ]
    report = format_report(diags)
    assert f"{csv}:3:1: error: duplicate 'from' value 'A' (first on line 2)\nA,C,Item,x,2\n^" in report


@pytest.mark.parametrize("tables, rules, expected", [
    ({}, "map line.sku using 'maps/none.csv'\n",
     "main.rules:1:20: error: map file 'maps/none.csv' not found (looked for maps/none.csv)"),
    ({"m.csv": "sku,item\nA,B\n"}, "map line.sku using 'm.csv'\n",
     "m.csv:1:1: error: the header must start with 'from,to' (then other fields to set), not 'sku,item'"),
    ({"m.csv": ""}, "map line.sku using 'm.csv'\n",
     "m.csv:1:1: error: the map is empty: its first line must be the header 'from,to'"),
    ({"m.csv": "from,to\nA,B\n"}, "map line.quantity using 'm.csv'\n",
     "main.rules:1:5: error: a map looks up text; 'line.quantity' is number"),
    ({"m.csv": "from,to,line_id\nA,B,C\n"}, "map line.sku using 'm.csv'\n",
     "m.csv:1:9: error: column 'line_id' cannot be set by a map"),
    ({"m.csv": "from,to\nA,B\n"}, "map customer using 'm.csv'\n",
     "main.rules:1:5: error: 'customer' cannot be changed by rules"),
    ({"m.csv": "from,to\nshipped,shiped\n"}, "map status using 'm.csv'\n",
     "m.csv:2:9: error: 'shiped' is not a possible value of 'status'; did you mean 'shipped'?"),
])
def test_table_errors(tmp_path, tables, rules, expected):
    path = setup(tmp_path, rules, tables)
    _, diags, _ = check_files([path])
    [error] = diags
    shown = f"{error.file}:{error.line}:{error.col}: error: {error.message}"
    assert shown.replace(str(path.parent) + "/", "") == expected


def test_rules_check_reports_the_table_and_exits_3(tmp_path):
    path = setup(tmp_path, "map line.sku using 'maps/sku.csv'\n", {"maps/sku.csv": "from,to\nA,B\nA,C\n"})
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 3
    assert f"{path.parent}/maps/sku.csv:3:1: error: duplicate 'from' value 'A' (first on line 2)" in result.output
    with pytest.raises(RuleCheckError):
        load_rules([path])


def test_a_table_used_twice_is_read_once_and_dry_run_uses_it(tmp_path):
    path = setup(tmp_path, "map line.sku using 'm.csv'\nwhen paid then map line.sku using 'm.csv'\n",
                 {"m.csv": "from,to\nA,B\nB,C\n"})
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps([make_order(lines=lines("A")).model_dump(mode="json")]))
    result = CliRunner().invoke(app, ["dry-run", str(path), "--orders", str(orders), "--json"])
    assert result.exit_code == 0, result.output
    changes = json.loads(result.stdout)[0]["changes"]
    assert [(c["field"], c["before"], c["after"]) for c in changes] == [("lines[1].sku", "A", "B"),
                                                                       ("lines[1].sku", "B", "C")]


def test_a_50000_row_table_loads(tmp_path):
    rows = "".join(f"SKU-{n},ITEM-{n},Item {n}\n" for n in range(50_000))
    path = setup(tmp_path, "map line.sku using 'big.csv'\n", {"big.csv": "from,to,item_name\n" + rows})
    ruleset = load_rules([path])
    result = ruleset.apply(make_order(lines=lines("SKU-49999", "SKU-7")))
    assert [(l.sku, l.item_name) for l in result.order.lines] == [("ITEM-49999", "Item 49999"), ("ITEM-7", "Item 7")]
