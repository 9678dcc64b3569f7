"""Building the connectors of a config: each configured connection once, with its settings validated,
its :class:`~connex_core.connector.ConnectorContext` and its token store; closing them all.

The sync engine, ``connex serve`` (for webhooks) and ``connex connect`` build connectors through here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from .config import Config
from .connector import Connector, ConnectorContext
from .plugins import PluginManager
from .tokens import TokenStore

log = logging.getLogger("connex.connections")


class Connections:
    """The connectors of one config, built on first use and kept until :meth:`close`.

    ``options`` go to every connector's context (the simulated clock of the sandbox and the tests). A
    dry-run connector and a writing one of the same connection are two instances.
    """

    def __init__(self, config: Config, manager: PluginManager, *, dry_run: bool = False,
                 options: Optional[dict[str, Any]] = None):
        self.config = config
        self.manager = manager
        self.dry_run = dry_run
        self.options = dict(options or {})
        self._built: dict[tuple[str, bool], Connector] = {}
        self._types: dict[str, str] = {}

    @property
    def state_dir(self) -> Path:
        """Where connectors keep their files (tokens): ``.connex/`` next to the state file."""
        return self.config.state_path.parent / ".connex"

    def get(self, connection: str, *, dry_run: Optional[bool] = None) -> Connector:
        """The connector of ``connection`` (a name in ``[connections]``), built once."""
        dry = self.dry_run if dry_run is None else dry_run
        key = (connection, dry)
        connector = self._built.get(key)
        if connector is None:
            settings = self.config.connection_settings(connection, self.manager)
            cls = self.manager.connector(settings.type)
            ctx = ConnectorContext(connection=connection, state_dir=self.state_dir, dry_run=dry,
                                   tokens=TokenStore(self.state_dir, connection), options=dict(self.options))
            connector = self._built[key] = cls(settings, ctx)
        return connector

    def type_of(self, connection: str) -> str:
        """The connector type of ``connection`` (``type = "..."``), without building it."""
        if connection not in self._types:
            self._types[connection] = self.config.connection_settings(connection, self.manager).type
        return self._types[connection]

    def close(self) -> None:
        """Close every connector built so far (a failure to close is logged, never raised)."""
        for connector in self._built.values():
            try:
                connector.close()
            except Exception:  # closing must not hide the run's real outcome
                log.debug("closing %s failed", connector.name, exc_info=True)
        self._built.clear()

    def __enter__(self) -> "Connections":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
