"""The compiled engine and the explaining evaluator agree on random orders and random rules."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connex_core.models import LineItem, OrderStatus, Shipment
from connex_core.rules import check_text, RuleSet
from connex_core.testing.factories import make_order

ATOMS = [
    "total > 50", "total == 53.60", "amount_paid == 0", "amount_paid >= total", "shipping * 2 > tax",
    "total / discount > 2", "-discount < 0", "paid", "shipped", "split", "merged",
    "number endswith '-1'", "number endswith ci '-a'", "number startswith 'AMZ-'", "number contains '00'",
    "number matches '^\\d+$'", "customer.email endswith ci '@example.com'", "customer.email is null",
    "memo is empty", "memo is set", "memo contains 'copy'", "memo < 'm'", "store in ['Amazon', 'eBay']",
    "store not in ['Amazon']", "store == null", "status == 'shipped'", "status in ['cancelled', 'awaiting_shipment']",
    "'vip' in tags", "tags contains ci 'VIP'", "tags is empty", "class == 'AZ'", "class is null",
    "any line.sku startswith 'GIFT-'", "all line.quantity >= 2", "none line.unit_price > 15",
    "any line.tracking['Sales Channel'] == 'ShipStation'", "any (line.adjustment or line.discount > 0)",
    "order_date >= '2026-09-15'", "order_date < @2026-09-15T12:00:00Z", "paid_at is null",
    "order_date in ['2026-09-15', '2026-09-16']",
    "shipment.tracking_number is set", "shipment.cost > 3", "shipment.ship_date == '2026-09-16'",
    "lower(customer.email) contains 'shop'", "round(total / 3, 1) > 17", "upper(store) == 'AMAZON'",
    "ship_to.country != 'US'", "custom_fields['custom1'] == 'wholesale'",
]
ACTIONS = [
    "skip 'skipped'", "hold 'held'", "stop", "mark paid", "mark unpaid", "tag 'a'", "tag 'vip'", "tag number",
    "set class = 'AZ'", "set class = null", "set memo = 'x (copy)'", "set memo = number + '/' + upper(store)",
    "set shipping = total / discount", "set total = total - discount", "set number = number + '-1'",
    "strip suffix '-1'", "strip prefix 'AMZ-'", "set document_type = 'invoice'", "set status = 'shipped'",
    "set due_date = '2026-10-01'", "set paid = amount_paid > 0", "set ship_to.country = 'CA'",
]

atoms = st.sampled_from(ATOMS)
conditions = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda c: f"not {c}"),
    ),
    max_leaves=4,
)
rule_texts = st.lists(
    st.tuples(conditions, st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=3)).map(
        lambda t: f"when {t[0]} then {', '.join(t[1])}"),
    min_size=1, max_size=6,
)

money = st.sampled_from([Decimal("0"), Decimal("0.00"), Decimal("1.00"), Decimal("12.50"), Decimal("53.60")])
lines = st.lists(st.builds(
    LineItem, sku=st.sampled_from(["GIFT-10", "MUG", None]), quantity=st.sampled_from([Decimal(1), Decimal(3)]),
    unit_price=st.sampled_from([Decimal("9.99"), Decimal("20")]), discount=money,
    adjustment=st.booleans(), tracking=st.sampled_from([{}, {"Sales Channel": "ShipStation"}, {"Sales Channel": "Web"}]),
), max_size=3)
shipments = st.one_of(st.none(), st.builds(
    Shipment, tracking_number=st.sampled_from([None, "9400"]), cost=st.sampled_from([None, Decimal("3.10"), Decimal("7")]),
    ship_date=st.sampled_from([None, date(2026, 9, 16)])))
orders = st.builds(
    lambda **kw: make_order(**{k: v for k, v in kw.items() if v is not ...}),
    number=st.sampled_from(["1001", "1001-1", "77-A", "AMZ-5", "AMZ-9-1"]),
    status=st.sampled_from([None, *OrderStatus]),
    amount_paid=money, paid=st.booleans(), discount=money, shipping=money,
    store=st.sampled_from([None, "Amazon", "eBay", "Web Store"]),
    customer=st.sampled_from([{"email": None}, {"email": "x@Example.com"}, {"email": "ana@shop.test"}]),
    memo=st.sampled_from([None, "", "x (copy)", "z"]), tags=st.sampled_from([[], ["vip"], ["VIP", "a"]]),
    class_name=st.sampled_from([None, "AZ"]), split=st.booleans(), lines=lines | st.just(...),
    order_date=st.sampled_from([None, datetime(2026, 9, 15, 11, tzinfo=timezone.utc),
                                datetime(2026, 9, 15, 23, tzinfo=timezone(timedelta(hours=-7)))]),
    shipment=shipments, custom_fields=st.sampled_from([{}, {"custom1": "wholesale"}]),
    timezone=st.sampled_from([None, "America/Los_Angeles", "Asia/Tokyo"]),
    ship_to=st.sampled_from([{"country": "US"}, {"country": None}, {"country": "DE"}]),
)


def _summary(result):
    return (result.outcome, result.reason, result.rule, result.line, result.fired,
            [(c.field, c.before, c.after, c.rule, c.line) for c in result.changes], result.order.model_dump())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_texts, st.lists(orders, min_size=1, max_size=4))
def test_compiled_and_explaining_evaluators_agree(texts, order_list):
    source = "\n".join(texts) + "\n"
    rules, diags = check_text({"r.rules": source})
    assert not [d for d in diags if d.is_error], source
    ruleset = RuleSet(rules, ["r.rules"], {"r.rules": source})
    for order in order_list:
        before = order.model_dump()
        compiled = ruleset.apply(order)
        explained, traces = ruleset.explain(order)
        assert _summary(compiled) == _summary(explained), source
        event(f"outcome {compiled.outcome}, {'some' if compiled.fired else 'no'} rule fired")
        assert order.model_dump() == before, "the input order is never mutated"
        assert [t.rule.name for t in traces if t.fired] == compiled.fired or compiled.outcome == "hold"
        if not compiled.fired:
            assert compiled.order is order


# -- rules on lines (issue 16): line rules, drops, and the dictionary dispatch of equality rules ------------
LINE_ATOMS = [
    "line.sku == 'GIFT-10'", "line.sku == 'MUG'", "line.sku == 'MUG-2'", "line.sku is null", "line.sku startswith 'MUG'",
    "line.quantity > 1", "line.unit_price < 15", "line.discount > 0", "line.adjustment", "store == 'Amazon'",
    "line.tracking['Sales Channel'] == 'ShipStation'", "paid", "line.item_name is set", "line.class == 'A'",
    "total > 50", "line.amount >= 20", "line.tax_code == 'NON'",
]
LINE_ACTIONS = [
    "set line.sku = 'MUG-2'", "set line.sku = 'MUG'", "set line.sku = line.sku + '-X'", "set line.item_name = 'Mug'",
    "set line.quantity = line.quantity + 1", "set line.unit_price = 1.50", "set line.class = 'A'",
    "set line.tax_code = 'NON'", "set line.account = 'Sales'", "set line.description = store",
    "set line.discount = 0", "set line.tax = 0.10", "tag 'line'", "set class = 'L'", "drop line 'gone'", "stop",
    "skip 'line skip'", "hold 'line hold'",
]
line_conditions = st.recursive(
    st.sampled_from(LINE_ATOMS),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda c: f"not {c}"),
    ),
    max_leaves=3,
)


def _line_rule(cond: str, actions: list[str]) -> str:
    drops = [a for a in actions if a.startswith("drop")]
    actions = [a for a in actions if not a.startswith("drop")] + drops[:1]  # 'drop line' comes last
    return f"for each line when {cond} then {', '.join(actions)}"


line_rule = st.tuples(line_conditions, st.lists(st.sampled_from(LINE_ACTIONS), min_size=1, max_size=3)).map(
    lambda t: _line_rule(*t))
# runs of equality rules on line.sku (grouped into one dictionary dispatch by the compiler)
sku_run = st.lists(
    st.tuples(st.sampled_from(["GIFT-10", "MUG", "MUG-2", "MUG-X"]), st.sampled_from(["", " and paid", " and line.quantity > 1"]),
              st.lists(st.sampled_from(LINE_ACTIONS), min_size=1, max_size=2)).map(
        lambda t: _line_rule(f"line.sku == '{t[0]}'{t[1]}", t[2])),
    min_size=3, max_size=6).map("\n".join)
order_rule = st.tuples(conditions, st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=2)).map(
    lambda t: f"when {t[0]} then {', '.join(t[1])}")
mixed_texts = st.lists(st.one_of(line_rule, sku_run, order_rule), min_size=1, max_size=5)

line_items = st.lists(st.builds(
    LineItem, sku=st.sampled_from(["GIFT-10", "MUG", "MUG-2", None]), quantity=st.sampled_from([Decimal(1), Decimal(3)]),
    unit_price=st.sampled_from([Decimal("9.99"), Decimal("20")]), discount=money, tax=money,
    adjustment=st.booleans(), tracking=st.sampled_from([{}, {"Sales Channel": "ShipStation"}]),
    tax_code=st.sampled_from([None, "NON"]), class_name=st.sampled_from([None, "A"]),
), min_size=0, max_size=4)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_texts, st.lists(orders.map(lambda o: o), min_size=1, max_size=3), st.lists(line_items, min_size=3, max_size=3))
def test_compiled_and_explaining_evaluators_agree_on_line_rules(texts, order_list, line_lists):
    source = "\n".join(texts) + "\n"
    rules, diags = check_text({"r.rules": source})
    assert not [d for d in diags if d.is_error], (source, diags)
    ruleset = RuleSet(rules, ["r.rules"], {"r.rules": source})
    event(f"{sum(type(s).__name__ == 'Dispatch' for s in ruleset._segments)} dictionary dispatch(es)")
    for order, items in zip(order_list, line_lists):
        order = order.model_copy(update={"lines": items})
        before = order.model_dump()
        compiled = ruleset.apply(order)
        explained, traces = ruleset.explain(order)
        assert _summary(compiled) == _summary(explained), source
        assert [c.reason for c in compiled.changes] == [c.reason for c in explained.changes]
        assert order.model_dump() == before, "the input order is never mutated"
        if compiled.outcome != "hold":
            assert [t.rule.name for t in traces if t.fired] == compiled.fired
        event(f"outcome {compiled.outcome}, {len(compiled.changes)} change(s)")
