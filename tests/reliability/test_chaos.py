"""The chaos harness at a small size: every flow, faults of every kind, SIGKILLed sync processes, and ``connex
serve`` beside them receiving the services' webhooks, itself SIGKILLed and restarted."""

from __future__ import annotations

import copy
import sqlite3
from decimal import Decimal

import pytest

from connex_core.plugins import PluginManager

from .checks import check
from .harness import Chaos, ChaosOptions


@pytest.fixture(scope="module")
def chaos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chaos") / "run"
    options = ChaosOptions(orders=20, kills=3, state_kills=2, faulty_runs=1, pairs=1, seed=5, fault_rate=0.05,
                           serve=True, serve_kills=1, lockouts=1)
    harness = Chaos(PluginManager().load(), folder, options)
    report = harness.run()
    return harness, report


def test_every_order_once_none_lost(chaos):
    _, report = chaos
    assert report.killed - report.state_kills >= 3, "the harness must kill sync processes mid-run"
    assert report.state_kills >= 1, "and right after state writes"
    assert report.checked.duplicates == []
    assert report.checked.lost == []
    assert report.checked.mismatches == []
    assert report.checked.wrong == []
    # each phase ended with a clean run: exit 0, or 5 when orders are held by design (issue 14: a split child
    # whose parent's document lacks its lines); a failed order left over would be in `lost` above
    assert report.exit_codes[0] + report.exit_codes[5] >= 2


def test_a_run_locked_out_was_answered_by_connex_connect_and_the_books_came_right(chaos):
    """Once per phase a QuickBooks company refused the stored tokens (as after a kill inside a refresh): the run
    said to reconnect, the harness ran ``connex connect`` as a person would, and nothing was lost (above)."""
    _, report = chaos
    assert report.reconnects["quickbooks"] >= 2 and set(report.reconnects) <= {"quickbooks", "quickbooks-summary"}
    assert report.exit_codes[6] >= 2


def test_the_books_were_checked_with_the_guards_off_and_two_processes_at_once(chaos):
    harness, report = chaos
    assert report.pairs >= 2  # one per phase
    assert report.checked.booked > 0 and report.checked.paid > 0
    assert harness.services["quickbooks"].warn_duplicate_doc_number is False
    assert harness.services["xero"].books.unique_invoice_numbers is False


def test_every_flow_and_fault_kind_was_exercised(chaos):
    _, report = chaos
    flows = {"shipstation-to-quickbooks", "daily-summary", "quickbooks-to-shipstation", "tracking-to-quickbooks",
             "xero-to-shipstation", "tracking-to-xero", "shipstation-to-xero"}
    assert {f for f, n in report.checked.orders.items() if n} == flows
    assert report.checked.once > 0 and report.checked.skipped > 0
    for kind in ("error (5xx, 429)", "slow", "drop", "lost_response"):
        assert report.faults[kind] > 0, kind
    assert report.token_expiries > 0


def test_the_checks_see_a_duplicate_and_a_lost_order(chaos):
    """The checks are not vacuous: a second copy of a document and a forgotten ledger entry are reported."""
    harness, _ = chaos
    qb = harness.services["quickbooks"]
    doc = next(d for d in qb.entities("Invoice") if "[connex shipstation:" in (d.get("PrivateNote") or ""))
    copy = dict(doc, Id="999999")
    qb.store["Invoice"]["999999"] = copy
    db = sqlite3.connect(harness.folder / "connex.db")
    key = db.execute("SELECT source_key FROM ledger WHERE task = 'quickbooks-to-shipstation' LIMIT 1").fetchone()[0]
    db.execute("DELETE FROM ledger WHERE task = 'quickbooks-to-shipstation' AND source_key = ?", (key,))
    db.commit()
    db.close()
    try:
        found = check(harness.config, harness.services, harness.baseline)
    finally:
        del qb.store["Invoice"]["999999"]
    assert [d for d in found.duplicates if "DocNumber" in d] == [
        f"QuickBooks DocNumber ('Invoice', {doc['DocNumber']!r}) 2 times: ['Invoice-{doc['Id']}', 'Invoice-999999']"]
    assert any("Invoice-999999 was created but no ledger entry names it" in m for m in found.mismatches)
    assert found.lost == [f"quickbooks-to-shipstation: {key} never recorded"]


def _connex_invoice(harness, paid: bool):
    """A QuickBooks invoice Connex booked from a ShipStation order (paid or not), with its payment."""
    qb = harness.services["quickbooks"]
    for doc in qb.entities("Invoice"):
        if "[connex shipstation:" not in (doc.get("PrivateNote") or ""):
            continue
        payments = [p for p in qb.entities("Payment") if any(t.get("TxnId") == doc["Id"] for ln in p["Line"]
                                                             for t in ln.get("LinkedTxn", []))]
        if bool(payments) == paid:
            return doc, payments
    raise AssertionError("no such invoice in the chaos run")


def _checked(harness):
    return check(harness.config, harness.services, harness.baseline)


def test_the_self_test_each_books_check_fails_when_the_books_are_wrong(chaos):
    """The checks can fail: the harness itself deletes a payment, changes a balance, adds a second payment,
    drops a line, and deletes a Xero payment; each is reported as wrong books, naming the document."""
    harness, _ = chaos
    qb, xero = harness.services["quickbooks"], harness.services["xero"]
    assert _checked(harness).wrong == []
    doc, [payment] = _connex_invoice(harness, paid=True)
    where = f"Invoice-{doc['Id']} #{doc['DocNumber']}"

    def wrong_after(change, undo) -> list[str]:
        change()
        try:
            return [w for w in _checked(harness).wrong if where in w or "Xero" in w]
        finally:
            undo()

    saved = copy.deepcopy(doc)
    found = wrong_after(lambda: qb.store["Payment"].pop(payment["Id"]),
                        lambda: qb.store["Payment"].__setitem__(payment["Id"], payment))
    assert len(found) == 1 and "payments []" in found[0], found
    found = wrong_after(lambda: doc.update(Balance=doc["TotalAmt"]), lambda: doc.update(Balance=saved["Balance"]))
    assert len(found) == 1 and f"balance {doc['TotalAmt']}" in found[0], found
    found = wrong_after(lambda: qb.store["Payment"].__setitem__("999998", dict(payment, Id="999998")),
                        lambda: qb.store["Payment"].pop("999998"))
    assert len(found) == 1 and "payments [" in found[0] and "expected" in found[0], found
    item_line = next(ln for ln in doc["Line"] if ln.get("DetailType") == "SalesItemLineDetail"
                     and ln["SalesItemLineDetail"]["ItemRef"]["value"] != "SHIPPING_ITEM_ID")
    found = wrong_after(lambda: doc["Line"].remove(item_line), lambda: doc.update(Line=saved["Line"]))
    assert len(found) == 1 and "lines missing [" in found[0], found
    xero_payment_id, xero_payment = next(iter(xero.books.payments.items()))
    number = xero.invoices[xero_payment["InvoiceID"]]["InvoiceNumber"]
    where = f"Xero invoice {number} "
    xero.books.payments.pop(xero_payment_id)
    try:
        checked = _checked(harness)
    finally:
        xero.books.payments[xero_payment_id] = xero_payment
    found = [w for w in checked.wrong + checked.split if where in w]
    assert len(found) == 1 and "payments []" in found[0], (number, checked.wrong, checked.split)
    assert Decimal(str(doc["Balance"])) == Decimal(str(saved["Balance"])) and _checked(harness).wrong == []


def test_serve_received_webhooks_through_its_kills_and_its_inbox_lost_none(chaos):
    harness, report = chaos
    assert report.serve_kills >= 2 and report.serve_starts >= 4, "serve SIGKILLed and restarted in each phase"
    assert report.serve_exits == {0: 2}, "and stopped cleanly (SIGTERM) at the end of each phase"
    assert report.webhooks_resent > 0, "some deliveries met a dead (or busy) serve and were sent again"
    connections = {c for c, _ in harness.deliveries}
    assert connections == {"shipstation", "quickbooks", "xero"}
    assert report.checked.webhooks == len(harness.deliveries) > 0
    assert set(report.checked.inbox) <= {"done", "failed"} and report.checked.inbox["done"] > 0


def test_the_inbox_check_fails_on_a_lost_or_unread_delivery(chaos):
    """A delivery answered 2xx that the inbox does not hold, and one kept but never read, are both lost."""
    harness, _ = chaos
    connection, digest = harness.deliveries[0]
    found = check(harness.config, harness.services, harness.baseline, [*harness.deliveries, ("xero", "0" * 64)])
    webhooks = lambda result: [line for line in result.lost if line.startswith("webhook")]  # noqa: E731
    assert webhooks(found) == ["webhook for xero (000000000000) answered 2xx but not in the inbox"]
    db = sqlite3.connect(harness.folder / "connex.db")
    try:
        [(state,)] = db.execute("SELECT state FROM inbox WHERE connection = ? AND digest = ?", (connection, digest))
        db.execute("UPDATE inbox SET state = 'new' WHERE connection = ? AND digest = ?", (connection, digest))
        db.commit()
        found = check(harness.config, harness.services, harness.baseline, harness.deliveries)
    finally:
        db.execute("UPDATE inbox SET state = ? WHERE connection = ? AND digest = ?", (state, connection, digest))
        db.commit()
        db.close()
    assert webhooks(found) == [f"webhook for {connection} ({digest[:12]}) kept in the inbox but never read"]
    assert webhooks(check(harness.config, harness.services, harness.baseline, harness.deliveries)) == []
