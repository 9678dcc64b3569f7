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

import copy
import logging
import os
import sys
from pathlib import Path
from typing import Any, Literal, Optional

from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from .alerts.settings import AlertsConfig
from .errors import ConfigurationError
from .secrets import REDACTOR, Redactor, redact_settings, refuse_inline_secrets  # noqa: F401 (Redactor: re-exported)
from .problems import ConfigProblems, Problem, problems_from

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
    slice_orders: int = Field(100, ge=0, le=1_000_000)
    """``connex worker``: a run yields its worker after booking this many new orders, and carries on from the
    back of the queue (0: no limit; docs/scale.md, "Fair share")."""
    slice_seconds: float = Field(60.0, ge=0, le=86400)
    """... or after this many seconds, once it has booked an order (0: no limit; both 0: runs are not sliced)."""
    slice_wait_seconds: Optional[float] = Field(5.0, ge=0, le=3600)
    """A rate-limit wait longer than this while reading yields the worker, the run resent with that delay."""


class LimitsConfig(BaseModel):
    """``[limits]``: API rate limits shared by every process (docs/scale.md)."""

    model_config = ConfigDict(extra="forbid")
    redis_url: Optional[str] = Field(None, pattern=r"^(redis|rediss|unix)://")
    """Redis that keeps each credential's calls, so all workers together stay under one credential's limit."""


#: Bounds of a task's numbers (``connex config check`` refuses what lies outside, and nan or inf).
MAX_MINUTES = 43200  # 30 days
MAX_DAYS = 3650  # 10 years

#: Where older configs put the engine's own keys; :class:`TaskConfig` moves them to its typed fields.
OLD_PLACES = {"source_options": ("date_field", "timezone"),
              "target_options": ("summary_date", "summary_prefix", "timezone")}


class TaskConfig(BaseModel):
    """One task: move orders (or shipments) from a source connection to a target connection.

    The engine's own keys (``date_field``, ``timezone``, ``summary_date``, ``summary_prefix``) are typed
    fields here; the connectors' keys stay in ``source_options`` and ``target_options``, validated
    against each connector's options model by :func:`connex_core.configcheck.validate_config`.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    source: str = Field(description="The connection orders are read from.")
    target: str = Field(description="The connection orders are written to.")
    kind: Literal["orders", "tracking", "daily_summary"] = Field(
        "orders", description="orders: one document per order; tracking: shipments written back; "
        "daily_summary: one document per day.")
    rules: list[str] = Field(default_factory=list, description="Rule files applied to every order, in order (relative to the config file).")
    every_minutes: float = Field(15, gt=0, le=MAX_MINUTES, description="How often `connex serve` runs the task (more than 0, at most 43200: 30 days).")
    overlap_minutes: float = Field(60, ge=0, le=MAX_MINUTES, description="How far before the cursor each run re-reads, to catch late edits (the ledger drops repeats); 0 to 43200.")
    initial_days: float = Field(7, ge=0, le=MAX_DAYS, description="On the first run (no cursor), how many days back to read; 0 to 3650.")
    enabled: bool = Field(True, description="`connex run` and `connex serve` skip a disabled task unless it is named with --task.")
    date_field: str = Field("created", min_length=1, description="Which of the source's dates --since/--until select by "
                            "(in the source's own names, which its connector declares: Connector.date_fields).")
    timezone: Optional[str] = Field(None, description="daily_summary: the time zone whose days are summed "
                                    "(an IANA name; default America/Los_Angeles).")
    summary_date: Literal["created", "shipped"] = Field("created", description="daily_summary: group orders by creation date or by ship date.")
    summary_prefix: str = Field("DS-", description="daily_summary: the document number is this prefix and the day (DS-20260915).")
    cancelled_orders: Literal["skip", "book"] = Field("skip", description="orders: an order cancelled in the source is "
                                                      "skipped with the reason (default), or booked like any other.")
    on_cancel: Literal["void", "hold", "ignore"] = Field("void", description="orders: an order cancelled after it was booked: "
                                                        "void its document in the target (default), hold it for review, or ignore it.")
    suspicious_amounts: Literal["hold", "allow"] = Field("hold", description="orders: an order whose figures disagree "
                                                         "(negative quantities or prices, a total unlike its lines) is held with the reason (default), or booked.")
    split_orders: Literal["combine", "separate"] = Field(
        "combine", description="orders: split orders (the source's facts) as one document per original sale, the "
        "children's lines checked against their parent's document (combine), or one document per source order (separate).")
    on_update: Literal["update", "hold", "ignore"] = Field(
        "update", description="orders: a booked order that changes in the source is updated in the target where it "
        "allows (update; otherwise held with the reason), held for review (hold), or left as booked (ignore).")
    source_options: dict[str, Any] = Field(default_factory=dict, description="Options for the source connector (filters such as status).")
    target_options: dict[str, Any] = Field(default_factory=dict, description="Options for the target connector (document type, customer and item matching).")

    @model_validator(mode="before")
    @classmethod
    def _engine_keys_out_of_options(cls, data: Any) -> Any:
        """Older configs put the engine's keys in the option tables: move them to the typed fields."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for side, keys in OLD_PLACES.items():
            options = data.get(side)
            if not isinstance(options, dict) or not any(k in options for k in keys):
                continue
            options = dict(options)
            for key in keys:
                if key not in options:
                    continue
                value = options.pop(key)
                if key in data and data[key] != value:
                    raise ValueError(f"{key} is given twice, as {key} = {data[key]!r} and in {side} as {value!r}; "
                                     f"keep only {key}")
                data[key] = value
            data[side] = options
        return data

    @field_validator("timezone")
    @classmethod
    def _a_time_zone(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ValueError, KeyError, OSError):
                raise ValueError(f"{value!r} is not a time zone name (IANA, such as America/Los_Angeles)") from None
        return value

    def connector_options(self, side: str) -> dict[str, Any]:
        """``source_options`` or ``target_options`` as the connector sees them: without the engine's keys."""
        return {k: v for k, v in getattr(self, side).items() if k not in OLD_PLACES[side]}


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: StateConfig = Field(default_factory=StateConfig)
    broker: Optional[BrokerConfig] = None
    limits: Optional[LimitsConfig] = None
    alerts: Optional[AlertsConfig] = None
    connections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tasks: dict[str, TaskConfig] = Field(default_factory=dict)

    path: Optional[Path] = Field(None, exclude=True)
    _label: Optional[str] = PrivateAttr(None)

    @property
    def label(self) -> str:
        """The config file as the user named it (``connex.toml``): what problem lines start with."""
        return self._label or (str(self.path) if self.path else "config")

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
            raise ConfigProblems(problems_from(exc, where or "", f"connections.{name}", cls.settings_model)) from None
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


def read_config(path: Path | str, text: Optional[str] = None,
                label: Optional[str] = None) -> tuple[Optional[Config], list[Problem]]:
    """Read a config file: the config (``None`` when nothing usable was read) and every problem found.

    A task, a connection or the state table that does not validate is left out of the returned config
    (so the rest can still be checked) and reported; a file that cannot be read or parsed is one problem.
    With ``text``: that text, read as if it were the file at ``path`` (the console checks an edit before
    writing it); ``label`` names the file in problems (default: ``path``).
    """
    path = Path(path)
    label = label or str(path)
    if text is None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None, [Problem(label, "", "config file not found (create one, or pass --config)")]
        except IsADirectoryError:
            return None, [Problem(label, "", "is a folder, not a config file")]
        except OSError as exc:
            return None, [Problem(label, "", f"cannot read the config file: {exc.strerror}")]
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            bad = bytes(exc.object)
            line = bad[:exc.start].count(b"\n") + 1
            return None, [Problem(label, "", f"not UTF-8 text (byte 0x{bad[exc.start]:02x} on line {line}); "
                                             "save the file as UTF-8")]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [Problem(label, "", f"not valid TOML: {exc}")]
    problems: list[Problem] = _alert_secrets(data.get("alerts"), path.resolve().parent, label)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        problems = problems_from(exc, label, "", Config)
        cfg = _what_validates(data, exc)
    if cfg is not None:
        cfg.path = path.resolve()
        cfg._label = label
        # Secrets are the settings models' SecretStr fields: an inline one is refused when its connection is
        # validated (:meth:`Config.connection_settings`), and referenced ones are redacted as they are read.
    return cfg, problems


def _alert_secrets(alerts: Any, folder: Path, label: str) -> list[Problem]:
    """``[alerts.email] password``: by reference only, resolved here (and redacted) like a connection's secrets."""
    email = alerts.get("email") if isinstance(alerts, dict) else None
    if not isinstance(email, dict) or "password" not in email:
        return []
    if isinstance(email["password"], str):
        REDACTOR.add(email.pop("password"))
        return [Problem(label, "alerts.email.password", "a secret cannot be written inline in the config; give it by "
                        'reference: password = { env = "SMTP_PASSWORD" }, or password = { file = "secrets/smtp" }')]
    try:
        email["password"] = _resolve_secrets(email["password"], folder, label, "alerts.email.password")
    except ConfigurationError as exc:
        email.pop("password")
        return [Problem(label, exc.key or "alerts.email.password", exc.message)]
    return []


def _what_validates(data: dict[str, Any], exc: ValidationError) -> Optional[Config]:
    """The config without what has errors (a task's bad key falls back to its default; a task without its
    source or target, a bad connection table or top-level key is left out), so the rest can be checked."""
    data = copy.deepcopy(data)
    for _ in range(3):
        for err in exc.errors():
            _drop(data, err["loc"])
        try:
            return Config.model_validate(data)
        except ValidationError as again:
            exc = again
    return None


def _drop(data: dict[str, Any], loc: tuple) -> None:
    if not loc:
        data.clear()
        return
    table = data.get(loc[0])
    if loc[0] == "tasks" and len(loc) >= 3 and isinstance(table, dict) and isinstance(table.get(loc[1]), dict) \
            and loc[2] not in ("source", "target"):
        task = table[loc[1]]
        task.pop(loc[2], None)
        for side, keys in OLD_PLACES.items():  # an engine key written in its older place
            if loc[2] in keys and isinstance(task.get(side), dict):
                task[side].pop(loc[2], None)
    elif loc[0] in ("tasks", "connections") and len(loc) >= 2 and isinstance(table, dict):
        table.pop(loc[1], None)
    elif loc[0] == "state" and len(loc) >= 2 and isinstance(table, dict):
        table.pop(loc[1], None)
    else:
        data.pop(str(loc[0]), None)


def load_config(path: Path | str) -> Config:
    """Read and validate a config file; every problem found is in the :class:`ConfigProblems` raised."""
    cfg, problems = read_config(path)
    if problems or cfg is None:
        raise ConfigProblems(problems)
    return cfg


def default_config_path() -> Path:
    return Path(os.environ.get("CONNEX_CONFIG", "connex.toml"))
