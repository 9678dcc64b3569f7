"""The write path's less travelled branches (``connex_core/sync/write.py``), each checked in the ledger, the
log and what ``after_dispatch`` is told: orders a person ignored; rule outcomes for orders already booked;
a held order logged once per reason; and bookings found in the target with a part missing after a crash
(the target completes them, or they stay intents until it can).

These are the assertions ``python3 dev.py mutation write`` found missing."""

from __future__ import annotations

from datetime import datetime

import pytest

from connex_core import hookimpl
from connex_core.config import load_config
from connex_core.connector import WriteResult
from connex_core.engine import SyncEngine
from connex_core.errors import RetriableAPIError
from connex_core.models import Order
from connex_core.state import LedgerEntry, LedgerState, LogQuery, SQLiteStore
from tests.support.memory_plugin import Crash, MemoryConnector, api, daily_config, orders_config, seed


class Told:
    def __init__(self):
        self.calls: list[tuple[str, str, str | None]] = []

    @hookimpl
    def after_dispatch(self, order, task, outcome, target_id):
        self.calls.append((order.number, outcome, target_id))


class Unpaid(MemoryConnector):
    """The memory target with a second write per booking (a payment after the document), like an invoice
    and its payment: a kill between the two leaves a document that ``find_orders`` reports as lacking its
    payment, and ``write_follow_ups`` adds only that."""

    name = "unpaid"
    follow_ups: list[list[str]] = []  # the numbers of each write_follow_ups call
    follow_up_failures: dict[str, str] = {}  # number -> the error its payment gets; "*": the call fails

    def write_orders(self, writes):
        results = super().write_orders(writes)
        for r in results:
            if r.ok and not r.duplicate:
                self.api.documents[r.target_id]["paid"] = True
        return results

    def find_orders(self, writes):
        found = super().find_orders(writes)
        for hit in found.values():
            if not self.api.documents[hit.target_id].get("paid"):
                hit.missing = "payment"
        return found

    def write_follow_ups(self, items):
        Unpaid.follow_ups.append([w.order.number for w, _ in items])
        if "*" in Unpaid.follow_up_failures:
            raise RetriableAPIError(Unpaid.follow_up_failures["*"], connector=self.name)
        out = []
        for w, hit in items:
            error = Unpaid.follow_up_failures.get(w.order.number)
            if error:
                out.append(WriteResult(w.key, ok=False, error=error))
                continue
            self.api.documents[hit.target_id]["paid"] = True
            out.append(WriteResult(w.key, ok=True, target_id=hit.target_id, note=f"paid {w.order.total}"))
        return out


class Noting(MemoryConnector):
    """The memory target, saying in its own words why a write it refused as a duplicate is one."""

    name = "noting"

    def write_orders(self, writes):
        results = super().write_orders(writes)
        for r in results:
            if r.duplicate:
                r.note = "matched by its reference"
        return results


@hookimpl
def register_connectors(register):
    register(Unpaid)
    register(Noting)


@pytest.fixture
def told(manager):
    plugin = Told()
    manager.register(plugin, name="told")
    return plugin


@pytest.fixture
def task(manager, write_config, tmp_path):
    """``task(target="memory", rules="")``: a function that runs the orders task once with these rules."""
    manager.register(__import__(__name__, fromlist=["register_connectors"]), name="unpaid")
    Unpaid.follow_ups, Unpaid.follow_up_failures = [], {}
    paths = {}

    def run(rules: str = "", target: str = "memory", **engine):
        (tmp_path / "r.rules").write_text(rules)
        if target not in paths:
            paths[target] = write_config(orders_config(target=target, rules=["r.rules"]), name=f"{target}.toml")
        cfg = load_config(paths[target])
        return SyncEngine(cfg, manager, SQLiteStore(cfg.state_path), **engine).run_task("orders")

    return run


@pytest.fixture
def store(tmp_path):
    return SQLiteStore(tmp_path / "connex.db")


def entries(store, orders) -> dict[str, LedgerEntry]:
    got = store.ledger_get("orders", [o.key for o in orders])
    return {o.number: got[o.key] for o in orders if o.key in got}


def logged(store) -> list[tuple[str, str, str | None]]:
    return [(e.order_number, e.outcome, e.reason) for e in store.query_log(LogQuery(task="orders"))]


@pytest.mark.parametrize("rules", ["", "when number == '1001' then hold 'look'\n",
                                   "when number == '1001' then skip 'not ours'\n"])
def test_an_order_a_person_ignored_is_counted_ignored_never_written_logged_or_told(task, store, told, rules):
    one, two = seed("src", 2)
    store.ledger_put([LedgerEntry("orders", one.key, LedgerState.IGNORED, last_error="a test order")])
    summary = task(rules)
    assert (summary.counts["ignored"], summary.counts["created"]) == (1, 1)
    assert summary.counts["held"] == summary.counts["skipped"] == 0
    assert api("dst").numbers() == ["1002"]
    assert logged(store) == [("1002", "created", None)] and told.calls == [("1002", "created", "doc-1")]
    left = entries(store, [one])["1001"]
    assert (left.state, left.last_error) == ("ignored", "a test order")


def test_a_booked_order_a_new_rule_holds_or_skips_stays_done_unlogged_and_untold(task, store, told):
    one, two = seed("src", 2)
    task()
    before = entries(store, [one, two])
    summary = task("when number == '1001' then hold 'look'\nwhen number == '1002' then skip 'gone'\n")
    assert summary.counts["held"] == 0 and summary.counts["already_synced"] == 1  # the held one: nothing waits
    assert entries(store, [one, two]) == before  # still done, with their documents
    assert {e.state for e in before.values()} == {"done"}
    assert logged(store) == [("1001", "created", None), ("1002", "created", None)]
    assert [c[1] for c in told.calls] == ["created", "created"]
    assert sorted(api("dst").numbers()) == ["1001", "1002"]


def test_a_held_order_is_logged_once_per_reason_and_rule_outcome(task, store, told):
    [order] = seed("src", 1)
    hold_a = "when number == '1001' then hold 'a'\n"
    first = task(hold_a)
    entry = entries(store, [order])["1001"]
    assert (entry.state, entry.last_error, entry.attempts, entry.target_id) == ("held", "a", 0, None)
    assert Order.model_validate_json(entry.snapshot).key == order.key  # the retry queue's copy
    assert entry.content_hash == order.content_hash()
    second = task(hold_a)
    assert first.counts["held"] == second.counts["held"] == 1
    assert logged(store) == [("1001", "held", "a")]  # seen again for the same reason: not logged again
    assert store.ledger_get("orders", [order.key])[order.key].updated_at > entry.updated_at  # "last seen" moved
    task("when number == '1001' then hold 'b'\n")
    task("when number == '1001' then skip 'b'\n")  # the same words, another outcome
    assert logged(store) == [("1001", "held", "a"), ("1001", "held", "b"), ("1001", "skipped", "b")]
    entry = entries(store, [order])["1001"]
    assert (entry.state, entry.last_error, entry.snapshot) == ("skipped", "b", None)  # no retry queue copy
    assert [c[1] for c in told.calls] == ["held", "held", "skipped"]
    assert api("dst").numbers() == []


def test_a_rule_outcome_keeps_the_write_attempts_an_order_had(task, store):
    [order] = seed("src", 1)
    api("dst").reject_numbers = {"1001"}
    task()
    task()
    assert entries(store, [order])["1001"].attempts == 2
    task("when number == '1001' then hold 'fix the item first'\n")
    entry = entries(store, [order])["1001"]
    assert (entry.state, entry.attempts, entry.last_error) == ("held", 2, "fix the item first")


def test_the_log_line_of_a_held_order_names_its_rule_and_what_the_rules_changed(task, store):
    [order] = seed("src", 1)
    task("rule 'memo' when number == '1001' then set memo = 'checked'\n"
         "rule 'look' when number == '1001' then hold 'look'\n")
    [line] = store.query_log(LogQuery(task="orders"))
    assert (line.outcome, line.reason, line.rule, line.line) == ("held", "look", "look", 2)
    assert line.rule_file.endswith("r.rules") and line.order_number == "1001"
    assert datetime.fromisoformat(line.order_date) == order.created_at
    assert line.fired == ["memo", "look"]
    assert [(c["field"], c["after"], c["rule"], c["line"]) for c in line.changes] == [("memo", "checked", "memo", 1)]
    assert line.changes[0]["file"].endswith("r.rules")


def _killed_between_document_and_payment(task, n: int = 30) -> list[Order]:
    """A first run killed in its second write call: its first batch (25) booked and paid, the next half
    written as documents without their payment, the rest not written."""
    orders = seed("src", n)
    api("dst").crash_on_write = {2}
    with pytest.raises(Crash):
        task(target="unpaid")
    api("dst").crash_on_write = set()
    return orders


def test_a_booking_found_without_its_payment_after_a_kill_is_completed_not_written_again(task, store, told):
    orders = _killed_between_document_and_payment(task)
    unpaid = sorted(d["number"] for d in api("dst").documents.values() if not d.get("paid"))
    assert len(unpaid) == 2  # the kill landed between a document and its payment
    summary = task(target="unpaid")
    assert Unpaid.follow_ups == [unpaid]  # only what lacked its payment
    docs = api("dst").documents.values()
    assert sorted(d["number"] for d in docs) == [o.number for o in orders]  # every order once
    assert all(d.get("paid") for d in docs)
    assert summary.counts["created"] == 5 and summary.counts["failed"] == 0
    booked = entries(store, orders)
    assert {e.state for e in booked.values()} == {"done"}
    by_number = {d["number"]: tid for tid, d in api("dst").documents.items()}
    for number in unpaid:
        e = booked[number]
        assert (e.target_id, e.target_number) == (by_number[number], number)
        assert Order.model_validate_json(e.snapshot).number == number  # the version booked
    lines = {e.order_number: e for e in store.query_log(LogQuery(task="orders", run_id=summary.run_id))}
    for number in unpaid:
        total = next(o.total for o in orders if o.number == number)
        assert lines[number].outcome == "created" and lines[number].target_id == by_number[number]
        assert lines[number].message == f"found in unpaid after an interrupted write; completed: paid {total}"
    assert sorted(c for c in told.calls if c[0] in unpaid) == [(n, "created", by_number[n]) for n in unpaid]


@pytest.mark.parametrize("failure", ["*", "each"])
def test_a_booking_whose_payment_cannot_be_added_yet_stays_an_intent_until_it_can(task, store, told, failure):
    orders = _killed_between_document_and_payment(task)
    unpaid = sorted(d["number"] for d in api("dst").documents.values() if not d.get("paid"))
    error = "the payments API is down"
    Unpaid.follow_up_failures = {"*": error} if failure == "*" else {n: error for n in unpaid}
    summary = task(target="unpaid")
    assert summary.counts["failed"] == len(unpaid) and summary.counts["created"] == 3
    booked = entries(store, orders)
    assert sorted(n for n, e in booked.items() if e.state == "pending") == unpaid  # still to complete
    assert not any(c[0] in unpaid for c in told.calls)  # nothing to tell yet
    lines = {e.order_number: e for e in store.query_log(LogQuery(task="orders", run_id=summary.run_id))}
    for number in unpaid:
        line = lines[number]
        assert (line.outcome, line.reason) == ("failed", error)
        assert line.message == f"found in unpaid without its payment; not completed: {error}"
        assert line.target_number == number and line.target_id is not None
    Unpaid.follow_up_failures = {}
    summary = task(target="unpaid")  # the next run completes them
    assert summary.counts["created"] == len(unpaid) and Unpaid.follow_ups[-1] == unpaid
    assert {e.state for e in entries(store, orders).values()} == {"done"}
    assert sorted(d["number"] for d in api("dst").documents.values()) == [o.number for o in orders]


def test_a_document_someone_else_left_without_its_payment_is_a_duplicate_not_completed(task, store, told):
    [order] = seed("src", 1)
    api("dst").documents["theirs"] = {"number": "1001", "order": order, "tracking": []}  # no payment
    summary = task(target="unpaid")
    assert summary.counts["duplicate"] == 1 and Unpaid.follow_ups == []
    entry = entries(store, [order])["1001"]
    assert (entry.state, entry.target_id, entry.snapshot) == ("done", "theirs", None)  # not a version we booked
    [line] = store.query_log(LogQuery(task="orders"))
    assert (line.outcome, line.message) == ("duplicate", "already in unpaid as 1001")
    assert told.calls == [("1001", "duplicate", "theirs")]


def test_a_duplicate_the_target_explains_is_logged_in_its_own_words(task, store):
    seed("src", 3)
    api("dst").duplicate_numbers = {"1001": "theirs-1", "1002": "theirs-2"}
    task(target="noting")
    lines = {e.order_number: e for e in store.query_log(LogQuery(task="orders"))}
    assert [(lines[n].outcome, lines[n].message, lines[n].target_id, lines[n].reason) for n in ("1001", "1002", "1003")] \
        == [("duplicate", "matched by its reference", "theirs-1", None),
            ("duplicate", "matched by its reference", "theirs-2", None), ("created", None, "doc-1", None)]


def test_an_order_a_daily_summarys_rules_skip_is_logged_left_out_of_its_day_and_kept_out_of_the_ledger(
        manager, write_config, tmp_path):
    from zoneinfo import ZoneInfo

    from tests.support.memory_plugin import make_order

    (tmp_path / "r.rules").write_text("when number == 'D1' then skip 'a staff order'\n")
    path = write_config(daily_config(rules=["r.rules"]))
    utc = ZoneInfo("UTC")
    day = datetime(2026, 9, 15, 10, 0, tzinfo=utc)
    orders = [make_order(source="memory", source_id=f"d{i}", number=f"D{i}", created_at=day, modified_at=day)
              for i in range(2)]
    api("src").orders.extend(orders)
    cfg = load_config(path)
    store = SQLiteStore(cfg.state_path)
    summary = SyncEngine(cfg, manager, store, now=lambda: datetime(2026, 9, 17, 12, 0, tzinfo=utc)).run_task("daily")
    assert summary.counts["skipped"] == 1 and summary.counts["created"] == 1
    [doc] = api("dst").documents.values()
    assert doc["order"].total == orders[0].total  # the day without the skipped order
    skipped = [(e.order_number, e.outcome, e.reason) for e in store.query_log(LogQuery(task="daily"))
               if e.outcome == "skipped"]
    assert skipped == [("D1", "skipped", "a staff order")]
    assert store.ledger_get("daily", [orders[1].key]) == {}  # a summary's orders are not booked one by one


def test_a_bookings_idempotency_key_is_the_one_earlier_versions_sent():
    """A write whose answer was lost before an upgrade is replayed after it: the key must not change between
    versions (these values were sent since the key was defined; QuickBooks ``requestid`` and Xero's
    ``Idempotency-Key`` take 32 hexadecimal characters well within their limits)."""
    from connex_core.sync.write import idempotency_key

    assert idempotency_key("orders", "memory:m1") == "1916b4c5e8345ccaef5773b54ba968e0"
    assert idempotency_key("tracking", "shipstation:1", "1Z999") == "54a87d96bcc2ac72061e2fec74f0ed56"
    assert idempotency_key("orders", "memory:m1", "1Z999") != idempotency_key("orders", "memory:m1")


def test_a_dry_run_reports_held_and_skipped_orders_and_records_nothing(task, store, told):
    seed("src", 3)
    summary = task("when number == '1001' then hold 'look'\nwhen number == '1002' then skip 'not ours'\n",
                   dry_run=True)
    assert [(o["order"], o["outcome"], o["detail"]) for o in summary.orders if o["outcome"] in ("held", "skipped")] \
        == [("1001", "held", "look"), ("1002", "skipped", "not ours")]
    assert summary.counts["held"] == summary.counts["skipped"] == 1
    assert store.query_log(LogQuery()) == [] and store.ledger_counts("orders") == {}
    assert told.calls == [] and api("dst").documents == {}
