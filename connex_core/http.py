"""Pieces every HTTP connector needs: timeouts, a retry policy, a per-credential rate limiter,
and error messages that carry no secrets.

Connectors on ``requests`` build a session with :func:`make_session` and wrap calls in
:meth:`RetryPolicy.call`. The policy is overridable per connector (an API that signals limits
with other headers subclasses it), and the ``sleep`` function is injectable so a simulator's
sped-up clock makes waiting fast in tests and benchmarks.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, TypeVar

import requests

from .errors import RetriableAPIError
from .waits import check_wait

log = logging.getLogger("connex.http")
T = TypeVar("T")



def make_session(user_agent: str = "connex") -> requests.Session:
    """A session with TLS verification on (always) and no implicit retries."""
    session = requests.Session()
    session.verify = True
    session.headers["User-Agent"] = user_agent
    adapter = requests.adapters.HTTPAdapter(max_retries=0, pool_maxsize=8)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def short_body(text: str | bytes | None, limit: int = 300) -> str:
    """A response body cut short for a message (never log whole bodies)."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter, honouring the API's own wait when it gives one.

    Only :class:`~connex_core.errors.RetriableAPIError` is retried; anything else propagates at once.
    """

    max_tries: int = 5
    base: float = 0.5
    cap: float = 60.0
    max_time: float = 600.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = field(default_factory=lambda: random.Random().random)

    def wait(self, attempt: int, retry_after: Optional[float]) -> float:
        if retry_after is not None:
            return max(0.0, float(retry_after))
        return min(self.cap, self.base * (2 ** (attempt - 1))) * (0.5 + self.jitter() / 2)

    def call(self, fn: Callable[[], T], what: str = "request") -> T:
        waited = 0.0
        for attempt in range(1, self.max_tries + 1):
            try:
                return fn()
            except RetriableAPIError as exc:
                if attempt >= self.max_tries:
                    raise
                delay = self.wait(attempt, exc.retry_after)
                if waited + delay > self.max_time:
                    raise
                log.info("%s failed (%s); retry %d/%d in %.1fs", what, exc, attempt, self.max_tries - 1, delay)
                check_wait(delay)
                self.sleep(delay)
                waited += delay
        raise AssertionError("unreachable")


@dataclass(frozen=True)
class ApiBudget:
    """What is left of an API's call budget, as the connector last knew it (:meth:`Connector.api_budgets`)."""

    remaining: int
    """Calls left in the current ``per``."""
    per: str
    """The budget's period: ``"day"``, ``"minute"``."""
    limit: Optional[int] = None
    """The period's size when known (None: the API gives only what is left)."""
    source: str = ""
    """Where the figure comes from (a header the API sends, or the connector's own pacing)."""


class RateLimiter:
    """A client-side limiter: at most ``limit`` calls per ``window`` seconds, adapting to the API's headers.

    One instance per credential (see :func:`limiter_for`). :meth:`acquire` blocks until a call is
    allowed; :meth:`update` takes what the API said (remaining calls, seconds to reset) so we slow
    down before the API answers 429.
    """

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, margin: float = 0.0):
        self.limit = limit
        self.window = window
        self.margin = margin
        """Extra wait past a full window. An API's window starts when our first call *arrives* (later than we
        sent it), so a call sent exactly one window later can still land in the old window and get a 429,
        which costs far more (often a minute's block) than a margin of a second or so."""
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._stamps: list[float] = []
        self._blocked_until = 0.0

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self.clock()
                span = self.window + self.margin
                self._stamps = [t for t in self._stamps if now - t < span]
                wait = 0.0
                if now < self._blocked_until:
                    wait = self._blocked_until - now
                elif len(self._stamps) >= self.limit:
                    wait = span - (now - self._stamps[0])
                if wait <= 0:
                    self._stamps.append(now)
                    return
            check_wait(wait)
            self.sleep(wait)

    def update(self, remaining: Optional[int], reset: Optional[float]) -> None:
        """The API says ``remaining`` calls are left, the window resets in ``reset`` seconds."""
        if remaining is None or reset is None:
            return
        with self._lock:
            if remaining <= 0:
                self._blocked_until = max(self._blocked_until, self.clock() + reset)

    def block_for(self, seconds: float) -> None:
        with self._lock:
            self._blocked_until = max(self._blocked_until, self.clock() + seconds)

    def remaining(self) -> int:
        """Calls allowed now before :meth:`acquire` would wait (0 while blocked)."""
        with self._lock:
            now = self.clock()
            if now < self._blocked_until:
                return 0
            span = self.window + self.margin
            return max(0, self.limit - sum(1 for t in self._stamps if now - t < span))


_LIMITERS: dict[tuple, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(key: tuple, factory: Callable[[], RateLimiter]) -> RateLimiter:
    """The one limiter of a credential (``key`` such as ``("shipstation", api_key_hash)``), shared in the process,
    and across processes through Redis when ``[limits] redis_url`` is set (:mod:`connex_core.limits`)."""
    from .limits import SharedRateLimiter, shared_client, shared_name

    client = shared_client()
    cache_key = key + (("shared", id(client)) if client is not None else ())
    with _LIMITERS_LOCK:
        if cache_key not in _LIMITERS:
            local = factory()
            if client is not None:
                local = SharedRateLimiter(client, shared_name(key), local.limit, local.window, margin=local.margin)
            _LIMITERS[cache_key] = local
        return _LIMITERS[cache_key]
