"""The records a connector exchanges with the engine: the context it is built with, what to read
(:class:`FetchQuery`), what to write (:class:`OrderWrite`, :class:`TrackingWrite`), what happened
(:class:`WriteResult`, with the records it made on the side: :class:`Created`), what the target holds (:class:`Found`), an order a source cannot read
(:class:`UnreadableOrder`) and what a webhook said (:class:`WebhookEvent`).
:mod:`connex_core.connector` re-exports them; plugins take them from :mod:`connex_core.api`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .models import Order, Shipment

if TYPE_CHECKING:
    from .tokens import TokenStore


@dataclass
class ConnectorContext:
    """What the engine hands a connector when it builds one."""

    connection: str
    """The connection's name in the config (``[connections.NAME]``)."""
    state_dir: Path
    """Folder for the connector's own files (tokens live here, mode 0600)."""
    dry_run: bool = False
    tokens: Optional["TokenStore"] = None
    """Where OAuth tokens are kept (rotated refresh tokens are written here before use)."""
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("connex.connector"))
    options: dict[str, Any] = field(default_factory=dict)
    """Extra process-wide options (the sandbox clock, for example)."""


@dataclass
class FetchQuery:
    """What to read from a source.

    ``modified_since`` is the incremental cursor (minus the task's overlap); ``since``/``until``
    are the user's window on the date the task selects by (``date_field``), already timezone-aware.
    ``options`` is the task's ``[tasks.NAME.source]`` table (filters such as ``status``).
    """

    modified_since: Optional[datetime] = None
    since: Optional[datetime] = None
    until: Optional[datetime] = None
    date_field: str = "created"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class OrderWrite:
    """One order to write to a target, with the idempotency key the ledger recorded for it."""

    order: Order
    idempotency_key: str
    options: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""
    """``order.content_hash()`` as the engine computed it (once per write: it serialises the whole order)."""
    target_ref: Optional[str] = None
    """The document written for this order before (the ledger's ``target_id``): :meth:`Connector.cancel_orders`,
    :meth:`Connector.update_orders`, and :meth:`Connector.find_booked` (the document to look for; None when the
    ledger recorded none)."""
    replaces: Optional[str] = None
    """A document of this order that is no longer its booking (``connex undo`` voided it, or ``connex resync`` found
    it voided by hand; it keeps its number): not a duplicate for ``write_orders``."""
    undo: bool = False
    """``cancel_orders`` for ``connex undo`` (``order``: the version booked): a document changed since Connex wrote
    it (paid, edited, shipped) is left, answered as an error saying what changed."""
    change: str = "edit"
    """:meth:`Connector.update_orders`: what brings the booked document to ``order``. ``"edit"``: the sale changed in
    the source (an amount, a line, an address): a document with money received on it is not changed (held with the
    reason). ``"payment"``: only the amount paid changed, the sale is the same: the payment of the difference, the
    document left as it is. ``"split"``: a split child's lines added to its parent's document, the sale made whole
    (not an edit): allowed wherever the target lets the document change."""
    booked: Optional[Order] = None
    """:meth:`Connector.update_orders`: the version the document was booked from (after the rules), when known."""

    @property
    def key(self) -> str:
        return self.order.key


@dataclass
class TrackingWrite:
    """One shipment to write back onto the target document ``target_ref``."""

    shipment: Shipment
    target_ref: str
    """The target's own id of the document (for example the QuickBooks invoice id)."""
    idempotency_key: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.shipment.key


@dataclass
class Created:
    """A record a connector created in the target beside an order's document (a customer, an item, a contact),
    reported in :attr:`WriteResult.created` so ``connex undo`` can list it (it deletes documents, not these)."""

    kind: str
    """What the target calls it: ``"Customer"``, ``"Item"``, ``"Contact"``."""
    target_id: str
    """The target's own id of it."""
    name: Optional[str] = None
    """Its name as the target shows it."""


@dataclass
class WriteResult:
    """What happened to one write.

    ``ok`` with ``target_id`` when written; ``duplicate`` when the target already had it (nothing
    written); ``error`` with ``retriable`` when it failed. ``note`` is shown in the transaction log
    (for example "shipping cost not added: invoice is paid"). ``created``: what the connector created in the
    target for this order besides the document (a new customer or item; never one it found there), whether the
    document was written or not; each record is reported once, on one order's result (optional: default none).
    """

    key: str
    ok: bool
    target_id: Optional[str] = None
    target_number: Optional[str] = None
    duplicate: bool = False
    error: Optional[str] = None
    retriable: bool = False
    note: Optional[str] = None
    created: list[Created] = field(default_factory=list)


@dataclass
class Found:
    """A document found in the target by :meth:`Connector.find_orders` (duplicate detection and reconciliation)."""

    target_id: str
    target_number: Optional[str] = None
    description: Optional[str] = None
    missing: Optional[str] = None
    """What of the order's booking (one unit: document, payment, follow-up writes) the target lacks, for
    example ``"payment of 12.50"``: set when the document is there but a write after it is not (a crash
    between the two). The engine completes the unit with :meth:`Connector.write_follow_ups`."""
    day: Optional[date] = None
    """:meth:`Connector.list_documents`: the document's own date, as the target keeps it."""


@dataclass
class UnreadableOrder:
    """An order a source found but cannot read (a malformed row of a file, say). ``fetch_orders`` may yield one in
    the order's place: the run counts it as failed, logs ``reason`` against the order's number (so ``connex run``
    exits with :attr:`~connex_core.errors.ExitCode.ORDERS_FAILED`) and goes on with the others. Nothing is written
    for it and nothing is kept to retry: the source offers the order again, read, once it is fixed."""

    source: str
    source_id: str
    number: Optional[str]
    reason: str

    @property
    def key(self) -> str:
        return f"{self.source}:{self.source_id}"


@dataclass
class WebhookEvent:
    """What a verified webhook says: which kind of event, and what it carried (when the connector fetched it)."""

    kind: str
    orders: Optional[list[Order]] = None
    shipments: Optional[list[Shipment]] = None
    reply: Optional[bytes] = None
    """A body to answer with (some APIs expect an echo); empty 200 otherwise."""


def verify_hmac_sha256(body: bytes, key: str, signature_b64: Optional[str]) -> bool:
    """Check a base64 HMAC-SHA256 signature of ``body`` (QuickBooks ``intuit-signature``, Xero ``x-xero-signature``)."""
    if not signature_b64 or not key:
        return False
    expected = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest())
    # As bytes: a header with characters outside ASCII simply does not match (compare_digest refuses such str).
    given = signature_b64.strip().encode("utf-8", "surrogateescape")
    return hmac.compare_digest(expected, given)
