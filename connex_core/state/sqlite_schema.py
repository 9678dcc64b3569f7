"""The SQLite store's schema: its migrations, in order."""

from __future__ import annotations

#: Each migration moves the schema from version i to i + 1 (``PRAGMA user_version``). Append only.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL DEFAULT 'running',
        options TEXT,
        summary TEXT
    );
    CREATE TABLE cursors (
        task TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE ledger (
        task TEXT NOT NULL,
        source_key TEXT NOT NULL,
        state TEXT NOT NULL,
        idempotency_key TEXT,
        target_id TEXT,
        target_number TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        content_hash TEXT,
        snapshot TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (task, source_key)
    );
    CREATE INDEX ledger_retry ON ledger (task, state);
    CREATE INDEX ledger_source ON ledger (source_key);
    CREATE TABLE log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER,
        task TEXT NOT NULL,
        time TEXT NOT NULL,
        source_key TEXT NOT NULL,
        order_number TEXT,
        order_date TEXT,
        outcome TEXT NOT NULL,
        target_id TEXT,
        target_number TEXT,
        reason TEXT,
        rule TEXT,
        line INTEGER,
        rule_file TEXT,
        message TEXT,
        fired TEXT,
        changes TEXT
    );
    CREATE INDEX log_task_time ON log (task, time);
    CREATE INDEX log_number ON log (order_number);
    """,
    """
    CREATE TABLE leases (
        task TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    """,
    """
    CREATE TABLE inbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        connection TEXT NOT NULL,
        received_at TEXT NOT NULL,
        digest TEXT NOT NULL,
        headers TEXT NOT NULL,
        body BLOB NOT NULL,
        state TEXT NOT NULL DEFAULT 'new',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        UNIQUE (connection, digest)
    );
    CREATE INDEX inbox_state ON inbox (state, id);
    """,
    # the same number used by two sales (connex_core.sync.books.number_taken): one look-up per order
    "CREATE INDEX ledger_number ON ledger (task, target_number)",
    # sign-ins started by `connex connect --via-serve` or the console, finished by serve's OAuth callback
    # (connex_core.oauth.callback): the state's SHA-256 only, never the state itself
    """
    CREATE TABLE oauth_pending (
        digest TEXT PRIMARY KEY,
        connection TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        started_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        message TEXT
    )
    """,
    # numbers compared ignoring case, for targets that do (Connector.numbers_ignore_case)
    "CREATE INDEX ledger_number_lower ON ledger (task, lower(target_number))",
    # what a run created in the target beside its documents (customers, items, contacts): `connex undo` lists them
    """
    CREATE TABLE created_records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL,
        task TEXT NOT NULL,
        time TEXT NOT NULL,
        source_key TEXT NOT NULL,
        order_number TEXT,
        kind TEXT NOT NULL,
        target_id TEXT NOT NULL,
        name TEXT
    );
    CREATE INDEX created_records_run ON created_records (run_id)
    """,
]
