"""Dictionary dispatch: a run of rules that each test one field for equality with a constant.

Thousands of rules such as ``for each line when line.sku == 'MUG-BLK' then set line.sku = '...'``
would otherwise each be evaluated on every line. :func:`plan` finds the runs of consecutive rules
(at least :data:`MIN_GROUP`) whose conditions all require ``FIELD == constant`` on the same field
(the whole condition, or one part of an ``and``), and a :class:`Dispatch` runs such a run with
one dictionary lookup per order (or per line) instead of one test per rule.

The semantics are exactly those of running the rules one after the other (the explaining
evaluator, which never dispatches, is checked against this by a test):

* a candidate rule's whole condition is still evaluated before it fires, so the dictionary only
  narrows the rules to try; a rule fires at most once per line, in rule order, and for each rule
  the lines are taken in order (a ``for each line`` rule runs over every line before the next rule);
* when a rule changes the key field (``set line.sku = ...``), the rules after it are looked up
  again under the new value, so chains such as A -> B -> C behave as written.

Rules with plugin actions are never grouped: such an action may change any field of any line.
"""

from __future__ import annotations

from enum import Enum
from heapq import heapify, heappop, heappush
from typing import Any, Callable, Optional

from . import ast
from .lines import line_number, line_position
from .schema import FieldRef

#: The fewest consecutive rules worth a dictionary.
MIN_GROUP = 3
_KEY_TYPES = (str, int)  # with Decimal and the enums (str-based): hashable, equal only to equal values


def dispatch_key(rule: ast.Rule) -> Optional[tuple[FieldRef, Any]]:
    """``(field, constant)`` when the rule's condition requires ``FIELD == constant`` (FIELD of the rule's
    own scope) and its actions are built in; else None."""
    if rule.statement or any(a.kind == "call" for a in rule.actions):
        return None
    parts = rule.cond.items if isinstance(rule.cond, ast.BoolOp) and rule.cond.op == "and" else [rule.cond]
    for part in parts:
        if not (isinstance(part, ast.Compare) and part.op == "==" and not part.as_day):
            continue
        for a, b in ((part.left, part.right), (part.right, part.left)):
            ref = getattr(a, "ref", None)
            if (ref is not None and ref.scope == rule.scope and isinstance(b, ast.Literal)
                    and b.const is not None and not isinstance(b.const, bool) and _hashable(b.const)):
                return ref, b.const
    return None


def _hashable(value: Any) -> bool:
    from decimal import Decimal

    return isinstance(value, (*_KEY_TYPES, Decimal))


def plan(rules: list[ast.Rule]) -> list[tuple[str, list[int], Optional[FieldRef]]]:
    """The segments to run: ``("rule", [index], None)`` or ``("dispatch", [indices], field)``."""
    keys = [dispatch_key(rule) for rule in rules]
    out: list[tuple[str, list[int], Optional[FieldRef]]] = []
    n = 0
    while n < len(rules):
        key = keys[n]
        end = n + 1
        if key is not None:
            while end < len(rules) and keys[end] is not None and keys[end][0].path == key[0].path \
                    and rules[end].scope == rules[n].scope:  # type: ignore[index]
                end += 1
        if end - n >= MIN_GROUP:
            out.append(("dispatch", list(range(n, end)), key[0]))  # type: ignore[index]
        else:
            out.extend(("rule", [i], None) for i in range(n, end))
        n = end
    return out


def build_table(rules: list[ast.Rule], indices: list[int]) -> dict[Any, tuple[int, ...]]:
    """Each constant -> the positions (within the group) of the rules that test for it, in order."""
    table: dict[Any, list[int]] = {}
    for pos, index in enumerate(indices):
        found = dispatch_key(rules[index])
        assert found is not None
        value = found[1].value if isinstance(found[1], Enum) else found[1]  # the key function reads enums so
        table.setdefault(value, []).append(pos)
    return {k: tuple(v) for k, v in table.items()}


class Dispatch:
    """A run of rules keyed on one field (see the module docstring). ``runnables`` are the rules'
    :class:`~.runtime.Runnable`; ``key(order, line)`` reads the field."""

    __slots__ = ("runnables", "table", "key", "run")

    def __init__(self, runnables: list[Any], table: dict[Any, tuple[int, ...]], key: Callable[[Any, Any], Any],
                 scope: str):
        self.runnables = runnables
        self.table = table
        self.key = key
        self.run = self.run_lines if scope == "line" else self.run_order

    def run_order(self, state: Any, fired: list[str]):
        table, key = self.table, self.key
        value = key(state.order, None)
        candidates = table.get(value)
        i = 0
        while candidates and i < len(candidates):
            r = candidates[i]
            i += 1
            runnable = self.runnables[r]
            state.current = runnable
            if not runnable.cond(state.order, None):
                continue
            fired.append(runnable.rule.name)
            state.begin(runnable.rule)
            verdict = runnable.perform(state)
            if verdict is not None:
                return verdict
            new = key(state.order, None)
            if new != value or type(new) is not type(value):
                value = new
                candidates, i = tuple(x for x in table.get(new, ()) if x > r), 0
        return None

    def run_lines(self, state: Any, fired: list[str]):
        table, key = self.table, self.key
        order = state.order
        events: Optional[list[tuple[int, int]]] = None
        for pos, line in enumerate(order.lines):
            candidates = table.get(key(order, line))
            if candidates:
                number = line_number(state, pos)
                if events is None:
                    events = []
                events.extend((r, number) for r in candidates)
        if events is None:
            return None
        heapify(events)
        done: set[tuple[int, int]] = set()
        last = -1
        while events:
            event = heappop(events)
            if event in done:
                continue
            done.add(event)
            r, number = event
            pos = line_position(state, number)
            if pos is None:
                continue
            runnable = self.runnables[r]
            state.current = runnable
            line = state.order.lines[pos]
            if not runnable.cond(state.order, line):
                continue
            if r != last:
                fired.append(runnable.rule.name)
                state.begin(runnable.rule)
                last = r
            before = key(state.order, line)
            state.line = pos
            verdict = runnable.perform(state)
            state.line = None
            if state.dropped:
                state.dropped = False
            else:
                after = key(state.order, state.order.lines[pos])
                if after != before or type(after) is not type(before):
                    for later in table.get(after, ()):
                        if later > r:
                            heappush(events, (later, number))
            if verdict is not None:
                return verdict
        return None
