"""The QuickBooks Online connector: orders in (receipts, invoices + payments, daily summaries),
orders out (for ShipStation, by polling or by webhook), tracking back.

The work is split by concern: :mod:`.auth` (OAuth and tokens), :mod:`.client` (python-quickbooks
with timeouts and error mapping), :mod:`.writer`, :mod:`.reader`, :mod:`.tracking`, and pure
:mod:`.mapping`. Task options are documented in :mod:`.options` and the plugin's README.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Optional

from pydantic import Field, SecretStr

from connex_core.api import (
    Capability, Connector, ConnectorSettings, FetchQuery, Found, OrderWrite, TrackingWrite, WebhookEvent, WriteResult,
)
from connex_core.api import ApiBudget, ConnexError, Order
from connex_core.api import TokenStore
from connex_core.api import WebhookRejected
from connex_core.api import hmac_sha256_ok
from connex_core.api import authorize_address as address_of

from .auth import AUTHORIZE_URL, TOKEN_URL, TokenManager, authorize, finish_authorization
from .client import PRODUCTION_API, SANDBOX_API, QuickBooksAPI
from .options import DATE_FIELDS, SourceOptions, TargetOptions
from .reader import DocumentReader, parse_payload, passes
from .requestids import RequestIds
from .taxes import Company
from .tracking import TrackingWriter
from .writer import OrderWriter


class QuickBooksSettings(ConnectorSettings):
    """``[connections.NAME]`` for QuickBooks Online."""

    type: str = "quickbooks"
    client_id: str
    client_secret: SecretStr
    realm_id: str = ""
    """The company id; empty until ``connex connect`` records it in the token store."""
    environment: Literal["production", "sandbox"] = "production"
    base_url: Optional[str] = None
    """API base override, e.g. the simulator's ``http://127.0.0.1:PORT/quickbooks``."""
    token_url: Optional[str] = None
    authorize_url: Optional[str] = None
    refresh_token: Optional[SecretStr] = None
    """Initial refresh token, used only while the token store has none (the sandbox hands one out)."""
    verifier_token: Optional[SecretStr] = None
    """The app's webhooks verifier token: checks the ``intuit-signature`` of webhooks ``connex serve`` receives."""
    redirect_port: int = Field(0, ge=0, le=65535)
    """Loopback port for the OAuth redirect of ``connex connect`` (0: any free port)."""
    redirect_uri: Optional[str] = None
    """The redirect URI registered with the app: an ``https`` address (the user pastes back where it led) or
    ``http://localhost:PORT/callback`` (Connex listens on that fixed port); default: a free loopback port."""
    minorversion: int = 75
    batch_per_minute: int = Field(40, ge=1, le=1000, description="/batch requests a minute this app may send the "
                                  "company (Intuit's throttle per app and company).")
    company_batch_per_minute: int = Field(120, ge=1, le=1000, description="/batch requests a minute the company takes "
                                          "from all apps together (Intuit's cap per company since 2025); connections "
                                          "of this process to one company share it. Lower it when other apps send "
                                          "the company batches too.")


class QuickBooksConnector(Connector):
    name = "quickbooks"
    title = "QuickBooks Online"
    settings_model = QuickBooksSettings
    source_options_model = SourceOptions
    target_options_model = TargetOptions
    date_fields = DATE_FIELDS
    capabilities = frozenset({Capability.READ_ORDERS, Capability.WRITE_ORDERS, Capability.WRITE_TRACKING})
    write_batch_size = 120
    """Orders per ``write_orders`` call: one look-up ``/batch`` then serves four document batches of 30 (the
    API's limit per ``/batch``), and customers, items and payments fill their batches better."""
    numbers_ignore_case = True
    """QuickBooks' duplicate DocNumber check ignores case (the simulator's 6140; the look-ups of :meth:`find_orders`)."""
    timezone = "America/Los_Angeles"
    """QuickBooks writes times in the company's zone (with an offset); US Pacific is what ``--since DAY`` assumes."""

    settings: QuickBooksSettings

    def __init__(self, settings: QuickBooksSettings, ctx):
        super().__init__(settings, ctx)
        self._tokens: Optional[TokenManager] = None
        self._api: Optional[QuickBooksAPI] = None
        self._preferences: Optional[dict[str, Any]] = None
        self._company: Optional[Company] = None
        self.request_ids = RequestIds(Path(ctx.state_dir) / f"{ctx.connection}.requestids.json")
        self._made: dict = {}
        """Customers and items created and not yet reported on an order's result (:class:`.writer.OrderWriter`)."""

    @property
    def tokens(self) -> TokenManager:
        """Built on first use, so mapping saved payloads (``connex rules dry-run``) needs no credentials."""
        if self._tokens is None:
            settings, ctx = self.settings, self.ctx
            secret = settings.refresh_token.get_secret_value() if settings.refresh_token else None
            self._tokens = TokenManager(
                client_id=settings.client_id, client_secret=settings.client_secret.get_secret_value(),
                environment=settings.environment, token_url=settings.token_url or TOKEN_URL,
                authorize_url=settings.authorize_url or AUTHORIZE_URL,
                store=ctx.tokens or TokenStore(ctx.state_dir, ctx.connection), connection=ctx.connection,
                clock=self.clock, timeout=settings.timeout, initial_refresh_token=secret, realm_id=settings.realm_id)
        return self._tokens

    @property
    def api(self) -> QuickBooksAPI:
        if self._api is None:
            base = self.settings.base_url or (SANDBOX_API if self.settings.environment == "sandbox" else PRODUCTION_API)
            self._api = QuickBooksAPI.create(realm_id=self.tokens.realm_id(), api_base=base, tokens=self.tokens,
                                             timeout=self.settings.timeout, minorversion=self.settings.minorversion,
                                             clock=self.clock, connection=self.ctx.connection,
                                             client_id=self.settings.client_id,
                                             batch_per_minute=self.settings.batch_per_minute,
                                             company_batch_per_minute=self.settings.company_batch_per_minute)
        return self._api

    @property
    def preferences(self) -> dict[str, Any]:
        """The company's preferences (custom numbers, shipping allowed), read once per connector."""
        if self._preferences is None:
            self._preferences = self.api.preferences()
        return self._preferences

    @property
    def company(self) -> Company:
        """The company's country, preferences and (outside the US) tax codes, read once per connector
        (one connector serves one connection for a whole run)."""
        if self._company is None:
            country = str(self.api.company_info().get("Country") or "US")
            codes = self.api.query_all("select * from TaxCode", "TaxCode")
            self._company = Company(country=country, preferences=self.preferences,
                                    tax_codes={str(c["Name"]).lower(): c for c in codes if c.get("Active", True) is not False})
        return self._company

    # -- lifecycle -------------------------------------------------------------------------------
    def check(self) -> str:
        info = self.api.company_info()
        return f"connected to {info.get('CompanyName', 'QuickBooks')} (realm {self.api.qb.company_id})"

    def connect(self, *, port: int = 0, open_browser: bool = False, echo: Callable[[str], None] = print,
                input_fn: Callable[[str], str] = input, redirect_uri: Optional[str] = None) -> str:
        realm = authorize(self.tokens, port=port or self.settings.redirect_port, open_browser=open_browser, echo=echo,
                          input_fn=input_fn, redirect_uri=redirect_uri or (None if port else self.settings.redirect_uri))
        if self.settings.realm_id and self.settings.realm_id != realm:
            echo(f"note: the config names realm {self.settings.realm_id}, but you connected company {realm}")
        self._api = None
        return self.check()

    def authorize_address(self, redirect_uri: str, state: str) -> str:
        return address_of(self.tokens.app, redirect_uri, state)

    def finish_connect(self, answer: dict[str, str], redirect_uri: str) -> str:
        realm = finish_authorization(self.tokens, answer, redirect_uri)
        self._api = None
        if self.settings.realm_id and self.settings.realm_id != realm:
            return (f"connected company {realm}, but the config names realm {self.settings.realm_id}: "
                    f"set realm_id = \"{realm}\" or connect that company")
        return self.check()

    def close(self) -> None:
        if self._api is not None:
            self._api.qb.session.close()

    def api_budgets(self) -> list[ApiBudget]:
        """The company's calls this minute, as Connex paces them to QuickBooks' 500 a minute (no call made)."""
        try:
            minute = self.api.qb.limiters[0]
        except ConnexError:  # no company known yet: nothing called
            return []
        return [ApiBudget(remaining=minute.remaining(), per="minute", limit=minute.limit,
                          source="paced by Connex to QuickBooks' 500 calls a minute per company")]

    # -- reading ---------------------------------------------------------------------------------
    def fetch_orders(self, query: FetchQuery) -> Iterator[Order]:
        return DocumentReader(self.api).orders(query)

    def parse_orders(self, payload: Any) -> Iterator[Order]:
        return parse_payload(payload)

    def accepts(self, order: Order, query: FetchQuery) -> bool:
        return passes(order, SourceOptions.parse(query.options, "source_options"))

    def verify_webhook(self, headers: dict[str, str], body: bytes, secret: Optional[str]) -> Optional[bytes]:
        """The ``intuit-signature`` header: base64 HMAC-SHA256 of the body with the app's verifier token."""
        key = self.settings.verifier_token.get_secret_value() if self.settings.verifier_token else ""
        if not hmac_sha256_ok(body, key, headers.get("intuit-signature")):
            raise WebhookRejected("QuickBooks webhook signature does not verify (check verifier_token)")
        return None

    def read_webhook(self, headers: dict[str, str], body: bytes) -> WebhookEvent:
        """Fetch the invoices and sales receipts a delivery names, for this connection's company.

        Both formats Intuit sends are read (``docs`` in :mod:`connex_quickbooks.webhooks`): CloudEvents (a JSON
        array of events, since 2026) and the legacy ``eventNotifications`` body. Events for another company
        (a delivery may mix the companies of one app), other entities, deletions and voids carry no order.
        """
        from .webhooks import changed_documents

        refs = changed_documents(body, self.api.qb.company_id)
        if not refs:
            return WebhookEvent(kind="other", orders=[])
        return WebhookEvent(kind="documents", orders=DocumentReader(self.api).by_ids(refs))

    # -- writing ---------------------------------------------------------------------------------
    def _writer(self) -> OrderWriter:
        return OrderWriter(self.api, self.api.qb.company_id, self.company, self.request_ids, self._made)

    def find_orders(self, writes: list[OrderWrite]) -> dict[str, Found]:
        return self._writer().find(writes) if writes else {}

    def find_booked(self, writes: list[OrderWrite]) -> dict[str, Found]:
        """The booked documents QuickBooks still holds, read by the ids the ledger recorded (one ``/batch`` of
        ``Id IN`` queries), whatever the company's numbering; a deleted or voided one is gone (see :mod:`.booked`)."""
        from .booked import find_booked

        return find_booked(self.api, writes, self.find_orders) if writes else {}

    def write_orders(self, writes: list[OrderWrite]) -> list[WriteResult]:
        return self._writer().write(writes) if writes else []

    def write_follow_ups(self, items: list[tuple[OrderWrite, Found]]) -> list[WriteResult]:
        return self._writer().follow_ups(items) if items else []

    def cancel_orders(self, writes: list[OrderWrite]) -> list[WriteResult]:
        """Void the invoices (their own payments first) and sales receipts of orders cancelled after booking."""
        from .cancel import cancel

        return cancel(self.api, writes) if writes else []

    def list_documents(self, first: date, last: date, options: dict[str, Any]) -> Iterator[Found]:
        """Invoices and sales receipts whose TxnDate is in ``first..last``; voided ones left out."""
        from .cancel import voided
        from .mapping import target_ref
        from .qbquery import quote

        for entity in ("SalesReceipt", "Invoice"):
            select = (f"select * from {entity} WHERE TxnDate >= {quote(first.isoformat())} AND TxnDate <= "
                      f"{quote(last.isoformat())} ORDERBY TxnDate")
            for doc in self.api.query_all(select, entity):
                if not voided(doc):
                    yield Found(target_id=target_ref(entity, doc["Id"]), target_number=doc.get("DocNumber"),
                                description=f"{entity} {doc.get('DocNumber') or doc['Id']} ({doc.get('TotalAmt')})",
                                day=date.fromisoformat(str(doc.get("TxnDate"))[:10]))

    def update_orders(self, writes: list[OrderWrite]) -> list[WriteResult]:
        """Bring booked documents to their orders' new versions: a sparse update with the current SyncToken
        (re-read and retried when stale), where the document may change (see :mod:`.update`)."""
        from .update import update

        return update(self._writer(), writes) if writes else []

    def find_tracking(self, writes: list[TrackingWrite]) -> dict[str, Found]:
        return TrackingWriter(self.api, self.api.qb.company_id, self.request_ids).find(writes) if writes else {}

    def write_tracking(self, writes: list[TrackingWrite]) -> list[WriteResult]:
        return TrackingWriter(self.api, self.api.qb.company_id, self.request_ids).write(writes) if writes else []
