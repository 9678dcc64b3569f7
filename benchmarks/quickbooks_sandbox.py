"""A QuickBooks Online simulator alone on loopback, for benchmarks that post many documents from another process.

    python benchmarks/quickbooks_sandbox.py --speed 10000

The first line of stdout is its client config as JSON (``base_url``, ``client_id``, ``client_secret``,
``refresh_token``, ``token_url``, ``realm_id``, ...), as ``connex sandbox --json`` prints per service; it
serves until SIGTERM or SIGINT.

The simulator keeps only the latest :data:`KEEP` documents of each kind (invoices, sales receipts,
payments). Its look-ups, duplicate checks and new ids scan every stored record, so a company holding
100,000 documents answers each request in tens of milliseconds and a 100,000-order run would take hours.
Recent documents are all a run refers back to (a payment to its invoice, a retried batch to its
duplicates), and the orders of a benchmark are all new, so the client sees the same answers.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from connex_core.sandbox import SandboxServer, SimClock
from connex_quickbooks.sim.simulator import QuickBooksSimulator

#: Documents of each kind the simulator keeps (the oldest are forgotten beyond this).
KEEP = 300
DOCUMENTS = ("Invoice", "SalesReceipt", "Payment")


class RecentQuickBooks(QuickBooksSimulator):
    """A :class:`QuickBooksSimulator` that forgets all but its latest :data:`KEEP` documents of each kind."""

    def _put(self, entity: str, obj: dict[str, Any]) -> dict[str, Any]:
        stored = super()._put(entity, obj)
        if entity in DOCUMENTS:
            kept = self.store[entity]
            while len(kept) > KEEP:
                del kept[next(iter(kept))]  # dicts keep insertion order: the oldest first
        return stored


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    server = SandboxServer({"quickbooks": RecentQuickBooks(clock=SimClock(speed=args.speed), seed=args.seed)})
    server.start()
    print(json.dumps(server.describe()["quickbooks"]), flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
