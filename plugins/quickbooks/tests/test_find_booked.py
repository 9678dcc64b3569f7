"""``find_booked`` over real HTTP against the simulator: booked documents read by the Ids the ledger recorded (one
``/batch`` of ``Id IN`` queries, nothing written), whatever the company's numbering; one voided (as a user's void
in QuickBooks leaves it; ``test_void.py`` tests the API's void) or deleted is gone; a booking recorded without an
Id is looked up by DocNumber, then read by Id."""

from __future__ import annotations

from connex_core.connector import OrderWrite
from connex_core.testing.factories import make_order


def kind(doc: dict) -> str:
    return "Invoice" if "DueDate" in doc else "SalesReceipt"


def booked(doc: dict, ref: bool = True) -> OrderWrite:
    entity = kind(doc)
    order = make_order(number=doc["DocNumber"], source_id=f"{entity}-{doc['Id']}")
    return OrderWrite(order=order, idempotency_key=f"k-{doc['Id']}",
                      target_ref=f"{entity}-{doc['Id']}" if ref else None)


def test_booked_documents_are_read_by_id_in_one_batch_and_voided_or_deleted_ones_are_gone(sim, make_connector):
    sim.preferences["SalesFormsPrefs"]["CustomTxnNumbers"] = False  # no DocNumber says which order a document is
    docs = sim.seed_documents(4, unpaid_every=1)  # receipt, invoice, receipt, invoice (each kind's Ids from 1)
    assert [kind(d) for d in docs] == ["SalesReceipt", "Invoice"] * 2
    writes = [booked(d) for d in docs]
    connector = make_connector()
    connector.find_booked(writes[:1])  # the token, once
    calls, written = sim.total_calls, sim.write_calls

    found = connector.find_booked(writes)

    assert sorted(found) == sorted(w.key for w in writes)
    assert found[writes[1].key].target_id == f"Invoice-{docs[1]['Id']}"
    assert sim.total_calls - calls == 1 and sim.write_calls == written  # one /batch of queries
    sim.void_document(kind(docs[0]), docs[0]["Id"])
    sim.void_document(kind(docs[1]), docs[1]["Id"])
    sim.delete_document("SalesReceipt", docs[2]["Id"])
    assert sorted(connector.find_booked(writes)) == [writes[3].key]


def test_a_booking_without_an_id_is_found_by_number_and_gone_when_voided(sim, make_connector):
    docs = sim.seed_documents(2, unpaid_every=1)  # Connex's own numbers: QB-00001 (receipt), QB-00002 (invoice)
    writes = [booked(d, ref=False) for d in docs]
    connector = make_connector()
    found = connector.find_booked(writes)
    assert {k: f.target_id for k, f in found.items()} == {writes[0].key: f"SalesReceipt-{docs[0]['Id']}",
                                                          writes[1].key: f"Invoice-{docs[1]['Id']}"}
    sim.void_document(kind(docs[0]), docs[0]["Id"])
    assert connector.find_orders(writes[:1])  # the write path still finds its number (not to post it twice)
    assert sorted(connector.find_booked(writes)) == [writes[1].key]
