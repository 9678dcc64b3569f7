"""Tax codes across systems (issue 14): an order read from QuickBooks carries QuickBooks' line codes (TAX/NON,
the US pseudo codes its reader passes on); Xero knows no TaxType 'TAX'. Taxable lines go to the organisation's
sales tax type (``tax_type``), exempt ones to ``no_tax_type``; a real Xero TaxType passes as given."""

from __future__ import annotations

from decimal import Decimal

from connex_core.connector import OrderWrite
from connex_core.models import Customer, LineItem
from connex_core.testing import make_order

D = Decimal


def test_an_order_from_quickbooks_books_in_xero(xero, make_xero):
    order = make_order(source="quickbooks", source_id="Invoice-7", number="QB-7", customer=Customer(name="Q Buyer"),
                       lines=[LineItem(sku="MUG", name="Mug", quantity=D(2), unit_price=D("12.50"), tax_code="TAX"),
                              LineItem(sku="BOOK", name="Book", quantity=D(1), unit_price=D("20.00"), tax_code="NON")],
                       tax_code="TAX")
    [result] = make_xero().write_orders([OrderWrite(order=order, idempotency_key="k-qb-7")])
    assert result.ok, result.error
    invoice = xero.invoices[result.target_id]
    by_description = {line["Description"]: line["TaxType"] for line in invoice["LineItems"]}
    assert by_description["Mug"] == "TAX001" and by_description["Book"] == "NONE"
    assert by_description["Shipping"] == "TAX001"


def test_a_real_xero_tax_type_passes_as_given(xero, make_xero):
    order = make_order(source="xero", source_id="x1", number="X-1", customer=Customer(name="X Buyer"),
                       lines=[LineItem(sku="A", name="A", quantity=D(1), unit_price=D("10"), tax_code="EXEMPTOUTPUT")])
    [result] = make_xero().write_orders([OrderWrite(order=order, idempotency_key="k-x-1")])
    assert result.ok and xero.invoices[result.target_id]["LineItems"][0]["TaxType"] == "EXEMPTOUTPUT"
