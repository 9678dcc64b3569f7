"""Fuzzing: random and mutated rule text never raises anything but positioned diagnostics."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connex_core.rules import RuleSet, check_text
from connex_core.rules.diagnostics import source_lines
from connex_core.testing.factories import make_order

from .conftest import ROOT

SEEDS = [p.read_text() for p in sorted((ROOT / "rules").rglob("*.rules"))] + [
    "when order.number endswith '-1' then strip suffix\nwhen shipped and amount_paid == 0 then mark unpaid\n",
    "rule \"x\":\n  when any line.tracking['Sales Channel'] == 'ShipStation' and total / 2 > @2026-01-01\n"
    "  then set memo = lower(number) + \"-\", tag 'y', stop\n",
]
VOCAB = ["when", "then", "rule", "and", "or", "not", "in", "is", "set", "null", "empty", "any", "all", "none", "ci",
         "endswith", "matches", "skip", "hold", "stop", "strip", "suffix", "mark", "tag", "from", "line", "order",
         "==", "=", "!=", "<", ">=", "(", ")", "[", "]", ",", ".", ":", "+", "-", "*", "/", "'", '"', "'x'", "0",
         "1.5", "@2026-13-45", "@2026-01-01T10:00", "#", "\n", "\t", "\\", "é", "\x00", "total", "lines", "tracking",
         "status", "'shiped'", "lower(", "numbr", "true", "false", "$", "&&", "'(a+)+'",
         "\x0c", "\r\n", "\x0b", "\u2028", "\r"]
order = make_order(number="1001-1")


def assert_positioned(text: str) -> None:
    rules, diags = check_text({"f.rules": text})
    n_lines = text.count("\n") + 1
    for d in diags:
        assert d.file == "f.rules" and 1 <= d.line <= n_lines + 1 and d.col >= 1, (text, d)
        assert d.severity in ("error", "warning") and d.message
        assert d.source_line == source_lines(text)[d.line - 1] if d.line <= n_lines else d.source_line == ""
    if not any(d.is_error for d in diags):
        RuleSet(rules, ["f.rules"], {"f.rules": text}).apply(order)  # compiles and runs without raising


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=120))
def test_random_text(text):
    assert_positioned(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(VOCAB), max_size=30).map(" ".join))
def test_random_token_soup(text):
    assert_positioned(text)


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "replace"]))
        length = draw(st.integers(1, 8))
        piece = draw(st.sampled_from(VOCAB))
        if kind == "delete":
            text = text[:at] + text[at + length:]
        elif kind == "insert":
            text = text[:at] + " " + piece + " " + text[at:]
        else:
            text = text[:at] + piece + text[at + length:]
    return text


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_rule_files(text):
    assert_positioned(text)
