"""Runs cut into slices (a shared worker's fair share, ``connex_core/sync/slices.py``): a slice stops at an order
boundary like a clean stop (every booked order in the ledger, the cursor where it was), the next slice books the
rest, and no order is booked twice or lost across the boundaries; a run whose reading would wait long on a rate
limit stops instead of sleeping. The books checked are the target's documents, by number."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from connex_core.config import load_config
from connex_core.engine import SyncEngine
from connex_core.http import RateLimiter
from connex_core.waits import LongWait, waits_at_most
from connex_core.state import SQLiteStore
from connex_core.sync.slices import Slice
from tests.support.memory_plugin import api, seed


def engine_for(path, manager):
    cfg = load_config(path)
    return SyncEngine(cfg, manager, SQLiteStore(cfg.state_path))


def cursor(path):
    return SQLiteStore(load_config(path).state_path).get_cursor("orders")


def sliced_runs(path, manager, make_slice, most: int = 50) -> list:
    """Run the task slice after slice, as a worker's continuations do, until a run ends on its own."""
    summaries = []
    for _ in range(most):
        summary = engine_for(path, manager).run_task("orders", slice=make_slice())
        summaries.append(summary)
        if summary.yielded is None:
            return summaries
        assert summary.status == "stopped" and cursor(path) is None  # a slice's end never moves the cursor
    raise AssertionError(f"still yielding after {most} slices")


def test_a_run_in_slices_books_every_order_once_and_moves_the_cursor_only_at_the_end(manager, memory_config):
    seed("src", 100)
    runs = sliced_runs(memory_config, manager, lambda: Slice(orders=20))
    # batches no bigger than the share (the target's are 25): 20 newly booked a slice, then none left
    assert [r.counts["created"] for r in runs] == [20, 20, 20, 20, 20, 0]
    assert [r.yielded for r in runs] == [0.0] * 5 + [None] and runs[-1].status == "ok"
    assert [r.counts["already_synced"] for r in runs] == [0, 20, 40, 60, 80, 100]  # each reads what those before booked
    numbers = Counter(api("dst").numbers())
    assert numbers == Counter({str(1001 + i): 1 for i in range(100)})
    assert cursor(memory_config) is not None


def test_orders_that_fail_or_are_found_done_do_not_count_toward_a_share(manager, memory_config):
    seed("src", 60)
    api("dst").reject_numbers = {str(1001 + i) for i in range(40)}  # the first 40 fail, every time
    clock = count(0, 1000)  # every look at the clock: 1,000 s later than the one before

    runs = sliced_runs(memory_config, manager, lambda: Slice(orders=10, seconds=1, clock=lambda: next(clock)))
    # Each slice that yields has booked something new; one that books nothing runs to the end (no circles).
    assert all(r.counts["created"] >= 1 for r in runs[:-1]) and runs[-1].yielded is None
    assert sum(r.counts["created"] for r in runs) == 20
    assert Counter(api("dst").numbers()) == Counter({str(1041 + i): 1 for i in range(20)})


def test_a_time_share_yields_only_once_something_was_booked(manager, memory_config):
    seed("src", 30)
    since = datetime.now(timezone.utc) - timedelta(days=1)
    engine_for(memory_config, manager).run_task("orders")
    # Every order is done; a share long spent (the clock runs 1,000 s a look) does not cut the re-read short
    summary = engine_for(memory_config, manager).run_task(
        "orders", since=since, slice=Slice(seconds=1, clock=count(0, 1000).__next__))
    assert summary.status == "ok" and summary.yielded is None and summary.counts["already_synced"] == 30


def test_a_long_rate_limit_wait_while_reading_yields_with_the_wait(manager, memory_config):
    seed("src", 100)
    engine = engine_for(memory_config, manager)
    source = engine.connector("src")
    original = source.fetch_orders
    limiter = RateLimiter(30, 60.0, sleep=lambda s: pytest.fail(f"slept {s} s on the worker"))

    def limited(query):
        for order in original(query):
            limiter.acquire()  # the 31st read waits for the window: about 60 s, over the bound of 5
            yield order

    source.fetch_orders = limited
    summary = engine.run_task("orders", slice=Slice(wait_seconds=5.0))
    assert summary.status == "stopped" and 55 < summary.yielded <= 60
    assert summary.counts["created"] == 30 and cursor(memory_config) is None  # the 30 read are booked
    rest = engine_for(memory_config, manager).run_task("orders")
    assert rest.status == "ok" and rest.counts["created"] == 70
    assert Counter(api("dst").numbers()) == Counter({str(1001 + i): 1 for i in range(100)})


def test_a_wait_within_the_bound_sleeps_and_one_past_it_raises():
    now, slept = [0.0], []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(1, 10.0, clock=lambda: now[0], sleep=sleep)
    limiter.acquire()
    with waits_at_most(20.0):
        limiter.acquire()  # 10 s: within the bound, slept
    assert slept == [10.0]
    with waits_at_most(5.0), pytest.raises(LongWait) as caught:
        limiter.acquire()  # 10 s again: past the bound, raised, nothing taken
    assert caught.value.seconds == 10.0 and slept == [10.0]
    limiter.acquire()  # no bound outside the block: slept
    assert slept == [10.0, 10.0]


def test_a_long_rate_limit_wait_on_the_targets_look_up_yields_before_anything_of_the_batch_is_written(
        manager, memory_config):
    seed("src", 100)
    engine = engine_for(memory_config, manager)
    target = engine.connector("dst")
    original = target.find_orders
    limiter = RateLimiter(1, 60.0, sleep=lambda s: pytest.fail(f"slept {s} s on the worker"))

    def limited(writes):
        limiter.acquire()  # one look-up a minute: the second batch's would wait about 60 s
        return original(writes)

    target.find_orders = limited
    summary = engine.run_task("orders", slice=Slice(wait_seconds=5.0))
    assert summary.status == "stopped" and 55 < summary.yielded <= 60
    assert summary.counts["created"] == 25 and len(api("dst").documents) == 25  # batch 2: no intent, no write
    assert cursor(memory_config) is None
    store = SQLiteStore(load_config(memory_config).state_path)
    assert len(store.ledger_get("orders", [o.key for o in api("src").orders])) == 25
    rest = engine_for(memory_config, manager).run_task("orders")
    assert rest.status == "ok" and rest.counts["created"] == 75
    assert Counter(api("dst").numbers()) == Counter({str(1001 + i): 1 for i in range(100)})


class SentJobs:
    """A worker's :class:`~connex_core.jobs.Jobs` as :func:`run_job` uses it: the share, and what it sends."""

    def __init__(self, share):
        self.share, self.sent = share, []

    def slice(self):
        return self.share()

    def send(self, config_path, task, orders=None, *, delay_seconds=0.0):
        self.sent.append((config_path, task, orders, delay_seconds))


def test_a_job_whose_run_yields_sends_its_continuation_and_the_last_sends_none(manager, memory_config):
    from connex_core.jobs import run_job

    seed("src", 30)
    jobs = SentJobs(lambda: Slice(orders=20))
    first = run_job(str(memory_config), "orders", jobs=jobs)
    assert first["status"] == "stopped" and first["yielded"] == 0.0
    assert jobs.sent == [(str(memory_config), "orders", None, 0.0)]  # to the back of the queue, no delay
    last = run_job(str(memory_config), "orders", jobs=jobs)
    assert last["status"] == "ok" and "yielded" not in last and len(jobs.sent) == 1
    assert Counter(api("dst").numbers()) == Counter({str(1001 + i): 1 for i in range(30)})
    # Orders a webhook delivered are one run, never cut (the continuation would have to carry them)
    more = [o.model_copy(update={"source_id": f"w{i}", "number": f"W{i}"}) for i, o in enumerate(api("src").orders[:25])]
    hook = run_job(str(memory_config), "orders", [o.model_dump(mode="json") for o in more], jobs=jobs)
    assert hook["status"] == "ok" and hook["created"] == 25 and len(jobs.sent) == 1


def test_a_job_that_yields_on_a_rate_limit_is_sent_again_with_the_wait(manager, memory_config, monkeypatch):
    from connex_core import jobs as jobs_module
    from connex_core.sync.engine import SyncEngine as Engine

    seed("src", 10)
    run_task = Engine.run_task

    def waiting(self, name, **kw):  # the source's limiter asks for 42 s before the first page
        def limited(query):
            raise LongWait(42.0)
            yield  # pragma: no cover

        self.connector("src").fetch_orders = limited
        return run_task(self, name, **kw)

    monkeypatch.setattr(Engine, "run_task", waiting)
    jobs = SentJobs(lambda: Slice(orders=20, wait_seconds=5.0))
    summary = jobs_module.run_job(str(memory_config), "orders", jobs=jobs)
    assert summary["status"] == "stopped" and summary["yielded"] == 42.0
    assert jobs.sent == [(str(memory_config), "orders", None, 42.0)]
