"""Many sellers, one deployment: a tenant is a config (connections, tasks, rules) with a name.

The registry of tenants lives in the PostgreSQL database of the deployment's state store, in its own schema
(``connex_tenants``), beside each tenant's own schema (``[state] schema``). ``connex tenants add NAME --config F``
registers F; ``connex serve --tenants`` schedules every registered tenant's tasks and sends them to the
workers through the ``[broker]``; each message names its tenant's config, so one pool of ``connex worker``
processes serves them all (docs/scale.md).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ConfigurationError

SCHEMA = "connex_tenants"  # the default; [state] registry_schema
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Registry:
    """The tenants of one PostgreSQL database."""

    def __init__(self, url: str, schema: str = SCHEMA):
        import psycopg
        from psycopg.rows import dict_row

        try:
            self.db = psycopg.connect(url, autocommit=True, row_factory=dict_row, connect_timeout=10)
        except psycopg.OperationalError as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ConfigurationError(f"cannot connect to PostgreSQL: {first}", key="state.url") from None
        self.schema = schema
        with self.db.transaction():
            self.db.execute("SELECT pg_advisory_xact_lock(%s)", (0x74656E616E74,))
            self.db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self.db.execute(f'CREATE TABLE IF NOT EXISTS "{schema}".tenants (name TEXT PRIMARY KEY, '
                            'config TEXT NOT NULL, added_at TEXT NOT NULL)')

    def add(self, name: str, config_path: Path) -> None:
        if not NAME.match(name):
            raise ConfigurationError(f"{name!r}: a tenant name is letters, digits, '.', '_' and '-' (64 at most)",
                                     key="tenants")
        self.db.execute(f'INSERT INTO "{self.schema}".tenants (name, config, added_at) VALUES (%s, %s, %s) '
                        "ON CONFLICT (name) DO UPDATE SET config = EXCLUDED.config",
                        (name, str(config_path.resolve()), datetime.now(timezone.utc).isoformat(timespec="seconds")))

    def remove(self, name: str) -> bool:
        return self.db.execute(f'DELETE FROM "{self.schema}".tenants WHERE name = %s', (name,)).rowcount == 1

    def list(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute(f'SELECT name, config, added_at FROM "{self.schema}".tenants ORDER BY name')]

    def close(self) -> None:
        self.db.close()


def registry_for(config: Any) -> Registry:
    """The registry of the database a config's state lives in (tenants need PostgreSQL state)."""
    url = getattr(config.state, "url", None)
    if not url:
        raise ConfigurationError("tenants share a PostgreSQL state store: set [state] url = \"postgresql://...\" "
                                 "and a schema of its own for each tenant", file=str(config.path or ""),
                                 key="state.url")
    return Registry(url, config.state.registry_schema)


def check_tenant(config: Any, others: list[dict[str, Any]], name: str) -> None:
    """A tenant keeps its state apart: its own schema, not one another tenant already uses."""
    from .config import load_config

    mine = getattr(config.state, "db_schema", None)
    if not mine:
        raise ConfigurationError("each tenant needs its own [state] schema (for example schema = \"tenant_"
                                 f"{name.replace('-', '_').replace('.', '_')}\")", file=str(config.path or ""),
                                 key="state.schema")
    for other in others:
        if other["name"] == name:
            continue
        try:
            theirs = load_config(other["config"]).state
        except ConfigurationError:
            continue  # a tenant whose config went bad is reported by `connex tenants list`, not here
        if theirs.url == config.state.url and theirs.db_schema == mine:
            raise ConfigurationError(f"schema {mine!r} is already the state of tenant {other['name']!r}",
                                     file=str(config.path or ""), key="state.schema")
