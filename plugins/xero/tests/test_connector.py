"""The Xero connector against the simulator, over real HTTP through xero-python (urllib3)."""

from __future__ import annotations

import os
import stat
import threading
import urllib.request
from urllib.parse import parse_qs, urlsplit
from datetime import date, timedelta
from decimal import Decimal

import pytest

from connex_core.errors import ConfigurationError

from connex_core.config import REDACTOR
from connex_core.connector import FetchQuery, OrderWrite, TrackingWrite
from connex_core.errors import (AuthenticationError, DryRunWriteError, FatalAPIError, RateLimitExhausted,
                               RetriableAPIError, WebhookRejected)
from connex_core.models import Customer, LineItem, Shipment
from connex_core.sandbox import Fault, route
from connex_core.testing import make_order
from connex_core.tokens import TokenStore

from connex_xero.sim.simulator import API, XeroSimulator

from .conftest import load_fixture

INVOICES = "GET /api.xro/2.0/Invoices"


def order(number: str, name: str = "Kim Li", **extra):
    return make_order(source="shopify", source_id=number, number=number,
                      customer=Customer(name=name, email=f"{number}@shop.test"), **extra)


def writes(*orders):
    return [OrderWrite(order=o, idempotency_key=f"key-{o.number}") for o in orders]


# -- reading -----------------------------------------------------------------------------------------
def test_fetch_reads_authorised_and_paid_invoices_with_contact_addresses_and_tracking(xero, make_xero):
    xero.seed_invoices(40)
    orders = list(make_xero().fetch_orders(FetchQuery()))
    # by default: approved invoices, paid or not (one paid before Connex read it still ships); no drafts
    wanted = [i for i in xero.invoices.values() if i["Status"] in ("AUTHORISED", "PAID")]
    assert any(i["Status"] not in ("AUTHORISED", "PAID") for i in xero.invoices.values())
    assert sorted(o.source_id for o in orders) == sorted(i["InvoiceID"] for i in wanted)
    orders = [o for o in orders if xero.invoices[o.source_id]["Status"] == "AUTHORISED"]
    for o in orders:
        invoice = xero.invoices[o.source_id]
        contact = xero.contacts[invoice["ContactID"]]
        addresses = {a["AddressType"]: a for a in contact["Addresses"]}
        assert o.bill_to.street1 == addresses["POBOX"]["AddressLine1"]
        assert o.ship_to.street1 == addresses["STREET"]["AddressLine1"] and o.ship_to.country == "US"
        assert o.number == invoice["InvoiceNumber"] and o.total == invoice["Total"] and not o.paid
        assert all("Sales Channel" in line.tracking for line in o.lines)


def test_fetch_pages_and_fetches_contacts_in_batches_of_50(xero, make_xero):
    xero.seed_invoices(230, status="AUTHORISED", contacts=120)
    orders = list(make_xero().fetch_orders(FetchQuery()))
    assert len(orders) == 230 and all(o.bill_to.city for o in orders)
    assert xero.calls[INVOICES] == 3
    contact_calls = xero.calls["GET /api.xro/2.0/Contacts"]
    assert 3 <= contact_calls <= 6  # 120 contacts, at most 50 ids a call, none fetched twice


def test_fetch_honours_statuses_and_the_modified_since_cursor(xero, make_xero, clock):
    xero.seed_invoices(60, age_days=4)
    cutoff = clock.utcnow() - timedelta(days=1)
    connector = make_xero()
    query = FetchQuery(modified_since=cutoff, options={"statuses": "authorised, paid"})
    recent = list(connector.fetch_orders(query))
    expected = {i["InvoiceID"] for i in xero.invoices.values()
                if i["UpdatedDateUTC"] >= cutoff and i["Status"] in ("AUTHORISED", "PAID")}
    assert {o.source_id for o in recent} == expected and 0 < len(expected) < 60
    assert any(o.paid for o in recent)


def test_fetch_honours_the_users_date_window_on_the_invoice_date(xero, make_xero, clock):
    xero.seed_invoices(40, status="AUTHORISED")
    today = clock.utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    since, until = today - timedelta(days=6), today - timedelta(days=3)
    orders = list(make_xero().fetch_orders(FetchQuery(since=since, until=until)))
    expected = {i["InvoiceID"] for i in xero.invoices.values() if since.date() <= i["Date"] <= until.date()}
    assert {o.source_id for o in orders} == expected and 0 < len(expected) < 40


class StuckPaging(XeroSimulator):
    """A Xero that ignores ``page`` (answers page 1 every time)."""

    @route("GET", API + "/Invoices")
    def get_invoices(self, request):
        request.query["page"] = ["1"]
        return super().get_invoices(request)


def test_paging_stops_when_xero_repeats_a_page(mount, clock, make_xero):
    stuck = mount(StuckPaging(clock=clock, seed=7))
    stuck.seed_invoices(150, status="AUTHORISED")
    with pytest.raises(FatalAPIError) as info:
        list(make_xero().fetch_orders(FetchQuery()))
    assert "page 2" in str(info.value) and stuck.calls[INVOICES] == 2


def test_parse_orders_reads_a_saved_invoices_response(make_xero):
    payload = load_fixture("spec_getInvoices_200.json")
    payload["Contacts"] = load_fixture("spec_getContacts_200.json")["Contacts"]
    payload["Invoices"][2]["Contact"]["ContactID"] = payload["Contacts"][0]["ContactID"]  # Katherine Warren
    orders = list(make_xero().parse_orders(payload))
    assert [o.number for o in orders] == ["INV-0001", "INV-0002", "INV-0003"]
    assert orders[2].bill_to.city == "Palo Alto"


# -- writing orders ----------------------------------------------------------------------------------
def test_write_orders_one_call_per_batch_and_each_element_checked(xero, make_xero):
    xero.seed_invoices(3)
    existing = next(iter(xero.contacts.values()))["Name"]
    bad = order("W-3", lines=[LineItem(sku="X", name="X", quantity=Decimal(1), unit_price=Decimal(5),
                                       tracking={"Sales Channel": "Amazon"})])
    contacts_before = len(xero.contacts)
    results = make_xero().write_orders(writes(order("W-1"), order("W-2", name=existing), bad))
    assert [r.ok for r in results] == [True, True, False]
    assert "Tracking option 'Amazon'" in results[2].error
    assert xero.calls["PUT /api.xro/2.0/Invoices"] == 1 and xero.calls["PUT /api.xro/2.0/Contacts"] == 1
    assert len(xero.contacts) == contacts_before + 1  # Kim Li created once, the existing name matched
    w2 = xero.invoices[results[1].target_id]
    assert xero.contacts[w2["ContactID"]]["Name"] == existing and w2["InvoiceNumber"] == "W-2"
    assert w2["Total"] == Decimal("53.60") and w2["Reference"] == "W-2"
    assert {l["ItemCode"] for l in w2["LineItems"] if l.get("ItemCode")} == {"MUG-BLU", "TEE-L"}


def test_an_existing_invoice_number_is_a_duplicate_not_a_second_invoice(xero, make_xero):
    connector = make_xero()
    first = connector.write_orders(writes(order("D-1")))[0]
    assert connector.find_orders(writes(order("D-1")))["shopify:D-1"].target_id == first.target_id
    again = connector.write_orders([OrderWrite(order=order("D-1"), idempotency_key="another-run")])[0]
    assert again.ok and again.duplicate and again.target_id == first.target_id
    assert len(xero.invoices) == 1


def test_a_write_whose_answer_is_lost_is_retried_and_replayed_not_repeated(xero, make_xero):
    xero.faults.add(Fault(kind="lost_response", methods=("PUT",), path="/Invoices$", times=1))
    result = make_xero().write_orders(writes(order("L-1"), order("L-2")))
    assert all(r.ok for r in result)
    assert xero.calls["PUT /api.xro/2.0/Invoices"] == 2 and xero.replays == 1
    assert sorted(i["InvoiceNumber"] for i in xero.invoices.values()) == ["L-1", "L-2"]


def test_dry_run_cannot_write(make_xero, xero):
    connector = make_xero(dry_run=True)
    with pytest.raises(DryRunWriteError):
        connector.write_tracking([])
    assert xero.write_calls == 0


# -- tracking back -------------------------------------------------------------------------------------
def shipment(number: str, cost: str = "7.10") -> Shipment:
    return Shipment(source="shipstation", source_id=number, carrier="ups", service="ups_ground",
                    tracking_number=f"1Z{number}", ship_date=date(2026, 9, 16), cost=Decimal(cost))


def test_tracking_adds_cost_line_where_editable_and_a_note_everywhere(xero, make_xero):
    connector = make_xero()
    open_, paid = (r.target_id for r in connector.write_orders(writes(order("T-1"), order("T-2"))))
    xero.pay(paid)
    always = {"tracking_note": "always"}  # the note mode (the default is "when_not_editable")
    tracking = [TrackingWrite(shipment=shipment("A"), target_ref=open_, idempotency_key="ta", options=always),
                TrackingWrite(shipment=shipment("B"), target_ref=paid, idempotency_key="tb", options=always)]
    assert connector.find_tracking(tracking) == {}
    first, second = connector.write_tracking(tracking)
    assert first.ok and first.note is None and second.ok
    assert second.note == "shipping cost not added: invoice is PAID"
    assert xero.invoices[open_]["Total"] == Decimal("60.70")
    assert xero.invoices[paid]["Total"] == Decimal("53.60")
    assert any(h["Details"] == "Shipped 2026-09-16 via ups (ups_ground) tracking 1ZB" for h in xero.history(paid))
    assert set(connector.find_tracking(tracking)) == {t.key for t in tracking}
    connector.write_tracking(tracking)  # a re-run adds neither a second cost line nor a second note
    assert xero.invoices[open_]["Total"] == Decimal("60.70")
    assert sum(h["Changes"] == "Note" for h in xero.history(open_)) == 1


def test_the_default_tracking_mode_is_the_reference_where_editable(xero, make_xero):
    from connex_xero.options import TargetOptions

    assert TargetOptions().tracking_note == "when_not_editable"
    connector = make_xero()
    (open_,) = (r.target_id for r in connector.write_orders(writes(order("D-1"))))
    (result,) = connector.write_tracking([TrackingWrite(shipment=shipment("D"), target_ref=open_, idempotency_key="td")])
    assert result.ok and result.note == "tracking added to the invoice's reference"
    assert "1ZD" in xero.invoices[open_]["Reference"]
    assert not any(h["Changes"] == "Note" for h in xero.history(open_))


def test_tracking_in_the_reference_where_editable_takes_no_note_call(xero, make_xero):
    connector = make_xero()
    open_, no_cost, paid = (r.target_id for r in connector.write_orders(writes(order("R-1"), order("R-2"), order("R-3"))))
    xero.pay(paid)
    economy = {"tracking_note": "when_not_editable"}
    tracking = [TrackingWrite(shipment=shipment("E"), target_ref=open_, idempotency_key="te", options=economy),
                TrackingWrite(shipment=shipment("F", cost="0"), target_ref=no_cost, idempotency_key="tf", options=economy),
                TrackingWrite(shipment=shipment("G"), target_ref=paid, idempotency_key="tg", options=economy)]
    before = dict(xero.calls)
    results = connector.write_tracking(tracking)
    assert [r.ok for r in results] == [True, True, True]
    assert xero.invoices[open_]["Reference"].endswith("Shipped 2026-09-16 ups 1ZE")
    assert xero.invoices[no_cost]["Reference"].endswith("Shipped 2026-09-16 ups 1ZF")
    assert xero.invoices[open_]["Total"] == Decimal("60.70")  # and the cost line, in the same update
    assert xero.history(open_) == [] or all(h["Changes"] != "Note" for h in xero.history(open_))
    assert any(h["Details"] == "Shipped 2026-09-16 via ups (ups_ground) tracking 1ZG" for h in xero.history(paid))
    calls = {k: v - before.get(k, 0) for k, v in xero.calls.items() if v != before.get(k, 0)}
    assert sum(v for k, v in calls.items() if k.startswith("PUT") and "History" in k) == 1  # the paid one only
    assert sum(v for k, v in calls.items() if k.startswith("POST")) == 1  # one batched update for both open ones
    connector.write_tracking(tracking)  # a re-run adds nothing
    assert xero.invoices[open_]["Reference"].count("1ZE") == 1 and xero.invoices[open_]["Total"] == Decimal("60.70")
    assert sum(h["Changes"] == "Note" for h in xero.history(paid)) == 1


def test_an_unknown_tracking_note_mode_names_the_option(xero, make_xero):
    connector = make_xero()
    ref = connector.write_orders(writes(order("R-9")))[0].target_id
    with pytest.raises(ConfigurationError, match="target_options.tracking_note"):
        connector.write_tracking([TrackingWrite(shipment=shipment("H"), target_ref=ref, idempotency_key="th",
                                                options={"tracking_note": "sometimes"})])


def test_tracking_for_an_unknown_invoice_fails_that_shipment_only(xero, make_xero):
    connector = make_xero()
    known = connector.write_orders(writes(order("U-1")))[0].target_id
    results = connector.write_tracking([
        TrackingWrite(shipment=shipment("C"), target_ref="00000000-0000-0000-0000-000000000000", idempotency_key="x"),
        TrackingWrite(shipment=shipment("D", cost="0"), target_ref=known, idempotency_key="y")])
    assert [r.ok for r in results] == [False, True] and "not found" in results[0].error


# -- limits and errors ---------------------------------------------------------------------------------
def test_urllib3_hidden_retries_are_off(xero, make_xero):
    xero.faults.add(Fault(kind="error", status=429, headers={"Retry-After": "2", "X-Rate-Limit-Problem": "minute"},
                          methods=("GET", "PUT")))
    connector = make_xero(max_retries=1)
    with pytest.raises(RetriableAPIError) as info:
        list(connector.fetch_orders(FetchQuery()))
    assert info.value.retry_after == 2.0
    assert xero.calls[INVOICES] == 1  # urllib3's default Retry(total=3) would have sent 4
    with pytest.raises(RetriableAPIError):
        connector.client.call("create invoices", "create_invoices", {"Invoices": []}, idempotency_key="k")
    assert xero.calls["PUT /api.xro/2.0/Invoices"] == 1


def test_every_request_has_a_timeout(xero, make_xero):
    connector = make_xero(timeout=0.2, max_retries=1)
    connector.check()  # tokens first, so only the slow call is timed
    xero.faults.add(Fault(kind="slow", delay=1.0, path="/Items$"))
    with pytest.raises(RetriableAPIError) as info:
        connector.client.call("list items", "get_items")
    assert "ReadTimeoutError" in str(info.value)


def test_a_dropped_connection_is_retried_by_us(xero, make_xero):
    xero.faults.add(Fault(kind="drop", methods=("GET",), path="/Items$", times=2))
    assert make_xero().client.call("list items", "get_items")["Items"]
    assert xero.faults.injected["drop"] == 2


def test_429_with_retry_after_is_waited_out_on_the_clock(xero, make_xero, clock):
    xero.seed_invoices(2, status="AUTHORISED")
    xero.faults.add(Fault(kind="error", status=429, headers={"Retry-After": "30", "X-Rate-Limit-Problem": "minute"},
                          methods=("GET",), path="/Invoices$", times=2))
    before = clock.now()
    assert len(list(make_xero().fetch_orders(FetchQuery()))) == 2
    assert clock.now() - before >= 60  # two waits of 30 simulated seconds


@pytest.mark.stepped_clock
def test_the_client_paces_itself_under_60_a_minute(xero, make_xero, clock):
    connector = make_xero()
    before = clock.now()
    for _ in range(65):
        connector.client.call("ping", "get_tracking_categories")
    # on the stepped clock the elapsed time is only the client's own waits: the minute, and no more
    assert xero.calls["429"] == 0 and 55 <= clock.now() - before <= 61


@pytest.mark.stepped_clock
def test_the_client_slows_down_when_xero_says_no_calls_are_left_this_minute(xero, make_xero, clock):
    connector = make_xero()
    connector.check()
    for _ in range(57):  # another process of the same app spent most of this minute
        xero.minute_window.hit(xero.tenant_id)
    before = clock.now()
    for _ in range(4):
        connector.client.call("ping", "get_items")
    assert xero.calls["429"] == 0 and 30 <= clock.now() - before <= 61


def test_no_more_than_five_calls_at_once_per_organisation(xero, make_xero):
    connector = make_xero()
    connector.check()
    xero.faults.add(Fault(kind="slow", delay=0.2, path="/Items$"))
    threads = [threading.Thread(target=connector.client.call, args=("ping", "get_items")) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert xero.calls["GET /api.xro/2.0/Items"] == 8 and xero.calls["429"] == 0


def test_organisation_offline_is_retried(xero, make_xero):
    xero.seed_invoices(2, status="AUTHORISED")
    xero.go_offline(90)
    assert len(list(make_xero().fetch_orders(FetchQuery()))) == 2


def test_day_limit_stops_the_task_until_the_day_resets(xero, make_xero, clock):
    xero.day_window.limit = 2
    connector = make_xero()
    connector.client.call("ping", "get_items")
    connector.client.call("ping", "get_items")
    with pytest.raises(RateLimitExhausted) as info:
        list(connector.fetch_orders(FetchQuery()))
    assert "daily limit" in str(info.value) and info.value.resume_at is not None
    calls = xero.total_calls + xero.calls["429"]
    with pytest.raises(RateLimitExhausted):
        connector.find_orders(writes(order("X-1")))
    assert xero.total_calls + xero.calls["429"] == calls
    clock.advance(86400)  # the day resets: the task resumes
    assert connector.find_orders(writes(order("X-1"))) == {}


def test_bad_requests_are_fatal_with_xero_type_and_messages(xero, make_xero):
    connector = make_xero()
    with pytest.raises(FatalAPIError) as info:
        connector.client.call("bad where", "get_invoices", where='Type=="ACCREC" AND (')
    assert "QueryParseException" in str(info.value) and info.value.status == 400
    with pytest.raises(FatalAPIError) as info:  # summarized errors: a ValidationException naming each problem
        connector.client.call("create", "create_invoices", {"Invoices": [{"Type": "ACCREC", "Status": "DRAFT"}]})
    assert "ValidationException" in str(info.value)
    assert "The Contact must contain at least 1 of the following elements" in str(info.value)


# -- tokens ----------------------------------------------------------------------------------------------
def token_calls(xero) -> int:
    return xero.calls["POST /connect/token"]


def test_tokens_are_refreshed_rotated_and_stored_before_use(xero, make_xero, token_store, clock):
    connector = make_xero()
    connector.check()
    stored = token_store.load()
    assert stored["refresh_token"] != xero.initial_refresh_token and token_calls(xero) == 1
    assert stat.S_IMODE(os.stat(token_store.path).st_mode) == 0o600
    connector.check()
    assert token_calls(xero) == 1  # still valid: no refresh
    clock.advance(31 * 60)
    connector.check()
    assert token_calls(xero) == 2 and token_store.load()["refresh_token"] != stored["refresh_token"]


def test_a_second_process_uses_the_winners_token_instead_of_spending_the_old_one(xero, make_xero, token_store, clock):
    a, b = make_xero(), make_xero()
    a.check()
    b.check()
    assert token_calls(xero) == 1
    clock.advance(31 * 60)
    a.check()
    b.check()  # its token expired too: it re-reads the store and finds a's fresh one
    assert token_calls(xero) == 2


def test_concurrent_refreshers_refresh_once(xero, make_xero):
    connectors = [make_xero() for _ in range(4)]
    threads = [threading.Thread(target=c.check) for c in connectors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert token_calls(xero) == 1


def test_a_spent_refresh_token_ends_with_a_reconnect_message(xero, make_xero, tmp_path, clock):
    make_xero().check()  # rotates the initial refresh token away
    clock.advance(31 * 60)  # past the grace period
    stale = make_xero(store=TokenStore(tmp_path / "other", "xero"))
    with pytest.raises(AuthenticationError) as info:
        stale.check()
    message = str(info.value)
    assert "connex connect xero" in message and xero.initial_refresh_token not in message


def test_a_refresh_whose_answer_was_lost_is_retried_within_the_grace_period(xero, make_xero, token_store):
    xero.faults.add(Fault(kind="lost_response", methods=("POST",), path="^/connect/token$", times=1))
    assert make_xero().check() == "connected to Connex Demo Ltd"
    assert token_calls(xero) == 2 and token_store.load()["refresh_token"].startswith("xrt-")


def test_a_401_refreshes_once_then_fails_with_reconnect(xero, make_xero):
    connector = make_xero()
    connector.check()
    xero.expire_access_tokens()  # refresh token still good
    connector.check()
    assert token_calls(xero) == 2
    xero.revoke_tokens()
    with pytest.raises(AuthenticationError) as info:
        connector.check()
    assert "reconnect with `connex connect xero`" in str(info.value)


def test_secrets_stay_out_of_reprs_and_messages(make_xero, token_store):
    connector = make_xero(client_secret="s3cret-value")
    assert "s3cret-value" not in repr(connector.settings)
    with pytest.raises(AuthenticationError) as info:
        connector.check()
    assert "s3cret-value" not in str(info.value)
    make_xero().check()
    tokens = token_store.load()
    line = REDACTOR(f"sent Bearer {tokens['access_token']} after refresh {tokens['refresh_token']}")
    assert tokens["access_token"] not in line and tokens["refresh_token"] not in line


# -- connect -----------------------------------------------------------------------------------------------
def follow(message: str) -> None:
    """What the user's browser does: open the printed address and follow Xero's redirect to our callback."""
    url = message.splitlines()[-1]
    threading.Thread(target=lambda: urllib.request.urlopen(url, timeout=10).read(), daemon=True).start()


def test_connect_runs_the_code_flow_and_keeps_the_only_tenant(xero, make_xero, token_store):
    connector = make_xero(refresh_token=None)
    assert connector.connect(echo=follow, input_fn=lambda _: pytest.fail("no question with one tenant")) == \
        "connected to Connex Demo Ltd"
    stored = token_store.load()
    assert stored["tenant_id"] == xero.tenant_id and stored["refresh_token"].startswith("xrt-")
    assert make_xero(refresh_token=None, tenant_id=None).check() == "connected to Connex Demo Ltd"


def test_connect_asks_which_tenant_when_there_are_several(xero, make_xero, token_store):
    other = xero.add_tenant("Second Org")
    lines: list[str] = []

    def echo(message: str) -> None:
        lines.append(message)
        if message.startswith("Open"):
            follow(message)

    assert make_xero().connect(echo=echo, input_fn=lambda _: "2") == "connected to Second Org"
    assert token_store.load()["tenant_id"] == other
    assert "  2. Second Org" in lines


# -- webhooks ------------------------------------------------------------------------------------------------
def test_webhook_events_are_verified_and_fetched_as_orders(xero, make_xero):
    ids = xero.seed_invoices(3, status="AUTHORISED")
    connector = make_xero()
    headers, body = xero.webhook(ids[:2])
    event = connector.handle_webhook(headers, body, None)
    assert event.kind == "invoices" and sorted(o.source_id for o in event.orders) == sorted(ids[:2])
    assert all(o.ship_to.street1 for o in event.orders)
    intent_headers, intent = xero.webhook([])
    assert connector.handle_webhook(intent_headers, intent, None).orders == []


def test_webhook_with_a_bad_signature_is_refused(xero, make_xero):
    headers, body = xero.webhook([], key="not-the-key")
    with pytest.raises(WebhookRejected):
        make_xero().handle_webhook(headers, body, None)
    with pytest.raises(WebhookRejected):
        make_xero(webhook_key=None).handle_webhook(*xero.webhook([]), None)


def test_connect_refuses_an_answer_that_is_not_for_this_login(xero, make_xero, token_store):
    def forged(message: str) -> None:
        redirect = parse_qs(urlsplit(message.splitlines()[-1]).query)["redirect_uri"][0]
        answer = f"{redirect}?code=stolen&state=forged"
        threading.Thread(target=lambda: urllib.request.urlopen(answer, timeout=10).read(), daemon=True).start()

    with pytest.raises(AuthenticationError) as info:
        make_xero().connect(echo=forged, input_fn=lambda _: "1")
    assert "state mismatch" in str(info.value) and token_store.load() is None


def test_a_1000_call_day_works_from_the_remaining_budget_xero_reports(mount, clock, make_xero, caplog):
    """The free tier's day (1,000 calls, a third-party figure): the connector learns the budget from
    X-DayLimit-Remaining, warns once at a tenth of it, and stops at none, naming no assumed limit."""
    from connex_xero.sim.simulator import STARTER_DAY_LIMIT

    starter = mount(XeroSimulator(clock=clock, seed=7, day_limit=STARTER_DAY_LIMIT))
    starter.seed_invoices(30, status="AUTHORISED")
    connector = make_xero()
    assert len(list(connector.fetch_orders(FetchQuery()))) == 30
    used = sum(n for call, n in starter.calls.items() if API in call)  # API calls count; /connections does not
    assert used > 0 and connector.client.day_remaining() == STARTER_DAY_LIMIT - used
    for _ in range(STARTER_DAY_LIMIT - used - 104):  # the rest of the day spent by other calls (another app)
        starter.day_window.hit(starter.tenant_id.lower())
    with caplog.at_level("WARNING", logger="connex.xero"):
        for _ in range(3):
            connector.client.call("ping", "get_items")
        assert not [r for r in caplog.records if "calls left today" in r.getMessage()]
        connector.client.call("ping", "get_items")  # 100 left: a tenth of the day
        connector.client.call("ping", "get_items")
    warned = [r.getMessage() for r in caplog.records if "calls left today" in r.getMessage()]
    assert len(warned) == 1 and "100 calls left today" in warned[0]
    for _ in range(99):
        starter.day_window.hit(starter.tenant_id.lower())
    with pytest.raises(RateLimitExhausted) as info:
        connector.client.call("ping", "get_items")
    message = str(info.value)
    assert "daily limit" in message and "at least 1000 calls" in message and "5,000" not in message
    clock.advance(86400)
    assert connector.client.call("ping", "get_items") is not None
    assert connector.client.day_remaining() == STARTER_DAY_LIMIT - 1


def test_connect_by_paste_back_with_a_registered_https_uri_on_an_app_with_granular_scopes_only(mount, clock, make_xero):
    import requests

    uri = "https://connex.example.org/oauth/xero/callback"
    app = mount(XeroSimulator(clock=clock, seed=7, redirect_uris=[uri], granular_only=True))
    with pytest.raises(ValueError, match="https redirect URIs, or http on localhost"):
        app.register_redirect_uri("http://connex.example.org/cb")
    connector = make_xero(refresh_token=None, tenant_id=None, redirect_uri=uri)
    printed: list[str] = []

    def pasted(prompt: str) -> str:
        return requests.get(printed[0].splitlines()[-1], allow_redirects=False, timeout=5).headers["Location"]

    assert connector.connect(echo=printed.append, input_fn=pasted) == "connected to Connex Demo Ltd"
    address = printed[0].splitlines()[-1]
    unregistered = requests.get(address.replace("connex.example.org", "other.example.org"), allow_redirects=False,
                                timeout=5)
    assert unregistered.status_code == 500 and "Invalid redirect_uri" in unregistered.text
    broad = requests.get(address.replace("accounting.invoices", "accounting.transactions"), allow_redirects=False,
                         timeout=5)
    assert broad.status_code == 500 and "invalid_scope: accounting.transactions" in broad.text


@pytest.mark.stepped_clock  # at x1000 the minute's allowance refills a call per real millisecond: time stands still
def test_api_budgets_say_what_xero_last_said_is_left_today_without_a_call(mount, clock, make_xero):
    from connex_xero.sim.simulator import STARTER_DAY_LIMIT

    starter = mount(XeroSimulator(clock=clock, seed=7, day_limit=STARTER_DAY_LIMIT))
    starter.seed_invoices(5, status="AUTHORISED")
    connector = make_xero()
    assert [b.per for b in connector.api_budgets()] == ["minute"]  # nothing called yet: Xero said nothing
    assert len(list(connector.fetch_orders(FetchQuery()))) == 5
    used = sum(n for call, n in starter.calls.items() if API in call)
    before = dict(starter.calls)
    day, minute = connector.api_budgets()
    assert (day.per, day.remaining, day.source) == ("day", STARTER_DAY_LIMIT - used, "X-DayLimit-Remaining")
    assert minute.per == "minute" and minute.limit == 60 and minute.remaining == 60 - used
    assert dict(starter.calls) == before  # asking made no call
