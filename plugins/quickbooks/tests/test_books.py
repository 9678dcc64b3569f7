"""What lands in the books (issue 14): the document follows the money. Checked in the simulator's books:
document kinds, balances and payments per invoice."""

from __future__ import annotations

from decimal import Decimal

from connex_core.connector import OrderWrite
from connex_core.models import DocumentType, OrderStatus, Shipment
from connex_core.testing import make_order

D = Decimal


def write(connector, *orders, **options):
    return connector.write_orders([OrderWrite(order=o, idempotency_key=f"idem-{o.key}", options=options) for o in orders])


def books(sim):
    """DocNumber -> (kind, total, balance, payments applied to it)."""
    applied: dict[str, list[Decimal]] = {}
    for payment in sim.entities("Payment"):
        for line in payment["Line"]:
            for link in line["LinkedTxn"]:
                applied.setdefault(link["TxnId"], []).append(D(str(line["Amount"])))
    out = {}
    for kind in ("SalesReceipt", "Invoice"):
        for doc in sim.entities(kind):
            out[doc["DocNumber"]] = (kind, D(str(doc["TotalAmt"])), D(str(doc["Balance"])),
                                     applied.get(doc["Id"], []) if kind == "Invoice" else [])
    return out


def _orders():
    paid = make_order(source_id="1", number="PAID-1")
    unpaid = make_order(source_id="2", number="OPEN-1", paid=False, amount_paid=D("0"), status=OrderStatus.awaiting_payment)
    part = make_order(source_id="3", number="PART-1", amount_paid=D("20.00"))
    # shipped with the money in, but the user's rule marked it unpaid (terms customer): the rule's word counts
    ruled = make_order(source_id="4", number="RULE-1", paid=False, status=OrderStatus.shipped,
                       shipment=Shipment(tracking_number="1Z1", carrier="ups"))
    return paid, unpaid, part, ruled


def test_auto_is_the_default_and_follows_the_money(sim, make_connector):
    results = write(make_connector(), *_orders())
    assert all(r.ok for r in results), [r.error for r in results]
    total = D("53.60")
    assert books(sim) == {
        "PAID-1": ("SalesReceipt", total, D("0"), []),
        "OPEN-1": ("Invoice", total, total, []),
        "PART-1": ("Invoice", total, total - D("20.00"), [D("20.00")]),
        "RULE-1": ("Invoice", total, total, []),
    }
    assert len(sim.entities("Payment")) == 1


def test_a_sales_receipt_for_an_order_not_paid_in_full_is_refused_with_the_reason(sim, make_connector):
    paid, unpaid, part, ruled = _orders()
    results = {r.key: r for r in write(make_connector(), paid, unpaid, part, ruled, document="sales_receipt")}
    assert results[paid.key].ok and books(sim)["PAID-1"][0] == "SalesReceipt"
    for order, said in ((unpaid, "nothing paid"), (part, "20.00 paid"), (ruled, "nothing paid")):
        result = results[order.key]
        assert not result.ok and not result.retriable and "sales receipt" in result.error and said in result.error
    assert set(books(sim)) == {"PAID-1"} and sim.entities("Payment") == []


def test_a_rule_asking_for_a_sales_receipt_of_an_unpaid_order_is_refused_too(sim, make_connector):
    order = make_order(paid=False, amount_paid=D("0"), document_type=DocumentType.sales_receipt)
    [result] = write(make_connector(), order)
    assert not result.ok and "sales receipt" in result.error and books(sim) == {}


def test_forced_invoices_carry_what_was_paid(sim, make_connector):
    results = write(make_connector(), *_orders(), document="invoice")
    assert all(r.ok for r in results)
    total = D("53.60")
    assert {n: (b[2], b[3]) for n, b in books(sim).items()} == {
        "PAID-1": (D("0"), [total]), "OPEN-1": (total, []), "PART-1": (total - D("20.00"), [D("20.00")]),
        "RULE-1": (total, [])}
