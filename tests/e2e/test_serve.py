"""``connex serve`` as a child process: webhooks from the simulators run the affected task within seconds;
a webhook with a bad signature is refused and logged; SIGTERM stops it cleanly."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import requests

from tests.e2e.helpers import POBOX, STREET, WEBHOOK_SECRET, add_invoice, child_env, ss_order, task_table


def wait_for(predicate, seconds: float = 10.0):
    """Poll until ``predicate()`` is truthy (the worker runs tasks in the background)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s")


def idle(url: str) -> None:
    """Wait until ``connex serve`` has finished every run it queued (what a "nothing else happened" check
    must wait on: a webhook answered may have queued a run that has not written anything yet)."""
    wait_for(lambda: requests.get(f"{url}/health", timeout=5).json()["unfinished"] == 0)


ORDER_FLOWS = ("shipstation-to-quickbooks", "quickbooks-to-shipstation", "xero-to-shipstation")


@pytest.fixture
def start_serve(tmp_path):
    """``start_serve(box, flows, only_shipped=False)``: ``connex serve --port 0`` on a config of the standard
    ``flows`` (ShipStation -> QuickBooks without its ``shipped`` filter unless asked); returns (URL, process)."""
    started = []

    def start(box, flows=ORDER_FLOWS, only_shipped: bool = False):
        tasks = [task_table(name) for name in flows]
        for name, table in tasks:
            if name == "shipstation-to-quickbooks" and not only_shipped:
                table["source_options"] = {}  # every new order, not only shipped ones: ORDER_NOTIFY is for new orders
        config = box.write(tasks, extra={"shipstation": {"webhook_secret": WEBHOOK_SECRET}})
        proc = subprocess.Popen([sys.executable, "-m", "connex_core", "serve", "--config", str(config), "--port", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(),
                                cwd=tmp_path)
        started.append(proc)
        banner = ""
        while "webhooks at" not in banner:
            line = proc.stderr.readline()
            assert line, f"connex serve exited {proc.wait()}: {banner}"
            banner += line
        return re.search(r"webhooks at (http://127\.0\.0\.1:\d+)/webhooks", banner).group(1), proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def serving(sandbox, start_serve):
    return start_serve(sandbox)


def subscribe(ss, url: str, event: str) -> None:
    """Subscribe the serve URL (with its secret) to a ShipStation event, through the API as a user would."""
    answer = requests.post(f"{ss.base_url}/webhooks/subscribe", auth=(ss.api_key, ss.api_secret), timeout=5,
                           json={"target_url": f"{url}/webhooks/shipstation/{WEBHOOK_SECRET}", "event": event,
                                 "store_id": None, "friendly_name": "connex"})
    assert answer.status_code in (200, 201), answer.text


def stop(proc: subprocess.Popen) -> str:
    """SIGTERM, as a service manager stops it: it must exit 0 by itself. Returns what it wrote on stderr."""
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in err
    return err


def test_a_shipstation_order_notify_posts_the_order_to_quickbooks_within_seconds(sandbox, serving):
    url, proc = serving
    ss = sandbox.shipstation
    subscribe(ss, url, "ORDER_NOTIFY")
    ss.add_order(ss_order("W-1001", sandbox.clock.utcnow() - timedelta(minutes=5)))

    started = time.monotonic()
    assert ss.deliver_webhooks() == 1
    [invoice] = wait_for(lambda: sandbox.quickbooks.entities("Invoice"), seconds=10)
    assert invoice["DocNumber"] == "W-1001"
    assert time.monotonic() - started < 10
    stop(proc)


def test_a_shipstation_webhook_without_the_secret_is_refused(sandbox, serving):
    url, proc = serving
    sandbox.shipstation.add_order(ss_order("W-2001", sandbox.clock.utcnow() - timedelta(minutes=5)))
    body = {"resource_url": f"{sandbox.shipstation.base_url}/orders", "resource_type": "ORDER_NOTIFY"}
    assert requests.post(f"{url}/webhooks/shipstation/not-the-secret", json=body, timeout=5).status_code == 401
    assert requests.post(f"{url}/webhooks/shipstation", json=body, timeout=5).status_code == 401
    assert requests.get(f"{url}/health", timeout=5).json()["webhooks"] == {"accepted": 0, "rejected": 2}
    idle(url)
    assert sandbox.quickbooks.entities("Invoice") == []
    err = stop(proc)
    assert "webhook for shipstation refused" in err and WEBHOOK_SECRET not in err
    assert sandbox.quickbooks.entities("Invoice") == []


def test_quickbooks_and_xero_webhooks_are_verified_by_their_signatures(sandbox, serving):
    url, proc = serving
    qb, xero, ss = sandbox.quickbooks, sandbox.xero, sandbox.shipstation
    [doc] = qb.seed_documents(1, unpaid_every=0, class_every=0)
    with xero.lock:
        contact = xero.books.create_contact({"Name": "Hook Test Ltd", "Addresses": [POBOX, STREET]}).record
    invoice = add_invoice(xero, "INV-HOOK", "ShipStation", contact["ContactID"])
    entity = "Invoice" if "DueDate" in doc else "SalesReceipt"

    forged = [("quickbooks", *qb.webhook([(entity, doc["Id"], "Create")], token="not-the-verifier")),
              ("xero", *xero.webhook([invoice["InvoiceID"]], key="not-the-webhook-key"))]
    for connection, headers, body in forged:
        refused = requests.post(f"{url}/webhooks/{connection}", data=body, headers=headers, timeout=5)
        assert refused.status_code == 401, (connection, refused.text)
    tampered_headers, tampered = qb.webhook([(entity, doc["Id"], "Create")])
    refused = requests.post(f"{url}/webhooks/quickbooks", data=tampered.replace(b".created.", b".updated."),
                            headers=tampered_headers, timeout=5)
    assert refused.status_code == 401
    health = requests.get(f"{url}/health", timeout=5).json()
    assert health["webhooks"] == {"accepted": 0, "rejected": 3}
    idle(url)
    assert not [o for o in ss.orders.values() if o["orderKey"].startswith("connex:")]

    signed = [("quickbooks", *qb.webhook([(entity, doc["Id"], "Create")])), ("xero", *xero.webhook([invoice["InvoiceID"]]))]
    for connection, headers, body in signed:
        accepted = requests.post(f"{url}/webhooks/{connection}", data=body, headers=headers, timeout=5)
        assert accepted.status_code == 200, (connection, accepted.text)
    keys = {f"connex:quickbooks:{entity}-{doc['Id']}", f"connex:xero:{invoice['InvoiceID']}"}
    wait_for(lambda: keys <= {o["orderKey"] for o in ss.orders.values()}, seconds=10)
    err = stop(proc)
    assert "webhook for quickbooks refused" in err and "webhook for xero refused" in err


def test_a_ship_notify_puts_the_tracking_on_the_quickbooks_document_within_seconds(live_sandbox, start_serve):
    qb, ss = live_sandbox.quickbooks, live_sandbox.shipstation
    url, proc = start_serve(live_sandbox, ("quickbooks-to-shipstation", "tracking-to-quickbooks"))
    subscribe(ss, url, "SHIP_NOTIFY")
    [doc] = qb.seed_documents(1, unpaid_every=0, class_every=0)
    entity = "Invoice" if "DueDate" in doc else "SalesReceipt"
    headers, body = qb.webhook([(entity, doc["Id"], "Create")])
    assert requests.post(f"{url}/webhooks/quickbooks", data=body, headers=headers, timeout=5).status_code == 200
    order = wait_for(lambda: next((o for o in ss.orders.values() if o["orderNumber"] == doc["DocNumber"]), None))

    ss.ship_order(order["orderId"], "fedex", "7712000099", live_sandbox.clock.utcnow().date(), Decimal("9.15"))
    assert ss.deliver_webhooks() == 1
    wait_for(lambda: qb.get(entity, doc["Id"]).get("TrackingNum") == "7712000099")
    stop(proc)



def test_with_the_shipped_filter_a_ship_notify_exports_the_order_with_its_tracking(live_sandbox, start_serve):
    """The default flow: only shipped orders go to QuickBooks, so the label (SHIP_NOTIFY) is what exports it."""
    ss, qb = live_sandbox.shipstation, live_sandbox.quickbooks
    url, proc = start_serve(live_sandbox, ("shipstation-to-quickbooks",), only_shipped=True)
    subscribe(ss, url, "ORDER_NOTIFY")
    subscribe(ss, url, "SHIP_NOTIFY")
    order = ss.add_order(ss_order("W-3001", live_sandbox.clock.utcnow()))
    assert ss.deliver_webhooks() == 1  # answered: whatever it queued is in the queue
    idle(url)
    assert qb.entities("Invoice") == [], "an order that has not shipped was exported"

    ss.ship_order(order["orderId"], "ups", "1ZW3001", live_sandbox.clock.utcnow().date(), Decimal("6.20"))
    assert ss.deliver_webhooks() == 1
    [invoice] = wait_for(lambda: qb.entities("Invoice"))
    assert (invoice["DocNumber"], invoice["TrackingNum"]) == ("W-3001", "1ZW3001")
    stop(proc)
