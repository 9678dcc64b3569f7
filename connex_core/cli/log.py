"""``connex log``: the transaction log, filtered."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from ..state import OUTCOMES, LogQuery
from ..state.factory import open_store
from .common import ConfigOption, JsonOption, config_from, emit, emit_json, handle_errors, parse_when


def describe(e) -> str:
    target = f" -> {e.target_number or e.target_id}" if (e.target_id or e.target_number) else ""
    why = ""
    if e.reason:
        where = f" (rule {e.rule!r}, line {e.line})" if e.rule else ""
        why = f": {e.reason}{where}"
    elif e.message:
        why = f": {e.message}"
    fired = f"  [rules: {', '.join(e.fired)}]" if e.fired else ""
    return f"{e.time[:19]}  {e.task}  {e.order_number or e.source_key}  {e.outcome}{target}{why}{fired}"


@handle_errors
def log_command(
    config: ConfigOption = None,
    task: Annotated[Optional[str], typer.Option(help="Only this task.")] = None,
    outcome: Annotated[Optional[str], typer.Option(help=f"Only this outcome: {', '.join(OUTCOMES)}.")] = None,
    order: Annotated[Optional[str], typer.Option("--order", help="Only this order number (as the source gave it).")] = None,
    since: Annotated[Optional[str], typer.Option(help="Entries logged on or after this date (YYYY-MM-DD, UTC) or datetime.")] = None,
    until: Annotated[Optional[str], typer.Option(help="Entries logged up to the end of this date (YYYY-MM-DD, UTC) or datetime.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="At most this many entries (the newest).")] = None,
    changes: Annotated[bool, typer.Option("--changes", help="Show each field the rules changed.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Show what happened to each order: created (with the target document), duplicate, skipped or held
    (with the reason, the rule and its line), failed (with the error)."""
    if outcome and outcome not in OUTCOMES:
        raise UsageError(f"unknown outcome {outcome!r}; expected one of: {', '.join(OUTCOMES)}")
    cfg = config_from(config)
    store = open_store(cfg)
    try:
        entries = store.query_log(LogQuery(task=task, outcome=outcome, order_number=order,
                                           since=parse_when(since, "UTC"), until=parse_when(until, "UTC", end=True),
                                           limit=limit, newest_first=bool(limit)))
    finally:
        store.close()
    if limit:
        entries.reverse()
    if json_out:
        emit_json([asdict(e) for e in entries])
        return
    if not entries:
        emit("no entries")
        return
    for e in entries:
        emit(describe(e))
        if changes:
            for c in e.changes:
                emit(f"      {c['field']}: {c['before']!r} -> {c['after']!r}  (rule {c['rule']!r}, line {c['line']})")
