"""The clock connectors wait on and read the time from.

Everything that waits (rate limits, retries) or compares against the wall time (token expiry)
takes a :class:`Clock`, so the sandbox can run the same code on a
:class:`~connex_core.sandbox.SimClock` that goes faster than real time. :data:`REAL_CLOCK` is the
real one.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

__all__ = ["Clock", "RealClock", "REAL_CLOCK", "wall_time"]


@runtime_checkable
class Clock(Protocol):
    """What a clock offers: elapsed seconds, the wall time, and waiting."""

    def now(self) -> float:
        """Seconds on a monotonic scale (differences are meaningful, the origin is not)."""

    def utcnow(self) -> datetime:
        """The wall time, timezone-aware UTC."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock's scale (nothing for zero or less)."""


class RealClock:
    """Real time: ``time.monotonic()``, ``datetime.now(UTC)``, ``time.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    def utcnow(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def __repr__(self) -> str:
        return "RealClock()"


REAL_CLOCK = RealClock()


def wall_time(clock: Any = None) -> float:
    """Seconds since the epoch on ``clock`` (its ``utcnow()``); real time for None or a clock without one."""
    utcnow = getattr(clock, "utcnow", None)
    return utcnow().timestamp() if callable(utcnow) else time.time()
