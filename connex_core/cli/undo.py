"""``connex undo``: take back what one run created in the target (see :mod:`connex_core.sync.undo`)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..engine import SyncEngine
from ..errors import ExitCode
from ..plugins import get_manager
from ..state.factory import open_store
from ..state.lease import TaskLease, holder_name
from ..sync.undo import PLANNED, UndoReport, UndoStep, plan_undo, undo_run
from .common import ConfigOption, JsonOption, emit, emit_json, err, handle_errors
from .config import checked_config


def _line(report: UndoReport, step: UndoStep) -> str:
    return f"{report.task}  {step.order}  {step.action}: {step.message}"


@handle_errors
def undo(
    run_id: Annotated[int, typer.Option("--run", help="The run to take back (its id: connex runs).")],
    config: ConfigOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan only; change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking (for scripts).")] = False,
    json_out: JsonOption = False,
) -> None:
    """Take back what one run created, newest first: void or delete each document (with the payments Connex
    recorded on it) as the target allows. A document changed since (paid, edited, shipped) is left and
    listed with the reason; customers, items and contacts the run created are listed with their ids, not
    deleted. The ledger marks each order `undone`: a run over its dates (--since/--until) or `connex resync`
    posts it again. Without --yes it shows the plan and asks. Running it again does nothing more. Exit 5 when something could not be undone."""
    manager = get_manager()
    cfg = checked_config(config, manager)
    store = open_store(cfg)
    engine = SyncEngine(cfg, manager, store)
    try:
        report = plan_undo(engine, run_id)
        todo = [s for s in report.steps if s.action == PLANNED]
        if not dry_run and todo and not yes:
            for step in report.steps:
                err(_line(report, step))
            for kept in report.left_in_place:
                err(f"{report.task}  {kept.order}  left: {kept.message}")
            if not typer.confirm(f"take back {len(todo)} document(s) of run #{run_id} in {report.target}?",
                                 err=True, default=False):
                err("nothing changed")
                raise typer.Exit(int(ExitCode.ORDERS_FAILED))
        if not dry_run and todo:
            lease = TaskLease(store, report.task, holder=holder_name("connex undo"), ttl=cfg.state.lease_seconds)
            lease.acquire()
            try:
                report = undo_run(engine, run_id)
            finally:
                lease.release()
    finally:
        engine.close()
        store.close()
    if json_out:
        emit_json(report.as_dict())
    else:
        if not report.steps and not report.left_in_place:
            emit(f"{report.task}: run #{run_id} created nothing")
        for step in report.steps:
            emit(_line(report, step))
        for kept in report.left_in_place:
            emit(f"{report.task}  {kept.order}  left: {kept.message}")
        if dry_run and todo:
            err(f"dry run: nothing changed; take them back with: connex undo --run {run_id} --yes")
    if not report.ok:
        raise typer.Exit(int(ExitCode.ORDERS_FAILED))
