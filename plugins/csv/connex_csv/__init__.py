"""The CSV connector plugin for Connex: hook implementations only.

Built only from the public API (``connex_core.api``, ``connex_core.sandbox``, ``connex_core.testing``): the
worked example of docs/writing-a-connector.md. Its simulator is the file system (``connex_csv.sim``), so it
registers no simulated HTTP service and takes no part in ``connex demo``.
"""

from __future__ import annotations

from connex_core import hookimpl

from .connector import CsvConnector
from .settings import CsvSettings, SourceOptions, TargetOptions

__all__ = ["CsvConnector", "CsvSettings", "SourceOptions", "TargetOptions"]


@hookimpl
def register_connectors(register):
    register(CsvConnector)
