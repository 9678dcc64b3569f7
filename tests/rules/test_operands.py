"""Each operator on present, missing and differently-cased operands, on either side, in both evaluators.

Every case runs through the compiled rules *and* the explaining evaluator (``connex rules dry-run
--explain``), so the two cannot drift apart on the cases random orders rarely produce: a missing
value on the right of an ordering, two missing operands, a needle and a haystack that are both fields.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from connex_core.models import Shipment
from connex_core.testing.factories import make_order


@pytest.fixture
def fires(rules_from):
    """``fires(condition, order)``: whether ``when <condition> then tag 'hit'`` fires, checked to be the
    same answer in the compiled rules and in the explaining evaluator."""

    def check(cond: str, order) -> bool:
        rules = rules_from(f"when {cond} then tag 'hit'\n")
        compiled = rules.apply(order)
        explained, _ = rules.explain(order)
        assert compiled.fired == explained.fired, f"{cond}: compiled {compiled.fired}, explained {explained.fired}"
        assert compiled.order.tags == explained.order.tags
        # a condition that raised holds the order (a run-time rule error): none of these may
        assert compiled.outcome == explained.outcome == "sync", (cond, compiled.reason)
        return bool(compiled.fired)

    return check


NO_SHIPMENT = make_order(total=Decimal("10"), discount=Decimal("2"), shipment=None)
COST_10 = make_order(total=Decimal("10"), discount=Decimal("2"), shipment=Shipment(cost=Decimal("10")))


@pytest.mark.parametrize("op, present", [("<", False), ("<=", True), (">", False), (">=", True)])
def test_an_ordering_with_a_missing_operand_on_either_side_is_false(fires, op, present):
    # total is 10 and the shipment cost is 10 when there is one: <= and >= hold, < and > do not
    assert fires(f"total {op} shipment.cost", COST_10) is present
    assert fires(f"shipment.cost {op} total", COST_10) is present
    assert fires(f"total {op} shipment.cost", NO_SHIPMENT) is False
    assert fires(f"shipment.cost {op} total", NO_SHIPMENT) is False
    # false, not "unknown": its negation holds
    assert fires(f"not (total {op} shipment.cost)", NO_SHIPMENT) is True
    assert fires(f"not (shipment.cost {op} total)", NO_SHIPMENT) is True


@pytest.mark.parametrize("memo, klass, expected", [
    ("a", "b", True), ("b", "a", False), (None, "b", False), ("a", None, False), (None, None, False)])
def test_an_ordering_of_two_nullable_fields(fires, memo, klass, expected):
    assert fires("memo < class", make_order(memo=memo, class_name=klass)) is expected


def test_arithmetic_on_a_missing_value_is_missing_on_either_side(fires):
    assert fires("shipment.cost + total > 1", NO_SHIPMENT) is False
    assert fires("total - shipment.cost < 100", NO_SHIPMENT) is False
    assert fires("shipment.cost * shipment.cost >= 0", NO_SHIPMENT) is False
    assert fires("-shipment.cost < 0", NO_SHIPMENT) is False
    assert fires("(shipment.cost + total) is null", NO_SHIPMENT) is True
    assert fires("total - shipment.cost == 0", COST_10) is True
    assert fires("-shipment.cost < 0", COST_10) is True
    assert fires("discount - total == -8", COST_10) is True


@pytest.mark.parametrize("tags, expected", [(["VIP"], True), (["vip", "x"], True), (["other"], False),
                                            (["vipx"], False), ([], False)])
def test_contains_ci_on_a_list_matches_one_whole_item_in_any_case(fires, tags, expected):
    assert fires("tags contains ci 'Vip'", make_order(tags=tags)) is expected


@pytest.mark.parametrize("tags, memo, expected", [
    (["X"], "x", True), (["y"], "x", False), (["x"], None, False), ([], None, False)])
def test_contains_ci_on_a_list_with_a_field_needle(fires, tags, memo, expected):
    assert fires("tags contains ci memo", make_order(tags=tags, memo=memo)) is expected


def test_contains_on_a_list_is_case_sensitive_and_a_missing_needle_is_not_in_it(fires):
    assert fires("tags contains 'vip'", make_order(tags=["vip"])) is True
    assert fires("tags contains 'vip'", make_order(tags=["VIP"])) is False
    assert fires("tags contains memo", make_order(tags=["x"], memo=None)) is False
    assert fires("tags contains memo", make_order(tags=["x"], memo="x")) is True


@pytest.mark.parametrize("cond, number, memo, expected", [
    # the haystack is on the left, the needle on the right
    ("number startswith memo", "AB-1", "AB", True),
    ("memo startswith number", "AB-1", "AB", False),
    ("number startswith memo", "AB-1", "-1", False),
    ("number endswith memo", "AB-1", "-1", True),
    ("memo endswith number", "AB-1", "-1", False),
    ("number endswith memo", "AB-1", "AB", False),
    ("number contains memo", "AB-1", "B-", True),
    ("memo contains number", "AB-1", "B-", False),
    ("number contains memo", "AB-1", "C", False),
    # ci lowers both sides, whichever has the capitals
    ("number startswith ci memo", "ab-1", "AB", True),
    ("number startswith ci memo", "AB-1", "ab", True),
    ("number endswith ci memo", "ab-X", "-x", True),
    ("number contains ci memo", "xaBx", "Ab", True),
    ("number contains ci memo", "xaBx", "Ac", False),
    ("number startswith memo", "ab-1", "AB", False),
    # a missing operand on either side: false, and so is its ci form
    ("number startswith memo", "AB-1", None, False),
    ("memo startswith number", "AB-1", None, False),
    ("memo endswith ci number", "AB-1", None, False),
    ("number contains ci memo", "AB-1", None, False),
    ("memo contains number", "AB-1", None, False),
])
def test_string_operators_between_two_fields(fires, cond, number, memo, expected):
    assert fires(cond, make_order(number=number, memo=memo)) is expected


def test_string_operators_on_two_nullable_fields(fires):
    assert fires("memo endswith class", make_order(memo="xAZ", class_name="AZ")) is True
    assert fires("memo endswith class", make_order(memo=None, class_name="AZ")) is False
    assert fires("memo endswith class", make_order(memo="AZ", class_name=None)) is False
    assert fires("memo endswith class", make_order(memo=None, class_name=None)) is False
    assert fires("not (memo endswith class)", make_order(memo=None, class_name=None)) is True


def test_string_operators_with_a_literal_needle(fires):
    assert fires("memo startswith ci 'AB'", make_order(memo="abc")) is True
    assert fires("memo startswith 'AB'", make_order(memo="abc")) is False
    assert fires("memo endswith ci 'C'", make_order(memo="abc")) is True
    assert fires("memo contains ci 'B'", make_order(memo="abc")) is True
    assert fires("memo contains 'B'", make_order(memo="abc")) is False
    assert fires("memo contains 'b'", make_order(memo=None)) is False
    assert fires("not (memo matches 'a')", make_order(memo=None)) is True
    assert fires("memo matches 'b.$'", make_order(memo="abc")) is True
    assert fires("memo matches '^b'", make_order(memo="abc")) is False


def test_equality_with_a_missing_value_compares_it_as_null(fires):
    assert fires("memo == null", make_order(memo=None)) is True
    assert fires("memo != 'x'", make_order(memo=None)) is True
    assert fires("shipment.cost == total", NO_SHIPMENT) is False
    assert fires("shipment.cost != total", NO_SHIPMENT) is True
    assert fires("shipment.cost != total", COST_10) is False


def test_a_value_computed_from_a_missing_field_is_missing(rules_from):
    rules = rules_from("when memo is set or memo is null then set class = memo + '/' + number\n")
    assert rules.apply(make_order(memo=None, number="7")).order.class_name is None
    assert rules.apply(make_order(memo="m", number="7")).order.class_name == "m/7"


def test_equal_constants_of_different_types_stay_apart(rules_from):
    rules = rules_from("when total == 1 then set memo = '1'\nwhen total == 1.0 then set class = '1.0'\n"
                       "when memo == '1' then tag '1'\n")
    result = rules.apply(make_order(total=Decimal("1")))
    assert (result.order.memo, result.order.class_name, result.order.tags) == ("1", "1.0", ["1"])


def test_a_field_of_a_missing_parent_is_missing_even_when_the_field_itself_never_is(fires):
    # shipment is optional; its `voided` is a plain bool, never None when there is a shipment
    assert fires("shipment.voided", NO_SHIPMENT) is False
    assert fires("shipment.voided is null", NO_SHIPMENT) is True
    assert fires("shipment.voided == false", make_order(shipment=Shipment(voided=False))) is True
    assert fires("shipment.voided", make_order(shipment=Shipment(voided=True))) is True


@pytest.mark.parametrize("cond, tags, expected", [
    ("tags == []", [], True), ("tags == []", ["vip"], False), ("tags == ['vip']", ["vip"], True),
    ("tags == ['vip']", ["VIP"], False), ("tags != ['vip']", ["vip"], False), ("tags != ['vip']", [], True),
    ("['a', 'b'] == tags", ["a", "b"], True), ("tags == ['b', 'a']", ["a", "b"], False)])
def test_a_list_field_equals_a_list_literal_with_the_same_items_in_order(fires, cond, tags, expected):
    assert fires(cond, make_order(tags=tags)) is expected


@pytest.mark.parametrize("cond, expected", [
    ("order_date == '2026-09-15'", True), ("'2026-09-15' == order_date", True),
    ("'2026-09-16' == order_date", False), ("'2026-09-14' < order_date", True), ("'2026-09-15' < order_date", False),
    ("'2026-09-15' <= order_date", True), ("order_date < '2026-09-16'", True), ("'2026-09-16' > order_date", True)])
def test_a_date_compared_with_a_datetime_is_its_local_day_on_either_side(fires, cond, expected):
    # 23:00 on the 15th in Los Angeles is already the 16th in UTC: the order's own day counts
    order = make_order(order_date=datetime(2026, 9, 16, 6, 0, tzinfo=timezone.utc), timezone="America/Los_Angeles")
    assert fires(cond, order) is expected
    assert fires(cond, make_order(order_date=None)) is ("!=" in cond)
