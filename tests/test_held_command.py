"""``connex held``: the review queue of held and failed orders; release (next run or now) and ignore."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from connex_core.cli import app
from connex_core.config import load_config
from connex_core.state import LogQuery, SQLiteStore
from tests.support.memory_plugin import api, seed

runner = CliRunner()

RULES = "when order.number == '1002' then hold 'check the address'\n"


@pytest.fixture
def held_config(write_config, tmp_path):
    (tmp_path / "check.rules").write_text(RULES)
    return write_config("""
        [connections.src]
        type = "memory"
        space = "src"

        [connections.dst]
        type = "memory"
        space = "dst"

        [tasks.orders]
        source = "src"
        target = "dst"
        initial_days = 30
        rules = ["check.rules"]
    """)


def queue() -> list[dict]:
    result = runner.invoke(app, ["held", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_held_lists_held_and_failed_orders_with_rule_line_and_when_seen(manager, held_config):
    seed("src", 3)
    api("dst").reject_numbers = {"1003"}
    assert runner.invoke(app, ["run"]).exit_code == 5
    assert runner.invoke(app, ["run"]).exit_code == 5  # seen again: held and failed once more
    rows = {r["order"]: r for r in queue()}
    assert set(rows) == {"1002", "1003"}
    held, failed = rows["1002"], rows["1003"]
    assert (held["state"], held["reason"], held["rule"], held["line"]) == ("held", "check the address",
                                                                           held["rule"], 1)
    assert held["rule"] and held["rule_file"].endswith("check.rules")
    assert held["first_seen"] < held["last_seen"]  # the second run saw it again
    assert failed["state"] == "failed" and "item not found" in failed["reason"] and failed["attempts"] == 2
    text = runner.invoke(app, ["held", "--task", "orders"]).stdout
    assert "1002  held: check the address (rule" in text and "line 1)" in text and "first seen" in text
    assert "1003  failed:" in text


def test_release_posts_the_held_order_on_the_next_run_past_its_rule_once(manager, held_config):
    seed("src", 3)
    assert runner.invoke(app, ["run"]).exit_code == 5
    assert api("dst").numbers() == ["1001", "1003"]
    result = runner.invoke(app, ["held", "release", "--task", "orders", "1002", "--reason", "address checked"])
    assert result.exit_code == 0, result.output
    assert "released" in result.stdout
    assert queue() == []
    result = runner.invoke(app, ["run", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["created"] == 1
    assert sorted(api("dst").numbers()) == ["1001", "1002", "1003"]
    # Once: the rule still holds it, but it is in the books now; another run does not hold or post it again.
    result = runner.invoke(app, ["run", "--since", "2000-01-01", "--json"])
    s = json.loads(result.stdout)[0]
    assert result.exit_code == 0 and s["held"] == 0 and s["created"] == 0
    assert sorted(api("dst").numbers()) == ["1001", "1002", "1003"]
    store = SQLiteStore(load_config(held_config).state_path)
    [logged] = store.query_log(LogQuery(outcome="released"))
    assert (logged.order_number, logged.reason) == ("1002", "address checked")


def test_release_now_posts_it_at_once(manager, held_config):
    seed("src", 2)
    runner.invoke(app, ["run"])
    result = runner.invoke(app, ["held", "release", "-t", "orders", "1002", "--now"])
    assert result.exit_code == 0, result.output
    assert "created 1" in result.stdout and sorted(api("dst").numbers()) == ["1001", "1002"]


def test_ignored_order_is_never_posted_even_when_read_again_and_the_rule_is_gone(manager, held_config, tmp_path):
    seed("src", 3)
    runner.invoke(app, ["run"])
    result = runner.invoke(app, ["held", "ignore", "-t", "orders", "1002", "--reason", "a test order"])
    assert result.exit_code == 0, result.output
    assert queue() == []
    (tmp_path / "check.rules").write_text("")  # the rule that held it is gone: it would sync now
    result = runner.invoke(app, ["run", "--since", "2000-01-01", "--json"])
    s = json.loads(result.stdout)[0]
    assert result.exit_code == 0 and s["ignored"] == 1 and s["created"] == 0
    assert api("dst").numbers() == ["1001", "1003"]
    store = SQLiteStore(load_config(held_config).state_path)
    [logged] = store.query_log(LogQuery(outcome="ignored"))
    assert logged.reason == "a test order" and "check the address" in logged.message


def test_ignore_needs_a_reason_and_unknown_orders_are_a_clear_error(manager, held_config):
    seed("src", 2)
    runner.invoke(app, ["run"])
    assert runner.invoke(app, ["held", "ignore", "-t", "orders", "1002"]).exit_code == 2
    result = runner.invoke(app, ["held", "release", "-t", "orders", "1001"])
    assert result.exit_code == 2 and "not held or failed in task 'orders'" in result.stderr
    assert runner.invoke(app, ["held", "--task", "nope"]).exit_code == 4
