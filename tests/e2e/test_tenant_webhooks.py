"""Webhooks per tenant under ``connex serve --tenants``: ``POST /webhooks/<tenant>/<connection>[/<secret>]``.

Two sellers (each its own simulated ShipStation and QuickBooks accounts, its own webhook secret, its own
PostgreSQL schema) behind one ``connex serve --tenants`` and one pool of ``connex worker`` processes. Each
seller's ShipStation notifies its own URL; each delivery is verified with that tenant's secret, kept in that
tenant's inbox and read with its credentials, and the run it calls for is that tenant's: each company's books
hold exactly its seller's orders. A tenant's secret does not open another tenant's URL; an unknown tenant is
answered 404.

Needs PostgreSQL and Redis on 127.0.0.1 (skips saying what to start; fails with ``CI=true``).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import psycopg
import requests

from tests.e2e.helpers import child_env, ss_order, task_table
from tests.e2e.test_tenants import schemas, second_account  # noqa: F401  (fixtures)
from tests.e2e.test_workers import PG, REDIS, _assert_exact, _stop, _wait_books, _workers

SECRETS = {"alice": "alice-hook-secret-51c2", "bob": "bob-hook-secret-9e07"}


def _config(box, tenant: str, schema: str, registry: str, queue: str):
    name, table = task_table("shipstation-to-quickbooks", every_minutes=600)  # scheduled once, at the start
    table["source_options"] = {}  # every new order: ORDER_NOTIFY is for new orders
    path = box.write([(name, table)], extra={"shipstation": {"webhook_secret": SECRETS[tenant]}})
    head = (f'[state]\nurl = "{PG}"\nschema = "{schema}"\nregistry_schema = "{registry}"\nlease_seconds = 3\n\n'
            f'[broker]\nurl = "{REDIS}"\nqueue = "{queue}"\nheartbeat_seconds = 5\n\n')
    path.write_text(head + path.read_text().replace('[state]\npath = "connex.db"\n', ""))
    return path


def _finished_runs(schema: str) -> int:
    with psycopg.connect(PG, autocommit=True) as db:
        try:
            return db.execute(f'SELECT count(*) FROM "{schema}".runs WHERE finished_at IS NOT NULL').fetchone()[0]
        except psycopg.errors.UndefinedTable:  # no process has opened this tenant's state yet
            return 0


def _inbox(schema: str) -> list[tuple[str, str]]:
    with psycopg.connect(PG, autocommit=True) as db:
        return [tuple(r) for r in db.execute(f'SELECT connection, state FROM "{schema}".inbox ORDER BY id')]


def _wait(predicate, seconds: float, procs, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert all(p.poll() is None for p in procs), f"a process exited while waiting for {what}"
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.1)


def _subscribe(ss, url: str) -> None:
    answer = requests.post(f"{ss.base_url}/webhooks/subscribe", auth=(ss.api_key, ss.api_secret), timeout=5,
                           json={"target_url": url, "event": "ORDER_NOTIFY", "store_id": None,
                                 "friendly_name": "connex"})
    assert answer.status_code in (200, 201), answer.text


def _add_orders(box, prefix: str, n: int) -> dict:
    from decimal import Decimal

    box.quickbooks.warn_duplicate_doc_number = False  # Connex, not the company's setting, keeps the books exact
    want = {}
    for i in range(n):
        number = f"{prefix}-{i + 1:03d}"
        items = [("MUG-BLU", "Blue mug", 1 + i % 3, "12.50")]
        box.shipstation.add_order(ss_order(number, box.clock.utcnow() - timedelta(minutes=5), items=items,
                                           shipping="4.00"))
        want[number] = Decimal("12.50") * (1 + i % 3) + Decimal("4.00")
    return want


def test_each_tenants_webhooks_are_verified_kept_and_run_as_that_tenants(live_sandbox, second_account, schemas,
                                                                         tmp_path):
    from connex_core.tenants import Registry

    queue = f"connex-tenant-hooks-{uuid.uuid4().hex[:8]}"
    boxes = {"alice": live_sandbox, "bob": second_account}
    configs = {t: _config(box, t, schemas[t], schemas["registry"], queue) for t, box in boxes.items()}
    registry = Registry(PG, schemas["registry"])
    for tenant, path in configs.items():
        registry.add(tenant, path)
    registry.close()

    procs = _workers(configs["alice"], 2, tmp_path)
    serve = subprocess.Popen([sys.executable, "-m", "connex_core", "serve", "--tenants", "--port", "0",
                              "--config", str(configs["alice"])], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, env=child_env(), cwd=tmp_path)
    procs.append(serve)
    try:
        banner = serve.stderr.readline()
        found = re.search(r"webhooks at (http://127\.0\.0\.1:\d+)/webhooks/<tenant>/<connection>", banner)
        assert found, banner
        url = found.group(1)
        # The schedule's first runs (nothing to book yet) finish before any order exists: every order that
        # reaches the books below came through its tenant's webhook.
        _wait(lambda: all(_finished_runs(schemas[t]) >= 1 for t in boxes), 120, procs, "the scheduled runs")

        # Refused: an unknown tenant, an unknown connection, one tenant's secret on another tenant's URL.
        body = {"resource_url": f"{live_sandbox.shipstation.base_url}/orders", "resource_type": "ORDER_NOTIFY"}
        assert requests.post(f"{url}/webhooks/mallory/shipstation/{SECRETS['alice']}", json=body,
                             timeout=10).status_code == 404
        assert requests.post(f"{url}/webhooks/alice/nope/{SECRETS['alice']}", json=body, timeout=10).status_code == 404
        assert requests.post(f"{url}/webhooks/bob/shipstation/{SECRETS['alice']}", json=body,
                             timeout=10).status_code == 401
        assert requests.post(f"{url}/webhooks/shipstation/{SECRETS['alice']}", json=body, timeout=10).status_code == 404

        for tenant, box in boxes.items():
            _subscribe(box.shipstation, f"{url}/webhooks/{tenant}/shipstation/{SECRETS[tenant]}")
        want = {"alice": _add_orders(live_sandbox, "ALICE", 6), "bob": _add_orders(second_account, "BOB", 4)}
        for tenant, box in boxes.items():  # one ORDER_NOTIFY per order, each answered 200
            assert box.shipstation.deliver_webhooks() == len(want[tenant])
        for tenant, box in boxes.items():
            _wait_books(box, want[tenant], procs, seconds=120)
        health = requests.get(f"{url}/health", timeout=10).json()
    finally:
        _stop(procs)
    err = serve.stderr.read()
    assert serve.returncode == 0, err
    for tenant, box in boxes.items():
        _assert_exact(box, want[tenant])  # each company's books hold exactly its own seller's orders, once
        kept = _inbox(schemas[tenant])  # kept and read in that tenant's own inbox
        assert kept and set(kept) == {("shipstation", "done")}
    # The old one-seller path is read as tenant "shipstation": unknown here too.
    assert health["webhooks"] == {"accepted": 10, "rejected": 1, "unknown_tenant": 2}
    assert "webhook for unknown tenant 'mallory' refused" in err and "webhook for bob/shipstation refused" in err
    assert not any(secret in err for secret in SECRETS.values())


def test_deliveries_kept_before_a_start_are_read_and_a_broken_tenant_does_not_stop_the_others(
        live_sandbox, second_account, schemas, manager):
    """In-process: the tenants' inbox reader sends each delivery's run with its own tenant's config; what was
    kept before the start is read at the start; a tenant whose config no longer loads is answered 503 while the
    other goes on."""
    import json
    from datetime import timedelta

    from connex_core.config import load_config
    from connex_core.state.factory import open_store
    from connex_core.tenant_hooks import TenantWebhooks
    from connex_core.tenants import Registry

    boxes = {"alice": live_sandbox, "bob": second_account}
    configs = {t: _config(box, t, schemas[t], schemas["registry"], "unused") for t, box in boxes.items()}
    registry = Registry(PG, schemas["registry"])
    for tenant, path in configs.items():
        registry.add(tenant, path)
    live_sandbox.shipstation.add_order(ss_order("KEPT-1", live_sandbox.clock.utcnow() - timedelta(minutes=5)))
    body = json.dumps({"resource_url": f"{live_sandbox.shipstation.base_url}/orders",
                       "resource_type": "ORDER_NOTIFY"}).encode()
    store = open_store(load_config(configs["alice"]))  # answered by an earlier process, which then stopped
    store.inbox_put("shipstation", "digest-of-an-earlier-delivery", {"content-type": "application/json"}, body)
    store.close()

    sent = []
    hooks = TenantWebhooks(registry, manager, lambda path, task, orders: sent.append((path, task, orders)),
                           port=0, tick=0.1).start()
    try:
        assert hooks.wait_read("alice", 1, timeout=30)
        assert [(p, t, [o["number"] for o in orders]) for p, t, orders in sent] == [
            (str(configs["alice"]), "shipstation-to-quickbooks", ["KEPT-1"])]
        configs["bob"].write_text("[state\n")  # bob's config breaks: bob's webhooks wait, alice's go on
        answer = requests.post(f"{hooks.url}/webhooks/bob/shipstation/{SECRETS['bob']}", data=body, timeout=10)
        assert answer.status_code == 503
        answer = requests.post(f"{hooks.url}/webhooks/alice/shipstation/{SECRETS['alice']}", data=body + b" ",
                               timeout=10)
        assert answer.status_code == 200
        assert hooks.wait_read("alice", 2, timeout=30)
        assert [p for p, _, _ in sent] == [str(configs["alice"])] * 2
    finally:
        hooks.stop()
        registry.close()
