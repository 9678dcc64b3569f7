"""Target 4, memory: peak memory grows by less than 50 MB from 1,000 to 100,000 orders.

Each size runs in its own process (``python benchmarks/memory.py --child N``), which reads N
ShipStation orders through the real connector and the engine (rules, ledger checks; a dry run, so
nothing is written and no target holds the documents) and reports its peak resident set size
(``VmHWM`` on Linux). The simulated account generates each page of orders when it is asked for
it, so the simulator, which shares the process, holds one page at a time, as a remote API costs the
client nothing for the orders it has not sent yet.
"""

from __future__ import annotations

import copy
import json
import math
import resource
import subprocess
import sys
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
MB = 1024 * 1024


def _big_account(n: int, clock):
    """A ShipStation simulator whose ``GET /orders`` makes its ``n`` orders up page by page."""
    from connex_core.sandbox import Request, Response, json_response, route
    from connex_shipstation.simulator import ShipStationSimulator

    class BigAccount(ShipStationSimulator):
        def __init__(self) -> None:
            super().__init__(clock=clock, seed=5, rate_limit=10**9)
            self.templates = [o for o in self.seed_orders(40) if o["orderStatus"] == "awaiting_shipment"]
            self.orders.clear()

        @route("GET", "/orders")
        def list_orders(self, request: Request) -> Response:
            size = min(500, int(request.arg("pageSize") or 100))
            page = max(1, int(request.arg("page") or 1))
            orders = []
            for i in range((page - 1) * size, min(n, page * size)):
                order = copy.deepcopy(self.templates[i % len(self.templates)])
                order.update(orderId=200_000_000 + i, orderNumber=str(500_000 + i), orderKey=f"big-{i}")
                orders.append(order)
            return json_response({"orders": orders, "total": n, "page": page, "pages": math.ceil(n / size)})

    return BigAccount()


def child(n: int) -> None:
    """Run the dry run of ``n`` orders in this process and print its figures as JSON."""
    sys.path.insert(0, str(HERE))
    from connex_core.sandbox import SimClock
    from connex_quickbooks.simulator import QuickBooksSimulator

    from economy import SS_TO_QB
    from harness import Bench

    clock = SimClock(speed=10_000.0)
    services = {"shipstation": _big_account(n, clock), "quickbooks": QuickBooksSimulator(clock=clock, seed=5)}
    with Bench(services, [SS_TO_QB], clock) as bench:
        bench.engine.close()
        bench.engine = bench.new_engine(dry_run=True)
        summary = bench.run(SS_TO_QB[0]).as_dict()
    print(json.dumps({"orders": n, "read": summary["read"], "would_create": summary.get("would_create", 0),
                      "peak_bytes": _peak_rss(), "seconds": summary["seconds"]}))


def _peak_rss() -> int:
    """This process's peak resident set size, in bytes.

    Linux's ``VmHWM`` (of this program, from its exec); ``ru_maxrss`` elsewhere, which on Linux
    would also count the parent's size at the fork, before the exec.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, kilobytes elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def measure(n: int) -> dict:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(n)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(say: Callable[[str], None], small: int = 1_000, large: int = 100_000) -> dict[str, float]:
    a, b = measure(small), measure(large)
    for r in (a, b):
        say(f"Memory: {r['orders']:,} orders read, mapped and ruled (dry run; {r['would_create']:,} would be "
            f"created) in {r['seconds']:.1f} s: peak RSS {r['peak_bytes'] / MB:.1f} MB")
    growth = (b["peak_bytes"] - a["peak_bytes"]) / MB
    say(f"  peak growth {small:,} -> {large:,} orders: {growth:.1f} MB  (target < 50 MB)")
    return {"growth MB": growth}


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--child":
    child(int(sys.argv[2]))
