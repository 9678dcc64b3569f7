"""Where Connex remembers what it did: the ledger, cursors, runs and the transaction log.

:class:`StateStore` is the interface the sync engine uses; :class:`SQLiteStore` is the default
implementation (one file next to the config, WAL, versioned migrations, mode 0600). A PostgreSQL
store can implement the same interface without touching the engine.

Ledger states:

* ``pending``: a write was about to be sent (the intent); no answer recorded yet. A later run
  reconciles it by looking the document up in the target before writing again;
* ``done``: in the target (``target_id``), written by us or found there;
* ``failed``: the write failed; retried on the next run;
* ``held``: a rule (or a run-time rule error) held it; retried on the next run;
* ``skipped``: a rule skipped it; not retried unless the source changes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Iterator, Optional, Protocol

LEDGER_STATES = ("pending", "done", "failed", "held", "skipped")
OUTCOMES = ("created", "updated", "duplicate", "skipped", "held", "failed", "would_create")


@dataclass
class LedgerEntry:
    task: str
    source_key: str
    state: str
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
    outcome: str
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
class LogQuery:
    task: Optional[str] = None
    outcome: Optional[str] = None
    order_number: Optional[str] = None
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
    """What the sync engine needs from a state store."""

    def begin_run(self, task: str, options: dict[str, Any]) -> int: ...
    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None: ...
    def get_cursor(self, task: str) -> Optional[str]: ...
    def set_cursor(self, task: str, value: str) -> None: ...
    def ledger_get(self, task: str, keys: Iterable[str]) -> dict[str, LedgerEntry]: ...
    def ledger_put(self, entries: Iterable[LedgerEntry]) -> None: ...
    def ledger_retry_queue(self, task: str) -> Iterator[LedgerEntry]: ...
    def ledger_find_target(self, source_key: str, tasks: Iterable[str],
                           states: tuple[str, ...] = ("done",)) -> Optional[LedgerEntry]: ...
    def log(self, entries: Iterable[LogEntry]) -> None: ...
    def query_log(self, query: LogQuery) -> list[LogEntry]: ...
    def runs(self, task: Optional[str] = None, limit: int = 20) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


from .sqlite import SQLiteStore  # noqa: E402

__all__ = ["StateStore", "SQLiteStore", "InboxEntry", "LedgerEntry", "LogEntry", "LogQuery", "LEDGER_STATES", "OUTCOMES"]
