"""The grammar: it builds conflict-free in Lark's strict mode, and every production parses."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from connex_core.rules import ast
from connex_core.rules.parser import build_lark, grammar_text, parse_text


def test_grammar_builds_in_strict_mode():
    """strict=True fails on any shift/reduce conflict or colliding terminals (needs interegular)."""
    parser = build_lark(strict=True)
    assert parser.parse("when shipped then skip").data == "start"


def test_every_keyword_is_reserved_out_of_name():
    text = grammar_text()
    keywords = set(re.findall(r'^[A-Z_]+: "([a-z]+)"', text, re.M))
    keywords |= {"any", "all", "none", "endswith", "startswith", "contains", "matches"}
    name_rule = re.search(r"^NAME: /\(\?!\(\?:([a-z|]+)\)", text, re.M).group(1).split("|")
    assert keywords - set(name_rule) == set()


def one(text: str) -> ast.Rule:
    rules, diags = parse_text(text, "g.rules")
    assert diags == [], diags
    assert len(rules) == 1
    return rules[0]


def cond(text: str) -> ast.Expr:
    return one(f"when {text} then stop").cond


def action(text: str) -> ast.Action:
    return one(f"when shipped then {text}").actions[0]


# -- rules ------------------------------------------------------------------------------------------
def test_anon_rule_is_named_by_file_and_line():
    rule = one("\n\nwhen shipped then stop")
    assert (rule.named, rule.name, rule.line) == (False, "g.rules:3", 3)


@pytest.mark.parametrize("header", ['rule "Big orders":', "rule 'Big orders':", 'rule "Big orders"', "rule Big_orders:"])
def test_named_rule(header):
    rule = one(f"{header}\n  when total > 100\n    and paid\n  then tag 'big'")
    assert rule.named and rule.name.replace("_", " ") == "Big orders"
    assert isinstance(rule.cond, ast.BoolOp)


def test_comments_and_blank_lines_are_ignored():
    rules, diags = parse_text("# a comment\n\nwhen shipped then stop  # trailing\n# end\n", "g.rules")
    assert diags == [] and len(rules) == 1


# -- actions ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, kind, name, reason", [
    ("skip 'test order'", "skip", "", "test order"),
    ('skip "test order"', "skip", "", "test order"),
    ("skip", "skip", "", None),
    ("hold 'check it'", "hold", "", "check it"),
    ("stop", "stop", "", None),
    ("mark paid", "mark", "paid", None),
    ("mark unpaid", "mark", "unpaid", None),
    ("strip suffix", "strip", "suffix", None),
    ("strip prefix 'AMZ-'", "strip", "prefix", "AMZ-"),
])
def test_simple_actions(text, kind, name, reason):
    a = action(text)
    assert (a.kind, a.name) == (kind, name)
    assert (a.text.value if a.text else None) == reason


def test_strip_from_field():
    a = action("strip suffix '-X' from memo")
    assert a.target[0][0] == "memo" and a.text.value == "-X"


def test_set_action_with_dotted_target():
    a = action("set ship_to.country = 'US'")
    assert a.kind == "set" and [n for n, _ in a.target] == ["ship_to", "country"]
    assert isinstance(a.value, ast.Literal) and a.value.value == "US"


def test_tag_action():
    a = action("tag 'x' + number")
    assert a.kind == "tag" and isinstance(a.value, ast.BinOp)


@pytest.mark.parametrize("text, args", [("notify('ops', 2)", 2), ("notify()", 0), ("notify 'ops'", 1), ("notify", 0)])
def test_plugin_action_call_forms(text, args):
    a = action(text)
    assert a.kind == "call" and a.name == "notify" and len(a.args) == args


def test_several_actions_separated_by_commas():
    rule = one("when shipped then set class = 'A', tag 'b', stop")
    assert [a.kind for a in rule.actions] == ["set", "tag", "stop"]


# -- conditions -------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
def test_comparisons(op):
    node = cond(f"total {op} 10.50")
    assert isinstance(node, ast.Compare) and node.op == op and node.right.value == Decimal("10.50")


@pytest.mark.parametrize("op", ["endswith", "startswith", "contains", "matches"])
@pytest.mark.parametrize("ci", [False, True])
def test_text_operators(op, ci):
    node = cond(f"number {op} {'ci ' if ci else ''}'-1'")
    assert isinstance(node, ast.StrOp) and node.op == op and node.ci is ci


def test_in_and_not_in_lists():
    node = cond("status in ['shipped', \"cancelled\"]")
    assert isinstance(node, ast.In) and not node.negate and [i.value for i in node.right.items] == ["shipped", "cancelled"]
    assert cond("store not in []").negate is True


@pytest.mark.parametrize("text, test", [("memo is set", "set"), ("memo is null", "null"), ("memo is not null", "set"),
                                        ("memo is not set", "null"), ("memo is empty", "empty"),
                                        ("memo is not empty", "not_empty")])
def test_presence_tests(text, test):
    node = cond(text)
    assert isinstance(node, ast.Is) and node.test == test


def test_and_binds_tighter_than_or_and_parentheses_group():
    node = cond("paid or shipped and split")
    assert node.op == "or" and node.items[1].op == "and"
    node = cond("(paid or shipped) and split")
    assert node.op == "and" and node.items[0].op == "or"


def test_not():
    node = cond("not paid")
    assert isinstance(node, ast.Not) and isinstance(node.operand, ast.Name)


@pytest.mark.parametrize("kind", ["any", "all", "none"])
def test_quantifiers(kind):
    node = cond(f"{kind} line.sku startswith 'GIFT-'")
    assert isinstance(node, ast.Quant) and node.kind == kind and isinstance(node.body, ast.StrOp)


def test_map_index():
    node = cond("any line.tracking['Sales Channel'] == 'ShipStation'").body.left
    assert isinstance(node, ast.Index) and node.key.value == "Sales Channel"


def test_arithmetic_precedence_and_negation():
    node = cond("total - shipping * 2 > -1")
    assert node.left.op == "-" and node.left.right.op == "*"
    assert isinstance(node.right, ast.Literal) and node.right.value == Decimal("-1")
    assert isinstance(cond("-total < 0").left, ast.Neg)
    assert [i.value for i in cond("total in [-1, 2.5]").right.items] == [Decimal(-1), Decimal("2.5")]
    node = cond("(total - shipping) / 2 > 1")
    assert node.left.op == "/" and node.left.left.op == "-"


def test_function_call():
    node = cond("lower(customer.email) == 'a'").left
    assert isinstance(node, ast.Call) and node.name == "lower" and len(node.args) == 1


@pytest.mark.parametrize("text, kind, value", [
    ("'it''s'", None, None),
    ("'a\\'b'", "text", "a'b"),
    ('"double"', "text", "double"),
    ("42", "number", Decimal("42")),
    ("0.00", "number", Decimal("0.00")),
    ("@2026-09-15", "date", "2026-09-15"),
    ("@2026-09-15T08:00:00Z", "date", "2026-09-15T08:00:00Z"),
    ("true", "bool", True),
    ("false", "bool", False),
    ("null", "null", None),
])
def test_literals(text, kind, value):
    if kind is None:  # two quoted texts in a row are not one literal
        _, diags = parse_text(f"when memo == {text} then stop", "g.rules")
        assert diags
        return
    node = cond(f"memo == {text}").right
    assert isinstance(node, ast.Literal) and node.kind == kind and node.value == value
    assert type(node.value) is type(value)


def test_positions_are_one_based_and_point_at_the_text():
    text = "when shipped then stop\n  when order.number endswith '-1' then strip suffix"
    rules, _ = parse_text(text, "g.rules")
    node = rules[1].cond
    assert (node.pos.line, node.pos.col) == (2, 8)
    assert text[node.pos.start:node.pos.end] == "order.number endswith '-1'"


def test_a_5000_rule_file_parses():
    text = "".join(f"rule \"r{i}\":\n  when number endswith '-{i}' then strip suffix\n" for i in range(5000))
    rules, diags = parse_text(text, "big.rules")
    assert len(rules) == 5000 and diags == []
    assert rules[-1].name == "r4999" and rules[-1].line == 9999


# -- line scope and maps --------------------------------------------------------------------------------
def test_for_each_line_rule():
    rule = one("for each line when line.sku == 'MUG-BLK' then set line.sku = 'MUG-BLACK-11OZ'")
    assert (rule.scope, rule.scope_word[0], rule.statement, rule.name) == ("line", "line", False, "g.rules:1")
    assert rule.actions[0].target[0][0] == "line"


def test_named_line_rule_over_several_lines():
    rule = one('rule "FBA":\n  for each line\n    when store contains \'Amazon\' and line.sku startswith \'FBA-\'\n'
               '    then set line.class = \'FBA\'')
    assert (rule.name, rule.scope, rule.line) == ("FBA", "line", 1)
    assert isinstance(rule.cond, ast.BoolOp) and rule.cond.op == "and"


def test_drop_line_with_and_without_reason():
    rule = one("for each line when line.quantity == 0 then drop line 'free insert'")
    assert (rule.actions[0].kind, rule.actions[0].name, rule.actions[0].text.value) == ("drop", "line", "free insert")
    assert one("for each line when line.quantity == 0 then drop line").actions[0].text is None


@pytest.mark.parametrize("text, scope", [("map line.sku using 'maps/sku.csv'", "line"),
                                         ("map customer.email using 'emails.csv'", "order"),
                                         ("map store using 'stores.csv'", "order")])
def test_map_statement(text, scope):
    rule = one(text)
    assert (rule.statement, rule.scope, rule.cond.value) == (True, scope, True)
    [action] = rule.actions
    assert action.kind == "map" and action.path.value.endswith(".csv")


def test_map_as_an_action_and_as_a_named_rule():
    action_ = action("map line.sku using 'amazon.csv'")
    assert (action_.kind, [n for n, _ in action_.target], action_.path.value) == ("map", ["line", "sku"], "amazon.csv")
    rule = one("rule \"SKU map\": map line.sku using 'sku.csv'")
    assert (rule.name, rule.statement) == ("SKU map", True)


def test_a_file_with_errors_is_split_at_for_and_map_too():
    text = ("for each line\n  when line.sku == 'A' then set line.sku = 'B'\nmap line.sku using\n"
            "for each line when line.sku == == 'A' then stop\nwhen paid then stop\n")
    rules, diags = parse_text(text, "g.rules")
    assert [r.line for r in rules] == [1, 5]
    assert [d.line for d in diags] == [3, 4]


CORPUS = """
rule "all of it":
  when not (paid or shipped) and any line.tracking['Sales Channel'] == 'ShipStation'
    and number endswith ci '-1' and status in ['shipped'] and store not in [] and memo is set
    and memo is null and memo is empty and memo is not empty and -total * 2 / 3 + 1 - 0.5 > @2026-01-01
    and lower(customer.email) == "a" and true != false and memo == null
  then skip 'a', hold, stop, set class = 'A', strip suffix '-1' from number, mark paid, tag 'x',
       notify('ops'), notify 'ops'
rule other: when shipped then stop
when paid then stop
for each line when line.sku == 'A' and store contains 'Amazon' then set line.sku = 'B', map line.sku using 'm.csv',
  drop line 'free insert'
map line.sku using 'maps/sku.csv'
"""


def test_every_grammar_production_has_a_parse_test():
    """Every ``-> alias`` of the grammar is built while parsing the corpus above (each also has its own
    test in this file)."""
    from connex_core.rules.parser import _Builder

    aliases = set(re.findall(r"->\s*(\w+)", grammar_text())) | {"start", "when_clause", "target"}
    called: set[str] = set()

    def recording(name):
        def method(self, children):
            called.add(name)
            return getattr(_Builder, name)(self, children)

        return method

    builder = type("Recorder", (_Builder,), {name: recording(name) for name in aliases})()
    rules = build_lark(transformer=builder).parse(CORPUS)
    assert len(rules) == 5
    assert aliases - called == set()


def test_grammar_cache_lives_in_the_users_cache_folder_and_loads(tmp_path, monkeypatch):
    import stat

    from connex_core.rules.parser import cache_file

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = cache_file()
    assert path and path.startswith(str(tmp_path / "connex"))
    assert stat.S_IMODE((tmp_path / "connex").stat().st_mode) == 0o700
    first = build_lark(cache=path).parse("when shipped then stop")
    assert Path(path).exists()
    second = build_lark(cache=path).parse("when shipped then stop")  # loaded from the cache
    assert first == second


def test_a_large_file_parsed_shape_by_shape_is_exactly_the_whole_file_parse(monkeypatch):
    """Rules that differ only in their texts are parsed once (templates.py); the trees must be identical,
    positions and names included, to those of parsing the whole file."""
    from connex_core.rules import templates

    shapes = [
        "for each line when line.sku == 'S-{n}' then set line.sku = 'T-{n}'\n",
        "rule \"rename {n}\":\n  for each line\n    when line.sku == \"Q\\\"{n}\" then set line.item_name = 'It\\'s {n}'  # c'mon\n",
        "when store contains 'Amazon {n}' and any line.sku startswith 'F-{n}' then tag 'a{n}', skip 'x {n}'\n",
        "rule r{n}: when number endswith '-{n}' then strip suffix\n",
        "map line.sku using 'maps/{n}.csv'\n",
        "# a comment with 'quotes {n}'\n\nfor each line when line.quantity > {n} then drop line 'bulk {n}'\n",
    ]
    text = "".join(shapes[n % len(shapes)].format(n=n) for n in range(600))
    fast, diags = parse_text(text, "big.rules")
    assert diags == [] and len(fast) == 600
    monkeypatch.setattr(templates, "MIN_RULES", 10**9)
    whole, _ = parse_text(text, "big.rules")
    assert [repr(r) for r in fast] == [repr(r) for r in whole]
    assert fast[1].name == 'rename 1' and fast[1].cond.right.value == 'Q"1' and fast[1].actions[0].value.value == "It's 1"
