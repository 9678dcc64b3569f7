"""Split and merged orders: every line of a sale booked once, from the source's own facts.

A source such as ShipStation says which orders were split off another (``order.split``, with the
original's id in ``parent_id``) and which were merged (``order.merged_ids``). Both are held back from
the run's batches and decided at its end, once the other orders of the window are written
(:class:`SaleGuard`), following the task's ``split_orders``:

``"combine"`` (default): one document per original sale. The user's rules usually give a split child
its parent's number (``when order.number endswith '-1' then strip suffix``); whatever its number, the
child belongs to its parent's document. The ledger keeps the version of the parent it booked:

* the parent was booked with the child's lines (booked before the split): the child is a true
  duplicate, recorded as such against the parent's document;
* the parent was booked without them (booked after the split, e.g. shipped-only export): the child's
  lines (and its shipping, tax, discount and payment) are added to the parent's document through
  :meth:`Connector.update_orders`, and the child is recorded done in it; where the target will not change that
  document (paid in Xero, voided, a locked period...) or cannot, the child is held with the target's reason
  and what to do;
* the parent's booked version is unknown: the child is held with a reason saying what to do;
* the parent is not booked yet: the child is held and retried every run until it is.

``"separate"``: one document per source order. A child whose number the rules shortened (a stripped
suffix) gets back the number the source gave it, so it is not taken for its parent's document.

Merged orders: one document for the merged order. When it is booked, each order merged into it is
recorded done against that document (logged "skipped: merged into order N"), so it is never booked on
its own later. If one of them was already booked on its own (before the merge), the merged order is held
instead: booking it would count that order's lines twice.
"""

from __future__ import annotations

from collections import Counter

from ..models import Order
from ..rules import RuleResult
from ..state import LedgerEntry, LedgerState, Outcome
from .edits import MERGED_AWAY, hold_booked, line_facts, update_document, with_child
from .run import TaskRun
from .write import OrderWriter, Pending, commit, log_entry


def describe(facts: Counter) -> str:
    return ", ".join(f"{q:g} x {what} at {_money(price)}" for (what, q, price), n in sorted(facts.items(), key=str)
                     for _ in range(n))


def _money(value) -> str:
    return f"{value:.2f}" if value == round(value, 2) else str(value)


class SaleGuard:
    """Holds back split children and merged orders of one run, and decides them at its end."""

    def __init__(self, run: TaskRun, writer: OrderWriter):
        self.run = run
        self.writer = writer
        self.mode = run.task.split_orders
        self.children: list[Pending] = []
        self.merged: list[Pending] = []

    def takes(self, order: Order, result: RuleResult) -> bool:
        """Whether the order is held back to :meth:`finish` (it is to be synced, and split or merged)."""
        if order.split and order.parent_id:
            self.children.append((order, result))
            return True
        if order.merged_ids:
            self.merged.append((order, result))
            return True
        return False

    def finish(self) -> None:
        """Decide what was held back, after the run's other batches are written."""
        for order, result in self.merged:
            self._merged(order, result)
        for order, result in self.children:
            own = None if self.run.dry_run else self.run.store.ledger_get(self.run.name, [order.key]).get(order.key)
            if own is not None and own.state == LedgerState.DONE:
                self.run.summary.counts["already_synced"] += 1
                continue
            if self.mode == "separate":
                self._separate(order, result)
            else:
                self._combine(order, result)
        self.children, self.merged = [], []

    # -- split children ---------------------------------------------------------------------------
    def _separate(self, order: Order, result: RuleResult) -> None:
        given, number = order.original_number, result.order.number
        if given and number != given and given.startswith(number):
            result.order = result.order.model_copy(update={"number": given})
        self.writer.dispatch([(order, result)])

    def _combine(self, order: Order, result: RuleResult) -> None:
        parent_key = f"{order.source}:{order.parent_id}"
        store, name = self.run.store, self.run.name
        parent = None if self.run.dry_run else store.ledger_get(name, [parent_key]).get(parent_key)
        if self.run.dry_run:
            self._hold(order, result, f"split off order {order.parent_id}: checked against the parent's document "
                       "when the task runs (a dry run books nothing)")
            return
        if parent is None or parent.state != LedgerState.DONE:
            self._hold(order, result, f"split off order {order.parent_id}, which is not booked yet; this order is "
                       "retried every run and booked with its parent's document once the parent is booked "
                       "(or set split_orders = \"separate\" to book it as its own document)")
            return
        document = parent.target_number or parent.target_id
        if not parent.snapshot:
            self._hold(order, result, f"split off order {order.parent_id}, booked as {document} by an earlier "
                       f"version of Connex or found in the target: Connex cannot tell whether {document} holds this "
                       f"order's lines ({describe(line_facts(order))}). Check {document}; add the lines to it by "
                       "hand and skip this order, or set split_orders = \"separate\"")
            return
        booked = Order.model_validate_json(parent.snapshot)
        missing = line_facts(order) - line_facts(booked)
        if missing:
            combined = with_child(booked, order)
            wanted = self.run.evaluate(combined).order
            answer = update_document(self.run, parent_key, wanted, parent, wanted.content_hash(), change="split")
            if answer is not None and answer.ok:
                kept = LedgerEntry(task=name, source_key=parent_key, state=LedgerState.DONE,
                                   idempotency_key=parent.idempotency_key, target_id=parent.target_id,
                                   target_number=parent.target_number, attempts=parent.attempts,
                                   content_hash=parent.content_hash, snapshot=combined.model_dump_json())
                store.ledger_put([kept])  # the parent's document now holds the child's lines too
                self._done_in(order, result, parent, Outcome.UPDATED,
                              f"split off order {booked.number}; its lines ({describe(missing)}) added to {document}"
                              + (f": {answer.note}" if answer.note else ""))
                return
            refused = f" ({run_error})" if (run_error := answer.error if answer else None) else ""
            self._hold(order, result, f"split off order {booked.number}, booked as {document} without this "
                       f"order's lines ({describe(missing)}): the parent was booked after the split, and {document} "
                       f"could not be given them{refused}. Add the lines to {document} by hand and skip this order, "
                       "or set split_orders = \"separate\" to book it as its own document")
            return
        self._done_in(order, result, parent, Outcome.DUPLICATE,
                      f"split off order {booked.number}; its lines are on {document} (the parent was booked before "
                      "the split)")

    # -- merged orders ------------------------------------------------------------------------------
    def _merged(self, order: Order, result: RuleResult) -> None:
        keys = [f"{order.source}:{i}" for i in order.merged_ids]
        if self.run.dry_run:
            self.writer.dispatch([(order, result)])
            return
        ledger = self.run.store.ledger_get(self.run.name, keys)
        own = [(k, e) for k, e in ledger.items() if e.state == LedgerState.DONE and e.last_error != MERGED_AWAY]
        if own:
            booked = ", ".join(f"{k.split(':', 1)[1]} (as {e.target_number or e.target_id})" for k, e in own)
            self._hold(order, result, f"merged from orders that were booked on their own before the merge: {booked}; "
                       "booking this order would count their lines twice. Credit or void those documents and "
                       "release this order, or skip it")
            return
        self.writer.dispatch([(order, result)])
        done = self.run.store.ledger_get(self.run.name, [order.key]).get(order.key)
        if done is None or done.state != LedgerState.DONE or done.content_hash != result.order.content_hash():
            return  # not booked (failed, or a change held): the merged-away orders wait with it
        for merged_id, key in zip(order.merged_ids, keys):
            away = order.model_copy(update={"source_id": merged_id, "number": merged_id, "original_number": merged_id,
                                            "merged_ids": []})
            self._done_in(away, RuleResult(order=away), done, Outcome.SKIPPED,
                          f"merged into order {order.original_number or order.number} "
                          f"(booked as {done.target_number or done.target_id})", count=False)

    # -- recording ----------------------------------------------------------------------------------
    def _hold(self, order: Order, result: RuleResult, reason: str) -> None:
        own = None if self.run.dry_run else self.run.store.ledger_get(self.run.name, [order.key]).get(order.key)
        if own is not None and own.state == LedgerState.DONE:
            hold_booked(self.run, order, result, own, reason)  # booked before: stays booked, the change is held
            return
        result.outcome, result.reason = "hold", reason
        self.writer.record_rule_outcome(order, result, Outcome.HELD)

    def _done_in(self, order: Order, result: RuleResult, document: LedgerEntry, outcome: Outcome, message: str,
                 *, count: bool = True) -> None:
        """Record the order done in another order's document (a split child's parent, a merged order)."""
        if count:
            self.run.summary.counts[outcome] += 1
        existing = self.run.store.ledger_get(self.run.name, [order.key]).get(order.key)
        if existing is not None and existing.state == LedgerState.DONE and existing.target_id == document.target_id:
            return  # recorded before
        entry = LedgerEntry(task=self.run.name, source_key=order.key, state=LedgerState.DONE,
                            target_id=document.target_id, target_number=document.target_number,
                            attempts=existing.attempts if existing else 0, last_error=MERGED_AWAY if outcome ==
                            Outcome.SKIPPED else None, content_hash=result.order.content_hash(),
                            snapshot=order.model_dump_json())  # a split child: kept on its parent's updates
        log = log_entry(self.run, order, result, outcome, target_id=document.target_id,
                        target_number=document.target_number, message=message,
                        reason=message if outcome == Outcome.SKIPPED else None)
        commit(self.run, [log], [entry], [(result.order, outcome, document.target_id)])
