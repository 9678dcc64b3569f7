"""What the console's pages show, read from the config and the state store (no HTML here)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict
from datetime import datetime, time, timedelta, timezone
from typing import Any, Optional

from ..state.history import COUNTS, run_row
from ..state import LogEntry, LogQuery

PAGE_SIZE = 50
#: Outcomes drawn in the runs chart, with their colours (also used as CSS classes).
CHART_OUTCOMES = {"created": "#2e7d32", "updated": "#1565c0", "skipped": "#9e9e9e", "held": "#ef6c00",
                  "failed": "#c62828"}
_SECRET_WORDS = ("secret", "token", "password", "key", "credential")


def connections(config, manager=None) -> list[dict[str, Any]]:
    """Each connection with its type and settings; secrets (the connector's ``SecretStr`` fields, or a name that
    says secret/token/password/key) shown only as "set" / "not set", never their value."""
    out = []
    for name, raw in config.connections.items():
        ctype = raw.get("type", "?")
        model_fields: dict[str, Any] = {}
        if manager is not None:
            try:
                model_fields = dict(manager.connector(ctype).settings_model.model_fields)
            except Exception:  # an unknown type: config check says so; show what is written
                model_fields = {}
        secret_names = {k for k, f in model_fields.items()
                        if "SecretStr" in str(f.annotation) or any(w in k.lower() for w in _SECRET_WORDS)}
        keys = [k for k in raw if k != "type"] + sorted(secret_names - set(raw))
        fields = []
        for key in keys:
            value = raw.get(key)
            secret = key in secret_names or any(w in key.lower() for w in _SECRET_WORDS)
            shown = ("set" if value not in (None, "") else "not set") if secret else str(value)
            fields.append({"name": key, "value": shown, "secret": secret})
        out.append({"name": name, "type": ctype, "fields": fields})
    return out


def last_good(config, store, look_back: int = 20) -> dict[str, dict[str, Any]]:
    """Each connection's last successful call, as the state store knows it (no API is called to find out): the
    newest run that finished without an error (its API calls answered) of a task reading from or writing to it,
    among each task's last ``look_back`` runs: ``{"at", "task", "run"}``."""
    out: dict[str, dict[str, Any]] = {}
    for name, task in config.tasks.items():
        good = next((r for r in store.runs(name, limit=look_back) if r["status"] == "ok" and r["finished_at"]), None)
        if good is None:
            continue
        for connection in (task.source, task.target):
            if connection not in out or str(good["finished_at"]) > out[connection]["at"]:
                out[connection] = {"at": str(good["finished_at"]), "task": name, "run": good["id"]}
    return out


def tasks(config, store, next_due: Optional[dict[str, float]] = None) -> list[dict[str, Any]]:
    """Each task: kind, source -> target, schedule, its last run (counts, errors) and its next run."""
    now = datetime.now(timezone.utc)
    out = []
    for name, task in config.tasks.items():
        last = store.runs(name, limit=1)
        due = (next_due or {}).get(name)
        out.append({"name": name, "kind": task.kind, "source": task.source, "target": task.target,
                    "enabled": task.enabled, "every": task.every_minutes, "rules": list(task.rules),
                    "last": run_row(last[0]) if last else None,
                    "next": (now + timedelta(seconds=max(0.0, due))).isoformat(timespec="seconds") if due is not None
                    else None})
    return out


def _day(value: Optional[str], end: bool = False) -> Optional[datetime]:
    if not value:
        return None
    try:
        d = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
    return datetime.combine(d + timedelta(days=1) if end else d, time(), tzinfo=timezone.utc)


def log_page(store, *, task: str = "", outcome: str = "", order: str = "", since: str = "", until: str = "",
             before: Optional[int] = None, size: int = PAGE_SIZE) -> dict[str, Any]:
    """One page of the log, newest first, paged on the line id (keyset: as fast on page 500 as on page 1)."""
    query = LogQuery(task=task or None, outcome=outcome or None, order_number=order.strip() or None,
                     since=_day(since), until=_day(until, end=True), before_id=before, newest_first=True,
                     limit=size + 1)
    rows = store.query_log(query)
    more = len(rows) > size
    rows = rows[:size]
    return {"rows": [line(e) for e in rows], "next": rows[-1].id if more and rows else None}


def line(e: LogEntry) -> dict[str, Any]:
    d = asdict(e)
    d["changes"] = [dict(c, before=_text(c.get("before")), after=_text(c.get("after")),
                         who=who(c.get("rule"), c.get("line"))) for c in e.changes]
    d["rule_file"] = e.rule_file.replace("\\", "/").rsplit("/", 1)[-1] if e.rule_file else None
    d["who"] = who(e.rule, e.line)
    return d


def who(rule: Optional[str], line_no: Optional[int]) -> str:
    """``NAME, line N``; a one-line rule is named after its place (``file.rules:N``), said once."""
    if not rule:
        return ""
    if line_no is None or rule.endswith(f":{line_no}"):
        return rule
    return f"{rule}, line {line_no}"


def _text(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value) or "(empty)"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def order_history(config, store, number: str, task: str = "") -> dict[str, Any]:
    """Every log line of one order number (oldest first) and its ledger entries (state, target document)."""
    seen = [line(e) for e in store.query_log(LogQuery(order_number=number, task=task or None))]
    ledger = []
    for name in config.tasks:
        keys = {s["source_key"] for s in seen if s["task"] == name}
        for entry in store.ledger_get(name, keys).values():
            ledger.append({"task": name, "state": entry.state, "target_id": entry.target_id,
                           "target_number": entry.target_number, "attempts": entry.attempts,
                           "last_error": entry.last_error, "updated": entry.updated_at})
    return {"number": number, "seen": seen, "ledger": ledger}


def review_queue(config, store) -> list[dict[str, Any]]:
    """Held and failed orders (the ledger's retry queue) with the reason of their last log line."""
    out = []
    for name in config.tasks:
        entries = [e for e in store.ledger_retry_queue(name) if e.state in ("held", "failed")]
        for e in entries:
            number = None
            if e.snapshot:
                try:
                    number = json.loads(e.snapshot).get("number")
                except ValueError:
                    number = None
            reason = e.last_error
            rule = line_no = None
            if number:
                hist = store.query_log(LogQuery(task=name, order_number=number, newest_first=True, limit=1))
                if hist:
                    last = hist[0]
                    reason = last.reason or last.message or reason
                    rule, line_no = last.rule, last.line
            out.append({"task": name, "key": e.source_key, "number": number or e.source_key, "state": e.state,
                        "reason": reason, "rule": rule, "line": line_no, "attempts": e.attempts,
                        "updated": e.updated_at})
    return out


def runs_history(store, limit: int = 50) -> list[dict[str, Any]]:
    return [run_row(r) for r in store.runs(None, limit=limit)]


def per_day(store, days: int = 14) -> list[dict[str, Any]]:
    """Orders per day by outcome over the last ``days`` days (UTC), from the log: an order seen by several runs
    of a day counts once per outcome."""
    today = datetime.now(timezone.utc).date()
    first = today - timedelta(days=days - 1)
    table: dict[str, dict[str, int]] = defaultdict(dict)
    for day, outcome, n in store.log_per_day(first.isoformat()):
        if outcome in CHART_OUTCOMES:
            table[day][outcome] = n
    return [{"day": (first + timedelta(days=i)).isoformat(),
             "counts": table.get((first + timedelta(days=i)).isoformat(), {})} for i in range(days)]


def chart_svg(rows: list[dict[str, Any]], width: int = 900, height: int = 220) -> str:
    """A stacked bar chart of ``per_day`` as inline SVG (no script), with a title per bar for screen readers."""
    pad_left, pad_bottom, pad_top = 36, 28, 8
    top = max([sum(r["counts"].values()) for r in rows] + [1])
    bar_w = (width - pad_left) / max(len(rows), 1)
    parts = [f'<svg viewBox="0 0 {width} {height}" class="chart" role="img" '
             f'aria-label="Orders per day by outcome">',
             f'<text x="2" y="{pad_top + 10}" class="axis">{top}</text>',
             f'<text x="2" y="{height - pad_bottom}" class="axis">0</text>']
    usable = height - pad_bottom - pad_top
    for i, r in enumerate(rows):
        x = pad_left + i * bar_w
        y = height - pad_bottom
        for outcome, colour in CHART_OUTCOMES.items():
            n = r["counts"].get(outcome, 0)
            if not n:
                continue
            h = usable * n / top
            y -= h
            parts.append(f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{bar_w - 4:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{r["day"]}: {n} {outcome}</title></rect>')
        if (len(rows) - 1 - i) % max(1, len(rows) // 7) == 0:  # today always labelled
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - 8}" class="axis" '
                         f'text-anchor="middle">{r["day"][5:]}</text>')
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["COUNTS", "CHART_OUTCOMES", "PAGE_SIZE", "chart_svg", "connections", "line", "log_page",
           "order_history", "per_day", "review_queue", "runs_history", "tasks"]
