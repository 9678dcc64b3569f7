"""Reading QuickBooks webhook deliveries, in both formats Intuit has sent.

Source: ``shared/reference/api-changes-2025-2026.md`` section 1 (Intuit's 2025-11-12 announcement [Q1], the
webhooks data-objects and best-practices pages [Q6], [Q8], Intuit's migration prompt library [Q9]).

* **CloudEvents** (mandatory since mid-2026): the body is a JSON **array**; each element has ``specversion``,
  ``id`` (Intuit resends the same id when it retries: de-duplicate on it), ``type`` =
  ``qbo.<entity>.<operation>.v1`` (``qbo.invoice.created.v1``), ``intuitentityid`` (the entity's Id) and
  ``intuitaccountid`` (the company's realm id). One delivery may mix companies: each element is routed by its own
  ``intuitaccountid``. Operations seen: created, updated, deleted, merged, void (also spelled voided), emailed.
* **Legacy**: ``{"eventNotifications": [{"realmId": ..., "dataChangeEvent": {"entities": [{"name", "id",
  "operation"}]}}]}``; still accepted.

One element Connex cannot read never spoils the others (Intuit: "never reject a whole delivery over one
unmodelled event"); a body that is neither format is refused.
"""

from __future__ import annotations

import json
from typing import Any

from connex_core.api import WebhookRejected

#: Entities that are orders to Connex, and the operations after which the document is worth reading.
ENTITIES = {"invoice": "Invoice", "salesreceipt": "SalesReceipt"}
OPERATIONS = {"create", "created", "update", "updated"}


def _cloudevent_refs(events: list[Any]) -> list[tuple[str, str, str, str]]:
    """(realm, entity, id, event id) of each readable CloudEvent about an invoice or sales receipt."""
    out = []
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("type")
        if not isinstance(kind, str):
            continue
        parts = kind.split(".")
        if len(parts) < 3 or parts[0] != "qbo":
            continue
        entity, operation = ENTITIES.get(parts[1].lower()), parts[2].lower()
        entity_id, realm = event.get("intuitentityid"), event.get("intuitaccountid")
        if entity and operation in OPERATIONS and isinstance(entity_id, (str, int)) and isinstance(realm, (str, int)):
            out.append((str(realm), entity, str(entity_id), str(event.get("id") or "")))
    return out


def _legacy_refs(body: dict) -> list[tuple[str, str, str, str]]:
    out = []
    notifications = body.get("eventNotifications")
    if not isinstance(notifications, list):
        raise WebhookRejected("QuickBooks webhook body has no eventNotifications list")
    for n in notifications:
        if not isinstance(n, dict):
            continue
        change = n.get("dataChangeEvent")
        entities = change.get("entities") if isinstance(change, dict) else None
        for e in entities if isinstance(entities, list) else []:
            if not isinstance(e, dict):
                continue
            name = e.get("name")
            op = str(e.get("operation", "")).lower()
            if name in ("Invoice", "SalesReceipt") and op in OPERATIONS and isinstance(e.get("id"), (str, int)):
                out.append((str(n.get("realmId")), name, str(e["id"]), ""))
    return out


def delivery_refs(body: bytes) -> list[tuple[str, str, str, str]]:
    """Every (realm, entity, id, event id) a delivery names, whichever format it is in."""
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise WebhookRejected("QuickBooks webhook body is not JSON") from None
    if isinstance(data, list):
        return _cloudevent_refs(data)
    if isinstance(data, dict):
        if data.get("specversion"):  # a single CloudEvent (structured mode), not in an array
            return _cloudevent_refs([data])
        return _legacy_refs(data)
    raise WebhookRejected("QuickBooks webhook body is neither a CloudEvents array nor eventNotifications")


def changed_documents(body: bytes, realm: str) -> list[tuple[str, str]]:
    """The (entity, id) pairs of ``realm``'s invoices and sales receipts a delivery says were created or
    changed, each once (a retried event id counts once), sorted."""
    return sorted({(entity, entity_id) for r, entity, entity_id, _ in delivery_refs(body) if r == str(realm)})


def realms(body: bytes) -> set[str]:
    """The companies a delivery speaks of (to route it to the connections of those companies)."""
    try:
        return {r for r, *_ in delivery_refs(body)}
    except WebhookRejected:
        return set()
