"""``connex report`` and ``connex resync`` look each booked QuickBooks document and Xero invoice up by the id the
ledger recorded (``find_booked``), not by number: a QuickBooks company that numbers its own documents has every
booked document there, and one voided by hand (in QuickBooks or in Xero) is gone; ``connex resync`` of a document
voided by hand posts the sale again, and the books hold it once (the voided document totals 0)."""

from __future__ import annotations

import json
from decimal import Decimal

from typer.testing import CliRunner

from connex_core.cli import app
from tests.e2e.helpers import money, pacific, ss_order
from tests.e2e.test_report_target import WINDOW, report
from tests.e2e.test_undo import QB, XERO, every_status

runner = CliRunner()
ORDERS = (("8401", 9), ("8402", 11), ("8403", 13))
#: Each order: two mugs at 12.50 and 5.00 shipping.
TOTAL = Decimal("30.00")


def book_three(sandbox, task: str, **target: object):
    for number, hour in ORDERS:
        sandbox.shipstation.add_order(ss_order(number, pacific(2026, 9, 16, hour)))
    config = sandbox.write([every_status(task, **target)])
    assert runner.invoke(app, ["run", "--config", str(config), "-t", task, *WINDOW]).exit_code == 0
    return config


def gone(out: dict) -> list[str]:
    return sorted(n for d in out["days"] for n in d["gone"])


def live_receipts(qb) -> list[dict]:
    return [d for d in qb.entities("SalesReceipt") if money(d["TotalAmt"]) != 0]


def test_a_quickbooks_company_numbering_its_own_documents_has_them_all_and_one_voided_by_hand_is_gone(sandbox):
    """Custom transaction numbers off: QuickBooks numbers the documents (1001, ...), so no order number finds
    them. Every booked document is there; one voided by hand is gone (the others not); resync posts its sale
    again, and the books hold each sale once."""
    qb = sandbox.quickbooks
    qb.preferences["SalesFormsPrefs"]["CustomTxnNumbers"] = False  # the company numbers its own sales forms
    config = book_three(sandbox, QB, document="sales_receipt")
    receipts = qb.entities("SalesReceipt")
    assert len(receipts) == 3 and not {d["DocNumber"] for d in receipts} & {n for n, _ in ORDERS}
    code, out, _ = report(config, QB)
    assert sum(d["booked"] for d in out["days"]) == 3
    assert code == 0 and out["accounted"] and gone(out) == [], out

    voided = dict(receipts[1])
    order = next(n for n, _ in ORDERS if f"order {n}" in voided["PrivateNote"])
    qb.void_document("SalesReceipt", voided["Id"])  # the bookkeeper voids it in QuickBooks
    code, out, text = report(config, QB)
    assert code == 5 and not out["accounted"]
    assert gone(out) == [f"{order}: {voided['DocNumber']}"], out
    assert f"gone from the target: {order}: {voided['DocNumber']}" in text

    [again] = json.loads(runner.invoke(app, ["resync", "--config", str(config), "-t", QB, order, "--json"]).stdout)
    assert again["action"] == "gone-reposted", again
    assert f"SalesReceipt {voided['DocNumber']}" not in again["message"]
    now = qb.get("SalesReceipt", voided["Id"])
    assert now["PrivateNote"] == "Voided" and money(now["TotalAmt"]) == 0  # still voided, counting nothing
    live = live_receipts(qb)
    assert len(live) == 3 and sum(money(d["TotalAmt"]) for d in live) == 3 * TOTAL
    assert sorted(next(n for n, _ in ORDERS if f"order {n}" in d["PrivateNote"]) for d in live) == [n for n, _ in ORDERS]
    code, out, _ = report(config, QB)
    assert code == 0 and out["accounted"] and gone(out) == [], out  # the new document is the booking now
    [same] = json.loads(runner.invoke(app, ["resync", "--config", str(config), "-t", QB, order, "--json"]).stdout)
    assert same["action"] == "same" and len(live_receipts(qb)) == 3  # and not posted a third time


def test_a_quickbooks_invoice_voided_by_hand_is_gone_though_its_number_is_still_used(sandbox):
    """Connex's own numbers: the voided invoice keeps its DocNumber (so the write path still finds it and posts
    nothing twice), but it books nothing: the report says it is gone, the others not."""
    qb = sandbox.quickbooks
    config = book_three(sandbox, QB, document="invoice")
    code, out, _ = report(config, QB)
    assert code == 0 and out["accounted"] and gone(out) == [], out
    invoice = next(d for d in qb.entities("Invoice") if d["DocNumber"] == "8402")
    for link in invoice.get("LinkedTxn") or []:  # its payment first, as QuickBooks asks
        qb.void_document("Payment", link["TxnId"])
    qb.void_document("Invoice", invoice["Id"])
    assert qb.get("Invoice", invoice["Id"])["PrivateNote"] == "Voided"
    code, out, _ = report(config, QB)
    assert code == 5 and gone(out) == ["8402: 8402"], out


def test_a_xero_invoice_voided_by_hand_is_gone_and_resync_says_xero_keeps_its_number(sandbox):
    """Xero's look-up by InvoiceNumber finds a voided invoice (its number stays taken); ``find_booked`` reads the
    booked invoices by InvoiceID: the one voided by hand is gone, the others not. Resync does not take the voided
    invoice for the order's booking: Xero refuses the number again, and resync says why."""
    xero = sandbox.xero
    config = book_three(sandbox, XERO)
    code, out, _ = report(config, XERO)
    assert code == 0 and out["accounted"] and gone(out) == [], out
    invoice = next(i for i in xero.invoices.values() if i["InvoiceNumber"] == "8403")
    assert invoice["Status"] == "AUTHORISED"
    with xero.lock:  # the bookkeeper voids it in Xero
        assert not xero.books.update_invoice(invoice, {"Status": "VOIDED"}).errors
    code, out, text = report(config, XERO)
    assert code == 5 and gone(out) == ["8403: 8403"], out
    assert "gone from the target: 8403: 8403" in text

    [again] = json.loads(runner.invoke(app, ["resync", "--config", str(config), "-t", XERO, "8403", "--json"]).stdout)
    assert again["action"] == "failed" and "the voided invoice 8403 keeps it" in again["message"], again
    assert [i["Status"] for i in xero.invoices.values() if i["InvoiceNumber"] == "8403"] == ["VOIDED"]
