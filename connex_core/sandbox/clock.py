"""The sandbox's clock: simulated time that can run faster than real time (a :class:`~connex_core.clock.Clock`)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Optional


class SimClock:
    """A clock that can run ``speed`` times faster than real time.

    ``now()`` is seconds since the clock started, scaled; ``sleep(s)`` sleeps ``s`` simulated
    seconds (``s / speed`` real ones); ``utcnow()`` is a datetime that advances at the same rate.
    Clients given the same clock wait out rate limits in simulated time, so a benchmark of a
    40-per-minute API runs in seconds.
    """

    def __init__(self, speed: float = 1.0, start: Optional[datetime] = None):
        self.speed = float(speed)
        self._t0 = time.monotonic()
        self._start = start or datetime.now(timezone.utc)
        self._offset = 0.0  # simulated seconds added by advance()
        self._lock = threading.Lock()

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.speed + self._offset

    def utcnow(self) -> datetime:
        return self._start + timedelta(seconds=self.now())

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)

    def advance(self, seconds: float) -> None:
        """Jump the clock forward (expire tokens, reset a rate window) without waiting."""
        with self._lock:
            self._offset += seconds


class SteppedClock(SimClock):
    """Simulated time that moves only when someone waits on it (``sleep``) or :meth:`advance` is called: the real
    time HTTP round trips take counts for nothing. For tests of pacing and of rate-limit windows, which then
    measure exactly the waits the client chose, on a loaded machine as on an idle one (at x1000, 60 ms of slow
    calls would pass for a minute)."""

    def __init__(self, start: Optional[datetime] = None) -> None:
        super().__init__(speed=1.0, start=start)

    def now(self) -> float:
        with self._lock:
            return self._offset

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)
        time.sleep(0)  # let other threads run, as a real wait would
