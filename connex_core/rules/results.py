"""What running the rules on one order produces (the sync engine records these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Optional

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
    reason: Optional[str] = None
    """For a dropped line (``lines[N]``, after None): the reason the rule gave."""


@dataclass
class RuleResult:
    """What the rules made of one order."""

    order: Order
    """The order after every fired rule's actions (the input order is never mutated; when no rule
    changed anything this is the very same object)."""
    outcome: Outcome = "sync"
    reason: Optional[str] = None
    """For skip and hold: the reason given in the rule (or the run-time error)."""
    rule: Optional[str] = None
    """For skip and hold (and stop): the name of the rule that decided."""
    line: Optional[int] = None
    file: Optional[str] = None
    fired: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
