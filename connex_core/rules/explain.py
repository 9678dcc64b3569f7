"""The explaining evaluator: walks the checked tree for one order and records the value of every
part of every condition (``connex rules dry-run --explain ORDER``).

It is deliberately separate from the compiler (a tree walk, not generated code) so that a test can
run both on random orders and rules and check they agree. It is slower; it is only used for one
order at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from ..models import Order
from . import ast
from .runtime import Runnable, describe_exception, local_day, make_action, read, run


@dataclass
class Trace:
    """One evaluated part of a condition: its source text, its value, the field values it read."""

    text: str
    value: Any
    reads: list[tuple[str, Any]] = field(default_factory=list)
    children: list["Trace"] = field(default_factory=list)


@dataclass
class RuleTrace:
    rule: ast.Rule
    evaluated: bool = False
    fired: bool = False
    trace: Optional[Trace] = None
    error: Optional[str] = None


NOT_EVALUATED = object()


class Walker:
    """Evaluates checked expressions by walking them; ``sources`` maps file names to their text."""

    def __init__(self, sources: dict[str, str]):
        self.sources = sources
        self.file = ""

    def text(self, node: ast.Expr) -> str:
        return " ".join(self.sources.get(self.file, "")[node.pos.start:node.pos.end].split())

    # -- conditions, with a trace ------------------------------------------------------------------
    def cond(self, node: ast.Expr, o: Order, line: Any, out: Optional[list]) -> Any:
        """The value of a condition; appends its :class:`Trace` to ``out`` when given."""
        if isinstance(node, (ast.BoolOp, ast.Not, ast.Quant)):
            children: Optional[list] = [] if out is not None else None
            value = getattr(self, "c_" + type(node).__name__)(node, o, line, children)
            if out is not None:
                out.append(Trace(self.text(node), value, [], children or []))
            return value
        reads: Optional[list] = [] if out is not None else None
        value = self.value(node, o, line, reads)
        if out is not None:
            out.append(Trace(self.text(node), value, reads or []))
        return value

    def c_BoolOp(self, node: ast.BoolOp, o: Order, line: Any, out: Optional[list]) -> Any:
        value: Any = None
        for n, item in enumerate(node.items):
            value = self.cond(item, o, line, out)
            if (node.op == "and" and not value) or (node.op == "or" and value):
                if out is not None:
                    out.extend(Trace(self.text(rest), NOT_EVALUATED) for rest in node.items[n + 1:])
                break
        return value

    def c_Not(self, node: ast.Not, o: Order, line: Any, out: Optional[list]) -> Any:
        return not self.cond(node.operand, o, line, out)

    def c_Quant(self, node: ast.Quant, o: Order, line: Any, out: Optional[list]) -> Any:
        result = node.kind != "any"
        for n, item in enumerate(o.lines, start=1):
            per_line: Optional[list] = [] if out is not None else None
            value = self.cond(node.body, o, item, per_line)
            if out is not None and per_line:
                per_line[0].text = f"line {n}: {per_line[0].text}"
                out.extend(per_line)
            if node.kind == "all" and not value:
                return False
            if node.kind in ("any", "none") and value:
                return node.kind == "any"
        return result

    # -- values ---------------------------------------------------------------------------------
    def value(self, node: ast.Expr, o: Order, line: Any, reads: Optional[list]) -> Any:
        return getattr(self, "v_" + type(node).__name__)(node, o, line, reads)

    def v_Literal(self, node: ast.Literal, o, line, reads) -> Any:
        return node.const

    def v_Name(self, node: ast.Name, o, line, reads) -> Any:
        ref = node.ref
        value = read(line if ref.scope == "line" else o, ref)
        if reads is not None:
            reads.append((ref.path, value))
        return value

    v_Attr = v_Name

    def v_Index(self, node: ast.Index, o, line, reads) -> Any:
        obj = self.value(node.obj, o, line, None)
        key = self.value(node.key, o, line, reads)
        value = None if obj is None else obj.get(key)
        if reads is not None:
            reads.append((self.text(node), value))
        return value

    def v_ListLit(self, node: ast.ListLit, o, line, reads) -> Any:
        return [item.const for item in node.items]  # a list: equal to a list field, as in the compiled rules

    def v_Call(self, node: ast.Call, o, line, reads) -> Any:
        return node.ext.function(*[self.value(a, o, line, reads) for a in node.args])

    def v_BinOp(self, node: ast.BinOp, o, line, reads) -> Any:
        a, b = self.value(node.left, o, line, reads), self.value(node.right, o, line, reads)
        if a is None or b is None:
            return None
        return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[node.op]()

    def v_Neg(self, node: ast.Neg, o, line, reads) -> Any:
        a = self.value(node.operand, o, line, reads)
        return None if a is None else -a

    def v_Compare(self, node: ast.Compare, o, line, reads) -> Any:
        a, b = self.value(node.left, o, line, reads), self.value(node.right, o, line, reads)
        if node.as_day == "left":
            a = local_day(a, o.timezone)
        elif node.as_day == "right":
            b = local_day(b, o.timezone)
        if node.op == "==":
            return a == b
        if node.op == "!=":
            return a != b
        if a is None or b is None:
            return False
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[node.op]

    def v_StrOp(self, node: ast.StrOp, o, line, reads) -> Any:
        a, b = self.value(node.left, o, line, reads), self.value(node.right, o, line, reads)
        if node.op == "contains" and node.left.ty.kind == "list":
            if node.ci:
                return b is not None and any(isinstance(i, str) and i.lower() == b.lower() for i in a)
            return b in a
        if a is None or b is None:
            return False
        if node.op == "matches":
            return node.regex.search(a) is not None
        if node.ci:
            a, b = a.lower(), b.lower()
        if node.op == "contains":
            return b in a
        return a.endswith(b) if node.op == "endswith" else a.startswith(b)

    def v_In(self, node: ast.In, o, line, reads) -> Any:
        a, b = self.value(node.left, o, line, reads), self.value(node.right, o, line, reads)
        if node.as_day:
            a = local_day(a, o.timezone)
        return (a not in b) if node.negate else (a in b)

    def v_Is(self, node: ast.Is, o, line, reads) -> Any:
        a = self.value(node.operand, o, line, reads)
        return {"set": a is not None, "null": a is None, "empty": not a, "not_empty": bool(a)}[node.test]

    def v_BoolOp(self, node, o, line, reads) -> Any:
        return self.cond(node, o, line, None)

    v_Not = v_Quant = v_BoolOp


def walked_runnables(rules: list[ast.Rule], sources: dict[str, str], traces: list[RuleTrace]) -> list[Runnable]:
    """The rules as runnables evaluated by the :class:`Walker`, recording one trace per rule."""
    walker = Walker(sources)

    def value_of(node: Optional[ast.Expr]) -> Any:
        assert node is not None
        return lambda order, line: walker.value(node, order, line, None)

    out = []
    for rule in rules:
        record = RuleTrace(rule)
        traces.append(record)

        def cond(order: Order, line: Any, rule: ast.Rule = rule, record: RuleTrace = record) -> Any:
            walker.file = rule.file
            record.evaluated = True
            found: list[Trace] = []
            try:
                value = walker.cond(rule.cond, order, line, found)
            except Exception as exc:
                record.error = describe_exception(exc)
                raise
            if rule.scope == "line" and not rule.statement:
                # one child per line evaluated, under a root that is true once any line matched
                number = next((n for n, item in enumerate(order.lines, start=1) if item is line), 0)
                found[0].text = f"line {number}: {found[0].text}"
                if record.trace is None:
                    record.trace = Trace("for each line", False)
                record.trace.children.append(found[0])
                record.trace.value = record.trace.value or bool(value)
            else:
                record.trace = found[0]
            record.fired = record.fired or bool(value)
            return value

        out.append(Runnable(rule, cond, [make_action(a, value_of) for a in rule.actions]))
    return out


def explain(rules: list[ast.Rule], sources: dict[str, str], order: Order):
    """Run the rules on one order with the walker: ``(RuleResult, [RuleTrace per rule])``."""
    traces: list[RuleTrace] = []
    result = run(order, walked_runnables(rules, sources, traces))
    fired = set(result.fired)
    for record in traces:  # a map statement fires only when its table had a row
        record.fired = record.rule.name in fired
    return result, traces


def _show(value: Any) -> str:
    if value is NOT_EVALUATED:
        return "not evaluated"
    if isinstance(value, Enum):
        value = value.value
    return repr(value) if isinstance(value, str) else str(value)


def format_trace(traces: list[RuleTrace]) -> str:
    """The condition tree of each rule with the value of every part."""
    lines: list[str] = []

    def emit(t: Trace, depth: int) -> None:
        reads = ""
        if t.reads and t.value is not NOT_EVALUATED:
            reads = "   [" + ", ".join(f"{path} = {_show(v)}" for path, v in t.reads) + "]"
        lines.append(f"{'  ' * depth}{t.text} -> {_show(t.value)}{reads}")
        for child in t.children:
            emit(child, depth + 1)

    for record in traces:
        rule = record.rule
        status = ("failed: " + record.error if record.error else "fired" if record.fired else
                  "did not fire" if record.evaluated else "not evaluated (an earlier rule ended the rules)")
        lines.append(f"rule {rule.name!r} ({rule.file}:{rule.line}): {status}")
        if record.trace is not None:
            emit(record.trace, 1)
    return "\n".join(lines)
