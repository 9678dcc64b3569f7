"""Per-order hooks do what docs/plugin_hooks.md says: ``before_rules`` is a chain in registration order,
``after_dispatch`` is told every outcome with the order as the rules left it."""

from __future__ import annotations

import types
from datetime import datetime, timezone

from connex_core import hookimpl
from connex_core.config import load_config
from connex_core.engine import SyncEngine
from connex_core.state import SQLiteStore
from connex_core.testing import make_order
from tests.support.memory_plugin import api, seed


def _tagger(tag: str, seen: list[list[str]]):
    """A plugin that records the tags it was given and returns the order with ``tag`` added."""

    @hookimpl
    def before_rules(order, task):
        seen.append(list(order.tags))
        return order.model_copy(update={"tags": [*order.tags, tag]})

    return types.SimpleNamespace(before_rules=before_rules)


def _run(path, manager, **kw):
    cfg = load_config(path)
    return SyncEngine(cfg, manager, SQLiteStore(cfg.state_path), **kw).run_task("orders", **(
        {"since": datetime(2000, 1, 1, tzinfo=timezone.utc)}))


def test_before_rules_is_a_chain_in_registration_order(manager):
    first_saw, second_saw = [], []
    manager.register(_tagger("first", first_saw), name="first")
    manager.register(types.SimpleNamespace(before_rules=hookimpl(lambda order, task: None)), name="leaves-it")
    manager.register(_tagger("second", second_saw), name="second")
    order = make_order(tags=["source"])
    out = manager.before_rules(order, "orders")
    assert out.tags == ["source", "first", "second"]  # both changes survive, in registration order
    assert first_saw == [["source"]] and second_saw == [["source", "first"]]  # each sees the previous result
    assert order.tags == ["source"]  # the source's order itself is not changed


def test_before_rules_changes_of_two_plugins_both_reach_the_target(manager, memory_config):
    manager.register(_tagger("first", []), name="first")
    manager.register(_tagger("second", []), name="second")
    seed("src", 3)
    summary = _run(memory_config, manager)
    assert summary.counts["created"] == 3
    assert [d["order"].tags for d in api("dst").documents.values()] == [["first", "second"]] * 3


def test_after_dispatch_is_told_each_outcome_with_the_order_task_and_target_id(manager, write_config, tmp_path):
    (tmp_path / "hooks.rules").write_text(
        "when order.number == '1001' then tag 'ruled'\n"
        "when order.number == '1002' then skip 'not this one'\n"
        "when order.number == '1003' then hold 'check it'\n")
    path = write_config("""
        [connections.src]
        type = "memory"
        space = "src"
        [connections.dst]
        type = "memory"
        space = "dst"
        [tasks.orders]
        source = "src"
        target = "dst"
        rules = ["hooks.rules"]
    """)
    told: list[tuple] = []

    @hookimpl
    def after_dispatch(order, task, outcome, target_id):
        told.append((order.number, task, outcome, target_id, list(order.tags)))

    manager.register(types.SimpleNamespace(after_dispatch=after_dispatch), name="listener")
    seed("src", 5)
    api("dst").reject_numbers = {"1004"}
    api("dst").documents["pre-5"] = {"number": "1005", "order": None, "tracking": []}
    summary = _run(path, manager)
    assert (summary.counts["created"], summary.counts["skipped"], summary.counts["held"], summary.counts["failed"],
            summary.counts["duplicate"]) == (1, 1, 1, 1, 1)
    [created_id] = [tid for tid, d in api("dst").documents.items() if d["number"] == "1001"]
    assert sorted(told) == [
        ("1001", "orders", "created", created_id, ["ruled"]),  # the order as the rules left it
        ("1002", "orders", "skipped", None, []),
        ("1003", "orders", "held", None, []),
        ("1004", "orders", "failed", None, []),
        ("1005", "orders", "duplicate", "pre-5", []),
    ]
    assert all(type(t[2]) is str for t in told)  # a plain string, as documented


def test_a_failing_after_dispatch_hook_is_logged_not_fatal(manager, memory_config, caplog):
    @hookimpl
    def after_dispatch(order, task, outcome, target_id):
        raise RuntimeError("listener broke")

    manager.register(types.SimpleNamespace(after_dispatch=after_dispatch), name="broken")
    seed("src", 2)
    summary = _run(memory_config, manager)
    assert summary.counts["created"] == 2 and len(api("dst").documents) == 2
    assert "after_dispatch hook failed" in caplog.text


def test_tryfirst_and_trylast_place_a_plugin_at_the_ends_of_the_chain(manager):
    def tagger(tag: str, **marks):
        return types.SimpleNamespace(before_rules=hookimpl(**marks)(
            lambda order, task: order.model_copy(update={"tags": [*order.tags, tag]})))

    manager.register(tagger("last", trylast=True), name="last")
    manager.register(tagger("middle-1"), name="middle-1")
    manager.register(tagger("first", tryfirst=True), name="first")
    manager.register(tagger("middle-2"), name="middle-2")
    assert manager.before_rules(make_order(tags=[]), "orders").tags == ["first", "middle-1", "middle-2", "last"]
