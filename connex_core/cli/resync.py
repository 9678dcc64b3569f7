"""``connex resync``: look in the target for orders already posted; post again what is gone, update what
changed (where the target allows), say what is the same. See :mod:`connex_core.sync.resync`."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from ..engine import SyncEngine
from ..errors import ExitCode
from ..plugins import get_manager
from ..state.factory import open_store
from ..state.lease import TaskLease, holder_name
from ..sync.resync import check_numbers, resync_one
from ..sync.run import RunSummary, TaskRun
from .common import ConfigOption, JsonOption, emit, emit_json, handle_errors
from .config import checked_config


def task_run(engine: SyncEngine, name: str, summary: RunSummary) -> TaskRun:
    """A run of one task, as :meth:`SyncEngine.run_task` builds it, for commands that act on single orders."""
    return engine.task_run(name, summary)


@handle_errors
def resync(
    orders: Annotated[list[str], typer.Argument(help="Order numbers, as the source shows them.")],
    task: Annotated[str, typer.Option("--task", "-t", help="The task that posted them.")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Look each order up in the target: post it again if its document is gone (deleted in the target),
    update it if the order changed since (where the target updates in place; else say why not), or say it
    is the same. Logged as `resynced`. Exit 5 when one could not be put right."""
    check_numbers(orders)
    manager = get_manager()
    cfg = checked_config(config, manager)
    cfg.task(task)
    store = open_store(cfg)
    engine = SyncEngine(cfg, manager, store)
    summary = RunSummary(task=task)
    started = time.monotonic()
    results = []
    lease = TaskLease(store, task, holder=holder_name("connex resync"), ttl=cfg.state.lease_seconds)
    try:
        lease.acquire()
        try:
            summary.run_id = store.begin_run(task, {"resync": orders})
            run = task_run(engine, task, summary)
            for number in orders:
                results.append(resync_one(run, number))
        finally:
            if summary.run_id is not None:
                summary.seconds = time.monotonic() - started
                store.finish_run(summary.run_id, "ok", {**summary.as_dict(), "resynced": len(results)})
            lease.release()
    finally:
        engine.close()
        store.close()
    if json_out:
        emit_json([{"order": r.order, "action": r.action, "document": r.target_number, "message": r.message}
                   for r in results])
    else:
        for r in results:
            emit(f"{task}  {r.order}  {r.action}: {r.message}")
    if not all(r.ok for r in results):
        raise typer.Exit(int(ExitCode.ORDERS_FAILED))
