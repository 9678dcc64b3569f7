"""Rate limits shared across processes through Redis (``[limits] redis_url``): four processes with one
credential stay under that credential's limit together; without sharing, each would take the full limit.

Runs against the Redis on 127.0.0.1:6379 (database 15); skips saying how to start it where it is not
running, fails instead when ``CI=true``.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
import uuid

import pytest

REDIS = os.environ.get("CONNEX_TEST_REDIS_LIMITS", "redis://127.0.0.1:6379/15")
LIMIT, WINDOW, SECONDS, PROCESSES = 10, 1.0, 2.5, 4


def _need_redis() -> None:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError:
        why = ("Redis is not listening on 127.0.0.1:6379; start it with: redis-server --daemonize yes "
               "--bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no")
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {why}")
        pytest.skip(why)


def _hammer(shared: bool, secret: str, barrier, out) -> None:
    """One worker process: acquire calls as fast as the limiter allows for SECONDS; report when each was let go."""
    from connex_core.http import RateLimiter, limiter_for
    from connex_core.limits import use_shared_limits

    use_shared_limits(REDIS if shared else None)
    # The key holds a process-local part (an object id) as the plugins' keys do; sharing must not depend on it.
    limiter = limiter_for(("testapi", secret, id(object())), lambda: RateLimiter(LIMIT, WINDOW))
    barrier.wait(timeout=30)
    stamps, end = [], time.time() + SECONDS
    while time.time() < end:
        limiter.acquire()
        stamps.append(time.time())
    out.put(stamps)


def _run(shared: bool) -> list[float]:
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(PROCESSES), ctx.Queue()
    secret = uuid.uuid4().hex
    procs = [ctx.Process(target=_hammer, args=(shared, secret, barrier, out)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    stamps = sorted(t for _ in procs for t in out.get(timeout=60))
    for p in procs:
        p.join(timeout=30)
    return stamps


def _busiest_window(stamps: list[float], width: float) -> int:
    best, j = 0, 0
    for i, t in enumerate(stamps):
        while stamps[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_four_processes_share_one_credentials_limit_through_redis():
    _need_redis()
    stamps = _run(shared=True)
    # A call is stamped after the limiter let it go, a little later than Redis counted it: a window slightly
    # narrower than the limiter's absorbs that.
    assert _busiest_window(stamps, WINDOW - 0.05) <= LIMIT
    # And the limit is used, not just respected by going slow: close to LIMIT calls a second in all.
    assert len(stamps) >= 0.7 * LIMIT * SECONDS


def test_without_sharing_each_process_takes_the_whole_limit():
    """The control: the check above fails for per-process limiters (so it can fail at all)."""
    stamps = _run(shared=False)
    assert _busiest_window(stamps, WINDOW - 0.05) > LIMIT * 2


def test_a_block_seen_by_one_process_holds_every_process():
    _need_redis()
    from connex_core.limits import SharedRateLimiter
    import redis

    client = redis.Redis.from_url(REDIS)
    name = uuid.uuid4().hex
    a = SharedRateLimiter(client, name, LIMIT, WINDOW)
    slept: list[float] = []
    b = SharedRateLimiter(client, name, LIMIT, WINDOW, sleep=lambda s: (slept.append(s), time.sleep(s)))
    a.update(remaining=0, reset=0.4)  # one process saw "no calls left, the window resets in 0.4 s"
    started = time.time()
    b.acquire()  # the other one waits for the reset although it never saw the answer
    assert slept and 0.2 < slept[0] <= 0.4
    assert time.time() - started >= 0.35


def test_what_is_left_counts_every_process_calls_and_blocks():
    _need_redis()
    from connex_core.limits import SharedRateLimiter
    import redis

    client = redis.Redis.from_url(REDIS)
    name = uuid.uuid4().hex
    a = SharedRateLimiter(client, name, LIMIT, 30.0)
    b = SharedRateLimiter(client, name, LIMIT, 30.0)
    assert a.remaining() == b.remaining() == LIMIT
    for _ in range(3):
        a.acquire()
    b.acquire()
    assert a.remaining() == b.remaining() == LIMIT - 4  # one credential's calls, whichever process made them
    b.block_for(5)
    assert a.remaining() == 0
