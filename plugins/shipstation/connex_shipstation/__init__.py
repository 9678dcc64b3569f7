"""The ShipStation connector plugin for Connex: hook implementations only."""

from __future__ import annotations

from connex_core import hookimpl

from .connector import ShipStationConnector, ShipStationSettings
from .sim.simulator import ShipStationSimulator

__all__ = ["ShipStationConnector", "ShipStationSettings", "ShipStationSimulator"]


@hookimpl
def register_connectors(register):
    register(ShipStationConnector)


@hookimpl
def register_sandbox(register):
    register("shipstation", ShipStationSimulator)
