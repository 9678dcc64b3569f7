"""A connector plugin over an in-memory stand-in for a remote API, for the core's tests.

The "API" (:class:`MemoryAPI`) is not the code under test: it holds orders and documents in a
process-wide dict keyed by the connection's ``space`` setting, and can be told to fail in the ways
real APIs fail (a write committed whose answer is lost, a crash mid-batch, a rejected order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterator, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connex_core import hookimpl
from connex_core.connector import (Capability, Connector, ConnectorSettings, FetchQuery, Found, OrderWrite,
                                   TrackingWrite, WebhookEvent, WriteResult, verify_hmac_sha256)
from connex_core.http import ApiBudget
from connex_core.errors import AuthenticationError, FatalAPIError, RetriableAPIError, WebhookRejected
from connex_core.models import Order, Shipment
from connex_core.testing import make_order


class Crash(BaseException):
    """Stands for the process dying (kill -9) in the middle of a write."""


@dataclass
class MemoryAPI:
    orders: list[Order] = field(default_factory=list)
    shipments: list[Shipment] = field(default_factory=list)
    documents: dict[str, dict] = field(default_factory=dict)  # target id -> {"number", "order", "tracking"}
    list_calls: int = 0
    write_calls: int = 0
    find_calls: int = 0
    lose_response_on_write: set[int] = field(default_factory=set)  # write call numbers
    crash_on_write: set[int] = field(default_factory=set)
    reject_numbers: set[str] = field(default_factory=set)
    fail_on_write: set[int] = field(default_factory=set)  # write calls refused whole, nothing committed
    fatal_on_write: set[int] = field(default_factory=set)  # write calls refused with a non-retriable error
    unanswered_numbers: set[str] = field(default_factory=set)  # written, but left out of the write's answer
    duplicate_numbers: dict[str, str] = field(default_factory=dict)  # number -> id of a document the write finds
    answers_without_ids: bool = False  # a write's answer says ok but names no document
    revoked: bool = False
    webhook_reads: int = 0
    fail_webhook_reads: int = 0  # the next n webhook reads fail as a passing API error
    fail_finds: int = 0  # the next n look-ups (find_orders) fail as a passing API error
    issued: int = 0  # document ids handed out (never reused, also after a document is deleted)
    upsert: bool = False  # like ShipStation: a write of a key already there replaces that document
    day_limit: int = 0  # like Xero's X-DayLimit-Remaining: calls a day, counted down by every call (0: no limit said)

    def numbers(self) -> list[str]:
        return [d["number"] for d in self.documents.values()]


SPACES: dict[str, MemoryAPI] = {}


def api(space: str) -> MemoryAPI:
    return SPACES.setdefault(space, MemoryAPI())


def seed(space: str, n: int, start: Optional[datetime] = None, **overrides) -> list[Order]:
    start = start or datetime.now(timezone.utc) - timedelta(hours=n / 60 + 1)
    orders = []
    for i in range(n):
        t = start + timedelta(minutes=i)
        o = make_order(source="memory", source_id=f"m{i + 1}", number=str(1000 + i + 1), created_at=t,
                       modified_at=t, order_date=t, **overrides)
        orders.append(o)
    api(space).orders.extend(orders)
    return orders


class MemorySettings(ConnectorSettings):
    type: str = "memory"
    space: str = "default"
    token: Optional[SecretStr] = None
    timezone: str = "UTC"  # the zone the "API" keeps its dates in (Connector.timezone)


class MemorySourceOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Optional[str] = Field(None, description="Read only orders in this status.")


class MemoryConnector(Connector):
    name = "memory"
    title = "In-memory test API"
    settings_model = MemorySettings
    source_options_model = MemorySourceOptions
    capabilities = frozenset(Capability)
    write_batch_size = 25

    @property
    def timezone(self) -> str:  # type: ignore[override]
        return self.settings.timezone

    @property
    def upserts_orders(self) -> bool:  # type: ignore[override]
        return api(self.settings.space).upsert

    @property
    def api(self) -> MemoryAPI:
        a = api(self.settings.space)
        if a.revoked:
            raise AuthenticationError("the memory API refused the token; reconnect with `connex connect memory`")
        return a

    def fetch_orders(self, query: FetchQuery) -> Iterator[Order]:
        a = self.api
        a.list_calls += 1
        for o in list(a.orders):
            if query.modified_since and o.modified_at and o.modified_at < query.modified_since:
                continue
            when = o.created_at
            if query.since and when < query.since:
                continue
            if query.until and when >= query.until:
                continue
            status = query.options.get("status")
            if status and (o.status is None or o.status.value != status):
                continue
            yield o

    def fetch_shipments(self, query: FetchQuery) -> Iterator[Shipment]:
        self.api.list_calls += 1
        for s in list(self.api.shipments):
            if query.modified_since and s.created_at and s.created_at < query.modified_since:
                continue
            yield s

    def find_orders(self, writes: list[OrderWrite]) -> dict[str, Found]:
        a = self.api
        a.find_calls += 1
        if a.fail_finds:
            a.fail_finds -= 1
            raise RetriableAPIError("the memory API is down for a moment", connector="memory")
        by_number = {d["number"]: tid for tid, d in a.documents.items()}
        return {w.key: Found(target_id=by_number[w.order.number], target_number=w.order.number)
                for w in writes if w.order.number in by_number}

    def write_orders(self, writes: list[OrderWrite]) -> list[WriteResult]:
        a = self.api
        a.write_calls += 1
        call = a.write_calls
        if call in a.fail_on_write:
            raise RetriableAPIError(f"service unavailable (write call {call})", connector="memory")
        if call in a.fatal_on_write:
            raise FatalAPIError(f"the account was closed (write call {call})", connector="memory")
        results = []
        for i, w in enumerate(writes):
            if call in a.crash_on_write and i == len(writes) // 2:
                raise Crash(f"process killed during write call {call}")
            if w.order.number in a.duplicate_numbers:  # created meanwhile by someone else: the API says so
                tid = a.duplicate_numbers[w.order.number]
                results.append(WriteResult(key=w.key, ok=True, duplicate=True, target_id=tid,
                                           target_number=w.order.number))
                continue
            if w.order.number in a.reject_numbers:
                results.append(WriteResult(key=w.key, ok=False, error=f"order {w.order.number}: item not found"))
                continue
            tid = next((t for t, d in a.documents.items() if a.upsert and d.get("key") == w.key), None)
            if tid is None:
                a.issued += 1
                tid = f"doc-{a.issued}"
            a.documents[tid] = {"key": w.key, "number": w.order.number, "order": w.order, "tracking": [], "idem": w.idempotency_key,
                               "options": dict(w.options)}
            if w.order.number not in a.unanswered_numbers:
                results.append(WriteResult(key=w.key, ok=True, target_id=None if a.answers_without_ids else tid,
                                           target_number=w.order.number))
        if call in a.lose_response_on_write:
            raise RetriableAPIError("connection dropped before the answer arrived", connector="memory")
        return results

    def write_tracking(self, writes: list[TrackingWrite]) -> list[WriteResult]:
        a = self.api
        a.write_calls += 1
        out = []
        for w in writes:
            doc = a.documents.get(w.target_ref)
            if doc is None:
                out.append(WriteResult(key=w.key, ok=False, error=f"no document {w.target_ref}"))
                continue
            doc["tracking"].append(w.shipment.tracking_number)
            out.append(WriteResult(key=w.key, ok=True, target_id=w.target_ref))
        return out

    def verify_webhook(self, headers, body, secret):
        """Signed like QuickBooks: base64 HMAC-SHA256 of the body with the connection's token."""
        key = self.settings.token.get_secret_value() if self.settings.token else ""
        if not verify_hmac_sha256(body, key, headers.get("x-signature")):
            raise WebhookRejected("bad signature")
        return None

    def read_webhook(self, headers, body):
        import json

        try:
            numbers = set(json.loads(body)["numbers"])
        except (ValueError, KeyError, TypeError):
            raise WebhookRejected("not a memory webhook body") from None
        self.api.webhook_reads += 1
        if self.api.fail_webhook_reads:
            self.api.fail_webhook_reads -= 1
            raise RetriableAPIError("the memory API is down for a moment", connector="memory")
        return WebhookEvent(kind="orders", orders=[o for o in self.api.orders if o.number in numbers])

    def check(self) -> str:
        if self.api.revoked:
            raise AuthenticationError("the memory API refused the token; reconnect with `connex connect memory`")
        return f"memory space {self.settings.space}: {len(self.api.orders)} orders"

    def api_budgets(self) -> list[ApiBudget]:
        a = api(self.settings.space)
        if not a.day_limit:
            return []
        used = a.list_calls + a.write_calls + a.find_calls
        return [ApiBudget(remaining=max(0, a.day_limit - used), per="day", limit=a.day_limit, source="the memory API")]


@hookimpl
def register_connectors(register):
    register(MemoryConnector)


def memory_connections(*, target: str = "memory", timezone: str | None = None) -> str:
    """The connections the configs here share: a memory source "src" (in ``timezone`` if given) and a target "dst"
    (of connector type ``target``, in space "dst")."""
    zone = f'timezone = "{timezone}"\n' if timezone else ""
    return ('[connections.src]\ntype = "memory"\nspace = "src"\n' + zone
            + f'[connections.dst]\ntype = "{target}"\nspace = "dst"\n')


def _rule_files(rules: list[str] | None) -> str:
    return f"rules = [{', '.join(repr(r) for r in rules)}]\n" if rules else ""


def orders_config(*, target: str = "memory", rules: list[str] | None = None) -> str:
    """The config the write-path tests share: :func:`memory_connections` (the target of connector type ``target``)
    and a task "orders" (``initial_days = 30``, ``rules``)."""
    return (memory_connections(target=target)
            + '[tasks.orders]\nsource = "src"\ntarget = "dst"\ninitial_days = 30\n' + _rule_files(rules))


def daily_config(*, timezone: str | None = None, rules: list[str] | None = None) -> str:
    """The config the daily-summary tests share: :func:`memory_connections` (the source in ``timezone`` if given),
    and a task "daily" (``kind = "daily_summary"``, ``initial_days = 3``, days by creation date, ``rules``)."""
    return (memory_connections(timezone=timezone)
            + '[tasks.daily]\nsource = "src"\ntarget = "dst"\nkind = "daily_summary"\ninitial_days = 3\n'
            + _rule_files(rules) + '[tasks.daily.target_options]\nsummary_date = "created"\n')
