"""The exactly-once write protocol, through the public API: every order ends in the ledger as what
happened to it, every outcome is logged and told to ``after_dispatch``, and a failed write is
retried a fixed number of times, then left for the next run, never marked done."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from connex_core.models import Order

from connex_core import hookimpl
from connex_core.config import load_config
from connex_core.engine import WRITE_ATTEMPTS, SyncEngine
from connex_core.errors import FatalAPIError
from connex_core.state import LogQuery, SQLiteStore
from tests.support.memory_plugin import Crash, api, orders_config, seed

EVER = datetime(2000, 1, 1, tzinfo=timezone.utc)


class Told:
    """An ``after_dispatch`` plugin that records what it is told."""

    def __init__(self):
        self.calls: list[tuple[str, str, str, str | None]] = []

    @hookimpl
    def after_dispatch(self, order, task, outcome, target_id):
        self.calls.append((order.number, task, outcome, target_id))


@pytest.fixture
def told(manager):
    plugin = Told()
    manager.register(plugin, name="told")
    return plugin


@pytest.fixture
def run(manager, memory_config):
    cfg = load_config(memory_config)

    def run_once(**kw):
        return SyncEngine(cfg, manager, SQLiteStore(cfg.state_path)).run_task("orders", **kw)

    return run_once


@pytest.fixture
def store(memory_config):
    return SQLiteStore(load_config(memory_config).state_path)


def ledger(store, task="orders"):
    return {e.source_key: e for e in store.ledger_get(task, [f"memory:m{i}" for i in range(1, 1001)]).values()}


def test_a_created_order_is_done_in_the_ledger_logged_and_told(run, store, told):
    [order] = seed("src", 1)
    summary = run()
    [(tid, doc)] = api("dst").documents.items()
    entry = ledger(store)[order.key]
    assert (entry.state, entry.target_id, entry.target_number, entry.attempts) == ("done", tid, "1001", 1)
    assert entry.idempotency_key == doc["idem"] and entry.content_hash == doc["order"].content_hash()
    # The ledger keeps the version it booked (issue 14: an edit after booking is compared with it).
    assert entry.snapshot is not None and entry.last_error is None
    booked = Order.model_validate_json(entry.snapshot)
    assert (booked.key, booked.number, booked.total) == (order.key, "1001", order.total)
    [log] = store.query_log(LogQuery(task="orders"))
    assert (log.outcome, log.target_id, log.target_number, log.run_id) == ("created", tid, "1001", summary.run_id)
    assert told.calls == [("1001", "orders", "created", tid)]


def test_an_order_the_connector_gave_no_answer_for_is_failed_not_done_and_retried(run, store, told):
    orders = seed("src", 3)
    api("dst").unanswered_numbers = {"1002"}  # written, but left out of the answer
    summary = run()
    assert summary.counts["created"] == 2 and summary.counts["failed"] == 1
    entry = ledger(store)[orders[1].key]
    assert entry.state == "failed" and "gave no result" in entry.last_error
    assert entry.snapshot is not None, "kept for the retry"
    [failed] = store.query_log(LogQuery(outcome="failed"))
    assert failed.order_number == "1002" and "gave no result" in failed.reason
    assert ("1002", "orders", "failed", None) in told.calls
    # the next run looks it up before writing: found there, it is done, and it is not written twice
    api("dst").unanswered_numbers = set()
    api("src").orders = []
    again = run()
    assert again.counts["duplicate"] + again.counts["created"] == 1 and again.counts["failed"] == 0
    assert sorted(api("dst").numbers()) == ["1001", "1002", "1003"]
    assert {e.state for e in ledger(store).values()} == {"done"}


def test_a_batch_refused_every_time_is_written_exactly_write_attempts_times_then_left_for_the_next_run(
        run, store, told, caplog):
    seed("src", 5)
    api("dst").fail_on_write = set(range(1, 100))
    summary = run()
    assert api("dst").write_calls == WRITE_ATTEMPTS == 3
    retries = [r for r in caplog.records if "reconciling and retrying" in r.getMessage()]
    assert len(retries) == WRITE_ATTEMPTS - 1, "the last failure is recorded, not announced as retried"
    assert api("dst").find_calls == WRITE_ATTEMPTS  # looked up before every attempt
    assert summary.counts["failed"] == 5 and summary.counts["created"] == 0
    entries = ledger(store)
    assert {e.state for e in entries.values()} == {"failed"} and len(entries) == 5
    assert all("will retry next run" in e.last_error and e.snapshot for e in entries.values())
    assert {e.attempts for e in entries.values()} == {WRITE_ATTEMPTS}
    logged = store.query_log(LogQuery(outcome="failed"))
    assert sorted(e.order_number for e in logged) == ["1001", "1002", "1003", "1004", "1005"]
    assert all("service unavailable" in e.reason for e in logged)
    assert [c[2] for c in told.calls] == ["failed"] * 5
    api("dst").fail_on_write = set()
    api("src").orders = []
    again = run()
    assert again.counts["created"] == 5 and again.counts["retried"] == 5
    assert {e.state for e in ledger(store).values()} == {"done"}


def test_a_batch_refused_all_but_the_last_attempt_is_created_once(run, store, caplog):
    seed("src", 4)
    api("dst").fail_on_write = set(range(1, WRITE_ATTEMPTS))
    summary = run()
    retries = [r.getMessage() for r in caplog.records if "reconciling and retrying" in r.getMessage()]
    assert len(retries) == WRITE_ATTEMPTS - 1 and "service unavailable (write call 1)" in retries[0]
    assert summary.counts["created"] == 4 and summary.counts["failed"] == 0
    assert api("dst").write_calls == WRITE_ATTEMPTS
    assert sorted(api("dst").numbers()) == ["1001", "1002", "1003", "1004"]
    assert {(e.state, e.attempts) for e in ledger(store).values()} == {("done", WRITE_ATTEMPTS)}


def test_a_lost_answer_is_reconciled_into_done_entries_and_told_as_created(run, store, told):
    orders = seed("src", 30)
    api("dst").lose_response_on_write = {1}  # the first batch (25) is committed, its answer lost
    summary = run()
    assert summary.counts["created"] == 30 and len(api("dst").documents) == 30
    entries = ledger(store)
    assert {e.state for e in entries.values()} == {"done"} and len(entries) == 30
    by_number = {d["number"]: tid for tid, d in api("dst").documents.items()}
    assert all(entries[o.key].target_id == by_number[o.number] for o in orders)
    reconciled = [e for e in store.query_log(LogQuery(task="orders")) if e.message and "interrupted write" in e.message]
    assert len(reconciled) == 25 and {e.outcome for e in reconciled} == {"created"}
    assert all(e.target_id == by_number[e.order_number] for e in reconciled)
    assert sorted(told.calls) == sorted(("%d" % (1001 + i), "orders", "created", by_number[str(1001 + i)])
                                        for i in range(30))


def test_a_fatal_error_records_and_logs_the_batch_then_stops_the_run(run, store, told):
    seed("src", 30)
    api("dst").fatal_on_write = {2}  # the second batch
    with pytest.raises(FatalAPIError, match="account was closed"):
        run()
    entries = ledger(store)
    assert sorted(e.state for e in entries.values()) == ["done"] * 25 + ["failed"] * 5
    failed = [e for e in entries.values() if e.state == "failed"]
    assert all(e.last_error == "the account was closed (write call 2)" and e.snapshot for e in failed)
    logged = store.query_log(LogQuery(outcome="failed"))
    assert sorted(e.order_number for e in logged) == ["1026", "1027", "1028", "1029", "1030"]
    assert [r["status"] for r in store.runs("orders")] == ["error"]
    assert sum(1 for c in told.calls if c[2] == "failed") == 5
    api("dst").fatal_on_write = set()
    assert run(since=EVER).counts["created"] == 5
    assert len(api("dst").documents) == 30


def test_an_order_already_done_is_not_written_or_told_again(run, store, told):
    seed("src", 3)
    run()
    calls, finds, told.calls = api("dst").write_calls, api("dst").find_calls, []
    second = run(since=EVER)
    assert second.counts["already_synced"] == 3 and api("dst").write_calls == calls
    assert api("dst").find_calls == finds, "nothing to write: not even a look-up"
    assert told.calls == []


def test_a_changed_order_is_updated_in_an_upserting_target_keeping_its_document(run, store, told):
    api("dst").upsert = True
    orders = seed("src", 2)
    run()
    first = ledger(store)[orders[0].key]
    api("src").orders[0] = orders[0].model_copy(update={"amount_paid": Decimal("1.00")})
    summary = run(since=EVER)
    assert summary.counts["updated"] == 1 and summary.counts["already_synced"] == 1
    entry = ledger(store)[orders[0].key]
    assert entry.target_id == first.target_id and entry.content_hash != first.content_hash
    assert entry.attempts == first.attempts + 1 and entry.state == "done"
    assert told.calls[-1] == ("1001", "orders", "updated", first.target_id)
    [log] = store.query_log(LogQuery(outcome="updated"))
    assert log.order_number == "1001" and log.target_id == first.target_id


def test_a_changed_order_is_not_written_again_to_a_target_that_does_not_upsert(run, store):
    """An edit after booking on a target that cannot update in place is held with the reason (issue 14,
    ``on_update = "update"``), never posted a second time."""
    orders = seed("src", 2)
    run()
    api("src").orders[0] = orders[0].model_copy(update={"amount_paid": Decimal("1.00")})
    summary = run(since=EVER)
    assert summary.counts["already_synced"] == 1 and summary.counts["held"] == 1
    assert len(api("dst").documents) == 2
    [held] = store.query_log(LogQuery(outcome="held"))
    assert held.order_number == "1001" and held.reason


def test_a_duplicate_found_in_the_target_is_done_with_its_document_and_told(run, store, told):
    orders = seed("src", 2)
    api("dst").documents["pre-1"] = {"number": "1002", "order": None, "tracking": []}
    summary = run()
    assert summary.counts["duplicate"] == 1 and summary.counts["created"] == 1
    entry = ledger(store)[orders[1].key]
    assert (entry.state, entry.target_id, entry.target_number, entry.attempts) == ("done", "pre-1", "1002", 0)
    assert ("1002", "orders", "duplicate", "pre-1") in told.calls
    [dup] = store.query_log(LogQuery(outcome="duplicate"))
    assert dup.message == "already in memory as 1002"


def test_skipped_and_held_orders_are_told_with_no_document(run, told, write_config, manager, tmp_path):
    (tmp_path / "r.rules").write_text("when number == '1001' then skip 'test'\nwhen number == '1002' then hold 'look'\n")
    path = write_config(orders_config(rules=["r.rules"]))
    seed("src", 3)
    cfg = load_config(path)
    SyncEngine(cfg, manager, SQLiteStore(cfg.state_path)).run_task("orders")
    assert sorted(told.calls) == [("1001", "orders", "skipped", None), ("1002", "orders", "held", None),
                                  ("1003", "orders", "created", "doc-1")]


def test_a_failing_after_dispatch_hook_is_logged_and_the_run_goes_on(run, manager, caplog):
    class Broken:
        @hookimpl
        def after_dispatch(self, order, task, outcome, target_id):
            raise RuntimeError("notifier down")

    manager.register(Broken(), name="broken")
    seed("src", 2)
    summary = run()
    assert summary.counts["created"] == 2 and summary.status == "ok"
    assert sum("after_dispatch hook failed" in r.getMessage() for r in caplog.records) == 2


def test_an_unreadable_answer_is_retried_as_a_lost_one(run, store, monkeypatch):
    from tests.support.memory_plugin import MemoryConnector

    seed("src", 3)
    original = MemoryConnector.write_orders
    calls = []

    def garbled(self, writes):
        calls.append(len(writes))
        results = original(self, writes)
        if len(calls) == 1:
            raise KeyError("Invoice")  # the answer had a shape the connector did not expect
        return results

    monkeypatch.setattr(MemoryConnector, "write_orders", garbled)
    summary = run()
    assert calls == [3]  # the second attempt found all three in the target: nothing written twice
    assert summary.counts["created"] == 3 and len(api("dst").documents) == 3
    assert {e.state for e in ledger(store).values()} == {"done"}


def test_a_kill_during_a_write_leaves_pending_intents_that_the_next_run_turns_into_done(run, store):
    seed("src", 60)
    api("dst").crash_on_write = {2}
    with pytest.raises(Crash):
        run()
    states = sorted(e.state for e in ledger(store).values())
    assert states == ["done"] * 25 + ["pending"] * 25  # the intents of the batch cut off
    api("dst").crash_on_write = set()
    run()
    entries = ledger(store)
    assert len(entries) == 60 and {e.state for e in entries.values()} == {"done"}
    assert len(api("dst").documents) == 60


def test_a_duplicate_reported_by_the_write_itself_is_done_with_the_document_it_names(run, store, told):
    orders = seed("src", 2)
    api("dst").duplicate_numbers = {"1002": "theirs-7"}  # created by someone else between look-up and write
    summary = run()
    assert summary.counts["duplicate"] == 1 and summary.counts["created"] == 1
    entry = ledger(store)[orders[1].key]
    assert (entry.state, entry.target_id, entry.target_number) == ("done", "theirs-7", "1002")
    [dup] = store.query_log(LogQuery(outcome="duplicate"))
    assert dup.message == "already in dst as 1002" and dup.reason is None and dup.target_id == "theirs-7"
    [created] = store.query_log(LogQuery(outcome="created"))
    assert created.message is None and created.reason is None
    assert ("1002", "orders", "duplicate", "theirs-7") in told.calls


def test_the_task_target_options_reach_every_write(manager, write_config):
    path = write_config(orders_config() + '[tasks.orders.target_options]\ndocument = "invoice"\n')
    seed("src", 3)
    cfg = load_config(path)
    SyncEngine(cfg, manager, SQLiteStore(cfg.state_path)).run_task("orders")
    assert [d["options"] for d in api("dst").documents.values()] == [{"document": "invoice"}] * 3


def test_an_order_repeated_in_one_batch_is_written_once(manager, memory_config):
    [order] = seed("src", 1)
    cfg = load_config(memory_config)
    summary = SyncEngine(cfg, manager, SQLiteStore(cfg.state_path)).run_task("orders", orders=[order, order])
    assert summary.counts["read"] == 2 and summary.counts["created"] == 1
    assert api("dst").numbers() == ["1001"]


def test_an_answer_that_stays_unreadable_fails_the_batch_with_a_message_naming_the_target(run, store, monkeypatch):
    from tests.support.memory_plugin import MemoryConnector

    seed("src", 2)

    def garbled(self, writes):
        self.api.write_calls += 1
        raise KeyError("Invoice" if self.api.write_calls == 1 else "x" * 500)

    monkeypatch.setattr(MemoryConnector, "write_orders", garbled)
    summary = run()
    assert summary.counts["failed"] == 2 and api("dst").write_calls == WRITE_ATTEMPTS
    [error] = {e.last_error for e in ledger(store).values()}
    # the last attempt's error, with what came back cut to its first 120 characters
    assert error == f"memory answered in a way Connex could not read (KeyError: '{'x' * 119}...) (will retry next run)"


def test_the_intents_of_a_killed_write_are_replayed_from_the_ledger_when_the_source_moved_on(run, store):
    seed("src", 30)
    api("dst").crash_on_write = {2}  # the second batch (5 orders) dies half-way: 2 written, 3 not
    with pytest.raises(Crash):
        run()
    pending = [e for e in ledger(store).values() if e.state == "pending"]
    assert len(pending) == 5 and all(e.snapshot and e.attempts == 1 and e.idempotency_key for e in pending)
    api("dst").crash_on_write = set()
    api("src").orders = []  # the window moved on: only the ledger remembers them
    summary = run()
    assert summary.counts["retried"] == 5 and summary.counts["created"] == 5
    entries = ledger(store)
    assert len(entries) == 30 and {e.state for e in entries.values()} == {"done"}
    assert sorted(api("dst").numbers()) == [str(1001 + i) for i in range(30)]
    reconciled = [e for e in store.query_log(LogQuery(task="orders")) if e.message and "interrupted write" in e.message]
    assert len(reconciled) == 2  # the two committed before the kill were found, not written again
    assert {entries[k].attempts for k in (e.source_key for e in pending)} <= {1, 2}


def test_a_found_order_whose_content_changed_since_the_interrupted_write_is_still_its_own_booking(run, store):
    """The booking key is stable per order (issue 15.3): an order written just before a kill and changed before
    the rerun is found as Connex's own booking, completed, and not posted again nor taken for another sale."""
    orders = seed("src", 2)
    api("dst").crash_on_write = {1}
    with pytest.raises(Crash):
        run()
    api("dst").crash_on_write = set()
    api("src").orders[0] = orders[0].model_copy(update={"amount_paid": Decimal("5.00")})
    summary = run(since=EVER)
    assert summary.counts["created"] == 2 and summary.counts["duplicate"] == 0
    assert sorted(d["number"] for d in api("dst").documents.values()) == ["1001", "1002"]
    assert {e.state for e in ledger(store).values()} == {"done"}


def test_a_changed_order_is_an_update_even_when_the_target_named_no_document(run, store):
    api("dst").upsert = True
    api("dst").answers_without_ids = True
    orders = seed("src", 1)
    assert run().counts["created"] == 1
    assert ledger(store)[orders[0].key].target_id is None
    api("src").orders[0] = orders[0].model_copy(update={"amount_paid": Decimal("2.00")})
    summary = run(since=EVER)
    assert summary.counts["updated"] == 1 and summary.counts["created"] == 0
    assert len(api("dst").documents) == 1
