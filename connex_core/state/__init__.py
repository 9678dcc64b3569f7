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

from .base import (LEDGER_STATES, OUTCOMES, RETRY_STATES, CreatedRecord, InboxEntry, LedgerEntry, LedgerState, LogEntry, LogQuery,
                   Outcome, StateStore)
from .sqlite import SQLiteStore

__all__ = ["StateStore", "SQLiteStore", "CreatedRecord", "InboxEntry", "LedgerEntry", "LedgerState", "LogEntry", "LogQuery", "Outcome",
           "LEDGER_STATES", "OUTCOMES", "RETRY_STATES"]
