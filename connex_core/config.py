"""The config file: connections, tasks and where state lives.

A config is TOML::

    [state]
    path = "connex.db"                 # relative to this file; SQLite

    [connections.shipstation]
    type = "shipstation"
    api_key = { env = "SHIPSTATION_API_KEY" }       # secrets by reference:
    api_secret = { file = "secrets/ss_secret" }     # an environment variable or a file

    [tasks.orders-to-quickbooks]
    source = "shipstation"             # a connection name
    target = "quickbooks"
    kind = "orders"                    # orders | tracking | daily_summary
    rules = ["rules/shipstation-to-quickbooks.rules"]

Every connection table is validated against its connector's settings model; an error names the
file, the key and what was expected. Secrets (the models' ``SecretStr`` fields) must be given by
reference; an inline one is refused. Secret values resolved here are remembered by :data:`REDACTOR`,
which scrubs them from logs, messages and JSON output.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ConfigurationError
from .secrets import REDACTOR, Redactor, redact_settings, refuse_inline_secrets  # noqa: F401 (Redactor: re-exported)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class RedactingFilter(logging.Filter):
    """A logging filter that runs every record's final message through :data:`REDACTOR`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        redacted = REDACTOR(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class StateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    path: str = "connex.db"
    """SQLite file for the ledger, cursors, runs and transaction log; relative to the config file."""
    url: Optional[str] = Field(None, pattern=r"^postgres(ql)?://")
    """A PostgreSQL database instead of the SQLite file (``postgresql://user@host:5432/db``); a password
    comes from ``PGPASSWORD`` or ``~/.pgpass``, never the config file."""
    db_schema: Optional[str] = Field(None, alias="schema", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """With ``url``: the PostgreSQL schema to keep Connex's tables in (one per tenant, for example)."""
    registry_schema: str = Field("connex_tenants", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """With ``url``: the schema holding the deployment's list of tenants (``connex tenants``)."""
    lease_seconds: float = Field(60.0, ge=1, le=3600)
    """How long a task's lease outlives a runner that died without letting go (the heartbeat renews it every
    third of that while the runner lives)."""


class BrokerConfig(BaseModel):
    """``[broker]``: run tasks as jobs on Dramatiq workers (``connex worker``) instead of in ``connex serve``."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(pattern=r"^(redis|rediss|amqp|amqps)://")
    """``redis://127.0.0.1:6379/0`` or ``amqp://guest:guest@127.0.0.1:5672/``; a password comes from the
    environment (``{env:NAME}`` is not read here: use the broker's own default credentials or a local socket)."""
    queue: str = Field("connex", pattern=r"^[A-Za-z0-9_.-]+$")
    """The queue the tasks' messages go to (one per deployment; tenants share it)."""
    heartbeat_seconds: float = Field(60.0, gt=0, le=3600)
    """Redis only: how long a silent worker is given before its unacknowledged messages go to another."""


class LimitsConfig(BaseModel):
    """``[limits]``: API rate limits shared by every process (docs/scale.md)."""

    model_config = ConfigDict(extra="forbid")
    redis_url: Optional[str] = Field(None, pattern=r"^(redis|rediss|unix)://")
    """Redis that keeps each credential's calls, so all workers together stay under one credential's limit."""


class TaskConfig(BaseModel):
    """One task: move orders (or shipments) from a source connection to a target connection."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="The connection orders are read from.")
    target: str = Field(description="The connection orders are written to.")
    kind: Literal["orders", "tracking", "daily_summary"] = Field(
        "orders", description="orders: one document per order; tracking: shipments written back; "
        "daily_summary: one document per Pacific day.")
    rules: list[str] = Field(default_factory=list, description="Rule files applied to every order, in order (relative to the config file).")
    every_minutes: float = Field(15, description="How often `connex serve` runs the task.")
    overlap_minutes: float = Field(60, description="How far before the cursor each run re-reads, to catch late edits (the ledger drops repeats).")
    initial_days: float = Field(7, description="On the first run (no cursor), how many days back to read.")
    enabled: bool = True
    source_options: dict[str, Any] = Field(default_factory=dict, description="Options for the source (filters such as status, date_field).")
    target_options: dict[str, Any] = Field(default_factory=dict, description="Options for the target (document type, customer and item matching).")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: StateConfig = Field(default_factory=StateConfig)
    broker: Optional[BrokerConfig] = None
    limits: Optional[LimitsConfig] = None
    connections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tasks: dict[str, TaskConfig] = Field(default_factory=dict)

    path: Optional[Path] = Field(None, exclude=True)

    @property
    def folder(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def resolve(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.folder / p

    @property
    def state_path(self) -> Path:
        return self.resolve(self.state.path)

    def task(self, name: str) -> TaskConfig:
        try:
            return self.tasks[name]
        except KeyError:
            known = ", ".join(sorted(self.tasks)) or "none"
            raise ConfigurationError(f"no task named {name!r} (tasks: {known})", file=str(self.path or "")) from None

    def connection_settings(self, name: str, manager) -> BaseModel:
        """Validate ``[connections.NAME]`` against its connector's settings model."""
        where = str(self.path) if self.path else None
        try:
            raw = self.connections[name]
        except KeyError:
            known = ", ".join(sorted(self.connections)) or "none"
            raise ConfigurationError(f"no connection named {name!r} (connections: {known})", file=where,
                                     key="connections") from None
        ctype = raw.get("type")
        if not ctype:
            installed = ", ".join(sorted(manager.connectors)) or "none installed"
            raise ConfigurationError(f"missing 'type' (the connector's name: {installed})",
                                     file=where, key=f"connections.{name}.type")
        from .errors import PluginError

        try:
            cls = manager.connector(ctype)
        except PluginError as exc:
            raise ConfigurationError(str(exc), file=where, key=f"connections.{name}.type") from None
        refuse_inline_secrets(raw, cls.settings_model, connection=name, file=where)
        resolved = _resolve_secrets(raw, self.folder, where, f"connections.{name}")
        try:
            settings = cls.settings_model.model_validate(resolved)
        except ValidationError as exc:
            raise ConfigurationError(_describe_validation(exc, f"connections.{name}"), file=where) from None
        redact_settings(settings)
        return settings


def _resolve_secrets(value: Any, folder: Path, file: Optional[str], key: str) -> Any:
    """Replace ``{ env = "NAME" }`` and ``{ file = "path" }`` tables by the secret they point at."""
    if isinstance(value, dict):
        if set(value) == {"env"}:
            name = value["env"]
            secret = os.environ.get(name)
            if secret is None:
                raise ConfigurationError(f"environment variable {name} is not set (expected the secret here)",
                                         file=file, key=key)
            REDACTOR.add(secret)
            return secret
        if set(value) == {"file"}:
            p = Path(value["file"]).expanduser()
            p = p if p.is_absolute() else folder / p
            try:
                secret = p.read_text().strip()
            except OSError as exc:
                raise ConfigurationError(f"cannot read secret file {p}: {exc.strerror}", file=file, key=key) from None
            REDACTOR.add(secret)
            return secret
        return {k: _resolve_secrets(v, folder, file, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_secrets(v, folder, file, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def _describe_validation(exc: ValidationError, prefix: str) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        key = f"{prefix}.{loc}" if loc else prefix
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        parts.append(f"{key}: {msg}")
    return "; ".join(parts)


def load_config(path: Path | str) -> Config:
    """Read and validate a config file."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigurationError("config file not found (create one, or pass --config)", file=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"not valid TOML: {exc}", file=str(path)) from None
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(_describe_validation(exc, "").lstrip("."), file=str(path)) from None
    cfg.path = path.resolve()
    # Secrets are the settings models' SecretStr fields: an inline one is refused when its connection is
    # validated (:meth:`Config.connection_settings`), and referenced ones are redacted as they are read.
    return cfg


def default_config_path() -> Path:
    return Path(os.environ.get("CONNEX_CONFIG", "connex.toml"))
