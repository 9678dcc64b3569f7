"""The company's country and tax model, and the tax code each line gets.

QuickBooks Online has two tax models (Intuit's US and non-US sales tax guides):

* **US** companies put the pseudo codes ``TAX``/``NON`` on lines; automated sales tax (companies made
  since November 2017, ``Preferences.TaxPrefs.PartnerTaxEnabled``) computes the tax, and a document
  keeps the source's tax when it carries ``TxnTaxDetail.TotalTax`` (with a ``TxnTaxCodeRef`` when the
  order names the company's sales tax code). The line code is ``TAX`` for a taxable line, ``NON`` for
  an exempt one.
* **Everywhere else** (UK, Canada, Australia, ...) the global model: every line carries a real
  ``TaxCode`` id (``select * from TaxCode``), ``TAX``/``NON`` do not exist, the document says whether its
  amounts include tax (``GlobalTaxCalculation``) and QuickBooks computes the tax from the codes' rates.

A line's tax category is decided in this order: the line's ``tax_code`` (set by the source or a rule):
``"taxable"``/``"TAX"`` or ``"exempt"``/``"NON"`` name a category, any other value names a code of the
company (global model; unknown there, the order fails naming it; in the US, where lines take only
TAX/NON, it is read by the line's tax instead); else the line is taxable when it carries tax, or,
when no line carries any, when the order does.

Task options (``target_options``): ``tax_codes`` maps ``"taxable"``, ``"exempt"`` and ``"shipping"``
to code names of the company (global model), defaulting per country to :data:`DEFAULT_CODES`;
``tax_inclusive`` (default false) says the source's prices include tax (``TaxInclusive``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Optional

from connex_core.api import LineItem, Order

#: Code names for taxable and exempt lines when ``tax_codes`` leaves them out: the standard rate and the
#: exempt code QuickBooks sets up for a new company of the country. Shipping follows the order's
#: goods (taxable when the order carries tax) unless ``tax_codes.shipping`` names a code.
DEFAULT_CODES: dict[str, dict[str, str]] = {
    "GB": {"taxable": "20.0% S", "exempt": "Exempt"},
    "CA": {"taxable": "GST", "exempt": "Exempt"},
    "AU": {"taxable": "GST", "exempt": "GST free"},
}
US_COUNTRIES = frozenset({"US", "USA", "UNITED STATES", "UNITED STATES OF AMERICA"})
TAXABLE_WORDS = frozenset({"taxable", "tax"})
EXEMPT_WORDS = frozenset({"exempt", "non", "none", "nontaxable", "non-taxable"})


@dataclass
class Company:
    """What the writer needs to know about the company, read once per connection (see the connector)."""

    country: str = "US"
    preferences: dict[str, Any] = field(default_factory=dict)
    tax_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Active TaxCodes by lower-cased name."""

    @property
    def global_model(self) -> bool:
        return self.country.upper() not in US_COUNTRIES

    @property
    def automated_sales_tax(self) -> bool:
        return bool((self.preferences.get("TaxPrefs") or {}).get("PartnerTaxEnabled"))

    def code(self, name: Optional[str]) -> Optional[dict[str, Any]]:
        return self.tax_codes.get(name.lower()) if name else None

    def default_code_name(self, category: str, options: dict[str, str]) -> Optional[str]:
        if options.get(category):
            return options[category]
        return DEFAULT_CODES.get(self.country.upper(), {}).get(category)


def line_category(line: LineItem, order: Order) -> str:
    """``"taxable"`` or ``"exempt"`` from the line's tax, or the order's when no line carries any."""
    if any(l.tax for l in order.lines):
        return "taxable" if line.tax > 0 else "exempt"
    return "taxable" if order.tax > 0 else "exempt"


@dataclass
class TaxPlan:
    """The tax codes of one order's lines: QuickBooks ``TaxCodeRef`` values, or the problems found."""

    lines: list[Optional[str]]
    shipping: Optional[str]
    txn_code: Optional[str] = None
    problems: list[str] = field(default_factory=list)


def plan(order: Order, company: Company, options: dict[str, str]) -> TaxPlan:
    """The ``TaxCodeRef`` value of each line of ``order`` (None for adjustment lines) and of its shipping line."""
    result = TaxPlan(lines=[], shipping=None)
    for line in order.lines:
        result.lines.append(None if line.adjustment else _line_code(line.tax_code, line_category(line, order),
                                                                     company, options, result.problems, line))
    shipping_category = "taxable" if order.tax > 0 else "exempt"
    if company.global_model:
        named = options.get("shipping")
        result.shipping = _resolve(named, company, result.problems, "tax_codes.shipping") if named else \
            _line_code(None, shipping_category, company, options, result.problems, None)
    else:
        result.shipping = "NON"
        code = company.code(order.tax_code)
        if code is not None:  # the company's sales tax code by name (a US TxnTaxCodeRef is a real TaxCode)
            result.txn_code = code["Id"]
    return result


def _line_code(named: Optional[str], category: str, company: Company, options: dict[str, str],
               problems: list[str], line: Optional[LineItem]) -> Optional[str]:
    word = (named or "").strip().lower()
    if word in TAXABLE_WORDS:
        category, named = "taxable", None
    elif word in EXEMPT_WORDS:
        category, named = "exempt", None
    if not company.global_model:
        return "TAX" if category == "taxable" else "NON"
    where = f"line {line.line_id or line.sku or line.name or '?'} tax_code" if line is not None else "shipping"
    if named:
        return _resolve(named, company, problems, where)
    name = company.default_code_name(category, options)
    if name is None:
        problems.append(f"no {category} tax code for a {company.country} company: set tax_codes.{category} "
                        f"to one of {_known(company)}")
        return None
    return _resolve(name, company, problems, f"tax_codes.{category}")


def _resolve(name: str, company: Company, problems: list[str], where: str) -> Optional[str]:
    code = company.code(name)
    if code is None:
        problems.append(f"tax code {name!r} ({where}) not found in this QuickBooks company: use one of {_known(company)}")
        return None
    return code["Id"]


def _known(company: Company) -> str:
    names = sorted(c["Name"] for c in company.tax_codes.values())
    return ", ".join(repr(n) for n in names) if names else "(the company has no tax codes)"


def global_calculation(tax_inclusive: bool) -> str:
    return "TaxInclusive" if tax_inclusive else "TaxExcluded"


def total_differs(order: Order, document_total: Any) -> Optional[str]:
    """A note when QuickBooks' computed total is not the source's (the company's rates decide the tax)."""
    ours = Decimal(str(document_total or 0))
    if abs(ours - order.total) > Decimal("0.01"):
        return (f"QuickBooks computed a total of {ours} from the company's tax codes; the source says {order.total} "
                f"(tax {order.tax}): check the tax codes or tax_inclusive")
    return None
