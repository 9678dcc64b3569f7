"""Rotating refresh tokens under crashes and races, for QuickBooks and Xero, against their simulators.

* A process killed (SIGKILL) after the token endpoint rotated the refresh token but before the new
  one was stored: the store still holds the old token, intact; Xero (30-minute grace period) and a
  QuickBooks company whose grace allows it carry on; QuickBooks without a grace period (Intuit
  documents none) stops with a message saying how to reconnect. Same for an answer lost on the way.
* Two processes refreshing at once: one spends the refresh token, the other waits for the lock and
  uses the fresh token it finds; the token endpoint is called once and nobody is locked out.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from connex_core.config import load_config
from connex_core.engine import SyncEngine
from connex_core.errors import AuthenticationError, RetriableAPIError
from connex_core.plugins import PluginManager
from connex_core.sandbox import Fault, SandboxServer, SimClock
from connex_core.sandbox.runner import write_config
from connex_core.tokens import TokenStore

from .tokenproc import access_token

TOKENPROC = Path(__file__).with_name("tokenproc.py")
TOKEN_ROUTE = {"quickbooks": "POST /oauth2/v1/tokens/bearer", "xero": "POST /connect/token"}
TOKEN_PATH = {"quickbooks": r"^/oauth2/", "xero": r"^/connect/token"}


@pytest.fixture
def sandbox(tmp_path):
    manager = PluginManager().load()
    clock = SimClock()
    services = [manager.sandboxes[name](clock=clock, seed=1) for name in ("quickbooks", "xero")]
    with SandboxServer(services) as server:
        config = write_config(server, tmp_path / "connex.toml")
        yield server, config, manager


def connector(config: Path, manager: PluginManager, name: str):
    """A fresh connector, as a new process would build it (nothing cached in memory)."""
    return SyncEngine(load_config(config), manager, store=None).connector(name)  # type: ignore[arg-type]


def store(config: Path, name: str) -> TokenStore:
    return TokenStore(config.parent / ".connex", name)


def tokenproc(config: Path, name: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(TOKENPROC), str(config), name, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def connect_once(config: Path, manager: PluginManager, name: str, server=None) -> dict:
    """A first refresh, so the store holds tokens; then the access token is made due (as an hour later).

    With ``server``, the refresh token is also made due for rotation: a day passes on the simulators' clock
    (QuickBooks answers a younger refresh token with itself; Xero rotates on every refresh).
    """
    access_token(connector(config, manager, name))
    tokens = store(config, name).load()
    store(config, name).save({**tokens, "expires_at": 0})
    if server is not None:
        sim = server.services[name]
        sim.clock.advance(sim.rotate_after_seconds or 0.0)
    return tokens


@pytest.mark.parametrize("name,grace,locked_out", [("xero", None, False), ("quickbooks", 1800.0, False),
                                                   ("quickbooks", None, True)])
def test_killed_between_rotation_and_storing(sandbox, name, grace, locked_out):
    server, config, manager = sandbox
    sim = server.services[name]
    if grace is not None:
        sim.refresh_grace_seconds = grace
    before = connect_once(config, manager, name, server)
    calls = sim.calls[TOKEN_ROUTE[name]]

    proc = tokenproc(config, name, "crash")
    proc.communicate(timeout=30)
    assert proc.returncode == -9, "the process must die inside the refresh"
    assert sim.calls[TOKEN_ROUTE[name]] == calls + 1, "the token endpoint rotated the refresh token"
    kept = json.loads(store(config, name).path.read_text())  # intact JSON, never half-written
    assert kept["refresh_token"] == before["refresh_token"]
    assert store(config, name).path.stat().st_mode & 0o777 == 0o600

    fresh = connector(config, manager, name)
    if locked_out:
        with pytest.raises(AuthenticationError) as caught:
            access_token(fresh)
        assert f"reconnect with `connex connect {name}`" in str(caught.value)
        assert before["refresh_token"] not in str(caught.value)
    else:
        assert access_token(fresh)
        assert store(config, name).load()["refresh_token"] != before["refresh_token"]
        assert access_token(connector(config, manager, name)), "the stored token keeps working"


@pytest.mark.parametrize("name,due,locked_out", [("xero", True, False), ("quickbooks", True, True),
                                                  ("quickbooks", False, False)])
def test_refresh_answer_lost(sandbox, name, due, locked_out):
    """The token endpoint answered but the answer never arrived (the same as a crash, seen from outside).

    Xero: the old token works for 30 minutes. QuickBooks: a refresh token younger than a day was not replaced,
    so the retry works; one that was replaced is gone, and the message says so and how to repair it."""
    server, config, manager = sandbox
    before = connect_once(config, manager, name, server if due else None)
    server.services[name].faults.add(Fault("lost_response", path=TOKEN_PATH[name], times=1))
    with pytest.raises(RetriableAPIError):
        access_token(connector(config, manager, name))
    assert store(config, name).load()["refresh_token"] == before["refresh_token"]
    if locked_out:
        for _ in range(2):  # every later run, the same exact message
            with pytest.raises(AuthenticationError, match=f"reconnect with `connex connect {name}`") as caught:
                access_token(connector(config, manager, name))
            assert "got no answer" in str(caught.value) and before["refresh_token"] not in str(caught.value)
    else:
        assert access_token(connector(config, manager, name))
        assert "refresh_sent_for" not in store(config, name).load()


def race(server, config, manager, name, mode="race"):
    """Two processes get an access token at once. The overlap is made, not hoped for: the token endpoint
    answers no refresh until both processes are inside ``access_token()`` (each notes when it enters and
    leaves in an events file), and the test fails if that never happened."""
    sim = server.services[name]
    connect_once(config, manager, name, server)
    calls = sim.calls[TOKEN_ROUTE[name]]
    events = config.parent / "race.events"
    events.write_text("")
    met = threading.Event()
    real = sim.handle

    def handle(request):
        if re.search(TOKEN_PATH[name], request.path):
            deadline = time.monotonic() + 30
            while events.read_text().count("begin") < 2 and time.monotonic() < deadline:
                time.sleep(0.01)  # a barrier: waits for an event, bounded
            if events.read_text().count("begin") >= 2:
                met.set()
        return real(request)

    sim.handle = handle
    try:
        procs = [tokenproc(config, name, mode, str(events)) for _ in range(2)]
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        sim.handle = real
    assert met.is_set(), "the two processes were never inside access_token() together: no race was tested"
    order = [line.split()[0] for line in events.read_text().splitlines()]
    assert order[:2] == ["begin", "begin"], f"recorded interleaving {order}: no overlap"
    return procs, outs, sim.calls[TOKEN_ROUTE[name]] - calls


@pytest.mark.parametrize("name", ["quickbooks", "xero"])
def test_two_processes_refreshing_at_once(sandbox, name):
    server, config, manager = sandbox
    procs, outs, refreshes = race(server, config, manager, name)
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    hashes = {out.strip() for out, _ in outs}
    assert len(hashes) == 1, "both processes use the one fresh access token"
    assert refreshes == 1, "the refresh token was spent once"
    assert access_token(connector(config, manager, name))


def test_without_the_lock_quickbooks_would_lock_one_process_out(sandbox):
    """The control: the race above is real; without the store's lock both spend the token and one is refused."""
    server, config, manager = sandbox
    procs, outs, refreshes = race(server, config, manager, "quickbooks", "race-unlocked")
    assert refreshes == 2
    assert sorted(p.returncode for p in procs) == [0, 1]
    assert "reconnect with `connex connect quickbooks`" in "".join(err for _, err in outs)
