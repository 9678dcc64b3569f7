"""The rules page: a task's rule files, checked as they are typed, tried on saved orders, saved when clean.

* Checking uses the rule engine's own checker (:func:`connex_core.rules.check_text`, what ``connex rules
  check`` runs), so the browser shows exactly the diagnostics of the command line, at their line and column.
* "Try it" applies the edited text (not yet saved) to the last orders the task read in this process (kept in
  memory by :class:`RecentOrders`, a ``before_rules`` hook that sees each order as the rules do) and to the orders
  the ledger keeps a copy of (held, failed or pending: their snapshot is kept for the retry). Writes nothing.
* Saving refuses a text with an error; the previous version is kept as ``FILE.bak``.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import Any

from ..hookspecs import hookimpl
from ..models import Order
from ..rules import RuleSet, check_text
from ..rules.diagnostics import sort_key


class RuleFileError(LookupError):
    pass


def rule_files(config, task: str) -> list[Path]:
    """The task's rule files (a folder stands for its ``*.rules`` files)."""
    out: list[Path] = []
    for raw in config.task(task).rules:
        path = Path(config.resolve(raw))
        out.extend(sorted(path.rglob("*.rules")) if path.is_dir() else [path])
    return out


def rule_file(config, task: str, index: int) -> Path:
    files = rule_files(config, task)
    if not 0 <= index < len(files):
        raise RuleFileError(f"task {task!r} has no rule file number {index}")
    return files[index]


def check(text: str, name: str, manager: Any = None) -> dict[str, Any]:
    """Diagnostics of one file's text: ``{"ok", "errors", "warnings", "diagnostics": [...], "lines": [...]}``.

    ``lines`` is the text line by line with the diagnostics of each line attached (for the marked view)."""
    _, diags = check_text({name: text}, manager)
    diags = sorted(diags, key=sort_key)
    by_line: dict[int, list] = {}
    for d in diags:
        by_line.setdefault(d.line, []).append(d)
    source = text.splitlines() or [""]
    lines = [{"no": i, "text": t, "diags": [_diag(d) for d in by_line.get(i, [])]}
             for i, t in enumerate(source, start=1)]
    beyond = [_diag(d) for n, ds in by_line.items() if n > len(source) for d in ds]
    if beyond:
        lines[-1]["diags"].extend(beyond)
    errors = sum(1 for d in diags if d.is_error)
    return {"ok": errors == 0, "errors": errors, "warnings": len(diags) - errors,
            "diagnostics": [_diag(d) for d in diags], "lines": lines}


def _diag(d) -> dict[str, Any]:
    return {"line": d.line, "column": d.col, "severity": d.severity, "message": d.message, "code": d.code,
            "rule": d.rule, "length": max(1, d.length)}


class RecentOrders:
    """The last ``keep`` orders each task read, as the rules saw them (registered as a plugin by the console)."""

    def __init__(self, keep: int = 50):
        self.keep = keep
        self._orders: dict[str, OrderedDict] = defaultdict(OrderedDict)
        self._lock = threading.Lock()

    @hookimpl(trylast=True)  # after every other plugin's adjustment: what the rules are given
    def before_rules(self, order: Order, task: str) -> None:
        with self._lock:
            recent = self._orders[task]
            recent.pop(order.key, None)
            recent[order.key] = order
            while len(recent) > self.keep:
                recent.popitem(last=False)
        return None

    def of(self, task: str) -> list[Order]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._orders.get(task, {}).values()))


def saved_orders(store, task: str, limit: int = 20, recent: Any = None) -> list[Order]:
    """The last orders ``task`` read (``recent``), then those whose copy the ledger keeps (held, failed or
    pending), newest first, each once."""
    out = list(recent.of(task)[:limit]) if recent is not None else []
    keys = {o.key for o in out}
    for entry in reversed(list(store.ledger_retry_queue(task))):
        if len(out) >= limit:
            break
        if entry.source_key in keys:
            continue
        if entry.snapshot:
            try:
                out.append(Order.model_validate_json(entry.snapshot))
            except ValueError:
                continue
    return out


def try_rules(text: str, name: str, orders: list[Order], manager: Any = None) -> dict[str, Any]:
    """Apply the (unsaved) text to ``orders``; each order's outcome and field-by-field changes."""
    rules, diags = check_text({name: text}, manager)
    if any(d.is_error for d in diags):
        return {"ok": False, "orders": []}
    ruleset = RuleSet(rules, [name], {name: text}, [d for d in diags if not d.is_error])
    results = []
    for order in orders:
        r = ruleset.apply(order)
        results.append({"number": order.number, "outcome": r.outcome, "reason": r.reason, "rule": r.rule,
                        "line": r.line, "fired": list(r.fired),
                        "changes": [{"field": c.field, "before": _show(c.before), "after": _show(c.after),
                                     "rule": c.rule, "line": c.line} for c in r.changes]})
    return {"ok": True, "orders": results}


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, (list, tuple)):
        return ", ".join(_show(v) for v in value) or "(empty)"
    return str(getattr(value, "value", value))


def save(path: Path, text: str, manager: Any = None) -> dict[str, Any]:
    """Write ``text`` to ``path`` if it checks clean, keeping the previous version as ``path.bak``."""
    result = check(text, str(path), manager)
    if not result["ok"]:
        return dict(result, saved=False)
    if path.exists():
        backup = path.with_name(path.name + ".bak")
        backup.write_bytes(path.read_bytes())
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return dict(result, saved=True)


__all__ = ["RecentOrders", "RuleFileError", "check", "rule_file", "rule_files", "save", "saved_orders", "try_rules"]
