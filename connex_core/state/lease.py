"""One runner per task: a lease row in the state store, kept alive by a heartbeat.

Whatever the target's own duplicate settings, no two processes (``connex run`` beside ``connex serve``, two
workers, two machines on one PostgreSQL store) run the same task at once. A holder that dies stops renewing;
its lease expires after ``ttl`` seconds and the task can be taken again (the ledger then reconciles whatever
the dead holder left pending).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import uuid
from typing import Any, Optional

from ..errors import ConnexError, ExitCode

#: How long a lease lives without a heartbeat; the heartbeat renews it every third of that.
DEFAULT_TTL = 60.0


class TaskBusy(ConnexError):
    """The task is being run by someone else (exit 5: nothing was done, try again later or use --wait)."""

    exit_code = ExitCode.ORDERS_FAILED

    def __init__(self, task: str, holder: str):
        self.task, self.holder = task, holder
        super().__init__(f"task {task!r} is being run by {holder}; try again later, or wait with --wait")


def holder_name(what: str = "connex") -> str:
    """Who holds a lease, readable by a person: host, process id, what it is, and a unique suffix."""
    return f"{what} on {socket.gethostname()} pid {os.getpid()} [{uuid.uuid4().hex[:8]}]"


_HOLDER = re.compile(r" on (?P<host>\S+) pid (?P<pid>\d+) \[[0-9a-f]+\]( since .*)?$")


def holder_is_dead(holder: str) -> bool:
    """True when ``holder`` names a process on this machine that no longer runs (killed, crashed): its lease
    can be taken at once instead of after its time-to-live. A holder on another machine is never judged."""
    m = _HOLDER.search(holder)
    if m is None or m.group("host") != socket.gethostname():
        return False
    pid = int(m.group("pid"))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # killed but not yet reaped by its parent: a zombie runs nothing
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


class TaskLease:
    """``with TaskLease(store, task):`` runs the block holding the task's lease, or raises :class:`TaskBusy`.

    With ``wait`` (seconds, or ``float('inf')``) it polls until the lease is free instead of raising at once.
    """

    def __init__(self, store: Any, task: str, *, holder: Optional[str] = None, ttl: float = DEFAULT_TTL,
                 wait: float = 0.0, poll: float = 1.0, sleep=time.sleep):
        self.store, self.task, self.ttl, self.wait, self.poll, self.sleep = store, task, ttl, wait, poll, sleep
        self.holder = holder or holder_name()
        self.lost = threading.Event()
        """Set when a renewal found the lease gone (expired and taken): the run should stop after its batch."""
        self._stop = threading.Event()
        self._beat: Optional[threading.Thread] = None

    def acquire(self) -> None:
        deadline = time.monotonic() + self.wait
        while True:
            other = self.store.lease_acquire(self.task, self.holder, self.ttl)
            if other is None:
                break
            dead = other.rsplit(" since ", 1)[0]
            if holder_is_dead(dead) and self.store.lease_take_over(self.task, dead, self.holder, self.ttl):
                break
            if time.monotonic() >= deadline:
                raise TaskBusy(self.task, other)
            self.sleep(self.poll)
        self._beat = threading.Thread(target=self._heartbeat, name=f"lease-{self.task}", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if not self.store.lease_renew(self.task, self.holder, self.ttl):
                    self.lost.set()
                    return
            except Exception:  # a dropped connection: try again at the next beat, the ttl covers a few misses
                continue

    def release(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        self.store.lease_release(self.task, self.holder)

    def __enter__(self) -> "TaskLease":
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
