"""The chaos harness with workers: task runs as jobs on ``connex worker`` processes (Dramatiq on Redis or on
RabbitMQ), the state on PostgreSQL, while the harness SIGKILLs workers mid-batch, restarts the broker and drops
the workers' PostgreSQL connections; then the same books checks as :mod:`tests.reliability.harness`.

What one phase of :class:`WorkerChaos` does (two phases, as the harness: before and after the simulated
businesses move on):

1. arms the simulators' faults (as the harness) and starts ``workers`` ``connex worker`` processes on the
   sandbox's clock (:mod:`tests.reliability.clockrun`);
2. rounds: sends one message per task (the harness is the scheduler) and, in each round, one disruption drawn
   in random order from

   * *worker kill*: waits until one of its workers holds a task's lease (it is in a run, between batches or in
     one) and SIGKILLs it, then starts a replacement;
   * *state kill*: starts a worker that SIGKILLs itself right after its N-th state write (between an intent, the
     API write and its result);
   * *broker restart*: Redis: the harness's own ``redis-server`` (append-only file, fsync always, as a broker
     that must not lose messages is run) SIGKILLed and started again on its port; RabbitMQ: ``rabbitmqctl
     stop_app`` then ``start_app`` (the machine's shared server: brought back in a ``finally``);
   * *PostgreSQL drop*: waits until a worker is in a run and terminates every PostgreSQL connection of this run
     (``pg_terminate_backend``, selected by the ``application_name`` in the state URL: no one else's);

   then waits until every task sent has finished a run (or a round's time is up: a message may be lost with a
   broker that went away, or a job that failed on a dropped connection);
3. disarms the faults and sends clean rounds (document tasks, then tracking) until every task's run ends
   clean; stops the workers with SIGTERM.

The checks read the ledger and log from the PostgreSQL schema (:func:`tests.reliability.checks.open_state`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .harness import Chaos, ChaosOptions, ChaosReport
from .webhooks import free_port

CLOCKRUN = Path(__file__).with_name("clockrun.py")
PG = os.environ.get("CONNEX_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
RABBIT = os.environ.get("CONNEX_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/")
HOLDER_PID = re.compile(r" pid (\d+) ")


@dataclass
class WorkerOptions(ChaosOptions):
    broker: str = "redis"
    """``redis`` (a ``redis-server`` of the harness's own, restartable) or ``rabbitmq`` (the machine's)."""
    workers: int = 2
    threads: int = 2
    """Jobs at once per worker."""
    worker_kills: int = 2
    """Per phase: workers SIGKILLed while they hold a task's lease."""
    worker_state_kills: int = 1
    """Per phase: workers that SIGKILL themselves right after a random state write."""
    broker_restarts: int = 1
    pg_drops: int = 1
    round_seconds: float = 30.0
    """How long a round waits for its runs before the next (a lost message is sent again next round)."""
    pg_url: str = PG
    state_kill_range: tuple[int, int] = (1, 20)
    disrupt_phases: int = 2
    """Phases with the disruptions above (1: the first only; the second still runs under the API faults)."""
    slice_orders: Optional[int] = None
    """The workers' ``[broker] slice_orders`` (None: the default): small, and the disruptions land on slice ends too."""


@dataclass
class WorkerReport(ChaosReport):
    worker_starts: int = 0
    worker_kills: int = 0
    """Workers SIGKILLed by the harness while holding a lease (mid-run)."""
    worker_state_kills: int = 0
    """Workers that killed themselves right after a state write."""
    broker_restarts: int = 0
    pg_drops: int = 0
    pg_connections_dropped: int = 0
    messages: int = 0
    job_runs: Counter = field(default_factory=Counter)
    """Runs the workers recorded, by status."""

    def lines(self) -> list[str]:
        head = [f"workers: {self.worker_starts} started, {self.worker_kills} SIGKILLed while holding a task's lease, "
                f"{self.worker_state_kills} killed right after a state write; messages sent: {self.messages}",
                f"broker restarts: {self.broker_restarts}; PostgreSQL drops: {self.pg_drops} "
                f"({self.pg_connections_dropped} connections terminated)",
                "runs by status: " + ", ".join(f"{k} {v}" for k, v in sorted(self.job_runs.items()))]
        return head + [line for line in super().lines() if not line.startswith(("runs:", "two processes"))]


class RedisServer:
    """A ``redis-server`` of the harness's own on a free port (the machine's Redis serves others: it is not
    restarted), with an append-only file fsynced at every write, so a SIGKILL loses no acknowledged message."""

    def __init__(self, folder: Path):
        self.folder = folder / "redis"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"],
            stdout=open(self.folder / "redis.log", "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {(self.folder / 'redis.log').read_text()[-500:]}")
            time.sleep(0.05)

    def restart(self, pause: float) -> None:
        self.stop(hard=True)
        time.sleep(pause)  # the broker is away: workers and senders meet a refused connection
        self.start()

    def stop(self, hard: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
            self.proc.wait()


class RabbitServer:
    """The machine's RabbitMQ: a restart is ``rabbitmqctl stop_app`` then ``start_app`` (the node stays up)."""

    url = RABBIT

    def start(self) -> None:
        pass

    def restart(self, pause: float) -> None:
        subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)
        try:
            time.sleep(pause)
        finally:
            for attempt in range(5):  # it must come back: other users of this server depend on it
                done = subprocess.run(["rabbitmqctl", "start_app"], capture_output=True, timeout=120)
                if done.returncode == 0:
                    break
                time.sleep(2)
            subprocess.run(["rabbitmqctl", "await_startup"], capture_output=True, timeout=120)

    def stop(self, hard: bool = False) -> None:
        pass


class WorkerChaos(Chaos):
    """One chaos run with workers in ``folder`` (see the module docstring)."""

    opts: WorkerOptions

    def __init__(self, manager, folder: Path, options: WorkerOptions):
        super().__init__(manager, folder, options)
        self.report: WorkerReport = WorkerReport()
        self.tag = uuid.uuid4().hex[:10]
        self.schema = f"connex_chaos_{self.tag}"
        self.app_name = f"connex-chaos-{self.tag}"
        self.queue = f"connex-chaos-{self.tag}"
        self.broker: Any = None
        self.procs: list[subprocess.Popen] = []
        self.jobs: Any = None
        self.phases = 0

    # -- setting up ------------------------------------------------------------------------------
    def _setup(self) -> None:
        super()._setup()
        self.broker = RedisServer(self.folder) if self.opts.broker == "redis" else RabbitServer()
        self.broker.start()
        sep = "&" if "?" in self.opts.pg_url else "?"
        assert self.config is not None
        text = self.config.read_text().replace('[state]\npath = "connex.db"\n', "")
        head = (f'[state]\nurl = "{self.opts.pg_url}{sep}application_name={self.app_name}"\n'
                f'schema = "{self.schema}"\nlease_seconds = 3\n\n'
                f'[broker]\nurl = "{self.broker.url}"\nqueue = "{self.queue}"\nheartbeat_seconds = 5\n'
                + (f"slice_orders = {self.opts.slice_orders}\n" if self.opts.slice_orders is not None else "") + "\n")
        self.config.write_text(head + text)
        from connex_core.config import load_config
        from connex_core.state.factory import open_store

        open_store(load_config(self.config)).close()  # the schema, before anything waits on its tables

    def _jobs(self):
        if self.jobs is None:
            from connex_core.jobs import Jobs

            self.jobs = Jobs(self.broker.url, queue=self.queue, heartbeat_seconds=5)
        return self.jobs

    def _close_jobs(self) -> None:
        if self.jobs is not None:
            try:
                self.jobs.broker.close()
            except Exception:
                pass
            self.jobs = None

    def send(self, tasks: list[str]) -> None:
        for task in tasks:
            for attempt in range(20):  # the broker may be restarting
                try:
                    self._jobs().send(str(self.config), task)
                    self.report.messages += 1
                    break
                except Exception as exc:
                    self.opts.say(f"send {task}: {type(exc).__name__}; again")
                    self._close_jobs()
                    time.sleep(0.5)
            else:
                raise RuntimeError(f"could not send {task} to the broker")

    # -- the state store ----------------------------------------------------------------------------
    def _db(self):
        import psycopg
        from psycopg.rows import dict_row

        db = psycopg.connect(self.opts.pg_url, autocommit=True, row_factory=dict_row)
        db.execute(f'SET search_path TO "{self.schema}"')
        return db

    def _query(self, sql: str, *args) -> list[dict[str, Any]]:
        try:
            with self._db() as db:
                return db.execute(sql, args).fetchall()
        except Exception as exc:  # a drop in progress
            self.opts.say(f"state query: {type(exc).__name__}")
            return []

    def _last_run_id(self) -> int:
        rows = self._query("SELECT COALESCE(MAX(id), 0) AS id FROM runs")
        return int(rows[0]["id"]) if rows else 0

    def _wait_runs(self, after: int, tasks: list[str], seconds: float) -> Optional[dict[str, dict[str, Any]]]:
        """The first finished run of each task with id > ``after``; None when not all finished in time. Every
        third of the time, the tasks still without a run are sent again (as the scheduler's next tick would):
        a message can be lost with the broker, or consumed by a job that died on a dropped connection."""
        first: dict[str, dict[str, Any]] = {}
        started = time.monotonic()
        deadline, resend = started + seconds, started + seconds / 3
        while time.monotonic() < deadline:
            if time.monotonic() > resend:
                resend += seconds / 3
                self.send(sorted(set(tasks) - set(first)))
            rows = self._query("SELECT id, task, status, summary FROM runs WHERE id > %s AND finished_at IS NOT NULL "
                               "ORDER BY id", after)
            first = {}
            for row in rows:
                first.setdefault(row["task"], row)
            if set(tasks) <= set(first):
                return first
            self._replace_dead()
            time.sleep(0.2)
        return None

    # -- workers -------------------------------------------------------------------------------------
    def _start_worker(self, state_writes: Optional[int] = None) -> subprocess.Popen:
        log = self.folder / f"worker-{self.report.worker_starts}.log"
        env = dict(os.environ, CONNEX_CONFIG=str(self.config))
        if state_writes is not None:
            env["CONNEX_KILL_AFTER_STATE_WRITES"] = str(state_writes)
        proc = subprocess.Popen([sys.executable, str(CLOCKRUN), str(self.opts.speed), self.clock.utcnow().isoformat(),
                                 "worker", "--config", str(self.config), "--threads", str(self.opts.threads)],
                                stdout=subprocess.DEVNULL, stderr=open(log, "wb"), cwd=self.folder, env=env)
        proc.chaos_log = log  # type: ignore[attr-defined]
        proc.state_kill = state_writes is not None  # type: ignore[attr-defined]
        self.report.worker_starts += 1
        deadline = time.monotonic() + 60
        while b"connex worker:" not in log.read_bytes():  # its banner: consuming
            if proc.poll() is not None:
                if proc.returncode == -signal.SIGKILL and state_writes is not None:
                    break  # it wrote its N state writes before the banner
                raise RuntimeError(f"connex worker exited {proc.returncode}: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"connex worker did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        self.procs.append(proc)
        return proc

    def _replace_dead(self) -> None:
        """A worker that killed itself after a state write is counted and replaced by an ordinary one."""
        for proc in list(self.procs):
            if proc.poll() is not None:
                self.procs.remove(proc)
                if proc.state_kill and proc.returncode == -signal.SIGKILL:  # type: ignore[attr-defined]
                    self.report.worker_state_kills += 1
                self.report.exit_codes[proc.returncode] += 1
                self.opts.say(f"worker {proc.pid} exited {proc.returncode}")
                if len(self.procs) < self.opts.workers:
                    self._start_worker()

    def _holding(self) -> Optional[subprocess.Popen]:
        pids = {p.pid: p for p in self.procs if p.poll() is None}
        for row in self._query("SELECT holder FROM leases"):
            m = HOLDER_PID.search(row["holder"])
            if m and int(m.group(1)) in pids:
                return pids[int(m.group(1))]
        return None

    def _kill_busy_worker(self, seconds: float = 15.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            proc = self._holding()
            if proc is not None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                self.procs.remove(proc)
                self.report.worker_kills += 1
                self.report.killed += 1
                self.report.exit_codes[proc.returncode] += 1
                self.opts.say(f"worker {proc.pid}: SIGKILL while holding a lease")
                self._start_worker()
                return
            time.sleep(0.02)
        self.opts.say("no worker held a lease: no kill this round")

    def _state_kill(self, tasks: list[str], seconds: float = 30.0) -> None:
        """Start a worker that SIGKILLs itself right after its N-th state write, and wait until it has (sending the
        tasks again while it waits, so that it gets some of them)."""
        proc = self._start_worker(state_writes=self.rng.randint(*self.opts.state_kill_range))
        deadline = time.monotonic() + seconds
        while proc.poll() is None and time.monotonic() < deadline:
            self.send(tasks)
            try:
                proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                pass
        self._replace_dead()

    def _drop_pg(self, seconds: float = 15.0) -> None:
        """Terminate this run's PostgreSQL connections (by application_name) while a worker is in a run (holds a
        task's lease: its job has the state store open), again until some were terminated or time is up."""
        import psycopg

        deadline, dropped = time.monotonic() + seconds, 0
        while not dropped and time.monotonic() < deadline:
            if self._holding() is None:
                time.sleep(0.02)
                continue
            with psycopg.connect(self.opts.pg_url, autocommit=True) as db:
                rows = db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s "
                                  "AND pid <> pg_backend_pid()", (self.app_name,)).fetchall()
            dropped = sum(1 for (ok,) in rows if ok)
        self.report.pg_drops += 1
        self.report.pg_connections_dropped += dropped
        self.opts.say(f"PostgreSQL: {dropped} connections terminated")

    def _restart_broker(self) -> None:
        self.broker.restart(self.rng.uniform(0.5, 2.0))
        self._close_jobs()
        self.report.broker_restarts += 1
        self.opts.say("broker restarted")

    def _stop_workers(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                code = proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            self.report.exit_codes[code] += 1
        self.procs = []

    # -- a phase -------------------------------------------------------------------------------------
    def _tasks(self) -> tuple[list[str], list[str]]:
        from connex_core.config import load_config

        cfg = load_config(self.config)
        names = [n for n, t in cfg.tasks.items() if t.enabled]
        return [n for n in names if cfg.tasks[n].kind != "tracking"], [n for n in names if cfg.tasks[n].kind == "tracking"]

    def _round(self, tasks: list[str], disruption: Optional[str] = None) -> Optional[dict[str, dict[str, Any]]]:
        after = self._last_run_id()
        if disruption is not None and self.opts.expire_tokens and self.rng.random() < 0.5:
            expiry = threading.Timer(self.rng.uniform(0.05, 2.0), self._expire_tokens)
            expiry.daemon = True
            expiry.start()
        self.send(tasks)
        if disruption == "kill":
            self._kill_busy_worker()
        elif disruption == "state_kill":
            self._state_kill(tasks)
        elif disruption == "broker":
            time.sleep(self.rng.uniform(0.0, 1.0))
            self._restart_broker()
        elif disruption == "pg":
            self._drop_pg()
        if disruption:
            self.send(tasks)  # what the disruption interrupted is sent again, as the scheduler's next tick would
        runs = self._wait_runs(after, tasks, self.opts.round_seconds)
        for row in (runs or {}).values():
            self.report.job_runs[row["status"]] += 1
        self.report.runs += len(runs or {})
        return runs

    def _phase(self) -> None:
        documents, tracking = self._tasks()
        self._arm()
        o = self.opts
        self.phases += 1
        disrupt = self.phases <= o.disrupt_phases
        # Workers that kill themselves after a state write come first, before the ordinary workers start: they get
        # the first jobs (RabbitMQ hands queued messages to the consumers already there) while there is most to write.
        for _ in range(o.worker_state_kills if disrupt else 0):
            self._round(documents + tracking, "state_kill")
        while len(self.procs) < o.workers:
            self._start_worker()
        events = ["kill"] * o.worker_kills + ["broker"] * o.broker_restarts + ["pg"] * o.pg_drops if disrupt else []
        self.rng.shuffle(events)
        for event in events or [None]:
            self._round(documents + tracking, event)
        self._disarm()
        self._replace_dead()
        for _ in range(o.max_clean_runs):  # clean rounds: documents first, then the tracking that lands on them
            first, second = self._round(documents), self._round(tracking)
            if first is not None and second is not None and all(
                    r["status"] == "ok" and not json.loads(r["summary"] or "{}").get("failed")
                    for r in [*first.values(), *second.values()]):
                break
        else:
            self.opts.say("no clean round")
        self._stop_workers()

    def run(self) -> WorkerReport:
        try:
            report = super().run()
        finally:
            for proc in self.procs:
                if proc.poll() is None:
                    proc.kill()
            self._close_jobs()
            if self.broker is not None:
                self.broker.stop()
            self._drop_schema()
        assert isinstance(report, WorkerReport)
        return report

    def _drop_schema(self) -> None:
        """Keep the schema while a test still reads it (:meth:`cleanup`)."""

    def cleanup(self) -> None:
        import psycopg

        with psycopg.connect(self.opts.pg_url, autocommit=True) as db:
            db.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        shutil.rmtree(self.folder, ignore_errors=True)
