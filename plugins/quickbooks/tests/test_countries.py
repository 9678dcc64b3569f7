"""Countries in QuickBooks addresses: ISO alpha-3 codes written (what QuickBooks reads addresses back with since
October 2025), alpha-2 read; an order whose country is none fails alone, naming the value and the field."""

from __future__ import annotations

from connex_core.connector import FetchQuery, OrderWrite
from connex_core.models import Address, Customer
from connex_core.testing import make_order


def test_written_as_alpha3_read_as_alpha2_and_an_unknown_country_fails_its_order(sim, make_connector):
    ok = make_order(ship_to=Address(name="Ana", street1="1 Main St", city="Austin", country="United States"),
                    bill_to=Address(name="Ana", street1="1 Main St", city="Austin", country="us"))
    bad = make_order(source_id="2", number="1002", customer=Customer(name="Bo", email="bo@x.test"),
                     ship_to=Address(name="Bo", street1="2 Sea Rd", country="Atlantis"))
    connector = make_connector()
    results = connector.write_orders([OrderWrite(order=o, idempotency_key=f"k-{o.number}") for o in (ok, bad)])
    assert results[0].ok, results[0].error
    [doc] = sim.entities("SalesReceipt")
    assert doc["ShipAddr"]["Country"] == "USA" and doc["BillAddr"]["Country"] == "USA"
    assert sim.entities("Customer")[0]["ShipAddr"]["Country"] == "USA"
    assert not results[1].ok and "'Atlantis'" in results[1].error and "ship_to.country" in results[1].error
    assert [c["DisplayName"] for c in sim.entities("Customer")] == ["Ana García"]
    [order] = list(connector.fetch_orders(FetchQuery()))
    assert order.ship_to.country == "US" and order.bill_to.country == "US"
