"""``connex report``: reconciliation per day, in the source's time zone (see :mod:`connex_core.sync.report`)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..engine import SyncEngine
from ..errors import ExitCode, UsageError
from ..plugins import get_manager
from ..state.factory import open_store
from ..sync.report import reconcile
from ..sync.run import RunSummary
from .common import ConfigOption, JsonOption, emit, emit_json, handle_errors, parse_when
from .config import checked_config
from .resync import task_run


@handle_errors
def report(
    since: Annotated[str, typer.Option(help="The first day (YYYY-MM-DD, in the source's own time zone).")],
    until: Annotated[str, typer.Option(help="The last day, included (YYYY-MM-DD, same time zone).")],
    config: ConfigOption = None,
    task: Annotated[Optional[str], typer.Option("--task", "-t", help="Only this task (default: every orders task).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Reconcile each day: orders in the source (count, sum of totals), booked (count, sum), skipped, held,
    failed (by reason), never seen, and booked orders whose document is gone from the target. Reads the
    source and looks in the target; writes nothing. Exit 0 when every day is accounted for, 5 otherwise."""
    manager = get_manager()
    cfg = checked_config(config, manager)
    names = [task] if task else [n for n, t in cfg.tasks.items() if t.kind == "orders" and t.enabled]
    for n in names:
        if cfg.task(n).kind != "orders":
            raise UsageError(f"task {n!r} is a {cfg.task(n).kind} task; the report reconciles orders tasks")
    store = open_store(cfg)
    engine = SyncEngine(cfg, manager, store, dry_run=True)
    out = []
    try:
        for n in names:
            run = task_run(engine, n, RunSummary(task=n, dry_run=True))
            tz = run.source.timezone
            start, end = parse_when(since, tz), parse_when(until, tz, end=True)
            if end <= start:
                raise UsageError(f"--until {until} is before --since {since}")
            days = reconcile(run, start, end, tz)
            out.append({"task": n, "timezone": tz, "days": [d.as_dict() for d in days],
                        "accounted": all(d.accounted for d in days)})
    finally:
        engine.close()
        store.close()
    if json_out:
        emit_json(out)
    else:
        for t in out:
            emit(f"{t['task']} ({t['timezone']})")
            if not t["days"]:
                emit("  no orders in the source")
            for d in t["days"]:
                emit(_day_line(d))
    if not all(t["accounted"] for t in out):
        raise typer.Exit(int(ExitCode.ORDERS_FAILED))


def _day_line(d: dict) -> str:
    parts = [f"{d['day']}: {d['orders']} orders {d['total']}, booked {d['booked']} {d['booked_total']}"]
    parts += [f"{k} {d[k]}" for k in ("skipped", "ignored", "held") if d[k]]
    for reason, n in d["failed_by_reason"].items():
        parts.append(f"failed {n} ({reason})")
    if d["not_seen"]:
        parts.append(f"never seen by a run: {', '.join(d['not_seen'])}")
    if d["gone"]:
        parts.append(f"gone from the target: {', '.join(d['gone'])}")
    return "  " + ", ".join(parts) + ("  ok" if d["accounted"] else "  NOT ACCOUNTED FOR")
