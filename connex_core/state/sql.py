"""What both SQL stores share (SQLite and PostgreSQL differ only in their placeholder and connection): the log's
one time format, the ledger's columns, and the transaction log's rows and queries."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Optional

from .base import CreatedRecord, LogEntry, LogQuery

LEDGER_COLS = ("task", "source_key", "state", "idempotency_key", "target_id", "target_number", "attempts",
               "last_error", "content_hash", "snapshot", "updated_at")
LOG_COLS = ("run_id", "task", "time", "source_key", "order_number", "order_date", "outcome", "target_id",
            "target_number", "reason", "rule", "line", "rule_file", "message", "fired", "changes")

#: ``created_records``: what a run created beside its documents (``CreatedRecord``), for ``connex undo``.
CREATED_COLS = ("run_id", "task", "time", "source_key", "order_number", "kind", "target_id", "name")


def created_rows(records: Iterable[CreatedRecord], clock: Callable[[], str]) -> list[tuple]:
    return [(r.run_id, r.task, log_time(r.time, clock), r.source_key, r.order_number, r.kind, r.target_id, r.name)
            for r in records]


def created_insert(mark: str) -> str:
    return f"INSERT INTO created_records ({', '.join(CREATED_COLS)}) VALUES ({', '.join([mark] * len(CREATED_COLS))})"


def created_select(mark: str) -> str:
    return f"SELECT * FROM created_records WHERE run_id = {mark} ORDER BY id"


def created_record(row: Any) -> CreatedRecord:
    return CreatedRecord(**dict(row))


def iso_ms(dt: datetime) -> str:
    """The log's time format: UTC, ISO 8601 with milliseconds (so text order is time order)."""
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def now() -> str:
    return iso_ms(datetime.now(timezone.utc))


def log_time(given: Optional[str], clock: Callable[[], str] = now) -> str:
    """A log entry's time in the log's one format, whatever form the caller gave it in (``clock()`` when none)."""
    return iso_ms(datetime.fromisoformat(given)) if given else clock()


def log_rows(entries: Iterable[LogEntry], clock: Callable[[], str] = now) -> list[tuple]:
    """The rows of ``INSERT INTO log (LOG_COLS)``: times in the one format, lists as JSON."""
    return [(e.run_id, e.task, log_time(e.time, clock), e.source_key, e.order_number, e.order_date, e.outcome, e.target_id,
             e.target_number, e.reason, e.rule, e.line, e.rule_file, e.message, json.dumps(e.fired),
             json.dumps(e.changes, default=str)) for e in entries]


def log_insert(mark: str) -> str:
    return f"INSERT INTO log ({', '.join(LOG_COLS)}) VALUES ({', '.join([mark] * len(LOG_COLS))})"


def log_select(query: LogQuery, mark: str) -> tuple[str, list[Any]]:
    """``SELECT`` of the log lines a query asks for, with ``mark`` as the placeholder (``?`` or ``%s``)."""
    where, args = [], []
    for column, value in (("task", query.task), ("outcome", query.outcome), ("order_number", query.order_number),
                          ("source_key", getattr(query, "source_key", None))):
        if value:
            where.append(f"{column} = {mark}"); args.append(value)
    if query.run_id is not None:
        where.append(f"run_id = {mark}"); args.append(query.run_id)
    if query.before_id is not None:
        where.append(f"id < {mark}"); args.append(query.before_id)
    # Compared as text with the stored times, so written in their format (UTC, milliseconds): a
    # plain isoformat() ("...:10.500000+00:00") sorts after the stored "...:10.500+00:00".
    if query.since:
        where.append(f"time >= {mark}"); args.append(iso_ms(query.since))
    if query.until:
        where.append(f"time < {mark}"); args.append(iso_ms(query.until))
    sql = "SELECT * FROM log" + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY id DESC" if query.newest_first else " ORDER BY id"
    if query.limit:
        sql += f" LIMIT {mark}"
        args.append(int(query.limit))
    return sql, args


def log_entry(row: Any) -> LogEntry:
    d = dict(row)
    d["fired"] = json.loads(d["fired"] or "[]")
    d["changes"] = json.loads(d["changes"] or "[]")
    return LogEntry(**d)
