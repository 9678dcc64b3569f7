"""The v2 simulator against the documented v2 shapes and rules (sources in connex_shipstation.sim.v2)."""

from __future__ import annotations

import requests

from connex_core.sandbox import Fault
from connex_shipstation.sim.v2 import REQUIRED_SHIPMENT_FIELDS, check_shipment_shape


def get(sim, path, key=None, **params):
    return requests.get(f"{sim.base_url}/v2{path}", params=params, timeout=5,
                        headers={"api-key": key or sim.api_key})


def send(sim, method, path, body):
    return requests.request(method, f"{sim.base_url}/v2{path}", json=body, timeout=5, headers={"api-key": sim.api_key})


def new_shipment(**over):
    base = {"external_shipment_id": "ext-1", "shipment_number": "S-1", "warehouse_id": "se-1001",
            "ship_to": {"name": "Ann", "phone": "555-0100", "address_line1": "1 Main St", "city_locality": "Austin",
                        "state_province": "TX", "postal_code": "78701", "country_code": "US"},
            "items": [{"name": "Mug", "sku": "MUG", "quantity": 1, "unit_price": 10}]}
    return dict(base, **over)


def test_shipments_have_the_documented_shape(v2_sim, v2_json):
    v2_sim.seed_shipments(3)
    page = get(v2_sim, "/shipments").json()
    documented = v2_json("list_shipments_page.json")
    assert set(page) == set(documented)
    for shipment in page["shipments"]:
        assert check_shipment_shape(shipment) == []
        assert set(shipment) <= set(documented["shipments"][0]), set(shipment) - set(documented["shipments"][0])
        assert set(shipment["ship_to"]) == set(documented["shipments"][0]["ship_to"])
        for item in shipment["items"]:
            assert set(item) == set(documented["shipments"][0]["items"][0])
    assert check_shipment_shape({"shipment_id": "se-1"}) == list(REQUIRED_SHIPMENT_FIELDS[1:])


def test_pages_as_v2_pages_with_links(v2_sim):
    v2_sim.seed_shipments(5)
    first = get(v2_sim, "/shipments", page_size=2, sort_dir="asc").json()
    assert (first["total"], first["page"], first["pages"]) == (5, 1, 3)
    assert "page=2" in first["links"]["next"]["href"] and first["links"]["prev"] == {}
    last = get(v2_sim, "/shipments", page_size=2, page=3, sort_dir="asc").json()
    assert len(last["shipments"]) == 1 and last["links"]["next"] == {}
    past = get(v2_sim, "/shipments", page_size=2, page=9).json()
    assert past["shipments"] == []
    default = get(v2_sim, "/shipments").json()
    assert default["shipments"][0]["created_at"] >= default["shipments"][-1]["created_at"]  # desc by default


def test_unauthorised_and_rate_limited_answers(v2_sim_realtime):
    v2_sim = v2_sim_realtime  # a real-time clock: the 60-second window must not pass between the calls
    bad = get(v2_sim, "/shipments", key="wrong")
    assert bad.status_code == 401 and bad.json()["errors"][0]["error_type"] == "security" and bad.json()["request_id"]
    v2_sim.limiter.limit = 2
    assert [get(v2_sim, "/warehouses").status_code for _ in range(3)] == [200, 200, 429]
    limited = get(v2_sim, "/warehouses")
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["errors"][0]["error_code"] == "rate_limit_exceeded"
    assert "X-Rate-Limit-Remaining" not in limited.headers


def test_create_is_partial_and_refuses_a_duplicate_external_id(v2_sim):
    answer = send(v2_sim, "POST", "/shipments", {"shipments": [new_shipment(), new_shipment(ship_to={"name": "x"})]})
    body = answer.json()
    assert answer.status_code == 200 and body["has_errors"] is True
    ok, refused = body["shipments"]
    assert ok["shipment_id"].startswith("se-") and ok["errors"] == []
    assert refused["shipment_id"] is None and "ship_to" in refused["errors"][0]["message"]
    again = send(v2_sim, "POST", "/shipments", {"shipments": [new_shipment()]}).json()
    assert "already exists" in again["shipments"][0]["errors"][0]["message"]
    assert len(v2_sim.shipments) == 1
    long = send(v2_sim, "POST", "/shipments", {"shipments": [new_shipment(external_shipment_id="e" * 60)]}).json()
    assert long["shipments"][0]["external_shipment_id"] == "e" * 50  # longer values are cut [EXT]


def test_update_changes_only_what_is_sent_and_refuses_read_only_fields(v2_sim):
    created = send(v2_sim, "POST", "/shipments", {"shipments": [new_shipment()]}).json()["shipments"][0]
    sid = created["shipment_id"]
    v2_sim.warehouse_edit(sid, service_code="ups_ground")
    updated = send(v2_sim, "PUT", f"/shipments/{sid}", {"notes_from_buyer": "leave at door"}).json()
    assert updated["notes_from_buyer"] == "leave at door" and updated["service_code"] == "ups_ground"
    assert send(v2_sim, "PUT", f"/shipments/{sid}", {"shipment_status": "cancelled"}).status_code == 400
    assert send(v2_sim, "PUT", f"/shipments/{sid}", {"external_shipment_id": "other"}).status_code == 400
    v2_sim.buy_label(sid)
    refused = send(v2_sim, "PUT", f"/shipments/{sid}", {"notes_from_buyer": "x"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["error_type"] == "business_rules"


def test_hold_until_a_later_day_and_release(v2_sim):
    later = (v2_sim.clock.utcnow().date().toordinal() + 5)
    from datetime import date

    created = send(v2_sim, "POST", "/shipments", {"shipments": [new_shipment(
        hold_until_date=date.fromordinal(later).isoformat())]}).json()["shipments"][0]
    assert created["shipment_status"] == "on_hold"
    released = send(v2_sim, "PUT", f"/shipments/{created['shipment_id']}", {"hold_until_date": None}).json()
    assert released["shipment_status"] == "pending"


def test_labels_one_shipment_per_call_and_faults(v2_sim):
    [a, b] = v2_sim.seed_shipments(2)
    v2_sim.buy_label(a["shipment_id"]) if a["shipment_status"] != "label_purchased" else None
    labels = get(v2_sim, "/labels", shipment_id=a["shipment_id"]).json()["labels"]
    assert labels and {l["shipment_id"] for l in labels} == {a["shipment_id"]}
    v2_sim.faults.add(Fault(kind="error", status=503, body=b"{}", times=1))
    assert get(v2_sim, "/labels").status_code == 503
    assert get(v2_sim, "/labels").status_code == 200
