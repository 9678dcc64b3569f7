"""Customer names: one list for customers, vendors and employees; customers matched by identity, not by a
(truncated) name."""

from __future__ import annotations

import pytest

from connex_core.connector import OrderWrite
from connex_core.models import Customer
from connex_core.testing import make_order


def write(connector, *orders, **options):
    return connector.write_orders([OrderWrite(order=o, idempotency_key=f"idem-{o.key}", options=options) for o in orders])


def customer_of(sim, number: str) -> dict:
    doc = next(d for d in sim.entities("SalesReceipt") + sim.entities("Invoice") if d["DocNumber"] == number)
    return sim.get("Customer", doc["CustomerRef"]["value"])


@pytest.mark.parametrize("kind", ["vendor", "employee"])
def test_the_simulator_keeps_one_name_list(sim, client_for, kind):
    getattr(sim, f"add_{kind}")("Acme Supplies")
    api = client_for(sim)
    clash = api("POST", "customer", json={"DisplayName": "acme supplies"})
    assert clash.status_code == 400
    error = clash.json()["Fault"]["Error"][0]
    assert error["code"] == "6240" and error["Message"] == "Duplicate Name Exists Error"
    too_long = api("POST", "customer", json={"DisplayName": "x" * 501})
    assert too_long.status_code == 400 and too_long.json()["Fault"]["Error"][0]["code"] == "2050"
    assert api("POST", "customer", json={"DisplayName": "x" * 500}).status_code == 200


def test_an_order_whose_customer_shares_a_vendors_name_books(sim, make_connector):
    vendor = sim.add_vendor("Ana García")
    [result] = write(make_connector(), make_order())  # customer Ana García, ana@shop.test
    assert result.ok, result.error
    customer = customer_of(sim, "1001")
    assert customer is not None and customer["DisplayName"] == "Ana García (ana@shop.test)"
    assert sim.entities("Vendor") == [vendor]  # the vendor is left as it was
    assert customer["PrimaryEmailAddr"]["Address"] == "ana@shop.test"
    [again] = write(make_connector(), make_order(source_id="2", number="1002"))
    assert again.ok and customer_of(sim, "1002")["Id"] == customer["Id"] and len(sim.entities("Customer")) == 1


def test_a_name_matched_customer_beside_an_employee_of_that_name(sim, make_connector):
    sim.add_employee("Ana García")
    results = write(make_connector(), make_order(), make_order(source_id="2", number="1002",
                                                               customer=Customer(name="Ana García", email="other@x.test")),
                    customer_match="display_name")
    assert all(r.ok for r in results), [r.error for r in results]
    [customer] = sim.entities("Customer")
    assert customer["DisplayName"] == "Ana García (customer)"
    [later] = write(make_connector(), make_order(source_id="3", number="1003"), customer_match="display_name")
    assert later.ok and customer_of(sim, "1003")["Id"] == customer["Id"] and len(sim.entities("Customer")) == 1


LONG = "Grand Duchess " + "Anastasia " * 60  # 614 characters


def _twins():
    a = make_order(source_id="a", number="A-1", customer=Customer(name=LONG + "Romanova", email="ana@one.test"))
    b = make_order(source_id="b", number="B-1", customer=Customer(name=LONG + "Nikolaevna", email="ana@two.test"))
    return a, b


def test_two_customers_alike_in_their_first_500_characters_stay_two(sim, make_connector):
    a, b = _twins()
    results = write(make_connector(), a, b)
    assert all(r.ok for r in results), [r.error for r in results]
    first, second = customer_of(sim, "A-1"), customer_of(sim, "B-1")
    assert first["Id"] != second["Id"]
    assert {first["PrimaryEmailAddr"]["Address"], second["PrimaryEmailAddr"]["Address"]} == {"ana@one.test", "ana@two.test"}
    assert all(len(c["DisplayName"]) <= 500 for c in (first, second))
    assert second["DisplayName"].endswith("(ana@two.test)") or first["DisplayName"].endswith("(ana@one.test)")
    again = write(make_connector(), *(o.model_copy(update={"source_id": o.source_id + "2", "number": o.number + "2"})
                                      for o in (a, b)))
    assert all(r.ok for r in again)
    assert customer_of(sim, "A-12")["Id"] == first["Id"] and customer_of(sim, "B-12")["Id"] == second["Id"]
    assert len(sim.entities("Customer")) == 2


def test_the_second_of_two_alike_customers_in_a_later_run(sim, make_connector):
    a, b = _twins()
    assert write(make_connector(), a)[0].ok
    [result] = write(make_connector(), b)
    assert result.ok, result.error
    first, second = customer_of(sim, "A-1"), customer_of(sim, "B-1")
    assert first["Id"] != second["Id"] and second["DisplayName"].endswith(" (ana@two.test)")
    assert len(second["DisplayName"]) == 500


def test_a_name_taken_under_every_candidate_gets_the_hashed_name(sim, make_connector):
    sim.add_vendor("Ana García")
    sim.add_vendor("Ana García (ana@shop.test)")
    [result] = write(make_connector(), make_order())
    assert result.ok, result.error
    name = customer_of(sim, "1001")["DisplayName"]
    assert name.startswith("Ana García (ana@shop.test) #") and len(name) == len("Ana García (ana@shop.test) #") + 6
