"""Retry policy, client-side rate limiter, token storage."""

from __future__ import annotations

import multiprocessing
import os
import stat
import time

import pytest

from connex_core.errors import FatalAPIError, RetriableAPIError
from connex_core.http import RateLimiter, RetryPolicy, short_body
from connex_core.tokens import TokenStore


def test_retry_policy_retries_only_retriable_errors_and_honours_retry_after():
    waits = []
    policy = RetryPolicy(max_tries=4, sleep=waits.append, jitter=lambda: 1.0)
    attempts = iter([RetriableAPIError("429", retry_after=7), RetriableAPIError("503"), "ok"])

    def call():
        item = next(attempts)
        if isinstance(item, Exception):
            raise item
        return item

    assert policy.call(call) == "ok"
    assert waits == [7.0, 1.0]  # the API's wait, then base * 2 ** 1 * jitter (1.0)

    def fatal():
        raise FatalAPIError("400 bad request")

    with pytest.raises(FatalAPIError):
        RetryPolicy(sleep=waits.append).call(fatal)
    assert len(waits) == 2


def test_retry_policy_gives_up_after_max_tries():
    calls = []

    def always():
        calls.append(1)
        raise RetriableAPIError("503")

    with pytest.raises(RetriableAPIError):
        RetryPolicy(max_tries=3, sleep=lambda s: None).call(always)
    assert len(calls) == 3


def test_rate_limiter_spaces_calls_to_the_window():
    now = [0.0]
    limiter = RateLimiter(2, 60, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    stamps = []
    for _ in range(5):
        limiter.acquire()
        stamps.append(now[0])
    assert stamps == [0.0, 0.0, 60.0, 60.0, 120.0]


def test_rate_limiter_obeys_the_api_saying_nothing_is_left():
    now = [0.0]
    limiter = RateLimiter(40, 60, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    limiter.acquire()
    limiter.update(remaining=0, reset=12)
    limiter.acquire()
    assert now[0] == 12


def test_short_body_cuts_and_folds():
    assert short_body("<html>\n  <body>x</body>\n</html>") == "<html> <body>x</body> </html>"
    assert short_body("a" * 400).endswith("...") and len(short_body("a" * 400)) == 303


def test_tokens_are_written_atomically_owner_only(tmp_path):
    store = TokenStore(tmp_path, "qbo")
    assert store.load() is None
    store.save({"refresh_token": "r1", "access_token": "a1"})
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert store.load()["refresh_token"] == "r1"
    store.save({"refresh_token": "r2"})
    assert store.load() == {"refresh_token": "r2"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".qbo.tokens.json.")] == []


def _refresh(folder, out):
    store = TokenStore(folder, "x")
    with store.refreshing():
        current = store.load()["n"]
        time.sleep(0.05)
        store.save({"n": current + 1})
    out.put(current)


def test_one_refresher_at_a_time_across_processes(tmp_path):
    TokenStore(tmp_path, "x").save({"n": 0})
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_refresh, args=(tmp_path, out)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(10)
    seen = sorted(out.get(timeout=5) for _ in procs)
    assert seen == [0, 1, 2, 3]  # each saw the previous one's result: no lost update
    assert TokenStore(tmp_path, "x").load() == {"n": 4}
