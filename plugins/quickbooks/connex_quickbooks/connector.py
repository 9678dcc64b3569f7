"""QuickBooks Online connector (the real contents come with its issue)."""

from __future__ import annotations

from connex_core.connector import Capability, Connector, ConnectorSettings


class QuickBooksSettings(ConnectorSettings):
    type: str = "quickbooks"


class QuickBooksConnector(Connector):
    name = "quickbooks"
    title = "QuickBooks Online"
    settings_model = QuickBooksSettings
    capabilities = frozenset({Capability.READ_ORDERS, Capability.WRITE_ORDERS, Capability.WRITE_TRACKING})
