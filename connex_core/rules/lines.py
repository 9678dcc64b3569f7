"""Writes: order fields, line fields (``for each line``), dropped lines, recomputed totals, mapping tables.

Every write goes through the model (pydantic validates the value) and is recorded as a
:class:`~.results.Change` when the value differs. A line change is recorded as ``lines[N].FIELD``,
where N is the line's number in the order as the source gave it (1 for the first line), so that a
line keeps its number after an earlier line is dropped. When a line's quantity, unit price, tax,
discount or shipping changes, or a line is dropped, the order's ``total`` (and its ``tax``,
``discount`` or ``shipping``, which include the lines') change by the same amount, recorded once
per rule.

``state`` is the runtime's :class:`~.runtime.State` (copy-on-write; this module only calls it).
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Any, Callable, Optional

from ..models import LineItem, Order
from .results import Change
from .schema import FieldRef

_AMOUNT_FIELDS = ("quantity", "unit_price")
#: A line amount -> the order amount that includes it, and the sign it has in the order's total.
_ORDER_AMOUNTS = {"tax": ("tax", 1), "discount": ("discount", -1), "shipping": ("shipping", 1)}


def read(obj: Any, ref: FieldRef) -> Any:
    """The value of ``ref`` in ``obj`` (the order, or a line for a line field); None along a missing step."""
    for step in ref.steps:
        if obj is None:
            return None
        obj = getattr(obj, step)
    return obj


def write(state: Any, ref: FieldRef, value: Any) -> None:
    """Set an order field (validated by the model), recording the change when the value differs."""
    before = read(state.order, ref)
    if before == value and type(before) is type(value):
        return
    obj = state.writable(ref.steps[:-1])
    setattr(obj, ref.steps[-1], value)
    after = getattr(obj, ref.steps[-1])
    if after != before or type(after) is not type(before):
        state.record(ref.path, before, after)


def line_number(state: Any, pos: int) -> int:
    """The number (1-based, as the source gave the lines) of the line now at ``pos``."""
    return pos + 1 if state.numbers is None else state.numbers[pos]


def line_position(state: Any, number: int) -> Optional[int]:
    """Where the line with that number now is; None once it was dropped."""
    if state.numbers is None:
        return number - 1 if number <= len(state.order.lines) else None
    try:
        return state.numbers.index(number)
    except ValueError:
        return None


def writable_line(state: Any, pos: int) -> LineItem:
    """The line at ``pos``, copied on first write (with the order and its list of lines)."""
    order: Order = state.writable()
    if not state.lines_copied:
        order.lines = list(order.lines)
        state.lines_copied = True
    line = order.lines[pos]
    if id(line) not in state.fresh_lines:
        line = line.model_copy()
        order.lines[pos] = line
        state.fresh_lines.add(id(line))
    return line


def adjust(state: Any, field: str, delta: Decimal) -> None:
    """Change an order amount by ``delta``, recorded as one change per rule (the latest value wins)."""
    if not delta:
        return
    order = state.writable()
    before = getattr(order, field)
    setattr(order, field, before + delta)
    change: Optional[Change] = state.totals.get(field)
    if change is None:
        state.totals[field] = state.record(field, before, getattr(order, field))
    else:
        change.after = getattr(order, field)


def write_line(state: Any, ref: FieldRef, value: Any) -> None:
    """Set a field of the current line (``state.line``), recording ``lines[N].FIELD``; a new quantity or
    unit price moves the order's total by the change in the line's amount."""
    pos = state.line
    name = ref.steps[-1]
    current = state.order.lines[pos]
    before = getattr(current, name)
    if before == value and type(before) is type(value):
        return
    old_amount = current.amount if name in _AMOUNT_FIELDS else None
    line = writable_line(state, pos)
    setattr(line, name, value)
    after = getattr(line, name)
    if after != before or type(after) is not type(before):
        state.record(f"lines[{line_number(state, pos)}].{name}", before, after)
    if old_amount is not None:
        adjust(state, "total", line.amount - old_amount)
    elif name in _ORDER_AMOUNTS:
        field, sign = _ORDER_AMOUNTS[name]
        adjust(state, field, after - before)
        adjust(state, "total", sign * (after - before))


def drop_line(state: Any, reason: Optional[str]) -> None:
    """Remove the current line; the order's amounts lose what the line added to them."""
    pos = state.line
    order: Order = state.writable()
    line = order.lines[pos]
    number = line_number(state, pos)
    if state.numbers is None:
        state.numbers = list(range(1, len(order.lines) + 1))
    lines = list(order.lines)
    del lines[pos]
    order.lines = lines
    state.lines_copied = True
    del state.numbers[pos]
    state.dropped = True
    rule = state.rule
    state.record(f"lines[{number}]", line.sku or line.name, None, reason or f"rule {rule.name!r}")
    adjust(state, "total", -(line.amount - line.discount + line.tax + line.shipping))
    adjust(state, "tax", -line.tax)
    adjust(state, "discount", -line.discount)
    adjust(state, "shipping", -line.shipping)


def map_action(table: Any) -> Callable[[Any], None]:
    """The action of ``map FIELD using FILE``: look the field up, and on a row write its values
    (``state.found`` is set). A line field is mapped on the current line in a ``for each line``
    rule, else on every line."""
    key, rows, targets = table.key, table.rows, table.targets
    plain = key.type.kind != "enum"
    on_line = key.scope == "line"
    name = key.steps[-1]
    pairs = [(ref, n) for n, ref in enumerate(targets)]

    def lookup(value: Any) -> Optional[tuple]:
        if value is None:
            return None
        return rows.get(value if plain or not isinstance(value, Enum) else value.value)

    def map_lines(state: Any) -> None:
        positions = [state.line] if state.line is not None else range(len(state.order.lines))
        outer = state.line
        try:
            for pos in positions:
                row = lookup(getattr(state.order.lines[pos], name))
                if row is None:
                    continue
                state.found = True
                state.line = pos
                for ref, n in pairs:
                    write_line(state, ref, row[n])
        finally:
            state.line = outer

    def map_order(state: Any) -> None:
        row = lookup(read(state.order, key))
        if row is not None:
            state.found = True
            for ref, n in pairs:
                write(state, ref, row[n])

    return map_lines if on_line else map_order
