"""The CSV connector: orders from the files of a folder (a source), orders to files in a folder (a target).

As a source it reads every file of the folder matching the pattern that is not yet read for the task
(:mod:`connex_csv.registry`: by content hash, against the task's window), one file at a time, and yields
its orders; a malformed order is logged as an error naming the file, row and column, and left out
(its file is then read again at every run until it is fixed). As a target it appends each batch of
orders to this run's (or this day's) file in one write, flushed to the disk; :meth:`find_orders` finds
an order already in the folder's files (by its Connex key), so a rerun or a lost answer never writes
it twice.
"""

from __future__ import annotations

import fnmatch
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Optional

from connex_core.api import (Capability, Connector, ConnectorContext, FetchQuery, Found, Order, OrderWrite,
                             RetryPolicy, UnreadableOrder, WriteResult, options_of)

from .files import LocalFiles, call, content_hash
from .reader import SOURCE, FileError, RowError, read_orders
from .registry import Registry
from .settings import CsvSettings, SourceOptions, TargetOptions
from .writer import Written, index_file, order_rows, to_csv

#: ``--since``/``--until`` select orders by their order date; ``modified`` by when their file was first seen.
DATE_FIELDS = {"orders": ("created", "order", "modified")}


class CsvConnector(Connector):
    name = "csv"
    title = "CSV files"
    settings_model = CsvSettings
    source_options_model = SourceOptions
    target_options_model = TargetOptions
    date_fields = DATE_FIELDS
    capabilities = frozenset({Capability.READ_ORDERS, Capability.WRITE_ORDERS})
    write_batch_size = 200

    def __init__(self, settings: CsvSettings, ctx: ConnectorContext):
        super().__init__(settings, ctx)
        self.settings: CsvSettings = settings
        #: The file system: the real one, or the sandbox's (``ctx.options["csv_files"]``), which injects faults.
        self.files: LocalFiles = ctx.options.get("csv_files") or LocalFiles()
        self.retry = RetryPolicy(max_tries=5, base=0.5, cap=10.0, sleep=self.clock.sleep)
        self.timezone = settings.timezone  # type: ignore[misc]  # dates without an offset are in this zone
        self.problems: list[str] = []
        """What the reads so far left out (malformed orders, files that are not order files), as messages."""
        self._lock = threading.Lock()
        self._written: Optional[dict[str, Written]] = None
        self._run_stamp: Optional[str] = None

    @property
    def folder(self) -> Path:
        """The connection's folder; a relative one is taken from the config's folder (where the state lives)."""
        path = Path(self.settings.folder).expanduser()
        return path if path.is_absolute() else self.ctx.state_dir.parent / path

    def check(self) -> str:
        folder = self.folder
        found = call(self.retry, lambda: self.files.list(folder, self.settings.pattern), "reading the folder", folder)
        return f"folder {folder}: {len(found)} file(s) matching {self.settings.pattern}"

    # -- reading ---------------------------------------------------------------------------------
    def fetch_orders(self, query: FetchQuery) -> Iterator[Order]:
        options = options_of(SourceOptions, query.options)
        pattern = options.pattern or self.settings.pattern
        folder = self.folder
        every = call(self.retry, lambda: self.files.list(folder, "*"), "reading the folder", folder)
        paths = [p for p in every if fnmatch.fnmatch(p.name, pattern)]
        now = self.clock.utcnow()
        registry = Registry(self.ctx.state_dir / f"csv-{self.ctx.connection}.files.json")
        current: dict[str, str] = {}
        done_this_pass: set[str] = set()
        for path in paths:
            settle = self.settings.settle_seconds
            if settle and call(self.retry, lambda path=path: self.files.age(path), "reading", path) < settle:
                self.ctx.logger.info("csv %s: %s changed less than %gs ago; left for the next run",
                                     self.ctx.connection, path.name, settle)
                continue
            data = call(self.retry, lambda path=path: self.files.read(path), "reading", path)
            digest = current[path.name] = content_hash(data)
            if digest in done_this_pass:
                continue  # a copy of a file read above
            done_this_pass.add(digest)
            if query.modified_since is not None and registry.is_read(digest, query.modified_since):
                continue
            with self._lock:
                seen = registry.sight(digest, path.name, now)
            malformed = False
            for item in read_orders(path.name, data, self.settings, seen.first_seen):
                if isinstance(item, (RowError, FileError)):
                    malformed = True
                    self._report(item)
                    if isinstance(item, RowError) and item.order_number:  # that order fails; the others go on
                        yield UnreadableOrder(source=SOURCE, source_id=item.order_number, number=item.order_number,
                                              reason=f"{item} (fix the file: the next run reads it again)")
                elif self._in_window(item, query):
                    yield item
            with self._lock:
                registry.mark_malformed(digest, malformed)
                if not self.ctx.dry_run:
                    registry.save()
        with self._lock:
            registry.prune(current, {p.name for p in every})
            if not self.ctx.dry_run:
                registry.save()

    def _report(self, problem: Any) -> None:
        message = (f"{problem} (left out: fix the file and the next run reads it)" if isinstance(problem, RowError)
                   else f"{problem} (the file is not read)")
        self.problems.append(message)
        self.ctx.logger.error("csv %s: %s", self.ctx.connection, message)

    @staticmethod
    def _in_window(order: Order, query: FetchQuery) -> bool:
        if query.since is None and query.until is None:
            return True
        when: Optional[datetime] = order.modified_at if query.date_field == "modified" else order.order_date
        if when is None:
            return False
        return (query.since is None or when >= query.since) and (query.until is None or when < query.until)

    # -- writing ---------------------------------------------------------------------------------
    def _output_files(self) -> list[Path]:
        folder = self.folder
        if not folder.exists():
            return []
        return call(self.retry, lambda: self.files.list(folder, "*.csv"), "reading the folder", folder)

    def _index(self) -> dict[str, Written]:
        """Every order complete in the folder's output files, by key (built once; torn tails cut off)."""
        if self._written is None:
            written: dict[str, Written] = {}
            for path in self._output_files():
                found, cut = call(self.retry, lambda path=path: index_file(path, self.settings.delimiter),
                                  "reading", path)
                if cut is not None and not self.ctx.dry_run:
                    self.ctx.logger.warning("csv %s: %s ends in an order cut short (an interrupted write); removed "
                                            "from byte %d, it is written again", self.ctx.connection, path.name, cut)
                    call(self.retry, lambda path=path: self.files.truncate(path, cut), "repairing", path)
                written.update(found)
            self._written = written
        return self._written

    def find_orders(self, writes: list[OrderWrite]) -> dict[str, Found]:
        with self._lock:
            index = self._index()
            return {w.key: Found(target_id=f"{hit.file}#{hit.row}", target_number=hit.number,
                                 description=f"order {hit.number} in {hit.file} at row {hit.row}")
                    for w in writes if (hit := index.get(w.key)) is not None}

    def _target(self, options: TargetOptions) -> Path:
        now = self.clock.utcnow()
        if options.per == "day":
            return self.folder / f"{options.prefix}-{now:%Y-%m-%d}.csv"
        if self._run_stamp is None:
            self._run_stamp = f"{now:%Y%m%dT%H%M%S}Z"
        return self.folder / f"{options.prefix}-{self._run_stamp}.csv"

    def write_orders(self, writes: list[OrderWrite]) -> list[WriteResult]:
        if not writes:
            return []
        options = options_of(TargetOptions, writes[0].options)
        with self._lock:
            index = self._index()
            folder = self.folder
            call(self.retry, lambda: self.files.makedirs(folder), "creating", folder)
            path = self._target(options)
            fresh = not path.exists() or path.stat().st_size == 0
            rows: list[list[str]] = []
            results: list[WriteResult] = []
            next_row = (_count_lines(path) if not fresh else 1) + 1
            for w in writes:
                if w.key in index:  # in a file already (written by an earlier batch of this run)
                    hit = index[w.key]
                    results.append(WriteResult(w.key, ok=True, duplicate=True, target_id=f"{hit.file}#{hit.row}",
                                               target_number=hit.number))
                    continue
                if not w.order.lines:
                    results.append(WriteResult(w.key, ok=False, error="the order has no lines: a CSV file has a row "
                                                                     "per line, so it cannot be written"))
                    continue
                order_lines = order_rows(w.order, w.key)
                results.append(WriteResult(w.key, ok=True, target_id=f"{path.name}#{next_row}",
                                           target_number=w.order.number))
                index[w.key] = Written(path.name, next_row, w.order.number)
                next_row += len(order_lines)
                rows.extend(order_lines)
            if rows:
                data = to_csv(rows, header=fresh, delimiter=self.settings.delimiter).encode(_write_encoding(self.settings.encoding))
                try:
                    call(self.retry, lambda: self.files.append(path, data), "writing", path)
                except Exception:
                    self._written = None  # the index no longer knows what is in the file: read it again
                    raise
            return results

    def close(self) -> None:
        self._written = None


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 16), b""))


def _write_encoding(encoding: str) -> str:
    """The encoding to append in: UTF-8 without the byte-order mark (the reader's utf-8-sig reads it)."""
    return "utf-8" if encoding.lower().replace("_", "-") == "utf-8-sig" else encoding
