"""``connex run --dry-run`` looks in the target (read-only): per order would-create, duplicate of DOC,
already synced, held (reason), failed (reason); nothing written or recorded."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from connex_core.cli import app
from connex_core.config import load_config
from connex_core.state import LogQuery, SQLiteStore
from tests.support.memory_plugin import api, seed

runner = CliRunner()


def test_dry_run_reports_each_order_with_the_target_looked_up(manager, write_config, tmp_path):
    (tmp_path / "check.rules").write_text("when order.number == '1003' then hold 'check the address'\n")
    cfg = write_config("""
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
    seed("src", 4)
    dst = api("dst")
    dst.documents["pre-1"] = {"key": "elsewhere", "number": "1002", "order": None, "tracking": []}  # posted by hand
    result = runner.invoke(app, ["run", "--dry-run", "--json"])
    assert result.exit_code == 5, result.output  # a held order: as the real run would exit
    [summary] = json.loads(result.stdout)
    by_order = {o["order"]: (o["outcome"], o["detail"]) for o in summary["orders"]}
    assert by_order == {"1001": ("would-create", None), "1002": ("duplicate", "of 1002 already in memory"),
                        "1003": ("held", "check the address"), "1004": ("would-create", None)}
    assert (summary["would_create"], summary["duplicate"], summary["held"]) == (2, 1, 1)
    assert dst.find_calls >= 1 and dst.write_calls == 0 and list(dst.documents) == ["pre-1"]
    store = SQLiteStore(load_config(cfg).state_path)
    assert store.query_log(LogQuery()) == [] and store.runs() == []
    text = runner.invoke(app, ["run", "--dry-run"]).stdout
    assert "  1002  duplicate: of 1002 already in memory" in text and "  1003  held: check the address" in text
    # After a real run, the dry run says what is already synced, and names its document.
    runner.invoke(app, ["run"])
    [summary] = json.loads(runner.invoke(app, ["run", "--dry-run", "--json"]).stdout)
    assert {o["order"]: o["outcome"] for o in summary["orders"]}["1001"] == "already-synced"


def test_dry_run_reports_a_failed_look_up_per_order(manager, memory_config):
    seed("src", 2)
    api("dst").fail_finds = 1
    result = runner.invoke(app, ["run", "--dry-run", "--json"])
    assert result.exit_code == 5, result.output
    [summary] = json.loads(result.stdout)
    assert [o["outcome"] for o in summary["orders"]] == ["failed", "failed"] and summary["failed"] == 2
    assert "looking it up in memory failed: the memory API is down" in summary["orders"][0]["detail"]
    api("dst").revoked = True  # a refused token stops the dry run as it stops a run: reconnect first
    result = runner.invoke(app, ["run", "--dry-run"])
    assert result.exit_code == 6 and "reconnect" in result.stderr
