"""The state store contract, on both stores: SQLite (the default) and PostgreSQL (``[state] url``).

PostgreSQL tests run against the server on 127.0.0.1:5432 (database ``test``, trust auth; override with
``CONNEX_TEST_POSTGRES``). Where it is not running they skip, saying what to start, except when ``CI=true``,
where a missing service is a failure. Each test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from connex_core.state import LedgerEntry, LogEntry, LogQuery, SQLiteStore
from connex_core.state.lease import TaskBusy, TaskLease

PG_URL = os.environ.get("CONNEX_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 - any failure means: not there
        return (f"PostgreSQL is not reachable at {PG_URL} ({type(exc).__name__}); start it with "
                "'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'")
    return None


def _need_pg() -> None:
    why = _pg_available()
    if why is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {why}")
    pytest.skip(why)


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_schema():
    _need_pg()
    schema = f"connex_test_{uuid.uuid4().hex[:12]}"
    yield schema
    _drop_schema(schema)


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request, tmp_path):
    """A function that opens (again) one store: a fresh file, or a fresh schema."""
    if request.param == "sqlite":
        path = tmp_path / "state.db"
        yield lambda: SQLiteStore(path)
        return
    _need_pg()
    from connex_core.state.postgres import PostgresStore

    schema = f"connex_test_{uuid.uuid4().hex[:12]}"
    yield lambda: PostgresStore(PG_URL, schema=schema)
    _drop_schema(schema)


@pytest.fixture
def store(opener):
    s = opener()
    yield s
    s.close()


def test_ledger_upserts_retry_queue_and_find_target(store):
    store.ledger_put([LedgerEntry("t", "a", "pending", snapshot="{}"), LedgerEntry("t", "b", "done", target_id="9"),
                      LedgerEntry("t", "c", "held", snapshot="{}"), LedgerEntry("u", "a", "failed"),
                      LedgerEntry("t", "d", "skipped")])
    store.ledger_put([LedgerEntry("t", "a", "failed", attempts=2, last_error="boom", snapshot="{}")])
    a = store.ledger_get("t", ["a"])["a"]
    assert (a.state, a.attempts, a.last_error) == ("failed", 2, "boom")
    assert sorted(e.source_key for e in store.ledger_retry_queue("t")) == ["a", "c"]
    assert store.ledger_find_target("b", ["t"]).target_id == "9"
    assert store.ledger_find_target("b", ["u"]) is None
    assert store.ledger_find_target("a", ["t", "u"]) is None  # not done anywhere
    assert store.ledger_find_target("a", ["u"], states=("failed",)).task == "u"
    assert store.ledger_counts("t") == {"failed": 1, "done": 1, "held": 1, "skipped": 1}


def test_released_entries_are_retried_and_entries_are_listed_by_state(store):
    store.ledger_put([LedgerEntry("t", "a", "held", snapshot="{}"), LedgerEntry("t", "b", "released", snapshot="{}"),
                      LedgerEntry("t", "c", "ignored"), LedgerEntry("u", "d", "failed"), LedgerEntry("t", "e", "done")])
    assert sorted(e.source_key for e in store.ledger_retry_queue("t")) == ["a", "b"]  # ignored never comes back
    assert [e.source_key for e in store.ledger_in_states(["held", "failed"])] == ["a", "d"]
    assert [e.source_key for e in store.ledger_in_states(["held", "failed", "ignored"], task="t")] == ["a", "c"]
    assert [e.state for e in store.ledger_in_states(["released"])] == ["released"]
    assert store.ledger_in_states([]) == []


def test_ledger_by_number_finds_the_done_entry_booked_under_a_number(store):
    store.ledger_put([LedgerEntry("t", "web:1", "done", target_id="SalesReceipt-4", target_number="5000"),
                      LedgerEntry("t", "amz:9", "held", target_number="5000"),
                      LedgerEntry("u", "web:2", "done", target_number="6000")])
    assert store.ledger_by_number("t", "5000").source_key == "web:1"
    assert store.ledger_by_number("t", "6000") is None  # another task's number
    assert store.ledger_by_number("u", "5000") is None
    store.ledger_put([LedgerEntry("t", "web:1", "voided", target_number="5000")])
    assert store.ledger_by_number("t", "5000") is None  # only a document still booked uses its number


def test_ledger_get_returns_every_key_of_a_large_batch(store):
    keys = [f"k{i}" for i in range(1203)]
    store.ledger_put([LedgerEntry("t", k, "done", target_id=k.upper()) for k in keys])
    got = store.ledger_get("t", keys + ["missing"])
    assert set(got) == set(keys)
    assert all(got[k].target_id == k.upper() for k in keys)


def test_runs_and_cursors(store):
    first = store.begin_run("t", {"since": None})
    second = store.begin_run("u", {"since": "2026-09-01"})
    store.finish_run(first, "ok", {"read": 3})
    assert second > first
    [u] = store.runs("u")
    assert (u["status"], u["options"], u["finished_at"]) == ("running", {"since": "2026-09-01"}, None)
    [t] = store.runs("t")
    assert (t["status"], t["summary"]) == ("ok", {"read": 3})
    assert [r["id"] for r in store.runs()] == [second, first]
    assert [r["id"] for r in store.runs(limit=1)] == [second]
    assert store.get_cursor("t") is None
    store.set_cursor("t", "2026-09-15T00:00:00+00:00")
    store.set_cursor("t", "2026-09-16T00:00:00+00:00")
    assert store.get_cursor("t") == "2026-09-16T00:00:00+00:00"


def test_query_log_filters(store):
    base = datetime(2026, 9, 15, 12, tzinfo=timezone.utc)
    entries = []
    for i in range(6):
        entries.append(LogEntry("t" if i % 2 == 0 else "u", f"k{i}", "created" if i < 4 else "held",
                                order_number=str(100 + i), run_id=1 if i < 3 else 2,
                                time=(base + timedelta(hours=i)).isoformat(), fired=[f"rule {i}"],
                                changes=[{"field": "memo", "before": None, "after": str(i)}]))
    store.log(entries)
    numbers = lambda q: [e.order_number for e in store.query_log(q)]  # noqa: E731
    assert numbers(LogQuery()) == ["100", "101", "102", "103", "104", "105"]
    assert numbers(LogQuery(task="t")) == ["100", "102", "104"]
    assert numbers(LogQuery(outcome="held")) == ["104", "105"]
    assert numbers(LogQuery(order_number="103")) == ["103"]
    assert numbers(LogQuery(run_id=2)) == ["103", "104", "105"]
    assert numbers(LogQuery(source_key="k4")) == ["104"]
    assert numbers(LogQuery(source_key="k4", outcome="created")) == []
    assert numbers(LogQuery(since=base + timedelta(hours=2))) == ["102", "103", "104", "105"]
    assert numbers(LogQuery(until=base + timedelta(hours=2))) == ["100", "101"]
    assert numbers(LogQuery(limit=2, newest_first=True)) == ["105", "104"]
    [one] = store.query_log(LogQuery(order_number="101"))
    assert one.fired == ["rule 1"] and one.changes == [{"field": "memo", "before": None, "after": "1"}]


def test_query_log_pages_on_the_line_id_and_counts_orders_per_day(store):
    base = datetime(2026, 9, 15, 23, tzinfo=timezone.utc)
    store.log([LogEntry("t", f"k{i % 4}", "held" if i % 4 == 3 else "created", order_number=str(100 + i),
                        time=(base + timedelta(hours=i)).isoformat()) for i in range(10)])
    numbers = lambda q: [e.order_number for e in store.query_log(q)]  # noqa: E731
    first = store.query_log(LogQuery(limit=4, newest_first=True))
    assert [e.order_number for e in first] == ["109", "108", "107", "106"]
    assert numbers(LogQuery(limit=4, newest_first=True, before_id=first[-1].id)) == ["105", "104", "103", "102"]
    assert numbers(LogQuery(outcome="held", newest_first=True, before_id=first[-1].id)) == ["103"]
    # the same order (source key) seen twice in a day counts once; days are UTC dates
    assert store.log_per_day("2026-09-16") == [("2026-09-16", "created", 3), ("2026-09-16", "held", 1)]
    assert store.log_per_day("2026-09-15") == [("2026-09-15", "created", 1)] + store.log_per_day("2026-09-16")


def test_state_survives_reopening(opener):
    s = opener()
    s.set_cursor("t", "c1")
    s.ledger_put([LedgerEntry("t", "a", "done", target_id="1")])
    s.close()
    again = opener()
    try:
        assert again.get_cursor("t") == "c1"
        assert again.ledger_get("t", ["a"])["a"].target_id == "1"
    finally:
        again.close()


# -- one runner per task ---------------------------------------------------------------------------

def test_a_lease_is_held_by_one_holder_until_released_or_expired(store):
    assert store.lease_acquire("t", "alice", ttl=60) is None
    assert store.lease_acquire("t", "alice", ttl=60) is None  # the holder may take it again
    busy = store.lease_acquire("t", "bob", ttl=60)
    assert busy is not None and busy.startswith("alice since ")
    assert store.lease_acquire("u", "bob", ttl=60) is None  # another task is free
    assert store.lease_renew("t", "alice", ttl=60) is True
    assert store.lease_renew("t", "bob", ttl=60) is False
    store.lease_release("t", "bob")  # not bob's: nothing happens
    assert store.lease_acquire("t", "bob", ttl=60) is not None
    store.lease_release("t", "alice")
    assert store.lease_acquire("t", "bob", ttl=60) is None
    # An expired lease (its holder died and stopped renewing) can be taken.
    assert store.lease_acquire("x", "dead", ttl=-1) is None
    assert store.lease_acquire("x", "bob", ttl=60) is None
    assert store.lease_renew("x", "dead", ttl=60) is False


def test_two_contenders_at_the_same_instant_one_wins(opener):
    """Each thread has its own connection (as two processes would); a barrier makes them ask together."""
    stores = [opener() for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    won: list[str] = []
    busy: list[str] = []

    def contend(i: int) -> None:
        barrier.wait(timeout=10)
        other = stores[i].lease_acquire("t", f"holder-{i}", ttl=60)
        (won if other is None else busy).append(f"holder-{i}")

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    try:
        assert len(won) == 1 and len(busy) == len(stores) - 1
    finally:
        for s in stores:
            s.close()


def test_task_lease_heartbeat_keeps_it_and_release_frees_it(store):
    with TaskLease(store, "t", holder="runner", ttl=0.3) as lease:
        renewed = threading.Event()
        # Past several ttl periods the lease is still ours: the heartbeat renewed it.
        for _ in range(8):
            renewed.wait(0.1)
        assert store.lease_acquire("t", "other", ttl=60) is not None
        assert not lease.lost.is_set()
    assert store.lease_acquire("t", "other", ttl=60) is None


def test_task_lease_raises_task_busy_naming_the_holder_and_can_wait(store):
    store.lease_acquire("t", "connex serve on host-a pid 42", ttl=60)
    with pytest.raises(TaskBusy, match="being run by connex serve on host-a pid 42 since"):
        TaskLease(store, "t", holder="me").acquire()
    sleeps: list[float] = []

    def fake_sleep(seconds: float) -> None:  # the other holder finishes while we wait
        sleeps.append(seconds)
        store.lease_release("t", "connex serve on host-a pid 42")

    lease = TaskLease(store, "t", holder="me", wait=30, poll=0.01, sleep=fake_sleep)
    lease.acquire()
    try:
        assert sleeps == [0.01]
        assert store.lease_acquire("t", "third", ttl=60).startswith("me since")
    finally:
        lease.release()


# -- many processes at once ------------------------------------------------------------------------

def _open_at_once(kind: str, where: str, barrier, results) -> None:
    try:
        barrier.wait(timeout=30)
        if kind == "sqlite":
            s = SQLiteStore(where)
        else:
            from connex_core.state.postgres import PostgresStore

            s = PostgresStore(PG_URL, schema=where)
        s.set_cursor(f"task-{os.getpid()}", "x")
        s.close()
        results.put("ok")
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        results.put(f"{type(exc).__name__}: {exc}")


def _four_open_at_once(ctx, kind: str, where: str) -> list[str]:
    """Four processes open the store at ``where`` at the same instant (a barrier): what each said ("ok" or its error)."""
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_open_at_once, args=(kind, where, barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    return outcomes


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_processes_opening_a_fresh_store_at_the_same_instant_all_succeed(kind, tmp_path):
    """Two or more processes starting together on a fresh store: one migrates, the others find it done.
    (Before the fix, 13 of 20 such SQLite starts failed with 'table runs already exists' or 'database is
    locked'.)"""
    if kind == "postgres":
        _need_pg()
    ctx = multiprocessing.get_context("spawn" if kind == "postgres" else "fork")
    failures = []
    for round_ in range(6):
        where = str(tmp_path / f"fresh-{round_}.db") if kind == "sqlite" else f"connex_test_{uuid.uuid4().hex[:12]}"
        failures += [o for o in _four_open_at_once(ctx, kind, where) if o != "ok"]
        if kind == "postgres":
            _drop_schema(where)
    assert failures == []


def test_a_newer_schema_is_refused(opener, tmp_path):
    s = opener()
    if isinstance(s, SQLiteStore):
        s.db.execute("PRAGMA user_version = 99")
        s.close()
        with pytest.raises(RuntimeError, match="newer Connex"):
            opener()
        return
    from connex_core.errors import ConfigurationError

    s.db.execute("UPDATE connex_schema SET version = 99")
    s.close()
    with pytest.raises(ConfigurationError, match="newer Connex"):
        opener()


def test_postgres_connection_errors_are_config_errors_without_a_password(monkeypatch):
    from connex_core.errors import ConfigurationError
    from connex_core.state.postgres import PostgresStore

    with pytest.raises(ConfigurationError) as info:
        PostgresStore("postgresql://someone:hunter2secret@127.0.0.1:1/test", connect_timeout=2)
    assert "state.url" in str(info.value) and "hunter2secret" not in str(info.value)


# -- the command line on a held task ---------------------------------------------------------------

def test_connex_run_on_a_task_held_elsewhere_exits_5_naming_the_holder(manager, memory_config, tmp_path):
    from connex_core.cli import app
    from tests.support.memory_plugin import api, seed

    seed("src", 3)
    other = SQLiteStore(tmp_path / "connex.db")
    other.lease_acquire("orders", "connex serve on host-b pid 7", ttl=600)
    runner = CliRunner()
    result = runner.invoke(app, ["run", "--json"])
    assert result.exit_code == 5, result.output
    assert "being run by connex serve on host-b pid 7" in result.stderr
    assert json.loads(result.stdout)[0]["status"] == "busy"
    assert api("dst").documents == {}  # nothing was written
    other.lease_release("orders", "connex serve on host-b pid 7")
    result = runner.invoke(app, ["run", "--json"])
    assert result.exit_code == 0, result.output
    assert len(api("dst").documents) == 3
    # The run let go of its lease: another holder can take the task now.
    assert other.lease_acquire("orders", "someone else", ttl=60) is None
    other.close()


def test_connex_run_on_postgres_state(manager, write_config, pg_schema):
    from connex_core.cli import app
    from connex_core.state.postgres import PostgresStore
    from tests.support.memory_plugin import api, seed

    write_config(f"""
        [state]
        url = "{PG_URL}"
        schema = "{pg_schema}"

        [connections.src]
        type = "memory"
        space = "src"

        [connections.dst]
        type = "memory"
        space = "dst"

        [tasks.orders]
        source = "src"
        target = "dst"
        """)
    seed("src", 4)
    runner = CliRunner()
    first = runner.invoke(app, ["run", "--json"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["run", "--json"])
    assert again.exit_code == 0, again.output
    assert len(api("dst").documents) == 4  # the ledger on PostgreSQL kept the second run from posting again
    s = PostgresStore(PG_URL, schema=pg_schema)
    try:
        assert s.ledger_counts("orders") == {"done": 4}
        assert {e.outcome for e in s.query_log(LogQuery(task="orders"))} == {"created"}
    finally:
        s.close()


def test_a_lease_whose_holder_died_on_this_machine_is_taken_at_once(store):
    """A runner killed with SIGKILL never lets go; a rerun on the same machine must not wait out the ttl."""
    import subprocess
    import sys

    from connex_core.state.lease import holder_is_dead, holder_name

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = holder_name("connex run").replace(f"pid {os.getpid()}", f"pid {child.pid}")
    assert store.lease_acquire("t", dead, ttl=600) is None
    assert holder_is_dead(dead) is False  # alive: its lease stands
    with pytest.raises(TaskBusy):
        TaskLease(store, "t", holder="me").acquire()
    child.kill()
    child.wait()
    assert holder_is_dead(dead) is True
    lease = TaskLease(store, "t", holder="me")
    lease.acquire()
    try:
        assert store.lease_acquire("t", "third", ttl=60).startswith("me since")
    finally:
        lease.release()
    # A holder on another machine is never judged from here.
    assert holder_is_dead("connex worker on some-other-host pid 1 [abcdef12]") is False


def test_a_postgres_store_carries_on_after_the_server_drops_its_connection(pg_schema):
    """A long-lived process (``connex serve``: its inbox, its leases) must not be left with a dead connection after
    a PostgreSQL restart or ``pg_terminate_backend``: the call that met the drop fails, the next one reconnects
    (to the same schema), and nothing written before is lost."""
    import psycopg

    from connex_core.state.postgres import PostgresStore

    app = f"connex-drop-{uuid.uuid4().hex[:8]}"
    store = PostgresStore(f"{PG_URL}?application_name={app}", schema=pg_schema)
    try:
        store.set_cursor("task", "before the drop")
        with psycopg.connect(PG_URL, autocommit=True) as db:
            [(dropped,)] = db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE application_name = %s", (app,)).fetchall()
        assert dropped is True
        with pytest.raises(psycopg.OperationalError):
            store.get_cursor("task")  # the call that meets the drop is not retried behind the caller's back
        assert store.get_cursor("task") == "before the drop"
        store.set_cursor("task", "after the drop")
        assert store.inbox_put("shipstation", "d1", {}, b"{}") is not None
        assert store.get_cursor("task") == "after the drop" and store.inbox_counts() == {"new": 1}
    finally:
        store.close()

def test_ledger_by_number_ignoring_case_finds_the_number_in_any_case(store):
    store.ledger_put([LedgerEntry("t", "web:9", "done", target_number="Zc-100")])
    assert store.ledger_by_number("t", "zc-100") is None  # as written
    assert store.ledger_by_number("t", "zc-100", ignore_case=True).source_key == "web:9"
    assert store.ledger_by_number("t", "ZC-100", ignore_case=True).source_key == "web:9"
    assert store.ledger_by_number("t", "zc-101", ignore_case=True) is None


def test_what_a_run_created_is_kept_against_the_run(opener):
    """``connex undo`` lists what a run created beside its documents: kept per run, in the order recorded."""
    from connex_core.state import CreatedRecord

    s = opener()
    first, second = s.begin_run("t", {}), s.begin_run("t", {})
    s.created_put([CreatedRecord(task="t", run_id=first, source_key="shop:1", kind="Customer", target_id="58",
                                 name="Ann Lee", order_number="1001"),
                   CreatedRecord(task="t", run_id=first, source_key="shop:1", kind="Item", target_id="19",
                                 name="MUG-BLU", order_number="1001")])
    s.created_put([CreatedRecord(task="t", run_id=second, source_key="shop:2", kind="Contact", target_id="c-1")])
    s.created_put([])
    s.close()
    s = opener()  # kept across processes
    try:
        assert [(c.kind, c.target_id, c.name, c.order_number, c.source_key) for c in s.created_in_run(first)] == [
            ("Customer", "58", "Ann Lee", "1001", "shop:1"), ("Item", "19", "MUG-BLU", "1001", "shop:1")]
        [contact] = s.created_in_run(second)
        assert (contact.kind, contact.target_id, contact.name, contact.task) == ("Contact", "c-1", None, "t")
        assert contact.time and s.created_in_run(second + 1) == []
    finally:
        s.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_store_of_the_schema_before_gains_the_created_records_table(kind, tmp_path, monkeypatch):
    """A state store written by the Connex before it (one migration less) is migrated when opened; its runs stay."""
    if kind == "sqlite":
        from connex_core.state import sqlite as module

        def opener():
            return SQLiteStore(tmp_path / "old.db")
    else:
        _need_pg()
        from connex_core.state import postgres as module

        schema = f"connex_test_{uuid.uuid4().hex[:12]}"

        def opener():
            return module.PostgresStore(PG_URL, schema=schema)
    full = list(module.MIGRATIONS)
    try:
        monkeypatch.setattr(module, "MIGRATIONS", full[:-1])
        old = opener()
        run = old.begin_run("t", {})
        with pytest.raises(Exception, match="created_records"):
            old.created_in_run(run)
        old.close()
        monkeypatch.setattr(module, "MIGRATIONS", full)
        # Four processes of the new Connex open it at the same instant: one migrates, the others find it done.
        ctx = multiprocessing.get_context("spawn" if kind == "postgres" else "fork")
        where = str(tmp_path / "old.db") if kind == "sqlite" else schema
        assert _four_open_at_once(ctx, kind, where) == ["ok"] * 4
        new = opener()
        assert new.schema_version == len(full)
        new.created_put([module.CreatedRecord(task="t", run_id=run, source_key="shop:1", kind="Item", target_id="7")])
        assert [c.target_id for c in new.created_in_run(run)] == ["7"] and new.runs("t")[0]["id"] == run
        new.close()
    finally:
        if kind == "postgres":
            _drop_schema(schema)
