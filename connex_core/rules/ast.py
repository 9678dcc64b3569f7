"""The rule language's syntax tree: what the parser builds and the checker annotates.

Every node has a :class:`Pos` (1-based line and column, 0-based character offsets into the file)
so that each diagnostic, explain trace and run-time error can point at the text the user wrote.
The checker fills in ``ty`` on expressions (their :class:`~connex_core.rules.schema.Type`) and
``ref`` on field references; the compiler and the explaining evaluator only read annotated trees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True, slots=True)
class Pos:
    """Where a node is: ``line``/``col`` (1-based) to ``end_line``/``end_col``, and offsets."""

    line: int
    col: int
    end_line: int
    end_col: int
    start: int
    end: int

    def to(self, other: "Pos") -> "Pos":
        """The span from the start of this node to the end of ``other``."""
        return Pos(self.line, self.col, other.end_line, other.end_col, self.start, other.end)


# -- expressions ---------------------------------------------------------------------------------
@dataclass(eq=False, slots=True)
class Expr:
    pos: Pos
    ty: Any = field(default=None, init=False, repr=False)
    """The expression's type, filled in by the checker."""


@dataclass(eq=False, slots=True)
class Literal(Expr):
    value: Any = None
    kind: str = "text"
    """text, number, bool, null or date (a ``@2026-09-15`` literal, ``value`` is its text)."""
    const: Any = field(default=None, init=False, repr=False)
    """The value the compiled rules use (an enum member, a date...), set by the checker."""


@dataclass(eq=False, slots=True)
class Name(Expr):
    id: str = ""
    ref: Any = field(default=None, init=False, repr=False)


@dataclass(eq=False, slots=True)
class Attr(Expr):
    obj: Expr = None  # type: ignore[assignment]
    name: str = ""
    name_pos: Optional[Pos] = None
    ref: Any = field(default=None, init=False, repr=False)


@dataclass(eq=False, slots=True)
class Index(Expr):
    obj: Expr = None  # type: ignore[assignment]
    key: Expr = None  # type: ignore[assignment]


@dataclass(eq=False, slots=True)
class ListLit(Expr):
    items: list = field(default_factory=list)


@dataclass(eq=False, slots=True)
class Call(Expr):
    name: str = ""
    args: list = field(default_factory=list)
    ext: Any = field(default=None, init=False, repr=False)
    """The plugin function (a RuleExtension), set by the checker."""


@dataclass(eq=False, slots=True)
class BinOp(Expr):
    op: str = "+"
    left: Expr = None  # type: ignore[assignment]
    right: Expr = None  # type: ignore[assignment]
    op_pos: Optional[Pos] = None


@dataclass(eq=False, slots=True)
class Neg(Expr):
    operand: Expr = None  # type: ignore[assignment]


@dataclass(eq=False, slots=True)
class Compare(Expr):
    op: str = "=="
    left: Expr = None  # type: ignore[assignment]
    right: Expr = None  # type: ignore[assignment]
    op_pos: Optional[Pos] = None
    as_day: Optional[str] = field(default=None, init=False, repr=False)
    """'left' or 'right' when the checker found a date-time compared with a date: that side's day is
    compared, counted in the order's time zone (see :func:`.runtime.local_day`)."""


@dataclass(eq=False, slots=True)
class StrOp(Expr):
    op: str = "endswith"
    ci: bool = False
    left: Expr = None  # type: ignore[assignment]
    right: Expr = None  # type: ignore[assignment]
    op_pos: Optional[Pos] = None
    regex: Any = field(default=None, init=False, repr=False)
    """For ``matches`` with a literal pattern: the compiled pattern, set by the checker."""


@dataclass(eq=False, slots=True)
class In(Expr):
    negate: bool = False
    left: Expr = None  # type: ignore[assignment]
    right: Expr = None  # type: ignore[assignment]
    as_day: bool = field(default=False, init=False, repr=False)
    """Set by the checker when a date-time is looked up in a list of days: its day is."""


@dataclass(eq=False, slots=True)
class Is(Expr):
    test: str = "set"
    """set, null, empty or not_empty."""
    operand: Expr = None  # type: ignore[assignment]


@dataclass(eq=False, slots=True)
class BoolOp(Expr):
    op: str = "and"
    items: list = field(default_factory=list)


@dataclass(eq=False, slots=True)
class Not(Expr):
    operand: Expr = None  # type: ignore[assignment]


@dataclass(eq=False, slots=True)
class Quant(Expr):
    kind: str = "any"
    """any, all or none: over the order's lines, each seen as ``line``."""
    body: Expr = None  # type: ignore[assignment]


# -- actions -------------------------------------------------------------------------------------
@dataclass(eq=False, slots=True)
class Action:
    pos: Pos
    kind: str
    """skip, hold, stop, set, strip, mark, tag, drop, map or call (a plugin action)."""
    name: str = ""
    """The word after the keyword (``suffix``, ``paid``) or the plugin action's name."""
    name_pos: Optional[Pos] = None
    text: Optional[Literal] = None
    """skip/hold reason, or strip's explicit text."""
    target: Optional[list] = None
    """set's target (or strip's ``from`` field): the dotted names, with positions."""
    value: Optional[Expr] = None
    args: list = field(default_factory=list)
    path: Optional[Literal] = None
    """map: the mapping table's file, as written (relative to the rule file)."""
    # filled in by the checker
    writes: Optional[Any] = field(default=None, init=False, repr=False)
    """The field the action writes (a FieldRef), if any."""
    ext: Any = field(default=None, init=False, repr=False)
    ci: bool = field(default=False, init=False, repr=False)
    """strip: match the text case-insensitively (from an ``endswith ci`` condition)."""
    table: Any = field(default=None, init=False, repr=False)
    """map: the loaded table (a :class:`~connex_core.rules.maps.MapTable`)."""


@dataclass(eq=False, slots=True)
class Rule:
    pos: Pos
    name: str
    named: bool
    cond: Expr
    actions: list
    file: str = ""
    scope: str = "order"
    """'order' (once per order) or 'line' (``for each line``: once per line, ``line`` is that line)."""
    scope_word: Optional[tuple] = None
    """For a ``for each NAME`` rule: the word written and its position (the checker wants 'line')."""
    statement: bool = False
    """A ``map FIELD using FILE`` statement: its condition is ``true`` and its one action the map;
    it counts as fired on an order when the table has a row for it (or for one of its lines)."""

    @property
    def line(self) -> int:
        return self.pos.line
