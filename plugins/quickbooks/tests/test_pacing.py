"""Pacing and call economy of the QuickBooks connector, counted at the simulator over real HTTP.

Pins commits 1d1884b (``/batch`` paced under Intuit's 40 batches a minute), 179c08e (120 orders per
``write_orders``: one look-up ``/batch`` serves four document batches of 30) and 9d49454 (the
10-a-second pacing keeps a quarter-second margin, the minute ones a second). The simulator enforces
the real throttles (500/min, 10/s, 40 batches/min) and answers 429 past them, so "no 429" below
means the connector stayed under them on its own.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from connex_core.connector import OrderWrite
from connex_core.models import Customer
from connex_core.sandbox import SimClock, SteppedClock
from connex_core.testing import make_order
from connex_quickbooks.connector import QuickBooksConnector
from connex_quickbooks.sim.simulator import BATCH_LIMIT, QuickBooksSimulator


class Recording(QuickBooksSimulator):
    """The simulator, also noting when each API request arrived and what each ``/batch`` held."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.arrivals: list[tuple[float, str]] = []
        """(simulated second, "batch" or "other") of every /v3 request that got past auth and the throttles."""
        self.batches: list[set[str]] = []
        """Per ``/batch`` call: the kinds of its items ("Query" or the entity it writes)."""

    refresh_seconds = 0.0
    """Simulated seconds each token refresh takes (the clock is moved on while the refresh is answered)."""

    def handle(self, request):
        if self.refresh_seconds and "tokens/bearer" in request.path:
            self.clock.advance(self.refresh_seconds)
        response = super().handle(request)
        if request.path.startswith("/v3/") and response.status != 429:
            is_batch = request.path.rstrip("/").endswith("/batch")
            self.arrivals.append((self.clock.now(), "batch" if is_batch else "other"))
            if is_batch:
                items = (request.json() or {}).get("BatchItemRequest", [])
                self.batches.append({"Query" if "Query" in i else next(k for k in i if k not in ("bId", "operation"))
                                     for i in items})
        return response


@pytest.fixture
def clock() -> SimClock:
    return SteppedClock()


@pytest.fixture
def sim(clock, mount) -> Recording:
    return mount(Recording(clock=clock))


def most_in_any_window(stamps: list[float], window: float) -> int:
    """The largest number of ``stamps`` inside one half-open window of ``window`` seconds."""
    stamps, best, start = sorted(stamps), 0, 0
    for end, t in enumerate(stamps):
        while t - stamps[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def query_item(n: int) -> dict:
    return {"bId": f"q{n}", "Query": "select * from Customer where DisplayName = 'nobody'"}


def test_batches_are_paced_under_forty_a_minute(sim, make_connector, clock):
    api = make_connector().api
    start = clock.now()
    for n in range(45):
        api.batch([query_item(n)], None)
    elapsed = clock.now() - start
    batches = [t for t, kind in sim.arrivals if kind == "batch"]
    assert len(batches) == 45 and sim.calls["429"] == 0
    assert most_in_any_window(batches, 60.0) <= 40
    # the 41st batch waited for the minute (plus the one-second margin), and no longer than needed
    assert 61.0 <= elapsed < 63.0, elapsed


def test_other_calls_are_not_held_by_the_batch_pacing(sim, make_connector, clock):
    api = make_connector().api
    for n in range(40):
        api.batch([query_item(n)], None)
    start = clock.now()
    for _ in range(3):
        api.query("select * from Customer")
    assert clock.now() - start < 30.0, "queries waited for the batch throttle"
    assert sim.calls["429"] == 0


def test_ten_a_second_with_a_quarter_second_margin(sim, make_connector, clock):
    api = make_connector().api
    api.query("select * from Customer")  # the token and the limiters are set up outside the measure
    start = clock.now()
    for _ in range(30):
        api.query("select * from Customer")
    elapsed = clock.now() - start
    others = [t for t, kind in sim.arrivals if kind == "other"]
    assert sim.calls["429"] == 0 and most_in_any_window(others, 1.0) <= 10
    # 31 calls in windows of 10: the 11th, 21st and 31st each wait one second plus the 0.25 s margin
    assert 2 * 1.25 + 1.0 <= elapsed < 2 * 1.25 + 1.0 + 0.5, elapsed
    session = api.qb
    second = next(l for l in session.limiters if l.window == 1.0)
    minute = next(l for l in session.limiters if l.window == 60.0)
    assert (second.limit, second.margin) == (10, 0.25)
    assert (minute.limit, minute.margin) == (500, 1.0)
    app, company = session.batch_limiters  # per app and company; per company across apps
    assert (app.limit, app.window, app.margin) == (40, 60.0, 1.0)
    assert (company.limit, company.window, company.margin) == (120, 60.0, 1.0)


def test_a_slow_token_refresh_does_not_crowd_the_first_second(sim, make_connector, clock):
    # The first request refreshes the token; the refresh takes 1 simulated second. A pacing turn taken before
    # the refresh would date the request a second early, and the 11th would land with the other ten.
    sim.refresh_seconds = 1.0
    api = make_connector().api
    start = clock.now()
    for _ in range(12):
        api.query("select * from Customer")
    assert clock.now() - start >= 1.0, "the refresh took its simulated second"
    assert sim.calls["429"] == 0
    assert most_in_any_window([t for t, kind in sim.arrivals if kind == "other"], 1.0) <= 10


def writes(orders, **options):
    return [OrderWrite(order=o, idempotency_key=f"idem-{o.key}", options=options) for o in orders]


def test_one_write_orders_call_takes_120_orders_and_one_look_up_serves_four_document_batches(sim, make_connector):
    assert QuickBooksConnector.write_batch_size == 120 == 4 * BATCH_LIMIT
    connector = make_connector()
    customer = Customer(name="Repeat Buyer", email="repeat@shop.test")
    # warm: the customer and both items exist, so the 120 below need no creation batch
    [warm] = connector.write_orders(writes([make_order(source_id="w", number="W-1", customer=customer,
                                                       paid=False, amount_paid=Decimal("0"))], document="invoice"))
    assert warm.ok
    sim.batches.clear()
    orders = [make_order(source_id=str(n), number=f"N-{n:04d}", customer=customer, paid=False,
                         amount_paid=Decimal("0")) for n in range(120)]
    results = connector.write_orders(writes(orders, document="invoice"))
    assert all(r.ok and not r.duplicate for r in results) and len(results) == 120
    looks, documents = [b for b in sim.batches if b == {"Query"}], [b for b in sim.batches if b == {"Invoice"}]
    assert len(looks) == 1, "one look-up batch for all 120 orders"
    assert len(documents) == math.ceil(120 / BATCH_LIMIT) == 4
    assert len(sim.batches) == 5, f"no other batch expected: {sim.batches}"
    assert len([i for i in sim.entities("Invoice") if i["DocNumber"].startswith("N-")]) == 120


def test_a_rerun_of_the_120_is_one_look_up_and_all_duplicates(sim, make_connector):
    connector = make_connector()
    orders = [make_order(source_id=str(n), number=f"R-{n:04d}") for n in range(120)]
    assert all(r.ok for r in connector.write_orders(writes(orders)))
    sim.batches.clear()
    again = connector.write_orders(writes(orders))
    assert all(r.ok and r.duplicate for r in again)
    assert sim.batches == [{"Query"}]


def test_the_company_batch_cap_across_apps_is_enforced_and_a_configured_share_keeps_under_it(sim, make_connector,
                                                                                            clock):
    """Other apps sent the company 100 batches this minute: 20 are left of its 120 (api-changes §4). A connection
    told so (``company_batch_per_minute = 20``) paces under it; the simulator answers 429 past the cap."""
    sim.other_apps_batch(100)
    api = make_connector(company_batch_per_minute=20).api
    start = clock.now()
    for n in range(25):
        api.batch([query_item(n)], None)
    batches = [t for t, kind in sim.arrivals if kind == "batch"]
    assert len(batches) == 25 and sim.calls["429"] == 0
    assert most_in_any_window(batches, 60.0) <= 20
    assert clock.now() - start >= 60.0  # the 21st waited for the minute



def test_the_simulator_refuses_batches_past_the_company_cap_of_all_apps(sim, client_for):
    sim.other_apps_batch(110)  # other apps took 110 of the company's 120 this minute
    api = client_for(sim)
    answers = [api("POST", "batch", json={"BatchItemRequest": [query_item(n)]}).status_code for n in range(11)]
    assert answers == [200] * 10 + [429]  # this app's 40 are far off: the company's cap refused the 11th


def test_batch_limits_are_connection_settings(sim, make_connector):
    session = make_connector(batch_per_minute=30, company_batch_per_minute=90).api.qb
    assert [(l.limit, l.window) for l in session.batch_limiters] == [(30, 60.0), (90, 60.0)]
