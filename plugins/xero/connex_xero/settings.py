"""The settings of a Xero connection (``[connections.NAME]`` with ``type = "xero"``)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, SecretStr

from connex_core.api import ConnectorSettings

#: Granular scopes (apps created since 2026-03-02 may request no others: the broad ``accounting.transactions``
#: is refused with invalid_scope). ``accounting.payments`` is for ``record_payments``.
DEFAULT_SCOPES = ["openid", "profile", "email", "offline_access", "accounting.invoices", "accounting.payments",
                  "accounting.contacts", "accounting.settings"]


class XeroSettings(ConnectorSettings):
    """How to reach one Xero organisation, and how orders are booked there."""

    type: str = "xero"
    client_id: str = Field(description="The app's client id (developer.xero.com, My Apps).")
    client_secret: SecretStr = Field(description="The app's client secret.")
    tenant_id: Optional[str] = Field(None, description="The organisation; default: the one chosen at `connex connect`.")
    base_url: str = Field("https://api.xero.com", description="API host; the API is at {base_url}/api.xro/2.0 "
                          "and the organisations at {base_url}/connections (the sandbox: http://127.0.0.1:PORT/xero).")
    token_url: str = "https://identity.xero.com/connect/token"
    authorize_url: str = "https://login.xero.com/identity/connect/authorize"
    refresh_token: Optional[SecretStr] = Field(None, description="A refresh token to start from when none is "
                                               "stored yet.")
    redirect_port: int = Field(0, ge=0, le=65535, description="Loopback port for the OAuth redirect (0: any free port); "
                               "register http://127.0.0.1:PORT/callback with the app.")
    redirect_uri: Optional[str] = Field(None, description="The redirect URI registered with the app: an https "
                                        "address (you paste back where it led) or http://127.0.0.1:PORT/callback "
                                        "(Connex listens on that fixed port); default: a free loopback port.")
    scopes: list[str] = Field(default_factory=lambda: list(DEFAULT_SCOPES), description="The scopes `connex connect` "
                              "asks for: granular ones (accounting.invoices, accounting.payments, accounting.contacts, "
                              "accounting.settings), which apps created since March 2026 must use.")
    webhook_key: Optional[SecretStr] = Field(None, description="The app's webhooks key (developer.xero.com, "
                                             "Webhooks): `connex serve` checks x-xero-signature with it.")
    # -- writing invoices ----------------------------------------------------------------------
    invoice_status: Literal["DRAFT", "SUBMITTED", "AUTHORISED"] = "AUTHORISED"
    sales_account_code: str = Field("200", description="Account for product lines without their own.")
    shipping_account_code: str = Field("260", description="Revenue account for shipping lines (charged, and the "
                                       "shipping cost written back); lines on it read back as shipping. Default: "
                                       "260 Other Revenue of Xero's default chart.")
    tax_type: str = Field("TAX001", description="TaxType of lines on orders that carry tax.")
    no_tax_type: str = Field("NONE", description="TaxType of lines on orders without tax.")
    due_days: int = Field(30, ge=0, le=3650, description="DueDate = order date + this many days, when the order has no due date.")
    item_codes: bool = Field(True, description="Send the SKU as ItemCode when Xero has that item.")
    max_retries: int = Field(5, ge=1, le=100, description="Tries per call on 429 (minute/concurrent), 503 and dropped connections.")
