"""Slices: a run on a shared worker gives the worker up after a share of work, and carries on later.

A :class:`Slice` is handed to :meth:`SyncEngine.run_task` by ``connex worker`` (``[broker] slice_orders``,
``slice_seconds``, ``slice_wait_seconds``; docs/scale.md, "Fair share"). The run stops the way a clean stop
does (:meth:`TaskRun.read` takes no further record, the batch in flight is written, the cursor stays where it
was), and :attr:`RunSummary.yielded` says when the continuation should run; the worker sends it to the back
of the queue. The continuation is an ordinary run of the task: it reads the same window, finds what the
slices before it booked done in the ledger, and books the rest.

Each slice that stops on its share has booked at least one order no run had booked before (an order the
ledger has done is never counted again), so a run cut into slices always comes to an end. Orders found done,
skipped, held or failed again do not count toward the share: a slice stops on its time only once it has
booked something new, so the continuations never go round in circles on what cannot be booked.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Optional

#: The outcomes that leave an order booked where no run had booked it (each order counts once, ever).
NEW_BOOKINGS = ("created", "updated", "duplicate", "voided")


@dataclass
class Slice:
    """How much of a run one job does before it yields its worker."""

    orders: int = 0
    """Orders newly booked after which the run yields (0: no limit)."""
    seconds: float = 0.0
    """Seconds after which the run yields, once it has booked an order (0: no limit)."""
    wait_seconds: Optional[float] = None
    """A rate-limit wait longer than this while reading the source yields instead of sleeping (None: sleep)."""
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def active(self) -> bool:
        return bool(self.orders or self.seconds or self.wait_seconds is not None)

    def spent(self, counts: Counter) -> bool:
        """The share is used up: stop before the next record."""
        booked = sum(counts.get(k, 0) for k in NEW_BOOKINGS)
        if booked == 0:
            return False
        if self.orders and booked >= self.orders:
            return True
        return bool(self.seconds) and self.clock() - self.started >= self.seconds
