"""Void the documents of orders cancelled after they were booked (``on_cancel = "void"``, issue 14).

QuickBooks voids rather than deletes (api-contracts §2.1, Intuit's API reference): ``POST /invoice?operation=void``,
``POST /payment?operation=void``, and for a sales receipt the sparse update ``POST /salesreceipt?operation=update&include=void``;
each body is ``{Id, SyncToken}``, and the document stays with its amounts zeroed and ``PrivateNote`` "Voided".

An invoice's payment: a Payment applied only to this invoice is voided first (the money is no longer recorded
as received for a sale that did not happen), then the invoice. A payment that also pays other invoices is not
touched: the order is held with the reason (voiding it would reopen the other invoices).

Taking back a run (``connex undo``, ``write.undo``): the same void, but a document changed since Connex wrote it is
left: its total is not the booked order's (edited in QuickBooks), or its payments come to more than the payment
Connex recorded (paid since).
"""

from __future__ import annotations

from typing import Any, Callable

from connex_core.api import FatalAPIError, OrderWrite, WriteResult

from .client import QuickBooksAPI, dumps, part
from . import mapping
from .mapping import parse_ref
from .options import TargetOptions


def _read(api: QuickBooksAPI, entity: str, ident: str) -> dict[str, Any]:
    return api._call(lambda: api.qb.get(api._url(f"{entity.lower()}/{ident}")), f"read {entity} {ident}",
                     lambda a: part(a, entity, f"read {entity}"))


def _void(api: QuickBooksAPI, entity: str, doc: dict[str, Any]) -> dict[str, Any]:
    body = {"Id": doc["Id"], "SyncToken": doc["SyncToken"]}
    if entity == "SalesReceipt":
        params = {"operation": "update", "include": "void"}
        body["sparse"] = True
    else:
        params = {"operation": "void"}
    return api._call(lambda: api.qb.make_request("POST", api._url(entity.lower()), request_body=dumps(body),
                                                 params=params), f"void {entity} {doc['Id']}",
                     lambda a: part(a, entity, f"void {entity}"))


def voided(doc: dict[str, Any]) -> bool:
    return doc.get("PrivateNote") == "Voided" and not float(doc.get("TotalAmt") or 0)


def each_write(writes: list[OrderWrite], one: Callable[[OrderWrite], WriteResult],
               *errors: type[Exception]) -> list[WriteResult]:
    """``one(write)`` for each write; one whose reference is not a QuickBooks document's (a ValueError), or that
    fails with a FatalAPIError or one of ``errors``, fails alone with the error's message."""
    results = []
    for write in writes:
        try:
            results.append(one(write))
        except ValueError as exc:  # not a QuickBooks document reference
            results.append(WriteResult(write.key, ok=False, error=str(exc)))
        except (FatalAPIError, *errors) as exc:
            results.append(WriteResult(write.key, ok=False, error=str(exc)))
    return results


def cancel(api: QuickBooksAPI, writes: list[OrderWrite]) -> list[WriteResult]:
    return each_write(writes, lambda write: _cancel_one(api, write))


def _cancel_one(api: QuickBooksAPI, write: OrderWrite) -> WriteResult:
    entity, ident = parse_ref(write.target_ref or "")
    doc = _read(api, entity, ident)
    label = f"{entity} {doc.get('DocNumber') or ident}"
    if voided(doc):
        return WriteResult(write.key, ok=True, target_id=write.target_ref, note=f"{label} was voided already")
    if write.undo and (changed := _changed_since(api, entity, ident, doc, write)):
        return WriteResult(write.key, ok=False, target_id=write.target_ref, error=f"{label} {changed}")
    notes = []
    if entity == "Invoice":
        for link in doc.get("LinkedTxn") or []:
            if link.get("TxnType") != "Payment":
                continue
            payment = _read(api, "Payment", str(link["TxnId"]))
            others = {str(t.get("TxnId")) for line in payment.get("Line") or [] for t in line.get("LinkedTxn") or []
                      if str(t.get("TxnId")) != ident}
            if others:
                return WriteResult(write.key, ok=False, target_id=write.target_ref,
                                   error=f"its payment {payment['Id']} also pays other documents ({', '.join(sorted(others))}); "
                                         "void or unapply that payment by hand, then the invoice")
            _void(api, "Payment", payment)
            notes.append(f"payment {payment['Id']} of {payment.get('TotalAmt')} voided")
        doc = _read(api, entity, ident)  # the payment's void changed the invoice's SyncToken
    _void(api, entity, doc)
    notes.insert(0, f"{label} voided")
    return WriteResult(write.key, ok=True, target_id=write.target_ref, target_number=doc.get("DocNumber"),
                       note="; ".join(notes))


def _changed_since(api: QuickBooksAPI, entity: str, ident: str, doc: dict[str, Any], write: OrderWrite) -> str:
    """How the document differs from what Connex booked (``write.order``), or "" when it does not."""
    total, booked = mapping.money(doc.get("TotalAmt", 0)), mapping.money(write.order.total)
    if total != booked:
        return f"was edited since it was booked (total {total}, booked {booked}); void it by hand"
    if entity != "Invoice":
        return ""
    ours = mapping.amount_to_pay(write.order) if TargetOptions.parse(write.options, "target_options").create_payments \
        else mapping.money(0)
    paid = sum((mapping.money(line.get("Amount", 0)) for p in _payments(api, doc) for line in p.get("Line") or []
                if any(str(t.get("TxnId")) == ident and t.get("TxnType") == "Invoice" for t in line.get("LinkedTxn") or [])),
               mapping.money(0))
    if paid > ours:
        return f"was paid since it was booked ({paid} received, Connex recorded {ours}); void it by hand"
    return ""


def _payments(api: QuickBooksAPI, doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [_read(api, "Payment", str(link["TxnId"])) for link in doc.get("LinkedTxn") or []
            if link.get("TxnType") == "Payment"]
