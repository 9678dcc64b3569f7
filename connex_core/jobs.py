"""Task runs as jobs on Dramatiq, over Redis or RabbitMQ: ``connex worker`` runs them, ``connex serve`` sends them.

Without a ``[broker]`` section nothing here is used: ``connex serve`` runs its tasks in its own process.
With one, ``connex serve`` becomes the scheduler and webhook receiver and sends one message per task run;
any number of ``connex worker`` processes, on any machines that reach the broker and the state store, run them.

Why Dramatiq (docs/scale.md): messages are acknowledged only after the job returns (late acknowledgement is
its default, not an option to remember), a worker killed mid-run leaves its message to be delivered again
(RabbitMQ at once, Redis after the broker's heartbeat timeout), and it speaks both brokers the project's
machines run with one small API. Exactly-once comes from the ledger and the task lease, not from the
broker: a message delivered twice runs the task twice, and the second run finds everything done.

A message names the config file of the tenant it belongs to, so one pool of workers serves every tenant.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Optional

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .sync.slices import Slice

log = logging.getLogger("connex.jobs")

ACTOR = "connex_run_task"
#: A busy task (its lease held elsewhere) is retried with backoff, this many times at most.
BUSY_RETRIES = 20
#: Per million Redis commands, how many also run Dramatiq's maintenance, which hands a dead worker's unacknowledged
#: messages (once its heartbeat is ``heartbeat_seconds`` old) back to the queue. Dramatiq's default (1,000: 0.1%)
#: with an idle worker polling about 8 times a second meant a killed worker's job waited two minutes on average,
#: sometimes many more; at 5% another worker takes it a few seconds after the heartbeat runs out. The script is one
#: small Lua call on Connex's few queues.
REDIS_MAINTENANCE_CHANCE = 50_000


class Busy(Exception):
    """The task's lease is held by another process: let the broker deliver the message again later."""


def make_broker(url: str, *, heartbeat_seconds: float = 60.0) -> Any:
    """A Dramatiq broker for ``redis://...`` or ``amqp://...``."""
    try:
        if url.startswith(("redis://", "rediss://", "unix://")):
            from dramatiq.brokers.redis import RedisBroker

            return RedisBroker(url=url, heartbeat_timeout=int(heartbeat_seconds * 1000),
                               maintenance_chance=REDIS_MAINTENANCE_CHANCE)
        if url.startswith(("amqp://", "amqps://")):
            from dramatiq.brokers.rabbitmq import RabbitmqBroker

            return RabbitmqBroker(url=url)
    except ImportError as exc:  # pragma: no cover - both clients are dependencies of connex-core
        raise ConfigurationError(f"the broker client is missing ({exc.name}); pip install 'dramatiq[redis,rabbitmq]'",
                                 key="broker.url") from None
    raise ConfigurationError("expected a redis:// or amqp:// address", key="broker.url")


def slice_of(broker: Any) -> Optional["Slice"]:
    """The share of work a job does before it yields its worker (``[broker] slice_*``; None: not sliced)."""
    from .sync.slices import Slice

    share = Slice(orders=broker.slice_orders, seconds=broker.slice_seconds, wait_seconds=broker.slice_wait_seconds)
    return share if share.active else None


def run_job(config_path: str, task: str, orders: Optional[list[dict]] = None, *,
            jobs: Optional["Jobs"] = None) -> dict:
    """What a worker does with one message: one run of one task, under the task's lease.

    With ``jobs`` (a worker's, whose ``slicing`` is set) a run of the task's window is cut into slices: it stops
    at an order boundary once its share is done, like a clean stop (the ledger has every booked order, the
    cursor stays), and its continuation is sent to the back of the queue, delayed by a rate limit's wait when
    that is what ended the slice. The lease is given up before the continuation is sent; a worker that dies
    in between leaves this message unacknowledged, delivered again: the ledger keeps the books exact."""
    from .config import load_config
    from .engine import SyncEngine
    from .models import Order
    from .plugins import get_manager
    from .state.factory import open_store
    from .state.lease import TaskBusy, TaskLease, holder_name

    from .limits import configure as configure_limits

    cfg = load_config(config_path)
    configure_limits(cfg)
    store = open_store(cfg)
    engine = SyncEngine(cfg, get_manager(), store)
    share = jobs.slice() if jobs is not None and orders is None else None
    try:
        with TaskLease(store, task, holder=holder_name("connex worker"), ttl=cfg.state.lease_seconds):
            given = [Order.model_validate(o) for o in orders] if orders is not None else None
            summary = engine.run_task(task, orders=given, slice=share)
        log.info("task %s of %s: %s", task, config_path, summary.as_dict())
        if summary.yielded is not None and jobs is not None:
            jobs.send(config_path, task, delay_seconds=summary.yielded)
        return summary.as_dict()
    except TaskBusy as exc:
        raise Busy(str(exc)) from None
    finally:
        engine.close()
        store.close()


class Jobs:
    """The broker side of one process: declares the actor, sends messages, runs workers."""

    def __init__(self, url: str, *, queue: str = "connex", heartbeat_seconds: float = 60.0,
                 min_backoff_ms: int = 1000, max_backoff_ms: int = 30000, slicing: Optional[Any] = None):
        import dramatiq

        self.broker = make_broker(url, heartbeat_seconds=heartbeat_seconds)
        self.queue = queue
        self.slicing = slicing
        """A worker's ``[broker]`` section: its ``slice_*`` settings cut the jobs it runs (None: whole runs)."""

        def job(config_path: str, task: str, orders: Optional[list[dict]] = None) -> None:
            run_job(config_path, task, orders, jobs=self)  # its summary is logged; Dramatiq keeps no results

        self.actor = dramatiq.actor(job, actor_name=ACTOR, queue_name=queue, broker=self.broker,
                                    max_retries=BUSY_RETRIES, min_backoff=min_backoff_ms, max_backoff=max_backoff_ms,
                                    retry_when=_retry_when, time_limit=6 * 3600 * 1000)

    def slice(self) -> Optional[Any]:
        """A fresh share for one job (None: the job runs the task to its end)."""
        return slice_of(self.slicing) if self.slicing is not None else None

    def send(self, config_path: str, task: str, orders: Optional[list[dict]] = None, *,
             delay_seconds: float = 0.0) -> str:
        """Send a task run to the back of the queue (``delay_seconds``: not to be run before then)."""
        delay = int(delay_seconds * 1000) if delay_seconds > 0 else None
        message = self.actor.send_with_options(args=(str(config_path), task, orders), delay=delay)
        return message.message_id

    def worker(self, threads: int = 1) -> Any:
        import dramatiq

        return dramatiq.Worker(self.broker, queues={self.queue}, worker_threads=threads, worker_timeout=250)

    def run_worker(self, stop: threading.Event, threads: int = 1) -> None:
        """Run jobs until ``stop`` is set; a job in flight finishes (and is acknowledged) before it returns."""
        worker = self.worker(threads)
        worker.start()
        try:
            stop.wait()
        finally:
            worker.stop(timeout=6 * 3600 * 1000)
            self.broker.close()


def _retry_when(retries: int, exc: BaseException) -> bool:
    """Retry only what another try can fix: a busy task, or an API that asked to be tried later. A config
    error, a rule error or a fatal API error would fail the same way again: logged, not retried."""
    from .errors import RetriableAPIError

    return isinstance(exc, (Busy, RetriableAPIError)) and retries < BUSY_RETRIES
