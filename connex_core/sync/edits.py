"""Edits after booking: a booked order that changed in the source, following the task's ``on_update``.

The ledger keeps the version of each order it booked (its content hash and snapshot). When the order
read again differs from it:

``"update"`` (default): written again where the target updates its documents in place
(``Connector.upserts_orders``); elsewhere the booked document is updated through
:meth:`Connector.update_orders` (QuickBooks: a sparse update with the current SyncToken; Xero: while the
invoice is editable), logged ``updated`` with the ledger keeping the new version; what the target will not
update (paid, voided, locked), or a target that cannot, is held with the reason (the document stays as booked);
``"hold"``: held with the reason, for review; ``"ignore"``: left as booked (counted already synced).

A held edit keeps the ledger entry done, with the version booked: the hold is logged (once per changed
version) and the order is looked at again whenever it is read.
"""

from __future__ import annotations

from collections import Counter
from typing import Optional

from ..connector import OrderWrite, WriteResult
from ..errors import FatalAPIError, RetriableAPIError
from ..models import Order
from ..rules import RuleResult
from ..state import LedgerEntry, LedgerState, Outcome
from .run import TaskRun, connector_options
from .write import OrderWriter, commit, idempotency_key, log_entry, record_created

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
    if mode == "update":
        answer = update_document(run, order.key, result.order, entry, content)
        if answer is not None and answer.ok:
            booked_as(run, order, result, entry, content, order.model_dump_json(),
                      f"{document} updated in {run.task.target} (on_update = \"update\")"
                      + (f": {answer.note}" if answer.note else ""))
        elif answer is not None:
            hold_booked(run, order, result, entry, f"changed in the source after it was booked as {document}; "
                        f"not updated: {answer.error}", content)
        return SKIP
    reason = f"changed in the source after it was booked as {document}; on_update = \"hold\": review it"
    hold_booked(run, order, result, entry, reason, content)
    return SKIP


def update_document(run: TaskRun, key: str, wanted: Order, entry: LedgerEntry,
                    content: str) -> Optional[WriteResult]:
    """Ask the target to bring the document booked for ``key`` (``entry.target_id``) to ``wanted``: its answer,
    an error answer when it cannot or did not answer, None in a dry run (counted ``would_update``)."""
    if run.dry_run:
        run.summary.counts["would_update"] += 1
        return None
    where = f"{entry.target_number or entry.target_id} in {run.task.target}"
    write = OrderWrite(order=wanted, idempotency_key=idempotency_key(run.name, key, "update:" + content),
                       options=connector_options(run.task.target_options), content_hash=content,
                       target_ref=entry.target_id)
    try:
        [answer] = run.target.update_orders([write]) or [None]
    except NotImplementedError as exc:
        return WriteResult(key, ok=False, error=f"{exc}: change {where} by hand, or set on_update = \"ignore\"")
    except (RetriableAPIError, FatalAPIError) as exc:
        return WriteResult(key, ok=False, error=f"{exc} (tried again when the order is read again)")
    if answer is not None:
        record_created(run, [(wanted, answer)])
    return answer or WriteResult(key, ok=False, error=f"{run.target.name} gave no answer to the update")


def booked_as(run: TaskRun, order: Order, result: RuleResult, entry: LedgerEntry, content: str, snapshot: str,
              message: str, outcome: Outcome = Outcome.UPDATED) -> None:
    """Record an order's document updated: logged ``outcome`` with ``message``; the ledger keeps the new version."""
    run.summary.counts[outcome] += 1
    kept = LedgerEntry(task=run.name, source_key=order.key, state=LedgerState.DONE,
                       idempotency_key=entry.idempotency_key, target_id=entry.target_id,
                       target_number=entry.target_number, attempts=entry.attempts, content_hash=content,
                       snapshot=snapshot)
    commit(run, [log_entry(run, order, result, outcome, target_id=entry.target_id,
                           target_number=entry.target_number, message=message)], [kept],
           [(result.order, outcome, entry.target_id)])


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
