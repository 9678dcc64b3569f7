"""Target 3, incremental runs: a run with nothing new makes one list call per source, in under a second.

Each flow is synced once, then run again in the same engine (as ``connex serve`` does: connectors,
and what they looked up once, live on), with nothing changed in the source. The source's activity
is spread over days, as a real account's is, so the engine's overlap (60 minutes before the cursor)
re-reads only the last hour's records. The second run's calls are counted per service, with its
wall time.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Callable

from connex_core.sandbox import SimClock

from economy import SS_TO_QB, TRACKING_TO_XERO, XERO_TO_SS
from harness import Bench, api_calls, calls_by_route, seed_shipstation


def _ship_spread(ss, hours: float) -> int:
    """Ship every order that came from an accounting system, the labels spread over the last ``hours``."""
    from connex_shipstation.timezone import format_timestamp

    open_ = [o for o in ss.orders.values() if str(o.get("orderKey") or "").startswith("connex:")
             and o["orderStatus"] in ("awaiting_shipment", "awaiting_payment")]
    now = ss.clock.utcnow()
    for i, order in enumerate(open_):
        at = now - timedelta(hours=hours) * (1 - (i + 1) / (len(open_) + 1))
        ss.ship_order(order["orderId"], "ups", f"1Z{i:016d}", at.date(), 5, at=format_timestamp(at))
    return len(open_)


def run(say: Callable[[str], None], orders: int = 2000) -> dict[str, float]:
    from connex_quickbooks.sim.simulator import QuickBooksSimulator
    from connex_shipstation.sim.simulator import ShipStationSimulator
    from connex_xero.sim.simulator import XeroSimulator

    clock = SimClock(speed=1000.0)
    ss, qb, xero = (ShipStationSimulator(clock=clock, seed=4), QuickBooksSimulator(clock=clock, seed=4),
                    XeroSimulator(clock=clock, seed=4))
    seed_shipstation(ss, orders, customers=max(1, orders // 5), skus=max(1, orders // 20))
    xero.seed_invoices(orders, flagged=1.0, status="AUTHORISED", contacts=max(1, orders // 5))
    figures: dict[str, float] = {}
    services = {"shipstation": ss, "quickbooks": qb, "xero": xero}
    sources = {SS_TO_QB[0]: ss, XERO_TO_SS[0]: xero, TRACKING_TO_XERO[0]: ss}
    with Bench(services, [SS_TO_QB, XERO_TO_SS, TRACKING_TO_XERO], clock) as bench:
        for task, source in sources.items():
            if task == TRACKING_TO_XERO[0]:
                _ship_spread(ss, hours=48)
            first = bench.run(task).as_dict()
            bench.reset_counts()
            started = time.perf_counter()
            d = bench.run(task).as_dict()
            seconds = time.perf_counter() - started
            lists = sum(n for label, n in source.calls.items() if label.startswith("GET ") and "{" not in label)
            routes = {name: dict(calls_by_route(s)) for name, s in services.items() if api_calls(s)}
            say(f"Incremental {task}: first run read {first['read']:,}; then, nothing new: read {d['read']} "
                f"(the overlap), posted {d['created'] + d['updated']}; list calls to the source {lists}; "
                f"all calls {routes}; {seconds:.2f} s  (target: one list call per source, < 1 s)")
            figures[f"{task} list calls"] = lists
            figures[f"{task} seconds"] = seconds
    return figures
