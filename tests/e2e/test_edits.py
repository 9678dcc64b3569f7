"""Edits after booking (issue 14): a booked order that changes in the source follows ``on_update``.

QuickBooks and Xero documents are not updated in place yet, so a change is held with the reason (or left
as booked with ``on_update = "ignore"``): the documents in the simulators stay exactly as booked.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.e2e.helpers import money, pacific, ss_order, task_table

TASK = "shipstation-to-quickbooks"


def book_then_edit(sandbox, **task: object) -> dict:
    """Book order 7101 (2 mugs, 30.00), then change it in ShipStation to 3 mugs (42.50)."""
    ss = sandbox.shipstation
    sandbox.write([task_table(TASK, **task)])
    order = ss.add_order(ss_order("7101", pacific(2026, 9, 16)))
    ss.ship_order(order["orderId"], "ups", "1Z7101", date(2026, 9, 17), Decimal("5"))
    assert sandbox.run(TASK).counts["created"] == 1
    sandbox.clock.advance(600)
    edited = ss.add_order(dict(ss_order("7101", pacific(2026, 9, 16), status="shipped",
                                        items=[("MUG-BLU", "Blue mug", 3, "12.50")]), orderKey=order["orderKey"]))
    assert money(edited["orderTotal"]) == Decimal("42.50")
    return edited


def the_invoice(sandbox) -> dict:
    [doc] = sandbox.quickbooks.entities("Invoice")
    return doc


def test_an_edit_after_booking_is_held_with_the_reason_and_the_document_stays(sandbox):
    book_then_edit(sandbox)

    summary = sandbox.run(TASK)

    assert summary.counts["held"] == 1 and summary.counts.get("updated", 0) == 0
    doc = the_invoice(sandbox)
    assert doc["DocNumber"] == "7101" and money(doc["TotalAmt"]) == Decimal("30.00")
    [held] = sandbox.log(task=TASK, outcome="held")
    assert held.order_number == "7101" and held.target_number == "7101"
    assert "changed in the source after it was booked as 7101" in held.reason and "on_update" in held.reason
    # the ledger keeps the version it booked: the edit stays held (logged once), the original is not "changed"
    again = sandbox.run(TASK)
    assert again.counts["held"] == 1 and len(sandbox.log(task=TASK, outcome="held")) == 1
    assert money(the_invoice(sandbox)["TotalAmt"]) == Decimal("30.00")


@pytest.mark.parametrize("mode", ["hold", "ignore"])
def test_on_update_hold_and_ignore(sandbox, mode):
    book_then_edit(sandbox, on_update=mode)

    summary = sandbox.run(TASK)

    assert money(the_invoice(sandbox)["TotalAmt"]) == Decimal("30.00")
    held = sandbox.log(task=TASK, outcome="held")
    if mode == "hold":
        assert summary.counts["held"] == 1 and 'on_update = "hold"' in held[0].reason
    else:
        assert summary.counts.get("held", 0) == 0 and held == [] and summary.counts["already_synced"] == 1
