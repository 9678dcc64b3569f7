"""Tracking back onto QuickBooks documents: a sparse update of TrackingNum, ShipDate, ShipMethodRef.

The documents are read first (one batch of ``Id IN (...)`` queries) for their current
``SyncToken``; the sparse updates go in one batch with a ``requestid``; a document changed in
between (5010 Stale Object) is re-read and updated again, up to :data:`STALE_RETRIES` times.
A document that already carries the shipment's tracking number is left alone (duplicate).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from connex_core.api import Found, TrackingWrite, WriteResult
from connex_core.api import RetriableAPIError

from . import mapping, resolve
from .client import BATCH_LIMIT, QuickBooksAPI, QuickBooksFault, item_error
from .requestids import RequestIds

STALE_RETRIES = 3


class TrackingWriter:
    def __init__(self, api: QuickBooksAPI, realm: str, ids: RequestIds):
        self.api, self.realm, self.ids = api, realm, ids

    def _read(self, refs: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        wanted: resolve.Wanted = {}
        for entity, ident in refs:
            resolve.want(wanted, entity, "Id", ident)
        found = resolve.lookup(self.api, wanted)
        return {(e, i): doc for e, i in refs if (doc := resolve.get(found, e, "Id", i)) is not None}

    def find(self, writes: list[TrackingWrite]) -> dict[str, Found]:
        """The shipments whose tracking number is already on their document."""
        refs = {w.key: _parse(w.target_ref) for w in writes}
        docs = self._read([r for r in refs.values() if r])
        out = {}
        for w in writes:
            doc = docs.get(refs[w.key]) if refs[w.key] else None
            if doc and w.shipment.tracking_number and doc.get("TrackingNum") == w.shipment.tracking_number[:31]:
                out[w.key] = Found(target_id=w.target_ref, target_number=doc.get("DocNumber"))
        return out

    def write(self, writes: list[TrackingWrite]) -> list[WriteResult]:
        results: dict[str, WriteResult] = {}
        pending: dict[str, tuple[TrackingWrite, tuple[str, str]]] = {}
        for w in writes:
            ref = _parse(w.target_ref)
            if ref is None:
                results[w.key] = WriteResult(w.key, ok=False, error=f"not a QuickBooks document reference: {w.target_ref!r}")
            elif w.shipment.voided:
                results[w.key] = WriteResult(w.key, ok=False, error="the shipment was voided; nothing written")
            elif not mapping.shipment_fields(w.shipment):
                results[w.key] = WriteResult(w.key, ok=False, error="the shipment has no tracking number, ship date or method")
            else:
                pending[w.key] = (w, ref)
        _one_per_document(pending, results)
        for _ in range(1 + STALE_RETRIES):
            if not pending:
                break
            pending = self._attempt(pending, results)
        for key in pending:
            results[key] = WriteResult(key, ok=False, retriable=True,
                                       error="QuickBooks kept answering 5010 Stale Object; try again later")
        return [results[w.key] for w in writes]

    def _attempt(self, pending: dict[str, tuple[TrackingWrite, tuple[str, str]]],
                 results: dict[str, WriteResult]) -> dict[str, tuple[TrackingWrite, tuple[str, str]]]:
        """One round: read, update; returns the writes that met a stale SyncToken (to go again)."""
        docs = self._read([ref for _, ref in pending.values()])
        stale = {}
        todo = []
        for key, (w, ref) in pending.items():
            doc = docs.get(ref)
            fields = mapping.shipment_fields(w.shipment)
            if doc is None:
                results[key] = WriteResult(key, ok=False, error=f"{w.target_ref} not found in QuickBooks (deleted?)")
            elif all(doc.get(k) == v for k, v in fields.items() if k != "ShipMethodRef"):
                results[key] = WriteResult(key, ok=True, duplicate=True, target_id=w.target_ref,
                                           target_number=doc.get("DocNumber"), note="tracking already on the document")
            else:
                todo.append((key, w, ref, dict(fields, Id=doc["Id"], SyncToken=doc["SyncToken"], sparse=True), doc))
        for start in range(0, len(todo), BATCH_LIMIT):
            chunk = todo[start:start + BATCH_LIMIT]
            items = [{"bId": f"t{n}", "operation": "update", ref[0]: body} for n, (_, _, ref, body, _) in enumerate(chunk)]
            rid = self.ids.get(self.realm, "tracking",
                               [f"{w.idempotency_key}@{body['SyncToken']}" for _, w, _, body, _ in chunk])
            answers = self.api.batch(items, request_id=rid)
            if any("Fault" in answer for answer in answers.values()):
                self.ids.refused(rid)
            for n, (key, w, ref, _, doc) in enumerate(chunk):
                error = item_error(answers.get(f"t{n}", {}))
                if error is None:
                    results[key] = WriteResult(key, ok=True, target_id=w.target_ref, target_number=doc.get("DocNumber"))
                elif isinstance(error, QuickBooksFault) and error.code == "5010":
                    stale[key] = (w, ref)
                else:
                    results[key] = WriteResult(key, ok=False, error=str(error), retriable=isinstance(error, RetriableAPIError))
        return stale


def _one_per_document(pending: dict[str, tuple[TrackingWrite, tuple[str, str]]], results: dict[str, WriteResult]) -> None:
    """A document carries one tracking number: of several shipments for it (the parts of a split order),
    only the latest (by ship date, then tracking number) is written, whatever the batch, so a rerun
    does not write the document back and forth; the others are answered with a note saying so."""
    def rank(w: TrackingWrite) -> tuple:
        return (w.shipment.ship_date or date.min, w.shipment.tracking_number or "")

    latest: dict[tuple[str, str], TrackingWrite] = {}
    for w, ref in pending.values():
        if ref not in latest or rank(w) > rank(latest[ref]):
            latest[ref] = w
    for key, (w, ref) in list(pending.items()):
        kept = latest[ref]
        if kept is not w:
            del pending[key]
            results[key] = WriteResult(key, ok=True, duplicate=True, target_id=w.target_ref,
                                       note=f"the document carries one tracking number: the later shipment's "
                                            f"({kept.shipment.tracking_number}, shipped {kept.shipment.ship_date})")


def _parse(ref: str):
    try:
        return mapping.parse_ref(ref)
    except ValueError:
        return None
