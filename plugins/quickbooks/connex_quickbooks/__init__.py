"""The QuickBooks Online connector plugin for Connex: hook implementations only."""

from __future__ import annotations

from connex_core import hookimpl

from .connector import QuickBooksConnector

__all__ = ["QuickBooksConnector"]


@hookimpl
def register_connectors(register):
    register(QuickBooksConnector)
