"""ShipStation connector (the real contents come with its issue)."""

from __future__ import annotations

from connex_core.connector import Capability, Connector, ConnectorSettings


class ShipStationSettings(ConnectorSettings):
    type: str = "shipstation"


class ShipStationConnector(Connector):
    name = "shipstation"
    title = "ShipStation"
    settings_model = ShipStationSettings
    capabilities = frozenset({Capability.READ_ORDERS, Capability.WRITE_ORDERS, Capability.READ_SHIPMENTS})
