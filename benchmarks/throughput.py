"""Target 2, rate-limit-bound throughput: the simulators enforce the real limits on a sped-up clock.

ShipStation -> QuickBooks with ShipStation's 40 calls a minute and QuickBooks' 500 a minute, 10 a
second and 40 ``/batch`` requests a minute, all on one :class:`SimClock` shared by simulators and
connectors. The time the limits allow is, per limit, the start of the window in which the last
call can fall: ``(ceil(calls / limit) - 1) * window``; the binding limit is the largest. The run's
simulated duration includes Connex's own processing (real seconds times the clock's speed), so the
speed is kept low enough for the limits to dominate.
"""

from __future__ import annotations

import math
from typing import Callable

from connex_core.sandbox import SimClock

from economy import SS_TO_QB
from harness import Bench, api_calls, seed_shipstation


def _allowed(calls: int, limit: int, window: float) -> float:
    return max(0, math.ceil(calls / limit) - 1) * window


def run(say: Callable[[str], None], orders: int = 1000, speed: float = 8.0) -> dict[str, float]:
    from connex_quickbooks.sim.simulator import QuickBooksSimulator
    from connex_shipstation.sim.simulator import ShipStationSimulator

    clock = SimClock(speed=speed)
    ss, qb = ShipStationSimulator(clock=clock, seed=3), QuickBooksSimulator(clock=clock, seed=3)
    seed_shipstation(ss, orders, customers=max(1, orders // 5), skus=max(1, orders // 20))
    with Bench({"shipstation": ss, "quickbooks": qb}, [SS_TO_QB], clock) as bench:
        start = clock.now()
        summary = bench.run(SS_TO_QB[0])
        took = clock.now() - start
    d = summary.as_dict()
    ss_calls, qb_calls = api_calls(ss), api_calls(qb)
    qb_batches = sum(n for label, n in qb.calls.items() if label.startswith("POST /v3/"))
    limits = {
        "ShipStation 40/min": _allowed(ss_calls, 40, 60.0),
        "QuickBooks 500/min": _allowed(qb_calls, 500, 60.0),
        "QuickBooks 10/s": _allowed(qb_calls, 10, 1.0),
        "QuickBooks 40 batches/min": _allowed(qb_batches, 40, 60.0),
    }
    binding = max(limits, key=limits.get)
    allowed = limits[binding]
    refused = ss.calls["429"] + qb.calls["429"]
    total = ss_calls + qb_calls + refused
    ratio = took / allowed if allowed else float("nan")
    say(f"Throughput, ShipStation -> QuickBooks, {orders:,} orders at clock speed {speed:g}: created {d['created']:,}, "
        f"failed {d['failed']:,}; calls ShipStation {ss_calls}, QuickBooks {qb_calls} ({qb_batches} batches)")
    say(f"  limits allow {allowed:.0f} s (binding: {binding}); the run took {took:.0f} simulated s "
        f"({took / speed:.1f} real s)")
    say(f"  wall time / allowed = {ratio:.3f}  (target <= 1.15)")
    say(f"  429 answers: {refused} of {total} calls = {refused / total:.2%}  (target <= 1%; ShipStation "
        f"{ss.calls['429']}, QuickBooks {qb.calls['429']})")
    return {"time ratio": ratio, "429 share": refused / total}
