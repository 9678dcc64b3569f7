"""What both state stores must keep exactly (SQLite, and PostgreSQL where it is up): the webhook inbox's
states, the ledger's queries by state and number, the runs list's limit, the log's per-day counts and its
query options. The assertions ``python3 dev.py mutation state`` found missing."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from connex_core.state import LedgerEntry, LedgerState, LogEntry, LogQuery, SQLiteStore
from connex_core.state import sql as shared
from tests.state.test_stores import PG_URL, _drop_schema, _need_pg


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path, monkeypatch):
    """A fresh store of each kind; its clock moves one millisecond per reading (times never tie)."""
    start = datetime(2026, 9, 15, 12, 0, tzinfo=timezone.utc)
    ticks = iter(range(10**9))
    clock = lambda: shared.iso_ms(start + timedelta(milliseconds=next(ticks)))  # noqa: E731
    monkeypatch.setattr(f"connex_core.state.{request.param}._now", clock)
    if request.param == "sqlite":
        s = SQLiteStore(tmp_path / "state.db")
        yield s
        s.close()
        return
    _need_pg()
    from connex_core.state.postgres import PostgresStore

    schema = f"connex_test_{uuid.uuid4().hex[:12]}"
    s = PostgresStore(PG_URL, schema=schema)
    yield s
    s.close()
    _drop_schema(schema)


def test_the_inbox_keeps_a_delivery_once_and_works_through_new_ones_in_order(store):
    first = store.inbox_put("qbo", "d1", {"x-sig": "a"}, b'{"n": 1}')
    assert isinstance(first, int)
    assert store.inbox_put("qbo", "d1", {"x-sig": "a"}, b'{"n": 1}') is None  # the same delivery again
    second = store.inbox_put("xero", "d1", {}, b"two")  # the same digest from another connection is another
    third = store.inbox_put("qbo", "d3", {}, b"three")
    assert len({first, second, third}) == 3
    pending = store.inbox_pending(limit=10)
    assert [(e.id, e.connection, e.headers, e.body, e.attempts) for e in pending] == [
        (first, "qbo", {"x-sig": "a"}, b'{"n": 1}', 0), (second, "xero", {}, b"two", 0), (third, "qbo", {}, b"three", 0)]
    assert all(e.received_at for e in pending)
    assert [e.id for e in store.inbox_pending(limit=2)] == [first, second]
    assert store.inbox_counts() == {"new": 3}


def test_an_inbox_entry_is_done_retried_or_failed_and_a_done_one_drops_its_body(store):
    done = store.inbox_put("qbo", "a", {}, b"customer data")
    retry = store.inbox_put("qbo", "b", {}, b"retry me")
    failed = store.inbox_put("qbo", "c", {}, b"bad")
    store.inbox_finish(done)
    store.inbox_finish(retry, error="the API is down", retry=True)
    store.inbox_finish(failed, error="not a webhook")
    assert store.inbox_counts() == {"done": 1, "new": 1, "failed": 1}
    [again] = store.inbox_pending(limit=10)
    assert (again.id, again.body, again.attempts) == (retry, b"retry me", 1)  # tried once, kept whole
    store.inbox_finish(retry, error="still down", retry=True)
    assert store.inbox_pending(limit=10)[0].attempts == 2
    rows = _inbox_rows(store)
    assert rows[done] == ("done", 1, None, b"")  # the body is not kept once the work is done
    assert rows[failed] == ("failed", 1, "not a webhook", b"bad")
    assert rows[retry] == ("new", 2, "still down", b"retry me")


def _inbox_rows(store) -> dict[int, tuple]:
    db = store.db
    rows = db.execute("SELECT id, state, attempts, last_error, body FROM inbox").fetchall()
    return {r["id"]: (r["state"], r["attempts"], r["last_error"], bytes(r["body"])) for r in rows}


def test_ledger_entries_in_states_of_one_task_or_all_oldest_change_first(store):
    store.ledger_put([LedgerEntry("a", "k1", "held")])
    store.ledger_put([LedgerEntry("b", "k2", "failed")])
    store.ledger_put([LedgerEntry("a", "k3", "done")])
    store.ledger_put([LedgerEntry("a", "k4", "failed")])
    got = store.ledger_in_states(["held", "failed"])
    assert [(e.task, e.source_key, e.state) for e in got] == [("a", "k1", "held"), ("b", "k2", "failed"),
                                                               ("a", "k4", "failed")]
    assert [e.source_key for e in store.ledger_in_states(["failed"], task="a")] == ["k4"]
    assert all(isinstance(e.state, LedgerState) for e in got)  # read back as the enum, not a bare string
    assert store.ledger_in_states([]) == []
    # any iterable of states, as the signature says: a generator of the enum (read once), an empty one
    once = store.ledger_in_states(s for s in (LedgerState.HELD, LedgerState.FAILED))
    assert [(e.task, e.source_key) for e in once] == [(e.task, e.source_key) for e in got]
    assert store.ledger_in_states(s for s in ()) == []
    assert store.ledger_counts("a") == {"held": 1, "done": 1, "failed": 1}
    assert store.ledger_counts("b") == {"failed": 1}


def test_ledger_by_number_finds_only_a_done_entry_of_that_task(store):
    store.ledger_put([LedgerEntry("a", "k1", "failed", target_number="INV-1")])
    assert store.ledger_by_number("a", "INV-1") is None
    store.ledger_put([LedgerEntry("a", "k2", "done", target_id="t2", target_number="INV-1")])
    store.ledger_put([LedgerEntry("b", "k3", "done", target_number="INV-1")])
    found = store.ledger_by_number("a", "INV-1")
    assert (found.source_key, found.target_id, found.state) == ("k2", "t2", "done")
    assert store.ledger_by_number("a", "INV-2") is None


def test_ledger_under_number_lists_every_done_entry_of_that_task_and_number_oldest_first(store):
    store.ledger_put([LedgerEntry("a", "parent", "done", target_id="t1", target_number="6201")])
    store.ledger_put([LedgerEntry("a", "other", "done", target_id="t2", target_number="6202"),
                      LedgerEntry("a", "held", "held", target_number="6201"),
                      LedgerEntry("b", "theirs", "done", target_id="t9", target_number="6201")])
    store.ledger_put([LedgerEntry("a", "child", "done", target_id="t1", target_number="6201")])
    assert [e.source_key for e in store.ledger_under_number("a", "6201")] == ["parent", "child"]
    assert all(e.state == LedgerState.DONE for e in store.ledger_under_number("a", "6201"))
    assert store.ledger_under_number("a", "6203") == []


def test_the_runs_list_is_cut_at_its_limit_newest_first(store):
    ids = [store.begin_run("orders", {}) for _ in range(4)]
    store.begin_run("other", {})
    assert [r["id"] for r in store.runs("orders", limit=2)] == ids[::-1][:2]
    assert len(store.runs(limit=3)) == 3 and len(store.runs()) == 5
    assert store.runs("orders")[0]["status"] == "running" and store.runs("orders")[0]["finished_at"] is None


def test_orders_per_day_count_each_order_once_per_day_and_outcome_from_a_date(store):
    def line(key, outcome, day, task="t"):
        return LogEntry(task=task, source_key=key, outcome=outcome, time=f"2026-09-{day:02d}T10:00:00+00:00")

    store.log([line("k1", "created", 1), line("k1", "created", 2), line("k1", "created", 2),  # two runs saw it
               line("k2", "created", 2), line("k2", "held", 2), line("k2", "created", 2, task="u"),
               line("k3", "failed", 3)])
    assert store.log_per_day("2026-09-02") == [("2026-09-02", "created", 3), ("2026-09-02", "held", 1),
                                               ("2026-09-03", "failed", 1)]


def test_the_log_query_combines_every_filter_and_pages_newest_first(store):
    start = datetime(2026, 9, 1, 12, tzinfo=timezone.utc)
    entries = [LogEntry(task="t" if i % 2 else "u", source_key=f"k{i}", outcome="created" if i % 3 else "failed",
                        order_number=str(i), run_id=1 + i % 2, time=(start + timedelta(hours=i)).isoformat())
               for i in range(12)]
    store.log(entries)
    everything = store.query_log(LogQuery())
    assert [e.order_number for e in everything] == [str(i) for i in range(12)]  # oldest first by default
    assert [e.source_key for e in store.query_log(LogQuery(source_key="k5"))] == ["k5"]
    newest = store.query_log(LogQuery(task="t", newest_first=True, limit=2))
    assert [e.order_number for e in newest] == ["11", "9"]
    assert [e.order_number for e in store.query_log(LogQuery(before_id=newest[1].id, task="t"))] == \
        ["1", "3", "5", "7"]
    window = LogQuery(since=start + timedelta(hours=3), until=start + timedelta(hours=7), outcome="created")
    assert [e.order_number for e in store.query_log(window)] == ["4", "5"]
    assert [e.order_number for e in store.query_log(LogQuery(run_id=1, outcome="failed"))] == ["0", "6"]


def test_the_log_keeps_times_in_one_utc_millisecond_format_whatever_form_they_came_in():
    assert shared.log_time("2026-09-01T14:00:00.123456+02:00") == "2026-09-01T12:00:00.123+00:00"
    assert shared.log_time(None, lambda: "the clock") == "the clock"
    assert shared.iso_ms(datetime(2026, 9, 1, 12, 0, 0, 999999, tzinfo=timezone.utc)) == "2026-09-01T12:00:00.999+00:00"
    [row] = shared.log_rows([LogEntry(task="t", source_key="k", outcome="held", fired=["a"],
                                      changes=[{"field": "memo", "after": datetime(2026, 1, 1)}])], lambda: "now")
    assert row[shared.LOG_COLS.index("time")] == "now"
    assert row[shared.LOG_COLS.index("fired")] == '["a"]'
    assert row[shared.LOG_COLS.index("changes")] == '[{"field": "memo", "after": "2026-01-01 00:00:00"}]'
    assert len(row) == len(shared.LOG_COLS)


def test_opening_tries_a_locked_database_again_for_a_while_and_any_other_error_never(monkeypatch):
    """Switching a fresh file to WAL can meet "database is locked" (another process opening it at the same
    instant): tried again every 50 ms, up to its attempts; any other error at once."""
    import sqlite3

    from connex_core.state import sqlite as sqlite_module

    slept: list[float] = []
    monkeypatch.setattr(sqlite_module.time, "sleep", slept.append)
    calls: list[int] = []

    def failing(message: str, times: int):
        def fn():
            calls.append(1)
            if len(calls) <= times:
                raise sqlite3.OperationalError(message)
            return "wal"
        return fn

    assert sqlite_module._with_busy_retry(failing("database is locked", 2)) == "wal"
    assert len(calls) == 3 and slept == [0.05, 0.05]
    calls.clear(), slept.clear()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        sqlite_module._with_busy_retry(failing("no such table: ledger", 1))
    assert len(calls) == 1 and slept == []
    calls.clear()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite_module._with_busy_retry(failing("database is locked", 10), attempts=4)
    assert len(calls) == 4 and slept == [0.05] * 3


def test_opening_gives_up_on_a_database_locked_throughout_after_about_five_seconds(monkeypatch):
    """The documented wait (docs/config.md, ``[state] path``): 100 tries 50 ms apart, then the error."""
    import sqlite3

    from connex_core.state import sqlite as sqlite_module

    slept: list[float] = []
    monkeypatch.setattr(sqlite_module.time, "sleep", slept.append)
    calls: list[int] = []

    def locked():
        calls.append(1)
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite_module._with_busy_retry(locked)
    assert len(calls) == 100 and slept == [0.05] * 99


def test_a_state_file_and_its_journal_others_can_read_are_made_owner_only_when_opened(tmp_path, caplog):
    import os
    import stat

    path = tmp_path / "state.db"
    first = SQLiteStore(path)
    first.ledger_put([LedgerEntry("t", "k", "done")])  # the WAL journal and its index exist while it is open
    files = [path, tmp_path / "state.db-wal", tmp_path / "state.db-shm"]
    for f in files:
        os.chmod(f, 0o644)
    second = SQLiteStore(path)
    assert [stat.S_IMODE(os.stat(f).st_mode) for f in files] == [0o600] * 3
    warned = [r.getMessage() for r in caplog.records if "readable by others" in r.getMessage()]
    assert len(warned) == 3 and all(m.startswith("state file ") for m in warned)
    second.close(), first.close()


def test_a_lease_is_held_up_to_and_including_its_expiry_instant(tmp_path, monkeypatch):
    from connex_core.state import sqlite as sqlite_module

    now = [1000.0]
    monkeypatch.setattr(sqlite_module.time, "time", lambda: now[0])
    store = SQLiteStore(tmp_path / "state.db")
    assert store.lease_acquire("orders", "one", ttl=10) is None
    now[0] = 1010.0  # the expiry instant: still the first holder's
    assert store.lease_acquire("orders", "two", ttl=10).startswith("one since ")
    now[0] = 1010.001
    assert store.lease_acquire("orders", "two", ttl=10) is None
    store.close()


def test_a_pending_sign_in_is_claimed_once_for_its_connection_before_it_expires(store):
    """serve's OAuth callback (connex_core.oauth.callback): a pending sign-in is claimed in one statement, once,
    only for its connection and only before its expiry instant; any other claim changes nothing and gives the
    row back (``claimed`` False) so the callback can say why. Its outcome is read back by whoever started it."""
    uri = "https://connex.example.org/oauth/qbo/callback"
    store.oauth_begin("d1", "qbo", uri, "cli", 1000.0)
    store.oauth_begin("d2", "qbo", uri, "console", 1000.0)
    status = store.oauth_status("d1")
    assert {k: status[k] for k in ("digest", "connection", "redirect_uri", "started_by", "state", "message")} == {
        "digest": "d1", "connection": "qbo", "redirect_uri": uri, "started_by": "cli", "state": "pending",
        "message": None}
    assert float(status["expires_at"]) == 1000.0 and status["created_at"]
    assert store.oauth_claim("nope", "qbo", 10.0) is None and store.oauth_status("nope") is None
    other = store.oauth_claim("d1", "xero", 10.0)  # another connection's: left as it was
    assert (other["claimed"], other["connection"], other["state"]) == (False, "qbo", "pending")
    late = store.oauth_claim("d2", "qbo", 1000.0)  # its expiry instant: expired
    assert (late["claimed"], late["state"]) == (False, "pending")
    assert store.oauth_claim("d2", "qbo", 999.999)["claimed"] is True  # just before it
    first, again = store.oauth_claim("d1", "qbo", 10.0), store.oauth_claim("d1", "qbo", 11.0)
    assert (first["claimed"], first["redirect_uri"], first["started_by"]) == (True, uri, "cli")
    assert (again["claimed"], again["state"]) == (False, "claimed")  # used: never twice
    assert store.oauth_status("d1")["state"] == "claimed"
    store.oauth_finish("d1", "done", "connected to Acme")
    store.oauth_finish("d2", "failed", "access denied")
    assert [(store.oauth_status(d)["state"], store.oauth_status(d)["message"]) for d in ("d1", "d2")] == [
        ("done", "connected to Acme"), ("failed", "access denied")]


def test_a_sign_in_is_forgotten_once_a_new_one_expires_a_day_after_it(store):
    """Starting a sign-in drops those that expired more than a day (86,400 s) before the new one expires;
    younger ones, finished or not, are kept."""
    uri = "https://connex.example.org/oauth/qbo/callback"
    store.oauth_begin("old", "qbo", uri, "cli", 1000.0)
    store.oauth_begin("younger", "qbo", uri, "cli", 1000.5)
    store.oauth_begin("a-day-later", "qbo", uri, "cli", 1000.0 + 86400)  # exactly a day: "old" is kept
    assert [store.oauth_status(d)["state"] for d in ("old", "younger", "a-day-later")] == ["pending"] * 3
    store.oauth_begin("later-still", "qbo", uri, "cli", 1000.25 + 86400)
    assert store.oauth_status("old") is None
    assert [store.oauth_status(d)["state"] for d in ("younger", "a-day-later", "later-still")] == ["pending"] * 3
