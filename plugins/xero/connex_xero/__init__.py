"""The Xero connector plugin for Connex: hook implementations only."""

from __future__ import annotations

from connex_core import hookimpl

from .connector import XeroConnector

__all__ = ["XeroConnector"]


@hookimpl
def register_connectors(register):
    register(XeroConnector)
