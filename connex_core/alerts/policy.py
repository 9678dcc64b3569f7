"""When to alert, and how often: after each run of a task (:func:`after_run`, called by the sync engine).

A run that stopped with an error, failed orders or held orders makes an alert; so does a task that reads
orders when it has read none for ``quiet_days`` (said once per quiet spell). At most one message per task
per ``min_interval_minutes``: what happens meanwhile is kept and gathered into the next message (the next
run after the interval sends it, even a run with nothing new to say).

What the alerts remember per task (when the last message went, what waits to be sent, when the task last
read orders) is kept in the state store beside the task's cursor, under ``alert:TASK``: every process that
runs the task (``connex run``, ``connex serve``, workers) shares it.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any, Optional

from ..state import LogQuery, StateStore
from .send import AlertNotSent, Message, deliver
from .settings import AlertsConfig

log = logging.getLogger("connex.alerts")

#: At most this many orders are named in one message (the rest are counted).
MAX_ORDERS = 20


def state_key(task: str) -> str:
    return f"alert:{task}"


def _load(store: StateStore, task: str) -> dict[str, Any]:
    raw = store.get_cursor(state_key(task))
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {}


def _events(store: StateStore, summary: dict[str, Any]) -> list[str]:
    """What of this run needs a person: its error, its failed and held orders (named, with the reason)."""
    run = f"run #{summary.get('run_id')}"
    events = []
    if summary.get("status") == "error":
        events.append(f"{run} stopped: {summary.get('error')}")
    failed, held = int(summary.get("failed") or 0), int(summary.get("held") or 0)
    if failed or held:
        counts = ", ".join(f"{n} {what}" for n, what in ((failed, "failed"), (held, "held")) if n)
        events.append(f"{run}: {counts}")
        lines = [e for e in store.query_log(LogQuery(run_id=summary.get("run_id"))) if e.outcome in ("failed", "held")]
        for e in lines[:MAX_ORDERS]:
            events.append(f"  {e.order_number or e.source_key}  {e.outcome}: {e.reason or e.message or ''}".rstrip())
        if len(lines) > MAX_ORDERS:
            events.append(f"  ... and {len(lines) - MAX_ORDERS} more (connex held)")
    return events


def _quiet(alerts: AlertsConfig, state: dict[str, Any], summary: dict[str, Any], now: datetime) -> Optional[str]:
    """The task read orders (remember when), or has read none for ``quiet_days`` (say so once per spell)."""
    if summary.get("status") == "ok" and int(summary.get("read") or 0) > 0:
        state["last_read"] = now.isoformat()
        state.pop("quiet_told", None)
        return None
    state.setdefault("last_read", now.isoformat())  # the quiet clock starts with the first run seen
    if alerts.quiet_days is None or state.get("quiet_told") == state["last_read"]:
        return None
    since = datetime.fromisoformat(state["last_read"])
    if now - since < timedelta(days=alerts.quiet_days):
        return None
    state["quiet_told"] = state["last_read"]
    return (f"no orders read since {since.isoformat(timespec='minutes')} ({(now - since).days} days; quiet_days = "
            f"{alerts.quiet_days:g}): is the source connected, and is the task's filter right?")


def after_run(alerts: Optional[AlertsConfig], store: StateStore, summary: dict[str, Any], now: datetime) -> list[str]:
    """Record what this run of a task needs to tell, and send what is due; the channels that took a message.
    Never raises: an alert that cannot be sent is logged and kept for the next run."""
    if alerts is None or not alerts.enabled:
        return []
    task = summary["task"]
    state = _load(store, task)
    pending: list[str] = list(state.get("pending") or [])
    pending += _events(store, summary)
    if (quiet := _quiet(alerts, state, summary, now)) is not None:
        pending.append(quiet)
    sent: list[str] = []
    last = state.get("last_sent")
    due = last is None or now - datetime.fromisoformat(last) >= timedelta(minutes=alerts.min_interval_minutes)
    if pending and due:
        message = Message(subject=f"Connex: task {task} needs a look", text="\n".join(
            [f"Task {task} ({now.isoformat(timespec='minutes')}):", *pending, "",
             f"See: connex held -t {task}   connex log --task {task} --outcome failed   connex runs -t {task}"]),
            data={"task": task, "events": pending, "time": now.isoformat()})
        try:
            sent = deliver(alerts, message)
            state["last_sent"], pending = now.isoformat(), []
        except AlertNotSent as exc:
            log.warning("%s (kept for the next run)", exc)
    state["pending"] = pending[-200:]
    store.set_cursor(state_key(task), json.dumps(state))
    return sent
