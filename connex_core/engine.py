"""The sync engine: one task run, exactly once.

The machinery lives in :mod:`connex_core.sync` (one module per task kind, the shared run and write
protocol); this module keeps the names other code imports.
"""

from __future__ import annotations

from .sync import WRITE_ATTEMPTS, RunSummary, SyncEngine, idempotency_key

__all__ = ["RunSummary", "SyncEngine", "WRITE_ATTEMPTS", "idempotency_key"]
