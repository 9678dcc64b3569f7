"""Deterministic ``requestid`` values that move on after a refusal.

QuickBooks answers a repeated ``requestid`` with the answer it gave the first time, whatever it
was: that is what makes a write whose answer was lost safe to send again. But it also means an
order refused once (an inactive item, say) and fixed by the user since would get the old refusal
back forever if its next attempt carried the same id.

So an id is derived from the realm, the purpose of the call and the ledger's idempotency keys
(the same writes give the same id, across processes), plus a *generation* that is bumped when an
answer came back holding a Fault. The generations are kept in a small private file beside the
tokens, so a restarted process derives the same ids as the one before it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Iterable, Optional

from connex_core.api import write_private

BATCH_LIMIT = 36
"""Intuit's limit for a batch's requestid (a single write allows 50)."""


class RequestIds:
    def __init__(self, path: Optional[Path]):
        self.path = path
        self._lock = threading.Lock()
        self._generations: dict[str, int] = {}
        self._base_of: dict[str, str] = {}
        if path is not None and path.exists():
            self._generations = json.loads(path.read_text())

    def get(self, realm: str, purpose: str, keys: Iterable[str], limit: int = BATCH_LIMIT) -> str:
        """The id for these writes: stable until :meth:`refused` is called for it."""
        base = hashlib.sha256("\n".join([realm, purpose, *sorted(keys)]).encode()).hexdigest()
        with self._lock:
            generation = self._generations.get(base, 0)
        rid = (base if generation == 0 else hashlib.sha256(f"{base}#{generation}".encode()).hexdigest())[:limit]
        self._base_of[rid] = base
        return rid

    def refused(self, rid: str) -> None:
        """The answer to ``rid`` held a Fault: the next attempt at the same writes gets a new id."""
        base = self._base_of.get(rid)
        if base is None:
            return
        with self._lock:
            self._generations[base] = self._generations.get(base, 0) + 1
            if self.path is not None:
                write_private(self.path, json.dumps(self._generations).encode())
