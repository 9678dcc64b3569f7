"""Task options of the QuickBooks connector: what it reads, with defaults and descriptions.

:class:`TargetOptions` is the task's ``target_options`` table (``OrderWrite.options``) and
:class:`SourceOptions` its ``source_options`` (``FetchQuery.options``). ``connex config check`` and
``connex run`` validate both against these models before any network call (an unknown or misspelt
key, or a value outside its choices, is a configuration error naming the key); the connector then
reads them typed, with their defaults, through :meth:`_Options.parse`.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connex_core.api import options_of
from connex_core.api import ConfigurationError

#: The dates ``--since``/``--until`` select documents by (the task's ``date_field``): creation or last update.
DATE_FIELDS = {"orders": ("created", "modified")}


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    @classmethod
    def parse(cls, raw: Optional[dict[str, Any]], where: str) -> Any:
        """The options typed, defaults filled (the task's engine keys, if any came along, left out)."""
        try:
            return options_of(cls, raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            raise ConfigurationError(f"QuickBooks {where}: {err['msg']}", key=f"{where}.{loc}" if loc else where) from None


class TargetOptions(_Options):
    """``target_options`` of a task writing orders (or daily summaries) to QuickBooks."""

    document: Literal["auto", "sales_receipt", "invoice"] = Field(
        "auto", description="The document an order becomes. auto follows the money: paid in full, a sales receipt; "
        "nothing paid, an invoice; part paid, an invoice with a payment of the amount paid. sales_receipt or invoice "
        "force one kind (a sales receipt for an order not paid in full is refused with the reason); a rule setting "
        "document_type overrides it per order.")
    customer_match: Literal["display_name", "email", "company", "fixed"] = Field(
        "email", description="How an order's customer is found: by display name, e-mail or company, or always "
        "fixed_customer. An order without a customer (a daily summary) gets fixed_customer; a rule setting "
        "customer_ref (a display name) wins.")
    fixed_customer: str = Field(
        "Web Store", description="The customer for customer_match = \"fixed\" and for orders without a customer "
        "(created when missing).")
    create_customers: bool = Field(
        True, description="Create a customer that is not found; when false the order fails, naming the customer.")
    item_match: Literal["sku", "name"] = Field(
        "sku", description="How lines find their item: by Sku (lines without one by name) or by name; a rule "
        "setting a line's item_name wins.")
    unknown_items: Literal["create_service", "create_non_inventory", "flag"] = Field(
        "create_non_inventory", description="An item that is not found is created as a Service or NonInventory item, "
        "or (flag) the order fails naming the items to map. Inventory items are never created.")
    income_account: str = Field("Sales of Product Income", description="The income account of items Connex creates.")
    shipping_item: str = Field(
        "Shipping", description="The Service item for shipping when the company does not allow shipping "
        "(otherwise the built-in SHIPPING_ITEM_ID line is used).")
    deposit_account: Optional[str] = Field(
        None, description="Account for sales receipts and payments (default: QuickBooks' Undeposited Funds); the "
        "order's deposit_account hint wins.")
    payment_method: Optional[str] = Field(
        None, description="Payment method of sales receipts and payments; the order's payment_method wins.")
    create_payments: bool = Field(
        True, description="An invoice gets a linked Payment of the amount paid (the total when paid by rule or by "
        "shipping).")
    tax_codes: dict[Literal["taxable", "exempt", "shipping"], str] = Field(
        default_factory=dict, description="Companies outside the US: the tax code names for taxable, exempt and "
        "shipping lines (defaults per country: UK 20.0% S / Exempt, Canada GST / Exempt, Australia GST / GST free).")
    tax_inclusive: bool = Field(
        False, description="Companies outside the US: the source's prices include tax (GlobalTaxCalculation = "
        "TaxInclusive).")


class SourceOptions(_Options):
    """``source_options`` of a task reading QuickBooks invoices and sales receipts."""

    class_name: Optional[str] = Field(None, alias="class", description="Only documents of this class (default: any).")
    document_types: list[Literal["invoice", "sales_receipt"]] = Field(
        ["invoice", "sales_receipt"], description="Which documents are read as orders.")
    include_tracked: bool = Field(
        False, description="Also read documents that already carry a tracking number (default: left out).")
    page_size: int = Field(1000, ge=1, le=1000, description="Documents per query page (1 to 1000).")
