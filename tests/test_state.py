"""The SQLite state store."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from connex_core.state import LedgerEntry, LogEntry, LogQuery, SQLiteStore
from connex_core.state import sqlite as sqlite_module
from connex_core.state.sqlite import MIGRATIONS


def test_the_state_file_is_owner_only_and_in_wal_mode(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    assert stat.S_IMODE(os.stat(tmp_path / "s.db").st_mode) == 0o600
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version == len(MIGRATIONS)


def test_a_file_from_a_newer_connex_is_refused(tmp_path):
    db = sqlite3.connect(tmp_path / "s.db")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(RuntimeError, match="newer Connex"):
        SQLiteStore(tmp_path / "s.db")


def test_ledger_upserts_and_retry_queue(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.ledger_put([LedgerEntry("t", "a", "pending", snapshot="{}"), LedgerEntry("t", "b", "done", target_id="9"),
                      LedgerEntry("t", "c", "held", snapshot="{}"), LedgerEntry("u", "a", "failed")])
    store.ledger_put([LedgerEntry("t", "a", "failed", attempts=2, last_error="boom", snapshot="{}")])
    assert store.ledger_get("t", ["a"])["a"].last_error == "boom"
    assert sorted(e.source_key for e in store.ledger_retry_queue("t")) == ["a", "c"]
    assert store.ledger_find_target("b", ["t"]).target_id == "9"
    assert store.ledger_find_target("b", ["u"]) is None


def test_state_survives_reopening(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.set_cursor("t", "2026-09-15T00:00:00+00:00")
    store.log([LogEntry("t", "k", "skipped", order_number="1", reason="test order", rule="skip tests", line=4)])
    store.close()
    again = SQLiteStore(tmp_path / "s.db")
    assert again.get_cursor("t") == "2026-09-15T00:00:00+00:00"
    [entry] = again.query_log(LogQuery(outcome="skipped"))
    assert (entry.reason, entry.rule, entry.line) == ("test order", "skip tests", 4)


# -- every read gives back what was written, and every filter filters ------------------------------------


@pytest.fixture
def ticking(monkeypatch):
    """The store's clock, one millisecond per call from a fixed instant: timestamps never tie."""
    start = datetime(2026, 9, 15, 12, 0, tzinfo=timezone.utc)
    ticks = iter(range(10**9))
    monkeypatch.setattr(sqlite_module, "_now",
                        lambda: (start + timedelta(milliseconds=next(ticks))).isoformat(timespec="milliseconds"))
    return start


def in_thread(fn, timeout=10.0):
    """``fn()`` in another thread; fails the test (instead of hanging it) when it has not returned in time."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # reported to the test below
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"{fn} did not return within {timeout} s: a lock left held?"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def test_the_state_folder_is_created_with_its_parents_and_an_existing_one_is_fine(tmp_path):
    path = tmp_path / "a" / "b" / "state.db"
    SQLiteStore(path).close()
    assert path.exists() and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = SQLiteStore(tmp_path / "a" / "b" / "other.db")
    assert again.schema_version == len(MIGRATIONS)


def test_an_in_memory_store_creates_no_file_and_durability_settings_are_applied(tmp_path):
    store = SQLiteStore(":memory:")
    store.set_cursor("t", "x")
    assert store.get_cursor("t") == "x"
    assert not Path(":memory:").exists() and list(tmp_path.iterdir()) == []
    disk = SQLiteStore(tmp_path / "s.db")
    assert disk.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL: safe with WAL
    assert disk.db.execute("PRAGMA busy_timeout").fetchone()[0] == 30000


def test_a_failed_migration_is_rolled_back_and_a_later_one_applies_on_top(tmp_path, monkeypatch):
    path = tmp_path / "s.db"
    SQLiteStore(path).close()  # at the current version
    broken = "CREATE TABLE extra (x TEXT); INSERT INTO no_such_table VALUES (1)"
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", [*MIGRATIONS, broken])
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        SQLiteStore(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchall() == []
    db.close()
    fixed = "CREATE TABLE extra (x TEXT); INSERT INTO extra VALUES ('kept')"
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", [*MIGRATIONS, fixed])
    store = SQLiteStore(path)
    assert store.schema_version == len(MIGRATIONS) + 1
    assert [tuple(r) for r in store.db.execute("SELECT x FROM extra")] == [("kept",)]
    store.close()
    # each migration runs once: reopening does not apply the last one again
    assert SQLiteStore(path).db.execute("SELECT COUNT(*) FROM extra").fetchone()[0] == 1


def test_a_fresh_file_gets_every_migration_in_order(tmp_path, monkeypatch):
    second = "CREATE TABLE extra (x TEXT)"
    third = "INSERT INTO extra VALUES ('after second')"
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", [*MIGRATIONS, second, third])
    store = SQLiteStore(tmp_path / "s.db")
    assert store.schema_version == len(MIGRATIONS) + 2
    assert [tuple(r) for r in store.db.execute("SELECT x FROM extra")] == [("after second",)]


def test_runs_are_recorded_newest_first_per_task_with_their_summary(tmp_path, ticking):
    store = SQLiteStore(tmp_path / "s.db")
    first = store.begin_run("orders", {"since": datetime(2026, 9, 1, tzinfo=timezone.utc)})
    second = store.begin_run("tracking", {})
    third = store.begin_run("orders", {"dry_run": True})
    store.finish_run(first, "ok", {"created": 3})
    assert second > first and third > second
    runs = store.runs("orders")
    assert [r["id"] for r in runs] == [third, first]
    assert runs[1]["status"] == "ok" and runs[1]["summary"] == {"created": 3}
    assert runs[1]["options"] == {"since": "2026-09-01 00:00:00+00:00"}
    assert runs[1]["finished_at"] > runs[1]["started_at"]
    assert runs[0]["status"] == "running" and runs[0]["summary"] is None and runs[0]["finished_at"] is None
    assert [r["id"] for r in store.runs()] == [third, second, first]
    assert [r["id"] for r in store.runs(limit=1)] == [third]
    assert [r["id"] for r in store.runs("orders", limit=1)] == [third]
    more = [store.begin_run("bulk", {}) for _ in range(25)]
    assert [r["id"] for r in store.runs("bulk")] == more[::-1][:20]  # the last 20 unless asked


def test_a_cursor_is_replaced_not_duplicated(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    assert store.get_cursor("t") is None
    store.set_cursor("t", "2026-09-15T00:00:00+00:00")
    store.set_cursor("t", "2026-09-16T00:00:00+00:00")
    store.set_cursor("u", "other")
    assert store.get_cursor("t") == "2026-09-16T00:00:00+00:00"
    assert store.db.execute("SELECT COUNT(*) FROM cursors WHERE task = 't'").fetchone()[0] == 1


def test_ledger_get_returns_every_key_asked_for_beyond_one_query(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    keys = [f"k{i}" for i in range(1234)]
    store.ledger_put(LedgerEntry("t", k, "done", target_id=f"doc-{k}") for k in keys)
    store.ledger_put([LedgerEntry("other", "k1", "failed")])
    got = store.ledger_get("t", iter([*keys, "missing"]))
    assert sorted(got) == sorted(keys)
    assert all(got[k].target_id == f"doc-{k}" and got[k].task == "t" for k in keys)
    assert store.ledger_get("t", []) == {}
    assert list(store.ledger_get("other", keys)) == ["k1"]


def test_every_ledger_column_round_trips_and_an_upsert_replaces_them(tmp_path, ticking):
    store = SQLiteStore(tmp_path / "s.db")
    entry = LedgerEntry("t", "a", "pending", idempotency_key="idem", target_id="9", target_number="INV-9",
                        attempts=2, last_error="boom", content_hash="h1", snapshot='{"n": 1}')
    store.ledger_put([entry])
    got = store.ledger_get("t", ["a"])["a"]
    assert got == LedgerEntry("t", "a", "pending", "idem", "9", "INV-9", 2, "boom", "h1", '{"n": 1}',
                              entry.updated_at)
    assert got.updated_at.startswith("2026-09-15T12:00:00")
    store.ledger_put([LedgerEntry("t", "a", "done", target_id="10", attempts=3)])
    again = store.ledger_get("t", ["a"])["a"]
    assert (again.state, again.target_id, again.attempts, again.last_error, again.snapshot) == ("done", "10", 3,
                                                                                               None, None)
    assert again.updated_at > got.updated_at
    store.ledger_put([])
    assert store.ledger_counts("t") == {"done": 1}


def test_the_retry_queue_holds_pending_failed_and_held_oldest_first(tmp_path, ticking):
    store = SQLiteStore(tmp_path / "s.db")
    store.ledger_put([LedgerEntry("t", "a", "failed")])
    store.ledger_put([LedgerEntry("t", "b", "pending")])
    store.ledger_put([LedgerEntry("t", "c", "held"), LedgerEntry("t", "d", "done"), LedgerEntry("t", "e", "skipped"),
                      LedgerEntry("u", "f", "failed")])
    store.ledger_put([LedgerEntry("t", "a", "failed", attempts=2)])  # touched again: now the newest
    assert [e.source_key for e in store.ledger_retry_queue("t")] == ["b", "c", "a"]
    assert store.ledger_counts("t") == {"failed": 1, "pending": 1, "held": 1, "done": 1, "skipped": 1}
    assert store.ledger_counts("u") == {"failed": 1}


def test_find_target_looks_only_in_the_given_tasks_and_states(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.ledger_put([LedgerEntry("qbo", "o1", "done", target_id="INV-1"), LedgerEntry("xero", "o2", "pending",
                                                                                        target_id="X-2")])
    assert store.ledger_find_target("o1", ["xero", "qbo"]).target_id == "INV-1"
    assert store.ledger_find_target("o1", (t for t in ["xero", "qbo"])).target_id == "INV-1"  # any iterable
    assert store.ledger_find_target("o1", []) is None
    assert store.ledger_find_target("o1", ["qbo"], states=()) is None
    assert store.ledger_find_target("o2", ["xero"]) is None
    assert store.ledger_find_target("o2", ["xero"], states=("done", "pending")).target_id == "X-2"
    assert store.ledger_find_target("o1", ["qbo"], states=("pending",)) is None


def _entry(n: int, **kw) -> LogEntry:
    return LogEntry(**{"task": "orders", "source_key": f"k{n}", "outcome": "created", "order_number": str(n), **kw})


def test_a_log_entry_reads_back_with_every_field_including_fired_rules_and_changes(tmp_path, ticking):
    store = SQLiteStore(tmp_path / "s.db")
    changes = [{"field": "number", "before": "1-1", "after": "1", "rule": "strip", "line": 2, "file": "a.rules"}]
    store.log([_entry(1, run_id=7, order_date="2026-09-14T10:00:00+00:00", target_id="9", target_number="INV-9",
                      reason="r", rule="strip", line=2, rule_file="a.rules", message="m",
                      fired=["a.rules:2", "a.rules:5"], changes=changes)])
    store.log([])
    [got] = store.query_log(LogQuery())
    assert (got.run_id, got.task, got.source_key, got.order_number, got.order_date, got.outcome) == (
        7, "orders", "k1", "1", "2026-09-14T10:00:00+00:00", "created")
    assert (got.target_id, got.target_number, got.reason, got.rule, got.line, got.rule_file, got.message) == (
        "9", "INV-9", "r", "strip", 2, "a.rules", "m")
    assert got.fired == ["a.rules:2", "a.rules:5"] and got.changes == changes
    assert got.time == "2026-09-15T12:00:00.000+00:00" and got.id == 1


def test_the_log_filters_by_task_outcome_number_run_and_time_window(tmp_path, ticking):
    store = SQLiteStore(tmp_path / "s.db")
    t0 = ticking
    at = lambda s: (t0 + timedelta(seconds=s)).isoformat(timespec="milliseconds")  # noqa: E731
    store.log([_entry(1, run_id=1, time=at(0)), _entry(2, run_id=1, time=at(10), outcome="failed"),
               _entry(3, run_id=2, time=at(20)), _entry(4, run_id=0, time=at(30), task="tracking"),
               _entry(5, run_id=2, time=at(40)), _entry(6, run_id=3, time=at(50.5))])

    def numbers(**kw):
        return [e.order_number for e in store.query_log(LogQuery(**kw))]

    assert numbers() == ["1", "2", "3", "4", "5", "6"]
    assert numbers(task="orders") == ["1", "2", "3", "5", "6"]
    assert numbers(outcome="failed") == ["2"]
    assert numbers(order_number="3") == ["3"]
    assert numbers(run_id=2) == ["3", "5"]
    assert numbers(run_id=0) == ["4"]
    # since is inclusive, until exclusive, both at the stored millisecond precision, in any time zone
    assert numbers(since=t0 + timedelta(seconds=20)) == ["3", "4", "5", "6"]
    assert numbers(until=t0 + timedelta(seconds=20)) == ["1", "2"]
    assert numbers(since=t0 + timedelta(seconds=10), until=t0 + timedelta(seconds=30)) == ["2", "3"]
    plus2 = timezone(timedelta(hours=2))
    assert numbers(since=(t0 + timedelta(seconds=40)).astimezone(plus2)) == ["5", "6"]
    assert numbers(since=t0 + timedelta(seconds=39, microseconds=999_000), until=t0 + timedelta(seconds=41)) == ["5"]
    assert numbers(since=t0 + timedelta(seconds=50.5)) == ["6"]
    assert numbers(until=t0 + timedelta(seconds=50.5), since=t0 + timedelta(seconds=40)) == ["5"]
    assert numbers(limit=2) == ["1", "2"]
    assert numbers(limit=2, newest_first=True) == ["6", "5"]
    assert numbers(task="orders", run_id=1, outcome="created") == ["1"]


def test_the_store_is_usable_from_another_thread_and_every_write_releases_its_lock(tmp_path):
    """The engine writes from a worker thread (serve); a write that kept the lock would block the next one."""
    store = SQLiteStore(tmp_path / "s.db")
    run = store.begin_run("t", {})
    store.ledger_put([LedgerEntry("t", "a", "pending")])
    store.log([_entry(1)])
    store.set_cursor("t", "c")
    store.finish_run(run, "ok", {})
    in_thread(lambda: store.ledger_put([LedgerEntry("t", "a", "done")]))
    in_thread(lambda: store.log([_entry(2)]))
    in_thread(lambda: store.set_cursor("t", "d"))
    in_thread(lambda: store.finish_run(store.begin_run("t", {}), "ok", {}))
    assert in_thread(lambda: store.ledger_get("t", ["a"]))["a"].state == "done"
    with pytest.raises(sqlite3.OperationalError):
        with store._tx() as db:
            db.execute("INSERT INTO nothing VALUES (1)")
    in_thread(lambda: store.ledger_put([LedgerEntry("t", "b", "done")]))  # a failed transaction let go too
    assert store.ledger_counts("t") == {"done": 2}
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.get_cursor("t")
