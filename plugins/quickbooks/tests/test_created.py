"""What the connector reports it created beside the documents (``WriteResult.created``, for ``connex undo``):
the customers and items it created, each once, never one it found; one created by a call that then failed is
reported by the next write that uses it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connex_core.connector import OrderWrite
from connex_core.errors import RetriableAPIError
from connex_core.models import Customer, LineItem
from connex_core.testing import make_order
from connex_quickbooks import resolve, writer


def write(connector, *orders):
    return connector.write_orders([OrderWrite(order=o, idempotency_key=f"idem-{o.key}", options={}) for o in orders])


def made(result) -> list[tuple[str, str, str]]:
    return [(c.kind, c.target_id, c.name) for c in result.created]


def line(sku: str) -> LineItem:
    return LineItem(line_id="1", sku=sku, name=f"Product {sku}", quantity=1, unit_price=Decimal("10.00"))


def new_entities(sim, entity: str, before: set[str]) -> dict[str, dict]:
    return {e["Id"]: e for e in sim.entities(entity) if e["Id"] not in before}


def test_each_created_customer_and_item_is_reported_once_and_found_ones_never(sim, make_connector):
    buyer = Customer(name="Ann Lee", email="ann@shop.test")
    first = make_order(source_id="1", number="1001", customer=buyer, lines=[line("MUG-BLU")], shipping=Decimal("0"))
    second = make_order(source_id="2", number="1002", customer=buyer, lines=[line("MUG-BLU"), line("CAP-01")],
                        shipping=Decimal("0"))
    customers, items = {c["Id"] for c in sim.entities("Customer")}, {i["Id"] for i in sim.entities("Item")}
    one, two = write(make_connector(), first, second)
    assert one.ok and two.ok, (one.error, two.error)
    [(customer_id, customer)] = new_entities(sim, "Customer", customers).items()
    new_items = {i["Name"]: i["Id"] for i in new_entities(sim, "Item", items).values()}
    assert set(new_items) == {"MUG-BLU", "CAP-01"}
    # The customer and MUG-BLU are first used by 1001; CAP-01 only by 1002.
    assert sorted(made(one)) == [("Customer", customer_id, customer["DisplayName"]), ("Item", new_items["MUG-BLU"], "MUG-BLU")]
    assert made(two) == [("Item", new_items["CAP-01"], "CAP-01")]

    third = make_order(source_id="3", number="1003", customer=buyer, lines=[line("CAP-01")], shipping=Decimal("0"))
    [again] = write(make_connector(), third)
    assert again.ok and again.created == []  # found in QuickBooks: nothing created, nothing reported


def test_what_a_failed_call_created_is_reported_by_the_next_write(sim, make_connector, monkeypatch):
    order = make_order(customer=Customer(name="Bo Chen", email="bo@shop.test"), lines=[line("TEE-S")],
                       shipping=Decimal("0"))
    post = writer.OrderWriter._post_documents
    calls = []

    def fail_once(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RetriableAPIError("QuickBooks did not answer", connector="quickbooks")
        return post(self, *args, **kwargs)

    monkeypatch.setattr(writer.OrderWriter, "_post_documents", fail_once)
    connector = make_connector()
    customers, items = {c["Id"] for c in sim.entities("Customer")}, {i["Id"] for i in sim.entities("Item")}
    with pytest.raises(RetriableAPIError):
        write(connector, order)  # the customer and the item are created, the document is not
    [(customer_id, _)] = new_entities(sim, "Customer", customers).items()
    [(item_id, _)] = new_entities(sim, "Item", items).items()
    [result] = write(connector, order)  # the engine's retry: both are found now, and still reported
    assert result.ok and sorted(made(result)) == [("Customer", customer_id, "Bo Chen"), ("Item", item_id, "TEE-S")]
    [after] = write(connector, make_order(source_id="9", number="1009", customer=order.customer, lines=[line("TEE-S")],
                                          shipping=Decimal("0")))
    assert after.created == []  # reported once


def test_a_customer_another_process_created_meanwhile_is_not_reported(sim, make_connector, monkeypatch):
    """The name is free at the look-up, taken when the create arrives (6240): that customer is used, not reported."""
    order = make_order(customer=Customer(name="Cy Park", email="cy@shop.test"), lines=[line("MUG-BLU")],
                       shipping=Decimal("0"))
    lookup = resolve.lookup

    def racing(api, wanted):
        found = lookup(api, wanted)
        if ("Customer", "PrimaryEmailAddr") in wanted and not sim.entities("Customer"):
            sim._create("Customer", {"DisplayName": "Cy Park", "PrimaryEmailAddr": {"Address": "cy@shop.test"}}, {})
        return found

    monkeypatch.setattr(resolve, "lookup", racing)
    items = {i["Id"] for i in sim.entities("Item")}
    [result] = write(make_connector(), order)
    assert result.ok, result.error
    [theirs] = sim.entities("Customer")
    [(item_id, _)] = new_entities(sim, "Item", items).items()
    assert made(result) == [("Item", item_id, "MUG-BLU")]
    assert sim.entities("SalesReceipt")[0]["CustomerRef"]["value"] == theirs["Id"]
