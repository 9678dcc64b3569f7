"""Few calls: many look-ups in one ``/batch`` of ``IN`` queries.

QuickBooks answers up to 30 queries in one batch call, and a query may ask for up to 1000 rows
with ``field IN (...)``. :func:`lookup` turns "these DocNumbers, these customers by e-mail, these
items by SKU, this class by name" into as few batch calls as that allows (usually one).
"""

from __future__ import annotations

from typing import Any, Optional

from .client import BATCH_LIMIT, QuickBooksAPI, item_error
from .qbquery import field_value, quote

IN_LIMIT = 30
"""Values per IN list (keeps each query's text short)."""

Wanted = dict[tuple[str, str], set[str]]
Found = dict[tuple[str, str, str], dict[str, Any]]


def want(wanted: Wanted, entity: str, field: str, value: Optional[str]) -> None:
    if value:
        wanted.setdefault((entity, field), set()).add(value)


def lookup(api: QuickBooksAPI, wanted: Wanted) -> Found:
    """Run the look-ups; returns ``(entity, field, value lower-cased) -> entity`` (the lowest Id wins)."""
    queries: list[tuple[str, str, str]] = []
    for (entity, field), values in sorted(wanted.items()):
        ordered = sorted(values)
        for i in range(0, len(ordered), IN_LIMIT):
            chunk = ", ".join(quote(v) for v in ordered[i:i + IN_LIMIT])
            queries.append((entity, field, f"select * from {entity} where {field} IN ({chunk}) MAXRESULTS 1000"))
    found: Found = {}
    for start in range(0, len(queries), BATCH_LIMIT):
        part = queries[start:start + BATCH_LIMIT]
        answers = api.batch([{"bId": f"q{n}", "Query": q} for n, (_, _, q) in enumerate(part)], request_id=None)
        for n, (entity, field, _) in enumerate(part):
            answer = answers.get(f"q{n}", {})
            error = item_error(answer)
            if error is not None:
                raise error
            rows = answer.get("QueryResponse", {}).get(entity, [])
            for row in sorted(rows, key=lambda r: int(r["Id"])):
                value = field_value(row, field)
                if value is not None:
                    found.setdefault((entity, field, str(value).lower()), row)
    return found


def get(found: Found, entity: str, field: str, value: Optional[str]) -> Optional[dict[str, Any]]:
    return found.get((entity, field, value.lower())) if value else None
