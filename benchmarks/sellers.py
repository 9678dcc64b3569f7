"""Many sellers on many workers (issue 20): S simulated sellers x N orders each, on 1, 2 and 4 ``connex worker``s.

Each seller is a tenant (``connex tenants add``) with its own simulated ShipStation and QuickBooks accounts
(``connex sandbox --accounts``: its own credentials, data and rate limits) and its own PostgreSQL schema. One
:class:`~connex_core.scheduler.TenantScheduler` tick sends every seller's ShipStation -> QuickBooks run to the
Redis broker, and W worker processes (``python -m connex_core worker``, one thread each) run them. The
simulators run in this process on a real-time clock, so their real limits apply (ShipStation 40 calls a minute
per key; QuickBooks 500 a minute, 10 a second and 40 ``/batch`` calls a minute per company).

Printed, per worker count, from one run each:

* aggregate orders per second (documents in the books / real seconds from the first message to the last
  seller's run finished) and its ratio to the sum of the per-seller rate-limit bounds (each seller's
  documents / the time its own limits allow for the calls it made, counted as ``throughput.py`` does);
* CPU milliseconds per order on the write path: the workers' user + system CPU (``/proc``) / documents, and
  the simulators' (this process) beside it;
* fairness: the slowest seller's finish time / the median seller's (a seller is finished when a run of it ends other
  than on its slice's share: docs/scale.md, "Fair share"), and how many runs (slices) the sellers took;
* the throughput of 2 and 4 workers / 1 worker.

Needs PostgreSQL and Redis on 127.0.0.1 (as the integration tests); without them it says what to start.
"""

from __future__ import annotations

import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

from connex_core.sandbox import SimClock
from connex_core.sandbox.runner import AccountView, build_sandbox, write_config

from economy import SS_TO_QB
from harness import api_calls, manager, seed_shipstation
from throughput import _allowed

PG = os.environ.get("CONNEX_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("CONNEX_TEST_REDIS", "redis://127.0.0.1:6379/0")
#: The workers share each seller's API limits here: a seller's slices run on whichever worker is free, so a
#: limiter of each worker's own would not see the calls the others made for the same credential (a 429 follows).
LIMITS = os.environ.get("CONNEX_BENCH_REDIS_LIMITS", "redis://127.0.0.1:6379/14")
ROOT = Path(__file__).resolve().parents[1]


def missing_services() -> list[str]:
    """The services this benchmark needs that are not listening (empty when it can run)."""
    out = []
    for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError:
            out.append(f"{name} on 127.0.0.1:{port}")
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _limits_allow(ss, qb) -> float:
    """Seconds one seller's own limits allow for the calls its run made (the binding limit's)."""
    ss_calls, qb_calls = api_calls(ss), api_calls(qb)
    batches = sum(n for label, n in qb.calls.items() if label.startswith("POST /v3/") and "batch" in label)
    return max(_allowed(ss_calls, 40, 60.0), _allowed(qb_calls, 500, 60.0), _allowed(qb_calls, 10, 1.0),
               _allowed(batches, 40, 60.0))


def _tenant_config(view, folder: Path, schema: str, registry: str, queue: str,
                   slice_orders: Optional[int] = None) -> Path:
    path = write_config(view, folder / "connex.toml", tasks=[(SS_TO_QB[0], {**SS_TO_QB[1], "every_minutes": 600})])
    share = "" if slice_orders is None else f"slice_orders = {slice_orders}\n"
    if slice_orders == 0:
        share += "slice_seconds = 0\n"  # not sliced: one message is one seller's whole run
    head = (f'[state]\nurl = "{PG}"\nschema = "{schema}"\nregistry_schema = "{registry}"\n\n'
            f'[broker]\nurl = "{REDIS}"\nqueue = "{queue}"\n{share}\n[limits]\nredis_url = "{LIMITS}"\n\n')
    path.write_text(head + path.read_text().replace('[state]\npath = "connex.db"\n', ""))
    return path


def _start_workers(config: Path, n: int, folder: Path, threads: int = 1) -> list[subprocess.Popen]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    logs = [folder / f"worker-{i}.log" for i in range(n)]
    procs = [subprocess.Popen([sys.executable, "-m", "connex_core", "worker", "--config", str(config),
                               "--threads", str(threads)],
                              stdout=subprocess.DEVNULL, stderr=open(log, "w"), env=env, cwd=folder) for log in logs]
    deadline = time.monotonic() + 120
    for proc, log in zip(procs, logs):
        while "connex worker:" not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"a worker did not start: {log.read_text()[-500:]}")
            time.sleep(0.05)
    return procs


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def one_round(say: Callable[[str], None], sellers: int, orders: int, workers: int, timeout: float,
              slice_orders: Optional[int] = None, threads: int = 1) -> dict:
    import psycopg

    from connex_core.config import load_config
    from connex_core.jobs import Jobs
    from connex_core.scheduler import TenantScheduler
    from connex_core.state.postgres import PostgresStore
    from connex_core.tenants import Registry

    tag = uuid.uuid4().hex[:8]
    schemas = [f"bench_{tag}_s{n}" for n in range(1, sellers + 1)]
    registry_schema, queue = f"bench_{tag}_tenants", f"connex-bench-{tag}"
    clock = SimClock(speed=1.0)
    server = build_sandbox(manager(), clock=clock, seed=11, accounts=max(2, sellers))
    views = [AccountView(server, n) for n in range(1, sellers + 1)]
    for n, view in enumerate(views, start=1):
        seed_shipstation(view.services["shipstation"], orders, customers=max(1, orders // 5),
                         skus=max(1, orders // 20), seed=n)
    tmp = tempfile.TemporaryDirectory(prefix="connex-sellers-")
    folder = Path(tmp.name)
    registry = Registry(PG, registry_schema)
    db = psycopg.connect(PG, autocommit=True)
    procs: list[subprocess.Popen] = []
    try:
        server.start()
        configs = []
        for n, (view, schema) in enumerate(zip(views, schemas), start=1):
            configs.append(_tenant_config(view, folder / f"seller-{n}", schema, registry_schema, queue, slice_orders))
            registry.add(f"seller-{n}", configs[-1])
            PostgresStore(PG, schema=schema).close()  # migrated before the clock starts
        procs = _start_workers(configs[0], workers, folder, threads)
        cpu_before = {p.pid: _cpu_seconds(p.pid) for p in procs}
        own_before = time.process_time()
        jobs = Jobs(REDIS, queue=queue)
        scheduler = TenantScheduler(load_config(configs[0]), jobs=jobs, registry=registry)
        started = time.monotonic()
        scheduler.step()  # one message per seller, a different seller first each tick
        finished: dict[int, float] = {}
        # A seller is done when a run of it ended other than on its share (a slice's end is status "stopped")
        count = " UNION ALL ".join(f"SELECT {i} AS seller, count(*) AS n FROM \"{s}\".runs WHERE finished_at "
                                   f"IS NOT NULL AND status <> 'stopped'" for i, s in enumerate(schemas))
        slices = " UNION ALL ".join(f"SELECT count(*) AS n FROM \"{s}\".runs" for s in schemas)
        while len(finished) < sellers:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"{len(finished)} of {sellers} sellers finished after {timeout:.0f} s")
            if all(p.poll() is not None for p in procs):
                raise RuntimeError("every worker exited")
            now = time.monotonic() - started
            for seller, n in db.execute(count).fetchall():
                if n and seller not in finished:
                    finished[seller] = now
            time.sleep(0.1)
        took = max(finished.values())
        runs = sum(n for (n,) in db.execute(slices).fetchall())
        cpu = sum(_cpu_seconds(p.pid) - cpu_before[p.pid] for p in procs)
        own_cpu = time.process_time() - own_before
        jobs.broker.close()
    finally:
        _stop(procs)
        server.stop()
        registry.close()
        for schema in schemas + [registry_schema]:
            db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        db.close()
        tmp.cleanup()
    docs = [sum(len(v.services["quickbooks"].store[e]) for e in ("Invoice", "SalesReceipt")) for v in views]
    bounds = [_limits_allow(v.services["shipstation"], v.services["quickbooks"]) for v in views]
    total = sum(docs)
    bound_rate = sum(d / b for d, b in zip(docs, bounds)) if all(bounds) else math.inf
    rate = total / took
    times = sorted(finished.values())
    spread = times[-1] / statistics.median(times)
    if math.isinf(bound_rate):
        versus = "the limits do not bind (every seller's calls fit in their first window)"
    else:
        versus = f"limits' bound {bound_rate:.0f} orders/s, ratio {rate / bound_rate:.3f}"
    say(f"  {workers} worker(s): {total:,} documents in {took:.1f} s = {rate:.1f} orders/s; {versus} "
        f"(target >= 0.9 at 4 workers while the cores allow)")
    say(f"    CPU per order: workers {1000 * cpu / max(1, total):.1f} ms, simulators {1000 * own_cpu / max(1, total):.1f} ms; "
        f"fairness: slowest seller {times[-1]:.1f} s / median {statistics.median(times):.1f} s = {spread:.2f}; "
        f"finished first {times[0]:.1f} s; {runs} runs for {sellers} sellers (slices)")
    return {"rate": rate, "bound": bound_rate, "cpu_ms": 1000 * cpu / max(1, total), "spread": spread,
            "documents": total}


def run(say: Callable[[str], None], sellers: int = 100, orders: int = 500, workers: tuple[int, ...] = (1, 2, 4),
        timeout: float = 3600.0, slice_orders: Optional[int] = None, threads: int = 1) -> dict[str, float]:
    """``slice_orders``: the workers' ``[broker] slice_orders`` (None: the default; 0: runs not sliced);
    ``threads``: each worker's ``--threads`` (jobs at once in one process: a job waiting on its seller's rate
    limits leaves the CPU to the others)."""
    missing = missing_services()
    if missing:
        say(f"Sellers: skipped: needs {' and '.join(missing)} (start them as docs/scale.md says)")
        return {}
    load = os.getloadavg()
    say(f"Sellers: {sellers} sellers x {orders} orders, ShipStation -> QuickBooks, on {', '.join(map(str, workers))} "
        f"worker(s) of {threads} thread(s), slices of {'the default' if slice_orders is None else slice_orders or 'no'} "
        f"orders; "
        f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start")
    results = {w: one_round(say, sellers, orders, w, timeout, slice_orders, threads) for w in workers}
    base = results[workers[0]]["rate"]
    ratios = ", ".join(f"{w} / {workers[0]} = {results[w]['rate'] / base:.2f}" for w in workers[1:])
    say(f"  throughput ratio: {ratios}  (on {os.cpu_count()} cores; load average "
        f"{os.getloadavg()[0]:.2f} at the end)")
    return {f"rate {w}": r["rate"] for w, r in results.items()}


if __name__ == "__main__":  # another size: python benchmarks/sellers.py --sellers 100 --orders 50 --workers 1 2 4
    import argparse

    parser = argparse.ArgumentParser(description="many sellers on 1, 2 and 4 workers (see benchmarks/README.md)")
    parser.add_argument("--sellers", type=int, default=100)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--slice-orders", type=int, default=None, help="[broker] slice_orders (0: runs not sliced)")
    parser.add_argument("--threads", type=int, default=1, help="each worker's --threads (default 1)")
    args = parser.parse_args()
    run(lambda line: print(line, flush=True), sellers=args.sellers, orders=args.orders, workers=tuple(args.workers),
        slice_orders=args.slice_orders, threads=args.threads)
