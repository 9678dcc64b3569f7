"""``connex runs``: the run history with counts by outcome and status, newest first."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from connex_core.cli import app
from tests.support.memory_plugin import api, seed

runner = CliRunner()


def test_runs_lists_each_run_with_its_counts_and_status(manager, memory_config):
    seed("src", 4)
    api("dst").reject_numbers = {"1002"}
    assert runner.invoke(app, ["run"]).exit_code == 5
    api("dst").reject_numbers = set()
    assert runner.invoke(app, ["run"]).exit_code == 0
    result = runner.invoke(app, ["runs", "--json"])
    assert result.exit_code == 0, result.output
    second, first = json.loads(result.stdout)
    assert second["id"] > first["id"] and first["task"] == second["task"] == "orders"
    assert first["counts"] == {"read": 4, "created": 3, "failed": 1}
    assert second["counts"]["created"] == 1  # the failed order, retried
    assert first["status"] == second["status"] == "ok" and first["finished"] >= first["started"]
    text = runner.invoke(app, ["runs", "--limit", "1"]).stdout
    assert text.count("\n") == 1 and f"#{second['id']}  orders" in text and "created 1" in text


def test_runs_of_an_unknown_task_is_a_clear_error(manager, memory_config):
    result = runner.invoke(app, ["runs", "--task", "nope"])
    assert result.exit_code == 4 and "no task named 'nope'" in result.stderr


def test_runs_with_no_history_says_so(manager, memory_config):
    result = runner.invoke(app, ["runs", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert runner.invoke(app, ["runs"]).stdout.strip() == "no runs"
