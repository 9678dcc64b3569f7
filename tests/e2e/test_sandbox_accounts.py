"""``connex sandbox --accounts N``: many independent simulated sellers on one loopback server, each with every
service, its own credentials, data and rate limits, and a config of its own (issue 20)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import requests

from connex_core.config import load_config
from connex_core.engine import SyncEngine
from connex_core.sandbox import SimClock
from connex_core.sandbox.runner import AccountView, build_sandbox, write_config
from connex_core.state import SQLiteStore
from tests.e2e.helpers import START, child_env, copy_default_rules, ss_order, task_table


def test_each_account_has_its_own_credentials_data_and_books(manager, tmp_path):
    clock = SimClock(speed=600, start=START)
    server = build_sandbox(manager, clock=clock, seed=5, accounts=2)
    name, table = task_table("shipstation-to-quickbooks")
    table["source_options"] = {}
    with server:
        one, two = AccountView(server, 1), AccountView(server, 2)
        assert set(one.services) == set(two.services) == set(manager.sandboxes)
        ss1, ss2 = one.services["shipstation"], two.services["shipstation"]
        assert ss1.api_key != ss2.api_key and ss1.base_url != ss2.base_url
        # One seller's key opens only its own account.
        assert requests.get(f"{ss2.base_url}/stores", auth=(ss1.api_key, ss1.api_secret), timeout=5).status_code == 401
        assert requests.get(f"{ss1.base_url}/stores", auth=(ss1.api_key, ss1.api_secret), timeout=5).status_code == 200
        ss1.add_order(ss_order("ONE-A", clock.utcnow() - timedelta(hours=1)))
        ss2.add_order(ss_order("TWO-A", clock.utcnow() - timedelta(hours=1)))
        ss2.add_order(ss_order("TWO-B", clock.utcnow() - timedelta(hours=1)))
        for n, view in ((1, one), (2, two)):
            folder = tmp_path / f"seller-{n}"  # a seller's state and tokens stay in its own folder
            copy_default_rules(folder)
            path = write_config(view, folder / "connex.toml", tasks=[(name, table)])
            cfg = load_config(path)
            store = SQLiteStore(cfg.state_path)
            engine = SyncEngine(cfg, manager, store, connector_options={"clock": clock}, now=clock.utcnow)
            try:
                assert engine.run_task(name).status == "ok"
            finally:
                engine.close()
                store.close()
        books = {n: sorted(d["DocNumber"] for d in v.services["quickbooks"].entities("Invoice")
                           + v.services["quickbooks"].entities("SalesReceipt")) for n, v in ((1, one), (2, two))}
        assert books == {1: ["ONE-A"], 2: ["TWO-A", "TWO-B"]}


def test_the_command_lists_every_account_and_writes_a_config_each(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "connex_core", "sandbox", "--accounts", "3", "--json",
                             "--write-config", str(tmp_path / "seller.toml")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(), cwd=tmp_path)
    try:
        described = json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert {"a1_shipstation", "a2_quickbooks", "a3_xero"} <= set(described)
    assert described["a1_shipstation"]["api_key"] != described["a3_shipstation"]["api_key"]
    configs = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.glob("seller-a*/seller.toml"))
    assert configs == ["seller-a1/seller.toml", "seller-a2/seller.toml", "seller-a3/seller.toml"]
    cfg = load_config(tmp_path / "seller-a2" / "seller.toml")
    assert cfg.connections["shipstation"]["base_url"] == described["a2_shipstation"]["base_url"]
    assert cfg.state_path.parent == tmp_path / "seller-a2"
