"""The subset of the QuickBooks Online query language the simulator understands.

Grammar (what Intuit documents, minus projections of nested fields)::

    SELECT * | COUNT(*) | col[, col...] FROM Entity
        [WHERE cond [AND cond ...]] [ORDERBY col [ASC|DESC][, ...]]
        [STARTPOSITION n] [MAXRESULTS m]
    cond := path ( = | < | > | <= | >= ) literal | path IN ( literal, ... ) | path LIKE 'text%'

``OR`` is not part of the language: a query using it is refused, as the real API refuses it.
Keywords are case-insensitive; string literals use single quotes with ``\\'`` for a quote.
Used by the simulator only; the connector builds its queries with :func:`quote`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100


class QueryError(ValueError):
    """The query text is not valid (the simulator answers QueryParserError 4000)."""


@dataclass(frozen=True)
class Condition:
    path: str
    op: str
    value: Any
    """A literal, or a tuple of literals for IN."""


@dataclass
class Query:
    entity: str
    count: bool = False
    conditions: list[Condition] = field(default_factory=list)
    order_by: list[tuple[str, bool]] = field(default_factory=list)
    """(path, descending) pairs."""
    start: int = 1
    max_results: int = DEFAULT_RESULTS


_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^'\\]|\\.)*')
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op><=|>=|!=|=|<|>)
  | (?P<punct>[(),*])
  | (?P<word>[A-Za-z_][\w.]*)
)""", re.X)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos, text = [], 0, text.strip().rstrip(";")
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise QueryError(f"unexpected text at {pos}: {text[pos:pos + 20]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _literal(kind: str, value: str) -> Any:
    if kind == "str":
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    if kind == "num":
        return Decimal(value)
    if kind == "word" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise QueryError(f"expected a value, found {value!r}")


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("end", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok[0] == "end":
            raise QueryError("unexpected end of query")
        self.i += 1
        return tok

    def keyword(self, *words: str) -> Optional[str]:
        kind, value = self.peek()
        if kind == "word" and value.upper() in words:
            self.i += 1
            return value.upper()
        return None

    def expect(self, word: str) -> None:
        if not self.keyword(word):
            raise QueryError(f"expected {word}, found {self.peek()[1]!r}")

    def parse(self) -> Query:
        self.expect("SELECT")
        count = False
        if self.keyword("COUNT"):
            for want in ("(", "*", ")"):
                if self.take()[1] != want:
                    raise QueryError("expected COUNT(*)")
            count = True
        else:
            while True:  # '*' or a column list: the simulator always answers whole entities
                kind, value = self.take()
                if kind not in ("punct", "word") or value in ("(", ")"):
                    raise QueryError(f"bad select list near {value!r}")
                if self.peek()[1] != ",":
                    break
                self.take()
        self.expect("FROM")
        kind, entity = self.take()
        if kind != "word":
            raise QueryError("expected an entity name after FROM")
        query = Query(entity=entity, count=count)
        if self.keyword("WHERE"):
            query.conditions.append(self.condition())
            while True:
                if self.keyword("OR"):
                    raise QueryError("OR is not supported")
                if not self.keyword("AND"):
                    break
                query.conditions.append(self.condition())
        if self.keyword("ORDERBY", "ORDER"):
            self.keyword("BY")
            while True:
                kind, path = self.take()
                desc = self.keyword("DESC", "ASC") == "DESC"
                query.order_by.append((path, desc))
                if self.peek()[1] != ",":
                    break
                self.take()
        if self.keyword("STARTPOSITION"):
            query.start = int(self.number())
        if self.keyword("MAXRESULTS"):
            query.max_results = int(self.number())
        if self.peek()[0] != "end":
            raise QueryError(f"unexpected {self.peek()[1]!r}")
        if query.max_results > MAX_RESULTS or query.max_results < 1 or query.start < 1:
            raise QueryError(f"MAXRESULTS must be 1..{MAX_RESULTS} and STARTPOSITION at least 1")
        return query

    def number(self) -> Decimal:
        kind, value = self.take()
        if kind != "num":
            raise QueryError(f"expected a number, found {value!r}")
        return Decimal(value)

    def condition(self) -> Condition:
        kind, path = self.take()
        if kind != "word":
            raise QueryError(f"expected a field name, found {path!r}")
        if self.keyword("IN"):
            if self.take()[1] != "(":
                raise QueryError("expected ( after IN")
            values = []
            while True:
                values.append(_literal(*self.take()))
                sep = self.take()[1]
                if sep == ")":
                    break
                if sep != ",":
                    raise QueryError("expected , or ) in IN list")
            return Condition(path, "IN", tuple(values))
        if self.keyword("LIKE"):
            return Condition(path, "LIKE", _literal(*self.take()))
        kind, op = self.take()
        if kind != "op" or op == "!=":
            raise QueryError(f"unsupported operator {op!r}")
        return Condition(path, op, _literal(*self.take()))


def parse(text: str) -> Query:
    """Parse a query; raises :class:`QueryError`."""
    return _Parser(text).parse()


def quote(value: str) -> str:
    """A string literal for a query: single quotes, with quotes and backslashes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# -- evaluation over stored entities (simulator) -------------------------------------------------

def field_value(entity: dict[str, Any], path: str) -> Any:
    """The value at a dotted path; a reference (``CustomerRef``) compares by its ``value``."""
    value: Any = entity
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        match = next((k for k in value if k.lower() == part.lower()), None)
        value = value.get(match) if match else None
    if isinstance(value, dict):
        value = value.get("value", value.get("Address"))
    return value


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    if isinstance(a, bool) or isinstance(b, bool):
        return a, b
    if isinstance(b, Decimal) or isinstance(a, (int, float, Decimal)):
        try:
            return Decimal(str(a)), Decimal(str(b))
        except (InvalidOperation, ValueError):
            return str(a), str(b)
    a, b = str(a), str(b)
    if re.match(r"\d{4}-\d{2}-\d{2}T", a) and re.match(r"\d{4}-\d{2}-\d{2}", b):
        try:
            return datetime.fromisoformat(a), _as_datetime(b, datetime.fromisoformat(a))
        except ValueError:
            pass
    return a.lower(), b.lower()


def _as_datetime(text: str, like: datetime) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=like.tzinfo)
    return value


def matches(entity: dict[str, Any], cond: Condition) -> bool:
    actual = field_value(entity, cond.path)
    if actual is None:
        return False
    if cond.op == "IN":
        return any(_equal(actual, v) for v in cond.value)
    if cond.op == "LIKE":
        pattern = "^" + ".*".join(re.escape(p) for p in str(cond.value).split("%")) + "$"
        return re.match(pattern, str(actual), re.I | re.S) is not None
    a, b = _comparable(actual, cond.value)
    return {"=": a == b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[cond.op]


def _equal(actual: Any, value: Any) -> bool:
    a, b = _comparable(actual, value)
    return a == b
