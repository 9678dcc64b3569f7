"""``connex rules check`` / ``dry-run`` / ``fields``: output, JSON shapes and exit codes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
from typer.testing import CliRunner

from connex_core.cli.rules import app
from connex_core.connector import Connector
from connex_core.hookspecs import hookimpl
from connex_core.models import LineItem, Order, OrderStatus
from connex_core.plugins import PluginManager, set_manager
from connex_core.testing.factories import make_order

from .conftest import ROOT

FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()

RULES = """when order.number endswith '-1' then strip suffix
when shipped and amount_paid == 0 then mark unpaid
rule "skip test orders":
  when customer.email endswith ci '@example.com' then skip 'test order'
when store == 'Amazon' then set class = 'AZ'
when total > 100 then set class = 'BIG'
when total / discount > 1000 then tag 'odd'
"""


def invoke(*args: Any):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def rule_file(tmp_path: Path) -> Path:
    path = tmp_path / "main.rules"
    path.write_text(RULES)
    return path


@pytest.fixture
def orders_file(tmp_path: Path) -> Path:
    orders = [
        make_order(number="1001-1", source_id="1", status=OrderStatus.shipped, amount_paid=Decimal("0"),
                   discount=Decimal("1.00")),
        make_order(number="1002", source_id="2", customer={"email": "qa@Example.com"}, discount=Decimal("1.00")),
        make_order(number="1003", source_id="3", store="Amazon", total=Decimal("150.00"), discount=Decimal("1.00"),
                   # lines that add up to the total (an order whose total disagrees with its lines is held by default)
                   lines=[LineItem(sku="LAMP", name="Lamp", quantity=Decimal("1"), unit_price=Decimal("142.40"))]),
        make_order(number="1004", source_id="4", discount=Decimal("0")),
    ]
    path = tmp_path / "orders.json"
    path.write_text(json.dumps([o.model_dump(mode="json") for o in orders]))
    return path


# -- check --------------------------------------------------------------------------------------------
def test_check_clean_files_exit_0(rule_file):
    result = invoke("check", rule_file)
    assert result.exit_code == 0, result.output
    assert "6 rule(s) in 1 file(s): 0 error(s), 1 warning(s)" in result.stderr
    assert result.stdout == ""


def test_check_errors_exit_3_with_positions(tmp_path):
    bad = tmp_path / "bad.rules"
    bad.write_text("when numbr == '1' then stop\nwhen status == 'shiped' then stop\n")
    result = invoke("check", bad)
    assert result.exit_code == 3
    assert f"{bad}:1:6: error: unknown field 'numbr'; did you mean 'number'?" in result.stderr
    assert f"{bad}:2:16: error: 'shiped' is not a possible value; did you mean 'shipped'?" in result.stderr


def test_check_json(tmp_path, rule_file):
    result = invoke("check", rule_file, "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["ok"] is True and data["rules"] == 6 and data["errors"] == 0
    (warning,) = data["diagnostics"]
    assert warning["severity"] == "warning" and warning["code"] == "conflicting-writes" and warning["line"] == 6


def test_check_strict_turns_warnings_into_errors(rule_file):
    result = invoke("check", rule_file, "--strict", "--json")
    assert result.exit_code == 3 and json.loads(result.stdout)["diagnostics"][0]["severity"] == "error"


def test_check_missing_file_is_a_usage_error(tmp_path):
    assert invoke("check", tmp_path / "nope.rules").exit_code == 2


def test_every_shipped_rule_file_passes_check_strict():
    files = sorted((ROOT / "rules").rglob("*.rules"))
    assert len(files) >= 6
    for path in files:
        result = invoke("check", path, "--strict")
        assert result.exit_code == 0, result.stderr


# -- dry-run ----------------------------------------------------------------------------------------------
def test_dry_run_json(rule_file, orders_file):
    result = invoke("dry-run", rule_file, "--orders", orders_file, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [o["order"] for o in out] == ["1001-1", "1002", "1003", "1004"]
    first = out[0]
    assert first == {
        "order": "1001-1", "outcome": "sync", "reason": None, "fired": ["main.rules:1", "main.rules:2"],
        "changes": [{"field": "number", "before": "1001-1", "after": "1001", "rule": "main.rules:1", "line": 1},
                    {"field": "paid", "before": True, "after": False, "rule": "main.rules:2", "line": 2}],
    }
    assert (out[1]["outcome"], out[1]["reason"], out[1]["fired"]) == ("skip", "test order", ["skip test orders"])
    assert [(c["after"], c["line"]) for c in out[2]["changes"]] == [("AZ", 5), ("BIG", 6)]
    assert out[3]["outcome"] == "hold"
    assert out[3]["reason"] == f"the rule at {rule_file}:7 failed: division by zero"
    assert "summary: 4 order(s): 2 sync, 1 skip, 1 hold" in result.stderr


def test_dry_run_text_shows_changes_winner_and_summary(rule_file, orders_file):
    result = invoke("dry-run", rule_file, "--orders", orders_file)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "order 1001-1: sync   fired: main.rules:1, main.rules:2" in out
    assert f"  number: '1001-1' -> '1001'   {rule_file}:1\n" in out
    assert "order 1002: skip (test order)" in out
    assert "class_name: null -> 'AZ'" in out and "(overridden by 'main.rules:6', line 6)" in out
    assert "skip test orders" in out and "fired 1 time(s)" in out
    assert f"  never fired: main.rules:7 ({rule_file}:7)" in out
    assert f"  main.rules:7 ({rule_file}:7): failed on 1 order(s), held" in out


@pytest.mark.parametrize("layout", ["list", "wrapped", "lines", "one"])
def test_dry_run_reads_every_canonical_layout(tmp_path, rule_file, layout):
    orders = [make_order(number="5-1", source_id="5"), make_order(number="6", source_id="6")]
    dumped = [o.model_dump(mode="json") for o in orders]
    text = {"list": json.dumps(dumped, indent=1), "wrapped": json.dumps({"orders": dumped}, indent=2),
            "lines": "\n".join(json.dumps(d) for d in dumped) + "\n", "one": json.dumps(dumped[0], indent=2)}[layout]
    path = tmp_path / "orders.json"
    path.write_text(text)
    result = invoke("dry-run", rule_file, "--orders", path, "--json")
    assert result.exit_code == 0, result.output
    assert [o["order"] for o in json.loads(result.stdout)] == ["5-1", "6"][: 1 if layout == "one" else 2]


def test_dry_run_invalid_orders_is_a_usage_error(tmp_path, rule_file):
    path = tmp_path / "orders.json"
    path.write_text('[{"source": "x"}]')
    result = invoke("dry-run", rule_file, "--orders", path)
    assert result.exit_code == 2 and "cannot read orders" in result.stderr and "source_id" in result.stderr


def test_dry_run_writes_nothing(rule_file, orders_file):
    before = orders_file.read_text()
    invoke("dry-run", rule_file, "--orders", orders_file)
    assert orders_file.read_text() == before and rule_file.read_text() == RULES


def test_dry_run_explain(rule_file, orders_file):
    result = invoke("dry-run", rule_file, "--orders", orders_file, "--explain", "1001-1")
    assert result.exit_code == 0, result.output
    out = result.stdout.split("explain order 1001-1:")[1]
    assert "rule 'main.rules:2' (" in out and "shipped and amount_paid == 0 -> True" in out
    assert "amount_paid == 0 -> True   [amount_paid = 0]" in out
    assert "customer.email endswith ci '@example.com' -> False   [customer.email = 'ana@shop.test']" in out


def test_dry_run_explain_json_and_unknown_order(rule_file, orders_file):
    result = invoke("dry-run", rule_file, "--orders", orders_file, "--json", "--explain", "1004")
    data = json.loads(result.stdout)
    explain = data[3]["explain"]
    assert [r["fired"] for r in explain][:2] == [False, False]
    assert explain[-1]["error"] == "division by zero"
    assert invoke("dry-run", rule_file, "--orders", orders_file, "--explain", "9999").exit_code == 2


def test_dry_run_with_rule_errors_exits_3(tmp_path, orders_file):
    bad = tmp_path / "bad.rules"
    bad.write_text("when total endswith '0' then stop\n")
    result = invoke("dry-run", bad, "--orders", orders_file)
    assert result.exit_code == 3 and "needs text" in result.stderr and result.stdout == ""


# -- dry-run --source ------------------------------------------------------------------------------------
class CsvConnector(Connector):
    """A tiny source whose saved payload is ``{"rows": [[number, total], ...]}``."""

    name = "csvshop"

    def parse_orders(self, payload: Any) -> Iterator[Order]:
        for number, total in payload["rows"]:
            yield make_order(source="csvshop", source_id=number, number=number, total=Decimal(total),
                             discount=Decimal(1))


class CsvPlugin:
    @hookimpl
    def register_connectors(self, register):
        register(CsvConnector)


def test_dry_run_source_uses_the_plugins_mapping(tmp_path, rule_file):
    manager = PluginManager(load_entrypoints=False).load()
    manager.register(CsvPlugin(), name="csvshop")
    set_manager(manager)
    payload = tmp_path / "saved.json"
    payload.write_text(json.dumps({"rows": [["77-1", "10.00"], ["78", "500.00"]]}))
    result = invoke("dry-run", rule_file, "--orders", payload, "--source", "csvshop", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [(o["order"], [c["after"] for c in o["changes"]]) for o in out] == [("77-1", ["77"]), ("78", ["BIG"])]
    unknown = invoke("dry-run", rule_file, "--orders", payload, "--source", "nosuch")
    assert unknown.exit_code == 4 and "no connector named 'nosuch'" in unknown.stderr
    payload.write_text(json.dumps([1, 2]))
    wrong = invoke("dry-run", rule_file, "--orders", payload, "--source", "csvshop")
    assert wrong.exit_code == 2 and "the csvshop mapping could not read it (TypeError" in wrong.stderr


def test_dry_run_source_shipstation_saved_orders(tmp_path):
    pytest.importorskip("connex_shipstation")
    set_manager(None)
    saved = json.loads((FIXTURES / "shipstation_list_orders.json").read_text())
    saved["orders"][0]["orderNumber"] += "-1"
    payload = tmp_path / "orders.json"
    payload.write_text(json.dumps(saved))
    result = invoke("dry-run", ROOT / "rules" / "shipstation-to-quickbooks.rules", "--orders", payload,
                    "--source", "shipstation", "--json")
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)[0]
    assert first["order"] == "123456789-1"
    assert [(c["field"], c["after"]) for c in first["changes"]] == [("number", "123456789"), ("paid", False)]


# -- fields -------------------------------------------------------------------------------------------------
def test_fields_lists_the_canonical_model():
    rows = {r["field"]: r for r in json.loads(invoke("fields", "--json").stdout)}
    assert rows["class_name"]["alias"] == "class" and rows["class_name"]["writable"] is True
    assert rows["shipped"]["predicate"] is True and rows["shipped"]["writable"] is False
    assert rows["line.tracking"]["type"] == "map of text"
    assert rows["customer.email"]["description"]
    text = invoke("fields").stdout
    assert "class_name (or class)" in text


def test_dry_run_shows_the_task_defaults_cancelled_skipped_and_suspicious_amounts_held(tmp_path):
    rules = tmp_path / "none.rules"
    rules.write_text("when store == 'Nowhere' then tag 'x'\n")
    orders = [make_order(number="2001", source_id="1", status=OrderStatus.cancelled),
              make_order(number="2002", source_id="2", total=Decimal("999.00")),
              make_order(number="2003", source_id="3")]
    path = tmp_path / "orders.json"
    path.write_text(json.dumps([o.model_dump(mode="json") for o in orders]))

    result = invoke("dry-run", rules, "--orders", path)

    assert result.exit_code == 0, result.output
    assert 'order 2001: skip (cancelled in the source: not booked (task option cancelled_orders = "skip"' in result.stdout
    assert "order 2002: hold (the total 999.00 is not lines + shipping + tax - discount (53.60)" in result.stdout
    assert "order 2003: sync" in result.stdout
    assert "summary: 3 order(s): 1 sync, 1 skip, 1 hold" in result.stdout
