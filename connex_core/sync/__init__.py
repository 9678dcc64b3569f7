"""The sync engine, by task kind.

* :mod:`.engine`: :class:`SyncEngine`, which runs one task of a config by its kind;
* :mod:`.run`: what every run shares (:class:`RunSummary`, the window and the cursor, reading);
* :mod:`.write`: the exactly-once write protocol, and the ledger and log entries it leaves;
* :mod:`.orders`, :mod:`.tracking`, :mod:`.summary`: one module per task kind.
"""

from __future__ import annotations

from .engine import SyncEngine
from .run import RunSummary, TaskRun
from .write import WRITE_ATTEMPTS, idempotency_key

__all__ = ["RunSummary", "SyncEngine", "TaskRun", "WRITE_ATTEMPTS", "idempotency_key"]
