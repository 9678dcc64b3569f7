"""Countries go to ShipStation as ISO alpha-2 codes; an order whose country is none fails alone, naming it."""

from __future__ import annotations

from decimal import Decimal

from connex_core.connector import OrderWrite
from connex_core.models import Address


def _write(connector, order):
    return OrderWrite(order=order, idempotency_key=f"idem-{order.number}")


def test_names_and_alpha3_codes_become_alpha2_and_an_unknown_country_fails_its_order(simulator, connector_for,
                                                                                      canonical_order):
    uk = canonical_order(source="quickbooks", source_id="Invoice-1", number="1", paid=False, amount_paid=Decimal(0),
                         ship_to=Address(name="Ann", street1="1 High St", city="Leeds", country="United Kingdom"),
                         bill_to=Address(name="Ann", street1="1 High St", city="Leeds", country="GBR"))
    nowhere = canonical_order(source="quickbooks", source_id="Invoice-2", number="2", paid=False, amount_paid=Decimal(0),
                              ship_to=Address(name="Bo", street1="2 Sea Rd", city="Poseidonis", country="Atlantis"))
    connector = connector_for(simulator)
    results = {r.key: r for r in connector.write_orders([_write(connector, uk), _write(connector, nowhere)])}
    assert results[uk.key].ok, results[uk.key].error
    stored = simulator.orders[int(results[uk.key].target_id)]
    assert stored["shipTo"]["country"] == "GB" and stored["billTo"]["country"] == "GB"
    failed = results[nowhere.key]
    assert not failed.ok and "'Atlantis'" in failed.error and "ship_to.country" in failed.error
    assert len(simulator.orders) == 1
