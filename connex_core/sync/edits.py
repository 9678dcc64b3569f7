"""Edits after booking: a booked order that changed in the source, following the task's ``on_update``.

The ledger keeps the version of each order it booked (its content hash and snapshot). When the order
read again differs from it:

``"update"`` (default): written again where the target updates its documents in place
(``Connector.upserts_orders``); where it does not, held with the reason (the document stays as booked);
``"hold"``: held with the reason, for review; ``"ignore"``: left as booked (counted already synced).

A held edit keeps the ledger entry done, with the version booked: the hold is logged (once per changed
version) and the order is looked at again whenever it is read.
"""

from __future__ import annotations

from collections import Counter
from typing import Optional

from ..models import Order
from ..rules import RuleResult
from ..state import LedgerEntry, LedgerState, Outcome
from .run import TaskRun
from .write import OrderWriter, commit, log_entry

WRITE, SKIP = True, False


def line_facts(order: Order) -> Counter:
    """The order's product lines as comparable facts (sku or name, quantity, unit price)."""
    return Counter((line.sku or line.name, line.quantity, line.unit_price) for line in order.lines if not line.adjustment)


class EditsWriter(OrderWriter):
    """The writer of ``orders`` tasks: an order booked before and changed since follows ``on_update``."""

    def booked_changed(self, order: Order, result: RuleResult, entry: LedgerEntry, content: str) -> bool:
        return changed_after_booking(self.run, order, result, entry, content)


def changed_after_booking(run: TaskRun, order: Order, result: RuleResult, entry: LedgerEntry, content: str) -> bool:
    """For an order the ledger has done: ``WRITE`` it again (an update in place) or ``SKIP`` it."""
    if not entry.content_hash or entry.content_hash == content or entry.last_error == MERGED_AWAY:
        run.summary.counts["already_synced"] += 1
        return SKIP
    if order.split_original and entry.snapshot and not (line_facts(result.order) -
                                                         line_facts(Order.model_validate_json(entry.snapshot))):
        # split after it was booked: the lines it lost are its children's, which are checked against the
        # version booked (splits.py); the document is right as it is
        run.summary.counts["already_synced"] += 1
        return SKIP
    mode = run.task.on_update
    if mode == "ignore":
        run.summary.counts["already_synced"] += 1
        return SKIP
    if mode == "update" and run.target.upserts_orders:
        return WRITE
    document = entry.target_number or entry.target_id
    if mode == "hold":
        reason = f"changed in the source after it was booked as {document}; on_update = \"hold\": review it"
    else:
        reason = (f"changed in the source after it was booked as {document}, and Connex does not update "
                  f"{run.target.name} documents yet: change {document} by hand, or set on_update = \"ignore\"")
    hold_booked(run, order, result, entry, reason, content)
    return SKIP


def hold_booked(run: TaskRun, order: Order, result: RuleResult, entry: LedgerEntry, reason: str,
                content: Optional[str] = None) -> None:
    """Hold an order the ledger has done: logged with the reason once per changed version; the entry stays
    done with the version booked."""
    run.summary.counts[Outcome.HELD] += 1
    if run.dry_run:
        return
    mark = f"{reason} [version {content or result.order.content_hash()}]"
    if entry.last_error == mark:
        return  # held for this version already: logged
    result.outcome, result.reason = "hold", reason
    kept = LedgerEntry(task=entry.task, source_key=entry.source_key, state=LedgerState.DONE,
                       idempotency_key=entry.idempotency_key, target_id=entry.target_id,
                       target_number=entry.target_number, attempts=entry.attempts, last_error=mark,
                       content_hash=entry.content_hash, snapshot=entry.snapshot)
    commit(run, [log_entry(run, order, result, Outcome.HELD, target_id=entry.target_id,
                           target_number=entry.target_number)], [kept], [(order, Outcome.HELD, entry.target_id)])


#: ``last_error`` of the ledger entry of an order merged into another (done, in the merged order's document).
MERGED_AWAY = "merged into another order"
