"""The Xero connector: sales invoices as a source of orders, a target for invoices, and a target for tracking.

* :meth:`XeroConnector.fetch_orders`: ACCREC invoices changed since the cursor
  (``If-Modified-Since``), with the task's ``statuses`` (default AUTHORISED), in the user's
  ``since``/``until`` window of invoice dates (whole days), 100 a page, and their contacts fetched
  50 ids at a time for the addresses.
* :meth:`XeroConnector.write_orders`: contacts matched by name or created (one batched call),
  then all invoices in one ``PUT /Invoices?summarizeErrors=false`` with an ``Idempotency-Key``;
  each element's status gives that order's result ("Invoice # must be unique" is a duplicate).
* :meth:`XeroConnector.write_tracking`: the shipping cost as a line where the invoice can still be
  edited (one batched update), then a history note with tracking number, carrier and ship date
  (any status, paid included).
* :meth:`XeroConnector.handle_webhook`: Xero's signed INVOICE events, fetched as orders.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from datetime import date
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Optional

from connex_core.api import countries
from connex_core.api import (Capability, Connector, ConnectorContext, Created, FetchQuery, Found, OrderWrite,
                                   TrackingWrite, WebhookEvent, WriteResult, batched)
from connex_core.api import ConfigurationError, FatalAPIError, RetriableAPIError, WebhookRejected
from connex_core.api import Order
from connex_core.api import PageNumberPaginator, PagingLoopError
from connex_core.api import TokenStore
from connex_core.api import hmac_sha256_ok
from connex_core.api import authorize_address as address_of

from .auth import XeroAuth
from .client import NotFound, XeroClient, make_pool, records, validation_messages
from .connect_flow import authorize, finish
from .msdate import parse_ms_date
from .mapping import (amount_to_pay, contact_name, contact_to_xero, has_note, invoice_to_xero, order_from_xero,
                      payment_to_xero, shipping_cost_line,
                      tracking_note, tracking_reference)
from .options import DATE_FIELDS, SourceOptions, TargetOptions
from .settings import XeroSettings

PAGE_SIZE = 100
ID_BATCH = 50
NAME_BATCH = 10
#: Contacts read for invoices' addresses are reused for this many seconds, the last CONTACT_MEMORY of them.
CONTACT_TTL = 600.0
CONTACT_MEMORY = 5000
EDITABLE = {"DRAFT", "SUBMITTED", "AUTHORISED"}
DUPLICATE = "Invoice # must be unique."
TRACKING_NOTE_MODES = ("always", "when_not_editable")
TRACKING_NOTE_DEFAULT = "when_not_editable"  # the economical mode (options.TargetOptions.tracking_note)
#: Xero's limit on an invoice's Reference.
REFERENCE_LIMIT = 255
KEPT_LINE_FIELDS = ("LineItemID", "Description", "Quantity", "UnitAmount", "ItemCode", "AccountCode", "TaxType",
                    "TaxAmount", "DiscountRate", "DiscountAmount", "Tracking")


def idempotency_key(kind: str, keys: Iterable[str]) -> str:
    """A deterministic ``Idempotency-Key`` (≤128 characters) for one write of these ledger keys."""
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()
    return f"connex-{kind}-{digest}"[:128]


def _statuses(value: Any) -> list[str]:
    """The task's ``statuses`` option as Xero's status names: a list, or one comma-separated text."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return [str(s).strip().upper() for s in items if str(s).strip()]


def _note(result: WriteResult, text: str) -> None:
    result.note = f"{result.note}; {text}" if result.note else text


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class XeroConnector(Connector):
    """Xero Accounting through xero-python (see the module docstring)."""

    name = "xero"
    title = "Xero"
    settings_model = XeroSettings
    source_options_model = SourceOptions
    target_options_model = TargetOptions
    date_fields = DATE_FIELDS
    capabilities = frozenset({Capability.READ_ORDERS, Capability.WRITE_ORDERS, Capability.WRITE_TRACKING})
    write_batch_size = 50
    numbers_ignore_case = True
    """InvoiceNumbers are looked up ignoring case (:meth:`find_orders`; the simulator's "Invoice # must be unique.")."""

    def __init__(self, settings: XeroSettings, ctx: ConnectorContext):
        super().__init__(settings, ctx)
        self.settings: XeroSettings = settings
        http = make_pool(settings.timeout)
        store = ctx.tokens or TokenStore(ctx.state_dir, ctx.connection)
        self.auth = XeroAuth(settings, store, http, self.clock, ctx.connection)
        self.client = XeroClient(settings, self.auth, self.clock, ctx.connection, http)
        self._http = http
        self._items: Optional[set[str]] = None
        self._contacts: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        """ContactID -> (when it was read, the contact), for :meth:`_contacts_of`."""
        self._made: dict[str, Created] = {}
        """ContactID -> a contact :meth:`_contacts_for` created, until it is reported on an order's result."""

    # -- lifecycle --------------------------------------------------------------------------------
    def connect(self, *, port: int = 0, open_browser: bool = False, echo: Callable[[str], None] = print,
                input_fn: Callable[[str], str] = input, redirect_uri: Optional[str] = None) -> str:
        return authorize(self, port, open_browser, echo, input_fn,
                         redirect_uri=redirect_uri or (None if port else self.settings.redirect_uri))

    def authorize_address(self, redirect_uri: str, state: str) -> str:
        return address_of(self.auth.app, redirect_uri, state)

    def finish_connect(self, answer: dict[str, str], redirect_uri: str) -> str:
        return finish(self, answer, redirect_uri)

    def check(self) -> str:
        tenant = self.client.tenant_id
        names = {t["tenantId"]: t.get("tenantName") for t in self.client.connections()}
        if tenant not in names:
            raise FatalAPIError(f"Xero organisation {tenant} is not connected to this app: "
                                f"reconnect with `connex connect {self.ctx.connection}`", connector="xero")
        return f"connected to {names[tenant]}"

    def close(self) -> None:
        self._http.clear()

    def api_budgets(self) -> list:
        """Xero's day (``X-DayLimit-Remaining``) and minute for the organisation, without a call (nor a refresh)."""
        try:
            stored = (self.ctx.tokens.load() if self.ctx.tokens else None) or {}
        except ConfigurationError:  # a damaged token file: the runs say so
            stored = {}
        tenant = self.client._tenant or stored.get("tenant_id")
        return self.client.budgets(str(tenant)) if tenant else []

    # -- reading ---------------------------------------------------------------------------------
    def fetch_orders(self, query: FetchQuery) -> Iterator[Order]:
        statuses = _statuses(query.options.get("statuses", query.options.get("status", ["AUTHORISED", "PAID"])))
        where = ['Type=="ACCREC"']
        for bound, op in ((query.since, ">="), (query.until, "<=")):
            if bound is not None:
                where.append(f"Date{op}DateTime({bound.year},{bound.month:02d},{bound.day:02d})")
        params: dict[str, Any] = {"where": " AND ".join(where), "order": "UpdatedDateUTC ASC"}
        if statuses:
            params["statuses"] = statuses
        if query.modified_since is not None:
            params["if_modified_since"] = query.modified_since
        def fetch(page: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            data = self.client.call(f"list invoices (page {page})", "get_invoices", page=page, **params)
            return data, records(data, "Invoices", f"list invoices (page {page})")

        paginator = PageNumberPaginator(items=lambda answer: answer[1], page_size=PAGE_SIZE,
                                        page_count=lambda answer: (answer[0].get("pagination") or {}).get("pageCount"),
                                        fingerprint=lambda answer: answer[1][0].get("InvoiceID") if answer[1] else None)
        try:
            for _data, invoices in paginator.pages(fetch):
                contacts = self._contacts_of(invoices)
                for invoice in invoices:
                    yield order_from_xero(invoice, contacts.get((invoice.get("Contact") or {}).get("ContactID", "")),
                                          self.settings)
        except PagingLoopError as exc:
            raise FatalAPIError(f"Xero invoices listing: {exc}; stopping instead of reading forever",
                                connector="xero") from None

    def _contacts_of(self, invoices: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The invoices' contacts by id: from memory when read in the last CONTACT_TTL seconds (the next run's
        overlap re-reads the same invoices), else fetched; the last CONTACT_MEMORY contacts are kept."""
        now = self.clock.now()
        ids = {i["Contact"]["ContactID"] for i in invoices if i.get("Contact")}
        found: dict[str, dict[str, Any]] = {}
        for contact_id in ids:
            memo = self._contacts.get(contact_id)
            if memo is not None and now - memo[0] <= CONTACT_TTL:
                found[contact_id] = memo[1]
        fetched: dict[str, dict[str, Any]] = {}
        self._load_contacts(ids - set(found), fetched)
        for contact_id, contact in fetched.items():
            self._contacts[contact_id] = (now, contact)
            self._contacts.move_to_end(contact_id)
        while len(self._contacts) > CONTACT_MEMORY:
            self._contacts.popitem(last=False)
        return {**found, **fetched}

    def _load_contacts(self, ids: set[str], into: dict[str, dict[str, Any]]) -> None:
        """Fetch the contacts not yet in ``into``, 50 ids a call (their addresses are the orders')."""
        missing = sorted(i for i in ids if i not in into)
        for chunk in batched(missing, ID_BATCH):
            data = self.client.call("fetch contacts", "get_contacts", i_ds=chunk)
            for contact in data.get("Contacts") or []:
                into[contact["ContactID"]] = contact

    def parse_orders(self, payload: Any) -> Iterator[Order]:
        """Orders from a saved ``GET /Invoices`` response (optionally with a ``Contacts`` list beside it)."""
        contacts = {c["ContactID"]: c for c in (payload.get("Contacts") or [])}
        for invoice in payload.get("Invoices") or []:
            if invoice.get("Type", "ACCREC") == "ACCREC":
                contact_id = (invoice.get("Contact") or {}).get("ContactID", "")
                yield order_from_xero(invoice, contacts.get(contact_id), self.settings)

    def verify_webhook(self, headers: dict[str, str], body: bytes, secret: Optional[str]) -> Optional[bytes]:
        """The ``x-xero-signature`` header: base64 HMAC-SHA256 of the body with the webhook key. A bad one is
        refused with 401, as Xero's "intent to receive" check expects."""
        key = self.settings.webhook_key.get_secret_value() if self.settings.webhook_key else ""
        if not hmac_sha256_ok(body, key, headers.get("x-xero-signature")):
            raise WebhookRejected("Xero webhook signature does not verify (check webhook_key)")
        return None

    def read_webhook(self, headers: dict[str, str], body: bytes) -> WebhookEvent:
        """Fetch the sales invoices a verified delivery names, as orders. An empty event list is Xero's
        "intent to receive" check: nothing to do."""
        try:
            events = json.loads(body or b"{}").get("events") or []
            if not isinstance(events, list):
                raise TypeError
            events = [e for e in events if isinstance(e, dict)]
        except (ValueError, AttributeError, TypeError):
            raise WebhookRejected("Xero webhook body is not a JSON object with a list of events") from None
        tenant = self.client.tenant_id.lower()
        ids = sorted({str(e["resourceId"]) for e in events if e.get("eventCategory") == "INVOICE"
                      and str(e.get("tenantId", "")).lower() == tenant and e.get("resourceId")})
        if not ids:
            return WebhookEvent(kind="intent" if not events else "other", orders=[])
        invoices: list[dict[str, Any]] = []
        for chunk in batched(ids, ID_BATCH):
            data = self.client.call("fetch changed invoices", "get_invoices", i_ds=chunk, page=1)
            invoices += [i for i in data.get("Invoices") or [] if i.get("Type") == "ACCREC"]
        contacts: dict[str, dict[str, Any]] = {}
        self._load_contacts({i["Contact"]["ContactID"] for i in invoices if i.get("Contact")}, contacts)
        orders = [order_from_xero(i, contacts.get(i["Contact"]["ContactID"]), self.settings) for i in invoices]
        return WebhookEvent(kind="invoices", orders=orders)

    # -- writing orders --------------------------------------------------------------------------
    def cancel_orders(self, writes: list[OrderWrite]) -> list[WriteResult]:
        """Void (DRAFT: delete) the unpaid invoices of orders cancelled after booking; a paid one is refused."""
        from .cancel import cancel

        return cancel(self.client, writes) if writes else []

    def list_documents(self, first: date, last: date, options: dict[str, Any]) -> Iterator[Found]:
        """Sales invoices (ACCREC) dated ``first..last``; voided and deleted ones left out."""
        where = (f'Type=="ACCREC" AND Date>=DateTime({first.year},{first.month:02d},{first.day:02d}) '
                 f'AND Date<=DateTime({last.year},{last.month:02d},{last.day:02d})')
        statuses = ["DRAFT", "SUBMITTED", "AUTHORISED", "PAID"]

        def fetch(page: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            data = self.client.call(f"list invoices by date (page {page})", "get_invoices", page=page, where=where,
                                    statuses=statuses, order="Date ASC")
            return data, records(data, "Invoices", f"list invoices (page {page})")

        paginator = PageNumberPaginator(items=lambda answer: answer[1], page_size=PAGE_SIZE,
                                        page_count=lambda answer: (answer[0].get("pagination") or {}).get("pageCount"),
                                        fingerprint=lambda answer: answer[1][0].get("InvoiceID") if answer[1] else None)
        for _data, invoices in paginator.pages(fetch):
            for invoice in invoices:
                when = parse_ms_date(invoice.get("DateString") or invoice.get("Date"))
                day = when.date() if when is not None else None
                yield Found(target_id=invoice["InvoiceID"], target_number=invoice.get("InvoiceNumber"),
                            description=f"{invoice.get('Status')} invoice, total {invoice.get('Total')}", day=day)

    def update_orders(self, writes: list[OrderWrite]) -> list[WriteResult]:
        """Bring booked invoices to their orders' new versions while Xero lets them change (see :mod:`.update`)."""
        from .update import update

        return update(self, writes) if writes else []

    def find_orders(self, writes: list[OrderWrite]) -> dict[str, Found]:
        by_key = {w.key: w for w in writes}
        by_number: dict[str, list[str]] = {}
        for write in writes:
            by_number.setdefault(write.order.number.lower(), []).append(write.key)
        found: dict[str, Found] = {}
        for chunk in batched(sorted(by_number), ID_BATCH):
            data = self.client.call("look up invoice numbers", "get_invoices", invoice_numbers=chunk,
                                    where='Type=="ACCREC"')
            for invoice in data.get("Invoices") or []:
                if invoice.get("Status") == "DELETED":
                    continue  # a deleted invoice's number may be used again
                for key in by_number.get(str(invoice.get("InvoiceNumber", "")).lower(), []):
                    found[key] = Found(target_id=invoice["InvoiceID"], target_number=invoice.get("InvoiceNumber"),
                                       description=f"{invoice.get('Status')} invoice, total {invoice.get('Total')}",
                                       missing=self._payment_missing(by_key[key], invoice))
        return found

    def find_booked(self, writes: list[OrderWrite]) -> dict[str, Found]:
        """The booked invoices Xero still holds, read by the InvoiceIDs the ledger recorded (``GET /Invoices?IDs=``);
        a voided or deleted one is gone, which :meth:`find_orders` does not say (see :mod:`.booked`)."""
        from .booked import find_booked

        return find_booked(self.client, writes, self.find_orders) if writes else {}

    @staticmethod
    def _payment_missing(write: OrderWrite, invoice: dict[str, Any]) -> Optional[str]:
        """The payment an invoice found in Xero still lacks (``record_payments``, the order paid something,
        the invoice is AUTHORISED and nothing of it is paid: the booking records one payment, so any is it)."""
        amount = amount_to_pay(write.order)
        if (not write.options.get("record_payments") or amount <= 0 or invoice.get("Status") != "AUTHORISED"
                or float(invoice.get("AmountPaid") or 0) != 0):
            return None
        return f"payment of {amount}"

    def write_follow_ups(self, items: list[tuple[OrderWrite, Found]]) -> list[WriteResult]:
        """Complete bookings found without their payment (a crash between the invoice and its payment): the
        invoices are read again, and each still unpaid one gets its payment, with an ``Idempotency-Key`` of
        its own ("payment-completion")."""
        results: dict[str, WriteResult] = {}
        fresh = self.find_orders([w for w, _ in items])
        created = []
        for write, hit in items:
            now = fresh.get(write.key)
            if now is None or now.target_id != hit.target_id:
                results[write.key] = WriteResult(write.key, ok=False, retriable=True,
                                                  error=f"invoice {hit.target_number} changed in Xero since it was found")
                continue
            results[write.key] = WriteResult(write.key, ok=True, target_id=hit.target_id, target_number=hit.target_number)
            if now.missing is None:
                results[write.key].note = "payment already recorded"
            else:
                created.append((write, {"InvoiceID": hit.target_id, "Status": "AUTHORISED"}))
        self._record_payments(created, results, kind="payment-completion")
        for write, _ in created:
            result = results[write.key]
            if "not recorded" in (result.note or ""):  # the invoice stays found without its payment: next run
                results[write.key] = WriteResult(write.key, ok=False, retriable=True, error=result.note)
        return [results[w.key] for w, _ in items]

    def write_orders(self, writes: list[OrderWrite]) -> list[WriteResult]:
        results: dict[str, WriteResult] = {}
        for write in writes:  # a country that is none fails its order, naming the value and the field
            if problems := countries.order_problems(write.order):
                results[write.key] = WriteResult(write.key, ok=False, error="; ".join(problems))
        first_of: dict[str, OrderWrite] = {}
        twins: list[OrderWrite] = []  # the same InvoiceNumber as an earlier order of the batch (a split's part)
        for write in writes:
            if write.key not in results:
                if write.order.number.lower() in first_of:
                    twins.append(write)
                else:
                    first_of[write.order.number.lower()] = write
        twin_keys = {w.key for w in twins}
        contact_ids = self._contacts_for([w for w in writes if w.key not in results and w.key not in twin_keys], results)
        pending = [w for w in writes if w.key not in results and w.key not in twin_keys]
        if pending:
            known = self._known_items()
            body = {"Invoices": [invoice_to_xero(w.order, self.settings, contact_ids[contact_name(w.order).lower()],
                                                 known) for w in pending]}
            data = self.client.call("create invoices", "create_invoices", body, summarize_errors=False, unitdp=4,
                                    # with each order's content: Xero refuses a key sent again with another body, and
                                    # an edited order is guarded by the InvoiceNumber look-up (find_orders)
                                    idempotency_key=idempotency_key("invoices", [f"{w.idempotency_key}:{w.content_hash}"
                                                                                for w in pending]))
            answers = records(data, "Invoices", "create invoices")
            created: list[tuple[OrderWrite, dict[str, Any]]] = []
            if len(answers) != len(pending):
                raise FatalAPIError(f"Xero answered {len(answers)} invoices for {len(pending)} sent", connector="xero")
            duplicates = []
            for write, answer in zip(pending, answers):
                messages = validation_messages([answer])
                if answer.get("StatusAttributeString") == "ERROR" or (answer.get("HasErrors") and messages):
                    if DUPLICATE in messages:
                        duplicates.append(write)
                    else:
                        results[write.key] = WriteResult(write.key, ok=False, error="; ".join(messages) or "rejected")
                else:
                    results[write.key] = WriteResult(write.key, ok=True, target_id=answer["InvoiceID"],
                                                     target_number=answer.get("InvoiceNumber"))
                    created.append((write, answer))
            self._record_payments(created, results)
            if duplicates:
                found = self.find_orders(duplicates)
                for write in duplicates:
                    hit = found.get(write.key)
                    if hit is not None and hit.target_id == write.replaces:  # the voided invoice keeps its number
                        results[write.key] = WriteResult(write.key, ok=False, error=(
                            f"Xero refuses InvoiceNumber {write.order.number} again ({DUPLICATE}): the voided invoice "
                            f"{hit.target_number or hit.target_id} keeps it; give the order another number with a rule"))
                        continue
                    results[write.key] = WriteResult(
                        write.key, ok=hit is not None, duplicate=hit is not None,
                        target_id=hit.target_id if hit else None, target_number=hit.target_number if hit else None,
                        error=None if hit else DUPLICATE)
        for write in twins:  # one invoice per number, whatever Xero's own check says: the twin shares its fate
            first = results.get(first_of[write.order.number.lower()].key)
            if first is not None and first.ok:
                results[write.key] = WriteResult(write.key, ok=True, duplicate=True, target_id=first.target_id,
                                                  target_number=first.target_number,
                                                  note=f"same InvoiceNumber as order {first.key}")
            else:
                results[write.key] = WriteResult(write.key, ok=False, retriable=True,
                                                  error=f"the order with the same InvoiceNumber failed: "
                                                        f"{first.error if first else 'not written'}")
        for write in writes:  # the contacts created for them, each reported once (one a failed call made, too)
            made = self._take_made(contact_ids.get(contact_name(write.order).lower()))
            if write.key in results:
                results[write.key].created.extend(made)
        return [results[w.key] for w in writes]

    def _record_payments(self, created: list[tuple[OrderWrite, dict[str, Any]]], results: dict[str, WriteResult],
                         kind: str = "payments", amounts: Optional[dict[str, Decimal]] = None) -> None:
        """With the task option ``record_payments = true``: a payment (``PUT /Payments``, one call for the batch)
        of the amount each order paid (``amounts``: of these amounts, by order key), into ``payment_account`` (a
        bank account code, default "090", the bank account of Xero's default chart). Only an AUTHORISED invoice
        takes a payment; a DRAFT one gets a note."""
        due = []
        for write, invoice in created:
            if not write.options.get("record_payments"):
                continue
            amount = amounts[write.key] if amounts is not None else amount_to_pay(write.order)
            if amount <= 0:
                continue
            if invoice.get("Status") != "AUTHORISED":
                _note(results[write.key], f"payment of {amount} not recorded: the invoice is {invoice.get('Status')} "
                                          f"(Xero takes payments on AUTHORISED invoices; set invoice_status)")
                continue
            issued = write.order.paid_at or write.order.order_date or write.order.created_at
            due.append((write, payment_to_xero(invoice["InvoiceID"], amount, issued.date() if issued else None,
                                               str(write.options.get("payment_account") or "090"),
                                               f"{write.order.source} order {write.order.number}")))
        if not due:
            return
        try:
            data = self.client.call("record payments", "create_payments", {"Payments": [p for _, p in due]},
                                    summarize_errors=False,
                                    idempotency_key=idempotency_key(kind, [f"{w.idempotency_key}:{w.content_hash}"
                                                                           for w, _ in due]))
            answers = records(data, "Payments", "record payments")
        except (RetriableAPIError, FatalAPIError) as exc:
            # The invoices are written: say on each order that its payment is not, rather than losing both facts.
            for write, element in due:
                _note(results[write.key], f"invoice written, but the payment of {element['Amount']} was not recorded: {exc}")
            return
        for (write, element), answer in zip(due, answers):
            messages = validation_messages([answer])
            if answer.get("StatusAttributeString") == "ERROR" or (answer.get("HasErrors") and messages):
                _note(results[write.key], f"invoice written, but the payment of {element['Amount']} was not recorded: "
                                          + ("; ".join(messages) or "rejected"))
            else:
                _note(results[write.key], f"payment {answer.get('PaymentID')} of {element['Amount']} recorded")

    def _contacts_for(self, writes: list[OrderWrite], results: dict[str, WriteResult]) -> dict[str, str]:
        """ContactID per contact name (lower case): matched by name, or created in one batched call."""
        names = {contact_name(w.order).lower(): w for w in writes}
        ids: dict[str, str] = {}
        for chunk in batched(sorted(names), NAME_BATCH):
            where = " OR ".join(f"Name=={_quote(contact_name(names[n].order))}" for n in chunk)
            for contact in self.client.call("match contacts", "get_contacts", where=where).get("Contacts") or []:
                ids[contact["Name"].lower()] = contact["ContactID"]
        missing = [n for n in sorted(names) if n not in ids]
        if missing:
            body = {"Contacts": [contact_to_xero(names[n].order) for n in missing]}
            key = idempotency_key("contacts", [names[n].idempotency_key for n in missing])
            data = self.client.call("create contacts", "create_contacts", body, summarize_errors=False,
                                    idempotency_key=key)
            for name, answer in zip(missing, data.get("Contacts") or []):
                if answer.get("ContactID") and answer.get("StatusAttributeString") != "ERROR":
                    ids[name] = answer["ContactID"]
                    self._made[answer["ContactID"]] = Created("Contact", answer["ContactID"], answer.get("Name"))
                else:
                    error = "contact not created: " + ("; ".join(validation_messages([answer])) or "rejected")
                    for write in writes:
                        if contact_name(write.order).lower() == name:
                            results[write.key] = WriteResult(write.key, ok=False, error=error)
        return ids

    def _take_made(self, contact_id: Optional[str]) -> list[Created]:
        """The contact :meth:`_contacts_for` created with ``contact_id``, to report on an order's result (``[]``
        when it created none); taken from :attr:`_made`, so that it is reported once."""
        made = self._made.pop(contact_id or "", None)
        return [made] if made is not None else []

    def _known_items(self) -> set[str]:
        """Item codes Xero has (lower case), read once per connector; none when SKUs are not to be sent."""
        if not self.settings.item_codes:
            return set()
        if self._items is None:
            data = self.client.call("list items", "get_items")
            self._items = {str(i.get("Code", "")).lower() for i in data.get("Items") or []}
        return self._items

    # -- tracking back ---------------------------------------------------------------------------
    def write_tracking(self, writes: list[TrackingWrite]) -> list[WriteResult]:
        """Tracking number, carrier and ship date onto each invoice, and the shipping cost as a line where editable.

        Task option ``tracking_note``: ``"always"`` writes a history note on every invoice
        (it works on any status, but Xero has no batch call for notes: one call per shipment);
        ``"when_not_editable"`` (the default: a note per invoice would spend a 1,000-call day on 1,000
        shipments) appends the tracking to the invoice's Reference in the same batched update
        that adds the cost lines while the invoice can be edited, and writes a note only on the others.
        """
        mode = writes[0].options.get("tracking_note", TRACKING_NOTE_DEFAULT) if writes else TRACKING_NOTE_DEFAULT
        if mode not in TRACKING_NOTE_MODES:
            raise ConfigurationError(f"expected one of {', '.join(map(repr, TRACKING_NOTE_MODES))}, not {mode!r}",
                                     key="target_options.tracking_note")
        invoices: dict[str, dict[str, Any]] = {}
        for chunk in batched(sorted({w.target_ref for w in writes}), ID_BATCH):
            data = self.client.call("fetch invoices", "get_invoices", i_ds=chunk, page=1)
            invoices.update({i["InvoiceID"]: i for i in data.get("Invoices") or []})
        notes, on_invoice = self._update_invoices(writes, invoices, reference=mode == "when_not_editable")
        results = []
        for write in writes:
            invoice = invoices.get(write.target_ref)
            if invoice is None:
                results.append(WriteResult(write.key, ok=False, error=f"invoice {write.target_ref} not found in Xero"))
                continue
            if write.key in on_invoice:
                results.append(WriteResult(write.key, ok=True, target_id=write.target_ref,
                                           target_number=invoice.get("InvoiceNumber"),
                                           note=notes.get(write.key, "tracking added to the invoice's reference")))
                continue
            body = {"HistoryRecords": [{"Details": tracking_note(write.shipment)}]}
            try:
                answer = self.client.call("add history note", "create_invoice_history", write.target_ref, body,
                                          idempotency_key=idempotency_key("note", [write.idempotency_key]))
            except NotFound:
                results.append(WriteResult(write.key, ok=False, error=f"invoice {write.target_ref} not found in Xero"))
                continue
            if not answer.get("HistoryRecords"):  # not confirmed: retried with the same Idempotency-Key
                results.append(WriteResult(write.key, ok=False, retriable=True,
                                           error="Xero did not confirm the history note (malformed answer)"))
                continue
            results.append(WriteResult(write.key, ok=True, target_id=write.target_ref,
                                       target_number=invoice.get("InvoiceNumber"), note=notes.get(write.key)))
        return results

    def _update_invoices(self, writes: list[TrackingWrite], invoices: dict[str, dict[str, Any]],
                         reference: bool) -> tuple[dict[str, str], set[str]]:
        """One batched update of the editable invoices: each shipment's cost as a line and, with ``reference``,
        its tracking appended to the Reference. Returns notes for the log, and the shipments whose tracking
        is now on the invoice itself (they need no history note)."""
        notes: dict[str, str] = {}
        on_invoice: set[str] = set()
        updates: dict[str, tuple[list[TrackingWrite], dict[str, Any]]] = {}  # one element per invoice
        for write in writes:
            invoice, shipment = invoices.get(write.target_ref), write.shipment
            if invoice is None:
                continue
            number = shipment.tracking_number
            lines = invoice.get("LineItems") or []
            status = invoice.get("Status")
            paid = (invoice.get("AmountPaid") or 0) > 0 or (invoice.get("AmountCredited") or 0) > 0
            editable = status in EDITABLE and not paid
            add_cost = bool(shipment.cost and shipment.cost > 0) and not (
                number and any(number in str(line.get("Description", "")) for line in lines))  # added before
            if add_cost and not editable:
                notes[write.key] = (f"shipping cost not added: invoice is {status}" if status not in EDITABLE
                                    else "shipping cost not added: invoice has a payment")
                add_cost = False
            add_reference = reference and editable
            if add_reference and number and number in str(invoice.get("Reference") or ""):
                on_invoice.add(write.key)  # written by an earlier attempt
                add_reference = False
            if not (add_cost or add_reference):
                continue
            group, element = updates.setdefault(write.target_ref, ([], {"InvoiceID": invoice["InvoiceID"]}))
            if add_cost:
                kept = [{k: l[k] for k in KEPT_LINE_FIELDS if l.get(k) is not None} for l in lines]
                element.setdefault("LineItems", kept).append(shipping_cost_line(shipment, self.settings))
            if add_reference:
                current = element.get("Reference", invoice.get("Reference") or "")
                text = f"{current} | {tracking_reference(shipment)}" if current else tracking_reference(shipment)
                if len(text) <= REFERENCE_LIMIT:
                    element["Reference"] = text
                else:
                    add_reference = False  # no room: the history note carries it
            group.append(write)
            if add_reference:
                on_invoice.add(write.key)
        updates = {k: v for k, v in updates.items() if len(v[1]) > 1}  # something besides the InvoiceID
        if updates:
            groups = list(updates.values())
            data = self.client.call("update invoices with shipping", "update_or_create_invoices",
                                    {"Invoices": [element for _, element in groups]}, summarize_errors=False, unitdp=4,
                                    idempotency_key=idempotency_key("cost", [w.idempotency_key for group, _ in groups
                                                                             for w in group]))
            for (group, _), answer in zip(groups, data.get("Invoices") or []):
                if answer.get("StatusAttributeString") == "ERROR":
                    for write in group:
                        on_invoice.discard(write.key)  # the history note carries the tracking instead
                        notes[write.key] = "shipping cost not added: " + "; ".join(validation_messages([answer]))
        return notes, on_invoice

    def find_tracking(self, writes: list[TrackingWrite]) -> dict[str, Found]:
        found: dict[str, Found] = {}
        for write in writes:
            try:
                data = self.client.call("read invoice history", "get_invoice_history", write.target_ref)
            except NotFound:
                continue
            if has_note(data.get("HistoryRecords") or [], write.shipment):
                found[write.key] = Found(target_id=write.target_ref, description="tracking note present")
        return found
