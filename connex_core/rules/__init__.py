"""The rule language: what the sync engine calls.

This module's public API is the contract between the rule engine and the sync engine:

* :func:`load_rules(paths, env=None, strict=False) -> RuleSet` parses, checks and compiles
  rule files against a :class:`RuleEnvironment` (the functions and actions rules may call; by
  default those the installed plugins register); it raises :class:`RuleCheckError` (a :class:`~connex_core.errors.RuleError`)
  carrying every diagnostic when a file has errors (warnings too with ``strict``);
* :meth:`RuleSet.apply(order) -> RuleResult` runs every rule on one order, never raising for a
  rule that fails at run time (the order is held, with the rule's name and line);
* :data:`PASS_THROUGH`, the rule set that changes nothing.

The parts behind it: :mod:`.parser` (Lark grammar to :mod:`.ast`), :mod:`.checker` (against the
canonical model, :mod:`.schema`), :mod:`.compiler` (generated Python), :mod:`.runtime` (the loop
and the actions), :mod:`.explain` (the tracing evaluator) and :mod:`.diagnostics`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from ..errors import RuleError
from ..models import Order
from .compiler import Compiled, RuleFailed
from .diagnostics import Diagnostic, RuleCheckError, RuleRuntimeError, format_report, sort_key
from .env import RuleEnvironment
from .results import Change, Outcome, RuleResult
from .runtime import fail, run

__all__ = [
    "Change", "Diagnostic", "Outcome", "PASS_THROUGH", "RuleCheckError", "RuleEnvironment", "RuleError", "RuleResult",
    "RuleRuntimeError", "RuleSet", "check_files", "check_text", "load_rules", "format_report",
]


class RuleSet:
    """Compiled rules of one or more files, applied in file order.

    ``rules`` are the checked syntax trees; ``sources`` maps each file to its text (for explain
    traces); ``warnings`` are the checker's warnings (the rules loaded despite them).
    """

    def __init__(self, rules: Sequence[Any] = (), files: Sequence[str] = (), sources: Optional[dict[str, str]] = None,
                 warnings: Sequence[Diagnostic] = ()):
        self.rules = list(rules)
        self.files = list(files)
        self.sources = dict(sources or {})
        self.warnings = list(warnings)
        self._compiled = Compiled(self.rules)
        self._scan = self._compiled.scan
        self._segments = self._compiled.segments

    def apply(self, order: Order) -> RuleResult:
        """Run the rules on one order (never raises for a rule failing at run time: the order is held)."""
        try:
            first = self._scan(order)
        except RuleFailed as failed:
            rule = self.rules[failed.index]
            error = fail(rule, failed.__cause__ or failed)
            return RuleResult(order, "hold", str(error), rule.name, rule.line, rule.file)
        if first < 0:
            return RuleResult(order)
        return run(order, self._segments, first)

    def explain(self, order: Order):
        """Run the rules with the tracing evaluator: ``(RuleResult, [RuleTrace])`` (see :mod:`.explain`)."""
        from .explain import explain

        return explain(self.rules, self.sources, order)

    def __len__(self) -> int:
        return len(self.rules)


PASS_THROUGH = RuleSet()


def _env(env: Any, manager: Any = None) -> RuleEnvironment:
    """``env``; else the installed plugins' environment (built by the plugin manager, outside the rules).

    Transitional: callers written before :class:`RuleEnvironment` pass a plugin manager (as ``env`` or
    ``manager=``); only its ``rule_environment()`` is used."""
    if isinstance(env, RuleEnvironment):
        return env
    if env is not None:
        manager = env
    if manager is None:
        from ..plugins import get_manager

        manager = get_manager()
    return manager.rule_environment()


def check_text(sources: dict[str, str], env: Optional[RuleEnvironment] = None, *,
               manager: Any = None) -> tuple[list[Any], list[Diagnostic]]:
    """Parse and check rule texts (``{file name: text}``, in order): ``(rules, diagnostics)``."""
    from .checker import check_rules
    from .parser import parse_text

    env = _env(env, manager)
    rules: list[Any] = []
    diags: list[Diagnostic] = []
    for name, text in sources.items():
        parsed, syntax = parse_text(text, name)
        rules.extend(parsed)
        diags.extend(syntax)
    diags.extend(check_rules(rules, dict(env.functions), dict(env.actions), sources))
    return rules, sorted(diags, key=sort_key)


def _read(paths: Sequence[str | Path]) -> dict[str, str]:
    """Each path's text, in order; a folder stands for its ``*.rules`` files (sorted, recursively)."""
    sources: dict[str, str] = {}
    for path in map(Path, paths):
        files = sorted(path.rglob("*.rules")) if path.is_dir() else [path]
        for file in files:
            try:
                sources[str(file)] = file.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is dropped
            except (OSError, UnicodeDecodeError) as exc:
                raise RuleCheckError([Diagnostic(str(file), 1, 1, "error", f"cannot read rule file: {exc}",
                                                 code="io")]) from None
    return sources


def check_files(paths: Sequence[str | Path], env: Optional[RuleEnvironment] = None, *,
                manager: Any = None) -> tuple[list[Any], list[Diagnostic], dict[str, str]]:
    """Parse and check rule files: ``(rules, diagnostics, sources)``."""
    sources = _read(paths)
    rules, diags = check_text(sources, _env(env, manager))
    return rules, diags, sources


def load_rules(paths: Sequence[str | Path], env: Optional[RuleEnvironment] = None, strict: bool = False, *,
               manager: Any = None) -> RuleSet:
    """Parse, check and compile rule files (a folder means its ``*.rules`` files, sorted).

    Raises :class:`RuleCheckError` listing every problem when there is an error (or, with
    ``strict``, a warning). No paths: :data:`PASS_THROUGH`.
    """
    if not paths:
        return PASS_THROUGH
    rules, diags, sources = check_files(paths, _env(env, manager))
    if strict:
        diags = [d.as_error() for d in diags]
    if any(d.is_error for d in diags):
        raise RuleCheckError(diags)
    return RuleSet(rules, list(sources), sources, diags)
