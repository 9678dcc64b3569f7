"""``connex serve`` with webhooks in the chaos runs: a serve process beside the ``connex run`` processes,
SIGKILLed and restarted at random moments while the simulated services keep sending it webhooks.

* :class:`ServeProcess`: ``connex serve`` (on the sandbox's clock, :mod:`tests.reliability.clockrun`) on a
  fixed loopback port, so the services' subscriptions stay valid across restarts.
* :class:`Sender`: the services' side of the webhooks. ShipStation's notifications (ORDER_NOTIFY, SHIP_NOTIFY,
  queued by its simulator when orders come in and ship) and signed QuickBooks and Xero change notifications of
  the documents the reverse flows read. A delivery that gets no 2xx answer (refused connection while serve is
  dead, a timeout, a 5xx) is sent again later: the harness plays an at-least-once sender, the case a receiver
  must handle (a sender that gives up leaves the change to polling, which the books checks cover). Every
  delivery answered 2xx is recorded
  (connection, SHA-256 of the body): the durable inbox must hold each one and have read it by the end
  (:func:`tests.reliability.checks.check`, ``deliveries``).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import requests

CLOCKRUN = Path(__file__).with_name("clockrun.py")
WEBHOOK_SECRET = "chaos-webhook-secret-3f9a"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """``connex serve --port PORT`` in a process of its own; its stderr goes to ``log``."""

    def __init__(self, config: Path, folder: Path, speed: float, clock, port: Optional[int] = None):
        self.config, self.folder, self.speed, self.clock = config, folder, speed, clock
        self.port = port or free_port()
        self.log = folder / "serve.log"
        self.proc: Optional[subprocess.Popen] = None
        self.starts = self.kills = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 60.0) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        cmd = [sys.executable, str(CLOCKRUN), str(self.speed), self.clock.utcnow().isoformat(),
               "serve", "--config", str(self.config), "--port", str(self.port)]
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=self.folder,
                                         env=dict(os.environ, CONNEX_CONFIG=str(self.config)))
        self.starts += 1
        deadline = time.monotonic() + timeout
        while "webhooks at" not in self.log.read_bytes()[offset:].decode(errors="replace"):  # its banner: listening
            if self.proc.poll() is not None:
                raise RuntimeError(f"connex serve exited {self.proc.returncode}: {self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"connex serve did not start within {timeout} s: {self.tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.alive:
            assert self.proc is not None
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.kills += 1

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; its exit code."""
        if not self.alive:
            return self.proc.returncode if self.proc else 0
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def health(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/health", timeout=5).json()

    def wait_idle(self, timeout: float = 120.0) -> None:
        """Until the inbox has nothing new and no run is queued or running (what serve reports on /health)."""
        deadline = time.monotonic() + timeout
        while True:
            health = self.health()
            if not health["inbox"].get("new") and not health["unfinished"]:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"connex serve not idle after {timeout} s: {health}")
            time.sleep(0.1)

    def tail(self) -> str:
        return self.log.read_bytes()[-2000:].decode(errors="replace") if self.log.exists() else ""


class Sender:
    """Sends the services' webhooks to ``serve`` from a thread of its own, again until answered 2xx."""

    def __init__(self, services: dict[str, Any], serve: ServeProcess, rng, interval: float = 0.15):
        self.services, self.serve, self.rng, self.interval = services, serve, rng, interval
        self.waiting: list[tuple[str, str, dict[str, str], bytes]] = []
        """(connection, URL path, headers, body) not yet answered 2xx."""
        self.delivered: list[tuple[str, str]] = []
        """(connection, SHA-256 of the body) of every delivery answered 2xx."""
        self.retries = 0
        self.stopping = threading.Event()
        self.thread: Optional[threading.Thread] = None
        self.lock = threading.Lock()

    def subscribe(self) -> None:
        """ShipStation's ORDER_NOTIFY and SHIP_NOTIFY to serve's URL with its secret, through the API."""
        ss = self.services["shipstation"]
        for event in ("ORDER_NOTIFY", "SHIP_NOTIFY"):
            answer = requests.post(f"{ss.base_url}/webhooks/subscribe", auth=(ss.api_key, ss.api_secret), timeout=5,
                                   json={"target_url": f"{self.serve.url}/webhooks/shipstation/{WEBHOOK_SECRET}",
                                         "event": event, "store_id": None, "friendly_name": "connex chaos"})
            answer.raise_for_status()

    def _new_deliveries(self) -> None:
        ss, qb, xero = self.services["shipstation"], self.services["quickbooks"], self.services["xero"]
        with ss.lock:
            outbox, ss.outbox = ss.outbox, []
        for url, body in outbox:
            self.waiting.append(("shipstation", url.split(self.serve.url, 1)[1], {"content-type": "application/json"},
                                 json.dumps(body).encode()))
        if self.rng.random() < 0.5:  # a QuickBooks document changed (the reverse flow reads it)
            docs = [(e, d["Id"]) for e in ("Invoice", "SalesReceipt") for d in qb.entities(e)
                    if "[connex " not in (d.get("PrivateNote") or "")]
            if docs:
                entity, ident = self.rng.choice(docs)
                headers, body = qb.webhook([(entity, ident, "Update")])
                self.waiting.append(("quickbooks", "/webhooks/quickbooks", headers, body))
        if self.rng.random() < 0.5:  # a Xero invoice changed
            ids = [i for i, inv in xero.invoices.items() if inv.get("Type") == "ACCREC"
                   and inv.get("Status") == "AUTHORISED"]
            if ids:
                headers, body = xero.webhook([self.rng.choice(ids)])
                self.waiting.append(("xero", "/webhooks/xero", headers, body))

    def send_waiting(self) -> int:
        """Try every waiting delivery once; returns how many are still waiting."""
        with self.lock:
            waiting, self.waiting = self.waiting, []
            for connection, path, headers, body in waiting:
                try:
                    ok = requests.post(self.serve.url + path, data=body, headers=headers, timeout=3).ok
                except requests.RequestException:
                    ok = False
                if ok:
                    self.delivered.append((connection, hashlib.sha256(body).hexdigest()))
                else:
                    self.retries += 1
                    self.waiting.append((connection, path, headers, body))
            return len(self.waiting)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                self._new_deliveries()
            self.send_waiting()
            self.stopping.wait(self.interval)

    def start(self) -> None:
        self.stopping.clear()
        self.thread = threading.Thread(target=self._loop, name="chaos-webhooks", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join()

    def flush(self, timeout: float = 60.0) -> None:
        """Queue what the services still have to say and send until everything is answered 2xx."""
        with self.lock:
            self._new_deliveries()
        deadline = time.monotonic() + timeout
        while self.send_waiting():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(self.waiting)} webhooks still unanswered after {timeout} s")
            time.sleep(0.1)
