"""Retry policy, client-side rate limiter, token storage."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import time
from pathlib import Path

import pytest

from connex_core.errors import FatalAPIError, RetriableAPIError
from connex_core.http import RateLimiter, RetryPolicy, short_body
from connex_core import tokens as tokens_module
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


def test_tokens_are_written_atomically_owner_only(tmp_path, monkeypatch):
    store = TokenStore(tmp_path, "qbo")
    assert store.load() is None
    store.save({"refresh_token": "r1", "access_token": "a1"})
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert store.load()["refresh_token"] == "r1"
    # atomically: the file appears under its name only whole and already owner-only (a rename) ...
    renamed = []
    real_replace = os.replace

    def replace(src, dst):
        renamed.append((Path(src).read_bytes(), stat.S_IMODE(os.stat(src).st_mode), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(tokens_module.os, "replace", replace)
    store.save({"refresh_token": "r2"})
    assert store.load() == {"refresh_token": "r2"}
    [(data, mode, dst)] = renamed
    assert json.loads(data) == {"refresh_token": "r2"} and mode == 0o600 and dst == store.path
    # ... and a write cut off before that (a full disk, a crash) leaves the previous tokens as they were
    monkeypatch.setattr(tokens_module.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "disk full")))
    with pytest.raises(OSError, match="disk full"):
        store.save({"refresh_token": "r3"})
    assert store.load() == {"refresh_token": "r2"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".qbo.tokens.json.")] == []


def _refresh(folder, out, arrived, n):
    store = TokenStore(folder, "x")
    with arrived.get_lock():
        arrived.value += 1  # about to wait for the lock
    with store.refreshing():
        # the first holder keeps the lock until every process is queued behind it: contention is certain
        deadline = time.monotonic() + 20
        while arrived.value < n and time.monotonic() < deadline:
            time.sleep(0.005)  # a bounded wait for an event, checked below
        current = store.load()["n"]
        store.save({"n": current + 1})
        out.put((current, arrived.value))


def test_one_refresher_at_a_time_across_processes(tmp_path):
    TokenStore(tmp_path, "x").save({"n": 0})
    out = multiprocessing.Queue()
    arrived = multiprocessing.Value("i", 0)
    procs = [multiprocessing.Process(target=_refresh, args=(tmp_path, out, arrived, 4)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    results = sorted(out.get(timeout=5) for _ in procs)
    assert [n for n, _ in results] == [0, 1, 2, 3]  # each saw the previous one's result: no lost update
    assert results[0][1] == 4, "the other three were not waiting while the first held the lock: no race tested"
    assert TokenStore(tmp_path, "x").load() == {"n": 4}
