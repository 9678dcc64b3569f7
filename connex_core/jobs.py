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
from typing import Any, Optional

from .errors import ConfigurationError

log = logging.getLogger("connex.jobs")

ACTOR = "connex_run_task"
#: A busy task (its lease held elsewhere) is retried with backoff, this many times at most.
BUSY_RETRIES = 20


class Busy(Exception):
    """The task's lease is held by another process: let the broker deliver the message again later."""


def make_broker(url: str, *, heartbeat_seconds: float = 60.0) -> Any:
    """A Dramatiq broker for ``redis://...`` or ``amqp://...``."""
    try:
        if url.startswith(("redis://", "rediss://", "unix://")):
            from dramatiq.brokers.redis import RedisBroker

            return RedisBroker(url=url, heartbeat_timeout=int(heartbeat_seconds * 1000))
        if url.startswith(("amqp://", "amqps://")):
            from dramatiq.brokers.rabbitmq import RabbitmqBroker

            return RabbitmqBroker(url=url)
    except ImportError as exc:  # pragma: no cover - both clients are dependencies of connex-core
        raise ConfigurationError(f"the broker client is missing ({exc.name}); pip install 'dramatiq[redis,rabbitmq]'",
                                 key="broker.url") from None
    raise ConfigurationError("expected a redis:// or amqp:// address", key="broker.url")


def run_job(config_path: str, task: str, orders: Optional[list[dict]] = None) -> dict:
    """What a worker does with one message: one run of one task, under the task's lease."""
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
    try:
        with TaskLease(store, task, holder=holder_name("connex worker"), ttl=cfg.state.lease_seconds):
            given = [Order.model_validate(o) for o in orders] if orders is not None else None
            summary = engine.run_task(task, orders=given)
        log.info("task %s of %s: %s", task, config_path, summary.as_dict())
        return summary.as_dict()
    except TaskBusy as exc:
        raise Busy(str(exc)) from None
    finally:
        engine.close()
        store.close()


class Jobs:
    """The broker side of one process: declares the actor, sends messages, runs workers."""

    def __init__(self, url: str, *, queue: str = "connex", heartbeat_seconds: float = 60.0,
                 min_backoff_ms: int = 1000, max_backoff_ms: int = 30000):
        import dramatiq

        self.broker = make_broker(url, heartbeat_seconds=heartbeat_seconds)
        self.queue = queue
        self.actor = dramatiq.actor(run_job, actor_name=ACTOR, queue_name=queue, broker=self.broker,
                                    max_retries=BUSY_RETRIES, min_backoff=min_backoff_ms, max_backoff=max_backoff_ms,
                                    retry_when=_retry_when, time_limit=6 * 3600 * 1000)

    def send(self, config_path: str, task: str, orders: Optional[list[dict]] = None) -> str:
        message = self.actor.send(str(config_path), task, orders)
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
