"""Fixtures of the end-to-end tests: every installed simulator on loopback, a config, the real plugins.

``sandbox`` starts ShipStation, QuickBooks Online (two companies: ``quickbooks`` for orders,
``quickbooks-summary`` for daily summaries) and Xero with
:func:`connex_core.sandbox.runner.build_sandbox`, on a :class:`SimClock` started at
:data:`helpers.START` and running :data:`helpers.SPEED` times faster than real time, copies the
default rule files next to the config, and gives engines that run tasks with that clock.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from connex_core.plugins import get_manager, set_manager
from connex_core.sandbox import SimClock
from connex_core.sandbox.runner import build_sandbox

from tests.e2e.helpers import SPEED, START, Sandbox, child_env, copy_default_rules


@pytest.fixture
def manager():
    """The real plugin manager: the three plugins found through their entry points."""
    set_manager(None)
    manager = get_manager()
    missing = {"shipstation", "quickbooks", "xero"} - set(manager.sandboxes)
    assert not missing, f"plugins not installed: {missing}"
    return manager


def _sandbox(folder, manager, start):
    clock = SimClock(speed=SPEED, start=start)
    server = build_sandbox(manager, clock=clock, seed=11, extra={"quickbooks-summary": "quickbooks"})
    copy_default_rules(folder)
    box = Sandbox(folder=folder, clock=clock, server=server, manager=manager)
    with server:
        yield box
        box.close()


@pytest.fixture
def sandbox(tmp_path, manager):
    """The simulators on a clock that starts at :data:`START` (dates in the tests are fixed)."""
    yield from _sandbox(tmp_path, manager, START)


@pytest.fixture
def live_sandbox(tmp_path, manager):
    """The simulators on a clock that starts now, for a ``connex`` child process that reads windows
    relative to the real time (``connex serve`` polling its cursors)."""
    yield from _sandbox(tmp_path, manager, datetime.now(timezone.utc))


@dataclass
class Ran:
    """A finished ``connex`` command: exit code, stdout, stderr (and stdout as JSON)."""

    code: int
    stdout: str
    stderr: str

    @property
    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def connex(tmp_path):
    """``connex(*args)`` runs the real command line in a child process and checks that it exits 0."""

    def run(*args, expect: int = 0, timeout: float = 60) -> Ran:
        proc = subprocess.run([sys.executable, "-m", "connex_core", *map(str, args)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=timeout, env=child_env())
        ran = Ran(proc.returncode, proc.stdout, proc.stderr)
        assert ran.code == expect, f"connex {' '.join(map(str, args))} exited {ran.code}\n{ran.stderr}"
        return ran

    return run
