"""Task options of the Xero connector (validated by ``connex config check`` and ``connex run``).

As a source (``source_options``, in ``FetchQuery.options``): ``statuses`` (``status`` is accepted as
an older name). As a target (``target_options``, in ``TrackingWrite.options``): ``tracking_note``.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Xero's invoice statuses (the ``Status`` of an ACCREC invoice; the ``statuses`` filter of GET /Invoices).
INVOICE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED")
#: ``--since``/``--until`` select invoices by their Date (the order's date), whichever name the task uses.
DATE_FIELDS = {"orders": ("created", "order")}


def _statuses(value: Any) -> Any:
    if value is None:
        return value
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        return value  # the type check names it
    names = [str(s).strip().upper() for s in items if str(s).strip()]
    wrong = [s for s in names if s not in INVOICE_STATUSES]
    if wrong:
        raise ValueError(f"{wrong[0]!r} is not one of {', '.join(INVOICE_STATUSES)}")
    return names


class SourceOptions(BaseModel):
    """``source_options`` of a task reading Xero sales invoices as orders."""

    model_config = ConfigDict(extra="forbid")

    statuses: Optional[Union[list[str], str]] = Field(
        None, description="Read only invoices in these statuses (a list, or one comma-separated text), such as "
        "[\"AUTHORISED\", \"PAID\"] (the default: an invoice paid before it was read still ships).")
    status: Optional[Union[list[str], str]] = Field(None, description="An older name of statuses.")

    @field_validator("statuses", "status")
    @classmethod
    def _known_statuses(cls, value: Any) -> Any:
        return _statuses(value)

    @model_validator(mode="after")
    def _one_name(self) -> "SourceOptions":
        if self.statuses is not None and self.status is not None:
            raise ValueError("give statuses or status (its older name), not both")
        return self


class TargetOptions(BaseModel):
    """``target_options`` of a task writing to Xero (orders as invoices, or tracking onto them)."""

    model_config = ConfigDict(extra="forbid")

    tracking_note: Literal["always", "when_not_editable"] = Field(
        "when_not_editable", description="Tracking tasks: put the tracking in the Reference of invoices that can "
        "still be edited (in the same batched update as the cost line) and write a history note only on the others "
        "(the default: about a third of the calls), or always write a history note on the invoice (one call per "
        "shipment, which spends a 1,000-call day on 1,000 shipments).")
    record_payments: bool = Field(
        False, description="Order tasks: an invoice of an order that was paid (in full or in part) gets a payment "
        "of the amount paid (PUT /Payments, one call per batch).")
    payment_account: str = Field(
        "090", description="With record_payments: the code of the bank account (or an account with payments "
        "enabled) the payments go to.")
    cancel_paid: Literal["credit_note", "delete_payments"] = Field(
        "credit_note", description="Order tasks, an order cancelled after its invoice was paid (in full or in part; "
        "on_cancel = \"void\"): a credit note for the invoice, allocated to what is still due, the rest left as "
        "credit to refund (the default: the payments stay as they were received), or delete the payments and void "
        "the invoice.")
