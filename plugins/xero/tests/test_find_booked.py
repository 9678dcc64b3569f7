"""``find_booked`` over real HTTP against the simulator: booked invoices read by the InvoiceIDs the ledger recorded
(``GET /Invoices?IDs=``, 50 a call, nothing written); one voided or deleted (by hand) is gone, though the write
path's look-up by InvoiceNumber still finds the voided one; a booking recorded without an id is looked up by number,
then read by id."""

from __future__ import annotations

from connex_core.connector import OrderWrite

from .test_connector import INVOICES, order, writes


def test_booked_invoices_are_read_by_id_and_voided_or_deleted_ones_are_gone(xero, make_xero):
    connector = make_xero()
    numbers = [f"B-{n}" for n in range(1, 56)]  # 55: two calls of at most 50 ids
    written = connector.write_orders(writes(*(order(n) for n in numbers)))
    assert all(r.ok for r in written)
    booked = [OrderWrite(order=order(n), idempotency_key=f"key-{n}", target_ref=r.target_id)
              for n, r in zip(numbers, written)]
    reads, puts = xero.calls[INVOICES], xero.calls["PUT /api.xro/2.0/Invoices"]

    found = connector.find_booked(booked)

    assert sorted(found) == sorted(w.key for w in booked)
    assert found["shopify:B-7"].target_id == written[6].target_id and found["shopify:B-7"].target_number == "B-7"
    assert xero.calls[INVOICES] - reads == 2 and xero.calls["PUT /api.xro/2.0/Invoices"] == puts
    voided, deleted = xero.invoices[written[0].target_id], xero.invoices[written[1].target_id]
    with xero.lock:  # the bookkeeper voids one in Xero and deletes another
        assert not xero.books.update_invoice(voided, {"Status": "VOIDED"}).errors
        deleted["Status"] = "DELETED"  # (Xero deletes only drafts and submitted invoices; the look-up is the same)
    assert "shopify:B-1" in connector.find_orders(booked[:1])  # the write path still finds the voided number
    gone = {w.key for w in booked} - set(connector.find_booked(booked))
    assert gone == {"shopify:B-1", "shopify:B-2"}


def test_a_booking_without_an_id_is_found_by_number_and_gone_when_voided(xero, make_xero):
    connector = make_xero()
    written = connector.write_orders(writes(order("N-1"), order("N-2")))
    unknown = writes(order("N-1"), order("N-2"))  # no target_ref: found by InvoiceNumber, then read by id
    assert {k: f.target_id for k, f in connector.find_booked(unknown).items()} == {
        "shopify:N-1": written[0].target_id, "shopify:N-2": written[1].target_id}
    with xero.lock:
        assert not xero.books.update_invoice(xero.invoices[written[1].target_id], {"Status": "VOIDED"}).errors
    assert sorted(connector.find_booked(unknown)) == ["shopify:N-1"]
