"""The end-state checks of the chaos harness, against the simulators' own state (the ground truth).

For every flow the plugins contribute to the demo (``standard_tasks()``), each record the flow is responsible for is either

* in its target exactly once (the ledger says ``done`` and names a document that exists), or
* skipped or held, with its reason in the transaction log;

anything else is *lost* (no ledger entry, or one left ``pending``/``failed`` after the clean reruns).
A target holding two documents for one identity (QuickBooks DocNumber or origin mark, ShipStation
orderKey, Xero InvoiceNumber, a daily summary's day or an order listed in two summaries, a tracking
note written twice) is a *duplicate*. A document Connex created that no ledger entry names, or a
ledger entry naming a document that is not there, is a *mismatch*.

The books, not only counts (issue 15): each document Connex booked from ShipStation orders has the
orders' total and their lines, each once; an invoice of an order that paid something has exactly one
payment from Connex, of the amount paid, and the balance that leaves (QuickBooks ``Balance``, Xero
``AmountPaid``); an unpaid one has none. A problem there is *wrong*. Documents that hold a split order
(a parent booked before the split and its ``-1`` child recorded on the parent's document) are checked the
same way: every part's lines present once. Split children held with a reason (their parent's document lacks
their lines) are accounted for and counted in ``split``.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Optional
from zoneinfo import ZoneInfo

from connex_core.config import load_config

PACIFIC = ZoneInfo("America/Los_Angeles")
ORIGIN = re.compile(r"\[connex ([^\]\s]+)\]")
SUMMARY_NUMBERS = re.compile(r"\d+ orders: (.*?)(?: \| | \[connex |$)")


@dataclass
class Result:
    orders: dict[str, int] = field(default_factory=dict)
    """Records each flow is responsible for."""
    once: int = 0
    skipped: int = 0
    duplicates: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    """Books that are wrong: a total, a line, a balance, a payment missing or twice."""
    split: list[str] = field(default_factory=list)
    """Split children held with their reason (their parent's document lacks their lines, or the parent is not
    booked yet): accounted for, not booked; a split child recorded on its parent's document is checked in
    ``wrong`` with the parent's lines."""
    booked: int = 0
    """Documents whose books were checked."""
    paid: int = 0
    """Of those, invoices that must carry one payment."""
    webhooks: int = 0
    """Webhook deliveries ``connex serve`` answered 2xx (when it ran)."""
    inbox: Counter = field(default_factory=Counter)
    """Those deliveries by their state in the inbox at the end (``done``; ``failed`` keeps its reason)."""


def _d(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def paid_amount(order: dict[str, Any]) -> Decimal:
    """What a ShipStation order has paid, as the standard rules book it (``when shipped and amount_paid == 0
    then mark unpaid``): its total when it paid it all, the amount paid when part paid, else nothing."""
    total, paid = _d(order.get("orderTotal")), _d(order.get("amountPaid"))
    return Decimal("0.00") if paid <= 0 or total <= 0 else min(paid, total)


def payments_wrong(parts: list[dict[str, Any]], got: list[Decimal]) -> Optional[str]:
    """The payments linked to a document holding ``parts`` (one order, or a split order's parts), or what is
    wrong with them: one payment of what was paid, or (a split child's lines added to its parent's document,
    docs/accounting.md "Split and merged orders") a payment of what each part paid."""
    paid = [p for p in (paid_amount(o) for o in parts) if p > 0]
    whole = sum(paid, Decimal("0.00"))
    allowed = [[whole] if whole > 0 else []]
    if len(paid) > 1:
        allowed.append(sorted(paid))
    if sorted(got) in allowed:
        return None
    return f"payments {[str(p) for p in got]}, expected {[str(whole)] if whole > 0 else []}" + (
        f" or one per part: {[str(p) for p in sorted(paid)]}" if len(paid) > 1 else "")


def order_lines(orders: Iterable[dict[str, Any]]) -> Counter:
    return Counter((_d(i.get("quantity")), _d(i.get("unitPrice"))) for o in orders for i in o.get("items") or []
                   if not i.get("adjustment"))


@dataclass
class Baseline:
    """What the simulators held before any sync: the records the reverse flows must carry."""

    qb_docs: set[str]
    xero_authorised: set[str]
    xero_invoices: set[str]

    @classmethod
    def take(cls, services: dict[str, Any]) -> "Baseline":
        qb, xero = services["quickbooks"], services["xero"]
        return cls(qb_docs=set(_qb_docs(qb)),
                   xero_authorised={i for i, inv in xero.invoices.items()
                                    if inv.get("Type") == "ACCREC" and inv.get("Status") == "AUTHORISED"},
                   xero_invoices=set(xero.invoices))


def _qb_docs(qb: Any) -> dict[str, dict[str, Any]]:
    return {f"{entity}-{doc['Id']}": doc for entity in ("Invoice", "SalesReceipt") for doc in qb.entities(entity)}


def _groups(items: Iterable[tuple[Any, Any]]) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = defaultdict(list)
    for key, value in items:
        if key is not None:
            out[key].append(value)
    return out


def open_state(cfg: Any) -> Any:
    """A DB-API connection to the config's state (the SQLite file read-only, or the PostgreSQL schema) whose
    rows are read by column name."""
    if cfg.state.url:
        import psycopg
        from psycopg.rows import dict_row

        db = psycopg.connect(cfg.state.url, autocommit=True, row_factory=dict_row)
        if cfg.state.db_schema:
            db.execute(f'SET search_path TO "{cfg.state.db_schema}"')
        return db
    db = sqlite3.connect(f"file:{cfg.state_path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    return db


class _State:
    """The ledger, the transaction log and the webhook inbox, read straight from the state store."""

    def __init__(self, cfg: Any):
        db = open_state(cfg)
        self.ledger: dict[str, dict[str, Any]] = defaultdict(dict)
        for row in db.execute("SELECT * FROM ledger").fetchall():
            self.ledger[row["task"]][row["source_key"]] = row
        self.reasons: dict[tuple[str, str], set[str]] = defaultdict(set)
        for row in db.execute("SELECT task, source_key, reason FROM log WHERE outcome IN ('skipped', 'held')").fetchall():
            if row["reason"]:
                self.reasons[(row["task"], row["source_key"])].add(row["reason"])
        self.inbox = {(r["connection"], r["digest"]): (r["state"], r["last_error"])
                      for r in db.execute("SELECT connection, digest, state, last_error FROM inbox").fetchall()}
        db.close()

    def targets(self, *tasks: str) -> set[str]:
        return {str(r["target_id"]) for t in tasks for r in self.ledger[t].values()
                if r["state"] == "done" and r["target_id"]}


class _Checker:
    def __init__(self, config: Path, services: dict[str, Any], baseline: Baseline):
        self.cfg = load_config(config)
        self.state = _State(self.cfg)
        self.s = services
        self.base = baseline
        self.r = Result()
        self.seen: set[tuple[str, str]] = set()

    def account(self, task: str, keys: Iterable[str], exists: Callable[[str], bool]) -> None:
        """Each key: done in the target (once), or skipped/held with a logged reason; else lost."""
        n = 0
        for key in keys:
            n += 1
            self.seen.add((task, key))
            row = self.state.ledger[task].get(key)
            if row is None:
                self.r.lost.append(f"{task}: {key} never recorded")
            elif row["state"] == "done":
                if row["target_id"] and exists(str(row["target_id"])):
                    self.r.once += 1
                else:
                    self.r.mismatches.append(f"{task}: {key} done as {row['target_id']}, which the target lacks")
            elif row["state"] in ("skipped", "held"):
                if self.state.reasons.get((task, key)):
                    self.r.skipped += 1
                else:
                    self.r.mismatches.append(f"{task}: {key} {row['state']} without a reason in the log")
            else:
                self.r.lost.append(f"{task}: {key} left {row['state']}: {row['last_error']}")
        self.r.orders[task] = self.r.orders.get(task, 0) + n

    def duplicates(self, what: str, groups: dict[Any, list[Any]]) -> None:
        for key, members in groups.items():
            if len(members) > 1:
                self.r.duplicates.append(f"{what} {key!r} {len(members)} times: {members}")

    def orphans(self, what: str, created: Iterable[str], named: set[str]) -> None:
        for ident in created:
            if ident not in named:
                self.r.mismatches.append(f"{what} {ident} was created but no ledger entry names it")

    # -- the flows -------------------------------------------------------------------------------
    def ship_orders(self) -> dict[int, dict[str, Any]]:
        ss = self.s["shipstation"]
        return {oid: o for oid, o in ss.orders.items() if oid not in ss.deleted}

    def shipments(self) -> list[tuple[str, dict[str, Any]]]:
        """(ledger key, record) of every label and fulfillment that carries a tracking number."""
        ss = self.s["shipstation"]
        out = [(f"shipstation:shipment:{x['shipmentId']}", x) for x in ss.shipments]
        out += [(f"shipstation:shipment:fulfillment-{x['fulfillmentId']}", x) for x in ss.fulfillments]
        return [(k, x) for k, x in out if not x.get("voided") and x.get("trackingNumber")]

    def to_quickbooks(self) -> None:
        qb_docs = _qb_docs(self.s["quickbooks"])
        orders = self.ship_orders()
        shipped = [f"shipstation:{oid}" for oid, o in orders.items() if o["orderStatus"] == "shipped"]
        self.account("shipstation-to-quickbooks", shipped, lambda t: t in qb_docs)
        self.duplicates("QuickBooks DocNumber", _groups(((ident.split("-")[0], d.get("DocNumber")), ident)
                                                        for ident, d in qb_docs.items()))
        self.duplicates("QuickBooks document of", _groups(
            (m.group(1) if (m := ORIGIN.search(d.get("PrivateNote") or "")) else None, ident)
            for ident, d in qb_docs.items()))
        self.orphans("QuickBooks document", set(qb_docs) - self.base.qb_docs,
                     self.state.targets("shipstation-to-quickbooks"))
        self.quickbooks_books(qb_docs, orders)
        self.split_parts("shipstation-to-quickbooks", orders)
        # Tracking: every shipment of an order that has a QuickBooks document lands on that document.
        doc_of = {f"shipstation:{oid}": None for oid in orders}
        for key, row in self.state.ledger["shipstation-to-quickbooks"].items():
            if row["state"] == "done":
                doc_of[key] = row["target_id"]
        for oid, o in orders.items():
            if str(o.get("orderKey") or "").startswith("connex:quickbooks:"):
                doc_of[f"shipstation:{oid}"] = o["orderKey"].split(":", 2)[2]
        mine = [(k, x) for k, x in self.shipments() if doc_of.get(f"shipstation:{x['orderId']}")]
        self.account("tracking-to-quickbooks", [k for k, _ in mine], lambda t: t in qb_docs)
        numbers = _groups((doc_of[f"shipstation:{x['orderId']}"], x["trackingNumber"]) for _, x in mine)
        for ident, tracking in numbers.items():
            doc = qb_docs.get(ident) or {}
            if doc.get("TrackingNum") not in tracking:
                self.r.lost.append(f"tracking-to-quickbooks: {ident} has tracking {doc.get('TrackingNum')!r}, "
                                   f"expected one of {tracking}")

    def daily_summaries(self) -> None:
        task = self.cfg.tasks["daily-summary"]
        docs = _qb_docs(self.s["quickbooks-summary"])
        self.duplicates("daily summary", _groups((d.get("DocNumber"), i) for i, d in docs.items()))
        listed = _groups((n.strip(), d.get("DocNumber")) for d in docs.values()
                         for m in SUMMARY_NUMBERS.finditer(d.get("PrivateNote") or "") for n in m.group(1).split(","))
        self.duplicates("order listed in the daily summaries", listed)
        self.orphans("daily summary", docs, self.state.targets("daily-summary"))
        today = datetime.now(PACIFIC).date()
        first = today - timedelta(days=int(task.initial_days))
        expected: dict[str, set[str]] = defaultdict(set)
        for o in self.ship_orders().values():
            created = datetime.fromisoformat(o["createDate"][:19]).date()  # Pacific wall time
            if str(o.get("orderKey") or "").startswith("connex:") or not (first <= created < today):
                continue
            number = o["orderNumber"][:-2] if o["orderNumber"].endswith("-1") else o["orderNumber"]
            expected[number].add(created.isoformat())
        for number in sorted(expected):
            if number not in listed:
                self.r.lost.append(f"daily-summary: order {number} (created {sorted(expected[number])}) in no summary")
        days = [f"summary:daily-summary:{d}" for d in sorted({d for v in expected.values() for d in v})]
        self.account("daily-summary", days, lambda t: t in docs)

    def to_shipstation(self) -> None:
        orders = self.ship_orders()
        ids = {str(oid) for oid in orders}
        self.account("quickbooks-to-shipstation", [f"quickbooks:{d}" for d in sorted(self.base.qb_docs)],
                     lambda t: t in ids)
        self.account("xero-to-shipstation", [f"xero:{i}" for i in sorted(self.base.xero_authorised)],
                     lambda t: t in ids)
        self.duplicates("ShipStation orderKey", _groups((o.get("orderKey"), oid) for oid, o in orders.items()))
        ours = {str(oid) for oid, o in orders.items() if str(o.get("orderKey") or "").startswith("connex:")}
        self.orphans("ShipStation order", ours, self.state.targets("quickbooks-to-shipstation", "xero-to-shipstation"))

    def to_xero(self) -> None:
        xero = self.s["xero"]
        invoices = {i: inv for i, inv in xero.invoices.items() if inv.get("Status") != "DELETED"}
        orders = self.ship_orders()
        self.account("shipstation-to-xero", [f"shipstation:{oid}" for oid in orders], lambda t: t in invoices)
        self.duplicates("Xero InvoiceNumber", _groups((inv.get("InvoiceNumber"), i) for i, inv in invoices.items()
                                                      if inv.get("Type") == "ACCREC"))
        self.orphans("Xero invoice", set(xero.invoices) - self.base.xero_invoices,
                     self.state.targets("shipstation-to-xero"))
        self.xero_books(invoices, orders)
        self.split_parts("shipstation-to-xero", orders)
        # Tracking (DESIGN flow 7): one history note (or Reference entry) per shipment on the invoice its order came
        # from, or that the order became (shipstation-to-xero's ledger).
        invoice_of: dict[str, Optional[str]] = {}
        for key, row in self.state.ledger["shipstation-to-xero"].items():
            if row["state"] == "done":
                invoice_of[key] = row["target_id"]
        for oid, o in orders.items():
            if str(o.get("orderKey") or "").startswith("connex:xero:"):
                invoice_of[f"shipstation:{oid}"] = o["orderKey"].split(":", 2)[2]
        mine = [(k, x) for k, x in self.shipments() if invoice_of.get(f"shipstation:{x['orderId']}")]
        self.account("tracking-to-xero", [k for k, _ in mine], lambda t: t in invoices)
        for key, x in mine:
            invoice = invoice_of[f"shipstation:{x['orderId']}"]
            notes = [h for h in xero.history(invoice) if f"tracking {x['trackingNumber']}" in str(h.get("Details"))]
            # The default mode (tracking_note = "when_not_editable") puts it in an editable invoice's Reference.
            reference = str((xero.invoices.get(invoice) or {}).get("Reference") or "")
            written = len(notes) + sum(str(x["trackingNumber"]) in part for part in reference.split(" | "))
            if written > 1:
                self.r.duplicates.append(f"tracking-to-xero: {written} notes or references for {x['trackingNumber']} "
                                         f"on {invoice}")
            elif not written:
                self.r.lost.append(f"tracking-to-xero: no note or reference for {x['trackingNumber']} on {invoice} "
                                   f"({key})")
            lines = [ln for ln in (xero.invoices.get(invoice) or {}).get("LineItems", [])
                     if x["trackingNumber"] in str(ln.get("Description", ""))]
            if len(lines) > 1:
                self.r.duplicates.append(f"tracking-to-xero: {len(lines)} cost lines for {x['trackingNumber']}")

    # -- the books -------------------------------------------------------------------------------
    def booked_to(self, task: str, orders: dict[int, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """Document id -> the ShipStation orders the ledger booked to it (a split order's parts share one)."""
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for key, row in self.state.ledger[task].items():
            oid = key.split(":", 1)[1]
            if row["state"] == "done" and row["target_id"] and oid.isdigit() and int(oid) in orders:
                out[str(row["target_id"])].append(orders[int(oid)])
        return out

    def book(self, where: str, parts: list[dict[str, Any]], problems: list[str]) -> None:
        """A document's problems are wrong books, whether it holds one order or a split order's parts (a child
        recorded on its parent's document: the parent was booked with the child's lines, which must be there)."""
        self.r.booked += 1
        if problems:
            numbers = ", ".join(o["orderNumber"] for o in parts)
            self.r.wrong.append(f"{where} (orders {numbers}): " + "; ".join(problems))

    def split_parts(self, task: str, orders: dict[int, dict[str, Any]]) -> None:
        """Split children the task held (the parent's document lacks their lines, or the parent is not booked):
        accounted for, with their reason in the log, and counted in ``split``. A held child without a reason is
        a mismatch (``account``)."""
        for key, row in self.state.ledger[task].items():
            oid = key.split(":", 1)[1]
            order = orders.get(int(oid)) if oid.isdigit() else None
            parent = ((order or {}).get("advancedOptions") or {}).get("parentId")
            if parent and row["state"] == "held":
                reasons = sorted(self.state.reasons.get((task, key), ()))
                self.r.split.append(f"{task}: {order['orderNumber']} split off {parent}, held: "
                                    f"{reasons[-1][:90] if reasons else 'NO REASON'}")

    def quickbooks_books(self, qb_docs: dict[str, dict[str, Any]], orders: dict[int, dict[str, Any]]) -> None:
        payments: dict[str, list[Decimal]] = defaultdict(list)
        for payment in self.s["quickbooks"].entities("Payment"):
            for line in payment.get("Line") or []:
                for linked in line.get("LinkedTxn") or []:
                    if linked.get("TxnType") == "Invoice":
                        payments[f"Invoice-{linked['TxnId']}"].append(_d(line.get("Amount")))
        for ident, parts in sorted(self.booked_to("shipstation-to-quickbooks", orders).items()):
            doc = qb_docs.get(ident)
            if doc is None:
                continue  # a mismatch already
            problems = []
            total = sum((_d(o.get("orderTotal")) for o in parts), Decimal("0.00"))
            if _d(doc.get("TotalAmt")) != total:
                problems.append(f"total {doc.get('TotalAmt')}, the orders' {total}")
            lines = Counter((_d(ln["SalesItemLineDetail"].get("Qty")), _d(ln["SalesItemLineDetail"].get("UnitPrice")))
                            for ln in doc.get("Line") or [] if ln.get("DetailType") == "SalesItemLineDetail"
                            and (ln["SalesItemLineDetail"].get("ItemRef") or {}).get("value") != "SHIPPING_ITEM_ID")
            wanted = order_lines(parts)
            if lines != wanted:
                problems.append(f"lines missing {sorted((wanted - lines).elements())}, extra "
                                f"{sorted((lines - wanted).elements())}")
            if ident.startswith("Invoice-"):
                paid = sum((paid_amount(o) for o in parts), Decimal("0.00"))
                self.r.paid += paid > 0
                got = payments.get(ident, [])
                if wrong := payments_wrong(parts, got):
                    problems.append(wrong)
                if _d(doc.get("Balance")) != _d(doc.get("TotalAmt")) - sum(got, Decimal("0.00")) or \
                        _d(doc.get("Balance")) != _d(doc.get("TotalAmt")) - paid:
                    problems.append(f"balance {doc.get('Balance')}, expected {_d(doc.get('TotalAmt')) - paid}")
            self.book(f"QuickBooks {ident} #{doc.get('DocNumber')}", parts, problems)

    def xero_books(self, invoices: dict[str, dict[str, Any]], orders: dict[int, dict[str, Any]]) -> None:
        xero = self.s["xero"]
        task = self.cfg.tasks.get("shipstation-to-xero")
        recording = bool(task and (task.target_options or {}).get("record_payments"))
        payments: dict[str, list[Decimal]] = defaultdict(list)
        for payment in xero.books.payments.values():  # those sent to the API (a customer's own are not)
            payments[payment["InvoiceID"]].append(_d(payment.get("Amount")))
        for ident, parts in sorted(self.booked_to("shipstation-to-xero", orders).items()):
            invoice = invoices.get(ident)
            if invoice is None:
                continue
            problems = []
            cost = [ln for ln in invoice.get("LineItems") or [] if str(ln.get("Description", "")).startswith("Shipping cost:")]
            total = sum((_d(o.get("orderTotal")) for o in parts), Decimal("0.00"))
            booked = _d(invoice.get("Total")) - sum((_d(ln.get("LineAmount")) + _d(ln.get("TaxAmount")) for ln in cost),
                                                    Decimal("0.00"))
            if booked != total:
                problems.append(f"total {booked} (without shipping cost lines), the orders' {total}")
            if recording and invoice.get("Status") in ("AUTHORISED", "PAID"):
                paid = sum((paid_amount(o) for o in parts), Decimal("0.00"))
                self.r.paid += paid > 0
                got = payments.get(ident, [])
                if wrong := payments_wrong(parts, got):
                    problems.append(wrong)
                elif paid > 0 and _d(invoice.get("AmountDue")) != _d(invoice.get("Total")) - _d(invoice.get("AmountPaid")):
                    problems.append(f"amount due {invoice.get('AmountDue')} with {invoice.get('AmountPaid')} paid")
            self.book(f"Xero invoice {invoice.get('InvoiceNumber')}", parts, problems)

    def unsettled(self) -> None:
        """No ledger entry of any task may be left pending or failed after the clean reruns."""
        for task, rows in self.state.ledger.items():
            for key, row in rows.items():
                if row["state"] in ("pending", "failed") and (task, key) not in self.seen:
                    self.r.lost.append(f"{task}: {key} left {row['state']}: {row['last_error']}")


    def inbox(self, deliveries: list[tuple[str, str]]) -> None:
        """Every webhook serve answered 2xx is in the durable inbox and was read: ``done``, or ``failed`` with its
        reason (a delivery whose reading kept failing; polling still brings its records); kept but never read
        (``new``), or not kept at all, is lost."""
        for connection, digest in deliveries:
            self.r.webhooks += 1
            state, error = self.state.inbox.get((connection, digest), ("missing", None))
            self.r.inbox[state] += 1
            if state == "missing":
                self.r.lost.append(f"webhook for {connection} ({digest[:12]}) answered 2xx but not in the inbox")
            elif state == "new":
                self.r.lost.append(f"webhook for {connection} ({digest[:12]}) kept in the inbox but never read")
            elif state == "failed" and not error:
                self.r.mismatches.append(f"webhook for {connection} ({digest[:12]}) failed without a reason")


def check(config: Path, services: dict[str, Any], baseline: Baseline,
          deliveries: Optional[list[tuple[str, str]]] = None) -> Result:
    """The end state's checks; ``deliveries``: the webhooks ``connex serve`` answered 2xx, when it ran."""
    c = _Checker(config, services, baseline)
    c.to_quickbooks()
    c.daily_summaries()
    c.to_shipstation()
    c.to_xero()
    c.unsettled()
    if deliveries is not None:
        c.inbox(deliveries)
    return c.r
