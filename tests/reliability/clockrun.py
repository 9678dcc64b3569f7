"""``connex run`` in a process of its own, on the sandbox's sped-up clock (the chaos harness's sync process).

The simulated APIs count their rate windows and token lifetimes on a :class:`SimClock`; a plain
``connex run`` would wait out a QuickBooks 429 or Xero's 60-a-minute pacing in real time. This
runs exactly the ``connex run`` command (same code, same exit codes), with its connectors given a
clock that runs at the sandbox's speed from the sandbox's time. It is killed with SIGKILL at
random points by :mod:`tests.reliability.harness`.

With ``CONNEX_KILL_AFTER_STATE_WRITES=N`` in the environment, the process kills itself (SIGKILL)
right after its N-th write to the state database (a ledger entry or log lines): the harness's
deterministic crash points, between recording an intent, writing, and recording the result.

The same for ``connex serve`` (its engine and webhook connectors) and ``connex worker`` (each job's engine).

Usage: ``python clockrun.py SPEED START_ISO connex-args...`` (``run --config F``, ``serve ...``, ``worker ...``).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from datetime import datetime

from connex_core.cli import main
from connex_core.sandbox import SimClock
from connex_core.state import SQLiteStore
from connex_core.state.postgres import PostgresStore

run_command = importlib.import_module("connex_core.cli.run")  # the module (the package re-exports the function)
serve_module = importlib.import_module("connex_core.serve")
engine_module = importlib.import_module("connex_core.engine")  # ``connex worker``'s jobs import SyncEngine from here


def _engine_on(clock: SimClock):
    real = run_command.SyncEngine

    def engine(*args, **kwargs):
        kwargs.setdefault("connector_options", {})["clock"] = clock
        return real(*args, **kwargs)

    return engine


def die_after_state_writes(n: int) -> None:
    count = [0]

    def after(write):
        def wrapped(self, entries):
            write(self, entries)
            count[0] += 1
            if count[0] >= n:
                os.kill(os.getpid(), signal.SIGKILL)
        return wrapped

    for store in (SQLiteStore, PostgresStore):
        store.ledger_put = after(store.ledger_put)
        store.log = after(store.log)


def _connections_on(clock: SimClock):
    """``connex run`` builds its connectors in a :class:`Connections` of its own (shared with the engine):
    the clock goes there, or the connectors would wait out 429s and backoffs in real time."""
    real = run_command.Connections

    def connections(*args, **kwargs):
        kwargs.setdefault("options", {})["clock"] = clock
        return real(*args, **kwargs)

    return connections


if __name__ == "__main__":
    speed, start = float(sys.argv[1]), datetime.fromisoformat(sys.argv[2])
    clock = SimClock(speed=speed, start=start)
    engine = _engine_on(clock)
    for module in (run_command, serve_module, engine_module):  # connex run, connex serve, connex worker
        module.SyncEngine = engine
    run_command.Connections = serve_module.Connections = _connections_on(clock)
    if os.environ.get("CONNEX_KILL_AFTER_STATE_WRITES"):
        die_after_state_writes(int(os.environ["CONNEX_KILL_AFTER_STATE_WRITES"]))
    sys.argv = ["connex", *sys.argv[3:]]
    main()
