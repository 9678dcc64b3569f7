"""The sync engine: exactly once, nothing lost, every outcome recorded."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from connex_core.cli.run import format_summary
from connex_core.config import load_config
from connex_core.engine import SyncEngine
from connex_core.errors import AuthenticationError
from connex_core.models import Shipment
from connex_core.state import LogQuery, SQLiteStore
from connex_core.testing.factories import make_order
from tests.support import memory_plugin
from tests.support.memory_plugin import Crash, api, daily_config, seed


def engine_for(path, manager, **kw):
    cfg = load_config(path)
    return SyncEngine(cfg, manager, SQLiteStore(cfg.state_path), **kw)


def test_1000_orders_twice_creates_each_once(manager, memory_config):
    seed("src", 1000)
    first = engine_for(memory_config, manager).run_task("orders")
    assert first.counts["created"] == 1000
    assert len(api("dst").documents) == 1000
    second = engine_for(memory_config, manager).run_task("orders", since=datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert second.counts["already_synced"] == 1000
    assert second.counts["created"] == 0
    assert len(api("dst").documents) == 1000
    assert sorted(api("dst").numbers()) == sorted(str(1001 + i) for i in range(1000))


def test_a_run_killed_mid_write_then_rerun_creates_none_twice_and_loses_none(manager, memory_config):
    seed("src", 200)
    api("dst").crash_on_write = {3}  # dies half-way through the third batch, after committing half of it
    with pytest.raises(Crash):
        engine_for(memory_config, manager).run_task("orders")
    written_before_crash = len(api("dst").documents)
    assert 0 < written_before_crash < 200
    api("dst").crash_on_write = set()
    summary = engine_for(memory_config, manager).run_task("orders")
    numbers = api("dst").numbers()
    assert len(numbers) == len(set(numbers)) == 200
    # the half-written batch was reconciled from the target, not written again
    store = SQLiteStore(load_config(memory_config).state_path)
    log = store.query_log(LogQuery(task="orders"))
    reconciled = [e for e in log if e.message and "interrupted write" in e.message]
    assert len(reconciled) == written_before_crash - 50
    assert summary.counts["created"] + summary.counts["already_synced"] == 200
    # and the ledger knows it: every order done, with the document it is in (none left pending)
    assert store.ledger_counts("orders") == {"done": 200}
    entries = store.ledger_get("orders", [o.key for o in api("src").orders])
    by_number = {d["number"]: tid for tid, d in api("dst").documents.items()}
    assert all(entries[o.key].target_id == by_number[o.number] for o in api("src").orders)


def test_a_lost_response_is_reconciled_not_written_twice(manager, memory_config):
    seed("src", 60)
    api("dst").lose_response_on_write = {1}
    summary = engine_for(memory_config, manager).run_task("orders")
    numbers = api("dst").numbers()
    assert len(numbers) == len(set(numbers)) == 60
    assert summary.counts["created"] == 60
    assert summary.counts["failed"] == 0


def test_cursor_moves_and_an_incremental_run_reads_only_what_is_new(manager, memory_config):
    now = datetime.now(timezone.utc)
    seed("src", 10, start=now - timedelta(days=3))
    engine_for(memory_config, manager).run_task("orders")

    def add(number, when):
        api("src").orders.append(memory_plugin.make_order(source="memory", source_id=number, number=number,
                                                          created_at=when, modified_at=when))

    add("NEW-1", now - timedelta(minutes=5))
    second = engine_for(memory_config, manager).run_task("orders")
    # the window starts an hour (the overlap) before the newest order seen: the old orders near it are
    # re-read and dropped by the ledger, nothing is written twice
    assert second.counts["created"] == 1 and second.counts["already_synced"] == 10
    add("NEW-2", now)
    third = engine_for(memory_config, manager).run_task("orders")
    # now the cursor is minutes ago: only the two recent orders are in the window
    assert third.counts["read"] == 2
    assert third.counts["created"] == 1 and third.counts["already_synced"] == 1
    assert sorted(api("dst").numbers())[-2:] == ["NEW-1", "NEW-2"]


def test_a_rejected_order_is_recorded_and_the_run_goes_on_then_retried(manager, memory_config):
    seed("src", 30)
    api("dst").reject_numbers = {"1005"}
    summary = engine_for(memory_config, manager).run_task("orders")
    assert summary.counts["created"] == 29 and summary.counts["failed"] == 1
    failed = SQLiteStore(load_config(memory_config).state_path).query_log(LogQuery(outcome="failed"))
    assert [e.order_number for e in failed] == ["1005"]
    assert "item not found" in failed[0].reason
    # fixed in the target: the next run retries it from the ledger, even though the window moved on
    api("dst").reject_numbers = set()
    api("src").orders = []
    again = engine_for(memory_config, manager).run_task("orders")
    assert again.counts["created"] == 1
    assert sorted(api("dst").numbers()).count("1005") == 1


def test_an_order_already_in_the_target_is_a_duplicate_not_posted_again(manager, memory_config):
    seed("src", 5)
    api("dst").documents["pre-1"] = {"number": "1003", "order": None, "tracking": []}
    summary = engine_for(memory_config, manager).run_task("orders")
    assert summary.counts["duplicate"] == 1 and summary.counts["created"] == 4
    assert api("dst").numbers().count("1003") == 1
    dup = SQLiteStore(load_config(memory_config).state_path).query_log(LogQuery(outcome="duplicate"))
    assert dup[0].target_id == "pre-1" and "already in memory" in dup[0].message


def test_dry_run_writes_nothing_and_records_nothing(manager, memory_config):
    seed("src", 40)
    summary = engine_for(memory_config, manager, dry_run=True).run_task("orders")
    assert summary.counts["would_create"] == 40
    assert api("dst").documents == {} and api("dst").write_calls == 0
    store = SQLiteStore(load_config(memory_config).state_path)
    assert store.query_log(LogQuery()) == [] and store.get_cursor("orders") is None


def test_a_revoked_credential_stops_the_task_with_a_reconnect_message(manager, memory_config):
    seed("src", 3)
    api("dst").revoked = True
    with pytest.raises(AuthenticationError, match="reconnect"):
        engine_for(memory_config, manager).run_task("orders")


def test_daily_summary_posts_one_document_per_closed_day_and_never_twice(manager, write_config):
    # days are the source's (its connector's time zone: Pacific here), not the machine's or UTC
    path = write_config(daily_config(timezone="America/Los_Angeles"))
    from zoneinfo import ZoneInfo

    pacific = ZoneInfo("America/Los_Angeles")
    now = datetime(2026, 9, 17, 12, 0, tzinfo=pacific)
    # 23:30 Pacific on the 15th is already the 16th in UTC: it belongs to the 15th
    late = datetime(2026, 9, 15, 23, 30, tzinfo=pacific)
    early = datetime(2026, 9, 16, 0, 30, tzinfo=pacific)
    today = datetime(2026, 9, 17, 9, 0, tzinfo=pacific)
    for i, t in enumerate([late, late, early, today]):
        api("src").orders.append(memory_plugin.make_order(source="memory", source_id=f"d{i}", number=f"D{i}",
                                                          created_at=t, modified_at=t))
    cfg = load_config(path)
    run = lambda: SyncEngine(cfg, manager, SQLiteStore(cfg.state_path), now=lambda: now).run_task("daily")
    first = run()
    docs = sorted(api("dst").documents.values(), key=lambda d: d["number"])
    assert [d["number"] for d in docs] == ["DS-20260915", "DS-20260916"]  # today is not closed yet
    d15 = docs[0]["order"]
    assert "D0" in d15.memo and "D1" in d15.memo and "D2" not in d15.memo
    assert d15.total == 2 * api("src").orders[0].total
    assert {l.sku: l.quantity for l in d15.lines} == {"MUG-BLU": Decimal("4"), "TEE-L": Decimal("2")}
    assert first.counts["created"] == 2
    second = run()
    assert second.counts["created"] == 0 and len(api("dst").documents) == 2


def test_tracking_is_written_back_to_the_document_the_order_came_from(manager, write_config):
    path = write_config("""
        [connections.acct]
        type = "memory"
        space = "acct"
        [connections.ship]
        type = "memory"
        space = "ship"
        [tasks.tracking]
        source = "ship"
        target = "acct"
        kind = "tracking"
    """)
    api("acct").documents["INV-9"] = {"number": "9", "order": None, "tracking": []}
    api("ship").shipments = [
        Shipment(source="memory", source_id="s1", order_number="9", origin="memory:INV-9", tracking_number="1Z999",
                 carrier="ups", created_at=datetime.now(timezone.utc)),
        Shipment(source="memory", source_id="s2", order_number="7", origin="othersys:77", tracking_number="1Z777"),
        Shipment(source="memory", source_id="s3", order_number="9", origin="memory:INV-9", tracking_number="VOID",
                 voided=True),
    ]
    cfg = load_config(path)
    first = SyncEngine(cfg, manager, SQLiteStore(cfg.state_path)).run_task("tracking")
    assert api("acct").documents["INV-9"]["tracking"] == ["1Z999"]
    assert first.counts["updated"] == 1 and first.counts["not_ours"] == 1
    second = SyncEngine(cfg, manager, SQLiteStore(cfg.state_path)).run_task("tracking")
    assert second.counts["already_synced"] == 1
    assert api("acct").documents["INV-9"]["tracking"] == ["1Z999"]


def test_an_order_that_came_from_the_target_is_not_sent_back(manager, memory_config):
    seed("src", 3)
    api("src").orders[1] = api("src").orders[1].model_copy(update={"origin": "memory:INV-77"})
    summary = engine_for(memory_config, manager).run_task("orders")
    assert summary.counts["created"] == 2 and summary.counts["skipped"] == 1
    [skip] = SQLiteStore(load_config(memory_config).state_path).query_log(LogQuery(outcome="skipped"))
    assert skip.order_number == "1002" and skip.reason == "this order came from memory (INV-77); not sent back"


def test_orders_delivered_by_a_webhook_are_processed_without_moving_the_cursor(manager, memory_config):
    orders = seed("src", 4)
    summary = engine_for(memory_config, manager).run_task("orders", orders=orders[:2])
    assert summary.counts["created"] == 2 and summary.counts["read"] == 2
    assert SQLiteStore(load_config(memory_config).state_path).get_cursor("orders") is None


def test_a_cancelled_run_finishes_its_batch_and_keeps_the_cursor(manager, memory_config):
    seed("src", 100)
    engine = engine_for(memory_config, manager)
    source = engine.connector("src")
    original = source.fetch_orders

    def fetch_then_cancel(query):
        for i, order in enumerate(original(query)):
            if i == 30:
                engine.cancel.set()  # SIGTERM arrives while the second batch is being read
            yield order

    source.fetch_orders = fetch_then_cancel
    summary = engine.run_task("orders")
    assert summary.status == "stopped"
    numbers = api("dst").numbers()
    assert len(numbers) == summary.counts["created"] == 30  # batch 1 (25) + the 5 read before the stop
    assert SQLiteStore(load_config(memory_config).state_path).get_cursor("orders") is None
    rest = engine_for(memory_config, manager).run_task("orders")
    assert rest.counts["created"] == 70 and len(set(api("dst").numbers())) == 100


def test_an_unchanged_skipped_order_is_logged_once_not_every_run(manager, memory_config):
    seed("src", 3)
    api("src").orders[0] = api("src").orders[0].model_copy(update={"origin": "memory:INV-1"})
    for _ in range(3):
        summary = engine_for(memory_config, manager).run_task("orders", since=datetime(2000, 1, 1, tzinfo=timezone.utc))
        assert summary.counts["skipped"] == 1
    skips = SQLiteStore(load_config(memory_config).state_path).query_log(LogQuery(outcome="skipped"))
    assert len(skips) == 1


def test_a_changed_order_is_updated_in_an_upserting_target_even_across_a_crash(manager, memory_config):
    api("dst").upsert = True
    seed("src", 40)
    engine_for(memory_config, manager).run_task("orders")
    assert len(api("dst").documents) == 40
    # 30 orders get paid later (their content changes); the process dies half-way through the update
    for i in range(30):
        api("src").orders[i] = api("src").orders[i].model_copy(update={"amount_paid": Decimal("1.00"), "paid": False})
    api("dst").crash_on_write = {api("dst").write_calls + 1}
    with pytest.raises(Crash):
        engine_for(memory_config, manager).run_task("orders", since=datetime(2000, 1, 1, tzinfo=timezone.utc))
    api("dst").crash_on_write = set()
    summary = engine_for(memory_config, manager).run_task("orders", since=datetime(2000, 1, 1, tzinfo=timezone.utc))
    docs = api("dst").documents
    assert len(docs) == 40  # updated in place, nothing posted twice
    updated = [d for d in docs.values() if d["order"].amount_paid == Decimal("1.00")]
    assert len(updated) == 30  # none of the updates lost, including those cut off by the crash
    assert summary.counts["updated"] == 30 and summary.counts["created"] == 0


TRACKING_BESIDE_ORDERS = """
    [connections.ship]
    type = "memory"
    space = "ship"
    [connections.acct]
    type = "memory"
    space = "acct"
    [tasks.orders]
    source = "ship"
    target = "acct"
    initial_days = 30
    [tasks.tracking]
    source = "ship"
    target = "acct"
    kind = "tracking"
    initial_days = 30
"""


def _tracking_run(cfg, manager):
    return lambda task: SyncEngine(cfg, manager, SQLiteStore(cfg.state_path)).run_task(task)


def _far_shipment(now):
    """A shipment of a document that exists, hours after the others: it moves the tracking cursor past them."""
    api("acct").documents["INV-9"] = {"number": "9", "order": None, "tracking": []}
    return Shipment(source="memory", source_id="s-far", order_number="9", origin="memory:INV-9",
                    tracking_number="1ZFAR", created_at=now)


def test_a_shipment_whose_order_is_not_in_the_target_yet_is_read_again_once_it_is(manager, write_config):
    now = datetime.now(timezone.utc)
    [order] = seed("ship", 1, start=now - timedelta(hours=5))
    api("acct").reject_numbers = {order.number}  # the invoice cannot be created yet
    api("ship").shipments = [
        Shipment(source="memory", source_id="s-old", order_source_id=order.source_id, order_number=order.number,
                 tracking_number="1ZOLD", carrier="ups", created_at=now - timedelta(hours=3)),
        # an order the orders task read past without booking (before its cursor): not ours
        Shipment(source="memory", source_id="s-other", order_source_id="elsewhere", tracking_number="1ZNEW",
                 created_at=now - timedelta(hours=6))]
    cfg = load_config(write_config(TRACKING_BESIDE_ORDERS))
    run = _tracking_run(cfg, manager)
    assert run("orders").counts["failed"] == 1
    first = run("tracking")
    assert first.counts["waiting"] == 1 and first.counts["not_ours"] == 1
    api("acct").reject_numbers = set()
    assert run("orders").counts["created"] == 1  # the retry queue creates the invoice
    second = run("tracking")  # three hours later than the overlap: read again only because the cursor waited
    assert second.counts["updated"] == 1
    [doc] = api("acct").documents.values()
    assert doc["tracking"] == ["1ZOLD"]


def test_a_shipment_is_not_passed_by_while_the_task_that_books_its_order_has_not_run(manager, write_config):
    """The tracking task runs before the orders task has finished a run (busy in another process, stopped by an
    error, killed): a shipment of an order it has not read waits; the tracking cursor stays before it."""
    cfg = load_config(write_config(TRACKING_BESIDE_ORDERS))
    now = datetime.now(timezone.utc)
    [order] = seed("ship", 1, start=now - timedelta(hours=5))
    api("ship").shipments = [
        Shipment(source="memory", source_id="s1", order_source_id=order.source_id, order_number=order.number,
                 tracking_number="1ZONE", carrier="ups", created_at=now - timedelta(hours=4)),
        _far_shipment(now)]
    run = _tracking_run(cfg, manager)
    first = run("tracking")
    assert first.counts["waiting"] == 1 and first.counts["not_ours"] == 0 and first.counts["updated"] == 1
    assert format_summary(first.as_dict()) == "tracking: read 2, updated 1, waiting 1"  # what `connex run` says
    assert SQLiteStore(cfg.state_path).get_cursor("tracking") == (now - timedelta(hours=4)).isoformat()
    assert run("orders").counts["created"] == 1
    second = run("tracking")
    assert second.counts["updated"] == 1 and second.counts["waiting"] == 0
    [doc] = [d for d in api("acct").documents.values() if d["number"] == order.number]
    assert doc["tracking"] == ["1ZONE"]
    assert SQLiteStore(cfg.state_path).get_cursor("tracking") == now.isoformat()


def test_an_order_shipped_after_the_orders_task_read_gets_its_tracking_once_it_is_booked(manager, write_config):
    """The order is made and shipped between the orders task's read and the tracking task's: its shipment is newer
    than anything the orders task has read (shipping changes an order), so it waits for the next run's booking.
    A shipment of an order the orders task has read past without booking is not ours."""
    cfg = load_config(write_config(TRACKING_BESIDE_ORDERS))
    now = datetime.now(timezone.utc)
    [early] = seed("ship", 1, start=now - timedelta(hours=5))
    run = _tracking_run(cfg, manager)
    assert run("orders").counts["created"] == 1  # its cursor: the early order's change, five hours ago
    late = make_order(source="memory", source_id="m-late", number="2001", created_at=now - timedelta(hours=4),
                      order_date=now - timedelta(hours=4), modified_at=now - timedelta(hours=3))  # shipped: changed
    api("ship").orders.append(late)
    api("ship").shipments = [
        Shipment(source="memory", source_id="s-late", order_source_id=late.source_id, order_number=late.number,
                 tracking_number="1ZLATE", created_at=now - timedelta(hours=3)),
        Shipment(source="memory", source_id="s-gone", order_source_id="read-past", tracking_number="1ZGONE",
                 created_at=now - timedelta(hours=6)),
        _far_shipment(now)]
    first = run("tracking")
    assert (first.counts["waiting"], first.counts["not_ours"], first.counts["updated"]) == (1, 1, 1)
    assert run("orders").counts["created"] == 1
    second = run("tracking")
    assert second.counts["updated"] == 1 and second.counts["waiting"] == 0
    docs = {d["number"]: d for d in api("acct").documents.values()}
    assert docs["2001"]["tracking"] == ["1ZLATE"] and docs[early.number]["tracking"] == []
