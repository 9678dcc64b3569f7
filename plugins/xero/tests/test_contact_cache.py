"""The contacts read for invoices' addresses are remembered for 10 minutes (the last 5,000), over real HTTP.

Pins commit b272c4f: a quiet incremental run re-reading the same invoices is one ``GET /Invoices``; once
10 minutes have passed on the connector's clock the contacts are fetched again (an address may have
changed); the memory holds at most ``CONTACT_MEMORY`` contacts, dropping the least recently read.
"""

from __future__ import annotations

from collections import Counter

import pytest

from connex_core.connector import FetchQuery
from connex_core.sandbox import SimClock

from connex_xero import connector as xero_connector
from connex_xero.sim.simulator import XeroSimulator

INVOICES = "GET /api.xro/2.0/Invoices"
CONTACTS = "GET /api.xro/2.0/Contacts"


class ContactLog(XeroSimulator):
    """The simulator, also counting how often each contact id was asked for in ``GET /Contacts?IDs=``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked: Counter[str] = Counter()

    def handle(self, request):
        if request.method == "GET" and request.path.rstrip("/").endswith("/Contacts") and request.arg("IDs"):
            self.asked.update(v.strip().lower() for v in request.arg("IDs").split(","))
        return super().handle(request)


@pytest.fixture
def clock() -> SimClock:
    """Real-time speed: simulated minutes pass only through ``clock.advance``, so the 10-minute edge is exact."""
    return SimClock(speed=1.0)


@pytest.fixture
def xero(mount, clock) -> ContactLog:
    return mount(ContactLog(clock=clock, seed=7))


def addresses(orders):
    return {o.source_id: (o.bill_to.street1, o.ship_to.street1) for o in orders}


def test_the_limits_are_ten_minutes_and_five_thousand_contacts():
    assert xero_connector.CONTACT_TTL == 600.0
    assert xero_connector.CONTACT_MEMORY == 5000


def test_a_quiet_second_run_lists_only_invoices(xero, make_xero):
    xero.seed_invoices(30, status="AUTHORISED", contacts=12)
    connector = make_xero()
    first = list(connector.fetch_orders(FetchQuery()))
    assert xero.calls[INVOICES] == 1 and xero.calls[CONTACTS] >= 1
    contact_calls = xero.calls[CONTACTS]

    second = list(connector.fetch_orders(FetchQuery()))
    assert xero.calls[INVOICES] == 2
    assert xero.calls[CONTACTS] == contact_calls  # every contact came from memory
    assert addresses(second) == addresses(first) and all(o.ship_to.street1 for o in second)


def test_contacts_are_fetched_again_after_ten_simulated_minutes(xero, make_xero, clock):
    xero.seed_invoices(30, status="AUTHORISED", contacts=12)
    connector = make_xero()
    list(connector.fetch_orders(FetchQuery()))
    fetched_once = dict(xero.asked)
    assert fetched_once and set(fetched_once.values()) == {1}

    clock.advance(590)  # still within 10 minutes of the read: no contact call
    list(connector.fetch_orders(FetchQuery()))
    assert dict(xero.asked) == fetched_once

    clock.advance(20)  # 610 s after the read: every contact is asked for again, once
    orders = list(connector.fetch_orders(FetchQuery()))
    assert dict(xero.asked) == {contact_id: 2 for contact_id in fetched_once}
    assert all(o.ship_to.street1 for o in orders)


def test_a_changed_address_is_seen_once_the_memory_expires(xero, make_xero, clock):
    xero.seed_invoices(5, status="AUTHORISED", contacts=1)
    connector = make_xero()
    before = list(connector.fetch_orders(FetchQuery()))
    contact = next(iter(xero.contacts.values()))
    for address in contact["Addresses"]:
        if address["AddressType"] == "STREET":
            address["AddressLine1"] = "1 New Street"

    assert all(o.ship_to.street1 != "1 New Street" for o in connector.fetch_orders(FetchQuery()))
    clock.advance(601)
    after = list(connector.fetch_orders(FetchQuery()))
    assert len(after) == len(before) and all(o.ship_to.street1 == "1 New Street" for o in after)


def test_the_memory_keeps_only_the_most_recent_contacts(xero, make_xero, monkeypatch):
    monkeypatch.setattr(xero_connector, "CONTACT_MEMORY", 4)
    xero.seed_invoices(40, status="AUTHORISED", contacts=10)
    connector = make_xero()
    list(connector.fetch_orders(FetchQuery()))
    assert len(xero.asked) == 10
    assert len(connector._contacts) == 4  # bounded: the other six were dropped

    list(connector.fetch_orders(FetchQuery()))
    # the four kept are not asked for again; the six dropped are
    assert sorted(xero.asked.values()) == [1] * 4 + [2] * 6
    assert len(connector._contacts) == 4
