"""Books right by default (issue 14): the engine's own checks on an order before it is booked, and what a
cancellation does to an order booked before. Each is a task option with a safe default (``TaskConfig``):

* ``cancelled_orders = "skip"``: an order cancelled in the source is not booked (skipped with the reason);
* ``suspicious_amounts = "hold"``: an order whose figures disagree (:func:`connex_core.amounts.suspicious`)
  is held with the reasons;
* the same number used by a different sale: an order whose own number is already booked in the target
  for another source order of the task (the ledger says so) is held, saying how to tell them apart;
* ``on_cancel = "void"``: an order booked before (ledger ``done``) that comes back cancelled has its
  document voided through :meth:`Connector.cancel_orders` (ledger ``voided``); ``"hold"``: held for review
  (ledger ``held``, keeping the document, so the retry queue shows it again); ``"ignore"``: logged. A void that
  fails is held with the reason and tried again from the retry queue.

:func:`book_check` is pure (``connex rules dry-run`` shows its verdicts with the defaults); the rest
records through the write protocol's log-then-ledger :func:`~connex_core.sync.write.commit`.
"""

from __future__ import annotations

from typing import Any, Optional

from ..amounts import suspicious
from ..connector import OrderWrite, WriteResult
from ..errors import FatalAPIError, RetriableAPIError
from ..models import Order, OrderStatus
from ..rules import RuleResult
from ..state import LedgerEntry, LedgerState, Outcome
from .run import connector_options
from .write import commit, idempotency_key, log_entry

DEFAULTS = {"cancelled_orders": "skip", "suspicious_amounts": "hold", "on_cancel": "void"}


def book_check(order: Order, options: Any = None) -> Optional[tuple[str, str]]:
    """``("skip" | "hold", reason)`` when the engine's defaults keep ``order`` (after the rules) out of the
    books, else None. ``options``: the task (``TaskConfig``) or a mapping; missing keys take :data:`DEFAULTS`."""
    def option(key: str) -> str:
        value = options.get(key) if isinstance(options, dict) else getattr(options, key, None)
        return str(value or DEFAULTS[key])

    if order.status == OrderStatus.cancelled and option("cancelled_orders") == "skip":
        return "skip", ('cancelled in the source: not booked (task option cancelled_orders = "skip", the default; '
                        '"book" books cancelled orders)')
    if option("suspicious_amounts") == "hold" and (reasons := suspicious(order)):
        return "hold", "; ".join(reasons) + ' (task option suspicious_amounts = "hold", the default; "allow" books it)'
    return None


def number_taken(run: Any, order: Order, result: RuleResult, queued: list = ()) -> Optional[str]:
    """The reason to hold ``result.order`` when its number is already booked in the target for a different
    source order of this task (the ledger says so), or queued for this batch by one. A number the rules gave
    it (a split child stripped to its parent's number) is the rule's intent: the write protocol's duplicate
    check handles it. Numbers are compared as written, or ignoring case where the target's own duplicate check
    does (``Connector.numbers_ignore_case``: "zc-100" is then the number "Zc-100" of another sale)."""
    number = result.order.number
    if number != (order.original_number or order.number):
        return None
    fold = bool(getattr(run.target, "numbers_ignore_case", False))
    same = (lambda a: a.lower() == number.lower()) if fold else (lambda a: a == number)
    other = next((o.key for o, r in queued if same(r.order.number) and o.key != order.key), None)
    if other is None:
        entry = run.store.ledger_by_number(run.name, number, ignore_case=fold)
        if entry is None or entry.source_key == order.key:
            return None
        other = entry.source_key
    return (f"number {number} is already used in {run.task.target}{' (which ignores case)' if fold else ''} by order "
            f"{other}, a different sale from "
            f"{order.key}{' (store ' + order.store + ')' if order.store else ''}; add a rule giving one store "
            "a prefix (rules/examples/store-prefix.rules)")


def booked_then_cancelled(run: Any, order: Order) -> Optional[LedgerEntry]:
    """The ledger's entry of ``order`` when it was booked and comes back cancelled (None otherwise): ``done``,
    ``voided``, or ``held`` with the document it was booked as (a cancellation held: ``on_cancel = "hold"``, or
    a void that failed; the retry queue brings it back)."""
    if order.status != OrderStatus.cancelled:
        return None
    entry = run.store.ledger_get(run.name, [order.key]).get(order.key)
    if entry is None or not (entry.state in (LedgerState.DONE, LedgerState.VOIDED)
                             or (entry.state == LedgerState.HELD and entry.target_id)):
        return None
    return entry


def cancel_booked(run: Any, order: Order, result: RuleResult, entry: LedgerEntry) -> None:
    """An order booked before came back cancelled: follow the task's ``on_cancel``, log every step."""
    if entry.state == LedgerState.VOIDED:
        run.counts["already_synced"] += 1
        return
    mode = str(getattr(run.task, "on_cancel", None) or DEFAULTS["on_cancel"])
    where = f"{entry.target_number or entry.target_id} in {run.task.target}"
    if mode == "ignore":
        _record(run, order, result, entry, Outcome.SKIPPED, LedgerState.DONE,
                f'cancelled in the source after it was booked as {where}; left as it is (on_cancel = "ignore")')
        return
    if mode == "hold":
        _record(run, order, result, entry, Outcome.HELD, LedgerState.HELD,
                f'cancelled in the source after it was booked as {where}; held for review (on_cancel = "hold"): '
                "void the document by hand, or set on_cancel = \"void\"")
        return
    if run.dry_run:
        run.counts["would_void"] += 1
        return
    content = order.content_hash()
    write = OrderWrite(order=order, idempotency_key=idempotency_key(run.name, order.key, "cancel:" + content),
                       options=connector_options(run.task.target_options), content_hash=content, target_ref=entry.target_id)
    try:
        [answer] = run.target.cancel_orders([write]) or [None]
    except NotImplementedError as exc:
        answer = WriteResult(order.key, ok=False, error=f"{exc}; void {where} by hand")
    except (RetriableAPIError, FatalAPIError) as exc:
        answer = WriteResult(order.key, ok=False, error=f"{exc} (will try again when the order is read again)")
    if answer is None:
        answer = WriteResult(order.key, ok=False, error=f"{run.target.name} gave no answer to the void")
    if answer.ok:
        _record(run, order, result, entry, Outcome.VOIDED, LedgerState.VOIDED,
                f'cancelled in the source after it was booked: {where} voided (on_cancel = "void")'
                + (f"; {answer.note}" if answer.note else ""))
    else:
        _record(run, order, result, entry, Outcome.HELD, LedgerState.HELD,
                f"cancelled in the source after it was booked as {where}; not voided: {answer.error}")


def _record(run: Any, order: Order, result: RuleResult, entry: LedgerEntry, outcome: Outcome,
            state: LedgerState, reason: str) -> None:
    """Count, log and keep one cancellation step (logged once while the reason stays the same)."""
    run.counts[outcome] += 1
    if run.dry_run or (entry.last_error == reason and state == entry.state):
        return
    commit(run, [log_entry(run, order, result, outcome, target_id=entry.target_id,
                           target_number=entry.target_number, reason=reason, message=reason)],
           [LedgerEntry(task=run.name, source_key=order.key, state=state, idempotency_key=entry.idempotency_key,
                        target_id=entry.target_id, target_number=entry.target_number, attempts=entry.attempts,
                        last_error=reason, content_hash=entry.content_hash,
                        # held: the retry queue brings it back (a void that failed is tried again)
                        snapshot=order.model_dump_json() if state == LedgerState.HELD else None)],
           [(order, outcome, entry.target_id)])
