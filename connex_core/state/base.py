"""The state store's interface and records: ledger states, outcomes, ledger and log entries.

See :mod:`connex_core.state` for what each ledger state means."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Iterable, Iterator, Optional, Protocol


class _StrEnum(str, Enum):
    """A ``str`` whose value is the plain string: equal to it, stored and printed as it."""

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__


class LedgerState(_StrEnum):
    """Where an order (or shipment) stands in a task's ledger (see :mod:`connex_core.state`)."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    HELD = "held"
    SKIPPED = "skipped"
    RELEASED = "released"
    """Held or failed, and released by ``connex held release``: the next run posts it past the rule that held it."""
    IGNORED = "ignored"
    """Marked never to be posted (``connex held ignore``): runs skip it even when the source lists it again."""
    VOIDED = "voided"
    """Booked, then cancelled in the source: the target's document was voided (``on_cancel = "void"``)."""
    UNDONE = "undone"
    """Booked, then taken back by ``connex undo`` (``target_id``: the document voided or deleted). A run over the
    order's dates (``--since``/``--until``) or ``connex resync`` posts it again; an incremental run leaves it."""


class Outcome(_StrEnum):
    """What happened to an order in one run (the transaction log's ``outcome``)."""

    CREATED = "created"
    UPDATED = "updated"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    HELD = "held"
    FAILED = "failed"
    WOULD_CREATE = "would_create"
    RELEASED = "released"
    IGNORED = "ignored"
    RESYNCED = "resynced"
    VOIDED = "voided"
    UNDONE = "undone"


LEDGER_STATES = tuple(s.value for s in LedgerState)
OUTCOMES = tuple(o.value for o in Outcome)
#: The states the next run picks up again (the retry queue).
RETRY_STATES = (LedgerState.PENDING, LedgerState.FAILED, LedgerState.HELD, LedgerState.RELEASED)


@dataclass
class LedgerEntry:
    task: str
    source_key: str
    state: LedgerState | str
    idempotency_key: Optional[str] = None
    target_id: Optional[str] = None
    target_number: Optional[str] = None
    attempts: int = 0
    last_error: Optional[str] = None
    content_hash: Optional[str] = None
    snapshot: Optional[str] = None
    """The source order as canonical JSON, kept while the entry may be retried (failed, held, pending)."""
    updated_at: Optional[str] = None


@dataclass
class LogEntry:
    """One line of the transaction log: what happened to one order (or shipment) in one run."""

    task: str
    source_key: str
    outcome: Outcome | str
    order_number: Optional[str] = None
    target_id: Optional[str] = None
    target_number: Optional[str] = None
    reason: Optional[str] = None
    rule: Optional[str] = None
    line: Optional[int] = None
    rule_file: Optional[str] = None
    message: Optional[str] = None
    fired: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    run_id: Optional[int] = None
    time: Optional[str] = None
    order_date: Optional[str] = None
    id: Optional[int] = None


@dataclass
class CreatedRecord:
    """A record a run created in the target beside an order's document (a customer, an item, a contact), as the
    connector reported it (:class:`~connex_core.connector.Created`): ``connex undo`` lists it, left in place."""

    task: str
    run_id: int
    source_key: str
    """The order it was created for."""
    kind: str
    target_id: str
    name: Optional[str] = None
    order_number: Optional[str] = None
    time: Optional[str] = None
    id: Optional[int] = None


@dataclass
class LogQuery:
    task: Optional[str] = None
    outcome: Optional[str] = None
    order_number: Optional[str] = None
    source_key: Optional[str] = None
    since: Optional[datetime] = None
    until: Optional[datetime] = None
    run_id: Optional[int] = None
    limit: Optional[int] = None
    newest_first: bool = False
    before_id: Optional[int] = None
    """Keyset paging: only lines older than this id (the next page of a newest-first list, on the primary key)."""


@dataclass
class InboxEntry:
    """A webhook delivery that was verified and answered, kept until its work is done (``connex serve``)."""

    id: int
    connection: str
    received_at: str
    headers: dict[str, str]
    body: bytes
    attempts: int = 0


class StateStore(Protocol):
    """What the sync engine needs from a state store (both stores, SQLite and PostgreSQL, also keep the task
    leases and the webhook inbox: ``lease_*`` and ``inbox_*``)."""

    def begin_run(self, task: str, options: dict[str, Any]) -> int: ...
    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None: ...
    def get_cursor(self, task: str) -> Optional[str]: ...
    def set_cursor(self, task: str, value: str) -> None: ...
    def ledger_get(self, task: str, keys: Iterable[str]) -> dict[str, LedgerEntry]: ...
    def ledger_put(self, entries: Iterable[LedgerEntry]) -> None: ...
    def ledger_retry_queue(self, task: str) -> Iterator[LedgerEntry]: ...
    def ledger_in_states(self, states: Iterable[str], task: Optional[str] = None) -> list[LedgerEntry]: ...
    def ledger_find_target(self, source_key: str, tasks: Iterable[str],
                           states: tuple[str, ...] = ("done",)) -> Optional[LedgerEntry]: ...
    def ledger_by_number(self, task: str, target_number: str, ignore_case: bool = False) -> Optional[LedgerEntry]: ...
    """The first ``done`` entry of ``task`` booked under ``target_number`` (the same number used twice);
    ``ignore_case``: under that number in any case."""
    def ledger_under_number(self, task: str, target_number: str) -> list[LedgerEntry]: ...
    """Every ``done`` entry of ``task`` booked under ``target_number``, oldest first (the orders one document holds:
    a split sale's parts, a merged order's)."""
    def log(self, entries: Iterable[LogEntry]) -> None: ...
    def query_log(self, query: LogQuery) -> list[LogEntry]: ...
    def runs(self, task: Optional[str] = None, limit: int = 20) -> list[dict[str, Any]]: ...
    def created_put(self, records: Iterable[CreatedRecord]) -> None: ...
    def created_in_run(self, run_id: int) -> list[CreatedRecord]:
        """What run ``run_id`` created beside its documents, in the order it was recorded."""
        ...
    def close(self) -> None: ...
