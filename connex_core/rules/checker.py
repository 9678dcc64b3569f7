"""The checker: every rule validated against the canonical model before anything runs.

It resolves field names (with "did you mean"), types every expression, checks enum values,
regular expressions, dates, actions and their arguments, mapping tables, and then looks at the
rules together: duplicate names, rules that can never fire, and rules that can write one field to
different values. All problems are collected in one pass; the checked tree is annotated in place
for the compiler and the explaining evaluator (``Expr.ty``, ``Name.ref``, ``Literal.const``...).

The parts: :mod:`.expressions` (fields and types), :mod:`.statements` (actions), :mod:`.maps`
(mapping tables), :mod:`.lint` (the rules together).
"""

from __future__ import annotations

from typing import Any, Optional

from . import ast
from .diagnostics import ERROR, Diagnostic, source_lines
from .values import parse_date_literal
from .lint import RuleSetChecks
from .maps import MapChecks
from .statements import BUILTIN_ACTIONS, ActionChecks

__all__ = ["BUILTIN_ACTIONS", "Checker", "check_rules", "parse_date_literal"]


class Checker(MapChecks, ActionChecks, RuleSetChecks):
    """Checks a list of parsed rules (from one or more files) against the canonical model.

    ``functions`` and ``actions`` are the plugin registries (``PluginManager.rule_functions`` /
    ``.rule_actions``); ``sources`` maps each file name to its text for the caret lines.
    """

    def __init__(self, functions: dict[str, Any], actions: dict[str, Any], sources: dict[str, str]):
        self.functions = functions
        self.actions = actions
        self.lines = {name: source_lines(text) for name, text in sources.items()}
        self.sources = sources
        self.diags: list[Diagnostic] = []
        self.rule: Optional[ast.Rule] = None
        self.tables: dict = {}
        """Mapping tables already loaded, by (file, field): a table used twice is read once."""

    # -- reporting ------------------------------------------------------------------------------
    def report(self, pos: ast.Pos, message: str, code: str, severity: str = ERROR) -> None:
        file = self.rule.file if self.rule else ""
        src_lines = self.lines.get(file, [])
        src = src_lines[pos.line - 1] if 0 < pos.line <= len(src_lines) else ""
        length = pos.end - pos.start if pos.end_line == pos.line else len(src) - pos.col + 1
        self.diags.append(Diagnostic(file, pos.line, pos.col, severity, message, src, max(1, length),
                                     self.rule.name if self.rule else None, code))

    def snippet(self, node: ast.Expr) -> str:
        text = self.sources.get(self.rule.file if self.rule else "", "")
        return " ".join(text[node.pos.start:node.pos.end].split())

    def shown(self, node: ast.Expr) -> str:
        """How a message quotes an operand: a literal as written, anything else in quotes."""
        return self.snippet(node) if isinstance(node, ast.Literal) else f"'{self.snippet(node)}'"

    # -- entry point ----------------------------------------------------------------------------
    def check(self, rules: list[ast.Rule]) -> list[Diagnostic]:
        seen: dict[str, ast.Rule] = {}
        for rule in rules:
            self.rule = rule
            if rule.named and rule.name in seen:
                first = seen[rule.name]
                self.report(rule.pos, f"duplicate rule name {rule.name!r} (first used at {first.file}:{first.line})",
                            "duplicate-rule")
            seen.setdefault(rule.name, rule)
            before = len(self.diags)
            if rule.scope_word is not None and rule.scope_word[0] != "line":
                self.report(rule.scope_word[1], f"write 'for each line', not 'for each {rule.scope_word[0]}'",
                            "unknown-scope")
            ty = self.expr(rule.cond, self.scope())
            if ty is not None and ty.kind not in ("bool", "any"):
                self.report(rule.cond.pos, f"a condition must be true or false, but this is {ty.describe()}",
                            "not-a-condition")
            for action in rule.actions:
                self.action(action, rule)
            rule_ok = len([d for d in self.diags[before:] if d.is_error]) == 0
            if rule_ok:
                self.never_fires(rule)
        self.rule = None
        self.reachability(rules)
        self.conflicts(rules)
        return self.diags

def check_rules(rules: list[ast.Rule], functions: dict[str, Any], actions: dict[str, Any],
                sources: dict[str, str]) -> list[Diagnostic]:
    """Check parsed rules; returns every diagnostic (errors and warnings)."""
    return Checker(functions, actions, sources).check(rules)
