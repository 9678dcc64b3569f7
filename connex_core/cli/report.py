"""``connex report``: reconciliation per day, in the source's time zone (see :mod:`connex_core.sync.report`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Optional
from zoneinfo import ZoneInfo

import typer

from ..alerts.send import Message, deliver
from ..engine import SyncEngine
from ..errors import ExitCode, UsageError
from ..plugins import get_manager
from ..state.factory import open_store
from ..sync.report import reconcile
from ..sync.run import RunSummary
from .common import ConfigOption, JsonOption, emit, emit_json, err, handle_errors, parse_when
from .config import checked_config
from .resync import task_run


@handle_errors
def report(
    since: Annotated[Optional[str], typer.Option(help="The first day (YYYY-MM-DD, in the source's own time zone; default: yesterday).")] = None,
    until: Annotated[Optional[str], typer.Option(help="The last day, included (YYYY-MM-DD, same time zone; default: --since).")] = None,
    config: ConfigOption = None,
    task: Annotated[Optional[str], typer.Option("--task", "-t", help="Only this task (default: every orders task).")] = None,
    send: Annotated[bool, typer.Option("--send", help="Also send the report where [alerts] sends (e-mail, webhook).")] = False,
    json_out: JsonOption = False,
) -> None:
    """Reconcile each day: orders in the source (count, sum of totals), booked (count, sum), skipped, held,
    failed (by reason), never seen, booked orders whose document is gone from the target, and documents in
    the target the ledger does not know. Reads the source and looks in the target; writes nothing. With
    --send, the report also goes where [alerts] sends (a nightly `connex report --send` mails yesterday's).
    Exit 0 when every day is accounted for, 5 otherwise (6 when --send could not send it)."""
    manager = get_manager()
    cfg = checked_config(config, manager)
    if send and (cfg.alerts is None or not cfg.alerts.enabled):
        raise UsageError("--send needs an [alerts] section with email or webhook_url (docs/config.md)")
    names = [task] if task else [n for n, t in cfg.tasks.items() if t.kind == "orders" and t.enabled]
    for n in names:
        if cfg.task(n).kind != "orders":
            raise UsageError(f"task {n!r} is a {cfg.task(n).kind} task; the report reconciles orders tasks")
    store = open_store(cfg)
    engine = SyncEngine(cfg, manager, store, dry_run=True)
    out, window = [], ""
    try:
        for n in names:
            run = task_run(engine, n, RunSummary(task=n, dry_run=True))
            tz = run.source.timezone
            first = since or (datetime.now(ZoneInfo(tz)).date() - timedelta(days=1)).isoformat()
            start, end = parse_when(first, tz), parse_when(until or first, tz, end=True)
            window = first if not until or until == first else f"{first} .. {until}"
            if end <= start:
                raise UsageError(f"--until {until} is before --since {since}")
            days = reconcile(run, start, end, tz)
            out.append({"task": n, "timezone": tz, "days": [d.as_dict() for d in days],
                        "accounted": all(d.accounted for d in days), "note": run.summary.error})
    finally:
        engine.close()
        store.close()
    lines = []
    for t in out:
        lines.append(f"{t['task']} ({t['timezone']})" + (f"  [{t['note']}]" if t["note"] else ""))
        if not t["days"]:
            lines.append("  no orders in the source")
        lines += [_day_line(d) for d in t["days"]]
    if json_out:
        emit_json(out)
    else:
        for line in lines:
            emit(line)
    if send:
        ok = all(t["accounted"] for t in out)
        subject = f"Connex report {window}: " + ("everything accounted for" if ok else "NOT ACCOUNTED FOR")
        channels = deliver(cfg.alerts, Message(subject, "\n".join(lines), {"report": out, "accounted": ok}))
        err(f"report sent ({', '.join(channels)})")
    if not all(t["accounted"] for t in out):
        raise typer.Exit(int(ExitCode.ORDERS_FAILED))


def _day_line(d: dict) -> str:
    parts = [f"{d['day']}: {d['orders']} orders {d['total']}, booked {d['booked']} {d['booked_total']}"]
    parts += [f"{k} {d[k]}" for k in ("skipped", "ignored", "voided", "held", "undone") if d.get(k)]
    for reason, n in d["failed_by_reason"].items():
        parts.append(f"failed {n} ({reason})")
    if d["not_seen"]:
        parts.append(f"never seen by a run: {', '.join(d['not_seen'])}")
    if d["gone"]:
        parts.append(f"gone from the target: {', '.join(d['gone'])}")
    if d["unknown_in_target"]:
        parts.append(f"in the target, unknown to the ledger: {', '.join(d['unknown_in_target'])}")
    return "  " + ", ".join(parts) + ("  ok" if d["accounted"] else "  NOT ACCOUNTED FOR")
