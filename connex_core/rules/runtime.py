"""Running rules on one order: the loop and the actions, shared by the compiled engine and the
explaining evaluator (they differ only in how conditions and values are evaluated).

Semantics (docs/rules.md): rules run in file order and a later rule sees what earlier ones
changed; ``skip``/``hold`` end the order's rules, ``stop`` ends them keeping the changes; when
nothing fires the result holds the very same order object; a rule that fails at run time holds
the order with a message naming the rule and its line. The input order is never mutated: it is
copied (deeply) the first time a rule writes.

The rules run as *segments* (:class:`Runnable`: one rule, once per order or once per line; or a
:class:`~.dispatch.Dispatch`: a run of rules keyed on one field, looked up in a dictionary).
Line-level writes, dropped lines, recomputed totals and mapping tables are in :mod:`.lines`.
"""

from __future__ import annotations

import decimal
from datetime import datetime, tzinfo
from functools import lru_cache
from enum import Enum
from typing import Any, Callable, Optional, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from ..models import Order
from . import ast
from .diagnostics import RuleRuntimeError
from .results import Change, RuleResult
from .lines import drop_line, map_action, read, write, write_line

#: A compiled condition or value: a function of the order being processed and the current line (None
#: outside ``for each line`` rules).
OrderFn = Callable[[Order, Any], Any]
#: An action: changes the state, returns ('skip'|'hold'|'stop', reason) to end the rules, or None.
ActionFn = Callable[["State"], Optional[tuple[str, Optional[str]]]]


class State:
    """The order being processed, copied on first write, and the changes made so far.

    Copies are as shallow as the write allows: a top-level field needs a shallow copy of the
    order; a nested field (``ship_to.country``) also copies the models on its path; a plugin
    action, which may change anything, gets a deep copy. Lists are never changed in place.
    """

    __slots__ = ("order", "copied", "deep", "fresh", "changes", "rule", "current", "line", "numbers", "lines_copied",
                 "fresh_lines", "totals", "dropped", "found")

    def __init__(self, order: Order):
        self.order = order
        self.copied = self.deep = False
        self.fresh: set[tuple[str, ...]] = set()
        self.changes: list = []
        self.rule: Optional[ast.Rule] = None
        self.current: Any = None
        """The segment whose condition or actions are running (a failure names its rule)."""
        self.line: Optional[int] = None
        """In a ``for each line`` rule: the position of the current line in ``order.lines``."""
        self.numbers: Optional[list[int]] = None
        """Each current line's number in the order as the source gave it, once a line was dropped."""
        self.lines_copied = False
        self.fresh_lines: set[int] = set()
        self.totals: dict[str, Change] = {}
        self.dropped = self.found = False

    def begin(self, rule: ast.Rule) -> None:
        """A rule fires: its changes are recorded under its name (totals once per rule)."""
        self.rule = rule
        self.totals = {}

    def current_line(self) -> Any:
        return None if self.line is None else self.order.lines[self.line]

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
            self.copied = self.deep = self.lines_copied = True
            self.fresh_lines = {id(line) for line in self.order.lines}
        return self.order

    def record(self, field: str, before: Any, after: Any, reason: Optional[str] = None) -> Change:
        rule = self.rule
        assert rule is not None
        change = Change(field, before, after, rule.name, rule.line, rule.file, reason)
        self.changes.append(change)
        return change


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

        if ref.scope == "line":
            def set_line(state: State):
                write_line(state, ref, value(state.order, state.current_line()))

            return set_line

        def set_(state: State):
            write(state, ref, value(state.order, state.current_line()))

        return set_
    if kind == "strip":
        return _strip(action)
    if kind == "mark":
        ref, flag = action.writes, action.name == "paid"
        return lambda state: write(state, ref, flag)
    if kind == "tag":
        value = value_of(action.value)  # type: ignore[arg-type]

        def tag(state: State):
            text = value(state.order, state.current_line())
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
    if kind == "drop":
        reason = action.text.value if action.text is not None else None
        return lambda state: drop_line(state, reason)
    if kind == "map":
        return map_action(action.table)
    raise AssertionError(f"unknown action kind {kind}")


def _strip(action: ast.Action) -> ActionFn:
    ref, text, ci = action.writes, action.text.const, action.ci  # type: ignore[union-attr]
    suffix = action.name == "suffix"
    needle = text.lower() if ci else text

    on_line = ref.scope == "line"

    def strip(state: State):
        current = read(state.current_line() if on_line else state.order, ref)
        if not current or not text:
            return
        hay = current.lower() if ci else current
        put = write_line if on_line else write
        if suffix and hay.endswith(needle):
            put(state, ref, current[: len(current) - len(text)])
        elif not suffix and hay.startswith(needle):
            put(state, ref, current[len(text):])

    return strip


def _plugin_action(action: ast.Action, args: list[OrderFn]) -> ActionFn:
    function = action.ext.function

    def call(state: State):
        values = [a(state.order, state.current_line()) for a in args]
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
class Runnable:
    """One rule ready to run: its condition (a function of the order and the line) and its actions.

    ``run(state, fired)`` applies it once per order, once per line (``for each line``), or as a map
    statement; it returns ('skip'|'hold'|'stop', reason) to end the rules, else None.
    """

    __slots__ = ("rule", "cond", "actions", "run")

    def __init__(self, rule: ast.Rule, cond: OrderFn, actions: list[ActionFn]):
        self.rule = rule
        self.cond = cond
        self.actions = actions
        self.run = self.run_statement if rule.statement else self.run_lines if rule.scope == "line" else self.run_order

    def perform(self, state: State) -> Optional[tuple[str, Optional[str]]]:
        for action in self.actions:
            verdict = action(state)
            if verdict is not None:
                return verdict
        return None

    def run_order(self, state: State, fired: list[str]):
        state.current = self
        if not self.cond(state.order, None):
            return None
        fired.append(self.rule.name)
        state.begin(self.rule)
        return self.perform(state)

    def run_lines(self, state: State, fired: list[str]):
        state.current = self
        pos, hit = 0, False
        while pos < len(state.order.lines):
            if not self.cond(state.order, state.order.lines[pos]):
                pos += 1
                continue
            if not hit:
                fired.append(self.rule.name)
                state.begin(self.rule)
                hit = True
            state.line = pos
            verdict = self.perform(state)
            state.line = None
            if state.dropped:  # the next line moved up to this position
                state.dropped = False
            else:
                pos += 1
            if verdict is not None:
                return verdict
        return None

    def run_statement(self, state: State, fired: list[str]):
        """``map FIELD using FILE``: fires when the table has a row for the order (or one of its lines)."""
        state.current = self
        self.cond(state.order, None)  # always true (the explaining evaluator records it)
        state.begin(self.rule)
        state.found = False
        self.perform(state)
        if state.found:
            fired.append(self.rule.name)
        return None


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


def run(order: Order, segments: Sequence[Any], start: int = 0) -> RuleResult:
    """Apply ``segments[start:]`` (:class:`Runnable` or :class:`~.dispatch.Dispatch`) to ``order``."""
    state = State(order)
    fired: list[str] = []
    try:
        for index in range(start, len(segments)):
            verdict = segments[index].run(state, fired)
            if verdict is None:
                continue
            kind, reason = verdict
            rule = state.rule
            assert rule is not None
            if kind == "stop":
                return RuleResult(state.order, "sync", None, rule.name, rule.line, rule.file, fired, state.changes)
            return RuleResult(state.order, kind, reason or f"rule {rule.name!r}", rule.name, rule.line, rule.file,
                              fired, state.changes)
    except Exception as exc:  # a rule failing at run time holds the order, naming the rule
        rule = state.current.rule
        error = fail(rule, exc)
        return RuleResult(state.order, "hold", str(error), rule.name, rule.line, rule.file, fired, state.changes)
    return RuleResult(state.order, "sync", None, None, None, None, fired, state.changes)
