"""Rules on lines (issue 16): ``for each line`` rules read and write the current line, ``drop line``
removes it, totals follow, and runs of equality rules dispatched through one dictionary behave
exactly as the same rules run one by one (the explaining evaluator never dispatches)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from connex_core.cli.rules import app
from connex_core.models import LineItem
from connex_core.rules import RuleSet, check_text
from connex_core.rules.dispatch import Dispatch
from connex_core.testing.factories import make_order

D = Decimal


def lines(*skus: str, price: str = "10.00", **extra) -> list[LineItem]:
    return [LineItem(sku=sku, name=f"item {sku}", unit_price=D(price), **extra) for sku in skus]


def ruleset(text: str) -> RuleSet:
    rules, diags = check_text({"l.rules": text})
    assert not [d for d in diags if d.is_error], diags
    return RuleSet(rules, ["l.rules"], {"l.rules": text}, diags)


def both(rs: RuleSet, order):
    """The compiled result, after checking the explaining evaluator gives the same."""
    compiled = rs.apply(order)
    explained, _ = rs.explain(order)
    summary = lambda r: (r.outcome, r.reason, r.fired, [(c.field, c.before, c.after, c.rule, c.reason) for c in r.changes],
                         r.order.model_dump())
    assert summary(compiled) == summary(explained)
    return compiled


# -- the two examples ---------------------------------------------------------------------------
def test_a_sku_rename_changes_only_the_matching_line():
    rs = ruleset("for each line when line.sku == 'MUG-BLK' then set line.sku = 'MUG-BLACK-11OZ'\n")
    order = make_order(lines=lines("TEE", "MUG-BLK", "MUG-BLK-2"))
    result = both(rs, order)
    assert [line.sku for line in result.order.lines] == ["TEE", "MUG-BLACK-11OZ", "MUG-BLK-2"]
    assert [(c.field, c.before, c.after) for c in result.changes] == [("lines[2].sku", "MUG-BLK", "MUG-BLACK-11OZ")]
    assert [line.sku for line in order.lines] == ["TEE", "MUG-BLK", "MUG-BLK-2"], "the input is never changed"
    untouched = make_order(lines=lines("TEE"))
    assert rs.apply(untouched).order is untouched


def test_order_and_line_conditions_combine():
    rs = ruleset("for each line when store contains 'Amazon' and line.sku startswith 'FBA-' "
                 "then set line.item_name = 'Amazon ' + line.sku, set line.class = 'FBA'\n")
    amazon = both(rs, make_order(store="Amazon US", lines=lines("FBA-MUG", "MUG")))
    assert [(line.item_name, line.class_name) for line in amazon.order.lines] == [("Amazon FBA-MUG", "FBA"), (None, None)]
    ebay = both(rs, make_order(store="eBay", lines=lines("FBA-MUG")))
    assert ebay.fired == [] and ebay.order.lines[0].item_name is None


@pytest.mark.parametrize("field, value, expected", [
    ("sku", "'B'", "B"), ("item_name", "'Mug'", "Mug"), ("description", "'A mug'", "A mug"),
    ("quantity", "3", D(3)), ("unit_price", "2.50", D("2.50")), ("class", "'Web'", "Web"),
    ("tax_code", "'NON'", "NON"), ("account", "'Sales:Mugs'", "Sales:Mugs"),
])
def test_every_settable_line_field(field, value, expected):
    rs = ruleset(f"for each line when line.sku == 'A' then set line.{field} = {value}\n")
    result = both(rs, make_order(lines=lines("A")))
    attribute = "class_name" if field == "class" else field
    assert getattr(result.order.lines[0], attribute) == expected
    assert result.changes[0].field == f"lines[1].{attribute}"


def test_set_line_field_outside_a_line_rule_is_refused_with_the_way_to_write_it():
    _, diags = check_text({"l.rules": "when any line.sku == 'A' then set line.item_name = 'x'\n"})
    [error] = diags
    assert error.message == ("'line.item_name' can be changed only in a 'for each line' rule: for each line when ... "
                             "then set line.item_name ...")


# -- totals -----------------------------------------------------------------------------------------------
def test_totals_follow_quantity_and_price_changes_once_per_rule():
    rs = ruleset("for each line when line.sku startswith 'M' then set line.quantity = line.quantity * 2\n")
    order = make_order(lines=lines("M1", "M2", "T", price="5.00"), shipping=D("4.00"), tax=D("1.00"))
    assert order.total == D("20.00")
    result = both(rs, order)
    assert result.order.total == D("30.00")
    assert [(c.field, c.before, c.after) for c in result.changes if c.field == "total"] == [("total", D("20.00"), D("30.00"))]


def test_a_dropped_line_takes_its_amounts_with_it_and_keeps_the_others_numbers():
    rs = ruleset("for each line when line.sku == 'INSERT' then drop line 'free insert'\n"
                 "for each line when line.sku == 'B' then set line.sku = 'B2'\n")
    order = make_order(lines=[LineItem(sku="A", unit_price=D("10")),
                              LineItem(sku="INSERT", unit_price=D("3"), tax=D("0.30"), shipping=D("1.00")),
                              LineItem(sku="B", unit_price=D("4"))],
                       shipping=D("5.00"), tax=D("1.30"))
    result = both(rs, order)
    assert [line.sku for line in result.order.lines] == ["A", "B2"]
    assert (result.order.total, result.order.tax, result.order.shipping) == (D("19.00"), D("1.00"), D("4.00"))
    assert [(c.field, c.before, c.after, c.reason) for c in result.changes] == [
        ("lines[2]", "INSERT", None, "free insert"), ("total", D("23.30"), D("19.00"), None),
        ("tax", D("1.30"), D("1.00"), None), ("shipping", D("5.00"), D("4.00"), None),
        ("lines[3].sku", "B", "B2", None)]


def test_drop_every_line_in_a_row():
    result = both(ruleset("for each line when true then drop line\n"), make_order(lines=lines("A", "B", "C")))
    assert result.order.lines == [] and result.changes[0].reason == "rule 'l.rules:1'"
    assert [c.field for c in result.changes if c.field.startswith("lines")] == ["lines[1]", "lines[2]", "lines[3]"]


# -- run semantics ------------------------------------------------------------------------------------------
def test_each_line_rule_runs_over_all_lines_before_the_next_and_fires_once():
    rs = ruleset("for each line when line.sku == 'A' then set line.sku = 'B'\n"
                 "for each line when line.sku == 'B' then set line.sku = 'C', tag line.sku\n")
    result = both(rs, make_order(lines=lines("A", "B", "X")))
    assert [line.sku for line in result.order.lines] == ["C", "C", "X"]
    assert result.fired == ["l.rules:1", "l.rules:2"] and result.order.tags == ["C"]
    assert [c.field for c in result.changes] == ["lines[1].sku", "lines[1].sku", "tags", "lines[2].sku"]


def test_skip_in_a_line_rule_ends_the_orders_rules_keeping_earlier_changes():
    rs = ruleset("for each line when line.sku == 'A' then set line.item_name = 'a'\n"
                 "for each line when line.sku == 'GIFT' then skip 'gift cards are booked by hand'\n"
                 "when true then tag 'never'\n")
    result = both(rs, make_order(lines=lines("A", "GIFT", "A")))
    assert (result.outcome, result.reason, result.rule) == ("skip", "gift cards are booked by hand", "l.rules:2")
    assert [c.field for c in result.changes] == ["lines[1].item_name", "lines[3].item_name"]


def test_a_line_rule_failing_at_run_time_holds_the_order_naming_it():
    rs = ruleset("for each line when line.unit_price / line.discount > 1 then stop\n")
    result = both(rs, make_order(lines=lines("A")))
    assert result.outcome == "hold" and "l.rules:1" in result.reason and "division by zero" in result.reason


# -- dictionary dispatch --------------------------------------------------------------------------------------
SKU_RULES = "".join(f"for each line when line.sku == 'S{n}' then set line.sku = 'T{n}', set line.item_name = 'item {n}'\n"
                    for n in range(2000))


def test_equality_rules_on_one_field_are_dispatched_and_agree_with_one_by_one():
    rs = ruleset(SKU_RULES)
    assert [type(s).__name__ for s in rs._segments] == ["Dispatch"]
    order = make_order(lines=lines("S5", "X", "S1999", "S5"))
    result = both(rs, order)
    assert [(line.sku, line.item_name) for line in result.order.lines] == [
        ("T5", "item 5"), ("X", None), ("T1999", "item 1999"), ("T5", "item 5")]
    assert result.fired == ["l.rules:6", "l.rules:2000"]


def test_dispatch_follows_chains_to_later_rules_only():
    text = ("for each line when line.sku == 'A' then set line.sku = 'B'\n"
            "for each line when line.sku == 'C' then set line.sku = 'A'\n"
            "for each line when line.sku == 'B' then set line.sku = 'C'\n"
            "for each line when line.sku == 'Z' and store == 'Amazon' then drop line 'amazon insert'\n")
    rs = ruleset(text)
    assert isinstance(rs._segments[0], Dispatch)
    result = both(rs, make_order(store="Amazon", lines=lines("A", "C", "Z", "B")))
    # A -> B (rule 1) -> C (rule 3); C -> A (rule 2) stays A (rule 1 is earlier); B -> C (rule 3)
    assert [line.sku for line in result.order.lines] == ["C", "A", "C"]
    assert result.fired == ["l.rules:1", "l.rules:2", "l.rules:3", "l.rules:4"]
    other_store = both(rs, make_order(store="eBay", lines=lines("Z")))
    assert [line.sku for line in other_store.order.lines] == ["Z"]


def test_order_level_equality_rules_are_dispatched_too():
    text = "".join(f"when store == 'Store {n}' then set class = 'C{n}'\n" for n in range(10))
    text += "when class == 'C3' then tag 'three'\n"
    rs = ruleset(text)
    assert isinstance(rs._segments[0], Dispatch)
    result = both(rs, make_order(store="Store 3"))
    assert (result.order.class_name, result.order.tags, result.fired) == ("C3", ["three"], ["l.rules:4", "l.rules:11"])
    assert both(rs, make_order(store="Elsewhere")).fired == []


# -- dry-run diff ---------------------------------------------------------------------------------------------------
def test_dry_run_shows_line_changes_and_drops(tmp_path):
    rules = tmp_path / "l.rules"
    rules.write_text("for each line when line.sku == 'A' then set line.sku = 'B'\n"
                     "for each line when line.sku == 'FREE' then drop line 'free insert'\n")
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps([make_order(number="1001", lines=lines("FREE", "A")).model_dump(mode="json")]))
    result = CliRunner().invoke(app, ["dry-run", str(rules), "--orders", str(orders)])
    assert result.exit_code == 0, result.output
    assert f"  lines[2].sku: 'A' -> 'B'   {rules}:1\n" in result.output
    assert f"  lines[1]: 'FREE' -> dropped (free insert)   {rules}:2\n" in result.output
    as_json = CliRunner().invoke(app, ["dry-run", str(rules), "--orders", str(orders), "--json"])
    changes = json.loads(as_json.stdout)[0]["changes"]
    assert changes[1] == {"field": "lines[1]", "before": "FREE", "after": None, "rule": "l.rules:2", "line": 2,
                          "reason": "free insert"}


def test_explain_shows_each_line(tmp_path):
    rs = ruleset("for each line when line.sku == 'A' then set line.sku = 'B'\n")
    from connex_core.rules.explain import format_trace

    text = format_trace(rs.explain(make_order(lines=lines("X", "A")))[1])
    assert "for each line -> True" in text
    assert "line 1: line.sku == 'A' -> False   [line.sku = 'X']" in text
    assert "line 2: line.sku == 'A' -> True   [line.sku = 'A']" in text


def test_dispatch_on_an_enumerated_field():
    from connex_core.models import OrderStatus

    text = "".join(f"when status == '{s}' then set memo = '{s}'\n" for s in ["shipped", "cancelled", "on_hold", "open"])
    rs = ruleset(text)
    assert isinstance(rs._segments[0], Dispatch)
    result = both(rs, make_order(status=OrderStatus.on_hold))
    assert (result.order.memo, result.fired) == ("on_hold", ["l.rules:3"])
    assert both(rs, make_order(status=OrderStatus.paid)).fired == []
