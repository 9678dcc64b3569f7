"""Target 6, webhook latency: a ShipStation order, its ORDER_NOTIFY webhook, and the QuickBooks document posted.

``connex_core.serve.Server`` runs the ShipStation -> QuickBooks task with ShipStation webhooks
subscribed (``/webhooks/shipstation/<secret>``). For each of N new orders, one at a time, the
simulated ShipStation imports the order and POSTs its notification (``deliver_webhooks``); the
latency is the real time from the delivery to the moment the simulated QuickBooks holds the
document with that order's number. The median and the worst are printed.

The clock runs at real speed, so the real limits apply: QuickBooks allows 10 calls a second and 40
``/batch`` calls a minute, and one order takes four (look-up, customer and item, document, duplicate
check), so the default of 8 orders stays within a minute's batches; more orders measure the throttle.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import Callable

from connex_core.sandbox import SimClock
from connex_core.serve import Server
from connex_core.tokens import write_private

from economy import SS_TO_QB
from harness import Bench, manager

SECRET = "bench-webhook-secret"


def _posted(qb, number: str) -> bool:
    return any(doc.get("DocNumber") == number for doc in qb.entities("Invoice"))


def _answer_times(url: str, n: int) -> list[float]:
    """Seconds from sending each of ``n`` signed ShipStation notifications to the answer (the sender's wait)."""
    import json

    import requests

    session = requests.Session()
    times = []
    for i in range(n):
        body = json.dumps({"resource_url": "https://ssapi.shipstation.com/orders?importBatch=" + str(i),
                           "resource_type": "ORDER_NOTIFY"})
        started = time.perf_counter()
        answer = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.status_code
    session.close()
    return times


def run(say: Callable[[str], None], orders: int = 8, timeout: float = 20.0, answers: int = 300) -> dict[str, float]:
    from connex_quickbooks.sim.simulator import QuickBooksSimulator
    from connex_shipstation.client import ShipStationClient
    from connex_shipstation.sim.simulator import ShipStationSimulator

    clock = SimClock(speed=1.0)
    ss, qb = ShipStationSimulator(clock=clock, seed=6), QuickBooksSimulator(clock=clock, seed=6)
    task = (SS_TO_QB[0], dict(SS_TO_QB[1], every_minutes=24 * 60))
    latencies: list[float] = []
    with Bench({"shipstation": ss, "quickbooks": qb}, [task], clock) as bench:
        secret_file = bench.folder / "connex.secrets" / "shipstation.webhook_secret"  # a secret: by reference
        write_private(secret_file, SECRET.encode())
        bench.config.connections["shipstation"]["webhook_secret"] = {"file": str(secret_file)}
        server = Server(bench.config, manager(), port=0, tick=0.01, connector_options={"clock": clock}).start()
        try:
            deadline = time.monotonic() + timeout
            while not server.runs and time.monotonic() < deadline:  # the scheduled first run (nothing to read yet)
                time.sleep(0.01)
            client = ShipStationClient(ss.api_key, ss.api_secret, base_url=ss.base_url, clock=clock)
            client.subscribe_webhook(f"{server.url}/webhooks/shipstation/{SECRET}", "ORDER_NOTIFY")
            client.close()
            for i in range(orders):
                generated = ss.generator.order(300_000 + 2 * i, clock.utcnow() - timedelta(minutes=1))[0]
                payload = dict(generated.payload, orderStatus="awaiting_shipment", amountPaid=0)
                number = ss.add_order(payload)["orderNumber"]
                started = time.perf_counter()
                ss.deliver_webhooks()
                while not _posted(qb, number) and time.perf_counter() - started < timeout:
                    time.sleep(0.002)
                latencies.append(time.perf_counter() - started)
            # The answer itself: verified, kept in the inbox, answered; the reading and the run come after.
            answer = sorted(_answer_times(f"{server.url}/webhooks/shipstation/{SECRET}", answers))
        finally:
            server.stop()
    p50, p99 = answer[len(answer) // 2], answer[min(len(answer) - 1, int(len(answer) * 0.99))]
    say(f"Webhook answer time, {answers} signed deliveries one after another: p50 {p50 * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms  (target: p99 < 100 ms; Intuit wants 200 within 3 s)")
    median, worst = statistics.median(latencies), max(latencies)
    say(f"Webhook latency, ShipStation ORDER_NOTIFY -> QuickBooks invoice posted, {orders} orders one at a time: "
        f"median {median * 1000:.0f} ms, worst {worst * 1000:.0f} ms  (target: median < 2 s)")
    return {"median seconds": median, "worst seconds": worst, "answer p50 seconds": p50, "answer p99 seconds": p99}
