"""The Xero flows through connex_core's sync engine: invoices out (with the default rule), tracking back in.

The other end of each flow is a small recording connector defined here, so these tests need no
other plugin: what they check is the Xero side of the contract (orders carry ``origin`` =
``xero:<InvoiceID>``, the flag rule sees the tracking categories, the tracking notes and cost
lines land, a paid invoice's note says why no cost line was added, and nothing is done twice).
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Iterator

import pytest

import connex_xero
from connex_core import hookimpl
from connex_core.config import load_config
from connex_core.connector import Capability, Connector, ConnectorSettings, FetchQuery, OrderWrite, WriteResult
from connex_core.engine import SyncEngine
from connex_core.models import Order, Shipment
from connex_core.sandbox.runner import reference_secrets
from connex_core.secrets import secret_fields
from connex_core.state import LogQuery, SQLiteStore

from .conftest import FIXTURES


class RecorderSettings(ConnectorSettings):
    type: str = "recorder"


class Recorder(Connector):
    """The other end: keeps the orders written to it, and serves shipments for them."""

    name = "recorder"
    settings_model = RecorderSettings
    capabilities = frozenset({Capability.WRITE_ORDERS, Capability.READ_SHIPMENTS})
    written: dict[str, Order] = {}
    shipments: list[Shipment] = []

    def write_orders(self, writes: list[OrderWrite]) -> list[WriteResult]:
        for w in writes:
            self.written[w.key] = w.order
        return [WriteResult(w.key, ok=True, target_id=f"rec-{w.order.number}") for w in writes]

    def fetch_shipments(self, query: FetchQuery) -> Iterator[Shipment]:
        return iter(self.shipments)


class RecorderPlugin:
    @hookimpl
    def register_connectors(self, register):
        register(Recorder)


@pytest.fixture
def engine(xero, clock, tmp_path, plugin_manager):
    Recorder.written, Recorder.shipments = {}, []
    plugin_manager.register(connex_xero, name="connex_xero")
    plugin_manager.register(RecorderPlugin(), name="recorder")
    shutil.copy(FIXTURES / "xero-to-shipstation.rules", tmp_path / "xero.rules")
    # secrets (the settings model's SecretStr fields) by reference, in 0600 files: never inline
    table = reference_secrets(xero.client_config(), secret_fields(connex_xero.XeroSettings), tmp_path / "secrets",
                              tmp_path, "xero")
    settings = "\n".join(f'{k} = {{ file = "{v["file"]}" }}' if isinstance(v, dict) else f'{k} = "{v}"'
                          for k, v in table.items())
    (tmp_path / "connex.toml").write_text(f"""
[connections.xero]
type = "xero"
{settings}

[connections.out]
type = "recorder"

[tasks.invoices-out]
source = "xero"
target = "out"
rules = ["xero.rules"]

[tasks.tracking-in]
source = "out"
target = "xero"
kind = "tracking"
target_options = {{ tracking_note = "always" }}  # the note mode tested here (default: when_not_editable)
""")
    config = load_config(tmp_path / "connex.toml")

    def make() -> SyncEngine:
        return SyncEngine(config, plugin_manager, SQLiteStore(config.state_path), connector_options={"clock": clock})

    return make


def first_day(xero) -> datetime:
    earliest = min(i["Date"] for i in xero.invoices.values())
    return datetime(earliest.year, earliest.month, earliest.day, tzinfo=timezone.utc)


def flagged(invoice: dict) -> bool:
    return any(t["Option"] == "ShipStation" for line in invoice["LineItems"] for t in line["Tracking"])


def test_flagged_invoices_go_out_once_and_the_rest_are_skipped_with_the_rules_reason(xero, engine):
    xero.seed_invoices(40)
    authorised = [i for i in xero.invoices.values() if i["Status"] in ("AUTHORISED", "PAID")]
    first = engine().run_task("invoices-out")
    assert first.counts["created"] == sum(flagged(i) for i in authorised)
    assert first.counts["skipped"] == sum(not flagged(i) for i in authorised) > 0
    assert {o.origin for o in Recorder.written.values()} == {f"xero:{i['InvoiceID']}" for i in authorised if flagged(i)}
    store = SQLiteStore(engine().config.state_path)
    skipped = store.query_log(LogQuery(task="invoices-out", outcome="skipped"))
    assert {e.reason for e in skipped} == {"not flagged for ShipStation"}
    again = engine().run_task("invoices-out", since=first_day(xero))
    assert again.counts["created"] == 0 and again.counts["already_synced"] == first.counts["created"]


def test_tracking_comes_back_as_notes_and_cost_lines_once(xero, engine):
    xero.seed_invoices(12, status="AUTHORISED", flagged=1.0)
    engine().run_task("invoices-out")
    xero.simulate_activity()  # some customers pay: their invoices can no longer take a cost line
    Recorder.shipments = [
        Shipment(source="out", source_id=f"s{n}", order_number=o.number, origin=o.origin, carrier="usps",
                 tracking_number=f"9400{n:04d}", ship_date=date(2026, 9, 16), cost=Decimal("4.25"),
                 created_at=o.modified_at)
        for n, o in enumerate(Recorder.written.values())]
    totals = {i["InvoiceID"]: i["Total"] for i in xero.invoices.values()}
    summary = engine().run_task("tracking-in")
    assert summary.counts["updated"] == 12
    paid = {i["InvoiceID"] for i in xero.invoices.values() if i["Status"] == "PAID"}
    for invoice_id, invoice in xero.invoices.items():
        notes = [h["Details"] for h in xero.history(invoice_id) if h["Changes"] == "Note"]
        assert len(notes) == 1 and notes[0].startswith("Shipped 2026-09-16 via usps tracking 9400")
        added = Decimal("0") if invoice_id in paid else Decimal("4.25")
        assert invoice["Total"] == totals[invoice_id] + added
    log = SQLiteStore(engine().config.state_path).query_log(LogQuery(task="tracking-in"))
    assert sum("shipping cost not added: invoice is PAID" in (e.message or "") for e in log) == len(paid) > 0
    assert engine().run_task("tracking-in").counts["already_synced"] == 12
