"""Xero connector (the real contents come with its issue)."""

from __future__ import annotations

from connex_core.connector import Capability, Connector, ConnectorSettings


class XeroSettings(ConnectorSettings):
    type: str = "xero"


class XeroConnector(Connector):
    name = "xero"
    title = "Xero"
    settings_model = XeroSettings
    capabilities = frozenset({Capability.READ_ORDERS, Capability.WRITE_ORDERS, Capability.WRITE_TRACKING})
