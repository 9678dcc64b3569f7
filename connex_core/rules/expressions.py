"""Checking expressions: field names resolved against the canonical model (with "did you mean"),
every expression typed, enum values, dates and regular expressions validated.

Mixed into :class:`~connex_core.rules.checker.Checker`, which reports through ``self.report``.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable, Optional

from .. import models
from . import ast
from .diagnostics import WARNING, did_you_mean
from .schema import ANY, BOOL, DATE, DATETIME, NULL, NUMBER, TEXT, FieldInfo, FieldRef, Type, fields_of, type_of_annotation
from .values import _compatible, _quoted_date, _regex_problem, _required, parse_date_literal


@dataclass
class _Scope:
    in_quant: bool = False
    line_rule: bool = False
    """In a ``for each line`` rule: ``line`` is the current line."""

    @property
    def has_line(self) -> bool:
        return self.in_quant or self.line_rule



class ExpressionChecks:
    """Types expressions and resolves field names (see the module docstring)."""

    functions: dict[str, Any]
    report: Callable[..., None]
    snippet: Callable[[ast.Expr], str]
    shown: Callable[[ast.Expr], str]

    # -- expressions ----------------------------------------------------------------------------
    def expr(self, node: ast.Expr, scope: _Scope) -> Optional[Type]:
        """Type ``node`` (annotating it); None when an error was reported inside it."""
        method = getattr(self, "e_" + type(node).__name__)
        ty = method(node, scope)
        node.ty = ty
        return ty

    def e_Literal(self, node: ast.Literal, scope: _Scope) -> Optional[Type]:
        node.const = node.value
        if node.kind == "date":
            try:
                node.const = parse_date_literal(node.value)
            except ValueError as exc:
                self.report(node.pos, f"invalid date '@{node.value}': {exc}", "invalid-date")
                return None
            return DATETIME if isinstance(node.const, datetime) else DATE
        return {"text": TEXT, "number": NUMBER, "bool": BOOL, "null": NULL}[node.kind]

    def _chain(self, node: ast.Expr) -> Optional[list[tuple[str, ast.Pos]]]:
        parts: list[tuple[str, ast.Pos]] = []
        while isinstance(node, ast.Attr):
            parts.append((node.name, node.name_pos or node.pos))
            node = node.obj
        if not isinstance(node, ast.Name):
            return None
        parts.append((node.id, node.pos))
        return parts[::-1]

    def resolve(self, parts: list[tuple[str, ast.Pos]], scope: _Scope) -> Optional[FieldRef]:
        """Resolve ``order.customer.email`` / ``shipped`` / ``line.sku`` to a field reference."""
        typed = parts
        root, root_pos = parts[0]
        model: type = models.Order
        where = "order"
        if root == "order":
            parts = parts[1:]
            if not parts:
                self.report(root_pos, "'order' needs a field name: order.number, order.total...", "unknown-field")
                return None
        elif root == "line":
            if not scope.has_line:
                self.report(root_pos, "'line' is only known inside any/all/none (any line.sku startswith 'GIFT-') "
                            "and in 'for each line' rules", "line-outside-quantifier")
                return None
            parts, model, where = parts[1:], models.LineItem, "line"
            if not parts:
                self.report(root_pos, "'line' needs a field name: line.sku, line.quantity...", "unknown-field")
                return None
        steps: list[str] = []
        may_be_none: list[bool] = []
        nullable_so_far = False
        info: Optional[FieldInfo] = None
        for n, (name, pos) in enumerate(parts):
            name = models.FIELD_ALIASES.get(name, name) if model in (models.Order, models.LineItem) else name
            table = fields_of(model)
            if name not in table:
                shown = ".".join(p for p, _ in typed[: len(typed) - len(parts) + n + 1])
                candidates = list(table)
                if model in (models.Order, models.LineItem):
                    candidates += list(models.FIELD_ALIASES)
                    if n == 0 and where == "order":
                        candidates += ["order"] + (["line"] if scope.has_line else [])
                hint = did_you_mean(name, candidates)
                if where == "order" and n == 0 and not hint and name in fields_of(models.LineItem):
                    hint = (f"; '{name}' is a field of each line: use line.{name}" if scope.has_line else
                            f"; '{name}' is a field of each line: use any line.{name} ..., or a 'for each line' rule")
                self.report(pos, f"unknown field '{shown}'{hint}", "unknown-field")
                return None
            info = table[name]
            steps.append(name)
            if n < len(parts) - 1:
                if info.type.kind != "model":
                    self.report(parts[n + 1][1], f"'{'.'.join(steps)}' is {info.type.describe()} and has no field "
                                f"'{parts[n + 1][0]}'", "unknown-field")
                    return None
                nullable_so_far = nullable_so_far or info.type.nullable
                may_be_none.append(info.type.nullable)
                model = info.type.model  # type: ignore[assignment]
        assert info is not None
        ty = info.type.with_null(info.type.nullable or nullable_so_far)
        return FieldRef(where, tuple(steps), ty, info, tuple(may_be_none))

    def _ref(self, node: ast.Expr, scope: _Scope) -> Optional[Type]:
        parts = self._chain(node)
        if parts is None:
            self.report(node.pos, "only fields have fields (write customer.email, ship_to.state...)", "unknown-field")
            return None
        ref = self.resolve(parts, scope)
        if ref is None:
            return None
        node.ref = ref  # type: ignore[attr-defined]
        return ref.type

    def e_Name(self, node: ast.Name, scope: _Scope) -> Optional[Type]:
        if node.id == "line" and scope.has_line:
            self.report(node.pos, "'line' needs a field name: line.sku, line.quantity...", "unknown-field")
            return None
        return self._ref(node, scope)

    def e_Attr(self, node: ast.Attr, scope: _Scope) -> Optional[Type]:
        return self._ref(node, scope)

    def e_Index(self, node: ast.Index, scope: _Scope) -> Optional[Type]:
        obj = self.expr(node.obj, scope)
        key = self.expr(node.key, scope)
        if obj is None or key is None:
            return None
        if obj.kind != "map":
            self.report(node.pos, f"only maps (line.tracking, custom_fields...) can be indexed, not {obj.describe()}",
                        "type")
            return None
        if not key.textual and key.kind != "null":
            self.report(node.key.pos, f"a map key is text, not {key.describe()}", "type")
            return None
        return (obj.item or TEXT).with_null()

    def e_ListLit(self, node: ast.ListLit, scope: _Scope) -> Optional[Type]:
        item: Optional[Type] = None
        ok = True
        for element in node.items:
            if not isinstance(element, ast.Literal):
                self.report(element.pos, "list items must be plain values (text, numbers, dates)", "type")
                ok = False
                continue
            ty = self.expr(element, scope)
            if ty is None:
                ok = False
            elif ty.kind != "null":
                if item is not None and not _compatible(item, ty) and not _quoted_date(item, ty):
                    self.report(element.pos, f"a list mixes {item.describe()} and {ty.describe()}", "type")
                    ok = False
                item = item or ty
        return Type("list", item=item or ANY) if ok else None

    def _check_args(self, where: ast.Pos, label: str, ext: Any, args: list[ast.Expr], scope: _Scope) -> bool:
        params = list(ext.params or [])
        required = _required(ext)
        ok = True
        types_ = [self.expr(a, scope) for a in args]
        if not required <= len(args) <= len(params):
            want = f"{required}" if required == len(params) else f"{required} to {len(params)}"
            self.report(where, f"{label} takes {want} argument(s), got {len(args)}", "arguments")
            return False
        for arg, ty, (pname, ptype) in zip(args, types_, params):
            if ty is None:
                ok = False
                continue
            want = type_of_annotation(ptype)
            if want.kind == "any" or ty.kind in ("null", "any"):
                continue
            if want.kind == "number" and ty.numeric or _compatible(want, ty):
                continue
            self.report(arg.pos, f"{label}: argument '{pname}' must be {want.describe()}, not {ty.describe()}",
                        "arguments")
            ok = False
        return ok

    def e_Call(self, node: ast.Call, scope: _Scope) -> Optional[Type]:
        ext = self.functions.get(node.name)
        if ext is None:
            hint = did_you_mean(node.name, self.functions)
            self.report(node.pos, f"unknown function '{node.name}'{hint}", "unknown-function")
            for arg in node.args:
                self.expr(arg, scope)
            return None
        node.ext = ext
        if not self._check_args(node.pos, f"function '{node.name}'", ext, node.args, scope):
            return None
        returns = type_of_annotation(ext.returns) if ext.returns is not None else ANY
        return returns.with_null()

    def e_BinOp(self, node: ast.BinOp, scope: _Scope) -> Optional[Type]:
        left, right = self.expr(node.left, scope), self.expr(node.right, scope)
        if left is None or right is None:
            return None
        nullable = left.nullable or right.nullable
        if left.numeric and right.numeric:
            kind = "money" if "money" in (left.kind, right.kind) else "number"
            return Type(kind, nullable)
        if node.op == "+" and left.textual and right.textual:
            return TEXT.with_null(nullable)
        self.report(node.op_pos or node.pos, f"'{node.op}' needs numbers{' (or two texts)' if node.op == '+' else ''}, "
                    f"not {left.describe()} and {right.describe()}", "type")
        return None

    def e_Neg(self, node: ast.Neg, scope: _Scope) -> Optional[Type]:
        ty = self.expr(node.operand, scope)
        if ty is None:
            return None
        if not ty.numeric:
            self.report(node.pos, f"'-' needs a number, not {ty.describe()}", "type")
            return None
        return ty

    def _coerce_literal(self, lit: ast.Expr, want: Type) -> bool:
        """Give a text literal compared with an enum or a date its typed value; False if it cannot be."""
        if not isinstance(lit, ast.Literal) or lit.kind != "text":
            return True
        if want.kind == "enum" and want.enum is not None:
            try:
                lit.const = want.enum(lit.value)
            except ValueError:
                values = [m.value for m in want.enum]
                hint = did_you_mean(lit.value, values) or "; it is one of " + ", ".join(repr(v) for v in values)
                self.report(lit.pos, f"'{lit.value}' is not a possible value{hint}", "enum-value")
                return False
        elif want.temporal:
            try:
                lit.const = parse_date_literal(lit.value)
            except ValueError as exc:
                self.report(lit.pos, f"invalid date '{lit.value}': {exc}", "invalid-date")
                return False
            lit.ty = DATETIME if isinstance(lit.const, datetime) else DATE
        return True

    def e_Compare(self, node: ast.Compare, scope: _Scope) -> Optional[Type]:
        left, right = self.expr(node.left, scope), self.expr(node.right, scope)
        if left is None or right is None:
            return None
        for b, lt in ((node.right, left), (node.left, right)):
            if lt.kind == "enum" or lt.temporal:
                if not self._coerce_literal(b, lt):
                    return None
        left, right = node.left.ty, node.right.ty
        if "null" in (left.kind, right.kind):
            if node.op not in ("==", "!="):
                self.report(node.op_pos or node.pos, f"'{node.op}' cannot compare with null (use 'is null')", "type")
                return None
            return BOOL
        if not _compatible(left, right):
            self.report(node.op_pos or node.pos, f"cannot compare {left.describe()} {self.shown(node.left)} with "
                        f"{right.describe()} {self.shown(node.right)}", "type")
            return None
        if node.op not in ("==", "!=") and not (left.numeric or left.kind == "text" or left.temporal):
            what = f"the values of '{self.snippet(node.left)}'" if left.kind == "enum" else left.describe()
            self.report(node.op_pos or node.pos, f"'{node.op}' cannot order {what}", "type")
            return None
        if left.kind == "datetime" and right.kind == "date":
            node.as_day = "left"
        elif left.kind == "date" and right.kind == "datetime":
            node.as_day = "right"
        return BOOL

    def e_StrOp(self, node: ast.StrOp, scope: _Scope) -> Optional[Type]:
        left, right = self.expr(node.left, scope), self.expr(node.right, scope)
        if left is None or right is None:
            return None
        list_contains = node.op == "contains" and left.kind == "list"
        if not (left.textual or list_contains or left.kind == "null"):
            self.report(node.op_pos or node.pos, f"'{node.op}' needs text but '{self.snippet(node.left)}' is "
                        f"{left.describe()}", "type")
            return None
        if list_contains and left.item is not None and not _compatible(left.item, right) and right.kind != "null":
            self.report(node.right.pos, f"'{self.snippet(node.left)}' holds {left.item.describe()}, not "
                        f"{right.describe()}", "type")
            return None
        if not list_contains and not right.textual:
            self.report(node.right.pos, f"'{node.op}' needs text on its right, not {right.describe()}", "type")
            return None
        if node.op == "matches":
            if not (isinstance(node.right, ast.Literal) and node.right.kind == "text"):
                self.report(node.right.pos, "'matches' needs a pattern in quotes", "regex")
                return None
            problem = _regex_problem(node.right.value)
            if problem:
                self.report(node.right.pos, f"invalid regular expression {node.right.value!r}: {problem}", "regex")
                return None
            node.regex = re.compile(node.right.value, re.IGNORECASE if node.ci else 0)
        return BOOL

    def e_In(self, node: ast.In, scope: _Scope) -> Optional[Type]:
        left, right = self.expr(node.left, scope), self.expr(node.right, scope)
        if left is None or right is None:
            return None
        if right.kind != "list":
            self.report(node.right.pos, f"'in' needs a list ([...] or a list field), not {right.describe()}", "type")
            return None
        if isinstance(node.right, ast.ListLit):
            ok = True
            for item in node.right.items:
                if item.ty is not None and item.ty.kind != "null":
                    if left.kind == "enum" or left.temporal:
                        ok = self._coerce_literal(item, left) and ok
                    if not _compatible(left, item.ty):
                        self.report(item.pos, f"cannot compare {left.describe()} {self.shown(node.left)} with "
                                    f"{item.ty.describe()} {self.shown(item)}", "type")
                        ok = False
            if not ok:
                return None
            kinds = {item.ty.kind for item in node.right.items if item.ty is not None and item.ty.kind != "null"}
            if left.kind == "datetime" and "date" in kinds:
                if kinds != {"date"}:
                    self.report(node.right.pos, "a list to look a date and time up in holds days or date-times, "
                                "not both", "type")
                    return None
                node.as_day = True
        elif right.item is not None and not _compatible(left, right.item):
            self.report(node.pos, f"'{self.snippet(node.left)}' is {left.describe()} but the list holds "
                        f"{right.item.describe()}", "type")
            return None
        return BOOL

    def e_Is(self, node: ast.Is, scope: _Scope) -> Optional[Type]:
        ty = self.expr(node.operand, scope)
        if ty is None:
            return None
        if node.test in ("empty", "not_empty"):
            if ty.kind not in ("text", "list", "map", "null", "any"):
                self.report(node.pos, f"'is empty' applies to text and lists, not {ty.describe()}", "type")
                return None
        elif not ty.nullable:
            verdict = "always true" if node.test == "set" else "always false"
            self.report(node.pos, f"'{self.snippet(node.operand)}' is never null, so this test is {verdict}",
                        "constant-test", WARNING)
        return BOOL

    def _boolean(self, node: ast.Expr, scope: _Scope) -> Optional[Type]:
        ty = self.expr(node, scope)
        if ty is not None and ty.kind not in ("bool", "any"):
            self.report(node.pos, f"expected a condition (true or false), but '{self.snippet(node)}' is "
                        f"{ty.describe()}", "not-a-condition")
            return None
        return ty

    def e_BoolOp(self, node: ast.BoolOp, scope: _Scope) -> Optional[Type]:
        results = [self._boolean(item, scope) for item in node.items]
        return BOOL if all(r is not None for r in results) else None

    def e_Not(self, node: ast.Not, scope: _Scope) -> Optional[Type]:
        return BOOL if self._boolean(node.operand, scope) is not None else None

    def e_Quant(self, node: ast.Quant, scope: _Scope) -> Optional[Type]:
        if scope.in_quant:
            self.report(node.pos, f"'{node.kind}' cannot be used inside another any/all/none", "nested-quantifier")
            return None
        if scope.line_rule:
            self.report(node.pos, f"'{node.kind}' cannot be used in a 'for each line' rule: there 'line' is already "
                        "the current line", "nested-quantifier")
            return None
        return BOOL if self._boolean(node.body, _Scope(in_quant=True)) is not None else None
