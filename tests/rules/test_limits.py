"""Bounded nesting (issue 15, finding 6): a rule nested past the documented depth is a positioned error
(exit 3) in ``rules check``, ``rules dry-run`` and ``run``, never a RecursionError; the deepest rule
allowed checks, compiles and runs in both evaluators."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from connex_core.cli.rules import app
from connex_core.rules import RuleCheckError, RuleSet, check_text, load_rules
from connex_core.rules.depth import MAX_DEPTH
from connex_core.testing.factories import make_order

runner = CliRunner()

DEEP = {
    "400 chained not": "when " + "not " * 400 + "paid then skip\n",
    "a 500-term sum": "when 1" + " + 1" * 499 + " > 3 then skip\n",
    "not inside parentheses": "when " + "(not " * 300 + "paid" + ")" * 300 + " then skip\n",
    "a deep set value": "when paid then set memo = memo" + " + memo" * 600 + "\n",
    "nested calls": "when " + "lower(" * 300 + "memo" + ")" * 300 + " == 'x' then skip\n",
}


@pytest.mark.parametrize("text", DEEP.values(), ids=list(DEEP))
def test_a_rule_past_the_limit_is_one_positioned_error(text):
    rules, diags = check_text({"deep.rules": "when paid then tag 'ok'\n" + text})
    [error] = [d for d in diags if d.is_error]
    assert error.code == "too-deep" and error.line == 2 and error.col > 1
    assert f"at most {MAX_DEPTH} are allowed" in error.message
    assert [r.line for r in rules] == [1], "the rules that are not too deep still parse"


def test_parentheses_alone_do_not_nest():
    text = "when " + "(" * 1000 + "paid" + ")" * 1000 + " then skip\n"
    rules, diags = check_text({"r.rules": text})
    assert diags == []
    assert RuleSet(rules, ["r.rules"], {"r.rules": text}).apply(make_order(paid=True)).outcome == "skip"


@pytest.mark.parametrize("depth", [MAX_DEPTH, MAX_DEPTH + 1])
def test_the_limit_is_exact_and_the_deepest_allowed_rule_runs_in_both_evaluators(depth):
    # depth counts: the '>' comparison, then depth - 2 additions, then the innermost field
    text = "when shipment.cost" + " + shipment.cost" * (depth - 2) + " > 3 then set memo = 'deep'\n"
    rules, diags = check_text({"r.rules": text})
    if depth > MAX_DEPTH:
        assert [d.code for d in diags] == ["too-deep"]
        return
    assert diags == []
    ruleset = RuleSet(rules, ["r.rules"], {"r.rules": text})
    order = make_order(shipment={"cost": "0.10"})
    assert ruleset.apply(order).order.memo == "deep"  # 49 x 0.10 > 3
    assert ruleset.explain(order)[0].order.memo == "deep"


def test_rules_check_reports_file_line_and_column_and_exits_3(tmp_path):
    path = tmp_path / "deep.rules"
    path.write_text(DEEP["400 chained not"] + DEEP["a 500-term sum"])
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 3, result.output
    assert "RecursionError" not in result.output and "Traceback" not in result.output
    found = re.findall(rf"^{re.escape(str(path))}:(\d+):(\d+): error: this rule nests \d+ levels deep", result.output,
                       re.MULTILINE)
    assert [line for line, _ in found] == ["1", "2"]


def test_rules_dry_run_exits_3(tmp_path):
    path = tmp_path / "deep.rules"
    path.write_text(DEEP["nested calls"])
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps([make_order().model_dump(mode="json")]))
    result = runner.invoke(app, ["dry-run", str(path), "--orders", str(orders)])
    assert result.exit_code == 3 and f"{path}:1:" in result.output and "Traceback" not in result.output


def test_load_rules_raises_the_positioned_error(tmp_path):
    path = tmp_path / "deep.rules"
    path.write_text(DEEP["a 500-term sum"])
    with pytest.raises(RuleCheckError) as caught:
        load_rules([path])
    assert [(d.line, d.code) for d in caught.value.errors] == [(1, "too-deep")]


def test_connex_run_exits_3_naming_the_rule_file(tmp_path):
    from connex_core.plugins import get_manager, set_manager
    from connex_core.sandbox import SimClock
    from connex_core.sandbox.runner import build_sandbox
    from tests.e2e.helpers import Sandbox, child_env, copy_default_rules, task_table

    set_manager(None)
    manager = get_manager()
    clock = SimClock(speed=2000, start=datetime(2026, 9, 20, tzinfo=timezone.utc))
    server = build_sandbox(manager, clock=clock, seed=3)
    copy_default_rules(tmp_path)
    (tmp_path / "rules" / "deep.rules").write_text(DEEP["400 chained not"])
    with server:
        box = Sandbox(folder=tmp_path, clock=clock, server=server, manager=manager)
        table = task_table("shipstation-to-quickbooks")
        table[1]["rules"] = table[1]["rules"] + ["rules/deep.rules"]
        config = box.write([table])
        proc = subprocess.run([sys.executable, "-m", "connex_core", "run", "--config", str(config)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60, env=child_env())
    assert proc.returncode == 3, proc.stderr
    assert "rules/deep.rules:1:" in proc.stderr and "levels deep" in proc.stderr
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr
