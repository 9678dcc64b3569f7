"""The flag-and-map workflow: SKUs a target did not know, read back from the transaction log.

A target connector that refuses an order because an item is unknown (QuickBooks with
``unknown_items = "flag"``) names each such SKU in its error with :func:`unknown_sku_note`;
the engine logs that error with the failed order. :func:`unmapped_skus` reads the log entries of
a task and lists the SKUs of the orders still failing, with how many orders and an example, for
``connex rules unmapped`` to print as a mapping table ready to fill in (``from,to``; columns whose
name starts with ``#`` are notes, which :mod:`.maps` ignores). Once the table is filled and
``map line.sku using ...`` added to the task's rules, the failed orders, which the engine retries
on every run, sync with the mapped items.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

_NOTE = re.compile(r'\(unknown sku ("(?:[^"\\]|\\.)*")\)')
#: The note columns ``connex rules unmapped`` adds after ``from,to``.
NOTE_COLUMNS = ("#orders", "#example order")


def unknown_sku_note(sku: str) -> str:
    """The words a connector adds to its error for a line whose item the target does not have:
    ``(unknown sku "MUG-BLK")`` (the SKU as a JSON string, so that any SKU reads back exactly)."""
    return f"(unknown sku {json.dumps(sku, ensure_ascii=False)})"


def skus_in(message: Optional[str]) -> list[str]:
    """The SKUs an error names with :func:`unknown_sku_note`, in order, each once."""
    found: list[str] = []
    for match in _NOTE.finditer(message or ""):
        sku = json.loads(match.group(1))
        if sku not in found:
            found.append(sku)
    return found


@dataclass
class Unmapped:
    """One unknown SKU: the failing orders that have it (by order key), and one of their numbers."""

    sku: str
    orders: set[str] = field(default_factory=set)
    example: Optional[str] = None


def unmapped_skus(entries: Iterable[Any]) -> list[Unmapped]:
    """The unknown SKUs of the orders whose latest log entry (in ``entries``, oldest first) is a failure
    naming them; most orders first, then by SKU."""
    latest: dict[str, Any] = {}
    for entry in entries:
        latest[entry.source_key] = entry
    found: dict[str, Unmapped] = {}
    for key, entry in latest.items():
        if entry.outcome not in ("failed", "held"):
            continue
        for sku in skus_in(entry.reason or entry.message):
            item = found.setdefault(sku, Unmapped(sku))
            item.orders.add(key)
            item.example = item.example or entry.order_number or key
    return sorted(found.values(), key=lambda u: (-len(u.orders), u.sku))


def csv_cell(text: str) -> str:
    """A CSV cell as the map reader reads it back (quoted when it holds a comma, a quote or spaces around)."""
    if any(c in text for c in ',"') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def table_rows(items: list[Unmapped], width: int = 2, notes: bool = True) -> list[str]:
    """One CSV row per SKU: the SKU, an empty ``to`` (and empty cells up to ``width``), then the notes."""
    rows = []
    for item in items:
        cells = [csv_cell(item.sku)] + [""] * (width - 1)
        if notes:
            cells += [str(len(item.orders)), csv_cell(item.example or "")]
        rows.append(",".join(cells))
    return rows
