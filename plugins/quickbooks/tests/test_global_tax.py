"""QuickBooks outside the US: the global tax model, in the simulator (also through python-quickbooks, a
third-party client) and in the connector; and a US company's tax kept as automated sales tax expects."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
import requests

from connex_core.connector import OrderWrite
from connex_core.models import LineItem
from connex_core.testing import make_order
from connex_quickbooks.sim.simulator import QuickBooksSimulator

D = Decimal


def write(connector, *orders, **options):
    return connector.write_orders([OrderWrite(order=o, idempotency_key=f"idem-{o.key}", options=options) for o in orders])


@pytest.fixture
def country() -> str:
    return "US"


@pytest.fixture
def sim(clock, mount, country):
    """The company the connectors of ``make_connector`` talk to, in the country a test names."""
    return mount(QuickBooksSimulator(clock=clock, country=country))


@pytest.fixture
def uk(sim):
    return sim


in_the_uk = pytest.mark.parametrize("country", ["GB"])


def _receipt(item_id: str, code: str, *, amount: str = "10.00", calc: str | None = None) -> dict:
    body = {"CustomerRef": {"value": "1"}, "Line": [{
        "DetailType": "SalesItemLineDetail", "Amount": amount,
        "SalesItemLineDetail": {"ItemRef": {"value": item_id}, "Qty": 1, "UnitPrice": amount, "TaxCodeRef": {"value": code}}}]}
    if calc:
        body["GlobalTaxCalculation"] = calc
    return body


def _customer(api) -> str:
    return api("POST", "customer", json={"DisplayName": "Buyer Ltd"}).json()["Customer"]["Id"]


@in_the_uk
def test_a_uk_company_refuses_the_us_pseudo_codes_and_computes_vat_from_real_codes(uk, client_for):
    api = client_for(uk)
    customer = _customer(api)
    info = api("GET", f"companyinfo/{uk.realm_id}").json()["CompanyInfo"]
    assert info["Country"] == "GB"
    for pseudo in ("TAX", "NON"):
        body = dict(_receipt("1", pseudo), CustomerRef={"value": customer})
        refused = api("POST", "salesreceipt", json=body)
        assert refused.status_code == 400 and refused.json()["Fault"]["Error"][0]["code"] == "2500"
    no_code = dict(_receipt("1", "x"), CustomerRef={"value": customer})
    del no_code["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"]
    missing = api("POST", "salesreceipt", json=no_code).json()["Fault"]["Error"][0]
    assert missing["code"] == "6000" and "VAT rate" in missing["Detail"]
    standard = uk.tax_code("20.0% S")["Id"]
    excluded = api("POST", "salesreceipt", json=dict(_receipt("1", standard), CustomerRef={"value": customer})).json()["SalesReceipt"]
    assert excluded["GlobalTaxCalculation"] == "TaxExcluded"
    assert D(str(excluded["TxnTaxDetail"]["TotalTax"])) == D("2.00") and D(str(excluded["TotalAmt"])) == D("12.00")
    [tax_line] = excluded["TxnTaxDetail"]["TaxLine"]
    assert D(str(tax_line["TaxLineDetail"]["TaxPercent"])) == 20 and D(str(tax_line["TaxLineDetail"]["NetAmountTaxable"])) == 10
    included = api("POST", "salesreceipt", json=dict(_receipt("1", standard, amount="12.00", calc="TaxInclusive"),
                                                     CustomerRef={"value": customer})).json()["SalesReceipt"]
    assert D(str(included["TxnTaxDetail"]["TotalTax"])) == D("2.00") and D(str(included["TotalAmt"])) == D("12.00")
    bad = api("POST", "salesreceipt", json=dict(_receipt("1", standard, calc="Sometimes"), CustomerRef={"value": customer}))
    assert bad.status_code == 400


def test_a_us_company_takes_only_tax_and_non_on_lines(sim, client_for):
    api = client_for(sim)
    customer = _customer(api)
    california = sim.tax_code("California")["Id"]
    refused = api("POST", "salesreceipt", json=dict(_receipt("1", california), CustomerRef={"value": customer}))
    assert refused.status_code == 400 and refused.json()["Fault"]["Error"][0]["code"] == "2500"
    ok = api("POST", "salesreceipt", json=dict(_receipt("1", "TAX"), CustomerRef={"value": customer},
                                               TxnTaxDetail={"TxnTaxCodeRef": {"value": california}, "TotalTax": "0.80"}))
    assert ok.status_code == 200 and D(str(ok.json()["SalesReceipt"]["TotalAmt"])) == D("10.80")


class _Auth:
    environment = "production"
    client_id = "qb-sandbox-client"
    refresh_token = "unused"

    def __init__(self, access_token: str):
        self.access_token = access_token

    def refresh(self, refresh_token=None):  # pragma: no cover - python-quickbooks calls it only without a token
        raise AssertionError("not expected")


def _python_quickbooks(sim: QuickBooksSimulator):
    """python-quickbooks (a third-party client) pointed at the simulator, as api-contracts §2.12 shows."""
    from quickbooks import QuickBooks

    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain http on loopback
    cfg = sim.client_config()
    token = requests.post(cfg["token_url"], auth=(cfg["client_id"], cfg["client_secret"]),
                          data={"grant_type": "refresh_token", "refresh_token": cfg["refresh_token"]}, timeout=5).json()

    class Local(QuickBooks):
        api_url_v3 = sandbox_api_url_v3 = f"{cfg['base_url']}/v3"

    return Local(auth_client=_Auth(token["access_token"]), refresh_token="unused", company_id=sim.realm_id, minorversion=75)


@in_the_uk
def test_python_quickbooks_sees_the_uk_rules(uk):
    from quickbooks.exceptions import QuickbooksException
    from quickbooks.objects.customer import Customer
    from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
    from quickbooks.objects.base import Ref
    from quickbooks.objects.salesreceipt import SalesReceipt
    from quickbooks.objects.taxcode import TaxCode

    qb = _python_quickbooks(uk)
    names = {code.Name: code.Id for code in TaxCode.all(qb=qb)}
    assert {"20.0% S", "Exempt", "0.0% Z"} <= set(names) and "TAX" not in names
    customer = Customer()
    customer.DisplayName = "Third Party Ltd"
    customer.save(qb=qb)

    def receipt(code: str) -> SalesReceipt:
        line = SalesItemLine()
        line.Amount = 50
        line.SalesItemLineDetail = SalesItemLineDetail()
        line.SalesItemLineDetail.ItemRef = Ref()
        line.SalesItemLineDetail.ItemRef.value = "1"
        line.SalesItemLineDetail.Qty, line.SalesItemLineDetail.UnitPrice = 1, 50
        line.SalesItemLineDetail.TaxCodeRef = Ref()
        line.SalesItemLineDetail.TaxCodeRef.value = code
        doc = SalesReceipt()
        doc.CustomerRef = customer.to_ref()
        doc.Line = [line]
        return doc

    with pytest.raises(QuickbooksException) as refused:
        receipt("TAX").save(qb=qb)
    assert refused.value.error_code == 2500 or "2500" in str(refused.value.error_code)
    saved = receipt(names["20.0% S"]).save(qb=qb)
    assert D(str(saved.TotalAmt)) == D("60.00")


# -- the connector -----------------------------------------------------------------------------------

def _line_codes(doc) -> list[str]:
    return [l["SalesItemLineDetail"]["TaxCodeRef"]["value"] for l in doc["Line"] if l.get("DetailType") == "SalesItemLineDetail"]


@in_the_uk
def test_the_connector_books_a_uk_order_with_real_tax_codes(uk, make_connector):
    order = make_order(source="shipstation", tax=D("9.00"),
                       lines=[LineItem(sku="MUG", name="Mug", quantity=D(3), unit_price=D("15.00"))],
                       shipping=D("0"), total=D("54.00"), amount_paid=D("54.00"))
    exempt = make_order(source_id="2", number="1002", tax=D("0"),
                        lines=[LineItem(sku="BOOK", name="Book", quantity=D(1), unit_price=D("8.00"))],
                        shipping=D("0"), total=D("8.00"), amount_paid=D("8.00"))
    results = write(make_connector(), order, exempt)
    assert all(r.ok for r in results), [r.error for r in results]
    by_number = {d["DocNumber"]: d for d in uk.entities("SalesReceipt")}
    standard, exempt_code = uk.tax_code("20.0% S")["Id"], uk.tax_code("Exempt")["Id"]
    taxed = by_number["1001"]
    assert set(_line_codes(taxed)) == {standard} and taxed["GlobalTaxCalculation"] == "TaxExcluded"
    assert D(str(taxed["TxnTaxDetail"]["TotalTax"])) == D("9.00") and D(str(taxed["TotalAmt"])) == order.total
    assert set(_line_codes(by_number["1002"])) == {exempt_code} and D(str(by_number["1002"]["TotalAmt"])) == D("8.00")
    items = {i["Sku"]: i for i in uk.entities("Item") if i.get("Sku")}
    assert items["MUG"]["SalesTaxCodeRef"]["value"] == standard and items["MUG"]["SalesTaxIncluded"] is False
    assert items["BOOK"]["SalesTaxCodeRef"]["value"] == exempt_code
    assert results[0].note is None or "computed a total" not in results[0].note


@in_the_uk
def test_prices_that_include_tax_and_a_chosen_code(uk, make_connector):
    order = make_order(tax=D("1.00"), lines=[LineItem(sku="JAM", name="Jam", quantity=D(1), unit_price=D("21.00"))],
                       shipping=D("0"), total=D("21.00"), amount_paid=D("21.00"))
    [result] = write(make_connector(), order, tax_inclusive=True, tax_codes={"taxable": "5.0% R"})
    assert result.ok, result.error
    [doc] = uk.entities("SalesReceipt")
    assert doc["GlobalTaxCalculation"] == "TaxInclusive" and _line_codes(doc) == [uk.tax_code("5.0% R")["Id"]]
    assert D(str(doc["TotalAmt"])) == D("21.00") and D(str(doc["TxnTaxDetail"]["TotalTax"])) == D("1.00")


@in_the_uk
def test_an_unknown_tax_code_fails_that_order_naming_it(uk, make_connector):
    [result] = write(make_connector(), make_order(), tax_codes={"taxable": "17.5% S"})
    assert not result.ok and "'17.5% S'" in result.error and "tax_codes.taxable" in result.error and "'20.0% S'" in result.error
    assert uk.entities("SalesReceipt") == [] and [i for i in uk.entities("Item") if i.get("Sku")] == []


@in_the_uk
def test_a_source_total_quickbooks_computes_differently_is_noted(uk, make_connector):
    order = make_order(tax=D("3.60"))  # 8% US-style tax on 45.00; a UK company charges 20%
    [result] = write(make_connector(), order)
    assert result.ok and "computed a total" in result.note and str(order.total) in result.note


@pytest.mark.parametrize("country, taxable, exempt, rate", [("CA", "GST", "Exempt", D("0.05")),
                                                             ("AU", "GST", "GST free", D("0.10"))])
def test_canadian_and_australian_companies(sim, make_connector, country, taxable, exempt, rate):
    company = sim
    lines = [LineItem(sku="A", name="A", quantity=D(2), unit_price=D("10.00"))]
    taxed = make_order(tax=D("20") * rate, lines=lines, shipping=D("0"), total=D("20") * (1 + rate), amount_paid=D("0"))
    free = make_order(source_id="2", number="1002", tax=D("0"), lines=lines, shipping=D("0"), total=D("20"), amount_paid=D("0"))
    results = write(make_connector(), taxed, free, document="invoice")
    assert all(r.ok for r in results), [r.error for r in results]
    by_number = {d["DocNumber"]: d for d in company.entities("Invoice")}
    assert _line_codes(by_number["1001"]) == [company.tax_code(taxable)["Id"]]
    assert _line_codes(by_number["1002"]) == [company.tax_code(exempt)["Id"]]
    assert D(str(by_number["1001"]["TotalAmt"])) == taxed.total
    assert by_number["1001"]["CurrencyRef"]["value"] == {"CA": "CAD", "AU": "AUD"}[country]


def test_a_us_order_keeps_its_tax_and_its_sales_tax_code(sim, make_connector):
    order = make_order(tax=D("3.60"), tax_code="California",
                       lines=[LineItem(sku="X", name="X", quantity=D(1), unit_price=D("45.00"), tax_code="OUTPUT")])
    [result] = write(make_connector(), order)
    assert result.ok, result.error
    [doc] = sim.entities("SalesReceipt")
    assert doc["TxnTaxDetail"]["TxnTaxCodeRef"]["value"] == sim.tax_code("California")["Id"]
    assert D(str(doc["TxnTaxDetail"]["TotalTax"])) == D("3.60") and D(str(doc["TotalAmt"])) == order.total
    assert set(_line_codes(doc)) <= {"TAX", "NON"} and _line_codes(doc)[0] == "TAX"  # Xero's OUTPUT is not a US code
    assert "GlobalTaxCalculation" not in doc
