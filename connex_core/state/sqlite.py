"""The SQLite state store: one file, WAL, versioned migrations, mode 0600."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from ..secrets import tighten
from .base import RETRY_STATES, CreatedRecord, InboxEntry, LedgerEntry, LedgerState, LogEntry, LogQuery
from .sql import (LEDGER_COLS, created_insert, created_record, created_rows, created_select, log_entry, log_insert,
                  log_rows, log_select)
from .sql import now as _now

from .sqlite_schema import MIGRATIONS  # noqa: E402  (re-exported: tests and tools read it)



def _entry(row: sqlite3.Row) -> LedgerEntry:
    entry = LedgerEntry(**dict(row))
    if entry.state in _STATES:
        entry.state = _STATES[entry.state]
    return entry


_STATES = {s.value: s for s in LedgerState}





def _with_busy_retry(fn, attempts: int = 100):
    """Switching to WAL takes an exclusive lock for an instant and does not wait on the busy handler: two
    processes opening a fresh file together can see "database is locked". Tried again: 100 tries 50 ms apart (about 5
    seconds, docs/config.md), then the error is raised; any other error at once."""
    for i in range(attempts):
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or i == attempts - 1:
                raise
            time.sleep(0.05)


class SQLiteStore:
    """The default :class:`~connex_core.state.StateStore`."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                # Created owner-only: the log holds customer names and addresses.
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            for existing in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
                tighten(existing, "state file")  # one made readable by others is made owner-only, with a warning
        self._lock = threading.RLock()
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        _with_busy_retry(lambda: self.db.execute("PRAGMA journal_mode=WAL"))
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self._migrate()

    # -- schema ------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._lock:
            for i in range(len(MIGRATIONS) + 1):
                # The version is read inside the write lock (BEGIN IMMEDIATE): two processes opening a fresh
                # file at the same instant take turns, and the second finds the first one's tables.
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    version = self.db.execute("PRAGMA user_version").fetchone()[0]
                    if version > len(MIGRATIONS):
                        raise RuntimeError(f"{self.path} was written by a newer Connex (schema {version}); "
                                           "upgrade Connex")
                    if version == len(MIGRATIONS):
                        self.db.execute("COMMIT")
                        return
                    for statement in MIGRATIONS[version].split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                    self.db.execute(f"PRAGMA user_version = {version + 1}")
                    self.db.execute("COMMIT")
                except BaseException:
                    self.db.execute("ROLLBACK")
                    raise

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def _tx(self):
        store = self

        class _Tx:
            def __enter__(self_inner):
                store._lock.acquire()
                store.db.execute("BEGIN IMMEDIATE")
                return store.db

            def __exit__(self_inner, exc_type, exc, tb):
                try:
                    store.db.execute("ROLLBACK" if exc_type else "COMMIT")
                finally:
                    store._lock.release()

        return _Tx()

    # -- runs --------------------------------------------------------------------------------------
    def begin_run(self, task: str, options: dict[str, Any]) -> int:
        with self._tx() as db:
            cur = db.execute("INSERT INTO runs (task, started_at, options) VALUES (?, ?, ?)",
                             (task, _now(), json.dumps(options, default=str)))
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE id = ?",
                       (_now(), status, json.dumps(summary, default=str), run_id))

    def runs(self, task: Optional[str] = None, limit: int = 20) -> list[dict[str, Any]]:
        sql = "SELECT * FROM runs" + (" WHERE task = ?" if task else "") + " ORDER BY id DESC LIMIT ?"
        args: tuple = (task, limit) if task else (limit,)
        with self._lock:
            rows = self.db.execute(sql, args).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["summary"] = json.loads(d["summary"]) if d["summary"] else None
            d["options"] = json.loads(d["options"]) if d["options"] else None
            out.append(d)
        return out

    # -- cursors -----------------------------------------------------------------------------------
    def get_cursor(self, task: str) -> Optional[str]:
        with self._lock:
            row = self.db.execute("SELECT value FROM cursors WHERE task = ?", (task,)).fetchone()
        return row[0] if row else None

    def set_cursor(self, task: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO cursors (task, value, updated_at) VALUES (?, ?, ?) "
                       "ON CONFLICT(task) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                       (task, value, _now()))

    # -- ledger ------------------------------------------------------------------------------------
    def ledger_get(self, task: str, keys: Iterable[str]) -> dict[str, LedgerEntry]:
        keys = list(keys)
        out: dict[str, LedgerEntry] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                marks = ",".join("?" * len(chunk))
                for row in self.db.execute(f"SELECT * FROM ledger WHERE task = ? AND source_key IN ({marks})",
                                           (task, *chunk)):
                    out[row["source_key"]] = _entry(row)
        return out

    def ledger_put(self, entries: Iterable[LedgerEntry]) -> None:
        rows = []
        for e in entries:
            e.updated_at = _now()
            rows.append(tuple(getattr(e, c) for c in LEDGER_COLS))
        if not rows:
            return
        marks = ",".join("?" * len(LEDGER_COLS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in LEDGER_COLS[2:])
        with self._tx() as db:
            db.executemany(f"INSERT INTO ledger ({', '.join(LEDGER_COLS)}) VALUES ({marks}) "
                           f"ON CONFLICT(task, source_key) DO UPDATE SET {updates}", rows)

    def ledger_retry_queue(self, task: str) -> Iterator[LedgerEntry]:
        with self._lock:
            marks = ",".join("?" * len(RETRY_STATES))
            rows = self.db.execute(f"SELECT * FROM ledger WHERE task = ? AND state IN ({marks}) "
                                   "ORDER BY updated_at", (task, *RETRY_STATES)).fetchall()
        for row in rows:
            yield _entry(row)

    def ledger_in_states(self, states: Iterable[str], task: Optional[str] = None) -> list[LedgerEntry]:
        """The ledger entries in these states (of one task, or of all), oldest change first."""
        states = [str(s) for s in states]
        if not states:
            return []
        marks = ",".join("?" * len(states))
        sql = f"SELECT * FROM ledger WHERE state IN ({marks})" + (" AND task = ?" if task else "")
        with self._lock:
            rows = self.db.execute(sql + " ORDER BY updated_at, task, source_key", (*states, *([task] if task else []))).fetchall()
        return [_entry(r) for r in rows]

    def ledger_find_target(self, source_key: str, tasks: Iterable[str],
                           states: tuple[str, ...] = ("done",)) -> Optional[LedgerEntry]:
        tasks = list(tasks)
        if not tasks or not states:
            return None
        marks = ",".join("?" * len(tasks))
        state_marks = ",".join("?" * len(states))
        with self._lock:
            row = self.db.execute(f"SELECT * FROM ledger WHERE source_key = ? AND state IN ({state_marks}) "
                                  f"AND task IN ({marks}) LIMIT 1", (source_key, *states, *tasks)).fetchone()
        return _entry(row) if row else None

    def ledger_by_number(self, task: str, target_number: str, ignore_case: bool = False) -> Optional[LedgerEntry]:
        column, value = ("lower(target_number)", "lower(?)") if ignore_case else ("target_number", "?")
        with self._lock:
            row = self.db.execute(f"SELECT * FROM ledger WHERE task = ? AND state = 'done' AND {column} = {value} "
                                  "ORDER BY updated_at LIMIT 1", (task, target_number)).fetchone()
        return _entry(row) if row else None

    def ledger_under_number(self, task: str, target_number: str) -> list[LedgerEntry]:
        with self._lock:
            rows = self.db.execute("SELECT * FROM ledger WHERE task = ? AND state = 'done' AND target_number = ? "
                                   "ORDER BY updated_at", (task, target_number)).fetchall()
        return [_entry(r) for r in rows]

    def ledger_counts(self, task: str) -> dict[str, int]:
        with self._lock:
            return {r[0]: r[1] for r in self.db.execute(
                "SELECT state, COUNT(*) FROM ledger WHERE task = ? GROUP BY state", (task,))}

    # -- transaction log ---------------------------------------------------------------------------
    def log(self, entries: Iterable[LogEntry]) -> None:
        rows = log_rows(entries, _now)  # the module's clock (tests pin it)
        if not rows:
            return
        with self._tx() as db:
            db.executemany(log_insert("?"), rows)

    def query_log(self, query: LogQuery) -> list[LogEntry]:
        sql, args = log_select(query, "?")
        with self._lock:
            rows = self.db.execute(sql, args).fetchall()
        return [log_entry(r) for r in rows]

    def log_per_day(self, since: str) -> list[tuple[str, str, int]]:
        """``(day, outcome, orders)`` from ``since`` (an ISO date, UTC): each order counted once per day and
        outcome, however many runs saw it (the console's chart)."""
        with self._lock:
            rows = self.db.execute("SELECT substr(time, 1, 10) AS day, outcome, "
                                   "COUNT(DISTINCT task || ' ' || source_key) AS n FROM log WHERE time >= ? "
                                   "GROUP BY substr(time, 1, 10), outcome ORDER BY 1", (since,)).fetchall()
        return [(r["day"], r["outcome"], int(r["n"])) for r in rows]

    # -- what runs created beside their documents (connex undo lists them) ----------------------------
    def created_put(self, records: Iterable[CreatedRecord]) -> None:
        rows = created_rows(records, _now)
        if rows:
            with self._tx() as db:
                db.executemany(created_insert("?"), rows)

    def created_in_run(self, run_id: int) -> list[CreatedRecord]:
        with self._lock:
            return [created_record(r) for r in self.db.execute(created_select("?"), (run_id,)).fetchall()]

    # -- leases: one runner per task ----------------------------------------------------------------
    def lease_acquire(self, task: str, holder: str, ttl: float) -> Optional[str]:
        """Take the task's lease for ``ttl`` seconds. None when taken; otherwise the holder that has it."""
        now = time.time()
        with self._tx() as db:
            row = db.execute("SELECT holder, acquired_at, expires_at FROM leases WHERE task = ?", (task,)).fetchone()
            if row is not None and row["holder"] != holder and row["expires_at"] >= now:
                return f"{row['holder']} since {row['acquired_at']}"
            db.execute("INSERT INTO leases (task, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT(task) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at, "
                       "expires_at = excluded.expires_at", (task, holder, _now(), now + ttl))
        return None

    def lease_renew(self, task: str, holder: str, ttl: float) -> bool:
        with self._tx() as db:
            cur = db.execute("UPDATE leases SET expires_at = ? WHERE task = ? AND holder = ?",
                             (time.time() + ttl, task, holder))
            return cur.rowcount == 1

    def lease_take_over(self, task: str, dead: str, holder: str, ttl: float) -> bool:
        """Take a lease from a holder known to be dead; False when someone else changed it meanwhile."""
        with self._tx() as db:
            cur = db.execute("UPDATE leases SET holder = ?, acquired_at = ?, expires_at = ? WHERE task = ? AND holder = ?",
                             (holder, _now(), time.time() + ttl, task, dead))
            return cur.rowcount == 1

    def lease_release(self, task: str, holder: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM leases WHERE task = ? AND holder = ?", (task, holder))

    # -- webhook inbox: answered at once, worked through after -----------------------------------------
    def inbox_put(self, connection: str, digest: str, headers: dict[str, str], body: bytes) -> Optional[int]:
        """Keep a verified delivery; None when the same one (same connection and digest) is already kept."""
        with self._tx() as db:
            cur = db.execute("INSERT INTO inbox (connection, received_at, digest, headers, body) VALUES (?, ?, ?, ?, ?) "
                             "ON CONFLICT(connection, digest) DO NOTHING",
                             (connection, _now(), digest, json.dumps(headers), body))
            return int(cur.lastrowid) if cur.rowcount == 1 else None

    def inbox_pending(self, limit: int) -> list[InboxEntry]:
        with self._lock:
            rows = self.db.execute("SELECT * FROM inbox WHERE state = 'new' ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [InboxEntry(id=r["id"], connection=r["connection"], received_at=r["received_at"],
                           headers=json.loads(r["headers"]), body=bytes(r["body"]), attempts=r["attempts"])
                for r in rows]

    def inbox_finish(self, entry_id: int, *, error: Optional[str] = None, retry: bool = False) -> None:
        """Done (no error), to be tried again (``retry``), or failed for good (an error, no retry)."""
        state = "done" if error is None else ("new" if retry else "failed")
        with self._tx() as db:
            db.execute("UPDATE inbox SET state = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
                       (state, error, entry_id))
            if state == "done":  # the body is not needed any more (it may hold customer data)
                db.execute("UPDATE inbox SET body = X'' WHERE id = ?", (entry_id,))

    def inbox_counts(self) -> dict[str, int]:
        with self._lock:
            return {r[0]: r[1] for r in self.db.execute("SELECT state, COUNT(*) FROM inbox GROUP BY state")}

    # -- sign-ins waiting for serve's OAuth callback (connex_core.oauth.callback) ------------------------
    def oauth_begin(self, digest: str, connection: str, redirect_uri: str, started_by: str, expires_at: float) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM oauth_pending WHERE expires_at < ?", (expires_at - 86400,))  # a day old: gone
            db.execute("INSERT INTO oauth_pending (digest, connection, redirect_uri, started_by, created_at, expires_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (digest, connection, redirect_uri, started_by, _now(), expires_at))

    def oauth_claim(self, digest: str, connection: str, now: float) -> Optional[dict[str, Any]]:
        """Take a pending sign-in once (``claimed`` True): only for its connection, before it expires. None when
        no sign-in has this digest; otherwise its row (``claimed`` False: why is in its connection, state, expiry)."""
        with self._tx() as db:
            cur = db.execute("UPDATE oauth_pending SET state = 'claimed' WHERE digest = ? AND connection = ? "
                             "AND state = 'pending' AND expires_at > ?", (digest, connection, now))
            row = db.execute("SELECT * FROM oauth_pending WHERE digest = ?", (digest,)).fetchone()
        return None if row is None else {**dict(row), "claimed": cur.rowcount == 1}

    def oauth_finish(self, digest: str, state: str, message: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE oauth_pending SET state = ?, message = ? WHERE digest = ?", (state, message, digest))

    def oauth_status(self, digest: str) -> Optional[dict[str, Any]]:
        with self._lock:
            row = self.db.execute("SELECT * FROM oauth_pending WHERE digest = ?", (digest,)).fetchone()
        return dict(row) if row is not None else None

    def close(self) -> None:
        with self._lock:
            self.db.close()
