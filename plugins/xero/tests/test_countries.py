"""Countries in Xero addresses: ISO alpha-2 codes written, Xero's names read back as codes; an order whose
country is none fails alone, naming the value and the field."""

from __future__ import annotations

from connex_core.connector import FetchQuery, OrderWrite
from connex_core.models import Address, Customer
from connex_core.testing import make_order


def test_written_as_codes_and_an_unknown_country_fails_its_order(xero, make_xero):
    ok = make_order(source="shopify", source_id="C-1", number="C-1", customer=Customer(name="Ann Lee", email="a@x.test"),
                    bill_to=Address(name="Ann Lee", street1="1 Queen St", city="Auckland", country="New Zealand"),
                    ship_to=Address(name="Ann Lee", street1="1 Queen St", city="Auckland", country="NZL"))
    bad = make_order(source="shopify", source_id="C-2", number="C-2", customer=Customer(name="Bo Sun", email="b@x.test"),
                     bill_to=Address(name="Bo Sun", street1="2 Sea Rd", country="Lemuria"))
    results = make_xero().write_orders([OrderWrite(order=o, idempotency_key=f"k-{o.number}") for o in (ok, bad)])
    assert results[0].ok, results[0].error
    contact = xero.contacts[xero.invoices[results[0].target_id]["ContactID"]]
    assert {a["Country"] for a in contact["Addresses"]} == {"NZ"}
    assert not results[1].ok and "'Lemuria'" in results[1].error and "bill_to.country" in results[1].error
    assert not any(c["Name"] == "Bo Sun" for c in xero.contacts.values())


def test_names_read_back_as_codes(xero, make_xero):
    xero.seed_invoices(2, status="AUTHORISED")
    for contact in xero.contacts.values():
        for address in contact["Addresses"]:
            address["Country"] = "United States"
    orders = list(make_xero().fetch_orders(FetchQuery()))
    assert orders and all(o.ship_to.country in (None, "US") and o.bill_to.country in (None, "US") for o in orders)
    assert any(o.bill_to.country == "US" or o.ship_to.country == "US" for o in orders)
