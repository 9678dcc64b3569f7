"""Open the state store a config names: SQLite by ``[state] path`` (the default), PostgreSQL by ``url``."""

from __future__ import annotations

from typing import Any


def open_store(config: Any) -> Any:
    """The config's state store. ``[state] url = "postgresql://..."`` selects PostgreSQL (with an optional
    ``schema``); otherwise the SQLite file at ``[state] path`` (relative to the config file)."""
    state = config.state
    url = getattr(state, "url", None)
    if url:
        from .postgres import PostgresStore

        return PostgresStore(url, schema=getattr(state, "db_schema", None))
    from .sqlite import SQLiteStore

    return SQLiteStore(config.state_path)
