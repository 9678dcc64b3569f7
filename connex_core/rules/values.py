"""Plain helpers of the checker: date literals, type compatibility, plugin signatures, safe patterns."""

from __future__ import annotations

import inspect
import re
from datetime import date, datetime
from typing import Any, Optional

from .schema import Type


def parse_date_literal(text: str) -> date | datetime:
    """A date (``2026-09-15``) or a date-time with an offset (``2026-09-15T08:00:00Z``).

    Raises ValueError with a readable reason (an invalid day, a time without an offset).
    """
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?", text):
        raise ValueError("write dates as YYYY-MM-DD, or YYYY-MM-DDTHH:MM:SS with Z or an offset")
    if "T" not in text:
        return date.fromisoformat(text)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("a date and time needs a time zone offset (Z or +HH:MM)")
    return value


def _compatible(a: Type, b: Type) -> bool:
    """Whether values of the two types can be compared (or assigned one to the other)."""
    if "any" in (a.kind, b.kind) or "null" in (a.kind, b.kind):
        return True
    if a.numeric and b.numeric:
        return True
    if a.textual and b.textual:
        return True
    if a.temporal and b.temporal:
        return True
    return a.kind == b.kind


def _quoted_date(a: Type, b: Type) -> bool:
    """A text beside a date in a list: a date written in quotes (checked where the list is used)."""
    return {a.kind, b.kind} in ({"text", "date"}, {"text", "datetime"})


def _required(ext: Any) -> int:
    """How many of a plugin function's declared parameters have no default."""
    params = list(ext.params or [])
    if not params:
        return 0
    try:
        declared = list(inspect.signature(ext.function).parameters.values())[-len(params):]
    except (TypeError, ValueError):
        return len(params)
    return sum(1 for p in declared if p.default is inspect.Parameter.empty)


def _regex_problem(pattern: str) -> Optional[str]:
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    if re.search(r"\\[1-9]|\(\?<?[=!]", pattern):
        return "back-references and look-arounds are not allowed"
    if re.search(r"\([^()]*[+*][^()]*\)[+*{]", pattern):
        return "a repeated group that itself repeats can take forever on long text"
    return None


