"""The chaos harness: every flow synced through the simulated APIs while faults are injected and the
sync process is killed with SIGKILL at random points, then rerun until done, then checked.

What one :meth:`Chaos.run` does:

1. starts every registered simulator on one loopback server (plus a second QuickBooks company for
   the daily summaries), on a :class:`SimClock` running ``speed`` times faster than real time,
   seeds each with ``orders`` records and writes a config with the standard flows (secrets in files);
2. phase "create": arms random faults in every simulator (5xx with JSON and HTML bodies, 429 with
   each API's own headers, slow answers beyond the connection timeout, dropped connections,
   writes committed whose answer is lost), expires access tokens at random moments, and runs
   ``connex run`` in a process of its own (:mod:`tests.reliability.clockrun`) ``kills`` times,
   each killed with SIGKILL after a random delay, and ``state_kills`` times killed right after a
   random state write (between intent, write and result), and ``faulty_runs`` times to its end
   through the faults; then disarms and reruns until a run ends clean. A run that stops with "reconnect with
   `connex connect NAME`" (a SIGKILL inside a QuickBooks refresh, after the token endpoint rotated the refresh
   token and before the new one was stored: Intuit documents no grace period) is answered as a person answers
   it: ``connex connect NAME``, the simulator's authorize page allowing at once;
3. lets the simulated businesses move on (the warehouse ships, invoices get paid) and does phase
   "after shipping" the same way, so tracking write-back runs under the same faults;
4. checks the end state against the simulators' own state (:mod:`tests.reliability.checks`).

The figures (:class:`ChaosReport`) are what ``scripts/chaos.py`` prints.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import requests

from connex_core.demo import default_rules_dir
from connex_core.plugins import PluginManager
from connex_core.sandbox import Fault, SandboxServer, SimClock, SimulatedService
from connex_core.sandbox.runner import build_sandbox, standard_tasks, write_config

from . import checks
from .webhooks import WEBHOOK_SECRET, Sender, ServeProcess

CLOCKRUN = Path(__file__).with_name("clockrun.py")
#: Paths of the OAuth token endpoints: a lost answer there is the credentials tests' subject
#: (QuickBooks has no grace period, so it ends in "reconnect"), not the chaos runs'.
TOKEN_PATHS = r"^/(?!oauth2/|connect/)"

#: What a run says when a connection's stored tokens are refused for good (connex_core.errors.AuthenticationError).
RECONNECT = re.compile(r"reconnect with `connex connect ([\w.-]+)`")

HTML_502 = (b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
            b"</center><hr><center>nginx</center></body></html>")
QB_THROTTLE = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><IntuitResponse '
               b'xmlns="http://schema.intuit.com/finance/v3"><Fault type="SERVICE"><Error code="3001">'
               b"<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
               b"<Detail>The request limit was reached.</Detail></Error></Fault></IntuitResponse>")


def too_many_requests(service: SimulatedService) -> Fault:
    """A 429 as the service's API sends it (its body and rate-limit headers)."""
    if service.name == "quickbooks":
        return Fault("error", status=429, body=QB_THROTTLE, headers={"Content-Type": "application/xml"})
    if service.name == "xero":
        return Fault("error", status=429, body=b'{"Title":"Too Many Requests","Status":429}',
                     headers={"Content-Type": "application/json", "Retry-After": "2",
                              "X-Rate-Limit-Problem": "minute"})
    return Fault("error", status=429, body=b'{"message":"Too Many Requests"}',
                 headers={"Content-Type": "application/json", "X-Rate-Limit-Limit": "40",
                          "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "5"})


@dataclass
class ChaosOptions:
    orders: int = 40
    """Records seeded in each simulator."""
    seed: int = 1
    speed: float = 100.0
    """How much faster than real time the simulated clock (and the sync processes' clock) runs."""
    kills: int = 4
    """SIGKILLed runs per phase."""
    kill_window: tuple[float, float] = (0.1, 1.5)
    """Real seconds after its start at which a run is killed (uniform)."""
    faulty_runs: int = 3
    """Runs per phase that go to their end through the faults (after the killed ones)."""
    state_kills: int = 3
    """Runs per phase killed right after their N-th state write (N random in ``state_kill_range``)."""
    state_kill_range: tuple[int, int] = (1, 3)
    fault_rate: float = 0.03
    """Probability per request of each fault kind."""
    timeout: float = 1.0
    """Connection timeout (real seconds) written into every connection; slow answers take longer."""
    max_clean_runs: int = 6
    expire_tokens: bool = True
    pairs: int = 1
    """Runs per phase in which two ``connex run`` processes sync at once (one of them SIGKILLed at a random
    moment every other time): exactly once must hold between processes, not only within one."""
    guards_off: bool = True
    """Turn the simulators' own uniqueness checks off (QuickBooks' duplicate-number warning 6140, Xero's
    unique invoice number), so a duplicate Connex posts is stored and seen by the checks, not refused."""
    upsert_off: bool = False
    """Also turn ShipStation's orderKey upsert off. Off by default: Connex's writes to ShipStation *are*
    that upsert (DESIGN, exactly once: ``orderKey``), so an update of an order it wrote before (an invoice
    paid after it went out) would count as a second order; use it to see how many writes repeat."""
    serve: bool = False
    """Run ``connex serve`` beside the ``connex run`` processes, with the services sending it webhooks all along
    (:mod:`tests.reliability.webhooks`); it is SIGKILLed and restarted ``serve_kills`` times per phase."""
    serve_kills: int = 2
    lockouts: int = 0
    """Per phase, once the faults are off: the QuickBooks company refuses the stored tokens (revoked, as after a
    SIGKILL inside a refresh or a person disconnecting the app); the next run says to reconnect, and is answered
    by ``connex connect`` (:meth:`Chaos.reconnect`)."""
    say: Callable[[str], None] = lambda s: None


@dataclass
class ChaosReport:
    runs: int = 0
    killed: int = 0
    state_kills: int = 0
    """Of the killed runs, those that killed themselves right after a state write."""
    exit_codes: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    token_expiries: int = 0
    pairs: int = 0
    """Times two sync processes ran at once."""
    serve_starts: int = 0
    serve_kills: int = 0
    serve_exits: Counter = field(default_factory=Counter)
    """Exit codes of serve's clean stops (SIGTERM) at the end of each phase."""
    webhooks_resent: int = 0
    """Webhook deliveries sent again because serve gave no 2xx answer (dead, slow, busy)."""
    reconnects: Counter = field(default_factory=Counter)
    """``connex connect NAME`` runs, by connection, after a run said the connection must be reconnected."""
    checked: checks.Result = field(default_factory=checks.Result)
    seconds: float = 0.0
    stderr_tail: str = ""

    def lines(self) -> list[str]:
        c = self.checked
        out = [f"runs: {self.runs} ({self.killed} killed with SIGKILL, {self.state_kills} of them right after a "
               f"state write; exit codes "
               + ", ".join(f"{k}: {v}" for k, v in sorted(self.exit_codes.items())) + ")",
               "faults injected: " + (", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none")
               + f"; access tokens expired {self.token_expiries} times",
               "orders by flow: " + ", ".join(f"{k} {v}" for k, v in c.orders.items()),
               f"orders: {sum(c.orders.values())}, in target exactly once: {c.once}, skipped/held with a reason: "
               f"{c.skipped}",
               f"two processes at once: {self.pairs} times",
               *([f"reconnected (connex connect) after a lock-out: " + ", ".join(
                   f"{k} {v}" for k, v in sorted(self.reconnects.items()))] if self.reconnects else []),
               *([f"connex serve: started {self.serve_starts} times, {self.serve_kills} killed with SIGKILL, stopped with "
                  f"SIGTERM: exit " + ", ".join(f"{k}: {v}" for k, v in sorted(self.serve_exits.items())) + "; webhooks "
                  f"answered: {c.webhooks} ({self.webhooks_resent} sent again after no answer); inbox: "
                  + ", ".join(f"{k} {v}" for k, v in sorted(c.inbox.items()))] if self.serve_starts else []),
               f"books checked: {c.booked} documents, {c.paid} of them paid invoices",
               f"duplicates: {len(c.duplicates)}", f"lost: {len(c.lost)}",
               f"ledger mismatches: {len(c.mismatches)}", f"wrong books (totals, lines, balances, payments): "
               f"{len(c.wrong)}", f"split parts held with a reason (their parent's document lacks their lines): "
               f"{len(c.split)}",
               f"time: {self.seconds:.1f} s"]
        for title, items in (("DUPLICATE", c.duplicates), ("LOST", c.lost), ("MISMATCH", c.mismatches),
                             ("WRONG", c.wrong), ("SPLIT", c.split)):
            out += [f"  {title}: {item}" for item in items[:20]]
        return out

    @property
    def ok(self) -> bool:
        return not (self.checked.duplicates or self.checked.lost or self.checked.mismatches or self.checked.wrong)


class Chaos:
    """One chaos run in ``folder`` (see the module docstring)."""

    def __init__(self, manager: PluginManager, folder: Path, options: Optional[ChaosOptions] = None):
        self.manager = manager
        self.folder = Path(folder)
        self.opts = options or ChaosOptions()
        self.rng = random.Random(self.opts.seed)
        self.clock = SimClock(speed=self.opts.speed)
        self.report = ChaosReport()
        self.server: Optional[SandboxServer] = None
        self.config: Optional[Path] = None
        self.baseline: Optional[checks.Baseline] = None
        self.serve: Optional[ServeProcess] = None
        self.sender: Optional[Sender] = None
        self._connecting = threading.Lock()

    # -- setting up ------------------------------------------------------------------------------
    def _setup(self) -> None:
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        shutil.copytree(default_rules_dir(), self.folder / "rules")
        self.server = build_sandbox(self.manager, clock=self.clock, seed=self.opts.seed,
                                    extra={"quickbooks-summary": "quickbooks"})
        self.server.start()
        for name, service in self.server.services.items():
            service.seed(self.opts.orders if name != "quickbooks-summary" else 0)
        # The standard flows only (not their ShipStation API v2 twins): the checks account for these.
        self.config = write_config(self.server, self.folder / "connex.toml", tasks=standard_tasks(self.manager))
        text = self.config.read_text()
        for name in self.server.services:  # a short connection timeout, so slow answers time out
            text = text.replace(f"[connections.{name}]\n", f"[connections.{name}]\ntimeout = {self.opts.timeout}\n")
        text = text.replace("[tasks.shipstation-to-xero]\n", "[tasks.shipstation-to-xero]\n"
                            "target_options = { record_payments = true }\n")  # payments under chaos too
        if self.opts.serve:  # ShipStation's webhook secret, in a file as every secret
            (self.folder / "shipstation.webhook_secret").write_text(WEBHOOK_SECRET)
            text = text.replace("[connections.shipstation]\n", "[connections.shipstation]\n"
                                'webhook_secret = { file = "shipstation.webhook_secret" }\n')
        self.config.write_text(text)
        if self.opts.serve:
            self.serve = ServeProcess(self.config, self.folder, self.opts.speed, self.clock)
            self.sender = Sender(self.services, self.serve, self.rng)
            self.sender.subscribe()
        if self.opts.guards_off:
            for name, service in self.server.services.items():
                if hasattr(service, "warn_duplicate_doc_number"):
                    service.warn_duplicate_doc_number = False
                if hasattr(service, "books"):
                    service.books.unique_invoice_numbers = False
                if hasattr(service, "upsert_by_order_key") and self.opts.upsert_off:
                    service.upsert_by_order_key = False

    def _arm(self) -> None:
        rate = self.opts.fault_rate
        for service in self.services.values():
            service.faults.clear()
            for fault in (Fault("error", status=500, body=b'{"message":"An error has occurred."}',
                                headers={"Content-Type": "application/json"}),
                          Fault("error", status=502, body=HTML_502, headers={"Content-Type": "text/html"}),
                          too_many_requests(service),
                          Fault("slow", delay=self.opts.timeout + 0.3),
                          Fault("drop"),
                          Fault("lost_response", methods=("POST", "PUT"))):
                fault.rate, fault.path = rate, TOKEN_PATHS
                service.faults.add(fault)
            burst = too_many_requests(service)  # a burst: the next three API calls all answer 429
            burst.times, burst.path = 3, TOKEN_PATHS
            service.faults.faults.insert(0, burst)

    def _disarm(self) -> None:
        for service in self.services.values():
            for kind, n in service.faults.injected.items():
                self.report.faults[kind if kind != "error" else "error (5xx, 429)"] += n
            service.faults.injected.clear()
            service.faults.clear()

    @property
    def services(self) -> dict[str, SimulatedService]:
        assert self.server is not None
        return self.server.services

    @property
    def deliveries(self) -> Optional[list[tuple[str, str]]]:
        """(connection, body digest) of the webhooks serve answered 2xx, when serve ran."""
        return list(self.sender.delivered) if self.sender is not None else None

    # -- running ---------------------------------------------------------------------------------
    def _expire_tokens(self) -> None:
        for service in self.services.values():
            for method in ("expire_tokens", "expire_access_tokens"):
                if hasattr(service, method):
                    getattr(service, method)()
        self.report.token_expiries += 1

    def _start(self, state_writes: Optional[int] = None) -> subprocess.Popen:
        cmd = [sys.executable, str(CLOCKRUN), str(self.opts.speed), self.clock.utcnow().isoformat(),
               "run", "--config", str(self.config)]
        env = dict(os.environ, CONNEX_CONFIG=str(self.config))
        if state_writes is not None:
            env["CONNEX_KILL_AFTER_STATE_WRITES"] = str(state_writes)
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.folder, env=env)

    def sync_pair(self, kill_after: Optional[float] = None) -> list[int]:
        """Two ``connex run`` processes at once on the same config and state; the second is SIGKILLed after
        ``kill_after`` real seconds if still running. Both are counted as runs."""
        self.report.pairs += 1
        first = threading.Thread(target=lambda: codes.append(self.sync()))
        codes: list[int] = []
        first.start()
        time.sleep(self.rng.uniform(0.0, 0.3))
        codes.append(self.sync(kill_after=kill_after))
        first.join()
        return codes

    def sync(self, kill_after: Optional[float] = None, state_writes: Optional[int] = None) -> int:
        """One ``connex run`` in its own process; SIGKILLed after ``kill_after`` real seconds if still running,
        or by itself right after its ``state_writes``-th write to the state database."""
        proc = self._start(state_writes)
        expiry = None
        if self.opts.expire_tokens and self.rng.random() < 0.5:
            expiry = threading.Timer(self.rng.uniform(0.05, 1.0), self._expire_tokens)
            expiry.start()
        try:
            out, err = proc.communicate(timeout=kill_after)
            code = proc.returncode
            if code == -signal.SIGKILL:
                self.report.killed += 1
                self.report.state_kills += 1
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            code = -signal.SIGKILL
            self.report.killed += 1
        finally:
            if expiry is not None:
                expiry.cancel()
        self.report.runs += 1
        self.report.exit_codes[code] += 1
        self.report.stderr_tail = err.decode(errors="replace")[-2000:]
        self.opts.say(f"run {self.report.runs}: exit {code}" + (" (SIGKILL)" if code == -signal.SIGKILL else ""))
        if code == 6:
            for name in sorted(set(RECONNECT.findall(err.decode(errors="replace")))):
                self.reconnect(name)
        return code

    def reconnect(self, name: str) -> None:
        """``connex connect NAME``, as a person runs it when told to: the browser opens the authorize address it
        prints, the simulator allows at once and sends the browser to Connex's loopback redirect."""
        with self._connecting:  # two runs at once may both say so
            command = [sys.executable, "-m", "connex_core", "connect", name, "--config", str(self.config)]
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    cwd=self.folder, env=dict(os.environ, CONNEX_CONFIG=str(self.config)))
            assert proc.stdout is not None
            said = []
            for line in proc.stdout:
                said.append(line)
                if line.startswith("http"):
                    requests.get(line.strip(), timeout=30)  # the browser, following the simulator's redirect
                    break
            out, _ = proc.communicate(timeout=60)
            if proc.returncode != 0:
                raise AssertionError(f"connex connect {name} exited {proc.returncode}: {''.join(said) + out}")
            self.report.reconnects[name] += 1
            self.opts.say(f"connex connect {name}: reconnected")

    def _serve_chaos(self, done: threading.Event) -> None:
        """Kill ``connex serve`` at random moments and start it again after a pause in which the webhooks sent
        to it go unanswered (and are sent again)."""
        assert self.serve is not None
        rng = random.Random(self.rng.random())
        for _ in range(self.opts.serve_kills):
            if done.wait(rng.uniform(0.5, 3.0)):
                return
            self.serve.kill()
            self.opts.say("connex serve: SIGKILL")
            done.wait(rng.uniform(0.2, 1.0))
            self.serve.start()

    def _phase(self) -> None:
        self._arm()
        chaos_done, killer = threading.Event(), None
        if self.serve is not None and self.sender is not None:
            self.serve.start()
            self.sender.start()
            killer = threading.Thread(target=self._serve_chaos, args=(chaos_done,), daemon=True)
            killer.start()
        for _ in range(self.opts.kills):
            self.sync(kill_after=self.rng.uniform(*self.opts.kill_window))
        for _ in range(self.opts.state_kills):
            self.sync(state_writes=self.rng.randint(*self.opts.state_kill_range))
        for n in range(self.opts.pairs):
            self.sync_pair(kill_after=self.rng.uniform(*self.opts.kill_window) if n % 2 else None)
        for _ in range(self.opts.faulty_runs):
            self.sync()
        if killer is not None:
            chaos_done.set()
            killer.join()
        self._disarm()
        if self.serve is not None and self.sender is not None:  # every webhook answered and read, then a clean stop
            if not self.serve.alive:
                self.serve.start()
            self.sender.stop()
            self.sender.flush()
            self.serve.wait_idle()
            code = self.serve.stop()
            self.report.serve_exits[code] += 1
            self.report.serve_starts, self.report.serve_kills = self.serve.starts, self.serve.kills
            self.report.webhooks_resent = self.sender.retries
        for _ in range(self.opts.lockouts):  # the company every run reads (quickbooks-to-shipstation)
            self.services["quickbooks"].revoke_tokens()
            self.opts.say("quickbooks: tokens revoked")
        for _ in range(self.opts.max_clean_runs):  # until a clean end: 0, or 5 with orders held by design
            if self.sync() in (0, 5):
                return
        self.opts.say("no clean run; last stderr:\n" + self.report.stderr_tail)

    def run(self) -> ChaosReport:
        started = time.monotonic()
        self._setup()
        try:
            self.baseline = baseline = checks.Baseline.take(self.services)
            self._phase()
            for service in self.services.values():
                service.simulate_activity()
            self._phase()
            assert self.config is not None
            self.report.checked = checks.check(self.config, self.services, baseline, self.deliveries)
        finally:
            if self.serve is not None:
                self.serve.kill()
            assert self.server is not None
            self.server.stop()
        self.report.seconds = time.monotonic() - started
        return self.report
