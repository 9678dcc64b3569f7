"""The Xero connector plugin for Connex: hook implementations only."""

from __future__ import annotations

from connex_core import hookimpl

from .connector import XeroConnector
from .settings import XeroSettings
from .sim.simulator import XeroSimulator

__all__ = ["XeroConnector", "XeroSettings", "XeroSimulator"]


@hookimpl
def register_connectors(register):
    register(XeroConnector)


@hookimpl
def register_sandbox(register):
    register("xero", XeroSimulator)
