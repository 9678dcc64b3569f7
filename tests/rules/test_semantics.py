"""What rules do to orders: the user's examples, every operator and action, and the run semantics."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from connex_core.models import LineItem, OrderStatus, Shipment
from connex_core.testing.factories import make_order


# -- the user's two examples, exactly as written ------------------------------------------------------
def test_split_order_suffix_is_stripped(rules_from):
    rules = rules_from("when order.number endswith '-1' then strip suffix\n")
    result = rules.apply(make_order(number="1001-1"))
    assert result.order.number == "1001" and result.outcome == "sync"
    assert [(c.field, c.before, c.after, c.line) for c in result.changes] == [("number", "1001-1", "1001", 1)]
    assert rules.apply(make_order(number="1001-2")).order.number == "1001-2"


def test_shipped_with_nothing_paid_is_marked_unpaid(rules_from):
    rules = rules_from("when shipped and amount_paid == 0 then mark unpaid\n")
    order = make_order(status=OrderStatus.shipped, amount_paid=Decimal("0.00"), paid=True)
    result = rules.apply(order)
    assert result.order.paid is False and result.order.amount_paid == Decimal("0.00")
    assert order.paid is True, "the input order is never mutated"
    paid_order = make_order(status=OrderStatus.shipped, amount_paid=Decimal("12.00"), paid=True)
    assert rules.apply(paid_order).order.paid is True
    unshipped = make_order(status=OrderStatus.awaiting_shipment, amount_paid=Decimal("0"), paid=True)
    assert rules.apply(unshipped).order.paid is True


def test_both_examples_together_double_quotes(rules_from):
    rules = rules_from('when order.number endswith "-1" then strip suffix\n'
                       'when shipped and amount_paid == 0 then mark unpaid\n')
    result = rules.apply(make_order(number="1001-1", status=OrderStatus.shipped, amount_paid=Decimal(0)))
    assert (result.order.number, result.order.paid) == ("1001", False)
    assert result.fired == ["test.rules:1", "test.rules:2"]


# -- run semantics ----------------------------------------------------------------------------------------
def test_nothing_fired_returns_the_same_order_object(rules_from):
    rules = rules_from("when number endswith '-9' then strip suffix\n")
    order = make_order()
    result = rules.apply(order)
    assert result.order is order and result.fired == [] and result.changes == [] and result.outcome == "sync"


def test_later_rules_see_earlier_changes(rules_from):
    rules = rules_from("when store == 'Amazon' then set class = 'AZ'\n"
                       "when class == 'AZ' then tag 'amazon'\n")
    result = rules.apply(make_order(store="Amazon"))
    assert result.order.class_name == "AZ" and result.order.tags == ["amazon"]


def test_skip_ends_the_rules(rules_from):
    rules = rules_from("rule \"tests\": when customer.email endswith ci '@EXAMPLE.com' then skip 'test order'\n"
                       "when shipped or not shipped then tag 'later'\n")
    result = rules.apply(make_order(customer={"email": "x@example.com"}))
    assert (result.outcome, result.reason, result.rule, result.line) == ("skip", "test order", "tests", 1)
    assert result.order.tags == [] and result.fired == ["tests"]


def test_hold_ends_the_rules_and_keeps_earlier_changes(rules_from):
    rules = rules_from("when paid then set memo = 'm'\nwhen total > 10 then hold 'big'\nwhen paid then tag 'x'\n")
    result = rules.apply(make_order())
    assert (result.outcome, result.reason, result.line) == ("hold", "big", 2)
    assert result.order.memo == "m" and result.order.tags == []


def test_skip_without_reason_names_the_rule(rules_from):
    result = rules_from("rule \"r\": when paid then skip\n").apply(make_order())
    assert result.outcome == "skip" and "'r'" in result.reason


def test_stop_keeps_changes_and_syncs(rules_from):
    rules = rules_from("when paid then set memo = 'a', stop\nwhen paid then set memo = 'b'\n")
    result = rules.apply(make_order())
    assert (result.outcome, result.order.memo) == ("sync", "a")
    assert result.fired == ["test.rules:1"]


def test_runtime_failure_holds_the_order_naming_rule_and_line(rules_from):
    rules = rules_from("when paid then tag 'ok'\n\nrule \"ratio\":\n  when total / discount > 2 then tag 'x'\n")
    result = rules.apply(make_order(discount=Decimal("0")))
    assert result.outcome == "hold" and result.rule == "ratio" and result.line == 3
    assert "'ratio'" in result.reason and "test.rules:3" in result.reason
    assert result.order.tags == ["ok"]
    assert rules.apply(make_order(discount=Decimal("1.00"))).outcome == "sync"


def test_runtime_failure_in_the_first_rule_is_held_too(rules_from):
    result = rules_from("when total / discount > 2 then tag 'x'\n").apply(make_order(discount=Decimal(0)))
    assert result.outcome == "hold" and result.line == 1 and result.fired == []


def test_conflicting_writes_the_later_rule_wins_and_both_changes_are_listed(rules_from):
    rules = rules_from("when store == 'Amazon' then set class = 'AZ'\nwhen total > 1 then set class = 'T'\n")
    result = rules.apply(make_order(store="Amazon"))
    assert result.order.class_name == "T"
    assert [(c.before, c.after, c.line) for c in result.changes] == [(None, "AZ", 1), ("AZ", "T", 2)]
    assert len(rules.warnings) == 1 and "class_name" in rules.warnings[0].message


# -- actions ----------------------------------------------------------------------------------------------
def test_mark_paid_sets_the_flag_only(rules_from):
    result = rules_from("when not paid then mark paid\n").apply(make_order(paid=False, amount_paid=Decimal(0)))
    assert result.order.paid is True and result.order.amount_paid == 0


def test_strip_explicit_suffix_and_prefix(rules_from):
    rules = rules_from("when store == 'Amazon' then strip suffix '-A', strip prefix 'AMZ-'\n")
    assert rules.apply(make_order(number="AMZ-55-A", store="Amazon")).order.number == "55"
    assert rules.apply(make_order(number="X-55", store="Amazon")).order.number == "X-55"


def test_strip_suffix_case_insensitive_from_the_condition(rules_from):
    rules = rules_from("when number endswith ci '-a' then strip suffix\n")
    assert rules.apply(make_order(number="77-A")).order.number == "77"


def test_strip_from_another_field(rules_from):
    rules = rules_from("when memo endswith ' (copy)' then strip suffix\n")
    assert rules.apply(make_order(memo="hello (copy)")).order.memo == "hello"


def test_tag_is_added_once(rules_from):
    rules = rules_from("when paid then tag 'x', tag 'x'\n")
    result = rules.apply(make_order(tags=["a"]))
    assert result.order.tags == ["a", "x"] and len(result.changes) == 1
    assert rules.apply(make_order(tags=["x"])).changes == []


def test_set_enum_date_nested_and_computed_values(rules_from):
    rules = rules_from("when paid then set document_type = 'invoice', set due_date = '2026-10-01', "
                       "set ship_to.country = 'CA', set memo = 'Order ' + number + ' for ' + upper(customer.name), "
                       "set shipping = round(total * 0.1, 2)\n")
    order = rules.apply(make_order()).order
    assert order.document_type.value == "invoice" and order.due_date == date(2026, 10, 1)
    assert order.ship_to.country == "CA" and order.memo == "Order 1001 for ANA GARCÍA"
    assert order.shipping == Decimal("5.36")


def test_enum_values_are_text_in_tags_and_texts(rules_from):
    rules = rules_from("when paid then tag status, set memo = 'status: ' + status\n")
    order = rules.apply(make_order(status=OrderStatus.shipped)).order
    assert order.tags == ["shipped"] and order.memo == "status: shipped"
    assert type(order.tags[0]) is str


def test_set_keeps_the_digits_written(rules_from):
    rules = rules_from("when total == 53.6 then set tax = 7.0, set discount = 7\n")
    order = rules.apply(make_order()).order
    assert (str(order.tax), str(order.discount)) == ("7.0", "7")


def test_set_to_null(rules_from):
    assert rules_from("when paid then set memo = null\n").apply(make_order(memo="x")).order.memo is None


# -- conditions ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("condition, expected", [
    ("total == 53.60", True), ("total == 53.6", True), ("total != 53.60", False), ("total > 53", True),
    ("total >= 53.60", True), ("total < 53.60", False), ("total <= 53.60", True),
    ("amount_paid == total", True), ("total - tax - shipping == line_total", True),
    ("number startswith '10'", True), ("number contains '00'", True), ("number matches '^\\d{4}$'", True),
    ("customer.email endswith 'SHOP.TEST'", False), ("customer.email endswith ci 'SHOP.TEST'", True),
    ("customer.name contains ci 'garcía'", True), ("customer.name matches ci '^ana'", True),
    ("status == 'awaiting_shipment'", True), ("status in ['shipped', 'cancelled']", False),
    ("status not in ['shipped', 'cancelled']", True), ("store in ['Web Store']", True),
    ("memo is null", True), ("memo is set", False), ("memo is empty", True), ("notes is not empty", False),
    ("tags is empty", True), ("lines is not empty", True), ("'vip' in tags", False), ("tags contains 'vip'", False),
    ("paid and not shipped", True), ("not (paid or shipped)", False), ("split or merged", False),
    ("any line.sku startswith 'MUG'", True), ("all line.quantity >= 1", True), ("none line.unit_price > 100", True),
    ("any (line.sku == 'TEE-L' and line.quantity == 1)", True), ("all line.sku == 'MUG-BLU'", False),
    ("any line.tracking['Sales Channel'] == 'ShipStation'", False),
    ("order_date >= '2026-09-15'", True), ("order_date > @2026-09-15", False),
    ("order_date < '2026-09-15T19:00:00Z'", True), ("order_date == @2026-09-15", True),
    ("order_date in ['2026-09-14', @2026-09-15]", True), ("order_date not in ['2026-09-15']", False),
    ("order_date in ['2026-09-15T18:30:00Z']", True),
    ("created_at >= @2026-01-01 and created_at < @2027-01-01", True),
    ("shipment is null", True), ("shipment.tracking_number is set", False),
    ("lower(customer.email) == 'ana@shop.test'", True), ("ship_to.state == 'TX'", True),
    ("custom_fields['custom1'] is null", True), ("-total < 0", True), ("total * 2 > 100", True),
    ("true", True), ("memo == null", True), ("memo != 'x'", True), ("memo startswith 'x'", False),
    ("memo < 'x'", False),
])
def test_conditions(rules_from, condition, expected):
    rules = rules_from(f"when {condition} then tag 'hit'\n")
    order = make_order()
    assert (rules.apply(order).fired != []) is expected
    assert bool(rules.explain(order)[1][0].fired) is expected, "the explaining evaluator agrees"


def test_named_predicates_and_shipment(rules_from):
    rules = rules_from("when shipped and shipment.carrier == 'usps' and shipment.ship_date >= '2026-09-01' "
                       "then tag 'usps'\n")
    shipped = make_order(shipment=Shipment(carrier="usps", tracking_number="9400", ship_date=date(2026, 9, 16)))
    assert rules.apply(shipped).order.tags == ["usps"]
    assert rules.apply(make_order()).fired == []


def test_dates_compare_by_the_day_in_the_source_time_zone(rules_from):
    from zoneinfo import ZoneInfo

    rules = rules_from("when order_date == '2026-09-15' then tag 'the 15th'\n")
    pacific = ZoneInfo("America/Los_Angeles")
    late_evening = make_order(order_date=datetime(2026, 9, 15, 23, 30, tzinfo=pacific))  # 16th in UTC
    assert rules.apply(late_evening).order.tags == ["the 15th"]
    next_day_utc = make_order(order_date=datetime(2026, 9, 16, 1, 0, tzinfo=timezone.utc))
    assert rules.apply(next_day_utc).fired == []
    # the same instant, for a source whose local time is Pacific: still the 15th there
    pacific_source = make_order(order_date=datetime(2026, 9, 16, 1, 0, tzinfo=timezone.utc),
                                timezone="America/Los_Angeles")
    assert rules.apply(pacific_source).order.tags == ["the 15th"]
    assert rules.explain(pacific_source)[1][0].fired
    unknown_zone = make_order(order_date=datetime(2026, 9, 15, 12, tzinfo=timezone.utc), timezone="Mars/Base")
    assert rules.apply(unknown_zone).order.tags == ["the 15th"]


def test_money_is_decimal_exact(rules_from):
    rules = rules_from("when total == 0.3 then tag 'exact'\n")
    lines = [LineItem(sku="A", quantity=Decimal(1), unit_price=Decimal("0.1")),
             LineItem(sku="B", quantity=Decimal(1), unit_price=Decimal("0.2"))]
    order = make_order(lines=lines, shipping=Decimal(0), tax=Decimal(0))
    assert rules.apply(order).order.tags == ["exact"]


def test_null_operands_make_comparisons_false(rules_from):
    rules = rules_from("when customer.email endswith '.test' or shipment.cost > 1 or paid_at < @2030-01-01 "
                       "then tag 'x'\n")
    order = make_order(customer={"email": None})
    assert rules.apply(order).fired == []


def test_a_file_saved_with_a_byte_order_mark_loads(tmp_path, manager):
    from connex_core.rules import load_rules

    path = tmp_path / "bom.rules"
    path.write_bytes("\ufeffwhen order.number endswith '-1' then strip suffix\n".encode("utf-8"))
    assert load_rules([path], manager=manager).apply(make_order(number="9-1")).order.number == "9"
