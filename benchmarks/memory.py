"""Target 4, memory: peak memory grows by less than 50 MB from 1,000 to 100,000 orders.

Each size runs in its own process (``python benchmarks/memory.py --child N [--write]``), which reads N
ShipStation orders through the real connector and the engine and reports its peak resident set size
(``VmHWM`` on Linux), in two modes:

* dry run: read, map, rules, ledger checks; nothing is written;
* write path (``--write``): ShipStation -> QuickBooks, every document really posted (look-ups, ``/batch``
  writes, ledger intents and results). The QuickBooks simulator runs in another process
  (``quickbooks_sandbox.py``, started by the measured process, on a clock of the same speed), so the
  documents it stores are not counted, as a remote API's are not.

The simulated ShipStation account generates each page of orders when it is asked for it, so the
simulator, which shares the measured process, holds one page at a time, as a remote API costs the
client nothing for the orders it has not sent yet.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator

HERE = Path(__file__).resolve().parent
MB = 1024 * 1024
#: Simulated seconds per real second, here and in the QuickBooks sandbox: rate-limit waits vanish.
SPEED = 10_000.0


def _big_account(n: int, clock):
    """A ShipStation simulator whose ``GET /orders`` makes its ``n`` orders up page by page."""
    from connex_core.sandbox import Request, Response, json_response, route
    from connex_shipstation.sim.simulator import ShipStationSimulator

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


def child(n: int, write: bool = False) -> None:
    """Run ``n`` orders through the engine in this process (a dry run, or written to a QuickBooks sandbox in
    another process) and print its figures as JSON."""
    sys.path.insert(0, str(HERE))
    from connex_core.sandbox import SimClock

    from economy import SS_TO_QB
    from harness import Bench, RemoteService

    clock = SimClock(speed=SPEED)
    with contextlib.ExitStack() as stack:
        if write:
            target = RemoteService("quickbooks", stack.enter_context(_quickbooks_sandbox()))
        else:
            from connex_quickbooks.sim.simulator import QuickBooksSimulator

            target = QuickBooksSimulator(clock=clock, seed=5)
        bench = stack.enter_context(Bench({"shipstation": _big_account(n, clock), "quickbooks": target}, [SS_TO_QB], clock))
        if not write:
            bench.engine.close()
            bench.engine = bench.new_engine(dry_run=True)
        summary = bench.run(SS_TO_QB[0]).as_dict()
    print(json.dumps({"orders": n, "read": summary["read"], "written": summary.get("created", 0),
                      "would_create": summary.get("would_create", 0), "failed": summary.get("failed", 0),
                      "peak_bytes": _peak_rss(), "seconds": summary["seconds"]}))


@contextlib.contextmanager
def _quickbooks_sandbox() -> Iterator[dict]:
    """``quickbooks_sandbox.py`` in another process on the same clock speed; yields its client config."""
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen([sys.executable, str(HERE / "quickbooks_sandbox.py"), "--speed", str(SPEED)],
                                   stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            first = process.stdout.readline()
            if not first:
                process.wait(timeout=10)
                errors.seek(0)
                raise RuntimeError(f"the QuickBooks sandbox did not start: {errors.read()[-2000:]}")
            yield json.loads(first)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()


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


def measure(n: int, write: bool = False) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(n)] + (["--write"] if write else [])
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(say: Callable[[str], None], small: int = 1_000, large: int = 100_000) -> dict[str, float]:
    figures = {}
    for write in (False, True):
        a, b = measure(small, write), measure(large, write)
        for r in (a, b):
            done = (f"written to QuickBooks ({r['written']:,} documents posted, {r['failed']:,} failed)" if write
                    else f"read, mapped and ruled (dry run; {r['would_create']:,} would be created)")
            say(f"Memory: {r['orders']:,} orders {done} in {r['seconds']:.1f} s: peak RSS {r['peak_bytes'] / MB:.1f} MB")
        growth = (b["peak_bytes"] - a["peak_bytes"]) / MB
        mode = "write path" if write else "dry run"
        say(f"  {mode}: peak growth {small:,} -> {large:,} orders: {growth:.1f} MB  (target < 50 MB)")
        figures[f"{mode} growth MB"] = growth
    return figures


if __name__ == "__main__" and len(sys.argv) >= 3 and sys.argv[1] == "--child":
    child(int(sys.argv[2]), write="--write" in sys.argv[3:])
