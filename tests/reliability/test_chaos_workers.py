"""The chaos harness with workers, at a small size: every flow as jobs on ``connex worker`` processes (Dramatiq on
Redis, and on RabbitMQ), the state on PostgreSQL; workers SIGKILLed while they hold a task's lease and right
after a state write, the broker restarted, the workers' PostgreSQL connections terminated, the runs cut into
slices of 2 orders (so the disruptions land on slice ends too); then the books.

Needs PostgreSQL, Redis (``redis-server`` on the PATH: the harness runs one of its own, to restart it) and
RabbitMQ on 127.0.0.1; skipped saying what to start where one is missing, failed instead when ``CI=true``.
The larger run is ``scripts/chaos.py --workers N`` (docs/reliability.md).
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest

from connex_core.plugins import PluginManager

from tests.support.machine_lock import machine_service

from .checks import check, open_state
from .test_chaos import _connex_invoice
from .workers import WorkerChaos, WorkerOptions

START = {
    "postgres": ("pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", 5432),
    "rabbitmq": ("rabbitmq-server -detached", 5672),
}


def _need(service: str) -> None:
    if service == "redis":
        ok, why = shutil.which("redis-server") is not None, "redis-server is not on the PATH; apt-get install redis-server"
    else:
        start, port = START[service]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            ok, why = True, ""
        except OSError:
            ok, why = False, f"{service} is not listening on 127.0.0.1:{port}; start it with: {start}"
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {why}")
        pytest.skip(why)


@pytest.fixture(scope="module", params=["redis", "rabbitmq"])
def chaos(request, tmp_path_factory):
    _need("postgres")
    _need(request.param)
    options = WorkerOptions(broker=request.param, orders=6, workers=2, threads=2, worker_kills=2, worker_state_kills=1,
                            broker_restarts=1, pg_drops=1, seed=11, fault_rate=0.03, state_kill_range=(3, 30),
                            disrupt_phases=1, round_seconds=20.0, slice_orders=2)
    harness = WorkerChaos(PluginManager().load(), tmp_path_factory.mktemp(f"workers-{request.param}") / "run", options)
    with machine_service(request.param):  # it restarts the broker: no other test may be using it meanwhile
        report = harness.run()
    yield harness, report
    harness.cleanup()


def test_every_order_once_none_lost_books_right(chaos):
    harness, report = chaos
    assert report.checked.duplicates == []
    assert report.checked.lost == []
    assert report.checked.mismatches == []
    assert report.checked.wrong == []
    assert report.checked.once > 0 and report.checked.booked > 0 and report.checked.paid > 0


def test_the_disruptions_happened(chaos):
    """Workers died mid-run (holding a lease, or right after a state write), the broker went away and came back,
    PostgreSQL connections were terminated, and the workers' runs still reached every flow."""
    _, report = chaos
    assert report.worker_kills >= 2, "busy workers SIGKILLed"
    assert report.worker_state_kills >= 1, "a worker killed itself right after a state write"
    assert report.broker_restarts >= 1 and report.pg_drops >= 1
    assert report.pg_connections_dropped >= 1, "the drop must hit the workers' connections"
    assert report.job_runs["ok"] > 0
    assert report.job_runs["stopped"] > 0, "runs were cut into slices (slice_orders = 2)"
    flows = {"shipstation-to-quickbooks", "daily-summary", "quickbooks-to-shipstation", "tracking-to-quickbooks",
             "xero-to-shipstation", "tracking-to-xero", "shipstation-to-xero"}
    assert {f for f, n in report.checked.orders.items() if n} == flows
    assert report.faults["error (5xx, 429)"] > 0


def test_the_checks_fail_on_broken_books(chaos):
    """Each check can fail on this run's end state: a second copy of a document (duplicate, and a document no
    ledger entry names), a ledger entry deleted from PostgreSQL (lost), a payment deleted (wrong books)."""
    harness, _ = chaos
    qb = harness.services["quickbooks"]
    assert check(harness.config, harness.services, harness.baseline).duplicates == []
    doc = next(d for d in qb.entities("Invoice") if "[connex shipstation:" in (d.get("PrivateNote") or ""))
    qb.store["Invoice"]["999999"] = dict(doc, Id="999999")
    try:
        found = check(harness.config, harness.services, harness.baseline)
    finally:
        del qb.store["Invoice"]["999999"]
    assert any(f"'Invoice-{doc['Id']}', 'Invoice-999999'" in d for d in found.duplicates), found.duplicates
    assert any("Invoice-999999 was created but no ledger entry names it" in m for m in found.mismatches)

    _, [payment] = _connex_invoice(harness, paid=True)
    qb.store["Payment"].pop(payment["Id"])
    try:
        found = check(harness.config, harness.services, harness.baseline)
    finally:
        qb.store["Payment"][payment["Id"]] = payment
    assert any("payments []" in w for w in found.wrong), found.wrong

    from connex_core.config import load_config

    db = open_state(load_config(harness.config))
    try:
        row = db.execute("SELECT * FROM ledger WHERE task = 'quickbooks-to-shipstation' LIMIT 1").fetchone()
        db.execute("DELETE FROM ledger WHERE task = 'quickbooks-to-shipstation' AND source_key = %s",
                   (row["source_key"],))
        found = check(harness.config, harness.services, harness.baseline)
    finally:
        cols = list(row)
        db.execute(f"INSERT INTO ledger ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
                   [row[c] for c in cols])
        db.close()
    assert found.lost == [f"quickbooks-to-shipstation: {row['source_key']} never recorded"]
    assert check(harness.config, harness.services, harness.baseline).lost == []
