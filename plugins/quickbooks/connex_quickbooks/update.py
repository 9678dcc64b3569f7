"""Update the documents of orders changed after booking (``on_update = "update"``, issue 14).

Intuit (api-contracts §2.5, Intuit's API reference): a sparse update is ``POST /{entity}`` with
``{"sparse": true, "Id", "SyncToken", <the changed fields>}``; fields left out keep their values, a ``Line`` sent
replaces the whole line array; a ``SyncToken`` that is not the document's current one answers 5010 "Stale Object
Error": re-read, re-apply, retry. So each update reads the document first, checks it may change, and sends the
order's whole document (the fields Connex writes) with the token just read; on 5010 it reads again and retries
(at most :data:`STALE_TRIES` times).

What may change (``write.change``, set by the engine; the books stay right, or the order is held with the reason):

* an edit of the sale (``"edit"``: an amount, a line, an address): only a document with no money received on it,
  an invoice with nothing paid (``Balance`` = ``TotalAmt``), as the issue asks ("when the document is not paid
  or closed"). An invoice with a payment applied, or a sales receipt (money received in full), is left as it is
  and the order held with the reason and what to do (change it by hand): changing a sale whose payment is
  recorded against it is the bookkeeper's call, as Xero refuses it outright;
* more paid, the sale the same (``"payment"``): on an invoice, a Payment of the difference linked to it, the
  document unchanged (an invoice with nothing paid is updated as in an edit, which also brings its shipment
  facts); less paid than the invoice has (a refund) is held; a sales receipt of an order still paid in full is
  left as it is;
* a split child's lines added to its parent's document (``"split"``: the sale made whole, not an edit), wherever
  QuickBooks lets the document change: an invoice while its new total is at least what is paid on it (every payment
  stays applied; QuickBooks recomputes the balance), with a Payment of what the child paid; a sales receipt while
  the whole sale is paid in full (a receipt states the whole total as received);
* a voided document: not changed, held.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connex_core.api import OrderWrite, WriteResult

from . import mapping, resolve
from .cancel import _read, each_write, voided
from .client import QuickBooksFault, dumps, part
from .writer import OrderWriter

STALE_TRIES = 3


def update(writer: OrderWriter, writes: list[OrderWrite]) -> list[WriteResult]:
    return each_write(writes, lambda write: _update_one(writer, write), QuickBooksFault)


def _received(entity: str, doc: dict[str, Any]) -> Decimal:
    """The money recorded as received on ``doc``: a sales receipt's total, an invoice's payments."""
    total = mapping.money(doc.get("TotalAmt", 0))
    return total if entity == "SalesReceipt" else total - mapping.money(doc.get("Balance", 0))


def _refusal(entity: str, doc: dict[str, Any], change: str, order_paid: Decimal, new_total: Decimal) -> str:
    """Why ``doc`` may not become the order's new version ("" when it may)."""
    label = f"{'sales receipt' if entity == 'SalesReceipt' else 'invoice'} {doc.get('DocNumber') or doc['Id']}"
    if voided(doc):
        return f"{label} is voided in QuickBooks"
    total, received = mapping.money(doc.get("TotalAmt", 0)), _received(entity, doc)
    if entity == "SalesReceipt" and (change != "edit" or received <= 0) and order_paid != new_total:
        return (f"{label} records {total} received in full, but the order now has "
                f"{'nothing' if order_paid == 0 else order_paid} of {new_total} paid: void it and let the order "
                "be booked again as an invoice, or change it by hand")
    if change == "split" or received <= 0:
        if entity == "Invoice" and new_total < received:
            return (f"{label} has {received} paid, more than the order's new total {new_total}: change it by hand "
                    "(refund or unapply the payment first)")
        return ""
    if change == "payment":
        if entity == "Invoice" and order_paid < received:
            return (f"{label} has {received} paid in QuickBooks, but the order now says {order_paid}: a refund is "
                    "not recorded by Connex: change it by hand (refund or unapply the payment), or set on_update = \"ignore\"")
        return ""
    if entity == "SalesReceipt":
        return (f"{label} records {total} received, and Connex changes only documents with no money received on "
                "them (the payment stays matched to what was sold): change it by hand, or set on_update = \"ignore\"")
    return (f"{label} has {received} of {total} paid in QuickBooks, and Connex changes only documents with nothing "
            "paid (the payment stays matched to what was sold): change it by hand (unapply the payment, edit the "
            "invoice, apply it again), or set on_update = \"ignore\"")


def _update_one(writer: OrderWriter, write: OrderWrite) -> WriteResult:
    entity, ident = mapping.parse_ref(write.target_ref or "")
    api = writer.api
    order_paid = mapping.amount_to_pay(write.order)
    new_total = mapping.money(write.order.total)
    doc = _read(api, entity, ident)
    if refusal := _refusal(entity, doc, write.change, order_paid, new_total):
        return WriteResult(write.key, ok=False, target_id=write.target_ref, error=refusal)
    plan = writer._plan(write)
    if entity == "Invoice" and plan.problems and plan.entity == "SalesReceipt":
        plan.problems = [p for p in plan.problems if not p.startswith("not booked: a sales receipt")]
    found = resolve.lookup(api, writer._wanted([plan]))
    writer._ensure_parties([plan], found)
    if plan.problems:
        return WriteResult(write.key, ok=False, target_id=write.target_ref, error="; ".join(plan.problems),
                           created=writer.claim(plan, found))
    notes: list[str] = []
    if write.change == "payment" and _received(entity, doc) > 0:
        notes.append(f"{entity} {doc.get('DocNumber') or ident} left as it is (the sale is the same; "
                     f"{_received(entity, doc)} received on it)")
    else:
        doc, stale = _send(writer, write, entity, ident, doc, writer.body(plan, found, entity), order_paid, new_total)
        if isinstance(doc, str):
            return WriteResult(write.key, ok=False, target_id=write.target_ref, error=doc,
                               created=writer.claim(plan, found))
        notes.append(f"{entity} {doc.get('DocNumber') or ident} updated (total {doc.get('TotalAmt')}, SyncToken "
                     f"{doc.get('SyncToken')}{', after a stale SyncToken' if stale else ''})")
    if entity == "Invoice" and plan.opts.create_payments:
        paid = _received(entity, doc)
        more = min(order_paid - paid, mapping.money(doc.get("Balance", 0)))
        if more > 0:
            rid = writer.ids.get(writer.realm, "update-payment", [f"{write.idempotency_key}:{paid}:{more}"], limit=50)
            payment = api._call(lambda: api.qb.make_request(
                "POST", api._url("payment"), request_body=dumps(mapping.payment_body(doc, writer._refs(plan, found), more)),
                request_id=rid), "payment of an updated invoice", lambda a: part(a, "Payment", "payment"))
            notes.append(f"payment {payment['Id']} of {more} recorded"
                         + (" (the order has more paid since it was booked)" if write.change == "payment" else ""))
    return WriteResult(write.key, ok=True, target_id=write.target_ref, target_number=doc.get("DocNumber"),
                       note="; ".join(notes), created=writer.claim(plan, found))


def _send(writer: OrderWriter, write: OrderWrite, entity: str, ident: str, doc: dict[str, Any], body: dict[str, Any],
          order_paid: Decimal, new_total: Decimal) -> tuple[dict[str, Any] | str, int]:
    """The sparse update of ``doc`` to ``body`` with the SyncToken just read; on 5010 (someone saved it since) read
    again, checked again, and retried: the document as QuickBooks answers it (or the refusal), and how many stale
    tries there were."""
    api, stale = writer.api, 0
    while True:
        sent = dict(body, Id=doc["Id"], SyncToken=doc["SyncToken"], sparse=True)
        try:
            return api._call(lambda: api.qb.make_request("POST", api._url(entity.lower()), request_body=dumps(sent)),
                             f"update {entity} {ident}", lambda a: part(a, entity, f"update {entity}")), stale
        except QuickBooksFault as exc:
            stale += 1
            if exc.code != "5010" or stale >= STALE_TRIES:
                raise
        doc = _read(api, entity, ident)
        if refusal := _refusal(entity, doc, write.change, order_paid, new_total):
            return refusal, stale
