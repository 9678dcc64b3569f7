"""Rate limits shared by every process that uses one credential, through Redis.

``[limits] redis_url = "redis://127.0.0.1:6379/1"`` makes every :func:`connex_core.http.limiter_for` limiter a
:class:`SharedRateLimiter`: four workers with one ShipStation key send ShipStation at most one key's 40 calls a
minute between them, not 160. Without it each process keeps its own limiter (one process per credential is
then the rule to follow).

The limiter is a sliding log in a Redis sorted set, checked and appended by one Lua script, so two processes
asking at the same instant cannot both take the last call. Its clock is the Redis server's (``TIME``), so
machines whose clocks disagree still agree on the window. A 429 or a "none left" header seen by one process
blocks the credential for all of them until the API's reset.

The shared key is the limiter key's string parts: plugins may add a process-local part (a clock's ``id``)
to keep a sped-up test clock apart from real time; that part is left out here.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from typing import Any, Callable, Optional

from .waits import check_wait

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < blocked then return tostring(blocked - now) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(span * 1000) + 1000)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(span - (now - tonumber(oldest[2])))
"""

_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local until_ = now + tonumber(ARGV[1])
local have = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > have then
  redis.call('SET', KEYS[1], tostring(until_), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return tostring(until_ - now)
"""


class SharedRateLimiter:
    """The :class:`~connex_core.http.RateLimiter` interface, enforced across processes through Redis."""

    def __init__(self, client: Any, name: str, limit: int, window: float, *, margin: float = 0.0,
                 sleep: Callable[[float], None] = time.sleep):
        self.client, self.limit, self.window, self.margin, self.sleep = client, limit, window, margin, sleep
        digest = hashlib.sha256(name.encode()).hexdigest()[:24]  # key material (an API key's hash) stays opaque
        self._calls_key = f"connex:limit:{digest}:calls"
        self._block_key = f"connex:limit:{digest}:blocked"
        self._acquire = client.register_script(_ACQUIRE)
        self._block = client.register_script(_BLOCK)

    def acquire(self) -> None:
        while True:
            wait = float(self._acquire(keys=[self._calls_key, self._block_key],
                                       args=[self.limit, self.window + self.margin, uuid.uuid4().hex]))
            if wait <= 0:
                return
            check_wait(wait)
            self.sleep(wait)

    def update(self, remaining: Optional[int], reset: Optional[float]) -> None:
        if remaining is not None and reset is not None and remaining <= 0:
            self.block_for(reset)

    def block_for(self, seconds: float) -> None:
        if seconds > 0:
            self._block(keys=[self._block_key], args=[seconds])

    def remaining(self) -> int:
        """Calls all processes together may make now before one waits (0 while blocked), on Redis's clock."""
        seconds, micros = self.client.time()
        now = seconds + micros / 1e6
        if float(self.client.get(self._block_key) or 0) > now:
            return 0
        used = self.client.zcount(self._calls_key, now - self.window - self.margin, "+inf")
        return max(0, self.limit - int(used))


_SHARED: dict[str, Any] = {}
_LOCK = threading.Lock()


def use_shared_limits(redis_url: Optional[str]) -> None:
    """From now on, new limiters in this process are shared through Redis (``None``: back to per process)."""
    with _LOCK:
        _SHARED.clear()
        if redis_url:
            import redis

            _SHARED["client"] = redis.Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=5)


def shared_client() -> Any:
    return _SHARED.get("client")


def shared_name(key: tuple) -> str:
    """The part of a limiter key every process agrees on: its strings (an object id is process-local)."""
    return "\x1f".join(str(part) for part in key if isinstance(part, str))


def configure(config: Any) -> None:
    """Apply the config's ``[limits]`` section (called by ``connex run``, ``serve`` and ``worker``)."""
    limits = getattr(config, "limits", None)
    use_shared_limits(limits.redis_url if limits is not None else None)
