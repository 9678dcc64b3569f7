"""The ``where`` filter of Xero's GET endpoints, as far as the simulator needs it.

Xero's ``where`` is a small C#-like expression language. The simulator understands comparisons
(``==  !=  >=  <=  >  <``) of a dotted field with a string, ``guid("...")``, ``true``/``false``,
a number or ``DateTime(y,m,d)``; the methods ``.Contains("x")``, ``.StartsWith("x")`` and
``.EndsWith("x")``; joined by ``AND`` / ``OR`` (``AND`` binds tighter), with parentheses.
Anything else is a :class:`QueryParseError`, which the simulator answers the way Xero does
(400 ``QueryParseException``).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>==|!=|>=|<=|>|<)
      | (?P<lparen>\()
      | (?P<rparen>\))
      | (?P<comma>,)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.X,
)

Predicate = Callable[[Callable[[str], Any]], bool]


class QueryParseError(ValueError):
    """The ``where`` expression is not one the simulator (or Xero) can parse."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise QueryParseError(f"cannot parse the where clause at {text[pos:pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str) and op in ("==", "!="):
        equal = left.lower() == right.lower()  # Xero compares strings case-insensitively
        return equal if op == "==" else not equal
    if isinstance(left, datetime) and isinstance(right, date) and not isinstance(right, datetime):
        right = datetime(right.year, right.month, right.day, tzinfo=timezone.utc)
    if isinstance(left, date) and not isinstance(left, datetime) and isinstance(right, datetime):
        right = right.date()
    if left is None:
        return op == "!=" if right is not None else op == "=="
    try:
        return {"==": left == right, "!=": left != right, ">=": left >= right, "<=": left <= right,
                ">": left > right, "<": left < right}[op]
    except TypeError:
        return False


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("end", "")

    def take(self, kind: str | None = None) -> str:
        k, v = self.peek()
        if kind and k != kind:
            raise QueryParseError(f"expected {kind}, found {v or 'end of expression'!r}")
        self.i += 1
        return v

    def parse(self) -> Predicate:
        pred = self.disjunction()
        if self.peek()[0] != "end":
            raise QueryParseError(f"unexpected {self.peek()[1]!r} in the where clause")
        return pred

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.peek() == ("name", "OR") or self.peek() == ("name", "or"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda get: any(p(get) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.atom()]
        while self.peek() in (("name", "AND"), ("name", "and")):
            self.take()
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else (lambda get: all(p(get) for p in parts))

    def atom(self) -> Predicate:
        if self.peek()[0] == "lparen":
            self.take()
            inner = self.disjunction()
            self.take("rparen")
            return inner
        field = self.take("name")
        for method in ("Contains", "StartsWith", "EndsWith"):
            if field.endswith("." + method):
                path = field[: -len(method) - 1]
                self.take("lparen")
                needle = _unquote(self.take("string")).lower()
                self.take("rparen")
                test = {"Contains": str.__contains__, "StartsWith": str.startswith, "EndsWith": str.endswith}[method]
                return lambda get: isinstance(get(path), str) and test(get(path).lower(), needle)
        op = self.take("op")
        value = self.value()
        return lambda get: _compare(get(field), op, value)

    def value(self) -> Any:
        kind, text = self.peek()
        if kind == "string":
            self.take()
            return _unquote(text)
        if kind == "number":
            self.take()
            return Decimal(text)
        if kind == "name" and text.lower() in ("true", "false"):
            self.take()
            return text.lower() == "true"
        if kind == "name" and text.lower() == "null":
            self.take()
            return None
        if kind == "name" and text.lower() == "guid":
            self.take()
            self.take("lparen")
            guid = _unquote(self.take("string"))
            self.take("rparen")
            return guid
        if kind == "name" and text == "DateTime":
            self.take()
            self.take("lparen")
            parts = [int(self.take("number"))]
            while self.peek()[0] == "comma":
                self.take()
                parts.append(int(self.take("number")))
            self.take("rparen")
            if len(parts) < 3:
                raise QueryParseError("DateTime needs year, month and day")
            return datetime(*parts, tzinfo=timezone.utc) if len(parts) > 3 else date(*parts)
        raise QueryParseError(f"unexpected {text or 'end of expression'!r} where a value was expected")


def compile_where(text: str) -> Predicate:
    """Compile a ``where`` expression to ``predicate(get)``, where ``get(dotted_field)`` reads a record."""
    return _Parser(text).parse()
