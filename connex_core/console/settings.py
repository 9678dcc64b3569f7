"""A task's settings as a form: the engine's typed keys (:class:`~connex_core.config.TaskConfig`) and the
connectors' typed options (``source_options_model``, ``target_options_model``), saved to the config file.

The form is made from the models: a choice list for a ``Literal`` or an ``Enum``, true/false for a ``bool``, a
number, a text, or a TOML value (``["a", "b"]``) for lists and tables; each field's description is its help. An
empty field means "not set" (the default). Saving edits the file with ``tomlkit``, which keeps its comments and
layout, changing only the keys whose value changed; the edited text is then checked exactly as
``connex config check`` checks a file (:func:`connex_core.configcheck.check_config`, the same messages) and
written only when it has no problem, the previous version kept as ``FILE.bak``.
"""

from __future__ import annotations

import enum
import hashlib
import os
import sys
import tempfile
import threading
import types
from pathlib import Path
from typing import Any, Literal, Optional, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr

from ..config import OLD_PLACES, TaskConfig
from ..configcheck import USED_BY, check_config
from ..problems import Problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: TaskConfig fields the form leaves alone: what the task is (connections, kind, rule files) is edited in the file.
FIXED = ("source", "target", "kind", "rules", "source_options", "target_options")
SIDES = ("source_options", "target_options")


def _widget(annotation: Any) -> tuple[str, tuple[str, ...]]:
    """``(kind, choices)``: choice, bool, number, text or toml (any other value, written as TOML)."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        if len(inner) != 1:
            return "toml", ()
        annotation, origin = inner[0], get_origin(inner[0])
    if annotation is SecretStr:
        return "secret", ()  # never sent to the browser, never written from it
    if origin is Literal:
        return "choice", tuple(str(a) for a in get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "choice", tuple(str(m.value) for m in annotation)
    if annotation is bool:
        return "bool", ("true", "false")
    if annotation in (int, float):
        return "number", ()
    if annotation is str:
        return "text", ()
    return "toml", ()


def _text(value: Any, kind: str) -> str:
    """A value as the form shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "toml" or isinstance(value, (list, dict)):
        return _item(value).as_string()
    if isinstance(value, enum.Enum):
        return str(value.value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _item(value: Any) -> Any:
    """A value as one TOML item on its key's line: tables inline (never a new ``[table]`` elsewhere in the file)."""
    import tomlkit

    if isinstance(value, dict):
        table = tomlkit.inline_table()
        for key, inner in value.items():
            table[key] = _item(inner)
        return table
    if isinstance(value, list):
        array = tomlkit.array()
        for inner in value:
            array.append(_item(inner))
        return array
    return tomlkit.item(value)


def _put(holder: Any, key: str, item: Any) -> None:
    """Set ``key``; a new key goes right after the table's last key, not after the comments that follow it (which
    tomlkit counts as the table's and which belong to the next table)."""
    from tomlkit.container import Container
    from tomlkit.items import AoT, Table

    body = getattr(getattr(holder, "value", None), "body", None)
    if key not in holder and isinstance(holder.value if body is not None else None, Container):
        last = [k for k, v in body if k is not None and not isinstance(v, (Table, AoT))]
        if last and hasattr(holder.value, "_insert_after"):
            holder.value._insert_after(last[-1], key, item)
            return
    holder[key] = item


def _parse(text: str, kind: str) -> tuple[Any, Optional[str]]:
    """The value a submitted text stands for, and an error for a TOML value that does not parse. What does not
    fit the field's type is written as typed and refused by the check, with its message."""
    text = text.strip()
    if kind == "bool" and text in ("true", "false"):
        return text == "true", None
    if kind == "number":
        for number in (int, float):
            try:
                return number(text), None
            except ValueError:
                pass
    if kind == "toml":
        try:
            return tomllib.loads(f"v = {text}")["v"], None
        except tomllib.TOMLDecodeError as exc:
            return None, f"not a TOML value ({exc}); write a list as [\"a\", \"b\"], a table as {{ key = \"value\" }}"
    return text, None


def _connector(config, manager, connection: str):
    try:
        return manager.connector(str(config.connections[connection].get("type")))
    except Exception:  # an unknown connection or type: config check says so
        return None


def _model_fields(model: type[BaseModel], raw: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    out = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        kind, choices = _widget(info.annotation)
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        out.append({"name": f"{prefix}{key}", "key": key, "kind": kind, "choices": choices,
                    "set": key in raw, "raw": raw.get(key),
                    "value": ("set" if key in raw else "not set") if kind == "secret" else _text(raw.get(key), kind), "default": _text(default, kind),
                    "help": info.description or ""})
    return out


def form(config, manager, task_name: str, raw_task: Optional[dict[str, Any]] = None) -> list[dict[str, Any]]:
    """The form's sections (the task's own keys, then each side's connector options), each with its fields:
    name (the form's), key (the file's), kind, choices, value (as written in the file; empty: not set), default,
    help."""
    task = config.tasks[task_name]
    raw = raw_task if raw_task is not None else task.model_dump(exclude_unset=True)
    engine = {k: v for k, v in raw.items() if k not in FIXED}
    for side, keys in OLD_PLACES.items():  # an engine key written in its older place
        for key in keys:
            if isinstance(raw.get(side), dict) and key in raw[side]:
                engine.setdefault(key, raw[side][key])
    own = [f for f in _model_fields(TaskConfig, engine, "")
           if f["key"] not in FIXED and task.kind in USED_BY.get(f["key"], (task.kind,))]
    own.sort(key=lambda f: f["key"] not in ("enabled", "every_minutes"))  # the schedule first
    sections = [{"title": "Task", "side": "", "fields": own}]
    for side in SIDES:
        connection = getattr(task, side.split("_")[0])
        cls = _connector(config, manager, connection)
        if cls is None:
            continue
        model = getattr(cls, f"{side}_model")
        options = {k: v for k, v in (raw.get(side) or {}).items() if k not in OLD_PLACES[side]}
        fields = _model_fields(model, options, f"{side}.")
        if fields:
            sections.append({"title": f"{side.split('_')[0].title()} options ({connection}: {cls.name})",
                             "side": side, "fields": fields})
    return sections


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class FileProblem(Exception):
    """The config file as it is now cannot be edited by the form (what to do is the message)."""


def _parse_file(text: str, label: str, task_name: str) -> tuple[Any, Any]:
    """The file's tomlkit document and the task's table in it."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise FileProblem(f"{label}: not valid TOML now ({exc}); fix it in the file (connex config check)") from None
    table = doc.get("tasks", {}).get(task_name)
    if not isinstance(table, dict):
        raise FileProblem(f"{label}: tasks.{task_name} is no longer a table in the file; reload the console "
                          "after a restart of connex serve")
    return doc, table


def edit(text: str, config, manager, task_name: str, submitted: dict[str, str]) -> tuple[str, list[Problem]]:
    """The config text with the form's changes (only keys whose value changed; comments and layout kept),
    and the form's own problems (a TOML value that does not parse)."""
    import tomlkit

    doc, table = _parse_file(text, config.label, task_name)
    problems: list[Problem] = []
    for section in form(config, manager, task_name, table.unwrap()):
        for field in section["fields"]:
            if field["name"] not in submitted or field["kind"] == "secret":
                continue
            sent = str(submitted[field["name"]]).strip()
            key = f"tasks.{task_name}.{field['name']}"
            if not sent and not field["set"]:
                continue  # not set, and left empty
            side = section["side"]
            holder = table if not side else table.get(side)
            if not sent:
                if holder is not None and field["key"] in holder:
                    del holder[field["key"]]
                for old_side, keys in OLD_PLACES.items() if not side else ():  # or in its older place
                    if field["key"] in keys and field["key"] in table.get(old_side, {}):
                        del table[old_side][field["key"]]
                continue
            value, error = _parse(sent, field["kind"])
            if error:
                problems.append(Problem(config.label, key, error))
                continue
            if field["set"] and value == field["raw"] and isinstance(value, bool) == isinstance(field["raw"], bool):
                continue  # unchanged: the line stays as written
            if side and holder is None:
                holder = table[side] = tomlkit.inline_table()
            _put(holder, field["key"], _item(value))
            if not side:  # an engine key also written in its older place would be given twice
                for old_side, keys in OLD_PLACES.items():
                    if field["key"] in keys and field["key"] in table.get(old_side, {}):
                        del table[old_side][field["key"]]
    return tomlkit.dumps(doc), problems


def save(config, manager, task_name: str, submitted: dict[str, str], seen: str) -> dict[str, Any]:
    """Check the edited file as ``connex config check`` would and write it when clean.

    Returns ``saved`` (bool), ``problems`` (``FILE: KEY: message`` lines), ``by_field`` (form name -> message)
    and ``config`` (the new config, when saved)."""
    with _SAVING:  # one save at a time: read, check and write the file as one step
        return _save(config, manager, task_name, submitted, seen)


_SAVING = threading.Lock()


def _save(config, manager, task_name: str, submitted: dict[str, str], seen: str) -> dict[str, Any]:
    path: Path = config.path
    text = path.read_text(encoding="utf-8")
    if seen and seen != digest(text):
        return {"saved": False, "by_field": {},
                "problems": [f"{config.label}: the file changed since this page was loaded; reload the page"]}
    try:
        new_text, problems = edit(text, config, manager, task_name, submitted)
    except FileProblem as exc:
        return {"saved": False, "by_field": {}, "problems": [str(exc)]}
    cfg = None
    if not problems:
        cfg, problems = check_config(path, manager, text=new_text, label=config.label)
    names = [f["name"] for s in form(config, manager, task_name) for f in s["fields"]]
    by_field: dict[str, str] = {}
    for p in problems:  # each problem under its field (tasks.T.target_options.tax_codes.x: under tax_codes)
        rest = p.key[len(f"tasks.{task_name}."):] if p.key.startswith(f"tasks.{task_name}.") else ""
        for name in names:
            if rest == name or rest.startswith((f"{name}.", f"{name}[")):
                by_field[name] = f"{by_field[name]}; {p.message}" if name in by_field else p.message
    if problems or cfg is None:
        return {"saved": False, "problems": [str(p) for p in problems], "by_field": by_field}
    if new_text != text:
        _write(path, text, new_text)
    return {"saved": True, "problems": [], "by_field": {}, "config": cfg, "changed": new_text != text}


def _write(path: Path, old: str, new: str) -> None:
    """The previous text to ``FILE.bak``, then the new one in place atomically, with the file's mode."""
    mode = path.stat().st_mode & 0o777
    for target, data in ((path.with_name(path.name + ".bak"), old), (path, new)):
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=path.parent)
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def routes(console, guard) -> list:
    """``GET /tasks/{task}``: the form; ``POST /tasks/{task}/settings``: save it."""
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    def page(request, task: str, result: Optional[dict[str, Any]] = None, submitted=None, status: int = 200):
        text = console.config.path.read_text(encoding="utf-8")
        try:
            sections = form(console.config, console.manager, task,
                            _parse_file(text, console.config.label, task)[1].unwrap())
        except FileProblem as exc:
            sections, status = [], 409
            result = {"saved": False, "by_field": {}, "problems": [str(exc)]}
        if submitted is not None:  # a refused form shows what was typed, not the file's values
            for section in sections:
                for field in section["fields"]:
                    if field["name"] in submitted:
                        field["value"] = str(submitted[field["name"]])
        return console._page(request, "task.html", status, nav="dashboard", task=task, t=console.config.tasks[task],
                             sections=sections, seen=digest(text), result=result, path=console.config.label)

    def show(request):
        task = request.path_params["task"]
        if task not in console.config.tasks:
            return HTMLResponse("no such task", status_code=404)
        return page(request, task)

    def store(request):
        task = request.path_params["task"]
        if task not in console.config.tasks:
            return HTMLResponse("no such task", status_code=404)
        form_data = request.state.form
        submitted = {k: str(v) for k, v in form_data.items() if k not in ("csrf", "seen")}
        result = save(console.config, console.manager, task, submitted, str(form_data.get("seen", "")))
        if not result["saved"]:
            return page(request, task, result, submitted, status=422)
        console.tasks_saved(result["config"], task)
        return page(request, task, result)

    return [Route("/tasks/{task}", guard(show)), Route("/tasks/{task}/settings", guard(store), methods=["POST"])]
