"""Bounded nesting: a rule nested deeper than :data:`MAX_DEPTH` is a positioned error.

The checker, the compiler and the explaining evaluator walk conditions recursively, and Python
compiles the generated code with a bounded parser stack; a condition such as 400 chained ``not``
or a 500-term ``1 + 1 + ...`` would overflow them. The parser measures every rule's depth without
recursion (an explicit stack) and reports the rules past the limit instead of passing them on.
"""

from __future__ import annotations

from typing import Iterator, Optional

from . import ast

#: How deeply conditions and values may nest (docs/rules.md, "Limits"). Each operator, ``not``,
#: parenthesised group, function call or list counts one level; ``a and b and c`` is one level.
MAX_DEPTH = 50


def children(node: ast.Expr) -> Iterator[ast.Expr]:
    """The sub-expressions of ``node`` (a dotted field name such as ``shipment.cost`` is one level:
    the checker resolves it without recursion)."""
    if isinstance(node, (ast.BinOp, ast.Compare, ast.StrOp, ast.In)):
        yield node.left
        yield node.right
    elif isinstance(node, (ast.Not, ast.Neg, ast.Is)):
        yield node.operand
    elif isinstance(node, ast.Quant):
        yield node.body
    elif isinstance(node, (ast.BoolOp, ast.ListLit)):
        yield from node.items
    elif isinstance(node, ast.Call):
        yield from node.args
    elif isinstance(node, ast.Index):
        yield node.obj
        yield node.key


def deepest(root: ast.Expr) -> tuple[int, Optional[ast.Expr]]:
    """The depth of an expression tree, and its first node past :data:`MAX_DEPTH` (None if none is).

    Iterative (an explicit stack), so any depth is safe to measure."""
    best, past = 1, None
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        best = max(best, depth)
        if depth > MAX_DEPTH and (past is None or node.pos.start < past.pos.start):
            past = node
        stack.extend((child, depth + 1) for child in children(node))
    return best, past


def too_deep(rule: ast.Rule) -> Optional[tuple[int, ast.Expr]]:
    """``(depth, the first node past the limit)`` for a rule nested deeper than :data:`MAX_DEPTH`."""
    roots = [rule.cond] + [v for a in rule.actions for v in ([a.value] if a.value is not None else []) + list(a.args)]
    for root in roots:
        depth, past = deepest(root)
        if past is not None:
            return depth, past
    return None
