"""The simulator's requests and answers, checked against Xero's official OpenAPI document.

The connector drives a realistic session (read invoices and contacts, create contacts and
invoices, add cost lines and history notes, read history), plus the calls it does not make itself
(tracking categories, one invoice by id, a summarized 400); every exchange the simulator saw is
then validated: the operation exists, its query parameters are declared, the JSON request body
matches the operation's request schema and the JSON answer matches the schema of its status.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from connex_core.connector import FetchQuery, OrderWrite, TrackingWrite
from connex_core.errors import FatalAPIError
from connex_core.models import Customer, Shipment
from connex_core.sandbox import Request, Response
from connex_core.testing import make_order
from connex_xero.sim.simulator import API, XeroSimulator

from .conftest import FIXTURES

SPEC = json.loads((FIXTURES / "xero_accounting_subset.json").read_text())
REGISTRY = Registry().with_resource("urn:xero", Resource(contents=SPEC, specification=DRAFT4))


class RecordingSimulator(XeroSimulator):
    """The simulator, keeping every API exchange it answered."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.exchanges: list[tuple[Request, Response]] = []

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        if request.path.startswith(API):
            self.exchanges.append((request, response))
        return response


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        _, _, kind, name = node["$ref"].split("/", 3)
        node = SPEC["components"][kind][name]
    return node


def operation(method: str, path: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    for template, item in SPEC["paths"].items():
        pattern = "^" + re.sub(r"\{\w+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            op = item[method.lower()]
            params = [resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])]
            return op, params
    raise AssertionError(f"{method} {path} is not an operation of the Xero API")


def validate(instance: Any, schema: dict[str, Any], what: str) -> None:
    if "$ref" in schema:
        schema = {"$ref": "urn:xero" + schema["$ref"]}
    errors = list(jsonschema.Draft4Validator(schema, registry=REGISTRY).iter_errors(instance))
    assert not errors, f"{what}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def check(request: Request, response: Response) -> str:
    path = request.path[len(API):]
    op, params = operation(request.method, path)
    label = f"{request.method} {path} -> {response.status}"
    declared = {p["name"] for p in params if p["in"] == "query"}
    assert set(request.query) <= declared, f"{label}: undeclared query parameters {set(request.query) - declared}"
    headers = {p["name"].lower() for p in params if p["in"] == "header" and p.get("required")}
    assert headers <= set(request.headers), f"{label}: missing required headers"
    if request.body:
        body = resolve(op["requestBody"])["content"]["application/json"]["schema"]
        validate(json.loads(request.body), body, f"{label} request")
    answer = resolve(op["responses"][str(response.status)])
    content = (answer.get("content") or {}).get("application/json")
    if content and response.body:
        validate(json.loads(response.body), content["schema"], f"{label} response")
    return f"{request.method} {re.sub(r'[0-9a-f-]{36}', '{id}', path)} {response.status}"


@pytest.fixture
def recorded(mount, clock, make_xero):
    return mount(RecordingSimulator(clock=clock, seed=3))


def test_the_simulator_speaks_the_official_openapi_document(recorded, make_xero):
    recorded.seed_invoices(12)
    connector = make_xero()
    assert list(connector.fetch_orders(FetchQuery(options={"statuses": ["AUTHORISED", "PAID"]})))
    buyer = Customer(name="Spec Tester")
    writes = [OrderWrite(order=make_order(source_id=n, number=n, tax=Decimal("2.00"), customer=buyer),
                         idempotency_key=n) for n in ("O-1", "O-2")]
    created = connector.write_orders(writes)
    connector.write_orders(writes[:1])  # the duplicate: an element with ValidationErrors
    shipment = Shipment(source="shipstation", source_id="s", carrier="usps", tracking_number="94001",
                        ship_date=date(2026, 9, 16), cost=Decimal("6.50"))
    tracking = [TrackingWrite(shipment=shipment, target_ref=created[0].target_id, idempotency_key="t",
                              options={"tracking_note": "always"})]  # the history note route is checked too
    connector.write_tracking(tracking)
    connector.find_tracking(tracking)
    connector.client.call("tracking categories", "get_tracking_categories")
    connector.client.call("one invoice", "get_invoice", created[1].target_id)
    with pytest.raises(FatalAPIError):  # summarized errors: a 400 ValidationException
        connector.client.call("create", "create_invoices", {"Invoices": [{"Type": "ACCREC", "LineItems": []}]})

    seen = {check(request, response) for request, response in recorded.exchanges}
    assert seen >= {
        "GET /Invoices 200", "GET /Contacts 200", "PUT /Contacts 200", "GET /Items 200", "PUT /Invoices 200",
        "POST /Invoices 200", "PUT /Invoices/{id}/History 200", "GET /Invoices/{id}/History 200",
        "GET /TrackingCategories 200", "GET /Invoices/{id} 200", "PUT /Invoices 400",
    }, seen


def test_the_spec_examples_pass_the_same_validation():
    """The validator itself is sound: the document's own examples pass, a broken one fails."""
    from .conftest import load_fixture

    op, _ = operation("GET", "/Invoices")
    schema = resolve(op["responses"]["200"])["content"]["application/json"]["schema"]
    validate(load_fixture("spec_getInvoices_200.json"), schema, "example")
    broken = load_fixture("spec_getInvoices_200.json")
    broken["Invoices"][0]["Type"] = "SALES"
    with pytest.raises(AssertionError):
        validate(broken, schema, "broken example")
