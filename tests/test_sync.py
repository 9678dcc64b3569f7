"""The sync package's shared parts: daily-summary time zones, engine-owned task keys, progress reporting,
connector errors under the task's key, the connections factory, the ledger's enums."""

from __future__ import annotations

import subprocess
import sys
import types
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from connex_core import hookimpl
from connex_core.config import load_config
from connex_core.connections import Connections
from connex_core.engine import SyncEngine
from connex_core.errors import ConfigurationError
from connex_core.state import LEDGER_STATES, OUTCOMES, LedgerState, Outcome, SQLiteStore
from connex_core.sync.run import task_option, task_option_key
from tests.support import memory_plugin
from tests.support.memory_plugin import api, seed

TOKYO = ZoneInfo("Asia/Tokyo")

DAILY = """
    [connections.src]
    type = "memory"
    space = "src"
    timezone = "Asia/Tokyo"
    [connections.dst]
    type = "memory"
    space = "dst"
    [tasks.daily]
    source = "src"
    target = "dst"
    kind = "daily_summary"
    initial_days = 3
"""


def _daily(manager, path):
    # 08:30 Tokyo on the 16th is still the 15th in UTC and in Los Angeles
    for i, t in enumerate([datetime(2026, 9, 15, 12, 0, tzinfo=TOKYO), datetime(2026, 9, 16, 8, 30, tzinfo=TOKYO)]):
        api("src").orders.append(memory_plugin.make_order(source="memory", source_id=f"d{i}", number=f"D{i}",
                                                          created_at=t, modified_at=t))
    cfg = load_config(path)
    now = datetime(2026, 9, 17, 12, 0, tzinfo=TOKYO)
    SyncEngine(cfg, manager, SQLiteStore(cfg.state_path), now=lambda: now).run_task("daily")
    return {d["number"]: d["order"] for d in api("dst").documents.values()}


def test_daily_summary_days_default_to_the_source_connectors_time_zone(manager, write_config):
    docs = _daily(manager, write_config(DAILY))
    assert sorted(docs) == ["DS-20260915", "DS-20260916"]  # one order on each Tokyo day
    assert "D1" in docs["DS-20260916"].memo and docs["DS-20260916"].timezone == "Asia/Tokyo"


def test_an_explicit_task_time_zone_wins_over_the_sources(manager, write_config):
    docs = _daily(manager, write_config(DAILY + """
    [tasks.daily.target_options]
    timezone = "America/Los_Angeles"
    """))
    assert sorted(docs) == ["DS-20260914", "DS-20260915"]  # Pacific days: both orders a day earlier
    assert docs["DS-20260915"].timezone == "America/Los_Angeles"


def test_an_unknown_time_zone_is_a_configuration_error_naming_its_key(manager, write_config):
    path = write_config(DAILY + """
    [tasks.daily.source_options]
    timezone = "Mars/Olympus"
    """)
    # Refused when the config is read (the key moved from its older place to the task), before any run.
    with pytest.raises(ConfigurationError, match=r"tasks\.daily\.timezone: 'Mars/Olympus' is not a time zone name"):
        load_config(path)


def test_engine_keys_prefer_a_typed_task_field_and_fall_back_to_the_option_tables():
    old = types.SimpleNamespace(source_options={"timezone": "Asia/Tokyo", "date_field": "modified"},
                                target_options={"timezone": "Europe/Paris", "summary_prefix": "X-"})
    assert task_option(old, "timezone") == "Asia/Tokyo"  # source_options first, as before
    assert task_option(old, "summary_prefix") == "X-" and task_option(old, "summary_date", "created") == "created"
    assert task_option_key("t", old, "summary_prefix") == "tasks.t.target_options.summary_prefix"
    typed = types.SimpleNamespace(timezone="UTC", summary_date=None, **vars(old))
    assert task_option(typed, "timezone") == "UTC"  # the typed field wins
    assert task_option_key("t", typed, "timezone") == "tasks.t.timezone"
    assert task_option(typed, "summary_date", "created") == "created"  # unset typed field: old placement/default


def test_progress_is_reported_through_the_callback(manager, memory_config):
    seed("src", 30)
    told: list[tuple[str, int]] = []
    cfg = load_config(memory_config)
    summary = SyncEngine(cfg, manager, SQLiteStore(cfg.state_path),
                         on_progress=lambda task, n: told.append((task, n))).run_task("orders")
    assert summary.counts["read"] == 30
    assert {t for t, _ in told} == {"orders"} and sum(n for _, n in told) == 30


class PickyConnector(memory_plugin.MemoryConnector):
    """Complains about a target option, as a connector does: by the key it knows (``target_options.x``)."""

    name = "picky"

    def write_orders(self, writes):
        raise ConfigurationError("'emial' is not one of display_name, email", key="target_options.customer_match")


def test_a_connectors_complaint_about_an_option_is_put_under_the_tasks_key(manager, memory_config):
    manager.register(types.SimpleNamespace(register_connectors=hookimpl(lambda register: register(PickyConnector))),
                     name="picky")
    memory_config.write_text(memory_config.read_text().replace('type = "memory"\nspace = "dst"',
                                                               'type = "picky"\nspace = "dst"'))
    seed("src", 2)
    cfg = load_config(memory_config)
    with pytest.raises(ConfigurationError) as caught:
        SyncEngine(cfg, manager, SQLiteStore(cfg.state_path)).run_task("orders")
    assert caught.value.key == "tasks.orders.target_options.customer_match"
    assert str(caught.value) == "tasks.orders.target_options.customer_match: 'emial' is not one of display_name, email"


def test_connections_build_each_connector_once_and_close_them(manager, memory_config):
    cfg = load_config(memory_config)
    closed = []
    with Connections(cfg, manager) as connections:
        src = connections.get("src")
        assert connections.get("src") is src
        assert connections.get("src", dry_run=True) is not src and connections.get("src", dry_run=True).ctx.dry_run
        assert connections.type_of("dst") == "memory"
        assert src.ctx.tokens is not None and src.ctx.state_dir == cfg.state_path.parent / ".connex"
        src.close = lambda: closed.append("src")  # type: ignore[method-assign]
    assert closed == ["src"]
    assert connections.get("src") is not src  # closed connectors are not handed out again


def test_ledger_states_and_outcomes_are_enums_equal_to_todays_strings(manager, memory_config):
    assert LEDGER_STATES == ("pending", "done", "failed", "held", "skipped", "released", "ignored", "voided", "undone")
    assert OUTCOMES == ("created", "updated", "duplicate", "skipped", "held", "failed", "would_create", "released",
                        "ignored", "resynced", "voided", "undone")
    assert LedgerState.DONE == "done" and f"{Outcome.HELD}" == "held" and str(Outcome.FAILED) == "failed"
    seed("src", 1)
    cfg = load_config(memory_config)
    store = SQLiteStore(cfg.state_path)
    SyncEngine(cfg, manager, store).run_task("orders")
    [entry] = store.ledger_get("orders", ["memory:m1"]).values()
    assert entry.state is LedgerState.DONE


def test_the_state_store_module_imports_on_its_own():
    """No import cycle between connex_core.state and its SQLite store: either can be imported first."""
    code = "import connex_core.state.sqlite as s, connex_core.state as st; assert s.SQLiteStore is st.SQLiteStore"
    subprocess.run([sys.executable, "-c", code], check=True)
