#!/usr/bin/env python3
"""The chaos harness as a long run: every flow through the simulated APIs under injected faults
(5xx, HTML 502 pages, 429s with each API's headers, timeouts, dropped connections, writes whose
answer is lost, access tokens expiring) and SIGKILLs of the sync process, rerun until done.

    .venv/bin/python scripts/chaos.py --orders 300 --kills 10 --seed 7

The simulators' own uniqueness checks are off (QuickBooks' duplicate-number warning, Xero's unique
invoice number), so a duplicate is Connex's; some runs have two sync processes at once.

    .venv/bin/python scripts/chaos.py --orders 300 --serve --serve-kills 3   # connex serve and webhooks too
    .venv/bin/python scripts/chaos.py --orders 60 --workers 3 --broker rabbitmq  # jobs on connex worker

``--serve``: ``connex serve`` beside the runs, the services sending it webhooks, SIGKILLed and restarted.
``--workers N``: the tasks as jobs on N ``connex worker`` processes (Dramatiq; state on the PostgreSQL at
``CONNEX_TEST_POSTGRES``, default postgresql://postgres@127.0.0.1:5432/test), SIGKILLed mid-run, the broker
restarted (``redis``: a redis-server of its own; ``rabbitmq``: the machine's, ``rabbitmqctl stop_app`` and
``start_app``), the workers' PostgreSQL connections terminated (tests/reliability/workers.py).

Prints the figures: runs, faults injected by kind, orders, duplicates (must be 0), lost (must be 0),
wrong books (totals, lines, balances, one payment per paid invoice; must be 0).
Exit status 1 when any duplicate, lost order, ledger mismatch or wrong book is found. The same harness runs at
a small size in ``tests/reliability/test_chaos.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, for tests.reliability

from connex_core.plugins import PluginManager  # noqa: E402
from tests.reliability.harness import Chaos, ChaosOptions  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=300, help="records seeded in each simulated service")
    parser.add_argument("--kills", type=int, default=8, help="runs SIGKILLed at a random time, per phase (two phases)")
    parser.add_argument("--state-kills", type=int, default=4,
                        help="runs killed right after a random write to the state database, per phase")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-rate", type=float, default=0.03, help="probability per request of each fault kind")
    parser.add_argument("--speed", type=float, default=100.0, help="simulated seconds per real second")
    parser.add_argument("--pairs", type=int, default=2, help="runs per phase with two sync processes at once")
    parser.add_argument("--serve", action="store_true",
                        help="run connex serve beside the runs, the services sending it webhooks, SIGKILLed and restarted")
    parser.add_argument("--serve-kills", type=int, default=3, help="with --serve: serve SIGKILLs per phase")
    parser.add_argument("--lockouts", type=int, default=0,
                        help="per phase, QuickBooks refuses the stored tokens once (answered by connex connect)")
    parser.add_argument("--workers", type=int, default=0,
                        help="run the tasks as jobs on this many connex worker processes (state on PostgreSQL, "
                             "--broker), SIGKILLed mid-batch, with broker restarts and PostgreSQL drops")
    parser.add_argument("--broker", choices=("redis", "rabbitmq"), default="redis",
                        help="with --workers: Dramatiq's broker (redis: a redis-server of its own; rabbitmq: the "
                             "machine's, restarted with rabbitmqctl stop_app/start_app)")
    parser.add_argument("--worker-kills", type=int, default=3, help="with --workers: busy workers SIGKILLed per phase")
    parser.add_argument("--broker-restarts", type=int, default=2, help="with --workers: broker restarts per phase")
    parser.add_argument("--pg-drops", type=int, default=2, help="with --workers: PostgreSQL connection drops per phase")
    parser.add_argument("--slice-orders", type=int, default=None,
                        help="with --workers: the workers' [broker] slice_orders (default: the config's default)")
    parser.add_argument("--guards-on", action="store_true",
                        help="leave the simulators' uniqueness checks on (QuickBooks 6140, Xero's unique number)")
    parser.add_argument("--upsert-off", action="store_true",
                        help="also turn ShipStation's orderKey upsert off (Connex's updates then count as new orders)")
    parser.add_argument("--folder", type=Path, help="where the config and state go (default: a temporary folder)")
    parser.add_argument("--quiet", action="store_true", help="print only the figures")
    args = parser.parse_args()
    common = dict(orders=args.orders, seed=args.seed, fault_rate=args.fault_rate, speed=args.speed,
                  guards_off=not args.guards_on, upsert_off=args.upsert_off,
                  say=(lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr)))
    if args.workers:
        return _workers(args, common)
    opts = ChaosOptions(orders=args.orders, kills=args.kills, state_kills=args.state_kills, seed=args.seed,
                        fault_rate=args.fault_rate, speed=args.speed, pairs=args.pairs,
                        guards_off=not args.guards_on, upsert_off=args.upsert_off,
                        serve=args.serve, serve_kills=args.serve_kills, lockouts=args.lockouts,
                        say=(lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr)))
    with tempfile.TemporaryDirectory(prefix="connex-chaos-") as tmp:
        folder = args.folder or Path(tmp) / "chaos"
        report = Chaos(PluginManager().load(), folder, opts).run()
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def _workers(args, common: dict) -> int:
    from tests.reliability.workers import WorkerChaos, WorkerOptions

    opts = WorkerOptions(**common, broker=args.broker, workers=args.workers, worker_kills=args.worker_kills,
                         worker_state_kills=args.state_kills, broker_restarts=args.broker_restarts,
                         pg_drops=args.pg_drops, slice_orders=args.slice_orders)
    with tempfile.TemporaryDirectory(prefix="connex-chaos-") as tmp:
        harness = WorkerChaos(PluginManager().load(), args.folder or Path(tmp) / "chaos", opts)
        try:
            report = harness.run()
        finally:
            if args.folder:  # kept to look at: the folder and the PostgreSQL schema
                print(f"kept: {args.folder}, PostgreSQL schema {harness.schema}", file=sys.stderr)
            else:
                harness.cleanup()
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
