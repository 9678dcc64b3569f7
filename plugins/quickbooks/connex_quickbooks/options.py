"""Task options of the QuickBooks connector, validated with their defaults.

Target options (the task's ``target_options`` table, arriving in ``OrderWrite.options``):

=================== ======================== =====================================================
option              default                  meaning
=================== ======================== =====================================================
document            ``"auto"``               ``"auto"`` follows the money (paid in full: sales
                                             receipt; nothing paid: invoice; part paid: invoice with
                                             a payment of the amount paid), ``"sales_receipt"`` or
                                             ``"invoice"`` force one kind (a sales receipt for an order
                                             not paid in full is refused with the reason); a rule
                                             setting ``document_type`` overrides it per order
customer_match      ``"email"``              ``"display_name"``, ``"email"``, ``"company"`` or
                                             ``"fixed"``; an order without a customer (a daily
                                             summary) always gets ``fixed_customer``; a rule
                                             setting ``customer_ref`` (a display name) wins
fixed_customer      ``"Web Store"``          the customer for ``"fixed"`` and customer-less orders
create_customers    ``true``                 create a customer that is not found (else the order
                                             fails with a message naming it)
item_match          ``"sku"``                ``"sku"`` (item Sku, falling back to the name) or
                                             ``"name"``; a rule setting a line's ``item_name`` wins
unknown_items       ``"create_non_inventory"`` ``"create_service"``, ``"create_non_inventory"`` or
                                             ``"flag"`` (the order fails, naming the items to map).
                                             Inventory items are never created.
income_account      ``"Sales of Product Income"`` income account of created items
shipping_item       ``"Shipping"``           item for the shipping line when the company does not
                                             allow shipping (else the built-in SHIPPING_ITEM_ID)
deposit_account     none (QuickBooks: Undeposited Funds) for receipts and payments; the order's
                                             ``deposit_account`` hint wins
payment_method      none                     the order's ``payment_method`` wins
create_payments     ``true``                 an invoice gets a linked Payment of the amount paid
                                             (the total when paid by rule or by shipping)
tax_codes           per country              non-US companies: tax code names for ``taxable``,
                                             ``exempt`` and ``shipping`` lines (see :mod:`.taxes`)
tax_inclusive       ``false``                non-US companies: the source's prices include tax
                                             (``GlobalTaxCalculation = TaxInclusive``)
=================== ======================== =====================================================

Source options (``source_options``, in ``FetchQuery.options``): ``class`` (only documents of this
class; default none), ``document_types`` (default both: ``["invoice", "sales_receipt"]``),
``include_tracked`` (default false: documents that already carry a tracking number are left out),
``page_size`` (query page size, 1..1000, default 1000).

Keys the sync engine itself reads from the same tables (``summary_date``, ``summary_prefix``,
``timezone``, ``date_field``) are accepted and left to it; any other unknown key is a configuration
error, so a misspelt option never passes silently.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connex_core.errors import ConfigurationError


#: Option keys that belong to the sync engine (daily summaries, windows), not to this connector.
ENGINE_KEYS = frozenset({"summary_date", "summary_prefix", "timezone", "date_field"})


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    @classmethod
    def parse(cls, raw: dict[str, Any], where: str) -> "_Options":
        try:
            return cls.model_validate({k: v for k, v in (raw or {}).items() if k not in ENGINE_KEYS})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigurationError(f"QuickBooks {where}: {problems}", key=where) from None


class TargetOptions(_Options):
    document: Literal["auto", "sales_receipt", "invoice"] = "auto"
    customer_match: Literal["display_name", "email", "company", "fixed"] = "email"
    fixed_customer: str = "Web Store"
    create_customers: bool = True
    item_match: Literal["sku", "name"] = "sku"
    unknown_items: Literal["create_service", "create_non_inventory", "flag"] = "create_non_inventory"
    income_account: str = "Sales of Product Income"
    shipping_item: str = "Shipping"
    deposit_account: Optional[str] = None
    payment_method: Optional[str] = None
    create_payments: bool = True
    tax_codes: dict[Literal["taxable", "exempt", "shipping"], str] = {}
    tax_inclusive: bool = False


class SourceOptions(_Options):
    class_name: Optional[str] = Field(None, alias="class")
    document_types: list[Literal["invoice", "sales_receipt"]] = ["invoice", "sales_receipt"]
    include_tracked: bool = False
    page_size: int = Field(1000, ge=1, le=1000)
