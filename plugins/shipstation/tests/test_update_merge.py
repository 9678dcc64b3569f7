"""A re-sync keeps the warehouse's work: ``createorders`` replaces the whole order (api-contracts §1.5), so the
connector reads the order and changes only Connex's fields. The warehouse's edits are made the ways they reach
ShipStation: ``POST /orders/holduntil`` and ``POST /orders/addtag`` (v1 endpoints), and edits in the web app
(:meth:`ShipStationSimulator.edit_in_shipstation`)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from connex_core.connector import OrderWrite
from connex_core.models import Address, LineItem


@pytest.fixture
def connector(simulator, connector_for):
    return connector_for(simulator)


def _write(canonical_order, **changes):
    lines = changes.pop("lines", None) or [
        LineItem(line_id="L1", sku="MUG-BLU", name="Blue mug", quantity=Decimal("2"), unit_price=Decimal("12.50")),
        LineItem(line_id="L2", sku="TEE-L", name="T-shirt, large", quantity=Decimal("1"), unit_price=Decimal("20.00"))]
    order = canonical_order(source="quickbooks", source_id="Invoice-77", number="1077", lines=lines,
                            custom_fields={"custom1": "from-rules"}, **changes)
    return [OrderWrite(order=order, idempotency_key="idem-1077")]


def _warehouse_works_on(simulator, order_id: int) -> None:
    """What a warehouse does between two syncs, through the API and in the web app."""
    auth = (simulator.api_key, simulator.api_secret)
    held = requests.post(f"{simulator.base_url}/orders/holduntil", auth=auth, timeout=5,
                         json={"orderId": order_id, "holdUntilDate": "2026-09-30"})
    tagged = requests.post(f"{simulator.base_url}/orders/addtag", auth=auth, timeout=5,
                           json={"orderId": order_id, "tagId": 12})
    assert held.json()["success"] and tagged.json()["success"]
    simulator.edit_in_shipstation(
        order_id, weight={"value": 42, "units": "ounces"},
        dimensions={"units": "inches", "length": 12, "width": 8, "height": 4},
        carrierCode="ups", serviceCode="ups_ground", packageCode="package", confirmation="signature",
        advancedOptions={"warehouseId": 55501, "customField2": "bin 4"},
        items=[{"lineItemKey": "L1", "weight": {"value": 9, "units": "ounces"}, "warehouseLocation": "A-3"}])


@pytest.mark.parametrize("fresh_connector", [False, True], ids=["remembered-lookup", "listed-lookup"])
def test_a_resync_changes_connex_fields_and_keeps_the_warehouses(simulator, connector, connector_for,
                                                                 canonical_order, fresh_connector):
    (first,) = connector.write_orders(_write(canonical_order))
    order_id = int(first.target_id)
    _warehouse_works_on(simulator, order_id)

    # The source document changed: a quantity, the shipping address, the notes.
    lines = [LineItem(line_id="L1", sku="MUG-BLU", name="Blue mug", quantity=Decimal("3"), unit_price=Decimal("12.50")),
             LineItem(line_id="L2", sku="TEE-L", name="T-shirt, large", quantity=Decimal("1"),
                      unit_price=Decimal("20.00"))]
    moved = Address(name="Ana García", street1="9 River Rd", city="Austin", state="TX", postal_code="78702",
                    country="US")
    writer = connector_for(simulator) if fresh_connector else connector
    (again,) = writer.write_orders(_write(canonical_order, lines=lines, ship_to=moved, notes="leave at the door",
                                          total=Decimal("66.10")))
    assert again.ok and again.target_id == first.target_id

    order = simulator.orders[order_id]
    # Connex's fields: changed
    assert [i["quantity"] for i in order["items"]] == [3, 1]
    assert order["shipTo"]["street1"] == "9 River Rd" and order["customerNotes"] == "leave at the door"
    assert order["advancedOptions"]["customField1"] == "from-rules"
    # the warehouse's: kept
    assert order["orderStatus"] == "on_hold" and order["holdUntilDate"] == "2026-09-30"
    assert order["tagIds"] == [12]
    assert order["weight"] == {"value": 42, "units": "ounces"}
    assert order["dimensions"] == {"units": "inches", "length": 12, "width": 8, "height": 4}
    assert (order["carrierCode"], order["serviceCode"], order["packageCode"], order["confirmation"]) == \
        ("ups", "ups_ground", "package", "signature")
    assert order["advancedOptions"]["warehouseId"] == 55501 and order["advancedOptions"]["customField2"] == "bin 4"
    mug = order["items"][0]
    assert mug["weight"] == {"value": 9, "units": "ounces"} and mug["warehouseLocation"] == "A-3"


def test_without_the_merge_the_simulator_replaces_the_whole_order(simulator, connector, canonical_order):
    """The simulator models createorders as a full replace: sending Connex's payload alone loses the work
    (which is why the connector merges)."""
    from connex_shipstation.mapping import order_to_shipstation

    (first,) = connector.write_orders(_write(canonical_order))
    order_id = int(first.target_id)
    _warehouse_works_on(simulator, order_id)
    connector.client.create_orders([order_to_shipstation(_write(canonical_order)[0].order)])
    order = simulator.orders[order_id]
    assert order["orderStatus"] == "awaiting_shipment" and order["weight"]["value"] == 0
    assert order["tagIds"] is None and order["carrierCode"] is None
