"""``connex held``: the review queue. Held and failed orders, and what a person decides about them.

- ``connex held`` lists them: reason, rule and line, first and last seen;
- ``connex held release`` posts one on the next run (or at once with ``--now``), past the rule that held it, once;
- ``connex held ignore`` marks one never to be posted.

Both are logged (``connex log --outcome released`` / ``--outcome ignored``) with the reason given.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..config import Config
from ..engine import SyncEngine
from ..errors import ExitCode, UsageError
from ..models import Order
from ..plugins import get_manager
from ..state import LedgerEntry, LedgerState, LogQuery, StateStore
from ..state.factory import open_store
from ..state.lease import TaskLease, holder_name
from ..sync.review import QUEUE_STATES, decide, order_number as _number
from .common import ConfigOption, JsonOption, config_from, emit, emit_json, err, handle_errors
from .run import format_summary

app = typer.Typer(help="The review queue: held and failed orders; release or ignore them.")

TaskOption = Annotated[str, typer.Option("--task", "-t", help="The task the order belongs to.")]


def queue_row(store: StateStore, entry: LedgerEntry) -> dict:
    """One queued order, with where the rules (or the target) stopped it and when it was first and last seen."""
    seen = [e for e in store.query_log(LogQuery(task=entry.task, source_key=entry.source_key))
            if e.outcome == entry.state]
    last = seen[-1] if seen else None
    return {"task": entry.task, "order": _number(entry) or (last.order_number if last else None),
            "source_key": entry.source_key, "state": str(entry.state),
            "reason": entry.last_error or (last.reason if last else None),
            "rule": last.rule if last else None, "line": last.line if last else None,
            "rule_file": last.rule_file if last else None, "attempts": entry.attempts,
            "first_seen": seen[0].time if seen else None,
            "last_seen": max(filter(None, (entry.updated_at, last.time if last else None)), default=None)}


@app.callback(invoke_without_command=True)
@handle_errors
def held(
    ctx: typer.Context,
    config: ConfigOption = None,
    task: Annotated[Optional[str], typer.Option("--task", "-t", help="Only this task's queue.")] = None,
    json_out: JsonOption = False,
) -> None:
    """List held and failed orders: reason, rule and line, first and last seen. Exit 0 even when some are
    queued (this is a report); `connex held release` and `connex held ignore` act on one."""
    if ctx.invoked_subcommand is not None:
        return
    cfg = config_from(config)
    if task is not None:
        cfg.task(task)
    store = open_store(cfg)
    try:
        rows = [queue_row(store, e) for e in store.ledger_in_states(QUEUE_STATES, task=task)]
    finally:
        store.close()
    if json_out:
        emit_json(rows)
        return
    if not rows:
        emit("nothing held or failed")
        return
    for r in rows:
        where = f" (rule {r['rule']!r}, line {r['line']})" if r["rule"] else ""
        first = (r["first_seen"] or "?")[:19]
        last = (r["last_seen"] or "?")[:19]
        emit(f"{r['task']}  {r['order'] or r['source_key']}  {r['state']}: {r['reason']}{where}  "
             f"first seen {first}, last seen {last}")


def _decide(config, task: str, order: str, state: LedgerState, reason: str) -> tuple[Config, LedgerEntry]:
    cfg = config_from(config)
    cfg.task(task)
    store = open_store(cfg)
    try:
        entry = decide(store, task, order, state, reason)
    finally:
        store.close()
    return cfg, entry


@app.command()
@handle_errors
def release(
    order: Annotated[str, typer.Argument(help="The order number (or source key) as `connex held` lists it.")],
    task: TaskOption,
    config: ConfigOption = None,
    reason: Annotated[str, typer.Option(help="Why it may be posted (kept in the log).")] = "released by hand",
    now: Annotated[bool, typer.Option("--now", help="Post it now instead of on the next run.")] = False,
) -> None:
    """Post a held (or failed) order on the next run, past the rule that held it, once."""
    cfg, entry = _decide(config, task, order, LedgerState.RELEASED, reason)
    if not entry.snapshot:
        raise UsageError(f"order {order!r} has no saved copy to post; run the task over its date "
                         "(connex run --since DATE) to read it again")
    if not now:
        emit(f"{task}  {order}  released: the next run posts it")
        return
    manager = get_manager()
    store = open_store(cfg)
    engine = SyncEngine(cfg, manager, store)
    lease = TaskLease(store, task, holder=holder_name("connex held release"), ttl=cfg.state.lease_seconds)
    try:
        lease.acquire()
        try:
            summary = engine.run_task(task, orders=[Order.model_validate_json(entry.snapshot)])
        finally:
            lease.release()
    finally:
        engine.close()
        store.close()
    emit(format_summary(summary.as_dict()))
    if summary.problems:
        err(f"see why with: connex log --task {task} --order {order}")
        raise typer.Exit(int(ExitCode.ORDERS_FAILED))


@app.command()
@handle_errors
def ignore(
    order: Annotated[str, typer.Argument(help="The order number (or source key) as `connex held` lists it.")],
    task: TaskOption,
    reason: Annotated[str, typer.Option(help="Why it is never to be posted (kept in the log).")],
    config: ConfigOption = None,
) -> None:
    """Mark a held (or failed) order never to be posted: later runs skip it even when they read it again."""
    _decide(config, task, order, LedgerState.IGNORED, reason)
    emit(f"{task}  {order}  ignored: it will not be posted")
