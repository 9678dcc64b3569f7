"""Checking actions: what each one writes, whether it may, and with what value.

Mixed into :class:`~connex_core.rules.checker.Checker`, which reports through ``self.report``.
"""

from __future__ import annotations

from typing import Any, Optional

from . import ast
from .diagnostics import did_you_mean
from .expressions import ExpressionChecks, _compatible, _Scope
from .schema import TEXT, FieldRef

BUILTIN_ACTIONS = ("skip", "hold", "stop", "set", "strip", "mark", "tag", "drop", "map")
MARK_WORDS = ("paid", "unpaid")
STRIP_WORDS = ("suffix", "prefix")


class ActionChecks(ExpressionChecks):
    """Checks the actions of a rule (see the module docstring)."""

    actions: dict[str, Any]

    rule: Optional[ast.Rule]

    def scope(self) -> _Scope:
        """The scope of the rule being checked: in a ``for each line`` rule, ``line`` is known."""
        return _Scope(line_rule=self.rule is not None and self.rule.scope == "line")

    # -- actions --------------------------------------------------------------------------------
    def action(self, action: ast.Action, rule: ast.Rule) -> None:
        getattr(self, "a_" + action.kind)(action, rule)

    def _text_arg(self, action: ast.Action) -> None:
        if action.text is not None:
            self.expr(action.text, self.scope())

    def a_skip(self, action: ast.Action, rule: ast.Rule) -> None:
        self._text_arg(action)

    a_hold = a_skip

    def a_stop(self, action: ast.Action, rule: ast.Rule) -> None:
        pass

    def _target(self, target: list[tuple[str, ast.Pos]], verb: str) -> Optional[FieldRef]:
        whole = target[0][1].to(target[-1][1])
        if target[0][0] == "line" and not self.scope().line_rule and verb != "map":
            shown = ".".join(name for name, _ in target)
            self.report(whole, f"'{shown}' can be changed only in a 'for each line' rule: for each line when ... then "
                        f"{verb} {shown} ...", "not-writable")
            return None
        scope = self.scope()
        if verb == "map" and target[0][0] == "line":
            scope.line_rule = True  # a line map in an order rule maps every line
        ref = self.resolve(target, scope)
        if ref is None:
            return None
        if not ref.info.writable:
            why = "is computed" if ref.info.computed else "cannot be changed by rules"
            self.report(whole, f"'{ref.path}' {why}", "not-writable")
            return None
        return ref

    def a_set(self, action: ast.Action, rule: ast.Rule) -> None:
        ref = self._target(action.target or [], "set")
        value = self.expr(action.value, self.scope()) if action.value is not None else None
        if ref is None or value is None:
            return
        want = ref.type
        if value.kind == "null":
            if not want.nullable:
                self.report(action.value.pos, f"'{ref.path}' cannot be null", "type")
                return
        elif (want.kind == "enum" or want.temporal) and not self._coerce_literal(action.value, want):
            return
        elif not (want.kind == "enum" and action.value.ty.kind == "text"):
            value = action.value.ty
            if not _compatible(want, value) or (want.temporal and value.temporal and want.kind != value.kind):
                self.report(action.value.pos, f"'{ref.path}' is {want.describe()}, so it cannot be set to "
                            f"{value.describe()}", "type")
                return
        action.writes = ref

    def _matched(self, cond: ast.Expr, op: str) -> list[ast.StrOp]:
        """The ``endswith``/``startswith`` tests with a literal text that the condition requires."""
        found: list[ast.StrOp] = []

        def walk(node: ast.Expr) -> None:
            if isinstance(node, ast.BoolOp):
                for item in node.items:
                    walk(item)
            elif (isinstance(node, ast.StrOp) and node.op == op and isinstance(node.right, ast.Literal)
                  and node.right.kind == "text" and getattr(node.left, "ref", None) is not None):
                found.append(node)

        walk(cond)
        return found

    def a_strip(self, action: ast.Action, rule: ast.Rule) -> None:
        if action.name not in STRIP_WORDS:
            hint = did_you_mean(action.name, STRIP_WORDS) or "; write 'strip suffix' or 'strip prefix'"
            self.report(action.name_pos or action.pos, f"unknown strip '{action.name}'{hint}", "unknown-action")
            return
        test_op = "endswith" if action.name == "suffix" else "startswith"
        matched = self._matched(rule.cond, test_op)
        ref: Optional[FieldRef] = None
        if action.target:
            ref = self._target(action.target, "strip")
            if ref is None:
                return
            matched = [m for m in matched if m.left.ref.path == ref.path]  # type: ignore[attr-defined]
        if action.text is None:
            if rule.cond.ty is None:
                return  # the condition has errors of its own
            texts = {(m.right.value, m.ci, m.left.ref.path) for m in matched}  # type: ignore[attr-defined]
            if len(texts) != 1:
                many = "several" if texts else "no"
                self.report(action.pos, f"'strip {action.name}' does not know what to strip: the condition has {many} "
                            f"'{test_op}' test{'s' if texts else ''}; write the text, e.g. strip {action.name} '-1'",
                            "strip-text")
                return
            m = matched[0]
            action.text = ast.Literal(m.right.pos, m.right.value, "text")
            action.text.const, action.text.ty = m.right.value, TEXT
            action.ci = m.ci
            ref = ref or m.left.ref  # type: ignore[attr-defined]
        else:
            self.expr(action.text, self.scope())
            if ref is None:
                paths = {m.left.ref.path: m.left.ref for m in matched}  # type: ignore[attr-defined]
                ref = next(iter(paths.values())) if len(paths) == 1 else self.resolve([("number", action.pos)], self.scope())
        assert ref is not None
        if not ref.info.writable or ref.type.kind != "text" or (ref.scope == "line" and rule.scope != "line"):
            self.report(action.pos, f"'strip {action.name}' changes text fields that rules can set (line fields in "
                        f"'for each line' rules); '{ref.path}' is not one", "not-writable")
            return
        action.writes = ref

    def a_drop(self, action: ast.Action, rule: ast.Rule) -> None:
        if action.name != "line":
            self.report(action.name_pos or action.pos, f"only lines can be dropped: write 'drop line', not "
                        f"'drop {action.name}'", "unknown-action")
        elif rule.scope != "line":
            self.report(action.pos, "'drop line' needs a 'for each line' rule: for each line when ... then drop line "
                        "'reason'", "drop-outside-line-rule")
        elif action is not rule.actions[-1]:
            self.report(action.pos, "'drop line' must be the rule's last action (the line is gone after it)",
                        "drop-not-last")
        self._text_arg(action)

    def a_mark(self, action: ast.Action, rule: ast.Rule) -> None:
        if action.name not in MARK_WORDS:
            hint = did_you_mean(action.name, MARK_WORDS) or "; write 'mark paid' or 'mark unpaid'"
            self.report(action.name_pos or action.pos, f"unknown mark '{action.name}'{hint}", "unknown-action")
            return
        action.writes = self.resolve([("paid", action.pos)], self.scope())

    def a_tag(self, action: ast.Action, rule: ast.Rule) -> None:
        ty = self.expr(action.value, self.scope()) if action.value is not None else None
        if ty is not None and not ty.textual and ty.kind != "any":
            self.report(action.value.pos, f"a tag is text, not {ty.describe()}", "type")

    def a_call(self, action: ast.Action, rule: ast.Rule) -> None:
        ext = self.actions.get(action.name)
        if ext is None:
            hint = did_you_mean(action.name, list(BUILTIN_ACTIONS) + list(self.actions))
            self.report(action.name_pos or action.pos, f"unknown action '{action.name}'{hint}", "unknown-action")
            for arg in action.args:
                self.expr(arg, self.scope())
            return
        action.ext = ext
        self._check_args(action.name_pos or action.pos, f"action '{action.name}'", ext, action.args, self.scope())

