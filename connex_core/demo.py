"""``connex demo``: the simulated APIs, seeded, and every flow run through the real connectors.

The demo is generic: it starts every registered simulator (plus the extra instances the plugins' demo
parts ask for), seeds each through :meth:`SimulatedService.seed`, writes a config with the flows the
plugins contribute (``register_demo``, assembled by :func:`~connex_core.sandbox.flows.demo_plan`), runs
the flows that create orders and documents, lets the simulated businesses move on
(:meth:`SimulatedService.simulate_activity`), runs the flows that write tracking back, runs everything
once more to show that nothing is posted twice, and reports from the transaction log.
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
from .sandbox.flows import default_rules_dir, demo_plan
from .sandbox.runner import build_sandbox, write_config
from .models import Order
from .state import LogQuery, SQLiteStore

__all__ = ["DemoResult", "cases", "default_rules_dir", "report", "run_demo"]

CASES = ("cancelled", "unpaid", "part paid", "split")


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
    titles: list[str] = field(default_factory=list)
    """The simulated services, as the plugins' demo parts name them."""


def _on_version(plan, part: str, version: str):
    """The plan with one plugin's tasks moved to another API version of its service (its twins replace them)."""
    from dataclasses import replace as _replace

    from .sandbox.flows import DemoPlan

    renames = plan.variant(part, version)
    twins = {t.name: t for t in plan.renamed(renames, version)}
    originals = {t.name for t in plan.tasks if any(t.table[e] in renames for e in ("source", "target"))}
    parts = {name: _replace(p, tasks=tuple(t for t in p.tasks if t.name not in originals)) for name, p in plan.parts.items()}
    parts[part] = _replace(parts[part], tasks=parts[part].tasks + tuple(twins.values()))
    return DemoPlan(parts)


def _listing(names: list[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    if len(names) <= 1:
        return names[0] if names else "no services"
    return ", ".join(names[:-1]) + " and " + names[-1]


def run_demo(manager: PluginManager, folder: Path, *, orders: int = 40, seed: int = 7, speed: float = 600.0,
             say: Callable[[str], None] = lambda s: None, apis: Optional[dict[str, str]] = None,
             then: Optional[Callable[[DemoResult, dict], None]] = None) -> DemoResult:
    """Run the demo. ``apis``: other API versions to run a plugin's flows on, ``{part: version}`` as the plugins
    declare them (``DemoPart.variants``; ``connex demo --api NAME=VERSION``): its tasks are replaced by their
    twins. ``then(result, connector_options)``, when given, is called once the runs are done while the simulated
    APIs still answer (``connex demo --console`` serves the console from there)."""
    start = time.monotonic()
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    rules = default_rules_dir()
    if rules is not None:
        shutil.copytree(rules, folder / "rules")
    clock = SimClock(speed=speed)
    plan = demo_plan(manager)
    for part, version in (apis or {}).items():
        plan = _on_version(plan, part, version)
    server = build_sandbox(manager, clock=clock, seed=seed, extra=plan.mounts)
    result = DemoResult(folder=folder, config=folder / "connex.toml", titles=plan.titles)
    with server:
        for name, service in server.services.items():
            result.seeded[name] = service.seed(orders if name not in plan.mounts else 0)
        say("seeded: " + ", ".join(f"{n} {c}" for n, c in result.seeded.items() if c))
        write_config(server, result.config, tasks=plan.tables(), manager=manager)
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

            run(plan.stage("documents"), result.runs)
            for name, service in server.services.items():
                activity = service.simulate_activity()
                if activity:
                    result.activity[name] = activity
            run(plan.stage("write_back"), result.runs)
            run(plan.order, result.reruns)
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
    w(f"Connex demo: simulated {_listing(result.titles)} on loopback, state in SQLite")
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
    shown = cases(store, _booking_tasks(cfg))
    if shown:
        w("")
        w("The books, case by case (docs/accounting.md)")
        out.extend(f"  {case:<10} {line}" for case, line in shown)
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


def _case(entry, booked: Optional[Order]) -> Optional[str]:
    """Which of :data:`CASES` a log entry shows (``booked``: the order version the ledger booked), if any."""
    text = f"{entry.reason or ''} {entry.message or ''}"
    if entry.outcome == "voided" or (entry.outcome == "skipped" and text.startswith("cancelled in the source")):
        return "cancelled"
    if entry.outcome in ("updated", "duplicate", "held") and text.lstrip().startswith("split off order"):
        return "split"
    if entry.outcome != "created" or booked is None or not booked.total or booked.source == "summary":
        return None
    if not booked.paid:
        return "unpaid"
    return "part paid" if 0 < booked.amount_paid < booked.total else None


def _booking_tasks(cfg) -> set[str]:
    """The tasks that book documents (their target does not upsert orders: accounting, not shipping)."""
    from .plugins import get_manager

    manager, booking = get_manager(), set()
    for name, task in cfg.tasks.items():
        try:
            if not manager.connector(cfg.connections[task.target]["type"]).upserts_orders:
                booking.add(name)
        except (KeyError, ConnexError, AttributeError):
            continue
    return booking


def cases(store, tasks: Optional[set[str]] = None) -> list[tuple[str, str]]:
    """One example from the log of each case of :data:`CASES` (of ``tasks``, default all): what the order was and
    what landed in the books."""
    found: dict[str, str] = {}
    for e in store.query_log(LogQuery()):
        if tasks is not None and e.task not in tasks:
            continue
        entry = store.ledger_get(e.task, [e.source_key]).get(e.source_key) if e.outcome == "created" else None
        booked = Order.model_validate_json(entry.snapshot) if entry is not None and entry.snapshot else None
        case = _case(e, booked)
        if case is None or case in found:
            continue
        target = f" -> {e.target_number or e.target_id}" if (e.target_id or e.target_number) else ""
        if case == "unpaid":
            what = f"{booked.total:.2f} with nothing paid: booked, left open" + (f"; {e.message}" if e.message else "")
        elif case == "part paid":
            what = f"{booked.amount_paid:.2f} of {booked.total:.2f} paid" + (f": {e.message}" if e.message else "")
        else:
            what = f"{e.outcome}: {e.reason or e.message}"
        found[case] = f"{e.task} order {e.order_number}{target}: {what}"
    return [(case, found[case]) for case in CASES if case in found]
