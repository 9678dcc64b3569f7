"""Fair share on workers (docs/scale.md, "Fair share"): one ``connex worker`` of one thread, seller A's big backlog
sent before seller B's few orders. With slices (``[broker] slice_orders``) A's run yields the worker, B's run
finishes while A's backlog is still being booked, and both sellers' books end up holding every order exactly once
(the simulators' documents are read, by number and total); without slices B waits for the whole of A (the
control, proving the fairness check can fail). A worker SIGKILLed between slices loses and doubles nothing.

The order of events is read from each seller's recorded runs (their start and end, and what each booked), never
from a pause. Needs PostgreSQL and Redis on 127.0.0.1 (skips saying what to start; fails with ``CI=true``).
"""

from __future__ import annotations

import signal
import time
import uuid

import pytest

from tests.e2e.test_tenants import second_account  # noqa: F401 (a fixture: seller B's own simulated accounts)
from tests.e2e.test_workers import (PG, REDIS, _assert_exact, _config, _need, _seed, _send, _stop, _wait_books,
                                    _workers, pg_schema)  # noqa: F401 (pg_schema: a fixture)

TASK = "shipstation-to-quickbooks"
BACKLOG, FEW = 80, 5
#: Orders a slice books. Few enough slices that QuickBooks' 40 batch calls a minute do not bind (when they do,
#: the slice yields on the wait and its continuation comes back a minute later: right, but slow for a test).
SHARE = 20


@pytest.fixture
def schemas():
    _need("postgres", 5432)
    _need("redis", 6379)
    import psycopg

    made = {k: f"connex_fair_{k}_{uuid.uuid4().hex[:8]}" for k in ("a", "b")}
    yield made
    with psycopg.connect(PG, autocommit=True) as db:
        for schema in made.values():
            db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _sliced(path, slice_orders: int, slice_seconds: float = 0):
    """A seller's config with the worker's share set in its ``[broker]`` section."""
    text = path.read_text()
    head = "heartbeat_seconds = 5\n"
    assert head in text
    path.write_text(text.replace(head, head + f"slice_orders = {slice_orders}\nslice_seconds = {slice_seconds}\n", 1))
    return path


def _runs(config) -> list[dict]:
    """A seller's finished runs, oldest first."""
    from connex_core.config import load_config
    from connex_core.state.factory import open_store

    store = open_store(load_config(config))
    try:
        return [r for r in reversed(store.runs(TASK, limit=1000)) if r["finished_at"] is not None]
    finally:
        store.close()


def _two_sellers(live_sandbox, second_account, schemas, slice_orders: int):  # noqa: F811
    queue = f"connex-fair-{uuid.uuid4().hex[:8]}"
    a = _sliced(_config(live_sandbox, REDIS, queue, schemas["a"]), slice_orders)
    b = _sliced(_config(second_account, REDIS, queue, schemas["b"]), slice_orders)
    want_a = _seed(live_sandbox, BACKLOG, prefix="SELLA")
    want_b = _seed(second_account, FEW, prefix="SELLB")
    _send(a, TASK, 1)  # A first: with one worker thread and turn-taking only, B waits for all of A
    _send(b, TASK, 1)
    return a, b, want_a, want_b


def _booked_by_a_when_b_finished(a, b) -> int:
    """How many of A's orders A's runs had booked when B's run ended (A's runs that ended before it)."""
    [b_run] = [r for r in _runs(b) if r["summary"]["created"]]
    assert b_run["summary"]["created"] == FEW
    return sum(r["summary"]["created"] for r in _runs(a) if r["finished_at"] <= b_run["finished_at"])


def test_a_small_seller_finishes_while_a_big_backlog_is_still_being_booked(live_sandbox, second_account, schemas,
                                                                           tmp_path):  # noqa: F811
    a, b, want_a, want_b = _two_sellers(live_sandbox, second_account, schemas, slice_orders=SHARE)
    procs = _workers(a, 1, tmp_path)  # the worker's own [broker] section sets the share
    try:
        _wait_books(live_sandbox, want_a, procs)
        _wait_books(second_account, want_b, procs)
        deadline = time.monotonic() + 120
        while not _runs(a) or _runs(a)[-1]["status"] != "ok":  # A's last slice: it read its window to the end
            assert procs[0].poll() is None and time.monotonic() < deadline, _runs(a)
            time.sleep(0.1)
    finally:
        _stop(procs)
    booked = _booked_by_a_when_b_finished(a, b)
    assert 0 < booked < BACKLOG, f"B's run ended with {booked} of A's {BACKLOG} orders booked"
    runs_a = _runs(a)
    assert len(runs_a) >= 2 and all(r["status"] == "stopped" and r["summary"]["yielded"] is not None
                                    for r in runs_a[:-1]), runs_a  # each slice but the last yielded the worker
    _assert_exact(live_sandbox, want_a)  # every order once, with its total, in each seller's own books
    _assert_exact(second_account, want_b)


def test_without_slices_the_small_seller_waits_for_the_whole_backlog(live_sandbox, second_account, schemas,
                                                                     tmp_path):  # noqa: F811
    a, b, want_a, want_b = _two_sellers(live_sandbox, second_account, schemas, slice_orders=0)
    procs = _workers(a, 1, tmp_path)
    try:
        _wait_books(live_sandbox, want_a, procs)
        _wait_books(second_account, want_b, procs)
    finally:
        _stop(procs)
    assert _booked_by_a_when_b_finished(a, b) == BACKLOG  # the check above fails here: turn-taking only
    assert [r["status"] for r in _runs(a)] == ["ok"]
    _assert_exact(live_sandbox, want_a)
    _assert_exact(second_account, want_b)


def test_a_worker_killed_between_slices_loses_and_doubles_nothing(live_sandbox, pg_schema, tmp_path):
    _need("redis", 6379)
    want = _seed(live_sandbox, BACKLOG, prefix="KILL")
    config = _sliced(_config(live_sandbox, REDIS, f"connex-fair-{uuid.uuid4().hex[:8]}", pg_schema), SHARE)
    [first] = _workers(config, 1, tmp_path)
    procs = [first]
    try:
        _send(config, TASK, 1)
        deadline = time.monotonic() + 120
        while not _runs(config):  # the first slice has ended: its continuation is queued or under way
            assert first.poll() is None and time.monotonic() < deadline, (tmp_path / "worker-0.log").read_text()
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        done = sum(r["summary"]["created"] for r in _runs(config))
        assert 0 < done < BACKLOG, "the kill must land between the first slice and the end"
        # Redis gives the dead worker's unacknowledged messages to the next worker after heartbeat_seconds;
        # its lease expires after lease_seconds; the ledger says what the slices before booked.
        procs += _workers(config, 1, tmp_path, tag="second")
        _wait_books(live_sandbox, want, procs[1:])
        newest = max(r["id"] for r in _runs(config))
        _send(config, TASK, 1)  # one more run, ended, must have booked nothing again (waited on, not slept)
        while not any(r["id"] > newest and r["status"] == "ok" for r in _runs(config)):
            assert procs[1].poll() is None and time.monotonic() < deadline + 120
            time.sleep(0.1)
    finally:
        _stop(procs)
    _assert_exact(live_sandbox, want)

