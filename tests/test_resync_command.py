"""``connex resync``: a document deleted in the target is posted again; a changed order is updated where the
target updates in place, else the reason is given; the same one is said to be the same. Logged as resynced."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from connex_core.cli import app
from connex_core.config import load_config
from connex_core.state import LogQuery, SQLiteStore
from tests.support.memory_plugin import api, seed

runner = CliRunner()


def resync(*numbers: str) -> tuple[int, list[dict]]:
    result = runner.invoke(app, ["resync", "--task", "orders", "--json", *numbers])
    return result.exit_code, json.loads(result.stdout or "[]")


def test_a_deleted_document_is_posted_again_and_a_present_one_is_the_same(manager, memory_config):
    seed("src", 3)
    assert runner.invoke(app, ["run"]).exit_code == 0
    dst = api("dst")
    gone = next(t for t, d in dst.documents.items() if d["number"] == "1002")
    del dst.documents[gone]  # deleted in the target, as a user would
    assert runner.invoke(app, ["run", "--since", "2000-01-01"]).exit_code == 0
    assert sorted(dst.numbers()) == ["1001", "1003"]  # a run alone never posts it again: the ledger says done
    code, rows = resync("1002", "1001")
    assert code == 0, rows
    assert [(r["order"], r["action"]) for r in rows] == [("1002", "gone-reposted"), ("1001", "same")]
    assert rows[0]["message"] == "1002 is gone from memory; posted again as 1002"
    assert sorted(dst.numbers()) == ["1001", "1002", "1003"]
    new = next(d for d in dst.documents.values() if d["number"] == "1002")
    assert new["idem"] != next(d for d in dst.documents.values() if d["number"] == "1001")["idem"]
    code, rows = resync("1002")
    assert code == 0 and rows[0]["action"] == "same"  # the ledger points at the new document
    assert json.loads(runner.invoke(app, ["runs", "--json", "--limit", "1"]).stdout)[0]["counts"] == {"resynced": 1}
    store = SQLiteStore(load_config(memory_config).state_path)
    logged = store.query_log(LogQuery(outcome="resynced"))
    assert [(e.order_number, e.message.split(":")[0]) for e in logged] == [
        ("1002", "gone-reposted"), ("1001", "same"), ("1002", "same")]


def test_a_changed_order_is_updated_where_the_target_upserts_else_the_reason_is_given(manager, memory_config):
    [order] = seed("src", 1)
    assert runner.invoke(app, ["run"]).exit_code == 0
    api("src").orders[0] = order.model_copy(update={"notes": "gift wrap, please"})
    code, rows = resync("1001")
    assert code == 5 and rows[0]["action"] == "differs"
    assert "does not update a posted document in place: delete 1001 in memory, then resync" in rows[0]["message"]
    api("dst").upsert = True
    code, rows = resync("1001")
    assert code == 0 and rows[0]["action"] == "updated"
    [doc] = api("dst").documents.values()
    assert doc["order"].notes == "gift wrap, please"
    assert resync("1001")[1][0]["action"] == "same"


def test_an_order_the_task_never_saw_is_a_clear_failure(manager, memory_config):
    seed("src", 1)
    runner.invoke(app, ["run"])
    code, rows = resync("9999")
    assert code == 5 and rows[0]["action"] == "unknown" and "never seen order 9999" in rows[0]["message"]
    assert runner.invoke(app, ["resync", "--task", "orders"]).exit_code == 2
