"""The QuickBooks Online connector plugin for Connex: hook implementations only."""

from __future__ import annotations

from connex_core import hookimpl
from connex_core.sandbox.flows import DemoPart, DemoTask

from .connector import QuickBooksConnector, QuickBooksSettings

__all__ = ["QuickBooksConnector", "QuickBooksSettings"]

#: The ShipStation order rules (split parts booked once, paid/unpaid): shipped with Connex in ``rules/``.
_SHIPPING_ORDER_RULES = ["rules/shipstation-to-quickbooks.rules", "rules/only-orders-from-shipstation.rules"]
_BOOKING = {"customer_match": "email", "create_customers": True, "unknown_items": "create_non_inventory"}


@hookimpl
def register_connectors(register):
    register(QuickBooksConnector)


@hookimpl
def register_sandbox(register):
    from .sim.simulator import QuickBooksSimulator

    register("quickbooks", QuickBooksSimulator)


@hookimpl
def register_demo(register):
    """The flows between QuickBooks Online and ShipStation, and a second company for the daily summaries."""
    register("quickbooks", DemoPart(
        title="QuickBooks Online",
        mounts={"quickbooks-summary": "quickbooks"},
        tasks=(
            DemoTask("shipstation-to-quickbooks", {
                "source": "shipstation", "target": "quickbooks", "kind": "orders", "rules": _SHIPPING_ORDER_RULES,
                "source_options": {"status": "shipped"}, "target_options": {"document": "invoice", **_BOOKING}}),
            DemoTask("daily-summary", {
                "source": "shipstation", "target": "quickbooks-summary", "kind": "daily_summary",
                "rules": _SHIPPING_ORDER_RULES,
                "target_options": {"summary_date": "created", "fixed_customer": "Daily Sales",
                                   **_BOOKING, "customer_match": "fixed"}}),
            DemoTask("quickbooks-to-shipstation", {"source": "quickbooks", "target": "shipstation", "kind": "orders"}),
            DemoTask("tracking-to-quickbooks", {"source": "shipstation", "target": "quickbooks", "kind": "tracking"},
                     stage="write_back"),
        )))
