"""The whole config checked before anything runs, with no network call: ``connex config check`` and ``connex run``.

:func:`validate_config` collects every problem as a :class:`~connex_core.problems.Problem`
(``FILE: KEY: message``):

* each connection against its connector's settings model (secrets resolved, never shown);
* each task: its source and target exist, can do what the task's kind needs, its options validate
  against the source's and the target's options models, the engine's keys make sense for its kind
  (``date_field`` among the source's dates), its rule files parse and check;
* the state path: not a folder, an SQLite file (or none yet) in a folder that exists or can be
  created, writable; and the connections' token files, when present, readable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ValidationError

from .config import OLD_PLACES, Config, TaskConfig, read_config
from .connector import ENGINE_KEYS, Capability, Connector
from .errors import ConfigurationError, PluginError
from .problems import Problem, as_problems, bare_message, keys_of, problems_from

#: What each kind of task needs of its source and its target.
NEEDS = {
    "orders": (Capability.READ_ORDERS, Capability.WRITE_ORDERS),
    "daily_summary": (Capability.READ_ORDERS, Capability.WRITE_ORDERS),
    "tracking": (Capability.READ_SHIPMENTS, Capability.WRITE_TRACKING),
}
#: What a task of each kind reads from its source (the key of :attr:`Connector.date_fields`).
READS = {"orders": "orders", "tracking": "shipments"}
#: Engine keys that only some kinds of task use.
USED_BY = {"date_field": ("orders", "tracking"), "timezone": ("daily_summary",),
           "summary_date": ("daily_summary",), "summary_prefix": ("daily_summary",),
           "cancelled_orders": ("orders",), "on_cancel": ("orders",), "suspicious_amounts": ("orders",),
           "split_orders": ("orders",), "on_update": ("orders",)}
SQLITE_HEADER = b"SQLite format 3\x00"


def check_config(path: Path | str, manager: Any, text: Optional[str] = None,
                 label: Optional[str] = None) -> tuple[Optional[Config], list[Problem]]:
    """Read the config at ``path`` and check all of it: the config (``None`` if unreadable) and every problem.
    With ``text``: that text checked as the file at ``path`` would be (see :func:`read_config`)."""
    cfg, problems = read_config(path, text, label)
    if cfg is not None:
        problems += validate_config(cfg, manager)
    return cfg, sorted(problems, key=lambda p: p.key)


def validate_config(config: Config, manager: Any) -> list[Problem]:
    """Every problem of a loaded config that needs the installed connectors to see (no network call)."""
    problems: list[Problem] = []
    classes: dict[str, type[Connector]] = {}
    for name in sorted(config.connections):
        problems += _connection(config, manager, name, classes)
    for name in sorted(config.tasks):
        problems += _task(config, manager, name, config.tasks[name], classes)
    problems += _state(config)
    return problems


def _connection(config: Config, manager: Any, name: str, classes: dict[str, type[Connector]]) -> list[Problem]:
    try:
        classes[name] = manager.connector(str(config.connections[name].get("type")))
    except PluginError:
        pass  # connection_settings names the problem
    try:
        config.connection_settings(name, manager)
    except ConfigurationError as exc:
        return as_problems(exc, config.label)
    return []


def _task(config: Config, manager: Any, name: str, task: TaskConfig,
          classes: dict[str, type[Connector]]) -> list[Problem]:
    file, key = config.label, f"tasks.{name}"
    problems: list[Problem] = []
    ends = {}
    for side in ("source", "target"):
        connection = getattr(task, side)
        if connection not in config.connections:
            known = ", ".join(sorted(config.connections)) or "none"
            problems.append(Problem(file, f"{key}.{side}", f"no connection named {connection!r} (connections: {known})"))
        elif connection in classes:
            ends[side] = classes[connection]
    for side, cap in zip(("source", "target"), NEEDS[task.kind]):
        cls = ends.get(side)
        if cls is not None and cap not in cls.capabilities:
            problems.append(Problem(file, f"{key}.{side}", f"connector {cls.name!r} cannot {cap.value.replace('_', ' ')}, "
                                                            f"which a {task.kind} task needs of its {side}"))
    for side in ("source", "target"):
        cls = ends.get(side)
        if cls is not None:
            problems += _options(file, f"{key}.{side}_options", cls, side, task.connector_options(f"{side}_options"))
    problems += _engine_keys(file, key, task, ends.get("source"))
    problems += _rules(config, manager, key, task)
    return problems


def _options(file: str, key: str, cls: type[Connector], side: str, raw: dict[str, Any]) -> list[Problem]:
    model: type[BaseModel] = getattr(cls, f"{side}_options_model")
    known = keys_of(model)
    whose = f"{cls.name} as a {side}"
    problems = []
    for option in [k for k in raw if k in ENGINE_KEYS]:
        problems.append(Problem(file, f"{key}.{option}", f"{option} is a key of the task, not a {side} option: "
                                                          f"write it as {key.rsplit('.', 1)[0]}.{option}"))
    raw = {k: v for k, v in raw.items() if k not in ENGINE_KEYS}
    try:
        model.model_validate(raw)
    except ValidationError as exc:
        note = f"options of {whose}: {', '.join(sorted(known))}" if known else f"{whose} reads no options"
        problems += problems_from(exc, file, key, model, unknown="unknown option", known_note=note)
    return problems


def _engine_keys(file: str, key: str, task: TaskConfig, source: Optional[type[Connector]]) -> list[Problem]:
    problems = []
    for field, kinds in USED_BY.items():
        if field in task.model_fields_set and task.kind not in kinds:
            problems.append(Problem(file, f"{key}.{field}",
                                    f"{task.kind} tasks do not use {field} (it is for {' and '.join(kinds)} tasks)"))
    reads = READS.get(task.kind)
    allowed = source.date_fields.get(reads) if source is not None and reads else None
    if allowed and task.date_field not in allowed:
        problems.append(Problem(file, f"{key}.date_field",
                                f"{task.date_field!r} is not one of {', '.join(allowed)} "
                                f"(the dates {source.name} can select {reads} by)"))
    return problems


def _rules(config: Config, manager: Any, key: str, task: TaskConfig) -> list[Problem]:
    from .rules import check_files
    from .rules.diagnostics import RuleCheckError

    problems = []
    for i, rule_file in enumerate(task.rules):
        path = config.resolve(rule_file)
        if not path.exists():
            problems.append(Problem(config.label, f"{key}.rules[{i}]", f"rule file {str(path)!r} not found"))
            continue
        try:
            _, diags, _ = check_files([path], manager)
        except RuleCheckError as exc:
            diags = exc.diagnostics
        for d in diags:
            if d.is_error:
                problems.append(Problem(config.label, f"{key}.rules[{i}]", f"{d.file}:{d.line}:{d.col}: {d.message}",
                                        in_rules=True))
    return problems


def _state(config: Config) -> list[Problem]:
    file, key = config.label, "state.path"
    if config.state.url:  # PostgreSQL: reaching it is a network call, which a check does not make
        return []
    path = config.state_path
    if path.is_dir():
        return [Problem(file, key, f"{str(path)!r} is a folder; give a file name, such as connex.db")]
    if path.exists():
        try:
            with open(path, "rb") as fh:
                head = fh.read(len(SQLITE_HEADER))
        except OSError as exc:
            return [Problem(file, key, f"cannot read {str(path)!r}: {exc.strerror}")]
        if head and head != SQLITE_HEADER:
            return [Problem(file, key, f"{str(path)!r} is not an SQLite database (Connex keeps its state in one); "
                                       "point state.path at a new file, or at the state file Connex wrote")]
        if not os.access(path, os.W_OK):
            return [Problem(file, key, f"{str(path)!r} is not writable by this user")]
    folder = _existing_ancestor(path.parent)
    if not folder.is_dir():
        return [Problem(file, key, f"cannot create {str(path)!r}: {str(folder)!r} is a file, not a folder")]
    if not os.access(folder, os.W_OK | os.X_OK):
        return [Problem(file, key, f"cannot write in the folder {str(folder)!r} (SQLite keeps its journal beside "
                                   "the state file); choose a folder this user can write in")]
    return _token_files(config)


def _existing_ancestor(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _token_files(config: Config) -> list[Problem]:
    from .tokens import TokenStore

    problems = []
    folder = config.state_path.parent / ".connex"
    for name in sorted(config.connections):
        store = TokenStore(folder, name)
        if not store.path.exists():
            continue
        try:
            store.load()
        except ConfigurationError as exc:
            problems.append(Problem(config.label, f"connections.{name}", f"{store.path}: {bare_message(exc)}"))
    return problems
