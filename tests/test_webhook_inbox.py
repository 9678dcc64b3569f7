"""``connex serve`` answers a webhook first and works later: verified deliveries go to a durable inbox in the
state store, answered at once; the inbox worker reads them and runs the tasks. A process killed after
answering loses nothing; one unreadable delivery never holds up the others. And the HTTP side answers every
request, however malformed, with a status and a log line (issue 15.5).

No test here waits on a fixed sleep: each waits on what the server says it did (requests answered,
deliveries read) or drives the inbox by hand.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
from datetime import datetime, timedelta, timezone

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
        every_minutes = 600
        initial_days = 30
    """)


def signed(numbers, key: str = "hook-key-123") -> tuple[dict, bytes]:
    body = json.dumps({"numbers": numbers}).encode()
    sig = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
    return {"x-signature": sig, "content-type": "application/json"}, body


def listening(config, manager) -> Server:
    """A server whose HTTP side listens but whose inbox worker and scheduler do not run: what happens before
    the answer can be told apart from what happens after."""
    server = Server(load_config(config), manager, port=0, tick=0.02)
    server.http.start()
    server.port = server.http.port
    return server


def test_a_verified_webhook_is_kept_and_answered_before_any_work(manager, hook_config):
    seed("src", 3)
    server = listening(hook_config, manager)
    try:
        headers, body = signed(["1001", "1002"])
        answer = requests.post(f"{server.url}/webhooks/src", data=body, headers=headers, timeout=5)
        assert answer.status_code == 200
        assert api("src").webhook_reads == 0 and server.jobs.qsize() == 0  # nothing read, nothing run yet
        assert server.store.inbox_counts() == {"new": 1}
        assert server.drain_inbox() == 1
        assert api("src").webhook_reads == 1
        job = server.jobs.get_nowait()
        assert (job.task, sorted(o.number for o in job.orders)) == ("orders", ["1001", "1002"])
        assert server.store.inbox_counts() == {"done": 1}
    finally:
        server.stop()


def test_a_delivery_answered_before_a_kill_is_worked_through_at_the_next_start(manager, hook_config):
    # Orders older than the task's window: a scheduled run reads none of them, so only the kept delivery can
    # bring order 1003 to the target.
    seed("src", 3, start=datetime.now(timezone.utc) - timedelta(days=90))
    first = listening(hook_config, manager)
    headers, body = signed(["1003"])
    assert requests.post(f"{first.url}/webhooks/src", data=body, headers=headers, timeout=5).status_code == 200
    first.stop()  # as if killed right after answering: nothing was read
    assert api("dst").documents == {} and api("src").webhook_reads == 0
    created = threading.Event()
    again = Server(load_config(hook_config), manager, port=0, tick=0.02,
                   on_run=lambda summary: summary.counts.get("created") and created.set())
    again.start()
    try:
        assert again.wait_inbox(1, timeout=20)
        assert created.wait(timeout=20)
        assert again.store.inbox_counts() == {"done": 1}
    finally:
        again.stop()
    assert sorted(d["number"] for d in api("dst").documents.values()) == ["1003"]


def test_one_unreadable_delivery_does_not_hold_up_the_others(manager, hook_config):
    seed("src", 3)
    server = listening(hook_config, manager)
    try:
        bad_headers, bad_body = signed(5)  # signed, but not a body the connector can read
        good_headers, good_body = signed(["1002"])
        for h, b in ((bad_headers, bad_body), (good_headers, good_body)):
            assert requests.post(f"{server.url}/webhooks/src", data=b, headers=h, timeout=5).status_code == 200
        assert server.drain_inbox() == 2
        assert server.store.inbox_counts() == {"failed": 1, "done": 1}
        [job] = [server.jobs.get_nowait()]
        assert [o.number for o in job.orders] == ["1002"]
    finally:
        server.stop()


def test_a_passing_api_error_is_retried_then_read(manager, hook_config):
    seed("src", 2)
    api("src").fail_webhook_reads = 2
    server = listening(hook_config, manager)
    try:
        headers, body = signed(["1001"])
        assert requests.post(f"{server.url}/webhooks/src", data=body, headers=headers, timeout=5).status_code == 200
        assert server.drain_inbox() == 0 and server.drain_inbox() == 0  # tried, kept for another try
        assert server.store.inbox_counts() == {"new": 1}
        assert server.drain_inbox() == 1 and server.store.inbox_counts() == {"done": 1}
        assert api("src").webhook_reads == 3
    finally:
        server.stop()


def test_the_same_delivery_twice_is_kept_once(manager, hook_config):
    server = listening(hook_config, manager)
    try:
        headers, body = signed(["1001"])
        for _ in range(2):  # the API retried: it did not see our first answer
            assert requests.post(f"{server.url}/webhooks/src", data=body, headers=headers, timeout=5).status_code == 200
        assert server.store.inbox_counts() == {"new": 1}
        assert server.webhooks == {"accepted": 2, "rejected": 0}
    finally:
        server.stop()


def test_a_bad_signature_is_refused_and_not_kept(manager, hook_config, caplog):
    server = listening(hook_config, manager)
    try:
        headers, body = signed(["1001"], key="wrong")
        assert requests.post(f"{server.url}/webhooks/src", data=body, headers=headers, timeout=5).status_code == 401
        assert server.store.inbox_counts() == {}
        assert "webhook for src refused" in caplog.text
    finally:
        server.stop()


# -- every request answered (issue 15.5) -----------------------------------------------------------

def raw(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes as they are (requests would fix the headers) and read the answer's status line and headers."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize("length", [b"abc", b"-5", b"-1", b"1e3", b"5, 6"])
def test_a_malformed_content_length_is_answered_400(manager, hook_config, length):
    server = listening(hook_config, manager)
    try:
        answer = raw(server.http.port, b"POST /webhooks/src HTTP/1.1\r\nHost: x\r\nContent-Length: " + length +
                     b"\r\n\r\n{}")
        assert status(answer) == 400
        assert server.store.inbox_counts() == {}
    finally:
        server.stop()


def test_a_huge_body_is_refused_413_before_it_is_read(manager, hook_config):
    server = listening(hook_config, manager)
    try:
        # 256 MB announced, not one byte of it sent: the answer must come without the server reading it.
        answer = raw(server.http.port, b"POST /webhooks/src HTTP/1.1\r\nHost: x\r\nContent-Length: 268435456\r\n"
                                       b"x-signature: abc\r\n\r\n")
        assert status(answer) == 413
        assert server.http.counts["too_large"] == 1
        # Chunked (no length to refuse by): cut off once past the limit.
        chunk = b"x" * 65536
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n"
        answer = raw(server.http.port, b"POST /webhooks/src HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + body)
        assert status(answer) == 413
    finally:
        server.stop()


def test_a_signature_header_outside_ascii_is_refused_401(manager, hook_config, caplog):
    server = listening(hook_config, manager)
    try:
        answer = raw(server.http.port, b"POST /webhooks/src HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                       b"x-signature: \xe9t\xe9\r\n\r\n{}")
        assert status(answer) == 401
        assert "Traceback" not in caplog.text
    finally:
        server.stop()


def test_unknown_paths_methods_and_connections_get_answers(manager, hook_config):
    server = listening(hook_config, manager)
    try:
        assert requests.get(f"{server.url}/nothing", timeout=5).status_code == 404
        assert requests.get(f"{server.url}/webhooks/src", timeout=5).status_code == 405
        assert requests.post(f"{server.url}/webhooks/nope", data=b"{}", timeout=5).status_code == 404
        health = requests.get(f"{server.url}/health", timeout=5).json()
        assert health["ok"] is True and health["inbox"] == {}
        assert server.http.wait_answered(4, timeout=5)
    finally:
        server.stop()
