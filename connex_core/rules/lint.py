"""Checks of the rules together: rules that can never fire, and rules that can write one field
with different values. They only warn (``--strict`` makes them errors): the rules still load.

Mixed into :class:`~connex_core.rules.checker.Checker`, which reports through ``self.report``.
"""

from __future__ import annotations

from enum import Enum
from itertools import islice
from typing import Any, Callable, Optional

from . import ast
from .diagnostics import WARNING

#: How many earlier writers of a field each rule is compared with (conflicting writes).
WINDOW = 200


class RuleSetChecks:
    """Warnings about rules that can never fire, and about conflicting writes."""

    sources: dict[str, str]
    rule: Any
    report: Callable[..., None]

    def never_fires(self, rule: ast.Rule) -> None:
        """A condition that is always false, or asks one field to equal two values."""
        conjuncts = _conjuncts(rule.cond)
        if any(isinstance(c, ast.Literal) and c.value is False for c in conjuncts):
            self.report(rule.cond.pos, f"{describe_rule(rule)} can never fire: its condition is always false",
                        "unreachable", WARNING)
            return
        equal: dict[str, tuple[Any, ast.Expr]] = {}
        for c in conjuncts:
            pair = _equality(c)
            if pair is None:
                continue
            path, value = pair
            if path in equal and equal[path][0] != value:
                self.report(c.pos, f"{describe_rule(rule)} can never fire: '{path}' cannot equal both "
                            f"{_display(equal[path][0])} and {_display(value)}", "unreachable", WARNING)
                return
            equal[path] = (value, c)

    def reachability(self, rules: list[ast.Rule]) -> None:
        """A rule whose condition includes all of an earlier skip/hold/stop rule's condition never runs.

        Conditions are compared as sets of ``and``-ed parts (their normalised text). Earlier
        stoppers are indexed by one of their parts, so each rule looks only at those that can apply.
        """
        by_part: dict[str, list[tuple[frozenset[str], ast.Rule]]] = {}
        unconditional: Optional[ast.Rule] = None
        for rule in rules:
            self.rule = rule
            mine = frozenset(self._norm(c, rule) for c in _conjuncts(rule.cond) if not _is_true(c))
            earlier = unconditional or next((r for part in sorted(mine) for theirs, r in by_part.get(part, ())
                                            if theirs <= mine), None)
            if earlier is not None:
                self.report(rule.pos, f"{describe_rule(rule)} can never fire: {describe_rule(earlier)} "
                            f"ends every order it would match", "unreachable", WARNING)
            if any(a.kind in ("skip", "hold", "stop") for a in rule.actions):
                if not mine:
                    unconditional = unconditional or rule
                else:
                    by_part.setdefault(min(mine), []).append((mine, rule))
        self.rule = None

    def _norm(self, node: ast.Expr, rule: ast.Rule) -> str:
        return " ".join(self.sources.get(rule.file, "")[node.pos.start:node.pos.end].split())

    def conflicts(self, rules: list[ast.Rule]) -> None:
        """Two rules that can both fire and write one field to different values draw a warning.

        Rules whose ``==`` tests on one field exclude each other (``store == 'A'`` / ``store == 'B'``)
        cannot both fire, and a rule that only fills an empty field never overrides. Writers that
        write the same value under the same tests count once (the latest stands for them).
        """
        writers: dict[str, dict[tuple, tuple[ast.Rule, ast.Action, dict[str, Any]]]] = {}
        # For thousands of rules that each test one field for one value (SKU rules): the earlier writers
        # of a field by the value they test a path for, while every one of them tests that path. Then
        # only those testing the same value can conflict: the others are exclusive.
        tested: dict[str, dict[str, dict[Any, list]]] = {}
        for rule in rules:
            self.rule = rule
            conjuncts = _conjuncts(rule.cond)
            equal = dict(p for p in (_equality(c) for c in conjuncts) if p is not None)
            # "when FIELD is null then set FIELD = ..." fills in a default: it never overrides.
            fills = {c.operand.ref.path for c in conjuncts
                     if isinstance(c, ast.Is) and c.test == "null" and getattr(c.operand, "ref", None) is not None}
            for action in rule.actions:
                ref = action.writes
                if ref is None:
                    continue
                earlier = writers.setdefault(ref.path, {})
                index = tested.setdefault(ref.path, {path: {} for path in equal} if not earlier else {})
                for path in list(index):
                    if path not in equal:
                        del index[path]  # a writer that does not test it: the index no longer covers all
                if ref.path not in fills:
                    path = next((p for p in equal if p in index), None)
                    candidates = (reversed(index[path].get(equal[path], ())) if path is not None
                                  else reversed(earlier.values()))
                    for other_rule, other, their_equal in islice(candidates, WINDOW):
                        if (other_rule is rule or _exclusive(equal, their_equal) or _same_write(action, other)
                                or _map_cannot_meet(other, action, equal)):
                            continue
                        self.report(action.pos, f"{describe_rule(rule)} and {describe_rule(other_rule)} can both "
                                    f"write '{ref.path}' with different values; the later rule wins (dry-run shows "
                                    f"which)", "conflicting-writes", WARNING)
                        break
                key = _write_key(action, equal)
                earlier.pop(key, None)
                earlier[key] = (rule, action, equal)
                for path, by_value in index.items():
                    by_value.setdefault(equal[path], []).append(earlier[key])
        self.rule = None


def describe_rule(rule: ast.Rule) -> str:
    """How messages name a rule: ``rule 'name' (file:line)``, or ``the rule at file:line``."""
    return f"rule {rule.name!r} ({rule.file}:{rule.line})" if rule.named else f"the rule at {rule.file}:{rule.line}"


def _display(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    return repr(value) if isinstance(value, str) else str(value)


def _conjuncts(node: ast.Expr) -> list[ast.Expr]:
    if isinstance(node, ast.BoolOp) and node.op == "and":
        return [c for item in node.items for c in _conjuncts(item)]
    return [node]


def _is_true(node: ast.Expr) -> bool:
    return isinstance(node, ast.Literal) and node.value is True


def _equality(node: ast.Expr) -> Optional[tuple[str, Any]]:
    """``(field path, constant)`` for a ``FIELD == constant`` test, else None."""
    if isinstance(node, ast.Compare) and node.op == "==" and not node.as_day:
        for a, b in ((node.left, node.right), (node.right, node.left)):
            ref = getattr(a, "ref", None)
            if ref is not None and isinstance(b, ast.Literal):
                return ref.path, b.const
    return None


def _exclusive(mine: dict[str, Any], theirs: dict[str, Any]) -> bool:
    return any(path in theirs and theirs[path] != value for path, value in mine.items())


def _write_key(action: ast.Action, equal: dict[str, Any]) -> tuple:
    """Equal for two writers that write the same value under the same ``==`` tests."""
    if action.kind in ("mark", "strip"):
        what: tuple = (action.kind, action.name, action.text.const if action.text is not None else None)
    elif action.kind == "set" and isinstance(action.value, ast.Literal):
        what = ("set", type(action.value.const), action.value.const)
    else:
        what = (id(action),)
    return what + (frozenset(equal.items()),)


def _same_write(a: ast.Action, b: ast.Action) -> bool:
    """Both actions certainly write the same value (the same constant, or the same mark)."""
    if a.kind == b.kind and a.kind in ("mark", "strip"):
        same_text = a.text is None or b.text is None or a.text.const == b.text.const
        return a.name == b.name and same_text
    if a.kind == "set" and b.kind == "set" and isinstance(a.value, ast.Literal) and isinstance(b.value, ast.Literal):
        return a.value.const == b.value.const and type(a.value.const) is type(b.value.const)
    return False


def _map_cannot_meet(first: ast.Action, then: ast.Action, then_equal: Optional[dict[str, Any]]) -> bool:
    """A map and another write of the field it looks up cannot touch the same value: the later rule
    tests the field for a value the map never writes (``then_equal``), or the earlier rule writes a
    value the map never looks up."""
    if first.kind == "map" and first.table is not None and then_equal is not None:
        key = first.table.key.path
        return key in then_equal and then_equal[key] not in {row[0] for row in first.table.rows.values()}
    if then.kind == "map" and then.table is not None and first.kind == "set" and isinstance(first.value, ast.Literal):
        return first.writes is not None and first.writes.path == then.table.key.path and \
            first.value.const not in then.table.rows
    return False
