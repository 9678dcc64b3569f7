"""The QuickBooks Online connector plugin for Connex: hook implementations only."""

from __future__ import annotations

from connex_core import hookimpl

from .connector import QuickBooksConnector, QuickBooksSettings

__all__ = ["QuickBooksConnector", "QuickBooksSettings"]


@hookimpl
def register_connectors(register):
    register(QuickBooksConnector)


@hookimpl
def register_sandbox(register):
    from .sim.simulator import QuickBooksSimulator

    register("quickbooks", QuickBooksSimulator)
