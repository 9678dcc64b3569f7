""""Run now": queue a task run and follow it.

Inside ``connex serve`` the console hands the run to the server's own queue (one worker, one run at a time);
on its own (tests, ``connex demo --console``) :class:`ThreadRunner` runs it in a thread, under the task's lease
like every other runner. Progress is read back from the state store: the run row (running, then its summary)
and how many log lines it has written so far.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Optional

from ..state import LogQuery
from ..state.history import run_row

log = logging.getLogger("connex.console")
#: Progress counts the run's log lines up to this many (then says "5000+"): each poll stays cheap.
PROGRESS_CAP = 5000


class ThreadRunner:
    """Runs tasks one at a time in a background thread (for a console outside ``connex serve``)."""

    def __init__(self, config, manager, store, connector_options: Optional[dict[str, Any]] = None):
        self.config, self.manager, self.store = config, manager, store
        self.connector_options = connector_options or {}
        self._lock = threading.Lock()
        self.errors: dict[str, str] = {}

    def __call__(self, task: str, reason: str = "console", orders: Optional[list] = None) -> bool:
        """Run ``task`` (on ``orders`` only, when given: a released order posted now)."""
        thread = threading.Thread(target=self._run, args=(task, orders), name=f"console-run-{task}", daemon=True)
        thread.start()
        return True

    def _run(self, task: str, orders: Optional[list] = None) -> None:
        from ..engine import SyncEngine
        from ..state.lease import TaskLease, holder_name

        with self._lock:
            self.errors.pop(task, None)
            engine = SyncEngine(self.config, self.manager, self.store, connector_options=self.connector_options)
            try:
                with TaskLease(self.store, task, holder=holder_name("connex console"),
                               ttl=self.config.state.lease_seconds):
                    engine.run_task(task, orders=orders)
            except Exception as exc:  # shown on the page; the run row says the rest
                log.warning("console run of %s: %s", task, exc)
                self.errors[task] = f"{type(exc).__name__}: {exc}"
            finally:
                engine.close()


def last_run_id(store, task: str) -> int:
    runs = store.runs(task, limit=1)
    return int(runs[0]["id"]) if runs else 0


def progress(store, task: str, after: int, errors: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """The first run of ``task`` newer than run id ``after``: queued, running (lines so far) or finished."""
    runs = store.runs(task, limit=1)
    if not runs or int(runs[0]["id"]) <= after:
        error = (errors or {}).get(task)
        return {"state": "failed" if error else "queued", "error": error}
    row = run_row(runs[0])
    if row["finished"] is None:
        lines = len(store.query_log(LogQuery(task=task, run_id=row["id"], limit=PROGRESS_CAP + 1)))
        return {"state": "running", "run": row, "lines": f"{PROGRESS_CAP}+" if lines > PROGRESS_CAP else lines}
    return {"state": "finished", "run": row}
