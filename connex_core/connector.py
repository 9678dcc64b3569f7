"""The connector contract: what a plugin implements so the engine can read from and write to an API.

A connector is a class registered through the ``register_connectors`` hook. It declares:

* ``name``: the name users write in the config (``type = "shipstation"``);
* ``settings_model``: a pydantic model the connection's config table is validated against;
* ``source_options_model`` / ``target_options_model``: pydantic models (``extra="forbid"``) of the
  task options it reads as a source (``FetchQuery.options``) and as a target (``OrderWrite.options``,
  ``TrackingWrite.options``); ``connex config check`` and ``connex run`` validate every task's
  options against them before any network call. The default reads none and refuses any;
* ``capabilities``: which of read orders / write orders / read shipments / write tracking it has;

and implements the methods for its capabilities. The engine calls them in batches and records
every outcome in the ledger; a connector never talks to the state store except through the
:class:`ConnectorContext` it is given (token storage, dry-run flag, progress).

Dry-run is enforced here: every method whose name starts with ``write_`` raises
:class:`~connex_core.errors.DryRunWriteError` when the context says ``dry_run``, whatever the
subclass does.
"""

from __future__ import annotations

import functools
from datetime import date
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Iterator, Optional

from pydantic import BaseModel, ConfigDict, Field

from .clock import REAL_CLOCK, Clock
from .connector_types import (ConnectorContext, Created, FetchQuery, Found, OrderWrite, TrackingWrite,  # noqa: F401
                              UnreadableOrder, WebhookEvent, WriteResult, verify_hmac_sha256)
from .errors import DryRunWriteError
from .models import Order, Shipment

if TYPE_CHECKING:
    from .http import ApiBudget


class Capability(str, Enum):
    """What a connector can do."""

    READ_ORDERS = "read_orders"
    WRITE_ORDERS = "write_orders"
    READ_SHIPMENTS = "read_shipments"
    WRITE_TRACKING = "write_tracking"


class ConnectorSettings(BaseModel):
    """Base of every connector's settings model: one ``[connections.NAME]`` table of the config.

    Secrets are declared as :class:`pydantic.SecretStr`; the config gives them by reference
    (``{ env = "NAME" }`` or ``{ file = "path" }``), and they never appear in repr or logs.
    """

    model_config = ConfigDict(extra="forbid")

    type: str
    timeout: float = Field(30.0, gt=0, le=600, allow_inf_nan=False,
                           description="Seconds before any single HTTP request gives up (more than 0, at most 600).")


class NoOptions(BaseModel):
    """The options of a connector that reads none: any key is refused (so a misspelt one never passes silently)."""

    model_config = ConfigDict(extra="forbid")


#: The task keys the sync engine itself reads (typed fields of the task). Older configs put them in the
#: option tables; they are moved out at load, and they are never a connector's options.
ENGINE_KEYS = frozenset({"date_field", "timezone", "summary_date", "summary_prefix"})


def options_of(model: type[BaseModel], raw: Optional[dict[str, Any]]) -> Any:
    """A task's options for a connector as its options model (defaults filled), the engine's keys left out.

    The config was validated against the model before the run (``connex run``, ``connex config check``);
    a connector calls this for typed access. A bad value still raises :class:`pydantic.ValidationError`.
    """
    return model.model_validate({k: v for k, v in (raw or {}).items() if k not in ENGINE_KEYS})


def _guard_write(method):
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        if getattr(self.ctx, "dry_run", False):
            raise DryRunWriteError(f"{type(self).__name__}.{method.__name__} called in dry-run mode")
        return method(self, *args, **kwargs)

    guarded.__connex_write_guard__ = True
    return guarded


class Connector:
    """Base class of every connector. Override the methods for the capabilities you declare."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    source_options_model: ClassVar[type[BaseModel]] = NoOptions
    """The task options this connector reads as a source (``source_options``); every field described."""
    target_options_model: ClassVar[type[BaseModel]] = NoOptions
    """The task options this connector reads as a target (``target_options``); every field described."""
    date_fields: ClassVar[dict[str, tuple[str, ...]]] = {}
    """The values of a task's ``date_field`` this source understands, by what it reads (``"orders"``,
    ``"shipments"``); what is missing here is not checked."""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    timezone: ClassVar[str] = "UTC"
    """The time zone the API's dates are in; ``--since 2026-09-15`` means that day in this zone."""
    write_batch_size: ClassVar[int] = 50
    """How many orders the engine hands :meth:`write_orders` at once (the API's batch limit)."""
    upserts_orders: ClassVar[bool] = False
    """True when :meth:`write_orders` updates an order it wrote before in place (ShipStation: upsert by
    orderKey), so writing it again is safe: the engine then sends an order whose content changed since
    it was synced (an invoice paid after it went out as ``awaiting_payment``) instead of calling it done."""
    numbers_ignore_case: ClassVar[bool] = False
    """True when the target takes document numbers differing only in case for one number (its duplicate check
    ignores case): the engine then holds "zc-100" when "Zc-100" of another sale is booked."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for attr, value in list(vars(cls).items()):
            if (attr.startswith("write_") or attr in ("cancel_orders", "update_orders")) and callable(value) and not getattr(value, "__connex_write_guard__", False):
                setattr(cls, attr, _guard_write(value))

    def __init__(self, settings: ConnectorSettings, ctx: ConnectorContext):
        self.settings = settings
        self.ctx = ctx

    # -- reading ---------------------------------------------------------------------------------
    def fetch_orders(self, query: FetchQuery) -> Iterator[Order]:
        """Yield the source's orders in the query's window, as canonical orders, streaming (never all in memory)."""
        raise NotImplementedError(f"{self.name} cannot read orders")

    def fetch_shipments(self, query: FetchQuery) -> Iterator[Shipment]:
        """Yield shipments (voided ones left out) in the query's window."""
        raise NotImplementedError(f"{self.name} cannot read shipments")

    def accepts(self, order: Order, query: FetchQuery) -> bool:
        """Whether an order that arrived by webhook passes the task's source filters, as a listing would."""
        return True

    def parse_orders(self, payload: Any) -> Iterator[Order]:
        """Map a saved API payload (for example a saved ``GET /orders`` response) to canonical orders.

        Used by ``connex rules dry-run --source NAME``; needs no network.
        """
        raise NotImplementedError(f"{self.name} cannot parse saved payloads")

    # -- writing ---------------------------------------------------------------------------------
    def find_orders(self, writes: list[OrderWrite]) -> dict[str, Found]:
        """Look the orders up in the target (batched): returns ``{order key: Found}`` for those it has.

        The engine calls this before writing, for duplicate detection (DocNumber, InvoiceNumber,
        orderKey) and to reconcile writes whose answer was lost.
        """
        return {}

    def find_booked(self, writes: list[OrderWrite]) -> dict[str, Found]:
        """Which of these booked orders' documents the target still holds, read-only (batched): ``{order key:
        Found}``; a voided, cancelled or deleted document is not held. ``connex report`` (documents gone from the
        target) and ``connex resync`` ask this, never the write path, with ``write.target_ref`` the document the
        ledger recorded (None when it recorded none). The default asks :meth:`find_orders` (and so sees what it
        sees); a connector whose pre-write look-up answers another question (it looks nothing up ahead, looks up by
        a number the target may not keep, or counts a voided or cancelled document as there so as not to write it
        twice) answers this one on its own, best by ``target_ref``."""
        return self.find_orders(writes)

    def write_orders(self, writes: list[OrderWrite]) -> list[WriteResult]:
        """Create the orders in the target; one result per write, in any order, keyed by ``write.key``."""
        raise NotImplementedError(f"{self.name} cannot write orders")

    def write_follow_ups(self, items: list[tuple[OrderWrite, Found]]) -> list[WriteResult]:
        """Complete bookings whose document :meth:`find_orders` found with something ``missing`` (the
        payment of an invoice, say): write only what is missing, with an idempotency key of its own,
        and answer one result per write (``target_id`` the found document)."""
        return [WriteResult(w.key, ok=False, error=f"{self.name} cannot complete a booking ({hit.missing})")
                for w, hit in items]

    def cancel_orders(self, writes: list[OrderWrite]) -> list[WriteResult]:
        """Orders booked before (``write.target_ref``) and since cancelled in the source: void (or cancel, as the
        target calls it) their documents; one result per write, ``ok`` when voided, else ``error`` with the reason.
        A connector that cannot raises NotImplementedError: the engine holds such orders with a reason.
        With ``write.undo`` (``connex undo``), a document changed since it was written is left (see OrderWrite)."""
        raise NotImplementedError(f"{self.name} cannot void documents")

    def list_documents(self, first: date, last: date, options: dict[str, Any]) -> Iterator[Found]:
        """The documents the target holds dated ``first`` to ``last`` (inclusive), of the kinds a task writes
        (``options``: the task's target options), voided and deleted ones left out; read-only. ``connex report``
        names those the ledger does not know. A connector that cannot list raises NotImplementedError."""
        raise NotImplementedError(f"{self.name} cannot list its documents")

    def update_orders(self, writes: list[OrderWrite]) -> list[WriteResult]:
        """Orders booked before (``write.target_ref``) and changed since: bring each document to ``write.order``
        where the target lets it be edited; ``ok`` when updated, else ``error`` saying why not (paid, voided,
        locked): the engine holds the order with it. ``write.change`` says what kind of change it is (an edit of
        the sale, only what was paid, a split child's lines added) and ``write.booked`` the version booked.
        NotImplementedError: such orders are held with a reason."""
        raise NotImplementedError(f"{self.name} cannot update documents")

    def find_tracking(self, writes: list[TrackingWrite]) -> dict[str, Found]:
        """Which of these shipments are already on their target documents (for reconciliation)."""
        return {}

    def write_tracking(self, writes: list[TrackingWrite]) -> list[WriteResult]:
        """Write tracking number, ship date, carrier (and cost where supported) onto the target documents."""
        raise NotImplementedError(f"{self.name} cannot write tracking")

    # -- lifecycle -------------------------------------------------------------------------------
    def connect(self, *, port: int = 0, open_browser: bool = False, echo: Callable[[str], None] = print,
                input_fn: Callable[[str], str] = input, redirect_uri: Optional[str] = None) -> str:
        """Run the interactive connection flow (``connex connect NAME``) and store what it obtains.

        OAuth connectors run the authorization-code flow: print the authorize URL, receive the
        redirect on a loopback ``port`` (0: any free port), exchange the code, and save the tokens
        with ``self.ctx.tokens``; a ``redirect_uri`` (``connex connect --redirect-uri``) replaces the
        loopback: an ``https`` one by paste-back, a loopback one on its fixed port (:func:`connex_core.oauth.connect`).
        Returns a one-line description ('connected to Acme Ltd').
        API-key connectors need nothing here: the default checks the credential.
        """
        return self.check()

    def authorize_address(self, redirect_uri: str, state: str) -> str:
        """OAuth connectors: the address where the user allows access, sending the browser to ``redirect_uri``
        with ``state`` (for ``connex serve``'s callback, :mod:`connex_core.oauth.callback`)."""
        raise NotImplementedError(f"{self.title or self.name} connections have no sign-in (`connex connect` checks the key)")

    def finish_connect(self, answer: dict[str, str], redirect_uri: str) -> str:
        """Trade the redirect's query (its ``state`` already checked) for tokens, store them as :meth:`connect`
        does, and describe the account ('connected to Acme Ltd')."""
        raise NotImplementedError(f"{self.title or self.name} connections have no sign-in")

    @property
    def clock(self) -> Clock:
        """The clock to wait on and read the time from: ``ctx.options["clock"]`` (a sandbox
        :class:`~connex_core.sandbox.SimClock` in tests and benchmarks), else the real
        :data:`~connex_core.clock.REAL_CLOCK`; both implement :class:`~connex_core.clock.Clock`."""
        return self.ctx.options.get("clock") or REAL_CLOCK

    def check(self) -> str:
        """Make one cheap authenticated call and describe the account ('connected to Acme Ltd')."""
        return "ok"

    def close(self) -> None:
        """Release sessions and files."""

    def api_budgets(self) -> list["ApiBudget"]:
        """What is left of the API's call budgets as last seen, without a call (the console's dashboard)."""
        return []

    def verify_webhook(self, headers: dict[str, str], body: bytes, secret: Optional[str]) -> Optional[bytes]:
        """Check that a webhook sent to ``connex serve`` comes from the API: its signature, or the secret in its
        URL. Fast and without any network call: ``connex serve`` answers the sender right after it (the APIs
        retry, then disable, endpoints slower than a few seconds) and keeps the delivery in its inbox.

        ``headers`` have lower-case names; ``secret`` is the path segment after the connection name
        (ShipStation puts a shared secret in the URL). Raise
        :class:`~connex_core.errors.WebhookRejected` for a bad signature or secret (answered 401, logged).
        Return a body to answer with (some APIs expect one), or None for an empty 200.

        A connector that implements this and :meth:`read_webhook` gets answer-first delivery; one that only
        overrides :meth:`handle_webhook` is still served, with the work done before the answer.
        """
        raise NotImplementedError(f"{self.name} does not verify webhooks apart")

    def read_webhook(self, headers: dict[str, str], body: bytes) -> WebhookEvent:
        """Say what a verified delivery is about, fetching what it points at (later, from the inbox).

        A body that verified but cannot be read raises :class:`~connex_core.errors.WebhookRejected` (kept as
        failed, not retried); an API error is retried like any other.
        """
        raise NotImplementedError(f"{self.name} does not receive webhooks")

    def handle_webhook(self, headers: dict[str, str], body: bytes, secret: Optional[str]) -> WebhookEvent:
        """Verify a webhook and say what it is about, in one step (:meth:`verify_webhook` then
        :meth:`read_webhook`). A connector may override this alone; see :meth:`verify_webhook`."""
        reply = self.verify_webhook(headers, body, secret)
        event = self.read_webhook(headers, body)
        if reply is not None and event.reply is None:
            event.reply = reply
        return event

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "name": cls.name,
            "title": cls.title or cls.name,
            "capabilities": sorted(c.value for c in cls.capabilities),
            "settings": sorted(cls.settings_model.model_fields),
            "source_options": sorted(f.alias or n for n, f in cls.source_options_model.model_fields.items()),
            "target_options": sorted(f.alias or n for n, f in cls.target_options_model.model_fields.items()),
        }


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Split an iterable into lists of at most ``size`` items."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
