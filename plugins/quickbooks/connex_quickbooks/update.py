"""Update the documents of orders changed after booking (``on_update = "update"``, issue 14).

Intuit (api-contracts §2.5, Intuit's API reference): a sparse update is ``POST /{entity}`` with
``{"sparse": true, "Id", "SyncToken", <the changed fields>}``; fields left out keep their values, a ``Line`` sent
replaces the whole line array; a ``SyncToken`` that is not the document's current one answers 5010 "Stale Object
Error": re-read, re-apply, retry. So each update reads the document first, checks it may change, and sends the
order's whole document (the fields Connex writes) with the token just read; on 5010 it reads again and retries
(at most :data:`STALE_TRIES` times).

What may change (the books stay right, or the order is held with the reason):

* an invoice: everything Connex writes (lines, tax, shipping, addresses, dates, memo), when its new total is at
  least what is paid on it, so every payment applied stays applied (QuickBooks recomputes the balance: total
  less what is paid); when the order now says more is paid, a Payment of the difference is linked to it (the
  document follows the money). A new total below what is paid (lines removed from a paid invoice) is held:
  money received would be left without a sale (refund or credit it by hand);
* a sales receipt (money received in full): updated while the order is still paid in full; an order that is no
  longer is held (a receipt would state money received that was not);
* a voided document: not changed, held.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connex_core.api import FatalAPIError, OrderWrite, WriteResult

from . import mapping, resolve
from .cancel import _read, voided
from .client import QuickBooksFault, dumps, part
from .writer import OrderWriter

STALE_TRIES = 3


def update(writer: OrderWriter, writes: list[OrderWrite]) -> list[WriteResult]:
    results = []
    for write in writes:
        try:
            results.append(_update_one(writer, write))
        except ValueError as exc:  # not a QuickBooks document reference
            results.append(WriteResult(write.key, ok=False, error=str(exc)))
        except (QuickBooksFault, FatalAPIError) as exc:
            results.append(WriteResult(write.key, ok=False, error=str(exc)))
    return results


def _refusal(entity: str, doc: dict[str, Any], order_paid: Decimal, new_total: Decimal) -> str:
    """Why ``doc`` may not become the order's new version ("" when it may)."""
    label = f"{entity} {doc.get('DocNumber') or doc['Id']}"
    if voided(doc):
        return f"{label} is voided in QuickBooks"
    total, balance = mapping.money(doc.get("TotalAmt", 0)), mapping.money(doc.get("Balance", 0))
    if entity == "SalesReceipt":
        if order_paid != new_total:
            return (f"{label} records {total} received in full, but the order now has "
                    f"{'nothing' if order_paid == 0 else order_paid} of {new_total} paid: void it and let the order "
                    "be booked again as an invoice, or change it by hand")
        return ""
    paid = total - balance
    if new_total < paid:
        return (f"{label} has {paid} paid, more than the order's new total {new_total}: change it by hand (refund "
                "or unapply the payment first)")
    return ""


def _update_one(writer: OrderWriter, write: OrderWrite) -> WriteResult:
    entity, ident = mapping.parse_ref(write.target_ref or "")
    api = writer.api
    plan = writer._plan(write)
    if entity == "Invoice" and plan.problems and plan.entity == "SalesReceipt":
        plan.problems = [p for p in plan.problems if not p.startswith("not booked: a sales receipt")]
    found = resolve.lookup(api, writer._wanted([plan]))
    writer._ensure_parties([plan], found)
    if plan.problems:
        return WriteResult(write.key, ok=False, target_id=write.target_ref, error="; ".join(plan.problems),
                           created=writer.claim(plan, found))
    body = writer.body(plan, found, entity)
    order_paid = mapping.amount_to_pay(write.order)
    new_total = mapping.money(write.order.total)
    stale = 0
    while True:
        doc = _read(api, entity, ident)
        if refusal := _refusal(entity, doc, order_paid, new_total):
            return WriteResult(write.key, ok=False, target_id=write.target_ref, error=refusal)
        sent = dict(body, Id=doc["Id"], SyncToken=doc["SyncToken"], sparse=True)
        try:
            doc = api._call(lambda: api.qb.make_request("POST", api._url(entity.lower()), request_body=dumps(sent)),
                            f"update {entity} {ident}", lambda a: part(a, entity, f"update {entity}"))
            break
        except QuickBooksFault as exc:
            stale += 1
            if exc.code != "5010" or stale >= STALE_TRIES:
                raise
    notes = [f"{entity} {doc.get('DocNumber') or ident} updated (total {doc.get('TotalAmt')}, SyncToken "
             f"{doc.get('SyncToken')}{', after a stale SyncToken' if stale else ''})"]
    if entity == "Invoice" and plan.opts.create_payments:
        paid = mapping.money(doc.get("TotalAmt", 0)) - mapping.money(doc.get("Balance", 0))
        more = min(order_paid - paid, mapping.money(doc.get("Balance", 0)))
        if more > 0:
            rid = writer.ids.get(writer.realm, "update-payment", [f"{write.idempotency_key}:{paid}:{more}"], limit=50)
            payment = api._call(lambda: api.qb.make_request(
                "POST", api._url("payment"), request_body=dumps(mapping.payment_body(doc, writer._refs(plan, found), more)),
                request_id=rid), "payment of an updated invoice", lambda a: part(a, "Payment", "payment"))
            notes.append(f"payment {payment['Id']} of {more} recorded")
    return WriteResult(write.key, ok=True, target_id=write.target_ref, target_number=doc.get("DocNumber"),
                       note="; ".join(notes), created=writer.claim(plan, found))
