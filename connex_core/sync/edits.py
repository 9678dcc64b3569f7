"""Edits after booking: a booked order that changed in the source, following the task's ``on_update``.

The ledger keeps the version of each order it booked (its content hash and snapshot). When the order
read again differs from it:

``"update"`` (default): written again where the target updates its documents in place
(``Connector.upserts_orders``); elsewhere the booked document is updated through
:meth:`Connector.update_orders` (QuickBooks: a sparse update with the current SyncToken; Xero: while the
invoice is editable), logged ``updated`` with the ledger keeping the new version; what the target will not
update (paid, voided, locked), or a target that cannot, is held with the reason (the document stays as booked).
The target is told whether the sale changed (``OrderWrite.change``: ``"edit"``) or only what was paid
(``"payment"``), and the update carries the lines of the split children the ledger recorded in the document;
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
        update_booked(run, order, result, entry, content)
        return SKIP
    reason = f"changed in the source after it was booked as {document}; on_update = \"hold\": review it"
    hold_booked(run, order, result, entry, reason, content)
    return SKIP


def update_booked(run: TaskRun, order: Order, result: RuleResult, entry: LedgerEntry, content: str) -> None:
    """``on_update = "update"`` on a target that does not upsert: the booked document brought to the order's new
    version, with the lines of the split children the ledger recorded in it (they stay on it); logged ``updated``,
    or held with the target's reason. ``change``: ``"payment"`` when the sale is the same as booked (only what was
    paid, the status or the shipment changed), else ``"edit"``."""
    document = entry.target_number or entry.target_id
    children, unknown = split_children(run, order.key, entry)
    if unknown:
        hold_booked(run, order, result, entry, f"changed in the source after it was booked as {document}, which also "
                    f"holds order{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} (recorded in it by an earlier "
                    f"version of Connex or found in {run.task.target}): Connex cannot tell which lines of {document} "
                    "are theirs. Change it by hand, or set on_update = \"ignore\"", content)
        return
    source = order
    for child in children:
        source = with_child(source, child)
    wanted = run.evaluate(source).order if children else result.order
    booked = run.evaluate(Order.model_validate_json(entry.snapshot)).order if entry.snapshot else None
    change = "payment" if booked is not None and same_sale(booked, wanted) else "edit"
    answer = update_document(run, order.key, wanted, entry, content, change=change, booked=booked)
    kept = f" (with the lines of {', '.join(c.original_number or c.number for c in children)}, split off it)" \
        if children else ""
    if answer is not None and answer.ok:
        booked_as(run, order, result, entry, content, source.model_dump_json(),
                  f"{document} updated in {run.task.target} (on_update = \"update\"){kept}"
                  + (f": {answer.note}" if answer.note else ""))
    elif answer is not None:
        hold_booked(run, order, result, entry, f"changed in the source after it was booked as {document}; "
                    f"not updated: {answer.error}", content)


#: What may change while the sale stays the same: what was paid, where the order stands, how it shipped (and the
#: source's own ids of the lines, which it may give anew when an order is saved).
PAYMENT_FACTS: dict = {**dict.fromkeys(("amount_paid", "paid", "paid_at", "payment_method", "status", "shipment",
                                        "modified_at"), True), "lines": {"__all__": {"line_id"}}}


def same_sale(booked: Order, wanted: Order) -> bool:
    """``wanted`` sells what ``booked`` sold, to the same buyer, for the same amounts (only payment facts differ)."""
    return booked.model_dump(exclude=PAYMENT_FACTS) == wanted.model_dump(exclude=PAYMENT_FACTS)


def with_child(parent: Order, child: Order) -> Order:
    """The parent's version with a split child's lines, amounts and payment added: the original sale.

    Both are the source's versions (before the rules), so the money is the source's: the amounts paid added up,
    paid when either counts as paid; the task's rules then decide on the whole sale as on any order (a shipped
    sale with nothing paid is marked unpaid by the standard rules, whatever ``paid`` the source's shipping set)."""
    return parent.model_copy(update={
        "lines": [*parent.lines, *child.lines], "shipping": parent.shipping + child.shipping,
        "tax": parent.tax + child.tax, "discount": parent.discount + child.discount,
        "total": parent.total + child.total, "amount_paid": parent.amount_paid + child.amount_paid,
        "paid": parent.paid or child.paid})


def split_children(run: TaskRun, key: str, entry: LedgerEntry) -> tuple[list[Order], list[str]]:
    """The orders split off order ``key`` that the ledger recorded in its document (``entry``), as they were
    recorded (their lines added to it, or found on it), oldest first; and the numbers of other orders recorded in
    it whose version the ledger does not keep (what their lines are on it cannot be told)."""
    if not entry.target_number:
        return [], []
    children, unknown = [], []
    for other in run.store.ledger_under_number(run.name, entry.target_number):
        if other.source_key == key or other.target_id != entry.target_id or other.last_error == MERGED_AWAY:
            continue
        if not other.snapshot:
            unknown.append(other.source_key)
            continue
        child = Order.model_validate_json(other.snapshot)
        if child.split and child.parent_id and f"{child.source}:{child.parent_id}" == key:
            children.append(child)
    return children, unknown


def update_document(run: TaskRun, key: str, wanted: Order, entry: LedgerEntry, content: str, *,
                    change: str = "edit", booked: Optional[Order] = None) -> Optional[WriteResult]:
    """Ask the target to bring the document booked for ``key`` (``entry.target_id``) to ``wanted``: its answer,
    an error answer when it cannot or did not answer, None in a dry run (counted ``would_update``). ``change``
    and ``booked``: :attr:`OrderWrite.change` and :attr:`OrderWrite.booked`."""
    if run.dry_run:
        run.summary.counts["would_update"] += 1
        return None
    where = f"{entry.target_number or entry.target_id} in {run.task.target}"
    write = OrderWrite(order=wanted, idempotency_key=idempotency_key(run.name, key, "update:" + content),
                       options=connector_options(run.task.target_options), content_hash=content,
                       target_ref=entry.target_id, change=change, booked=booked)
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
