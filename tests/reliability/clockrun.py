"""``connex run`` in a process of its own, on the sandbox's sped-up clock (the chaos harness's sync process).

The simulated APIs count their rate windows and token lifetimes on a :class:`SimClock`; a plain
``connex run`` would wait out a QuickBooks 429 or Xero's 60-a-minute pacing in real time. This
runs exactly the ``connex run`` command (same code, same exit codes), with its connectors given a
clock that runs at the sandbox's speed from the sandbox's time. It is killed with SIGKILL at
random points by :mod:`tests.reliability.harness`.

Usage: ``python clockrun.py SPEED START_ISO connex-args...`` (``run --config F``).
"""

from __future__ import annotations

import importlib
import sys
from datetime import datetime

from connex_core.cli import main
from connex_core.sandbox import SimClock

run_command = importlib.import_module("connex_core.cli.run")  # the module (the package re-exports the function)


def _engine_on(clock: SimClock):
    real = run_command.SyncEngine

    def engine(*args, **kwargs):
        kwargs.setdefault("connector_options", {})["clock"] = clock
        return real(*args, **kwargs)

    return engine


if __name__ == "__main__":
    speed, start = float(sys.argv[1]), datetime.fromisoformat(sys.argv[2])
    run_command.SyncEngine = _engine_on(SimClock(speed=speed, start=start))
    sys.argv = ["connex", *sys.argv[3:]]
    main()
