"""``connex runs``: the run history (what each task run read and did, and how it ended)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..state.factory import open_store
from .common import ConfigOption, JsonOption, config_from, emit, emit_json, handle_errors

#: The outcome counts a run's summary holds, in the order they are shown.
COUNTS = ("read", "created", "updated", "duplicate", "already_synced", "skipped", "held", "failed", "voided", "would_create")


def run_row(r: dict) -> dict:
    """One run as ``connex runs --json`` prints it (and as the console shows it)."""
    summary = r.get("summary") or {}
    return {"id": r["id"], "task": r["task"], "started": r["started_at"], "finished": r["finished_at"],
            "status": r["status"], "error": summary.get("error"),
            "counts": {k: summary.get(k, 0) for k in COUNTS if summary.get(k)}}


@handle_errors
def runs(
    config: ConfigOption = None,
    task: Annotated[Optional[str], typer.Option("--task", "-t", help="Only this task's runs.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="The newest this many runs.")] = 20,
    json_out: JsonOption = False,
) -> None:
    """The run history, newest first: id, task, started, finished, counts by outcome, status.

    A run still going (or whose process died) shows status "running" and no finish time."""
    cfg = config_from(config)
    if task is not None:
        cfg.task(task)  # an unknown task name is an error naming the known ones
    store = open_store(cfg)
    try:
        rows = [run_row(r) for r in store.runs(task, limit=limit)]
    finally:
        store.close()
    if json_out:
        emit_json(rows)
        return
    if not rows:
        emit("no runs")
        return
    for r in rows:
        counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in r["counts"].items()) or "nothing read"
        end = r["finished"][:19] if r["finished"] else "-"
        tail = f" [{r['error']}]" if r["error"] else ""
        emit(f"#{r['id']}  {r['task']}  {r['started'][:19]} .. {end}  {r['status']}: {counts}{tail}")
