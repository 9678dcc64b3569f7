"""Which booked orders' documents QuickBooks still holds (``connex report``, ``connex resync``), read-only.

Each document is read by the id the ledger recorded (``OrderWrite.target_ref``, ``"Invoice-123"``): one ``/batch``
of ``select * from Invoice where Id IN (...)`` queries (api-contracts §2.3: ``IN``, at most 30 queries a batch),
whatever the company's numbering: a company that numbers its documents itself (CustomTxnNumbers off) gives no
DocNumber to look an order up by, and a DocNumber may be used again once a document is voided. A document is gone
when QuickBooks no longer has it (deleted) or holds it voided: a void leaves the document with its amounts zero
and ``PrivateNote`` "Voided" (api-contracts §2.1; :func:`.cancel.voided`), no longer booking the sale.

A write without a recorded id (a booking the ledger knows only by number) is looked up as the write path does
(:meth:`.writer.OrderWriter.find`, by DocNumber), then read by the id found, so a voided one is gone too.
"""

from __future__ import annotations

from typing import Any

from connex_core.api import Found, OrderWrite

from . import resolve
from .cancel import voided
from .client import QuickBooksAPI
from .mapping import parse_ref, target_ref


def find_booked(api: QuickBooksAPI, writes: list[OrderWrite], by_number: Any) -> dict[str, Found]:
    """``{order key: Found}`` for the writes whose document QuickBooks holds, not voided. ``by_number``: the write
    path's look-up (``find_orders``), asked only for writes without a document id."""
    refs: dict[str, tuple[str, str]] = {}
    for w in writes:
        try:
            refs[w.key] = parse_ref(w.target_ref or "")
        except ValueError:
            pass
    unknown = [w for w in writes if w.key not in refs]
    for key, hit in (by_number(unknown) if unknown else {}).items():
        try:
            refs[key] = parse_ref(hit.target_id)
        except ValueError:
            pass
    wanted: resolve.Wanted = {}
    for entity, ident in refs.values():
        resolve.want(wanted, entity, "Id", ident)
    docs = resolve.lookup(api, wanted) if wanted else {}
    found: dict[str, Found] = {}
    for key, (entity, ident) in refs.items():
        doc: dict[str, Any] | None = resolve.get(docs, entity, "Id", ident)
        if doc is not None and not voided(doc):
            found[key] = Found(target_id=target_ref(entity, str(doc["Id"])), target_number=doc.get("DocNumber"),
                               description=f"{entity} {doc.get('DocNumber') or doc['Id']} ({doc.get('TotalAmt')})")
    return found
