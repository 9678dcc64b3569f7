"""The write path after ``connex undo`` and around a booking (``connex_core/sync/write.py``), on the memory
connector: an undone order waits for a run over its dates and is then posted again with a new idempotency key
(also when that repost fails first, and after a second undo); records a connector created beside its documents
are kept against the run; an ``after_dispatch`` hook that fails is logged with its traceback; a dry run notes the
orders booked already.

Assertions ``python3 dev.py mutation write`` found missing (the undo and created-records tests lived only in
slow end-to-end files)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta, timezone

import pytest

from connex_core import hookimpl
from connex_core.config import load_config
from connex_core.connector import Created, WriteResult
from connex_core.engine import SyncEngine
from connex_core.state import LedgerState, LogQuery, SQLiteStore
from connex_core.sync.undo import undo_run
from connex_core.sync.write import idempotency_key, undone_key
from tests.support.memory_plugin import MemoryConnector, api, orders_config, seed

CONFIG = orders_config(target="voiding", rules=["r.rules"])


class Voiding(MemoryConnector):
    """The memory target that can void a document (``connex undo``), saying what each write sent, and reporting
    the customers ``creates`` names as created beside an order's document."""

    name = "voiding"
    sent: list[tuple[str, str, str | None]] = []  # (number, idempotency key, replaces) of every order written
    creates: dict[str, list[Created]] = {}  # by the number the source shows

    answers: dict[str, WriteResult] = {}  # by number: the answer a write of that order gets instead

    def write_orders(self, writes):
        Voiding.sent.extend((w.order.number, w.idempotency_key, w.replaces) for w in writes)
        results = super().write_orders(writes)
        for i, r in enumerate(results):
            order = next(w.order for w in writes if w.key == r.key)
            if order.number in Voiding.answers:
                results[i] = r = dataclasses.replace(Voiding.answers[order.number], key=r.key)
            r.created = list(Voiding.creates.get(order.original_number or order.number, []))
        return results

    def cancel_orders(self, writes):
        out = []
        for w in writes:
            self.api.documents[w.target_ref]["voided"] = True
            out.append(WriteResult(w.key, ok=True, target_id=w.target_ref, note=f"{w.target_ref} voided"))
        return out


@hookimpl
def register_connectors(register):
    register(Voiding)


class Failing:
    """An ``after_dispatch`` hook that fails for every order."""

    def __init__(self):
        self.calls = 0

    @hookimpl
    def after_dispatch(self, order, task, outcome, target_id):
        self.calls += 1
        raise RuntimeError(f"the hook broke on {order.number}")


@pytest.fixture
def engine(manager, write_config, tmp_path):
    """``engine(rules="", dry_run=False)``: a SyncEngine over the config above with these rules."""
    manager.register(__import__(__name__, fromlist=["register_connectors"]), name="voiding")
    Voiding.sent, Voiding.creates, Voiding.answers = [], {}, {}
    path = write_config(CONFIG)

    def make(rules: str = "", **kw):
        (tmp_path / "r.rules").write_text(rules)
        cfg = load_config(path)
        return SyncEngine(cfg, manager, SQLiteStore(cfg.state_path), **kw)

    return make


SINCE = datetime.now(timezone.utc) - timedelta(days=2)  # a run over the orders' dates (connex run --since)


def entry_of(engine, order):
    return engine().store.ledger_get("orders", [order.key])[order.key]


def outcomes(engine, number):
    return [e.outcome for e in engine().store.query_log(LogQuery(task="orders")) if e.order_number == number]


def test_an_undone_order_waits_for_a_run_over_its_dates_then_is_posted_again_with_a_new_key(engine):
    first, *later = seed("src", 3)
    api("src").orders[:] = [first]  # the others arrive after the run that is undone
    booked = engine().run_task("orders")
    assert undo_run(engine(), booked.run_id).ok and api("dst").documents["doc-1"]["voided"]
    assert entry_of(engine, first).state == LedgerState.UNDONE
    api("src").orders[:] = [first, *later]  # the undone order first in the batch, then two new ones

    look = engine(dry_run=True).run_task("orders")
    assert [(o["order"], o["outcome"]) for o in look.orders] == [("1001", "undone"), ("1002", "would-create"),
                                                                  ("1003", "would-create")]
    assert "connex resync posts it again" in look.orders[0]["detail"] and look.counts["undone"] == 1

    summary = engine().run_task("orders")  # incremental: the undone order stays undone, the new ones are booked
    assert (summary.counts["undone"], summary.counts["created"]) == (1, 2) and summary.orders == []
    assert [s[0] for s in Voiding.sent] == ["1001", "1002", "1003"]  # 1001 only in the first run
    assert entry_of(engine, first).state == LedgerState.UNDONE and outcomes(engine, "1001") == ["created", "undone"]

    again = engine().run_task("orders", since=SINCE)  # a run over its dates posts it again
    assert again.counts["created"] == 1 and again.counts["already_synced"] == 2
    number, key, replaces = Voiding.sent[-1]
    assert (number, key, replaces) == ("1001", undone_key("orders", first.key, "doc-1"), "doc-1")
    assert key != idempotency_key("orders", first.key)  # the old key would replay the undone document's answer
    assert [s[1] for s in Voiding.sent[1:3]] == [idempotency_key("orders", o.key) for o in later]  # no undo: the key
    entry = entry_of(engine, first)
    assert (entry.state, entry.target_id, entry.idempotency_key) == (LedgerState.DONE, "doc-4", key)
    assert outcomes(engine, "1001") == ["created", "undone", "created"]
    assert [n for n, d in api("dst").documents.items() if d["number"] == "1001" and not d.get("voided")] == ["doc-4"]


def test_a_repost_that_fails_keeps_its_new_key_until_it_is_booked_also_after_a_second_undo(engine):
    [order] = seed("src", 1)
    undo_run(engine(), engine().run_task("orders").run_id)  # doc-1 taken back
    for undone in ("doc-1", "doc-2"):
        api("dst").reject_numbers = {"1001"}
        failed = engine().run_task("orders", since=SINCE)
        assert failed.counts["failed"] == 1 and entry_of(engine, order).state == LedgerState.FAILED
        api("dst").reject_numbers = set()
        reposted = engine().run_task("orders", since=SINCE)  # the failed repost again: the same new key
        assert reposted.counts["created"] == 1 and reposted.counts["duplicate"] == 0
        assert Voiding.sent[-2:] == [("1001", undone_key("orders", order.key, undone), undone)] * 2
        if undone == "doc-1":
            assert undo_run(engine(), reposted.run_id).ok  # doc-2 taken back: the next key is made for it
    assert entry_of(engine, order).target_id == "doc-3"
    assert outcomes(engine, "1001") == ["created", "undone", "failed", "created", "undone", "failed", "created"]
    assert sorted(n for n, d in api("dst").documents.items() if not d.get("voided")) == ["doc-3"]


def test_an_edit_of_a_reposted_order_updates_its_booking_under_its_own_key_and_replaces_nothing(engine):
    """Where the target upserts: once the repost is booked, the undone document is history. An edit (and the
    retry of an edit that failed) is an update of the booking, sent with the order's key and no ``replaces``."""
    api("dst").upsert = True
    [order] = seed("src", 1)
    undo_run(engine(), engine().run_task("orders").run_id)
    engine().run_task("orders", since=SINCE)
    assert Voiding.sent[-1] == ("1001", undone_key("orders", order.key, "doc-1"), "doc-1")
    assert entry_of(engine, order).state == LedgerState.DONE
    api("src").orders[0] = order.model_copy(update={"memo": "leave at the door"})
    api("dst").reject_numbers = {"1001"}
    assert engine().run_task("orders").counts["failed"] == 1  # the edit, refused once
    api("dst").reject_numbers = set()
    assert engine().run_task("orders").counts["failed"] == 0  # the edit again (the retry)
    assert Voiding.sent[-2:] == [("1001", idempotency_key("orders", order.key), None)] * 2
    [doc] = api("dst").documents.values()  # the one booking, edited
    assert doc["order"].memo == "leave at the door" and entry_of(engine, order).state == LedgerState.DONE


def test_a_failed_update_keeps_the_booked_document_and_its_retry_is_logged_updated(engine):
    """Where the target upserts, an edit of a booked order that fails leaves the document as booked: the ledger
    keeps its id and number through the failure (and a failed retry), and the retry that lands is an update."""
    api("dst").upsert = True
    [order] = seed("src", 1)
    engine().run_task("orders")
    booked = entry_of(engine, order)
    api("src").orders[0] = order.model_copy(update={"memo": "ring twice"})
    api("dst").reject_numbers = {"1001"}
    assert engine().run_task("orders").counts["failed"] == 1  # the edit, refused
    assert engine().run_task("orders").counts["failed"] == 1  # and its retry, refused again
    failed = entry_of(engine, order)
    assert failed.state == LedgerState.FAILED
    assert (failed.target_id, failed.target_number) == (booked.target_id, booked.target_number)
    api("dst").reject_numbers = set()
    assert engine().run_task("orders").counts["updated"] == 1
    assert outcomes(engine, "1001") == ["created", "failed", "failed", "updated"]
    [doc] = api("dst").documents.values()
    assert doc["order"].memo == "ring twice" and entry_of(engine, order).target_id == booked.target_id


def test_the_ledger_keeps_the_document_a_failed_write_names_and_the_one_an_update_answers(engine):
    """A write that made its document and then failed (a payment refused) names it: the failed entry keeps that
    document, not the intent's none; an update answered with another document than the booked one (a target that
    makes a new one) records the new one."""
    api("dst").upsert = True
    [half, moved] = seed("src", 2)
    Voiding.answers["1001"] = WriteResult(key="", ok=False, target_id="doc-half", error="payment refused")
    engine().run_task("orders")
    entry = entry_of(engine, half)
    assert (entry.state, entry.target_id) == (LedgerState.FAILED, "doc-half")
    assert entry_of(engine, moved).target_id == "doc-2"
    api("src").orders[1] = moved.model_copy(update={"memo": "new box"})
    Voiding.answers = {"1002": WriteResult(key="", ok=True, target_id="doc-new", target_number="1002")}
    engine().run_task("orders")
    assert (entry_of(engine, moved).state, entry_of(engine, moved).target_id) == (LedgerState.DONE, "doc-new")


def test_customers_a_connector_created_beside_the_documents_are_kept_against_the_run_by_source_number(engine):
    one, two = seed("src", 2)
    Voiding.creates = {"1001": [Created("customer", "cust-7", "Ann Lee")]}
    summary = engine("when number == '1001' then set number = 'W-1001'\n").run_task("orders")
    [kept] = engine().store.created_in_run(summary.run_id)
    assert (kept.kind, kept.target_id, kept.name, kept.source_key) == ("customer", "cust-7", "Ann Lee", one.key)
    assert kept.order_number == "1001"  # the number the source shows, not the one the rules wrote
    assert sorted(api("dst").numbers()) == ["1002", "W-1001"]


def test_an_after_dispatch_hook_that_fails_is_logged_with_its_traceback_and_the_run_goes_on(engine, manager, caplog):
    seed("src", 2)
    hook = Failing()
    manager.register(hook, name="failing")
    with caplog.at_level(logging.WARNING, logger="connex.engine"):
        summary = engine().run_task("orders")
    assert summary.status == "ok" and summary.counts["created"] == 2 and hook.calls == 2
    warned = [r for r in caplog.records if r.name == "connex.engine" and "after_dispatch" in r.getMessage()]
    assert [r.getMessage() for r in warned] == [f"an after_dispatch hook failed for order {n}" for n in ("1001", "1002")]
    assert all(r.exc_info and "the hook broke on" in str(r.exc_info[1]) for r in warned)  # the traceback is there
    assert {e.state for e in engine().store.ledger_get("orders", [o.key for o in api("src").orders]).values()} \
        == {LedgerState.DONE}


def test_a_dry_run_notes_each_booked_order_as_already_synced_with_its_document(engine):
    seed("src", 2)
    engine().run_task("orders")
    look = engine(dry_run=True).run_task("orders")
    assert [(o["order"], o["outcome"], o["detail"]) for o in look.orders] == [
        ("1001", "already-synced", "as 1001"), ("1002", "already-synced", "as 1002")]
    assert look.counts["already_synced"] == 2 and len(Voiding.sent) == 2
    assert engine().run_task("orders").orders == []  # a real run notes nothing
