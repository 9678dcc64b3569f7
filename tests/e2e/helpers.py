"""What the end-to-end tests share: a sandbox of every simulator, its config, and order builders.

Everything runs through the installed plugins (entry points) against their simulators on
loopback, exactly as ``connex demo`` and ``connex run`` do; nothing is mocked.
"""

from __future__ import annotations

import copy
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

from connex_core.config import Config, load_config
from connex_core.demo import default_rules_dir
from connex_core.engine import RunSummary, SyncEngine
from connex_core.plugins import PluginManager
from connex_core.sandbox import SandboxServer, SimClock
from connex_core.sandbox.runner import standard_tasks, write_config
from connex_core.state import LogEntry, LogQuery, SQLiteStore
from connex_shipstation.timezone import PACIFIC, format_timestamp

#: The simulated "now": Sunday 20 September 2026, 12:00 Pacific (19:00 UTC).
START = datetime(2026, 9, 20, 19, 0, tzinfo=timezone.utc)
#: Simulated seconds per real second: rate-limit waits take milliseconds, a test spans minutes.
SPEED = 600.0
#: The secret in the ShipStation webhook URL (``/webhooks/shipstation/<secret>``).
WEBHOOK_SECRET = "e2e-hook-secret-7f3a"


def pacific(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A moment given as US Pacific wall-clock time (ShipStation's own time zone)."""
    return datetime(y, m, d, hh, mm, tzinfo=PACIFIC)


def ss_order(number: str, created: datetime, *, status: str = "awaiting_shipment", paid: Optional[bool] = True,
             amount_paid: Optional[Decimal] = None, items: Optional[list[tuple[str, str, int, str]]] = None,
             shipping: str = "5.00", parent_id: Optional[int] = None, split: bool = False,
             email: Optional[str] = None) -> dict[str, Any]:
    """A ShipStation order payload as a store would import it (``add_order``).

    ``items`` are (sku, name, quantity, unit price); ``paid=True`` pays the full total,
    ``paid=False`` pays nothing, ``amount_paid`` pays exactly that.
    """
    items = items or [("MUG-BLU", "Blue mug", 2, "12.50")]
    total = sum(Decimal(p) * q for _, _, q, p in items) + Decimal(shipping)
    paid_amount = amount_paid if amount_paid is not None else (total if paid else Decimal("0"))
    stamp = format_timestamp(created)
    return {
        "orderNumber": number, "orderKey": uuid.uuid4().hex, "orderDate": stamp, "createDate": stamp,
        "paymentDate": stamp if paid_amount else None, "orderStatus": status,
        "customerEmail": email or f"buyer.{number}@shop.test", "customerUsername": f"buyer-{number}",
        "billTo": {"name": f"Buyer {number}"},
        "shipTo": {"name": f"Buyer {number}", "street1": "1 Main St", "city": "Austin", "state": "TX",
                   "postalCode": "78701", "country": "US"},
        "items": [{"sku": sku, "name": name, "quantity": qty, "unitPrice": float(price)}
                  for sku, name, qty, price in items],
        "amountPaid": float(paid_amount), "shippingAmount": float(shipping), "taxAmount": 0.0,
        "carrierCode": "ups", "serviceCode": "ups_ground",
        "advancedOptions": {"storeId": 101, "mergedOrSplit": split or parent_id is not None, "parentId": parent_id},
    }


POBOX = {"AddressType": "POBOX", "AddressLine1": "PO Box 4417", "City": "Portland", "Region": "OR",
         "PostalCode": "97208", "Country": "United States", "AttentionTo": "Accounts Payable"}
STREET = {"AddressType": "STREET", "AddressLine1": "1200 NW Naito Pkwy", "AddressLine2": "Dock 3",
          "City": "Portland", "Region": "OR", "PostalCode": "97209", "Country": "United States",
          "AttentionTo": "Receiving"}


def add_invoice(xero, number: str, channel: str, contact_id: str) -> dict:
    """A Xero AUTHORISED sales invoice whose line carries the tracking option ``Sales Channel: channel``."""
    today = xero.clock.utcnow().date()
    with xero.lock:
        outcome = xero.books.create_invoice({
            "Type": "ACCREC", "InvoiceNumber": number, "Contact": {"ContactID": contact_id}, "Status": "AUTHORISED",
            "Date": today.isoformat(), "DueDate": (today + timedelta(days=30)).isoformat(),
            "LineItems": [{"ItemCode": "MUG-BLU", "Description": "Blue mug", "Quantity": 2, "UnitAmount": "12.50",
                           "AccountCode": "200", "TaxType": "NONE",
                           "Tracking": [{"Name": "Sales Channel", "Option": channel}]}]})
    assert outcome.record is not None, outcome.errors
    return outcome.record


def task_table(name: str, **overrides: Any) -> tuple[str, dict[str, Any]]:
    """One of the standard flows (``connex sandbox --write-config`` writes the same), with overrides."""
    table = copy.deepcopy(dict(standard_tasks())[name])
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(table.get(key), dict):
            table[key].update(value)
        else:
            table[key] = value
    return name, table


def doc_counts(sandbox: "Sandbox") -> dict[str, int]:
    """How many documents every simulator holds (to prove a rerun posts nothing)."""
    out = {"shipstation orders": len(sandbox.shipstation.orders),
           "xero invoices": len(sandbox.xero.invoices),
           "xero history notes": sum(len(h) for h in sandbox.xero.books.history.values())}
    for mount in ("quickbooks", "quickbooks-summary"):
        sim = sandbox.server.services[mount]
        for entity in ("Invoice", "SalesReceipt", "Payment", "Customer", "Item"):
            out[f"{mount} {entity}"] = len(sim.entities(entity))
    return out


@dataclass
class Sandbox:
    """Every simulator on one loopback server, a config pointing at it, and engines over that config."""

    folder: Path
    clock: SimClock
    server: SandboxServer
    manager: PluginManager
    config_path: Optional[Path] = None
    _opened: list[Any] = field(default_factory=list)
    _engine: Optional[SyncEngine] = None

    @property
    def shipstation(self):
        return self.server.services["shipstation"]

    @property
    def quickbooks(self):
        return self.server.services["quickbooks"]

    @property
    def summary_books(self):
        """A second QuickBooks company, the target of the daily summaries."""
        return self.server.services["quickbooks-summary"]

    @property
    def xero(self):
        return self.server.services["xero"]

    def write(self, tasks: Optional[list[tuple[str, dict[str, Any]]]] = None, *,
              extra: Optional[dict[str, dict[str, str]]] = None) -> Path:
        """Write the config (standard flows unless ``tasks``); ``extra`` adds keys to connection tables, as
        references to files holding the values (the keys ``extra`` adds are secrets: never inline)."""
        path = write_config(self.server, self.folder / "connex.toml", tasks=tasks)
        text = path.read_text()
        for connection, keys in (extra or {}).items():
            header = f"[connections.{connection}]\n"
            assert header in text, header
            for k, v in keys.items():
                (self.folder / f"{connection}.{k}").write_text(v)
            text = text.replace(header, header + "".join(f'{k} = {{ file = "{connection}.{k}" }}\n' for k in keys))
        path.write_text(text)
        self.config_path = path
        self.close()  # engines read the config they were made with
        return path

    @property
    def config(self) -> Config:
        return load_config(self.config_path or self.write())

    def engine(self) -> SyncEngine:
        """The sync engine on the config's state file, waiting on the simulators' clock. One engine (and so
        one connector per connection) serves every run until :meth:`close`, as in ``connex serve``."""
        if self._engine is None:
            cfg = self.config
            store = SQLiteStore(cfg.state_path)
            self._engine = SyncEngine(cfg, self.manager, store, connector_options={"clock": self.clock},
                                      now=self.clock.utcnow)
            self._opened += [store, self._engine]
        return self._engine

    def run(self, task: str, **kwargs: Any) -> RunSummary:
        summary = self.engine().run_task(task, **kwargs)
        assert summary.status == "ok", summary
        return summary

    def log(self, **query: Any) -> list[LogEntry]:
        store = SQLiteStore(self.config.state_path)
        try:
            return store.query_log(LogQuery(**query))
        finally:
            store.close()

    def close(self) -> None:
        for thing in reversed(self._opened):
            thing.close()
        self._opened.clear()
        self._engine = None


def copy_default_rules(folder: Path) -> None:
    """The default rule files next to the config, where the standard tasks name them (``rules/...``)."""
    rules = default_rules_dir()
    assert rules is not None, "the default rule files are missing"
    shutil.copytree(rules, folder / "rules", dirs_exist_ok=True)


def money(value: Any) -> Decimal:
    return Decimal(str(value))


def child_env() -> dict[str, str]:
    """The environment of a ``connex`` child process: unbuffered, so its first stdout line arrives at once."""
    return dict(os.environ, PYTHONUNBUFFERED="1")
