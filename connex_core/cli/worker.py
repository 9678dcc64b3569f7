"""``connex worker``: run task jobs sent through the ``[broker]`` by ``connex serve`` (docs/scale.md)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from ..errors import ConfigurationError
from .common import ConfigOption, config_from, err, handle_errors


@handle_errors
def worker(
    config: ConfigOption = None,
    threads: Annotated[int, typer.Option(min=1, max=64, help="Jobs run at once in this process (one task each).")] = 1,
) -> None:
    """Run task jobs from the config's broker (Redis or RabbitMQ) until SIGTERM or Ctrl-C.

    Every message names the config of the tenant it belongs to, so one worker serves every tenant whose
    `connex serve` sends to the same broker queue. A job in flight finishes before the worker stops; a
    worker killed mid-job leaves its message to be delivered again, and the ledger keeps the books exact.
    A run yields the worker after its share (`[broker] slice_orders`, `slice_seconds`, `slice_wait_seconds`
    of this config) and carries on from the back of the queue, so one seller's backlog does not hold it.
    """
    cfg = config_from(config)
    if cfg.broker is None:
        raise ConfigurationError("connex worker needs a [broker] section with url = \"redis://...\" or "
                                 "\"amqp://...\"", file=str(cfg.path or ""), key="broker")
    from ..jobs import Jobs

    jobs = Jobs(cfg.broker.url, queue=cfg.broker.queue, heartbeat_seconds=cfg.broker.heartbeat_seconds,
                slicing=cfg.broker)
    stop = threading.Event()

    def on_signal(signum, frame):
        err("stopping: letting the jobs in flight finish ...")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    err(f"connex worker: {threads} thread(s) on queue {cfg.broker.queue!r}")
    jobs.run_worker(stop, threads=threads)
    err("stopped")
