"""The ShipStation connector plugin for Connex: hook implementations only."""

from __future__ import annotations

from connex_core import hookimpl

from .connector import ShipStationConnector

__all__ = ["ShipStationConnector"]


@hookimpl
def register_connectors(register):
    register(ShipStationConnector)
