"""The compiler: checked rules turned into Python source, compiled once.

Each condition and value becomes one Python expression with field access written out
(``o.customer.email``), literals bound as constants of the generated module's namespace (never
spliced into the source: user text only ever reaches the code as ``_k12``), and null checks only
where the checker says a value can be missing. Besides one function per rule, the compiler
generates a *scan* function that runs every condition in a row on the unchanged order and
returns the first rule that fires: an order no rule touches costs one call and no copy.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Callable, Optional

from . import ast
from .dispatch import Dispatch, build_table, dispatch_key, plan
from .runtime import OrderFn, Runnable, local_day, make_action
from .schema import FieldRef


class RuleFailed(Exception):
    """Raised by the scan function: the condition of rule ``index`` raised ``__cause__``."""

    def __init__(self, index: int):
        super().__init__(index)
        self.index = index


def _ci_contains(needle: Any, items: Any) -> bool:
    """Case-insensitive membership of a text in a list of texts."""
    if needle is None:
        return False
    low = needle.lower()
    return any(isinstance(i, str) and i.lower() == low for i in items)


class CodeGen:
    """Builds Python expressions for checked AST nodes, collecting their constants in ``ns``."""

    def __init__(self) -> None:
        self.ns: dict[str, Any] = {"_day": local_day, "_ci_contains": _ci_contains, "RuleFailed": RuleFailed}
        self._consts: dict[tuple, str] = {}
        self._temps = 0

    def const(self, value: Any) -> str:
        """The name the generated code uses for a constant (equal constants share one name;
        ``1.0`` and ``1`` stay apart, so a value set by a rule keeps the digits the user wrote)."""
        if value is None or value is True or value is False:
            return repr(value)
        key = (type(value), repr(value))
        name = self._consts.get(key)
        if name is None:
            name = f"_k{len(self.ns)}"
            self.ns[name] = value
            self._consts[key] = name
        return name

    def temp(self) -> str:
        self._temps += 1
        return f"_t{self._temps}"

    # -- values -----------------------------------------------------------------------------------
    def ref(self, ref: FieldRef) -> str:
        code = "l" if ref.scope == "line" else "o"
        for n, step in enumerate(ref.steps):
            if n > 0 and ref.may_be_none[n - 1]:
                t = self.temp()
                code = f"(None if ({t} := {code}) is None else {t}.{step})"
            else:
                code = f"{code}.{step}"
        return code

    def value(self, node: ast.Expr) -> str:
        return getattr(self, "v_" + type(node).__name__)(node)

    def v_Literal(self, node: ast.Literal) -> str:
        return self.const(node.const)

    def v_Name(self, node: ast.Name) -> str:
        return self.ref(node.ref)

    v_Attr = v_Name

    def v_Index(self, node: ast.Index) -> str:
        obj, key = self.value(node.obj), self.value(node.key)
        if node.obj.ty.nullable:
            t = self.temp()
            return f"(None if ({t} := {obj}) is None else {t}.get({key}))"
        return f"{obj}.get({key})"

    def v_ListLit(self, node: ast.ListLit) -> str:
        # A new list each time: equal to a list field (a tuple never is), and no rule can change the constant.
        return f"list({self.const(tuple(item.const for item in node.items))})"

    def v_Call(self, node: ast.Call) -> str:
        fn = self.const(node.ext.function)
        return f"{fn}({', '.join(self.value(a) for a in node.args)})"

    def _guarded(self, parts: list[ast.Expr], build: Callable[[list[str]], str], null_result: str = "None") -> str:
        """``build(values)``, or ``null_result`` when one of the nullable operands is None."""
        codes = [self.value(p) for p in parts]
        checks = []
        for n, part in enumerate(parts):
            if part.ty is not None and part.ty.nullable:
                t = self.temp()
                checks.append(f"({t} := {codes[n]}) is None")
                codes[n] = t
        if not checks:
            return f"({build(codes)})"
        if null_result == "False":
            return "(not (" + " or ".join(checks) + f") and {build(codes)})"
        return f"({null_result} if " + " or ".join(checks) + f" else {build(codes)})"

    def v_BinOp(self, node: ast.BinOp) -> str:
        return self._guarded([node.left, node.right], lambda c: f"{c[0]} {node.op} {c[1]}")

    def v_Neg(self, node: ast.Neg) -> str:
        return self._guarded([node.operand], lambda c: f"-{c[0]}")

    # -- conditions -----------------------------------------------------------------------------
    def v_Compare(self, node: ast.Compare) -> str:
        left, right = self.value(node.left), self.value(node.right)
        if node.as_day == "left":
            left = f"_day({left}, o.timezone)"
        elif node.as_day == "right":
            right = f"_day({right}, o.timezone)"
        if node.op in ("==", "!="):
            return f"({left} {node.op} {right})"
        checks = []
        if node.left.ty.nullable or node.as_day == "left":
            t = self.temp()
            checks.append(f"({t} := {left}) is not None")
            left = t
        if node.right.ty.nullable or node.as_day == "right":
            t = self.temp()
            checks.append(f"({t} := {right}) is not None")
            right = t
        return "(" + " and ".join(checks + [f"{left} {node.op} {right}"]) + ")"

    def v_StrOp(self, node: ast.StrOp) -> str:
        op, ci = node.op, node.ci
        lt = node.left.ty
        if op == "contains" and lt.kind == "list":
            needle = self.value(node.right)
            hay = self.value(node.left)
            return f"_ci_contains({needle}, {hay})" if ci else f"({needle} in {hay})"
        if op == "matches":
            pattern = self.const(node.regex)
            return self._guarded([node.left], lambda c: f"{pattern}.search({c[0]}) is not None", "False")
        right_lit = isinstance(node.right, ast.Literal)
        if right_lit:
            text = node.right.const.lower() if ci else node.right.const
            parts = [node.left]
        else:
            parts = [node.left, node.right]

        def build(c: list[str]) -> str:
            hay = f"{c[0]}.lower()" if ci else c[0]
            needle = self.const(text) if right_lit else (f"{c[1]}.lower()" if ci else c[1])
            if op == "contains":
                return f"{needle} in {hay}"
            return f"{hay}.{op}({needle})"

        return self._guarded(parts, build, "False")

    def v_In(self, node: ast.In) -> str:
        left = self.value(node.left)
        if node.as_day:
            left = f"_day({left}, o.timezone)"
        if isinstance(node.right, ast.ListLit):
            right = self.const(frozenset(item.const for item in node.right.items))
        else:
            right = self.value(node.right)
        return f"({left} {'not in' if node.negate else 'in'} {right})"

    def v_Is(self, node: ast.Is) -> str:
        value = self.value(node.operand)
        return {"set": f"({value} is not None)", "null": f"({value} is None)", "empty": f"(not {value})",
                "not_empty": f"(not not {value})"}[node.test]

    def v_BoolOp(self, node: ast.BoolOp) -> str:
        return "(" + f" {node.op} ".join(self.value(i) for i in node.items) + ")"

    def v_Not(self, node: ast.Not) -> str:
        return f"(not {self.value(node.operand)})"

    def v_Quant(self, node: ast.Quant) -> str:
        body = self.value(node.body)
        if node.kind == "all":
            return f"all({body} for l in o.lines)"
        inner = f"any({body} for l in o.lines)"
        return f"(not {inner})" if node.kind == "none" else inner


def _value_nodes(rule: ast.Rule) -> list[ast.Expr]:
    """The expressions an action evaluates (set values, tags, plugin arguments)."""
    nodes: list[ast.Expr] = []
    for action in rule.actions:
        if action.kind in ("set", "tag") and action.value is not None:
            nodes.append(action.value)
        nodes.extend(action.args)
    return nodes


class Compiled:
    """A rule set compiled to Python in one module: ``scan(order)``, and ``segments`` (see
    :mod:`.runtime`: one :class:`Runnable` per rule, or a :class:`~.dispatch.Dispatch` for a run of
    rules keyed on one field), whose conditions and values are functions ``(order, line)`` of the
    same module. ``scan`` tests the unchanged order against every segment and returns the first one
    that may fire (-1: none), so an order no rule touches costs one call and no copy."""

    def __init__(self, rules: list[ast.Rule]):
        gen = CodeGen()
        segments = plan(rules)
        # A dispatched rule whose whole condition is its key test needs no code: its condition is the key
        # compared with the constant (see _equal_to below), which keeps 5,000 SKU rules quick to compile.
        keyed = {i: si for si, (kind, indices, _ref) in enumerate(segments) if kind == "dispatch" for i in indices
                 if isinstance(rules[i].cond, ast.Compare)}
        conds = [None if n in keyed else gen.value(rule.cond) for n, rule in enumerate(rules)]
        tables: dict[int, dict] = {}
        source = [f"def _c{n}(o, l): return {code}" for n, code in enumerate(conds) if code is not None]
        scan = ["def _scan(o):", "    _i = 0", "    try:", "        pass"]
        keys: dict[int, str] = {}
        for si, (kind, indices, ref) in enumerate(segments):
            rule = rules[indices[0]]
            scan.append(f"        _i = {indices[0]}")
            if kind == "dispatch" or rule.statement:
                if rule.statement:
                    table = rule.actions[0].table
                    ref, lookup = table.key, gen.const(table.rows)
                else:
                    tables[si] = table = build_table(rules, indices)
                    lookup = gen.const(table)
                keys[si] = name = f"_key{si}"
                code = gen.ref(ref)
                if ref.type.kind == "enum":
                    code = f"_ev({code})"
                source.append(f"def {name}(o, l): return {code}")
                test = f"{name}(o, l) in {lookup}" if ref.scope == "line" else f"{name}(o, None) in {lookup}"
            else:
                test = conds[indices[0]]
            if rule.scope == "line":
                scan += ["        for l in o.lines:", f"            if {test}: return {si}"]
            else:
                scan.append(f"        if {test}: return {si}")
        scan += ["    except Exception as _e:", "        raise RuleFailed(_i) from _e", "    return -1"]
        values: dict[int, str] = {}
        for rule in rules:
            for node in _value_nodes(rule):
                if not isinstance(node, ast.Literal):  # a constant needs no code (see value_of)
                    values[id(node)] = name = f"_v{len(values)}"
                    source.append(f"def {name}(o, l): return {gen.value(node)}")
        self.source = "\n".join(scan + source) + "\n"
        gen.ns["_ev"] = _enum_value
        exec(compile(self.source, "<connex rules>", "exec"), gen.ns)
        self.scan: Callable[[Any], int] = gen.ns["_scan"]

        def value_of(node: Optional[ast.Expr]) -> OrderFn:
            assert node is not None
            return _constant(node.const) if isinstance(node, ast.Literal) else gen.ns[values[id(node)]]

        def cond_of(n: int) -> OrderFn:
            if n not in keyed:
                return gen.ns[f"_c{n}"]
            found = dispatch_key(rules[n])
            assert found is not None
            return _equal_to(gen.ns[keys[keyed[n]]], _enum_value(found[1]))

        runnables = [Runnable(rule, cond_of(n), [make_action(a, value_of) for a in rule.actions])
                     for n, rule in enumerate(rules)]
        self.runnables = runnables
        self.segments: list[Any] = []
        for si, (kind, indices, ref) in enumerate(segments):
            if kind == "dispatch":
                assert ref is not None
                self.segments.append(Dispatch([runnables[i] for i in indices], tables[si], gen.ns[keys[si]],
                                              rules[indices[0]].scope))
            else:
                self.segments.append(runnables[indices[0]])
        self.first_rule = [indices[0] for _kind, indices, _ref in segments]
        """The index (in ``rules``) of each segment's first rule."""


def _constant(value: Any) -> OrderFn:
    return lambda o, l: value


def _equal_to(key: Callable[[Any, Any], Any], value: Any) -> OrderFn:
    """The condition ``FIELD == value``, given the function that reads the field."""
    return lambda o, l: key(o, l) == value


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value
