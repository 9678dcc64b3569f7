"""The ShipStation connector plugin for Connex: hook implementations only."""

from __future__ import annotations

from connex_core import hookimpl
from connex_core.sandbox.flows import DemoPart

from .connector import ShipStationConnector, ShipStationSettings
from .sim.simulator import ShipStationSimulator

__all__ = ["ShipStationConnector", "ShipStationSettings", "ShipStationSimulator"]


@hookimpl
def register_connectors(register):
    register(ShipStationConnector)


@hookimpl
def register_sandbox(register):
    register("shipstation", ShipStationSimulator)
    from .sim.v2 import ShipStationV2Simulator

    register("shipstation-v2", ShipStationV2Simulator)  # API v2, mounted at /shipstation-v2


@hookimpl
def register_demo(register):
    """ShipStation's part of the demo: its simulator (seeded with orders; the warehouse ships the orders the
    accounting flows sent it). The flows to and from the accounting systems come with their plugins."""
    register("shipstation", DemoPart(title="ShipStation", variants={"v2": {"shipstation": "shipstation-v2"}}))
