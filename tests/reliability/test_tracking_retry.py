"""A tracking write that failed is retried by a later run, however far the task's cursor has moved on.

The cursor of a tracking task follows the newest shipment read; a later run re-reads only an
overlap (an hour) before it. A shipment whose write failed and that is older than that must
still get its note: the failure holds the cursor back.
"""

from __future__ import annotations

from datetime import date

from connex_core.config import load_config
from connex_core.engine import SyncEngine
from connex_core.plugins import PluginManager
from connex_core.sandbox import Fault, SandboxServer, SimClock
from connex_core.sandbox.runner import write_config
from connex_core.state import SQLiteStore
from connex_shipstation.sim.simulator import ShipStationSimulator
from connex_xero.sim.simulator import XeroSimulator


def test_a_failed_tracking_note_is_written_by_a_later_run(tmp_path):
    clock = SimClock(speed=1000)
    ss, xero = ShipStationSimulator(clock=clock, seed=3), XeroSimulator(clock=clock, seed=3)
    with SandboxServer([ss, xero]) as server:
        xero.seed_invoices(3, flagged=1.0, status="AUTHORISED")
        cfg = load_config(write_config(server, tmp_path / "connex.toml", tasks=[
            ("xero-to-shipstation", {"source": "xero", "target": "shipstation", "kind": "orders"}),
            ("tracking-to-xero", {"source": "shipstation", "target": "xero", "kind": "tracking",
                                  "target_options": {"tracking_note": "always"}})]))
        store = SQLiteStore(cfg.state_path)
        engine = SyncEngine(cfg, PluginManager().load(), store, connector_options={"clock": clock})
        try:
            assert engine.run_task("xero-to-shipstation").counts["created"] == 3
            first, *_, last = sorted(ss.orders)
            invoice_a = ss.orders[first]["orderKey"].split(":")[-1]
            ss.ship_order(first, "ups", "1ZOLDER0001", date.today(), label=True)
            clock.advance(3 * 3600)  # the next shipment is three hours newer: beyond the task's overlap
            ss.ship_order(last, "ups", "1ZNEWER0002", date.today(), label=True)
            xero.faults.add(Fault("error", status=503, body=b"", path=rf"/Invoices/{invoice_a}/History"))
            failed = engine.run_task("tracking-to-xero")
            assert failed.counts["failed"] >= 1
            xero.faults.clear()

            engine.run_task("tracking-to-xero")

            notes = [h["Details"] for h in xero.history(invoice_a) if "1ZOLDER0001" in str(h.get("Details"))]
            assert len(notes) == 1
            assert store.ledger_counts("tracking-to-xero") == {"done": 2}
        finally:
            engine.close()
            store.close()
