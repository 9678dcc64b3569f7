"""The v2 client over real HTTP (``responses``): auth header, paging, 429 Retry-After, partial success,
request_id in every error, retries on 5xx and dropped connections only; and v1's 402 message."""

from __future__ import annotations

import json
import logging

import pytest
import requests
import responses

from connex_core.errors import AuthenticationError, FatalAPIError, RetriableAPIError
from connex_shipstation.client import ShipStationClient
from connex_shipstation.v2.client import ShipStationV2Client, ShipStationV2Error

from .conftest import BASE


def client(clock, **kw) -> ShipStationV2Client:
    return ShipStationV2Client("v2-key-123", base_url=BASE, timeout=5, clock=clock, **kw)


@responses.activate
def test_one_api_key_header_and_no_basic_auth(step_clock, v2_json):
    responses.get(f"{BASE}/shipments", json=v2_json("list_shipments_page.json"))
    pages = list(client(step_clock).list_shipments())
    sent = responses.calls[0].request
    assert sent.headers["api-key"] == "v2-key-123"
    assert "Authorization" not in sent.headers
    assert [s["shipment_id"] for s in pages[0]] == ["se-28529731"]


@responses.activate
def test_paging_reads_every_page_once_and_stops_at_pages(step_clock):
    for page in (1, 2, 3):
        items = [{"shipment_id": f"se-{page}{i}"} for i in range(2 if page < 3 else 1)]
        responses.get(f"{BASE}/shipments", json={"shipments": items, "total": 5, "page": page, "pages": 3, "links": {}},
                      match=[responses.matchers.query_param_matcher({"page": str(page), "page_size": "2",
                                                                     "sort_by": "modified_at"})])
    pages = list(client(step_clock, page_size=2).list_shipments(sort_by="modified_at"))
    assert [len(p) for p in pages] == [2, 2, 1]
    assert len(responses.calls) == 3


@responses.activate
def test_429_waits_retry_after_then_succeeds(step_clock, v2_json):
    responses.get(f"{BASE}/warehouses", json=v2_json("error_429.json"), status=429, headers={"Retry-After": "7"})
    responses.get(f"{BASE}/warehouses", json={"warehouses": [{"warehouse_id": "se-1"}]})
    assert client(step_clock).list_warehouses() == [{"warehouse_id": "se-1"}]
    assert 7.0 in step_clock.slept


@responses.activate
def test_429_from_a_carrier_is_not_shipstations_limit(step_clock):
    body = {"request_id": "r-1", "errors": [{"error_source": "carrier", "error_type": "system",
                                             "error_code": "rate_limit_exceeded", "message": "UPS is busy"}]}
    responses.get(f"{BASE}/warehouses", json=body, status=429, headers={"Retry-After": "60"})
    with pytest.raises(ShipStationV2Error) as info:
        client(step_clock).list_warehouses()
    assert "carrier" in str(info.value) and "r-1" in str(info.value)
    assert len(responses.calls) == 1 and 60.0 not in step_clock.slept


@responses.activate
def test_partial_success_returns_the_body_and_logs_the_request_id(step_clock, v2_json, caplog):
    body = dict(v2_json("create_shipments_partial.json"), request_id="req-partial-9")
    body["errors"] = [{"error_source": "shipstation", "error_type": "validation", "error_code": "invalid_field_value",
                       "message": "one shipment was refused"}]
    responses.post(f"{BASE}/shipments", json=body)
    with caplog.at_level(logging.WARNING, logger="connex.shipstation.v2"):
        answer = client(step_clock).create_shipments([{"external_shipment_id": "a"}, {"external_shipment_id": "b"}])
    assert answer["has_errors"] is True and len(answer["shipments"]) == 2
    assert "req-partial-9" in caplog.text
    assert json.loads(responses.calls[0].request.body) == {"shipments": [{"external_shipment_id": "a"},
                                                                         {"external_shipment_id": "b"}]}


@responses.activate
def test_every_error_names_its_request_id_and_never_the_key(step_clock, v2_json, caplog):
    responses.post(f"{BASE}/shipments", json=v2_json("error_400.json"), status=400)
    with caplog.at_level(logging.WARNING, logger="connex.shipstation.v2"), pytest.raises(ShipStationV2Error) as info:
        client(step_clock).create_shipments([{}])
    message = str(info.value)
    assert "aa3d8e8e-462b-4476-9618-72db7f7b7009" in message and "Body of request cannot be null" in message
    assert "aa3d8e8e-462b-4476-9618-72db7f7b7009" in caplog.text
    assert "v2-key-123" not in message + caplog.text
    assert len(responses.calls) == 1  # a 400 is not retried


@responses.activate
def test_401_says_how_to_fix(step_clock):
    responses.get(f"{BASE}/warehouses", json={"request_id": "r-401", "errors": []}, status=401)
    with pytest.raises(AuthenticationError) as info:
        client(step_clock).list_warehouses()
    assert "api_key" in str(info.value) and "r-401" in str(info.value)


@responses.activate
def test_5xx_and_dropped_connections_are_retried(step_clock):
    responses.get(f"{BASE}/warehouses", json={"request_id": "r-5", "errors": []}, status=503)
    responses.get(f"{BASE}/warehouses", body=requests.ConnectionError("reset"))
    responses.get(f"{BASE}/warehouses", json={"warehouses": []})
    assert client(step_clock).list_warehouses() == []
    assert len(responses.calls) == 3


@responses.activate
def test_5xx_that_never_ends_fails_with_the_request_id(step_clock):
    responses.get(f"{BASE}/warehouses", json={"request_id": "r-500", "errors": []}, status=500)
    with pytest.raises(RetriableAPIError) as info:
        client(step_clock, max_tries=2).list_warehouses()
    assert "r-500" in str(info.value)


@responses.activate
def test_rate_headers_are_read_when_sent(step_clock):
    """X-Rate-Limit-* are documented for v1 only; when an answer carries them, the client slows down."""
    responses.get(f"{BASE}/warehouses", json={"warehouses": []},
                  headers={"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "12"})
    responses.get(f"{BASE}/warehouses", json={"warehouses": []})
    c = client(step_clock)
    c.list_warehouses()
    c.list_warehouses()
    assert any(abs(s - 12.0) < 0.01 for s in step_clock.slept), step_clock.slept


@responses.activate
def test_v1_402_says_to_use_api_v2(step_clock):
    responses.get("https://ssapi.shipstation.com/stores", json={"Message": "Payment Required"}, status=402)
    v1 = ShipStationClient("k", "s", clock=step_clock)
    with pytest.raises(FatalAPIError) as info:
        v1.list_stores()
    assert 'api = "v2"' in str(info.value) and info.value.status == 402
    assert len(responses.calls) == 1
