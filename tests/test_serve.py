"""``connex serve``: schedules, webhooks (verified), clean stop."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from connex_core.config import load_config
from connex_core.serve import Server
from tests.support.memory_plugin import api, seed


@pytest.fixture
def hook_config(write_config, tmp_path):
    (tmp_path / "hook.key").write_text("hook-key-123\n")  # a secret is given by reference, never inline
    return write_config("""
        [connections.src]
        type = "memory"
        space = "src"
        token = { file = "hook.key" }
        [connections.dst]
        type = "memory"
        space = "dst"
        [tasks.orders]
        source = "src"
        target = "dst"
        every_minutes = 60
        initial_days = 30
    """)


def wait_for(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def sign(body: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def test_tasks_run_on_start_then_webhooks_run_them_at_once(manager, hook_config):
    seed("src", 5)
    server = Server(load_config(hook_config), manager, port=0, tick=0.02).start()
    try:
        assert wait_for(lambda: len(api("dst").documents) == 5)
        from tests.support import memory_plugin

        order = memory_plugin.make_order(source="memory", source_id="w1", number="WEB-1")
        api("src").orders.append(order)
        body = json.dumps({"numbers": ["WEB-1"]}).encode()
        started = time.monotonic()
        r = requests.post(f"{server.url}/webhooks/src", data=body, headers={"X-Signature": sign(body, "hook-key-123")},
                          timeout=5)
        assert r.status_code == 200  # answered once the delivery is kept in the inbox
        # the inbox worker reads it and queues the run (before it counts the delivery as read); then the
        # run finishes: its order is there now
        assert server.wait_inbox(1, timeout=10) and server.wait_idle(10)
        assert "WEB-1" in api("dst").numbers() and len(server.runs) == 2
        assert time.monotonic() - started < 5  # not the 60-minute schedule
        assert server.webhooks == {"accepted": 1, "rejected": 0}
    finally:
        server.stop()


def test_a_webhook_with_a_bad_signature_is_refused_and_runs_nothing(manager, hook_config, caplog):
    server = Server(load_config(hook_config), manager, port=0, tick=0.02).start()
    try:
        assert wait_for(lambda: len(server.runs) == 1)
        body = json.dumps({"numbers": ["1001"]}).encode()
        r = requests.post(f"{server.url}/webhooks/src", data=body, headers={"X-Signature": sign(body, "wrong")}, timeout=5)
        assert r.status_code == 401
        assert requests.post(f"{server.url}/webhooks/nope", data=b"{}", timeout=5).status_code == 404
        # both were answered; had either queued a run, the worker is busy with it until it has finished
        assert server.wait_idle(10)
        assert len(server.runs) == 1 and server.webhooks["rejected"] == 1
        assert "webhook for src refused: bad signature" in caplog.text
    finally:
        server.stop()


def test_a_task_never_runs_twice_at_once(manager, hook_config):
    server = Server(load_config(hook_config), manager, port=0, tick=0.02)
    assert server.enqueue("orders", "schedule") is True
    assert server.enqueue("orders", "schedule") is False  # already waiting
    assert server.jobs.qsize() == 1


def test_sigterm_stops_connex_serve_cleanly(hook_config):
    env = dict(os.environ, CONNEX_LOAD_PLUGINS="none")
    proc = subprocess.Popen([sys.executable, "-m", "connex_core", "serve", "--config", str(hook_config), "--port", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    watchdog = threading.Timer(90, proc.kill)  # a hang (not a cold start on a loaded machine) fails the test instead of blocking the suite
    watchdog.start()
    try:
        errs = ""
        while "webhooks at" not in errs:  # the banner: the signal handlers are installed, the server is up
            line = proc.stderr.readline()
            assert line, f"connex serve exited {proc.wait()} before it was ready: {errs}"
            errs += line
        proc.send_signal(signal.SIGTERM)
        errs += proc.stderr.read()
        proc.wait()
    finally:
        watchdog.cancel()
        proc.kill()
    assert "stopping: letting the batch in flight finish" in errs
    assert errs.rstrip().endswith("stopped")
    assert proc.returncode == 0


def test_document_tasks_are_queued_before_tracking_tasks(manager, write_config):
    path = write_config("""
        [connections.a]
        type = "memory"
        [tasks.tracking-back]
        source = "a"
        target = "a"
        kind = "tracking"
        [tasks.orders-out]
        source = "a"
        target = "a"
    """)
    server = Server(load_config(path), manager, port=0, tick=0.02)
    try:
        assert list(server.next_due) == ["orders-out", "tracking-back"]
    finally:
        server.stop()
