"""Which files a connection has seen, by content hash: each file's rows are read until they are all booked.

The registry (``<state>/.connex/csv-<connection>.files.json``) keeps, per content hash, when Connex
first saw that content and whether it had malformed rows. Every order of a file carries
``modified_at`` = that first sight. The engine moves a task's cursor to the newest ``modified_at`` only
after the run recorded an outcome for every order it read (created, duplicate, skipped, held or failed:
failed and held ones wait in the ledger's retry queue), so **a file is read once its first sight is
before the task's window** (``FetchQuery.modified_since``: the cursor minus the overlap), and only then:

* a crash mid-file leaves the cursor where it was: the file is read again, and the ledger drops the
  orders already booked (re-reading never doubles);
* a file with malformed rows is read at every run until it is fixed (its good orders are dropped as
  repeats, the bad ones reported again); a fixed file has a new hash, so it is new;
* a file whose content changes (rows appended, a value corrected) has a new hash: it is new, and the
  ledger decides per order (the same order with the same content is a repeat);
* the same content under another name (a copy) is the same hash: not read again.

Entries of hashes no longer in the folder are dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional

from connex_core.api import write_private


@dataclass
class Seen:
    first_seen: datetime
    name: str
    malformed: bool = False


class Registry:
    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, Seen] = {}
        if path.exists():
            for digest, e in json.loads(path.read_text()).items():
                self.entries[digest] = Seen(datetime.fromisoformat(e["first_seen"]), e["name"], e.get("malformed", False))
        self.changed = False

    def sight(self, digest: str, name: str, now: datetime) -> Seen:
        """The entry of ``digest``, made now if it is new."""
        entry = self.entries.get(digest)
        if entry is None:
            entry = self.entries[digest] = Seen(now, name)
            self.changed = True
        return entry

    def is_read(self, digest: str, window_start: Optional[datetime]) -> bool:
        """The file's orders are all booked for a task whose window starts at ``window_start``."""
        entry = self.entries.get(digest)
        return (entry is not None and window_start is not None and not entry.malformed
                and entry.first_seen <= window_start)

    def mark_malformed(self, digest: str, malformed: bool) -> None:
        entry = self.entries[digest]
        if entry.malformed != malformed:
            entry.malformed = malformed
            self.changed = True

    def prune(self, current: dict[str, str], present: set[str]) -> None:
        """Drop what is no longer in the folder: ``current`` maps the names just read to their hashes, ``present``
        is every file name in the folder (another task's pattern may read the others)."""
        live = set(current.values())
        gone = [d for d, e in self.entries.items()
                if d not in live and (e.name not in present or e.name in current)]
        for digest in gone:
            del self.entries[digest]
        self.changed = self.changed or bool(gone)

    def save(self) -> None:
        if not self.changed:
            return
        data = {d: {"first_seen": e.first_seen.isoformat(), "name": e.name, "malformed": e.malformed}
                for d, e in sorted(self.entries.items())}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_private(self.path, json.dumps(data, indent=1).encode())
        self.changed = False
