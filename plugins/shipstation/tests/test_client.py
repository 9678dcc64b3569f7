"""The client over HTTP mocked with ``responses``, answering with the real payloads."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
import requests
import responses
from responses import matchers

from connex_core.errors import AuthenticationError, RetriableAPIError
from connex_shipstation.client import AUTH_MESSAGE, ShipStationClient, ShipStationRequestError

BASE = "https://ssapi.shipstation.com"
KEY, SECRET = "key-0123456789", "secret-abcdefghij"


@pytest.fixture
def client(step_clock) -> ShipStationClient:
    return ShipStationClient(KEY, SECRET, base_url=BASE, timeout=12.5, clock=step_clock, page_size=2, max_tries=3)


@pytest.fixture
def api():
    with responses.RequestsMock(registry=responses.registries.OrderedRegistry) as mock:
        yield mock


def test_orders_are_paged_with_basic_auth_and_a_timeout(client, api, fixture_json):
    page = fixture_json("compwright_ListOrdersResponse.json")
    query = {"modifyDateStart": "2026-09-15 00:00:00", "sortBy": "ModifyDate", "sortDir": "ASC", "pageSize": "2"}
    api.get(f"{BASE}/orders", json=dict(page, page=1, pages=2, total=4),
            match=[matchers.query_param_matcher({**query, "page": "1"})])
    api.get(f"{BASE}/orders", json=dict(page, page=2, pages=2, total=4, orders=page["orders"][::-1]),
            match=[matchers.query_param_matcher({**query, "page": "2"})])
    pages = list(client.list_orders(modifyDateStart="2026-09-15 00:00:00", sortBy="ModifyDate", sortDir="ASC",
                                    orderStatus=None))
    assert [len(p) for p in pages] == [2, 2]
    sent = api.calls[0].request
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    assert sent.req_kwargs["timeout"] == 12.5


def test_a_page_repeated_by_the_server_is_a_loop_not_followed(client, api, fixture_json):
    page = dict(fixture_json("compwright_ListOrdersResponse.json"), pages=99)
    api.get(f"{BASE}/orders", json=page)
    api.get(f"{BASE}/orders", json=page)
    with pytest.raises(Exception, match="paging loop"):
        list(client.list_orders())


def test_429_waits_the_reset_seconds_then_retries(client, api, step_clock, fixture_json):
    api.get(f"{BASE}/stores", status=429, body="slow down",
            headers={"X-Rate-Limit-Limit": "40", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "17"})
    api.get(f"{BASE}/stores", json=fixture_json("agritheory_list_stores.json"))
    assert len(client.list_stores()) == 3
    assert step_clock.slept and step_clock.slept[0] == 17
    assert sum(step_clock.slept) < 17 * 2, "waited the reset once (limiter and retry must not both wait it)"


def test_remaining_zero_makes_the_next_call_wait_for_the_reset(client, api, step_clock):
    api.get(f"{BASE}/stores", json=[], headers={"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "9"})
    api.get(f"{BASE}/stores", json=[])
    client.list_stores()
    assert step_clock.slept == []
    client.list_stores()
    assert step_clock.slept == [9]


def test_5xx_with_an_html_body_is_retried_and_described(client, api):
    html = "<html><head><title>503 Service Temporarily Unavailable</title></head><body>nginx</body></html>"
    for _ in range(3):
        api.get(f"{BASE}/orders/1", status=503, body=html, content_type="text/html")
    with pytest.raises(RetriableAPIError) as info:
        client.get_order(1)
    assert len(api.calls) == 3
    assert "HTML page: 503 Service Temporarily Unavailable" in str(info.value)
    assert info.value.status == 503


def test_500_asp_net_body_is_described_then_success_on_retry(client, api, fixture_json):
    api.post(f"{BASE}/orders/createorders", status=500, json=fixture_json("issue_joecampo_15_error_500_truncated.json"))
    api.post(f"{BASE}/orders/createorders", json=fixture_json("compwright_CreateOrdersResponse.json"))
    answer = client.create_orders([{"orderNumber": "1", "amountPaid": Decimal("218.73")}])
    assert answer["results"][0]["success"] is True
    assert json.loads(api.calls[1].request.body) == [{"orderNumber": "1", "amountPaid": 218.73}]


def test_dropped_connection_is_retried(client, api):
    api.get(f"{BASE}/stores", body=requests.ConnectionError("connection reset by peer"))
    api.get(f"{BASE}/stores", json=[])
    assert client.list_stores() == []
    assert len(api.calls) == 2


def test_empty_500_body_is_handled(client, api):
    for _ in range(3):
        api.get(f"{BASE}/stores", status=500, body="")
    with pytest.raises(RetriableAPIError, match=r"\(empty body\)"):
        client.list_stores()


def test_401_is_fatal_at_once_and_names_no_secret(client, api):
    api.get(f"{BASE}/stores", status=401, body="")
    with pytest.raises(AuthenticationError) as info:
        client.list_stores()
    assert str(info.value) == AUTH_MESSAGE
    assert len(api.calls) == 1
    assert KEY not in repr(info.value) and SECRET not in repr(info.value)


def test_400_model_state_is_kept_and_not_retried(client, api, fixture_json):
    api.post(f"{BASE}/orders/createorders", status=400,
             json={"Message": "The request is invalid.",
                   "ModelState": {"apiOrders[1].items[0].quantity": ["Error converting value 1.5 to type 'System.Int32'."]}})
    with pytest.raises(ShipStationRequestError) as info:
        client.create_orders([{}, {}])
    assert info.value.order_indexes() == {1}
    assert "apiOrders[1].items[0].quantity" in str(info.value)
    assert len(api.calls) == 1


def test_400_object_instead_of_array_body(client, api, fixture_json):
    api.post(f"{BASE}/orders/createorders", status=400,
             json=fixture_json("issue_joecampo_pr5_error_400_createorders_not_array.json"))
    with pytest.raises(ShipStationRequestError) as info:
        client.create_orders([{}])
    assert info.value.order_indexes() == set()
    assert "Cannot deserialize the current JSON object" in str(info.value)


def test_unknown_order_is_none_even_with_an_empty_404(client, api, fixture_json):
    api.get(f"{BASE}/orders/404", status=404, body="")
    api.get(f"{BASE}/orders/123456789", json=fixture_json("compwright_GetOrderResponse.json"))
    assert client.get_order(404) is None
    assert client.get_order(123456789)["orderNumber"] == "TEST-ORDER-API-DOCS"


def test_more_than_100_orders_are_refused_before_any_call(client):
    with pytest.raises(ValueError):
        client.create_orders([{}] * 101)


def test_create_order_posts_one_object(client, api, fixture_json):
    api.post(f"{BASE}/orders/createorder", json=fixture_json("compwright_CreateOrderResponse.json"),
             match=[matchers.json_params_matcher({"orderNumber": "TEST-ORDER-API-DOCS"})])
    assert client.create_order({"orderNumber": "TEST-ORDER-API-DOCS"})["orderId"]


def test_webhooks_subscribe_list_unsubscribe(client, api, fixture_json):
    api.post(f"{BASE}/webhooks/subscribe", json={"id": 123},
             match=[matchers.json_params_matcher({"target_url": "https://hooks.test/ss?s=x", "event": "ORDER_NOTIFY",
                                                  "store_id": None, "friendly_name": "connex"})])
    api.get(f"{BASE}/webhooks", json={"webhooks": fixture_json("agritheory_list_webhooks.json")})
    api.delete(f"{BASE}/webhooks/123", body="")
    assert client.subscribe_webhook("https://hooks.test/ss?s=x", "ORDER_NOTIFY", friendly_name="connex") == 123
    assert [h["HookType"] for h in client.list_webhooks()] == ["ITEM_ORDER_NOTIFY", "SHIP_NOTIFY"]
    client.unsubscribe_webhook(123)


def test_orders_by_number_gives_up_beyond_the_page_budget(client, api, fixture_json):
    page = fixture_json("compwright_ListOrdersResponse.json")
    api.get(f"{BASE}/orders", json=dict(page, pages=3),
            match=[matchers.query_param_matcher({"orderNumber": "TEST", "pageSize": "2", "page": "1",
                                                 "sortBy": "CreateDate", "sortDir": "ASC"})])
    assert client.orders_by_number("TEST", max_pages=1) is None


def test_webhook_resource_urls_are_asked_of_the_configured_host_with_auth(client, api, fixture_json):
    resource = fixture_json("docs_webhook_ORDER_NOTIFY_payload.json")["resource_url"]  # on ssapiX.shipstation.com
    api.get(f"{BASE}/orders", json=fixture_json("compwright_ListOrdersResponse.json"),
            match=[matchers.query_param_matcher({"storeID": "123456",
                                                 "importBatch": "1ab23c4d-12ab-1abc-a1bc-a12b12cdabcd"})])
    assert len(client.get_resource(resource)["orders"]) == 2
    assert api.calls[0].request.url.startswith(f"{BASE}/orders?")
    assert api.calls[0].request.headers["Authorization"].startswith("Basic ")
