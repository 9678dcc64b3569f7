"""QuickBooks as a source: invoices and sales receipts changed since the cursor, as canonical orders.

One query per document type on ``MetaData.LastUpdatedTime`` (the incremental cursor) and
``MetaData.CreateTime`` or ``LastUpdatedTime`` for the user's window, paged with
``STARTPOSITION``/``MAXRESULTS`` and sorted by ``LastUpdatedTime``. Filtered by class (the
``class`` source option) and, by default, leaving out documents that already carry a tracking
number (they have shipped). The items' SKUs come from one ``Id IN (...)`` query per page.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator

from connex_core.api import FetchQuery
from connex_core.api import DocumentType, Order

from . import mapping, resolve
from .client import QuickBooksAPI
from .options import SourceOptions
from .qbquery import quote

ENTITY_OF_TYPE = {"invoice": "Invoice", "sales_receipt": "SalesReceipt"}
ID_CHUNK = 100


def _stamp(when: datetime) -> str:
    """A datetime as QuickBooks compares it (ISO 8601 with offset)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.isoformat(timespec="seconds")


def passes(order: Order, opts: SourceOptions) -> bool:
    """The source filters: document type, class, and (unless asked) no document that already shipped."""
    kind = "invoice" if order.document_type == DocumentType.invoice else "sales_receipt"
    if kind not in opts.document_types:
        return False
    if order.shipment is not None and order.shipment.tracking_number and not opts.include_tracked:
        return False
    return opts.class_name is None or (order.class_name or "").lower() == opts.class_name.lower()


def where_clause(query: FetchQuery) -> str:
    conds = []
    if query.modified_since:
        conds.append(f"MetaData.LastUpdatedTime >= {quote(_stamp(query.modified_since))}")
    window = "MetaData.LastUpdatedTime" if query.date_field == "modified" else "MetaData.CreateTime"
    if query.since:
        conds.append(f"{window} >= {quote(_stamp(query.since))}")
    if query.until:
        conds.append(f"{window} < {quote(_stamp(query.until))}")
    return (" WHERE " + " AND ".join(conds)) if conds else ""


class DocumentReader:
    """Reads documents page by page and maps them, resolving item SKUs with a per-reader cache."""

    def __init__(self, api: QuickBooksAPI):
        self.api = api
        self._skus: dict[str, str] = {}

    def orders(self, query: FetchQuery) -> Iterator[Order]:
        opts = SourceOptions.parse(query.options, "source_options")
        where = where_clause(query)
        for kind in opts.document_types:
            entity = ENTITY_OF_TYPE[kind]
            select = f"select * from {entity}{where} ORDERBY MetaData.LastUpdatedTime"
            page: list[dict[str, Any]] = []
            for doc in self.api.query_all(select, entity, opts.page_size):
                if passes(mapping.order_from_document(entity, doc), opts):
                    page.append(doc)
                if len(page) >= opts.page_size:
                    yield from self._map(entity, page)
                    page = []
            yield from self._map(entity, page)

    def by_ids(self, refs: list[tuple[str, str]]) -> list[Order]:
        """The documents ``[("Invoice", "130"), ...]`` as orders (one batch of ``Id IN`` queries)."""
        wanted: resolve.Wanted = {}
        for entity, ident in refs:
            resolve.want(wanted, entity, "Id", ident)
        found = resolve.lookup(self.api, wanted)
        orders = []
        for entity in ("Invoice", "SalesReceipt"):
            docs = [doc for e, i in refs if e == entity and (doc := resolve.get(found, e, "Id", i)) is not None]
            orders += list(self._map(entity, docs))
        return orders

    def _map(self, entity: str, docs: list[dict[str, Any]]) -> Iterator[Order]:
        self._load_skus(docs)
        for doc in docs:
            yield mapping.order_from_document(entity, doc, self._skus)

    def _load_skus(self, docs: list[dict[str, Any]]) -> None:
        ids = sorted({str(ref["value"]) for doc in docs for line in doc.get("Line") or []
                      if (ref := (line.get("SalesItemLineDetail") or {}).get("ItemRef"))
                      and ref.get("value") not in (None, mapping.SHIPPING_ITEM_ID)} - set(self._skus))
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ", ".join(quote(i) for i in ids[start:start + ID_CHUNK])
            for item in self.api.query(f"select * from Item where Id IN ({chunk}) MAXRESULTS 1000").get("Item", []):
                self._skus[str(item["Id"])] = item.get("Sku") or ""
        for ident in ids:
            self._skus.setdefault(ident, "")


def parse_payload(payload: Any) -> Iterator[Order]:
    """Canonical orders from a saved QuickBooks answer (a query response, one document, or a list)."""
    if isinstance(payload, list):
        for entry in payload:
            yield from parse_payload(entry)
        return
    if not isinstance(payload, dict):
        raise ValueError("expected a QuickBooks JSON object or list")
    container = payload.get("QueryResponse", payload)
    for entity in ("Invoice", "SalesReceipt"):
        value = container.get(entity)
        for doc in value if isinstance(value, list) else [value] if value else []:
            yield mapping.order_from_document(entity, doc)
