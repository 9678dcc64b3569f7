"""Running rules on one order: the loop and the actions, shared by the compiled engine and the
explaining evaluator (they differ only in how conditions and values are evaluated).

Semantics (docs/rules.md): rules run in file order and a later rule sees what earlier ones
changed; ``skip``/``hold`` end the order's rules, ``stop`` ends them keeping the changes; when
nothing fires the result holds the very same order object; a rule that fails at run time holds
the order with a message naming the rule and its line. The input order is never mutated: it is
copied (deeply) the first time a rule writes.
"""

from __future__ import annotations

import decimal
from datetime import datetime, tzinfo
from functools import lru_cache
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Optional, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from ..models import Order
from . import ast
from .diagnostics import RuleRuntimeError
from .results import Change, RuleResult
from .schema import FieldRef

#: A compiled condition or value: a function of the order being processed.
OrderFn = Callable[[Order], Any]
#: An action: changes the state, returns ('skip'|'hold'|'stop', reason) to end the rules, or None.
ActionFn = Callable[["State"], Optional[tuple[str, Optional[str]]]]


class State:
    """The order being processed, copied on first write, and the changes made so far.

    Copies are as shallow as the write allows: a top-level field needs a shallow copy of the
    order; a nested field (``ship_to.country``) also copies the models on its path; a plugin
    action, which may change anything, gets a deep copy. Lists are never changed in place.
    """

    __slots__ = ("order", "copied", "deep", "fresh", "changes", "rule")

    def __init__(self, order: Order):
        self.order = order
        self.copied = self.deep = False
        self.fresh: set[tuple[str, ...]] = set()
        self.changes: list = []
        self.rule: Optional[ast.Rule] = None

    def writable(self, path: tuple[str, ...] = ()) -> Any:
        """The (copied) object that holds the field at ``path`` + one more step."""
        if not self.copied:
            self.order = self.order.model_copy()
            self.copied = True
        obj: Any = self.order
        for n, step in enumerate(path):
            child = getattr(obj, step)
            if child is None:
                raise ValueError(f"cannot set '{'.'.join(path)}.…': '{'.'.join(path[: n + 1])}' is missing")
            if not self.deep and path[: n + 1] not in self.fresh:
                child = child.model_copy()
                setattr(obj, step, child)
                self.fresh.add(path[: n + 1])
            obj = child
        return obj

    def writable_deep(self) -> Order:
        """The order, deeply copied, for code that may change anything in it."""
        if not self.deep:
            self.order = self.order.model_copy(deep=True)
            self.copied = self.deep = True
        return self.order

    def record(self, field: str, before: Any, after: Any) -> None:
        rule = self.rule
        assert rule is not None
        self.changes.append(Change(field, before, after, rule.name, rule.line, rule.file))


@lru_cache(maxsize=64)
def _zone(name: str) -> Optional[tzinfo]:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_day(value: Any, zone: Optional[str]) -> Any:
    """The day of a date-time in the order's time zone (its ``timezone`` field: the source's local
    time, in which "the 15th" is counted), or in the date-time's own offset when the order names
    no zone (or an unknown one). None stays None; a date is its own day."""
    if not isinstance(value, datetime):
        return value
    tz = _zone(zone) if zone else None
    return (value.astimezone(tz) if tz is not None else value).date()


def read(order: Order, ref: FieldRef) -> Any:
    obj: Any = order
    for step in ref.steps:
        if obj is None:
            return None
        obj = getattr(obj, step)
    return obj


def write(state: State, ref: FieldRef, value: Any) -> None:
    """Set a field (validated by the model), recording the change when the value differs."""
    before = read(state.order, ref)
    if before == value and type(before) is type(value):
        return
    obj = state.writable(ref.steps[:-1])
    setattr(obj, ref.steps[-1], value)
    after = getattr(obj, ref.steps[-1])
    if after != before or type(after) is not type(before):
        state.record(ref.path, before, after)


# -- actions ---------------------------------------------------------------------------------------
def make_action(action: ast.Action, value_of: Callable[[ast.Expr], OrderFn]) -> ActionFn:
    """The function that performs ``action``; ``value_of`` turns an expression into a function."""
    kind = action.kind
    if kind in ("skip", "hold"):
        reason = action.text.value if action.text is not None else None
        return lambda state: (kind, reason)
    if kind == "stop":
        return lambda state: ("stop", None)
    if kind == "set":
        ref, value = action.writes, value_of(action.value)  # type: ignore[arg-type]

        def set_(state: State):
            write(state, ref, value(state.order))

        return set_
    if kind == "strip":
        return _strip(action)
    if kind == "mark":
        ref, flag = action.writes, action.name == "paid"
        return lambda state: write(state, ref, flag)
    if kind == "tag":
        value = value_of(action.value)  # type: ignore[arg-type]

        def tag(state: State):
            text = value(state.order)
            if isinstance(text, Enum):
                text = text.value
            if text is None or text in state.order.tags:
                return
            before = list(state.order.tags)
            order = state.writable()
            order.tags = [*before, text]
            state.record("tags", before, list(order.tags))

        return tag
    if kind == "call":
        return _plugin_action(action, [value_of(a) for a in action.args])
    raise AssertionError(f"unknown action kind {kind}")


def _strip(action: ast.Action) -> ActionFn:
    ref, text, ci = action.writes, action.text.const, action.ci  # type: ignore[union-attr]
    suffix = action.name == "suffix"
    needle = text.lower() if ci else text

    def strip(state: State):
        current = read(state.order, ref)
        if not current or not text:
            return
        hay = current.lower() if ci else current
        if suffix and hay.endswith(needle):
            write(state, ref, current[: len(current) - len(text)])
        elif not suffix and hay.startswith(needle):
            write(state, ref, current[len(text):])

    return strip


def _plugin_action(action: ast.Action, args: list[OrderFn]) -> ActionFn:
    function = action.ext.function

    def call(state: State):
        values = [a(state.order) for a in args]
        order = state.writable_deep()
        before = order.model_dump()
        result = function(order, *values)
        if result is not None:
            if not isinstance(result, Order):
                raise TypeError(f"action '{action.name}' returned {type(result).__name__}, not an Order")
            state.order = order = result
        after = order.model_dump()
        for key in before:
            if before[key] != after[key]:
                state.record(key, before[key], after[key])

    return call


# -- the loop ----------------------------------------------------------------------------------------
@dataclass
class Runnable:
    """One rule ready to run: its condition and its actions."""

    rule: ast.Rule
    cond: OrderFn
    actions: list[ActionFn]


def describe_exception(exc: BaseException) -> str:
    """A run-time failure in words a bookkeeper can act on."""
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, decimal.InvalidOperation):
        return "invalid arithmetic"
    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return f"invalid value{f' for {where!r}' if where else ''}: {first.get('msg', '')}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def fail(rule: ast.Rule, exc: BaseException) -> RuleRuntimeError:
    return RuleRuntimeError(describe_exception(exc), rule=rule.name, file=rule.file, line=rule.line, named=rule.named)


def run(order: Order, rules: Sequence[Runnable], start: int = 0, known_true: bool = False):
    """Apply ``rules[start:]`` to ``order`` (``known_true``: the first one's condition already held)."""
    state = State(order)
    fired: list[str] = []
    for index in range(start, len(rules)):
        runnable = rules[index]
        rule = runnable.rule
        try:
            if not (known_true and index == start) and not runnable.cond(state.order):
                continue
            fired.append(rule.name)
            state.rule = rule
            for action in runnable.actions:
                verdict = action(state)
                if verdict is None:
                    continue
                kind, reason = verdict
                if kind == "stop":
                    return RuleResult(state.order, "sync", None, rule.name, rule.line, rule.file, fired, state.changes)
                return RuleResult(state.order, kind, reason or f"rule {rule.name!r}", rule.name, rule.line, rule.file,
                                  fired, state.changes)
        except Exception as exc:  # a rule failing at run time holds the order, naming the rule
            error = fail(rule, exc)
            return RuleResult(state.order, "hold", str(error), rule.name, rule.line, rule.file, fired, state.changes)
    return RuleResult(state.order, "sync", None, None, None, None, fired, state.changes)
