"""``connex run``: run tasks once ("save and sync")."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from ..connections import Connections
from ..engine import SyncEngine
from ..errors import ConnectorError, ExitCode
from ..plugins import get_manager
from ..limits import configure as configure_limits
from ..oauth.expiry import warn_expiring_tokens
from ..state.factory import open_store
from ..state.lease import TaskBusy, TaskLease, holder_name
from .common import ConfigOption, JsonOption, emit, emit_json, err, handle_errors, parse_when
from .config import checked_config
from .progress import RunProgress


def format_summary(s: dict) -> str:
    parts = [f"{k.replace('_', ' ')} {s[k]}" for k in
             ("would_create", "would_update", "created", "updated", "duplicate", "already_synced", "skipped", "held", "failed",
              "ignored", "voided", "undone", "waiting")
             if s.get(k)]
    head = f"{s['task']}: read {s['read']}"
    tail = f" [{s['status']}: {s['error']}]" if s.get("error") else ""
    return head + (", " + ", ".join(parts) if parts else ", nothing to do") + tail


@handle_errors
def run(
    config: ConfigOption = None,
    task: Annotated[Optional[list[str]], typer.Option("--task", "-t", help="Run only this task (repeatable). Default: every enabled task.")] = None,
    since: Annotated[Optional[str], typer.Option(help="Read orders from this date (YYYY-MM-DD, in the source's own time zone: US Pacific for ShipStation) instead of the cursor.")] = None,
    until: Annotated[Optional[str], typer.Option(help="Read orders up to the end of this date (YYYY-MM-DD, same time zone as --since).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read, apply the rules and look in the target (read-only): report per order what would be written (would-create, duplicate of DOC, held, failed), write nothing.")] = False,
    json_out: JsonOption = False,
    wait: Annotated[Optional[float], typer.Option("--wait", help="When another process is running a task, wait up to this many seconds for it (default: do not wait; exit 5).")] = None,
) -> None:
    """Run tasks once: read new orders, apply the rules, write them to the target, record every outcome.

    Each task runs under a lease in the state store: while another process (``connex serve``, a worker,
    another ``connex run``) runs the same task, this one says who and exits 5, or waits with ``--wait``.

    Exit codes: 0 all done, 3 rule error, 4 configuration error, 5 some orders failed or were held (or a
    task was busy elsewhere), 6 fatal API or authentication error.
    """
    manager = get_manager()
    cfg = checked_config(config, manager)  # the whole config, before anything is read: exit 4 on any problem
    # Tasks that create documents run before those that write tracking onto them.
    names = task or sorted((n for n, t in cfg.tasks.items() if t.enabled), key=lambda n: cfg.tasks[n].kind == "tracking")
    if not names:
        err("no tasks in the config; add a [tasks.NAME] table")
        raise typer.Exit(int(ExitCode.CONFIG_ERROR))
    for n in names:
        cfg.task(n)
    configure_limits(cfg)
    store = open_store(cfg)
    connections = Connections(cfg, manager, dry_run=dry_run)
    progress = RunProgress(sys.stderr.isatty() and not json_out)
    engine = SyncEngine(cfg, manager, store, dry_run=dry_run, connections=connections, on_progress=progress.advance)
    summaries, exit_code, fatal = [], ExitCode.OK, None
    try:
        used = sorted({c for n in names for c in (cfg.task(n).source, cfg.task(n).target)})
        warn_expiring_tokens((connections.get(c) for c in used), err)  # on every run, before anything is read
        for n in names:
            source_tz = connections.get(cfg.task(n).source).timezone
            try:
                lease = TaskLease(store, n, holder=holder_name("connex run"), wait=wait or 0.0,
                                  ttl=cfg.state.lease_seconds)
                if not dry_run:  # a dry run writes nothing, so it may look while another process runs the task
                    lease.acquire()
                try:
                    with progress.task(n):
                        result = engine.run_task(n, since=parse_when(since, source_tz),
                                                 until=parse_when(until, source_tz, end=True))
                finally:
                    if not dry_run:
                        lease.release()
            except TaskBusy as exc:
                summaries.append({"task": n, "status": "busy", "error": str(exc)})
                err(f"error: {exc}")
                exit_code = max(exit_code, ExitCode.ORDERS_FAILED)
                continue
            except ConnectorError as exc:  # fatal, or retriable with its retries spent: the other tasks still run
                fatal = exc
                summaries.append({"task": n, "status": "error", "error": str(exc)})
                err(f"error: task {n}: {exc}")
                continue
            summaries.append(result.as_dict())
            if result.problems:
                exit_code = max(exit_code, ExitCode.ORDERS_FAILED)
    finally:
        engine.close()
        store.close()
    if json_out:
        emit_json(summaries)
    else:
        for s in summaries:
            emit(format_summary(s) if "read" in s else f"{s['task']}: error: {s['error']}")
            for o in s.get("orders") or ():  # a dry run: what each order would come to
                emit(f"  {o['order']}  {o['outcome']}" + (f": {o['detail']}" if o["detail"] else ""))
        if any(s.get("held") or s.get("failed") for s in summaries):
            err("see why with: connex log --outcome held   (or --outcome failed)")
    if fatal is not None:
        raise typer.Exit(int(fatal.exit_code))
    raise typer.Exit(int(exit_code))
