"""The review queue's marks, as the engine honours them (``connex held release`` / ``connex held ignore``).

- **released**: an order that was held (or failed) and that a person released. The next run takes it
  from the retry queue (or the source's window) and posts it past the rule that held it, once: after
  that write the ledger says done (or failed, and it is held again by the next run's rules).
- **ignored**: never posted. A run that reads it again (the window overlaps, or the source lists it
  again after a change) counts it as ``ignored`` and writes nothing, whatever the rules say.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from ..models import Order
from ..errors import UsageError
from ..rules import RuleResult
from ..state import LedgerEntry, LedgerState, LogEntry, Outcome, StateStore

#: What the review queue lists: orders waiting for a person.
QUEUE_STATES = (LedgerState.HELD, LedgerState.FAILED)


def is_released(store: StateStore, task: str, order: Order) -> bool:
    """Whether a person released this order (asked once per held order: held orders are few)."""
    entry = store.ledger_get(task, [order.key]).get(order.key)
    return entry is not None and entry.state == LedgerState.RELEASED


def past_hold(result: RuleResult) -> RuleResult:
    """The rules' result with the hold set aside: the order as the rules left it, to be written."""
    return replace(result, outcome="sync", reason=None, rule=None, line=None, file=None)


def mark(store: StateStore, task: str, entry: LedgerEntry, state: LedgerState, reason: str,
         order_number: Optional[str]) -> None:
    """Release or ignore one queued order: logged first (with the person's reason), then the ledger."""
    outcome = Outcome.RELEASED if state == LedgerState.RELEASED else Outcome.IGNORED
    store.log([LogEntry(task=task, source_key=entry.source_key, outcome=outcome, order_number=order_number,
                        reason=reason, message=f"was {entry.state}: {entry.last_error}" if entry.last_error else None)])
    store.ledger_put([replace(entry, state=state, last_error=entry.last_error)])


def order_number(entry: LedgerEntry) -> Optional[str]:
    """The order number of a queued entry, as the source shows it (from the ledger's saved copy)."""
    if not entry.snapshot:
        return None
    order = Order.model_validate_json(entry.snapshot)
    return order.original_number or order.number


def find(store: StateStore, task: str, order: str, states=QUEUE_STATES) -> LedgerEntry:
    """The queued entry for ORDER (its number as the source shows it, or its source key)."""
    for entry in store.ledger_in_states(states, task=task):
        if order in (entry.source_key, order_number(entry)):
            return entry
    raise UsageError(f"order {order!r} is not held or failed in task {task!r}; see the queue with: "
                     f"connex held --task {task}")


def decide(store: StateStore, task: str, order: str, state: LedgerState, reason: str) -> LedgerEntry:
    """Release or ignore the queued ORDER of TASK (``connex held release|ignore``, the console's buttons):
    the entry as it was before."""
    entry = find(store, task, order)
    mark(store, task, entry, state, reason, order_number(entry) or order)
    return entry
