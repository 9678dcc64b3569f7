"""The progress display of ``connex run``: records read so far, on stderr, while a task runs.

The engine knows nothing of it: it calls ``on_progress(task, n)``, which :meth:`RunProgress.advance` is.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Optional


class RunProgress:
    """A spinner and a count per task (nothing at all when ``enabled`` is false: stderr not a terminal)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress: Any = None
        self._bars: dict[str, Any] = {}

    @contextmanager
    def task(self, name: str) -> Iterator["RunProgress"]:
        """Show ``name``'s count while the block runs (one task at a time)."""
        if not self.enabled:
            yield self
            return
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"),
                                  TextColumn("{task.completed} orders"), TimeElapsedColumn(),
                                  console=Console(stderr=True), transient=True)
        self._progress.start()
        self._bars = {name: self._progress.add_task(name, total=None)}
        try:
            yield self
        finally:
            self._progress.stop()
            self._progress, self._bars = None, {}

    def advance(self, task: str, n: int = 1) -> None:
        """``on_progress`` for :class:`~connex_core.sync.SyncEngine`: ``n`` more records of ``task`` read."""
        bar: Optional[Any] = self._bars.get(task)
        if bar is not None:
            self._progress.advance(bar, n)
