"""The connector under the real sync engine: orders and daily summaries into the simulator, exactly once.

The source is a small in-memory connector defined here (the engine needs one; ShipStation has its own
tests), the target is this plugin against the simulator on loopback.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Iterator

import pytest

from connex_core import hookimpl
from connex_core.config import Config
from connex_core.connector import Capability, Connector, ConnectorSettings, FetchQuery
from connex_core.engine import SyncEngine
from connex_core.models import Customer, Order
from connex_core.sandbox.runner import reference_secrets
from connex_core.secrets import secret_fields
from connex_core.state import SQLiteStore
from connex_core.testing import make_order

PACIFIC = timezone(timedelta(hours=-7))
DAY = datetime(2026, 9, 15, 9, 0, tzinfo=PACIFIC)


class MemorySource(Connector):
    """Reads the orders put in ``MemorySource.orders`` (created_at decides the window)."""

    name = "memory"
    settings_model = ConnectorSettings
    capabilities = frozenset({Capability.READ_ORDERS})
    orders: list[Order] = []

    def fetch_orders(self, query: FetchQuery) -> Iterator[Order]:
        for order in self.orders:
            if query.since and order.created_at < query.since or query.until and order.created_at >= query.until:
                continue
            yield order


class MemoryPlugin:
    @hookimpl
    def register_connectors(self, register):
        register(MemorySource)


@pytest.fixture
def engine(sim, clock, tmp_path, plugin_manager):
    import connex_quickbooks

    plugin_manager.register(connex_quickbooks, name="quickbooks-under-test")
    plugin_manager.register(MemoryPlugin(), name="memory-source")
    MemorySource.orders = [
        make_order(source="memory", source_id=str(i), number=f"10{i:02d}", created_at=DAY + timedelta(minutes=i),
                   order_date=DAY + timedelta(minutes=i), customer=Customer(name=f"Buyer {i}", email=f"b{i}@x.test"))
        for i in range(5)
    ]
    options = {"unknown_items": "create_non_inventory", "customer_match": "email"}
    # secrets (the settings model's SecretStr fields) by reference, in 0600 files: never inline
    secrets = reference_secrets(sim.client_config(), secret_fields(connex_quickbooks.QuickBooksSettings),
                                tmp_path / "secrets", tmp_path, "quickbooks")
    cfg = Config.model_validate({
        "connections": {"memory": {"type": "memory"}, "quickbooks": {"type": "quickbooks", **secrets}},
        "tasks": {
            "orders": {"source": "memory", "target": "quickbooks", "kind": "orders",
                       "target_options": {**options, "document": "invoice"}},
            "summary": {"source": "memory", "target": "quickbooks", "kind": "daily_summary",
                        "target_options": {**options, "summary_date": "created", "fixed_customer": "Daily Sales"}},
        }})
    cfg.path = tmp_path / "connex.toml"
    opened = []

    def make(state: str = "connex.db") -> SyncEngine:
        """An engine on the state file ``state`` (a new name: as if the state had been lost)."""
        store = SQLiteStore(tmp_path / state)
        opened.append(store)
        running = SyncEngine(cfg, plugin_manager, store, connector_options={"clock": clock},
                             now=lambda: DAY + timedelta(days=1))
        opened.append(running)
        return running

    yield make
    for thing in reversed(opened):
        thing.close()


def test_orders_task_posts_once(sim, engine):
    first = engine().run_task("orders")
    assert first.status == "ok" and first.counts["created"] == 5
    assert sorted(d["DocNumber"] for d in sim.entities("Invoice")) == ["1000", "1001", "1002", "1003", "1004"]
    assert len(sim.entities("Payment")) == 5
    again = engine("lost-state.db").run_task("orders")
    assert again.counts.get("created", 0) == 0 and again.counts["duplicate"] == 5
    assert len(sim.entities("Invoice")) == 5 and len(sim.entities("Payment")) == 5


def test_daily_summary_posts_one_document_per_day_and_never_twice(sim, engine):
    first = engine().run_task("summary")
    assert first.status == "ok" and first.counts["created"] == 1, first
    [doc] = sim.entities("SalesReceipt")
    assert doc["DocNumber"] == "DS-20260915" and doc["TxnDate"] == "2026-09-15"
    assert doc["CustomerRef"]["name"] == "Daily Sales"
    assert "1000, 1001, 1002, 1003, 1004" in doc["PrivateNote"]
    assert Decimal(str(doc["TotalAmt"])) == sum((o.total for o in MemorySource.orders), Decimal("0"))
    again = engine("lost-state.db").run_task("summary")  # no ledger: only QuickBooks can tell
    assert again.counts.get("created", 0) == 0 and again.counts["duplicate"] == 1
    assert len(sim.entities("SalesReceipt")) == 1


class Crash(BaseException):
    """Stands for the process dying (kill -9): nothing after it runs, the ledger keeps what was written."""


def _paid_once(sim) -> None:
    """Every invoice is paid off by exactly one payment linked to it."""
    payments: dict[str, int] = {}
    for payment in sim.entities("Payment"):
        for line in payment["Line"]:
            for linked in line["LinkedTxn"]:
                payments[linked["TxnId"]] = payments.get(linked["TxnId"], 0) + 1
    invoices = sim.entities("Invoice")
    assert [(i["DocNumber"], Decimal(str(i["Balance"]))) for i in invoices if Decimal(str(i["Balance"])) != 0] == []
    assert {i["Id"]: payments.get(i["Id"], 0) for i in invoices} == {i["Id"]: 1 for i in invoices}


@pytest.mark.parametrize("payments_sent", [False, True], ids=["killed-before-payments", "killed-after-payments"])
def test_a_crash_at_the_payments_is_completed_by_the_rerun(sim, engine, monkeypatch, payments_sent):
    """The booking is one unit: a run killed when its payments go out (before they are sent, or after
    QuickBooks took them but before the ledger heard) leaves invoices the rerun finds by DocNumber; it
    posts each missing payment once (its own requestid) and never a second one."""
    from connex_quickbooks import writer

    pay = writer.OrderWriter._pay_invoices

    def crash(self, posted, found, results):
        if payments_sent:
            pay(self, posted, found, results)
        raise Crash()

    monkeypatch.setattr(writer.OrderWriter, "_pay_invoices", crash)
    with pytest.raises(Crash):
        engine().run_task("orders")
    assert len(sim.entities("Invoice")) == 5
    assert len(sim.entities("Payment")) == (5 if payments_sent else 0)
    monkeypatch.setattr(writer.OrderWriter, "_pay_invoices", pay)
    again = engine().run_task("orders")
    assert again.status == "ok" and again.counts["created"] == 5, again
    assert len(sim.entities("Invoice")) == 5
    _paid_once(sim)
    third = engine().run_task("orders")
    assert third.counts["already_synced"] == 5 and len(sim.entities("Payment")) == 5


def test_a_crash_then_an_edit_posts_nothing_twice_when_quickbooks_numbers_documents(sim, engine, monkeypatch):
    """With custom transaction numbers off (QuickBooks numbers the documents; no DocNumber to look up)
    and the duplicate-number warning off, the requestid is the only guard: a run killed after its
    documents went out, and an order edited before the rerun, still gives every order one invoice and
    one payment (the booking's key does not change with the order's content)."""
    from connex_quickbooks import writer

    sim.preferences["SalesFormsPrefs"]["CustomTxnNumbers"] = False
    sim.warn_duplicate_doc_number = False

    def crash(self, posted, found, results):
        raise Crash()

    pay = writer.OrderWriter._pay_invoices
    monkeypatch.setattr(writer.OrderWriter, "_pay_invoices", crash)
    with pytest.raises(Crash):
        engine().run_task("orders")
    assert len(sim.entities("Invoice")) == 5
    monkeypatch.setattr(writer.OrderWriter, "_pay_invoices", pay)
    edited = MemorySource.orders[2]
    MemorySource.orders[2] = edited.model_copy(update={"notes": "gift wrap, please", "memo": "edited"})
    assert MemorySource.orders[2].content_hash() != edited.content_hash()
    again = engine().run_task("orders")
    assert again.status == "ok", again
    assert len(sim.entities("Invoice")) == 5
    _paid_once(sim)


def test_a_kill_after_the_first_30_invoices_and_an_edit_book_every_order_once(sim, engine, monkeypatch):
    """Issue 15's finding 3: QuickBooks numbering documents itself, its duplicate-number warning off, a run
    killed after the first /batch of 30 invoices, one of those orders edited before the rerun: before, the
    rerun posted those 30 invoices and payments again (the requestid changed with the order's content)."""
    from connex_quickbooks import writer

    sim.preferences["SalesFormsPrefs"]["CustomTxnNumbers"] = False
    sim.warn_duplicate_doc_number = False
    MemorySource.orders = [
        make_order(source="memory", source_id=str(i), number=f"20{i:02d}", created_at=DAY + timedelta(minutes=i),
                   order_date=DAY + timedelta(minutes=i), customer=Customer(name=f"Buyer {i}", email=f"b{i}@x.test"))
        for i in range(45)
    ]
    batch = writer.OrderWriter._batch
    sent: list[str] = []

    def dies_after_the_first_documents(self, items, rid):
        if items and "Invoice" in items[0] and any("Invoice" in i for i in sent):
            raise Crash()
        answers = batch(self, items, rid)
        sent.extend(k for i in items for k in i if k in ("Invoice", "Payment"))
        return answers

    monkeypatch.setattr(writer.OrderWriter, "_batch", dies_after_the_first_documents)
    with pytest.raises(Crash):
        engine().run_task("orders")
    assert len(sim.entities("Invoice")) == 30 and sim.entities("Payment") == []
    monkeypatch.setattr(writer.OrderWriter, "_batch", batch)
    MemorySource.orders[4] = MemorySource.orders[4].model_copy(update={"memo": "edited before the rerun"})
    again = engine().run_task("orders")
    assert again.status == "ok", again
    assert len(sim.entities("Invoice")) == 45
    _paid_once(sim)


def test_an_invoice_a_user_deleted_is_posted_again_by_resync_only(sim, engine):
    """The vendors' advice for a wrong document, "delete it and sync again", works: a run alone leaves it (the
    ledger says done), ``resync`` finds it gone and posts it again; the others are the same."""
    from connex_core.cli.resync import task_run
    from connex_core.sync.resync import resync_one
    from connex_core.sync.run import RunSummary

    running = engine()
    assert running.run_task("orders").counts["created"] == 5
    [wrong] = [d for d in sim.entities("Invoice") if d["DocNumber"] == "1002"]
    sim.delete_document("Invoice", wrong["Id"])
    assert sim.get("Invoice", wrong["Id"]) is None
    assert running.run_task("orders", since=DAY - timedelta(days=1)).counts["already_synced"] == 5
    assert sorted(d["DocNumber"] for d in sim.entities("Invoice")) == ["1000", "1001", "1003", "1004"]
    run = task_run(running, "orders", RunSummary(task="orders"))
    gone, same = resync_one(run, "1002"), resync_one(run, "1003")
    assert (gone.action, same.action) == ("gone-reposted", "same"), (gone, same)
    [again] = [d for d in sim.entities("Invoice") if d["DocNumber"] == "1002"]
    assert again["Id"] != wrong["Id"] and gone.target_number == "1002"
    assert resync_one(run, "1002").action == "same"  # the ledger points at the new invoice
