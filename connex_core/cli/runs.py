"""``connex runs``: the run history (what each task run read and did, and how it ended)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..state.factory import open_store
from ..state.history import COUNTS, run_row  # noqa: F401 - COUNTS re-exported
from .common import ConfigOption, JsonOption, config_from, emit, emit_json, handle_errors


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
