"""The simulator and the error reading, held against the real payloads (OpenAPI examples, SDK cassettes)."""

from __future__ import annotations

import json

import pytest
import urllib3

from connex_xero.client import describe_error, validation_messages

from .conftest import load_fixture


@pytest.fixture
def connector(xero, make_xero):
    xero.seed_invoices(2, status="AUTHORISED")
    connector = make_xero()
    connector.check()
    return connector


def test_a_created_invoice_answers_every_field_of_the_documented_example(xero, connector):
    request = load_fixture("spec_createInvoices_request.json")
    request["Invoices"][0]["Contact"]["ContactID"] = next(iter(xero.contacts))
    answer = connector.client.call("create", "create_invoices", request, summarize_errors=False)["Invoices"][0]
    example = load_fixture("spec_createInvoices_200.json")["Invoices"][0]
    assert answer["StatusAttributeString"] == "OK" and answer["Total"] == example["Total"] == 40
    assert set(example) <= set(answer), set(example) - set(answer)
    assert {"ContactID", "Name"} <= set(answer["Contact"])


def test_a_history_note_answers_as_documented(xero, connector):
    invoice_id = next(iter(xero.invoices))
    request = load_fixture("spec_createInvoiceHistory_request.json")
    answer = connector.client.call("note", "create_invoice_history", invoice_id, request)
    example = load_fixture("spec_createInvoiceHistory_200.json")
    assert set(example) <= set(answer)
    assert set(example["HistoryRecords"][0]) <= set(answer["HistoryRecords"][0])
    assert answer["HistoryRecords"][0]["Details"] == "Hello World"


def test_tracking_categories_have_the_documented_shape(connector):
    answer = connector.client.call("categories", "get_tracking_categories")
    example = load_fixture("spec_getTrackingCategories_200.json")["TrackingCategories"][0]
    assert all(set(example) <= set(category) for category in answer["TrackingCategories"])


def test_token_answers_and_rate_headers_match_the_recorded_ones(xero):
    recorded_token = load_fixture("xeropython_cassette_token_refresh_response.json")
    answer = urllib3.PoolManager(retries=False).request(
        "POST", xero.base_url + "/connect/token", encode_multipart=False,
        fields={"grant_type": "refresh_token", "refresh_token": xero.initial_refresh_token,
                "client_id": xero.client_id, "client_secret": xero.client_secret}).json()
    assert set(answer) == set(recorded_token) and answer["expires_in"] == recorded_token["expires_in"] == 1800
    recorded_headers = load_fixture("xeropython_cassette_response_headers_get_organisations.json")
    limits = {h for h in recorded_headers if "Limit" in h}
    response = urllib3.PoolManager(retries=False).request(
        "GET", xero.base_url + "/api.xro/2.0/Items",
        headers={"Authorization": f"Bearer {answer['access_token']}", "xero-tenant-id": xero.tenant_id})
    assert limits == {"X-DayLimit-Remaining", "X-MinLimit-Remaining"} and limits <= set(response.headers)


@pytest.mark.parametrize("fixture, expected", [
    ("spec_createContacts_400.json", ["The contact name Buzz Lightyear is already assigned to another contact. "
                                      "The contact name must be unique across all active contacts."]),
    ("spec_createBankTransactions_200_mixed_errors.json",
     ["The Contact must contain at least 1 of the following elements to identify the contact: "
      "Name, ContactID, ContactNumber"]),
    ("spec_getInvoice_200_with_validation_error.json", ["Invoice # must be unique."]),
])
def test_validation_messages_are_found_in_the_real_error_shapes(fixture, expected):
    payload = load_fixture(fixture)
    elements = payload.get("Elements") or next(v for k, v in payload.items() if isinstance(v, list))
    assert validation_messages(elements) == expected


def test_a_400_body_is_described_by_type_and_messages():
    body = json.dumps(load_fixture("spec_createContacts_400.json")).encode()
    text = describe_error(body)
    assert text.startswith("ValidationException A validation exception occurred; The contact name Buzz Lightyear")
    assert describe_error(b"The Organisation is offline") == "The Organisation is offline"
