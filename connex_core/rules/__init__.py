"""The rule language: what the sync engine calls.

This module's public API is the contract between the rule engine and the sync engine:

* :func:`load_rules(paths, manager=None, strict=False) -> RuleSet` parses, checks and compiles
  rule files; it raises :class:`~connex_core.errors.RuleError` carrying every diagnostic when a
  file has errors (warnings too with ``strict``);
* :meth:`RuleSet.apply(order) -> RuleResult` runs every rule on one order, never raising for a
  rule that fails at run time (the order is held, with the rule's name and line);
* :data:`PASS_THROUGH`, the rule set that changes nothing.

(The parser, checker and compiler behind it live beside this file.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Sequence

from ..models import Order

Outcome = Literal["sync", "skip", "hold"]


@dataclass
class Change:
    """One field a rule changed: shown by dry-run and kept in the transaction log."""

    field: str
    before: Any
    after: Any
    rule: str
    line: int
    file: Optional[str] = None


@dataclass
class RuleResult:
    """What the rules made of one order."""

    order: Order
    """The order after every fired rule's actions (the input order is never mutated)."""
    outcome: Outcome = "sync"
    reason: Optional[str] = None
    """For skip and hold: the reason given in the rule (or the run-time error)."""
    rule: Optional[str] = None
    """For skip and hold: the name of the rule that decided."""
    line: Optional[int] = None
    file: Optional[str] = None
    fired: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


class RuleSet:
    """Compiled rules of one or more files, applied in file order."""

    def __init__(self, rules: Sequence[Any] = (), files: Sequence[str] = ()):
        self.rules = list(rules)
        self.files = list(files)

    def apply(self, order: Order) -> RuleResult:
        return RuleResult(order=order)

    def __len__(self) -> int:
        return len(self.rules)


PASS_THROUGH = RuleSet()


def load_rules(paths: Sequence[str | Path], manager: Any = None, strict: bool = False) -> RuleSet:
    """Parse, check and compile rule files (placeholder: pass-through until the rule engine lands)."""
    if paths:
        raise NotImplementedError("the rule engine is not built yet")
    return PASS_THROUGH
