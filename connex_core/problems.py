"""Config problems as lines a user can act on: ``FILE: KEY: message``, every one of them at once.

:func:`problems_from` turns a pydantic :class:`~pydantic.ValidationError` into :class:`Problem` lines
under a key prefix (``tasks.orders.target_options``): an unknown key gets a "did you mean" when a
known key is close, a value outside a fixed set lists the set (``'emial' is not one of display_name,
email, company, fixed``). :class:`ConfigProblems` carries several problems as one
:class:`~connex_core.errors.ConfigurationError` (exit 4).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

from pydantic import BaseModel, ValidationError

from .errors import ConfigurationError


@dataclass(frozen=True)
class Problem:
    """One problem of a config: in which file, under which key, and what is wrong."""

    file: str
    key: str
    message: str
    in_rules: bool = field(default=False, compare=False)
    """A problem inside a rule file (its syntax or checks), as opposed to the config itself."""

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.file, self.key) if p)
        return f"{where}: {self.message}" if where else self.message

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "key": self.key, "message": self.message}


class ConfigProblems(ConfigurationError):
    """Several config problems at once; ``str()`` is one ``FILE: KEY: message`` line per problem."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        first = self.problems[0] if self.problems else Problem("", "", "invalid config")
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid config")
        self.file, self.key = first.file or None, first.key or None


def bare_message(exc: ConfigurationError) -> str:
    """The message of a :class:`ConfigurationError` without its ``FILE: KEY:`` prefix."""
    text = str(exc)
    where = ": ".join(p for p in (exc.file, exc.key) if p)
    return text[len(where) + 2:] if where and text.startswith(where + ": ") else text


def as_problems(exc: ConfigurationError, file: str) -> list[Problem]:
    """A raised config error as problems of ``file`` (the name the user gave the config)."""
    if isinstance(exc, ConfigProblems):
        return [Problem(file, p.key, p.message) for p in exc.problems]
    return [Problem(file, exc.key or "", bare_message(exc))]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def keys_of(model: Optional[type[BaseModel]]) -> list[str]:
    """The keys a model accepts, as a config spells them (a field's alias, else its name)."""
    return [info.alias or name for name, info in model.model_fields.items()] if model is not None else []


def _unwrap(annotation: Any) -> Any:
    """``Optional[X]`` as ``X``."""
    while typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else None
    return annotation


def _holder(model: Optional[type[BaseModel]], loc: Sequence[Any]) -> Optional[type[BaseModel]]:
    """The model that holds the key ``loc[-1]``: fields are followed, table names and list indexes skipped."""
    current: Any = model
    for part in loc[:-1]:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part)) or next(
                (f for f in current.model_fields.values() if f.alias == part), None)
            current = info.annotation if info is not None else None
        elif typing.get_origin(current) in (dict, list) and typing.get_args(current):
            current = typing.get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def one_of(value: Any, expected: str) -> str:
    """``'emial' is not one of display_name, email, company, fixed`` from pydantic's ``expected`` text."""
    choices = re.findall(r"'((?:[^'\\]|\\.)*)'", expected)
    shown = repr(value) if isinstance(value, str) else str(value)
    return f"{shown} is not one of {', '.join(choices)}" if choices else f"{shown} is not one of {expected}"


def problems_from(exc: ValidationError, file: str, prefix: str, model: Optional[type[BaseModel]] = None,
                  unknown: str = "unknown key", known_note: str = "") -> list[Problem]:
    """One :class:`Problem` per error of ``exc``, keyed under ``prefix``.

    ``model`` (the validated model) lets an unknown key suggest the closest known one; ``unknown``
    replaces the text "unknown key" and ``known_note`` follows it in parentheses (a connector's options
    say whose options they are and list them).
    """
    problems = []
    for err in exc.errors():
        loc = [str(x) for x in err["loc"]]
        key = ".".join(p for p in [prefix, *loc] if p)
        kind = err["type"]
        if kind == "extra_forbidden":
            known = keys_of(_holder(model, err["loc"]))
            msg = unknown + did_you_mean(loc[-1], known) + (f" ({known_note})" if known_note else "")
        elif kind == "missing":
            msg = "required key is missing"
        elif kind == "literal_error":
            msg = one_of(err.get("input"), str((err.get("ctx") or {}).get("expected", "")))
        elif kind == "finite_number":
            msg = "must be a finite number (not nan or inf)"
        elif kind == "value_error":
            msg = str((err.get("ctx") or {}).get("error", err["msg"]))
        else:
            msg = err["msg"]
        problems.append(Problem(file, key, msg))
    return problems
