"""``connex demo``: the simulated APIs, seeded, and every flow run through the real connectors.

The demo is generic: it starts every registered simulator (plus a second QuickBooks company for the
daily summaries), seeds each through :meth:`SimulatedService.seed`, writes a config with the standard
flows whose connectors are installed, runs the flows that create orders, lets the simulated warehouse
ship (:meth:`SimulatedService.simulate_activity`), runs the flows that write tracking back, runs
everything once more to show that nothing is posted twice, and reports from the transaction log.
"""

from __future__ import annotations

import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .config import load_config
from .engine import RunSummary, SyncEngine
from .errors import ConnexError
from .plugins import PluginManager
from .sandbox import SimClock
from .sandbox.runner import build_sandbox, write_config
from .state import LogQuery, SQLiteStore

#: Order of the flows: those that create orders first, then tracking write-back.
FIRST = ["shipstation-to-quickbooks", "daily-summary", "quickbooks-to-shipstation", "xero-to-shipstation",
         "shipstation-to-xero"]
AFTER_SHIPPING = ["tracking-to-quickbooks", "tracking-to-xero"]


@dataclass
class DemoResult:
    folder: Path
    config: Path
    runs: list[RunSummary] = field(default_factory=list)
    reruns: list[RunSummary] = field(default_factory=list)
    seeded: dict[str, int] = field(default_factory=dict)
    activity: dict[str, dict[str, int]] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def default_rules_dir() -> Optional[Path]:
    """The default rule files: packaged with connex_core, or the checkout's rules/ folder."""
    try:
        from importlib.resources import files

        packaged = Path(str(files("connex_core.default_rules")))
        if packaged.is_dir():
            return packaged
    except (ModuleNotFoundError, TypeError):
        pass
    here = Path(__file__).resolve().parents[1] / "rules"
    return here if here.is_dir() else None


def run_demo(manager: PluginManager, folder: Path, *, orders: int = 40, seed: int = 7, speed: float = 600.0,
             say: Callable[[str], None] = lambda s: None,
             then: Optional[Callable[[DemoResult, dict], None]] = None) -> DemoResult:
    """Run the demo. ``then(result, connector_options)``, when given, is called once the runs are done while
    the simulated APIs still answer (``connex demo --console`` serves the console from there)."""
    start = time.monotonic()
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    rules = default_rules_dir()
    if rules is not None:
        shutil.copytree(rules, folder / "rules")
    clock = SimClock(speed=speed)
    server = build_sandbox(manager, clock=clock, seed=seed, extra={"quickbooks-summary": "quickbooks"})
    result = DemoResult(folder=folder, config=folder / "connex.toml")
    with server:
        for name, service in server.services.items():
            result.seeded[name] = service.seed(orders if name != "quickbooks-summary" else 0)
        say("seeded: " + ", ".join(f"{n} {c}" for n, c in result.seeded.items() if c))
        write_config(server, result.config)
        cfg = load_config(result.config)
        store = SQLiteStore(cfg.state_path)
        engine = SyncEngine(cfg, manager, store, connector_options={"clock": clock})
        try:
            def run(names: list[str], into: list[RunSummary]) -> None:
                for name in names:
                    if name not in cfg.tasks:
                        continue
                    try:
                        summary = engine.run_task(name)
                    except ConnexError as exc:
                        summary = RunSummary(task=name, status="error", error=str(exc))
                    into.append(summary)
                    say(f"  {name}: {summary.as_dict()['created']} created")

            run(FIRST, result.runs)
            for name, service in server.services.items():
                activity = service.simulate_activity()
                if activity:
                    result.activity[name] = activity
            run(AFTER_SHIPPING, result.runs)
            run(FIRST + AFTER_SHIPPING, result.reruns)
        finally:
            engine.close()
            store.close()
        result.api_calls = {name: s.total_calls for name, s in server.services.items()}
        if then is not None:
            then(result, {"clock": clock})
    result.seconds = time.monotonic() - start
    return result


def report(result: DemoResult, *, diffs: int = 4, tail: int = 12) -> str:
    """The demo's readable report, from the run summaries and the transaction log."""
    cfg = load_config(result.config)
    store = SQLiteStore(cfg.state_path)
    out: list[str] = []
    w = out.append
    w("Connex demo: simulated ShipStation, QuickBooks Online and Xero on loopback, state in SQLite")
    w("")
    w("Seeded: " + ", ".join(f"{n}: {c}" for n, c in result.seeded.items() if c))
    for name, act in result.activity.items():
        w(f"Then the simulated {name} moved on: " + ", ".join(f"{v} {k}" for k, v in act.items()))
    w("")
    w("Flows")
    for s in result.runs:
        d = s.as_dict()
        counts = ", ".join(f"{d[k]} {k.replace('_', ' ')}" for k in
                           ("created", "updated", "duplicate", "already_synced", "skipped", "held", "failed") if d.get(k))
        w(f"  {s.task:<28} read {d['read']:>3}: {counts or 'nothing to do'}" + (f"  [{s.error}]" if s.error else ""))
    why: Counter = Counter()
    example: dict[tuple, str] = {}
    for e in store.query_log(LogQuery()):
        if e.outcome in ("skipped", "held", "duplicate", "failed"):
            where = f" (rule {e.rule!r}, {Path(e.rule_file).name if e.rule_file else 'rules'} line {e.line})" if e.rule else ""
            text = (e.reason or e.message or "") + where
            key = (e.task, e.outcome, re.sub(r"\([^)]*\d[^)]*\)|\b[\w:-]*\d[\w:-]*\b", "#", text))
            why[key] += 1
            example.setdefault(key, f"{text} (e.g. order {e.order_number})" if why[key] == 1 else text)
    if why:
        w("")
        w("Skipped, held, duplicates and failures, and why")
        for key, n in sorted(why.items()):
            w(f"  {key[0]:<28} {n:>3} {key[1]}: {example[key]}")
    changed = [e for e in store.query_log(LogQuery()) if e.changes][:diffs]
    if changed:
        w("")
        w("What the rules changed (before -> after)")
        for e in changed:
            w(f"  order {e.order_number} ({e.task}):")
            for c in e.changes:
                w(f"    {c['field']}: {c['before']!r} -> {c['after']!r}   rule {c['rule']!r}, line {c['line']}")
    w("")
    rerun = sum(s.counts.get("created", 0) + s.counts.get("updated", 0) for s in result.reruns)
    already = sum(s.counts.get("already_synced", 0) for s in result.reruns)
    w(f"Second run of every flow: {rerun} posted (nothing twice); {already} recognised as already synced.")
    w("API calls: " + ", ".join(f"{n} {c}" for n, c in result.api_calls.items()))
    w("")
    w(f"Transaction log (last {tail})")
    for e in store.query_log(LogQuery(limit=tail, newest_first=True))[::-1]:
        target = f" -> {e.target_number or e.target_id}" if (e.target_id or e.target_number) else ""
        w(f"  {e.task:<28} {e.order_number or e.source_key:<14} {e.outcome}{target}")
    w("")
    w(f"State: {cfg.state_path}")
    w(f"Look around: connex log --config {result.config} --outcome skipped")
    w(f"Done in {result.seconds:.1f} s.")
    store.close()
    return "\n".join(out)
