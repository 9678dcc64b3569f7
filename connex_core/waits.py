"""Long waits on a shared worker: a rate limit (or an API's ``Retry-After``) that asks for a wait longer than a
bound raises :class:`LongWait` instead of sleeping, where the caller can stop cleanly and come back later
(``connex worker``'s slices, docs/scale.md "Fair share"). Every limiter and retry wait calls :func:`check_wait`
before it sleeps; without a bound on the thread (the default everywhere) it does nothing.
"""

from __future__ import annotations

import threading
from typing import Optional


class LongWait(Exception):
    """A rate limit (or an API's ``Retry-After``) asks for a wait longer than the bound set with
    :func:`waits_at_most`: raised instead of sleeping, so a job on a shared worker can give the worker up
    and come back later (docs/scale.md, "Fair share"). Nothing was sent for the call that would have waited."""

    def __init__(self, seconds: float):
        super().__init__(f"a rate limit asks for a wait of {seconds:.1f} s")
        self.seconds = seconds


_BOUND = threading.local()


class waits_at_most:
    """Within ``with waits_at_most(seconds):`` on this thread, a limiter or retry wait longer than ``seconds``
    raises :class:`LongWait` instead of sleeping (``None``: no bound, the default everywhere else)."""

    def __init__(self, seconds: Optional[float]):
        self.seconds = seconds

    def __enter__(self) -> None:
        self.before = getattr(_BOUND, "seconds", None)
        _BOUND.seconds = self.seconds

    def __exit__(self, *exc: object) -> None:
        _BOUND.seconds = self.before


def check_wait(seconds: float) -> None:
    """Called before every wait a limit or a retry asks for: raises :class:`LongWait` past the thread's bound."""
    bound = getattr(_BOUND, "seconds", None)
    if bound is not None and seconds > bound:
        raise LongWait(seconds)
