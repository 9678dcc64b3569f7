"""The simulator through xero-python, the official SDK, used as a third-party client (not through Connex):
the routes it calls answer in the shapes its models read."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import urllib3

from connex_xero import XeroSimulator


@pytest.fixture
def sdk(xero: XeroSimulator):
    """An ``AccountingApi`` pointed at the simulator with a fresh access token (api-contracts §3.11)."""
    from xero_python.accounting import AccountingApi
    from xero_python.api_client import ApiClient
    from xero_python.api_client.configuration import Configuration
    from xero_python.api_client.oauth2 import OAuth2Token

    token = urllib3.PoolManager(retries=False).request(
        "POST", xero.base_url + "/connect/token", encode_multipart=False,
        fields={"grant_type": "refresh_token", "refresh_token": xero.initial_refresh_token,
                "client_id": xero.client_id, "client_secret": xero.client_secret}).json()
    stored = {"access_token": token["access_token"], "token_type": "Bearer", "scope": ["accounting.transactions"],
              "expires_in": token["expires_in"]}
    config = Configuration()  # xero-python hands out copies of a process-wide default: set the token on ours
    config.oauth2_token = OAuth2Token(client_id=xero.client_id, client_secret=xero.client_secret)
    client = ApiClient(config, pool_threads=1, oauth2_token_getter=lambda: stored, oauth2_token_saver=lambda t: None)
    client.rest_client.pool_manager = urllib3.PoolManager(retries=False)
    return AccountingApi(client, base_url=xero.base_url + "/api.xro/2.0")


def test_get_contact_by_id_and_by_contact_number(xero, sdk):
    from xero_python.accounting import Contact, Contacts
    from xero_python.exceptions import NotFoundException

    created = sdk.create_contacts(xero.tenant_id, Contacts(contacts=[
        Contact(name="Ada Lovelace", email_address="ada@example.org", contact_number="SB2")])).contacts[0]
    [contact] = sdk.get_contact(xero.tenant_id, created.contact_id).contacts
    assert contact.contact_id == created.contact_id and contact.name == "Ada Lovelace"
    assert contact.email_address == "ada@example.org"
    [by_number] = sdk.get_contact_by_contact_number(xero.tenant_id, "SB2").contacts
    assert by_number.contact_id == created.contact_id
    with pytest.raises(NotFoundException):
        sdk.get_contact(xero.tenant_id, "00000000-0000-0000-0000-000000000000")


def test_get_invoice_and_its_contact(xero, sdk):
    xero.seed_invoices(1)
    [invoice] = sdk.get_invoices(xero.tenant_id).invoices
    [contact] = sdk.get_contact(xero.tenant_id, invoice.contact.contact_id).contacts
    assert contact.contact_id == invoice.contact.contact_id
    [one] = sdk.get_invoice(xero.tenant_id, invoice.invoice_id).invoices
    assert one.invoice_number == invoice.invoice_number and Decimal(str(one.total)) == Decimal(str(invoice.total))


def test_payments_through_xero_python(xero, sdk):
    from xero_python.accounting import Account, Invoice, Payment, Payments

    xero.seed_invoices(1, status="AUTHORISED")
    [invoice] = sdk.get_invoices(xero.tenant_id).invoices
    due = Decimal(str(invoice.amount_due))
    over = sdk.create_payments(xero.tenant_id, Payments(payments=[Payment(
        invoice=Invoice(invoice_id=invoice.invoice_id), account=Account(code="090"), amount=float(due + 1))]),
        summarize_errors=False).payments[0]
    assert over.validation_errors[0].message == "Payment amount exceeds the amount outstanding on this document"
    [part] = sdk.create_payments(xero.tenant_id, Payments(payments=[Payment(
        invoice=Invoice(invoice_id=invoice.invoice_id), account=Account(code="970"), amount=1.0)])).payments
    assert part.payment_id and Decimal(str(part.amount)) == 1 and part.account.code == "970"
    [after] = sdk.get_invoice(xero.tenant_id, invoice.invoice_id).invoices
    assert Decimal(str(after.amount_due)) == due - 1 and Decimal(str(after.amount_paid)) == Decimal(str(invoice.amount_paid)) + 1
    assert [p.payment_id for p in sdk.get_payments(xero.tenant_id).payments] == [part.payment_id]


def test_credit_notes_and_allocations_through_xero_python(xero, sdk):
    """createCreditNotes and createCreditNoteAllocation as the SDK's models send and read them: the credit reduces
    the invoice's amount due and the credit note's remaining credit; more than is due or left is refused."""
    from xero_python.accounting import Allocation, Allocations, Contact, CreditNote, CreditNotes, Invoice, LineItem

    xero.seed_invoices(1, status="AUTHORISED")
    [invoice] = sdk.get_invoices(xero.tenant_id).invoices
    due = Decimal(str(invoice.amount_due))
    [note] = sdk.create_credit_notes(xero.tenant_id, CreditNotes(credit_notes=[CreditNote(
        type="ACCRECCREDIT", status="AUTHORISED", contact=Contact(contact_id=invoice.contact.contact_id),
        line_items=[LineItem(description="Returned mug", quantity=1.0, unit_amount=5.0, account_code="200",
                             tax_type="NONE")])])).credit_notes
    assert note.credit_note_id and note.credit_note_number.startswith("CN-")
    assert Decimal(str(note.total)) == Decimal(str(note.remaining_credit)) == 5
    too_much = sdk.create_credit_note_allocation(xero.tenant_id, note.credit_note_id, Allocations(allocations=[
        Allocation(amount=6.0, invoice=Invoice(invoice_id=invoice.invoice_id), date=date(2026, 9, 20))]),
        summarize_errors=False).allocations[0]
    assert "remaining credit" in too_much.validation_errors[0].message

    [allocated] = sdk.create_credit_note_allocation(xero.tenant_id, note.credit_note_id, Allocations(allocations=[
        Allocation(amount=5.0, invoice=Invoice(invoice_id=invoice.invoice_id), date=date(2026, 9, 20))])).allocations

    assert Decimal(str(allocated.amount)) == 5 and allocated.invoice.invoice_id == invoice.invoice_id
    [after] = sdk.get_invoice(xero.tenant_id, invoice.invoice_id).invoices
    assert Decimal(str(after.amount_due)) == due - 5 and Decimal(str(after.amount_credited)) == 5
    assert [c.credit_note_id for c in after.credit_notes] == [note.credit_note_id]
    [again] = sdk.get_credit_note(xero.tenant_id, note.credit_note_id).credit_notes
    assert Decimal(str(again.remaining_credit)) == 0 and again.status == "PAID"
