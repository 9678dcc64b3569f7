"""The Xero connector plugin for Connex: hook implementations only."""

from __future__ import annotations

from connex_core import hookimpl
from connex_core.sandbox.flows import DemoPart, DemoTask

from .connector import XeroConnector
from .settings import XeroSettings
from .sim.simulator import XeroSimulator

__all__ = ["XeroConnector", "XeroSettings", "XeroSimulator"]

#: The ShipStation order rules (split parts, paid/unpaid) serve any accounting target; shipped in ``rules/``.
_SHIPPING_ORDER_RULES = ["rules/shipstation-to-quickbooks.rules", "rules/only-orders-from-shipstation.rules"]


@hookimpl
def register_connectors(register):
    register(XeroConnector)


@hookimpl
def register_sandbox(register):
    register("xero", XeroSimulator)


@hookimpl
def register_demo(register):
    """The flows between Xero and ShipStation."""
    register("xero", DemoPart(
        title="Xero",
        tasks=(
            DemoTask("xero-to-shipstation", {"source": "xero", "target": "shipstation", "kind": "orders",
                                             "rules": ["rules/xero-to-shipstation.rules"]}),
            DemoTask("tracking-to-xero", {"source": "shipstation", "target": "xero", "kind": "tracking"},
                     stage="write_back"),
            DemoTask("shipstation-to-xero", {"source": "shipstation", "target": "xero", "kind": "orders",
                                             "rules": _SHIPPING_ORDER_RULES}),
        )))
