"""Which booked orders' invoices Xero still holds (``connex report``, ``connex resync``), read-only.

Each invoice is read by the InvoiceID the ledger recorded (``OrderWrite.target_ref``): ``GET /Invoices?IDs=...``,
50 ids a call (api-contracts §3.3, xero_accounting.yaml ``getInvoices``), without line items (``summaryOnly``).
An invoice is gone when Xero no longer answers it, or holds it ``VOIDED`` or ``DELETED`` (api-contracts §3.2): it
no longer books the sale. The write path's look-up by InvoiceNumber (``find_orders``) counts a voided invoice as
there, so as not to post its number twice; it is asked here only for writes without a recorded id, and what it
finds is read by id like the others.
"""

from __future__ import annotations

from typing import Any, Callable

from connex_core.api import Found, OrderWrite, batched

from .client import XeroClient, records

GONE = ("VOIDED", "DELETED")
ID_BATCH = 50


def find_booked(client: XeroClient, writes: list[OrderWrite],
                by_number: Callable[[list[OrderWrite]], dict[str, Found]]) -> dict[str, Found]:
    """``{order key: Found}`` for the writes whose invoice Xero holds, neither voided nor deleted."""
    ids = {w.key: w.target_ref for w in writes if w.target_ref}
    unknown = [w for w in writes if not w.target_ref]
    for key, hit in (by_number(unknown) if unknown else {}).items():
        ids[key] = hit.target_id
    invoices: dict[str, dict[str, Any]] = {}
    for chunk in batched(sorted({i.lower() for i in ids.values()}), ID_BATCH):
        data = client.call("read booked invoices", "get_invoices", i_ds=chunk, summary_only=True)
        for invoice in records(data, "Invoices", "read booked invoices"):
            invoices[str(invoice.get("InvoiceID", "")).lower()] = invoice
    found: dict[str, Found] = {}
    for key, ident in ids.items():
        invoice = invoices.get(ident.lower())
        if invoice is not None and invoice.get("Status") not in GONE:
            found[key] = Found(target_id=invoice["InvoiceID"], target_number=invoice.get("InvoiceNumber"),
                               description=f"{invoice.get('Status')} invoice, total {invoice.get('Total')}")
    return found
