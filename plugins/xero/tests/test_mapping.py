"""Mapping between Xero's payloads and the canonical order, over the real payloads of the OpenAPI document."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from connex_core.models import LineItem, OrderStatus, Shipment
from connex_core.testing import make_order
from connex_xero.mapping import (address_from_xero, contact_to_xero, country_code, has_note, invoice_to_xero,
                                 order_from_xero, tracking_note)
from connex_xero.msdate import parse_http_date, parse_ms_date, to_ms_date
from connex_xero.settings import XeroSettings

from .conftest import load_fixture

SETTINGS = XeroSettings(client_id="id", client_secret="secret")


@pytest.fixture
def invoices():
    return load_fixture("spec_getInvoices_200.json")["Invoices"]


@pytest.fixture
def contacts():
    return {c["ContactID"]: c for c in load_fixture("spec_getContacts_200.json")["Contacts"]}


def test_ms_dates_are_read_as_aware_utc_and_written_back_the_same():
    parsed = parse_ms_date("/Date(1539993600000+0000)/")
    assert parsed == datetime(2018, 10, 20, tzinfo=timezone.utc)
    assert to_ms_date(parsed) == "/Date(1539993600000+0000)/"
    assert to_ms_date(date(2018, 10, 20)) == "/Date(1539993600000+0000)/"
    assert parse_ms_date("/Date(1552326816230)/").tzinfo is not None
    assert parse_ms_date("") is None


def test_if_modified_since_is_read_in_both_formats():
    iso = parse_http_date("2026-01-02T03:04:05+00:00")
    rfc = parse_http_date("Fri, 02 Jan 2026 03:04:05 GMT")
    assert iso == rfc == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_spec_invoices_map_identity_status_paid_and_money(invoices):
    voided, paid, open_ = (order_from_xero(i, None, SETTINGS) for i in invoices)
    assert (paid.source, paid.source_id, paid.number) == ("xero", "046d8a6d-1ae1-4b4d-9340-5601bdf41b87", "INV-0002")
    assert paid.paid and paid.amount_paid == Decimal("46.0") and paid.status == OrderStatus.awaiting_shipment
    assert paid.paid_at == datetime(2018, 11, 29, tzinfo=timezone.utc)
    assert not open_.paid and open_.status == OrderStatus.awaiting_payment
    assert voided.status == OrderStatus.voided
    assert open_.total == Decimal("115.0") and open_.tax == Decimal("15.0") and open_.currency == "NZD"
    assert isinstance(open_.total, Decimal)
    assert open_.due_date == date(2018, 11, 7)
    assert open_.modified_at == datetime(2018, 11, 2, 16, 37, 28, 927000, tzinfo=timezone.utc)
    assert open_.origin == "xero:7ef31b20-de17-4312-8382-412f869b1510"
    assert paid.internal_notes == "Red Fish, Blue Fish"


def test_contact_pobox_is_billing_and_street_is_shipping(invoices, contacts):
    contact = contacts["5cc8cf28-567e-4d43-b287-687cfcaec47c"]
    contact["Addresses"][0].update(AddressLine1="1 Loading Dock", City="Oakland", Region="CA", PostalCode="94607",
                                   Country="USA")
    order = order_from_xero(invoices[2], contact, SETTINGS)
    assert order.bill_to.city == "Palo Alto" and order.bill_to.state == "CA" and order.bill_to.postal_code == "94020"
    assert order.bill_to.country == "US" and order.bill_to.street1 is None  # empty strings are absent
    assert order.ship_to.street1 == "1 Loading Dock" and order.ship_to.city == "Oakland"
    assert order.customer.email == "kat.warren@clampett.com" and order.customer.phone == "(626) 847-1294"
    assert order.bill_to.name == "Katherine Warren" and order.bill_to.company is None  # a person, not a firm
    assert order.ship_to.phone == "(626) 847-1294"


def test_a_business_contact_is_the_company_and_its_person_the_addressee(contacts):
    contact = {**contacts["3ec601ad-eddc-4ccb-a8ac-736e88293b1b"], "Name": "Parker & Co"}
    invoice = {"InvoiceID": "i", "Contact": {"ContactID": contact["ContactID"]}, "LineItems": []}
    order = order_from_xero(invoice, contact, SETTINGS)
    assert order.customer.name == "Parker & Co" and order.customer.company == "Parker & Co"
    assert order.bill_to.name == "Lisa Parker" and order.bill_to.company == "Parker & Co"


def test_country_names_become_iso_codes_where_known():
    assert country_code("United States") == "US"
    assert country_code("nz") == "NZ"
    assert country_code("Narnia") == "Narnia"
    assert country_code("") is None
    assert address_from_xero(None, "x").city is None


def test_lines_keep_tracking_and_shipping_lines_become_shipping():
    invoice = {
        "InvoiceID": "i-1", "InvoiceNumber": "INV-9", "Type": "ACCREC", "Status": "AUTHORISED", "Total": "53.50",
        "TotalTax": "0", "AmountPaid": "0", "LineAmountTypes": "Exclusive",
        "Contact": {"ContactID": "c", "Name": "Kim"},
        "LineItems": [
            {"LineItemID": "l1", "ItemCode": "MUG", "Description": "Mug", "Quantity": 2, "UnitAmount": 12.5,
             "AccountCode": "200", "TaxType": "NONE", "TaxAmount": 0, "DiscountRate": 10,
             "Tracking": [{"Name": "Sales Channel", "Option": "ShipStation"}, {"Name": "Region", "Option": "East"}]},
            {"Description": "Shipping", "Quantity": 1, "UnitAmount": 7.5, "AccountCode": "260", "TaxAmount": 0},
        ],
    }
    order = order_from_xero(invoice, None, SETTINGS)
    assert len(order.lines) == 1 and order.shipping == Decimal("7.50")
    line = order.lines[0]
    assert line.tracking == {"Sales Channel": "ShipStation", "Region": "East"}
    assert line.discount == Decimal("2.50") and line.sku == "MUG" and line.tax_code == "NONE"


def test_inclusive_lines_are_mapped_to_prices_before_tax():
    invoice = {"InvoiceID": "i", "LineAmountTypes": "Inclusive", "Contact": {},
               "LineItems": [{"Description": "x", "Quantity": 2, "UnitAmount": 11.5, "TaxAmount": 3,
                              "AccountCode": "200"}]}
    assert order_from_xero(invoice, None, SETTINGS).lines[0].unit_price == Decimal("10")


def test_order_becomes_an_accrec_invoice_with_shipping_line_and_tax_that_adds_up():
    order = make_order(tax=Decimal("3.61"), requested_service="Priority")
    invoice = invoice_to_xero(order, SETTINGS, contact_id="c-1", known_items={"mug-blu"})
    assert invoice["Type"] == "ACCREC" and invoice["InvoiceNumber"] == "1001"
    assert invoice["Contact"] == {"ContactID": "c-1"} and invoice["Status"] == "AUTHORISED"
    assert invoice["Date"] == "2026-09-15" and invoice["DueDate"] == "2026-10-15"
    mug, tee, shipping = invoice["LineItems"]
    assert mug["ItemCode"] == "MUG-BLU" and "ItemCode" not in tee  # TEE-L is not an item in Xero
    assert shipping == {**shipping, "Description": "Shipping (Priority)", "UnitAmount": Decimal("5.00"),
                        "AccountCode": "260"}
    assert sum(l["TaxAmount"] for l in invoice["LineItems"]) == Decimal("3.61")
    assert {l["TaxType"] for l in invoice["LineItems"]} == {"TAX001"}


def test_untaxed_order_uses_the_no_tax_type_and_contact_by_name():
    order = make_order(tax=Decimal("0"), shipping=Decimal("0"))
    invoice = invoice_to_xero(order, SETTINGS)
    assert {l["TaxType"] for l in invoice["LineItems"]} == {"NONE"}
    assert invoice["Contact"] == {"Name": "Ana García"} and len(invoice["LineItems"]) == 2


def test_order_discount_beyond_line_discounts_is_a_negative_line():
    lines = [LineItem(sku="A", name="A", quantity=Decimal("1"), unit_price=Decimal("10"), discount=Decimal("1"))]
    invoice = invoice_to_xero(make_order(lines=lines, discount=Decimal("3"), tax=Decimal("0")), SETTINGS)
    assert invoice["LineItems"][0]["DiscountAmount"] == Decimal("1")
    assert invoice["LineItems"][-1]["UnitAmount"] == Decimal("-2")


def test_contact_element_has_both_addresses():
    element = contact_to_xero(make_order())
    kinds = {a["AddressType"]: a for a in element["Addresses"]}
    assert kinds["POBOX"]["City"] == "Austin" and kinds["STREET"]["AddressLine1"] == "1 Main St"
    assert element["EmailAddress"] == "ana@shop.test"


def test_tracking_note_says_date_carrier_and_number_and_is_found_again():
    shipment = Shipment(source="shipstation", source_id="9", carrier="ups", service="ups_ground",
                        tracking_number="1Z999", ship_date=date(2026, 9, 16))
    note = tracking_note(shipment)
    assert note == "Shipped 2026-09-16 via ups (ups_ground) tracking 1Z999"
    assert has_note([{"Details": "Created"}, {"Details": note}], shipment)
    assert not has_note([{"Details": "Shipped via ups tracking 1Z998"}], shipment)
    long = shipment.model_copy(update={"carrier": "x" * 400})
    assert len(tracking_note(long)) <= 250
