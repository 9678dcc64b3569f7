"""The PostgreSQL state store: the same ledger, cursors, runs, log and leases as SQLite, for many processes.

``[state] url = "postgresql://user@host/db"`` (optionally ``schema = "connex_alice"``, one schema per tenant)
selects it. It speaks psycopg 3. Migrations are versioned in a ``connex_schema`` table and applied under a
PostgreSQL advisory lock, so any number of processes may start at the same instant: one migrates, the others
wait and find the schema current.

Times are stored as ISO-8601 text in UTC, as in the SQLite store, so both stores order and filter the log the
same way.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Optional

from ..errors import ConfigurationError
from . import RETRY_STATES, CreatedRecord, InboxEntry, LedgerEntry, LedgerState, LogEntry, LogQuery
from .sql import (LEDGER_COLS, created_insert, created_record, created_rows, created_select, log_entry, log_insert,
                  log_rows, log_select)
from .sql import now as _now

from .postgres_schema import MIGRATIONS  # noqa: E402  (re-exported: tests and tools read it)

#: Any constant works; it only has to be the same in every Connex process (pg_advisory_xact_lock's key).
_MIGRATION_LOCK = 0x636F6E6E6578  # "connex"





def _entry(row: Any) -> LedgerEntry:
    """A ledger row as an entry, its state the enum (as the SQLite store gives it) when it is a known one."""
    entry = LedgerEntry(**row)
    if entry.state in _STATES:
        entry.state = _STATES[entry.state]
    return entry


_STATES = {s.value: s for s in LedgerState}


def _epoch() -> float:
    return datetime.now(timezone.utc).timestamp()


class PostgresStore:
    """A :class:`~connex_core.state.StateStore` on PostgreSQL (psycopg 3), safe for many processes."""

    def __init__(self, url: str, *, schema: Optional[str] = None, connect_timeout: float = 10):
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError:  # pragma: no cover - psycopg is a dependency of connex-core
            raise ConfigurationError("the PostgreSQL state store needs psycopg: pip install 'psycopg[binary]'",
                                     key="state.url") from None
        self.url = url
        self.schema = schema
        self._lock = threading.RLock()
        self._connect_args = dict(autocommit=True, row_factory=dict_row, connect_timeout=max(1, int(connect_timeout)))
        self._closed = False
        try:
            self._db = psycopg.connect(url, **self._connect_args)
        except psycopg.OperationalError as exc:
            # The message of libpq names host, port and user, never a password (psycopg strips it).
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigurationError(f"cannot connect to PostgreSQL: {first}", key="state.url") from None
        if schema:
            if not schema.replace("_", "").isalnum():
                raise ConfigurationError(f"{schema!r}: a schema name is letters, digits and _", key="state.schema")
            with self.db.transaction():  # concurrent CREATE SCHEMA IF NOT EXISTS can still collide: one at a time
                self.db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                self.db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self.db.execute(f'SET search_path TO "{schema}"')
        self._migrate()

    @property
    def db(self) -> Any:
        """The connection. One the server dropped (a restart, a failover, ``pg_terminate_backend``) is replaced at
        the next use: the call that met the drop failed as it was (nothing is sent again behind the caller's
        back), the next one reconnects, so a long-lived process (``connex serve``) carries on."""
        if self._db.broken and not self._closed:
            import psycopg

            with self._lock:
                if self._db.broken:
                    fresh = psycopg.connect(self.url, **self._connect_args)
                    if self.schema:
                        fresh.execute(f'SET search_path TO "{self.schema}"')
                    self._db = fresh
        return self._db

    # -- schema ------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._lock, self.db.transaction():
            # Serialise concurrent starts: the first process migrates, the others wait here, then find it done.
            self.db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            self.db.execute("CREATE TABLE IF NOT EXISTS connex_schema (version INTEGER NOT NULL)")
            row = self.db.execute("SELECT version FROM connex_schema").fetchone()
            if row is None:
                self.db.execute("INSERT INTO connex_schema (version) VALUES (0)")
                version = 0
            else:
                version = row["version"]
            if version > len(MIGRATIONS):
                raise ConfigurationError(f"the database was written by a newer Connex (schema {version}); "
                                         "upgrade Connex", key="state.url")
            for i in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[i].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute("UPDATE connex_schema SET version = %s", (i + 1,))

    @property
    def schema_version(self) -> int:
        with self._lock:
            return self.db.execute("SELECT version FROM connex_schema").fetchone()["version"]

    # -- runs --------------------------------------------------------------------------------------
    def begin_run(self, task: str, options: dict[str, Any]) -> int:
        with self._lock:
            row = self.db.execute("INSERT INTO runs (task, started_at, options) VALUES (%s, %s, %s) RETURNING id",
                                  (task, _now(), json.dumps(options, default=str))).fetchone()
        return int(row["id"])

    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None:
        with self._lock:
            self.db.execute("UPDATE runs SET finished_at = %s, status = %s, summary = %s WHERE id = %s",
                            (_now(), status, json.dumps(summary, default=str), run_id))

    def runs(self, task: Optional[str] = None, limit: int = 20) -> list[dict[str, Any]]:
        sql = "SELECT * FROM runs" + (" WHERE task = %s" if task else "") + " ORDER BY id DESC LIMIT %s"
        args: tuple = (task, limit) if task else (limit,)
        with self._lock:
            rows = self.db.execute(sql, args).fetchall()
        out = []
        for d in rows:
            d = dict(d)
            d["summary"] = json.loads(d["summary"]) if d["summary"] else None
            d["options"] = json.loads(d["options"]) if d["options"] else None
            out.append(d)
        return out

    # -- cursors -----------------------------------------------------------------------------------
    def get_cursor(self, task: str) -> Optional[str]:
        with self._lock:
            row = self.db.execute("SELECT value FROM cursors WHERE task = %s", (task,)).fetchone()
        return row["value"] if row else None

    def set_cursor(self, task: str, value: str) -> None:
        with self._lock:
            self.db.execute("INSERT INTO cursors (task, value, updated_at) VALUES (%s, %s, %s) "
                            "ON CONFLICT (task) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at",
                            (task, value, _now()))

    # -- ledger ------------------------------------------------------------------------------------
    def ledger_get(self, task: str, keys: Iterable[str]) -> dict[str, LedgerEntry]:
        keys = list(keys)
        if not keys:
            return {}
        with self._lock:
            rows = self.db.execute("SELECT * FROM ledger WHERE task = %s AND source_key = ANY(%s)",
                                   (task, keys)).fetchall()
        return {r["source_key"]: _entry(r) for r in rows}

    def ledger_put(self, entries: Iterable[LedgerEntry]) -> None:
        rows = []
        for e in entries:
            e.updated_at = _now()
            rows.append(tuple(getattr(e, c) for c in LEDGER_COLS))
        if not rows:
            return
        marks = ",".join(["%s"] * len(LEDGER_COLS))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in LEDGER_COLS[2:])
        with self._lock, self.db.transaction(), self.db.cursor() as cur:
            cur.executemany(f"INSERT INTO ledger ({', '.join(LEDGER_COLS)}) VALUES ({marks}) "
                            f"ON CONFLICT (task, source_key) DO UPDATE SET {updates}", rows)

    def ledger_retry_queue(self, task: str) -> Iterator[LedgerEntry]:
        with self._lock:
            rows = self.db.execute("SELECT * FROM ledger WHERE task = %s AND state = ANY(%s) "
                                   "ORDER BY updated_at", (task, [str(s) for s in RETRY_STATES])).fetchall()
        for r in rows:
            yield _entry(r)

    def ledger_in_states(self, states: Iterable[str], task: Optional[str] = None) -> list[LedgerEntry]:
        """The ledger entries in these states (of one task, or of all), oldest change first."""
        states = [str(s) for s in states]
        if not states:
            return []
        sql = "SELECT * FROM ledger WHERE state = ANY(%s)" + (" AND task = %s" if task else "")
        with self._lock:
            rows = self.db.execute(sql + " ORDER BY updated_at, task, source_key", (states, *([task] if task else []))).fetchall()
        return [_entry(r) for r in rows]

    def ledger_find_target(self, source_key: str, tasks: Iterable[str],
                           states: tuple[str, ...] = ("done",)) -> Optional[LedgerEntry]:
        tasks = list(tasks)
        if not tasks or not states:
            return None
        with self._lock:
            row = self.db.execute("SELECT * FROM ledger WHERE source_key = %s AND state = ANY(%s) "
                                  "AND task = ANY(%s) LIMIT 1", (source_key, list(states), tasks)).fetchone()
        return _entry(row) if row else None

    def ledger_by_number(self, task: str, target_number: str, ignore_case: bool = False) -> Optional[LedgerEntry]:
        column, value = ("lower(target_number)", "lower(%s)") if ignore_case else ("target_number", "%s")
        with self._lock:
            row = self.db.execute(f"SELECT * FROM ledger WHERE task = %s AND state = 'done' AND {column} = {value} "
                                  "ORDER BY updated_at LIMIT 1", (task, target_number)).fetchone()
        return _entry(row) if row else None

    def ledger_under_number(self, task: str, target_number: str) -> list[LedgerEntry]:
        with self._lock:
            rows = self.db.execute("SELECT * FROM ledger WHERE task = %s AND state = 'done' AND target_number = %s "
                                   "ORDER BY updated_at", (task, target_number)).fetchall()
        return [_entry(r) for r in rows]

    def ledger_counts(self, task: str) -> dict[str, int]:
        with self._lock:
            rows = self.db.execute("SELECT state, COUNT(*) AS n FROM ledger WHERE task = %s GROUP BY state",
                                   (task,)).fetchall()
        return {r["state"]: int(r["n"]) for r in rows}

    # -- transaction log ---------------------------------------------------------------------------
    def log(self, entries: Iterable[LogEntry]) -> None:
        rows = log_rows(entries, _now)  # the module's clock (tests pin it)
        if not rows:
            return
        with self._lock, self.db.transaction(), self.db.cursor() as cur:
            cur.executemany(log_insert("%s"), rows)

    def query_log(self, query: LogQuery) -> list[LogEntry]:
        sql, args = log_select(query, "%s")
        with self._lock:
            rows = self.db.execute(sql, args).fetchall()
        return [log_entry(r) for r in rows]

    def log_per_day(self, since: str) -> list[tuple[str, str, int]]:
        """``(day, outcome, orders)`` from ``since`` (an ISO date, UTC): each order counted once per day and
        outcome, however many runs saw it (the console's chart)."""
        with self._lock:
            rows = self.db.execute("SELECT substr(time, 1, 10) AS day, outcome, "
                                   "COUNT(DISTINCT task || ' ' || source_key) AS n FROM log WHERE time >= %s "
                                   "GROUP BY substr(time, 1, 10), outcome ORDER BY 1", (since,)).fetchall()
        return [(r["day"], r["outcome"], int(r["n"])) for r in rows]

    # -- what runs created beside their documents (connex undo lists them) ----------------------------
    def created_put(self, records: Iterable[CreatedRecord]) -> None:
        rows = created_rows(records, _now)
        if rows:
            with self._lock, self.db.transaction(), self.db.cursor() as cur:
                cur.executemany(created_insert("%s"), rows)

    def created_in_run(self, run_id: int) -> list[CreatedRecord]:
        with self._lock:
            return [created_record(r) for r in self.db.execute(created_select("%s"), (run_id,)).fetchall()]

    # -- leases: one runner per task ----------------------------------------------------------------
    def lease_acquire(self, task: str, holder: str, ttl: float) -> Optional[str]:
        """Take the task's lease for ``ttl`` seconds. None when taken; otherwise the holder that has it."""
        now = _epoch()
        with self._lock:
            row = self.db.execute(
                "INSERT INTO leases (task, holder, acquired_at, expires_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (task) DO UPDATE SET holder = EXCLUDED.holder, acquired_at = EXCLUDED.acquired_at, "
                "expires_at = EXCLUDED.expires_at WHERE leases.expires_at < %s OR leases.holder = EXCLUDED.holder "
                "RETURNING holder", (task, holder, _now(), now + ttl, now)).fetchone()
            if row is not None:
                return None
            other = self.db.execute("SELECT holder, acquired_at FROM leases WHERE task = %s", (task,)).fetchone()
        return f"{other['holder']} since {other['acquired_at']}" if other else "another process"

    def lease_renew(self, task: str, holder: str, ttl: float) -> bool:
        with self._lock:
            cur = self.db.execute("UPDATE leases SET expires_at = %s WHERE task = %s AND holder = %s",
                                  (_epoch() + ttl, task, holder))
            return cur.rowcount == 1

    def lease_take_over(self, task: str, dead: str, holder: str, ttl: float) -> bool:
        """Take a lease from a holder known to be dead; False when someone else changed it meanwhile."""
        with self._lock:
            cur = self.db.execute("UPDATE leases SET holder = %s, acquired_at = %s, expires_at = %s "
                                  "WHERE task = %s AND holder = %s", (holder, _now(), _epoch() + ttl, task, dead))
            return cur.rowcount == 1

    def lease_release(self, task: str, holder: str) -> None:
        with self._lock:
            self.db.execute("DELETE FROM leases WHERE task = %s AND holder = %s", (task, holder))

    # -- webhook inbox: answered at once, worked through after -----------------------------------------
    def inbox_put(self, connection: str, digest: str, headers: dict[str, str], body: bytes) -> Optional[int]:
        """Keep a verified delivery; None when the same one (same connection and digest) is already kept."""
        with self._lock:
            row = self.db.execute("INSERT INTO inbox (connection, received_at, digest, headers, body) "
                                  "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (connection, digest) DO NOTHING RETURNING id",
                                  (connection, _now(), digest, json.dumps(headers), body)).fetchone()
        return int(row["id"]) if row else None

    def inbox_pending(self, limit: int) -> list[InboxEntry]:
        with self._lock:
            rows = self.db.execute("SELECT * FROM inbox WHERE state = 'new' ORDER BY id LIMIT %s", (limit,)).fetchall()
        return [InboxEntry(id=r["id"], connection=r["connection"], received_at=r["received_at"],
                           headers=json.loads(r["headers"]), body=bytes(r["body"]), attempts=r["attempts"])
                for r in rows]

    def inbox_finish(self, entry_id: int, *, error: Optional[str] = None, retry: bool = False) -> None:
        state = "done" if error is None else ("new" if retry else "failed")
        with self._lock:
            self.db.execute("UPDATE inbox SET state = %s, attempts = attempts + 1, last_error = %s, "
                            "body = CASE WHEN %s = 'done' THEN ''::bytea ELSE body END WHERE id = %s",
                            (state, error, state, entry_id))

    def inbox_counts(self) -> dict[str, int]:
        with self._lock:
            rows = self.db.execute("SELECT state, COUNT(*) AS n FROM inbox GROUP BY state").fetchall()
        return {r["state"]: int(r["n"]) for r in rows}

    # -- sign-ins waiting for serve's OAuth callback (connex_core.oauth.callback) ------------------------
    def oauth_begin(self, digest: str, connection: str, redirect_uri: str, started_by: str, expires_at: float) -> None:
        with self._lock, self.db.transaction():
            self.db.execute("DELETE FROM oauth_pending WHERE expires_at < %s", (expires_at - 86400,))
            self.db.execute("INSERT INTO oauth_pending (digest, connection, redirect_uri, started_by, created_at, "
                            "expires_at) VALUES (%s, %s, %s, %s, %s, %s)",
                            (digest, connection, redirect_uri, started_by, _now(), expires_at))

    def oauth_claim(self, digest: str, connection: str, now: float) -> Optional[dict[str, Any]]:
        """Take a pending sign-in once (see the SQLite store): one UPDATE, so two callbacks cannot both claim it."""
        with self._lock:
            cur = self.db.execute("UPDATE oauth_pending SET state = 'claimed' WHERE digest = %s AND connection = %s "
                                  "AND state = 'pending' AND expires_at > %s", (digest, connection, now))
            row = self.db.execute("SELECT * FROM oauth_pending WHERE digest = %s", (digest,)).fetchone()
        return None if row is None else {**dict(row), "claimed": cur.rowcount == 1}

    def oauth_finish(self, digest: str, state: str, message: str) -> None:
        with self._lock:
            self.db.execute("UPDATE oauth_pending SET state = %s, message = %s WHERE digest = %s",
                            (state, message, digest))

    def oauth_status(self, digest: str) -> Optional[dict[str, Any]]:
        with self._lock:
            row = self.db.execute("SELECT * FROM oauth_pending WHERE digest = %s", (digest,)).fetchone()
        return dict(row) if row is not None else None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._db.close()
