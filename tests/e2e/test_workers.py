"""Task runs as jobs on Dramatiq workers (``connex worker``), over the machine's Redis and RabbitMQ, with the
state on PostgreSQL: duplicate messages, two workers at once and a worker killed mid-run still leave every
ShipStation order in QuickBooks exactly once with its right total (the books are read, not counts).

The services are the ones this project's machines run on 127.0.0.1 (docs/scale.md). Where one is missing,
these tests skip saying what to start, except with ``CI=true``, where a missing service is a failure.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.e2e.helpers import child_env, money, ss_order, task_table
from tests.support.machine_lock import machine_service

REDIS = os.environ.get("CONNEX_TEST_REDIS", "redis://127.0.0.1:6379/0")
RABBIT = os.environ.get("CONNEX_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/")
PG = os.environ.get("CONNEX_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
START = {
    "redis": "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no",
    "rabbitmq": "rabbitmq-server -detached",
    "postgres": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
}


def _need(service: str, port: int) -> None:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        why = f"{service} is not listening on 127.0.0.1:{port}; start it with: {START[service]}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {why}")
        pytest.skip(why)


@pytest.fixture
def pg_schema():
    _need("postgres", 5432)
    import psycopg

    schema = f"connex_w_{uuid.uuid4().hex[:10]}"
    yield schema
    with psycopg.connect(PG, autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _config(box, broker_url: str, queue: str, schema: str):
    name, table = task_table("shipstation-to-quickbooks")
    table["source_options"] = {}  # every order, shipped or not
    path = box.write([(name, table)])
    text = path.read_text()
    head = (f'[state]\nurl = "{PG}"\nschema = "{schema}"\nlease_seconds = 3\n\n'
            f'[broker]\nurl = "{broker_url}"\nqueue = "{queue}"\nheartbeat_seconds = 5\n\n')
    path.write_text(head + text.replace('[state]\npath = "connex.db"\n', ""))
    return path


def _workers(config, n: int, tmp_path, tag: str = "worker") -> list[subprocess.Popen]:
    procs, logs = [], [tmp_path / f"{tag}-{i}.log" for i in range(n)]
    for log in logs:
        procs.append(subprocess.Popen([sys.executable, "-m", "connex_core", "worker", "--config", str(config)],
                                      stdout=subprocess.DEVNULL, stderr=open(log, "w"), env=child_env(),
                                      cwd=tmp_path))
    try:
        for i, log in enumerate(logs):  # ready when it says so on stderr
            deadline = time.monotonic() + 120  # a watchdog: a loaded machine takes long to import and connect
            while "connex worker:" not in log.read_text():
                assert procs[i].poll() is None, log.read_text()
                assert time.monotonic() < deadline, "worker did not start"
                time.sleep(0.05)
    except BaseException:  # none left running after the test
        for proc in procs:
            proc.kill()
            proc.wait()
        raise
    return procs


def _stop(procs) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()


def _seed(box, n: int, prefix: str = "WK") -> dict[str, Decimal]:
    """n ShipStation orders; returns each order number's total. The QuickBooks company does not warn about
    duplicate numbers (a setting a user may turn off): what keeps the books exact here is Connex."""
    box.quickbooks.warn_duplicate_doc_number = False
    ss, totals = box.shipstation, {}
    now = box.clock.utcnow()
    for i in range(n):
        number = f"{prefix}-{i + 1:04d}"
        items = [("MUG-BLU", "Blue mug", 1 + i % 3, "12.50"), ("TEE-RED", "Red tee", 1, f"{10 + i % 7}.00")]
        ss.add_order(ss_order(number, now - timedelta(minutes=30 + i), items=items, shipping="4.00"))
        totals[number] = sum(Decimal(p) * q for _, _, q, p in items) + Decimal("4.00")
    return totals


def _books(box) -> Counter:
    docs = box.quickbooks.entities("Invoice") + box.quickbooks.entities("SalesReceipt")
    return Counter(d["DocNumber"] for d in docs), {d["DocNumber"]: money(d["TotalAmt"]) for d in docs}


def _wait_books(box, want: dict[str, Decimal], procs, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        counts, _ = _books(box)
        if set(counts) >= set(want):
            return
        assert any(p.poll() is None for p in procs), "every worker exited"
        time.sleep(0.2)
    raise AssertionError(f"{len(_books(box)[0])} of {len(want)} orders in the books after {seconds} s")


def _assert_exact(box, want: dict[str, Decimal]) -> None:
    counts, totals = _books(box)
    assert {n: c for n, c in counts.items() if c != 1} == {}, "an order was booked more than once"
    assert set(counts) == set(want), "an order is missing from the books, or one is there that was never sold"
    assert {n: totals[n] for n in want} == want


def _send(config, task: str, times: int) -> None:
    from connex_core.config import load_config
    from connex_core.jobs import Jobs

    cfg = load_config(config)
    jobs = Jobs(cfg.broker.url, queue=cfg.broker.queue)
    try:
        for _ in range(times):
            jobs.send(str(config), task)
    finally:
        jobs.broker.close()


def test_duplicate_messages_on_two_redis_workers_book_every_order_once(live_sandbox, pg_schema, tmp_path):
    _need("redis", 6379)
    want = _seed(live_sandbox, 60)
    config = _config(live_sandbox, REDIS, f"connex-test-{uuid.uuid4().hex[:8]}", pg_schema)
    procs = _workers(config, 2, tmp_path)
    try:
        _send(config, "shipstation-to-quickbooks", 4)  # four messages for one task: a scheduler that repeats itself
        _wait_books(live_sandbox, want, procs)
        time.sleep(0.5)  # nothing more may arrive; the exactness check below is on the books themselves
    finally:
        _stop(procs)
    _assert_exact(live_sandbox, want)


@pytest.fixture
def rabbitmq():
    """The machine's RabbitMQ, not restarted by another test while this one uses it."""
    _need("rabbitmq", 5672)
    with machine_service("rabbitmq"):
        yield RABBIT


def test_a_worker_killed_mid_run_leaves_its_job_to_another_on_rabbitmq(live_sandbox, pg_schema, tmp_path, rabbitmq):
    want = _seed(live_sandbox, 240)
    config = _config(live_sandbox, RABBIT, f"connex-test-{uuid.uuid4().hex[:8]}", pg_schema)
    [first] = _workers(config, 1, tmp_path)
    procs = [first]
    try:
        _send(config, "shipstation-to-quickbooks", 1)
        deadline = time.monotonic() + 60
        while not _books(live_sandbox)[0]:  # the run is under way: some documents are in the books
            assert time.monotonic() < deadline, (tmp_path / "worker-0.log").read_text()
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        partial = sum(_books(live_sandbox)[0].values())
        assert 0 < partial < len(want), "the kill must land mid-run for this test to prove anything"
        # RabbitMQ delivers the unacknowledged message again to the next worker; the dead worker's lease
        # expires (lease_seconds = 3); the ledger reconciles what the first worker left pending.
        procs += _workers(config, 1, tmp_path, tag="second")
        _wait_books(live_sandbox, want, procs[1:])
    finally:
        _stop(procs)
    _assert_exact(live_sandbox, want)
