"""Many sellers: two tenants (each its own simulated ShipStation and QuickBooks accounts, its own state schema)
registered with ``connex tenants add``, scheduled by one ``connex serve --tenants`` and run by one pool of
``connex worker`` processes: each seller's orders land in its own books, once, with their totals; a tenant
whose config is broken does not stop the other.

Needs PostgreSQL and Redis on 127.0.0.1 (skips saying what to start; fails with ``CI=true``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from connex_core.sandbox import SimClock
from connex_core.sandbox.runner import build_sandbox
from tests.e2e.helpers import SPEED, Sandbox, child_env, copy_default_rules, task_table
from tests.e2e.test_workers import PG, REDIS, _assert_exact, _need, _seed, _stop, _wait_books, _workers


@pytest.fixture
def second_account(tmp_path, manager):
    """Another seller's simulated accounts, on a server of their own."""
    folder = tmp_path / "bob"
    folder.mkdir()
    clock = SimClock(speed=SPEED, start=datetime.now(timezone.utc))
    server = build_sandbox(manager, clock=clock, seed=23)
    copy_default_rules(folder)
    box = Sandbox(folder=folder, clock=clock, server=server, manager=manager)
    with server:
        yield box
        box.close()


@pytest.fixture
def schemas():
    _need("postgres", 5432)
    _need("redis", 6379)
    import psycopg

    made = {k: f"connex_{k}_{uuid.uuid4().hex[:8]}" for k in ("alice", "bob", "registry")}
    yield made
    with psycopg.connect(PG, autocommit=True) as db:
        for schema in made.values():
            db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _tenant_config(box, schema: str, registry: str, queue: str):
    name, table = task_table("shipstation-to-quickbooks", every_minutes=0.05)
    table["source_options"] = {}
    path = box.write([(name, table)])
    head = (f'[state]\nurl = "{PG}"\nschema = "{schema}"\nregistry_schema = "{registry}"\nlease_seconds = 3\n\n'
            f'[broker]\nurl = "{REDIS}"\nqueue = "{queue}"\nheartbeat_seconds = 5\n\n')
    path.write_text(head + path.read_text().replace('[state]\npath = "connex.db"\n', ""))
    return path


def _last_run(schema: str) -> int:
    """The id of the newest run a tenant's state records (0: none yet)."""
    import psycopg

    with psycopg.connect(PG, autocommit=True) as db:
        return db.execute(f'SELECT coalesce(max(id), 0) FROM "{schema}".runs').fetchone()[0]


def _wait_run_finished_after(schema: str, run_id: int, procs, seconds: float = 60) -> None:
    """Wait until a run newer than ``run_id`` has finished in a tenant's state."""
    import psycopg

    deadline = time.monotonic() + seconds
    with psycopg.connect(PG, autocommit=True) as db:
        while db.execute(f'SELECT count(*) FROM "{schema}".runs WHERE id > %s AND finished_at IS NOT NULL',
                         (run_id,)).fetchone()[0] == 0:
            assert any(p.poll() is None for p in procs), "every worker exited"
            assert time.monotonic() < deadline, f"no run of {schema} finished within {seconds} s"
            time.sleep(0.2)


def test_two_tenants_scheduled_once_run_by_one_worker_pool(live_sandbox, second_account, schemas, tmp_path):
    from connex_core.cli import app

    queue = f"connex-tenants-{uuid.uuid4().hex[:8]}"
    alice = _tenant_config(live_sandbox, schemas["alice"], schemas["registry"], queue)
    bob = _tenant_config(second_account, schemas["bob"], schemas["registry"], queue)
    runner = CliRunner()
    for name, path in (("alice", alice), ("bob", bob)):
        result = runner.invoke(app, ["tenants", "add", name, "--config", str(path)])
        assert result.exit_code == 0, result.output
    # A third tenant whose state would be alice's is refused: tenants keep their state apart.
    clash = tmp_path / "clash.toml"
    clash.write_text(alice.read_text())
    result = runner.invoke(app, ["tenants", "add", "mallory", "--config", str(clash)])
    assert result.exit_code == 4 and f"already the state of tenant 'alice'" in result.stderr
    listed = json.loads(runner.invoke(app, ["tenants", "list", "--config", str(alice), "--json"]).stdout)
    assert [(t["name"], t["tasks"]) for t in listed] == [("alice", ["shipstation-to-quickbooks"]),
                                                        ("bob", ["shipstation-to-quickbooks"])]

    want_alice = _seed(live_sandbox, 25, prefix="ALICE")
    want_bob = _seed(second_account, 15, prefix="BOB")  # numbered apart: a mix-up would show in either book
    procs = _workers(alice, 2, tmp_path)
    scheduler = subprocess.Popen([sys.executable, "-m", "connex_core", "serve", "--tenants", "--port", "0",
                                  "--config", str(alice)],
                                 stdout=subprocess.DEVNULL, stderr=open(tmp_path / "scheduler.log", "w"),
                                 env=child_env(), cwd=tmp_path)
    procs.append(scheduler)
    try:
        _wait_books(live_sandbox, want_alice, procs)
        _wait_books(second_account, want_bob, procs)
        # Every order is booked: a run of each tenant begun after that, and finished, must have booked none
        # again (what a "nothing more happened" check waits on, instead of a pause).
        _wait_run_finished_after(schemas["alice"], _last_run(schemas["alice"]), procs)
        _wait_run_finished_after(schemas["bob"], _last_run(schemas["bob"]), procs)
    finally:
        _stop(procs)
    _assert_exact(live_sandbox, want_alice)  # alice's books hold exactly alice's orders
    _assert_exact(second_account, want_bob)
    assert "scheduling 2 tenants" in (tmp_path / "scheduler.log").read_text()



def test_the_example_deployment_config_loads_as_docs_scale_says():
    from pathlib import Path

    from connex_core.config import load_config

    root = Path(__file__).resolve().parents[2]
    cfg = load_config(root / "examples" / "scale" / "alice.toml")
    assert cfg.state.url.startswith("postgresql://") and cfg.state.db_schema == "tenant_alice"
    assert cfg.broker.url.startswith("redis://") and cfg.broker.queue == "connex"
    assert (cfg.broker.slice_orders, cfg.broker.slice_seconds, cfg.broker.slice_wait_seconds) == (100, 60, 5)
    assert cfg.limits.redis_url.startswith("redis://")
    assert (cfg.folder / cfg.tasks["shipstation-to-quickbooks"].rules[0]).exists()
    doc = (root / "docs" / "scale.md").read_text()
    for module in ("connex_core/state/postgres.py", "connex_core/state/lease.py", "connex_core/jobs.py",
                   "connex_core/limits.py", "connex_core/tenants.py", "connex_core/scheduler.py",
                   "connex_core/sync/slices.py", "connex_core/waits.py"):
        assert module in doc and (root / module).exists(), module
