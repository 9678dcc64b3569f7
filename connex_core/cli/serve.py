"""``connex serve``: tasks on their schedules, webhooks within seconds."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from ..plugins import get_manager
from ..serve import Server
from .common import ConfigOption, config_from, emit, err, handle_errors
from .run import format_summary


@handle_errors
def serve(
    config: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Address the webhook receiver listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the webhook receiver: POST /webhooks/CONNECTION, or /webhooks/CONNECTION/SECRET for ShipStation.")] = 8787,
    tenants: Annotated[bool, typer.Option("--tenants", help="Schedule every registered tenant's tasks (connex tenants add) and send them to the workers through the config's broker; webhooks at /webhooks/TENANT/CONNECTION (ShipStation: /webhooks/TENANT/CONNECTION/SECRET), each verified and kept by its tenant; no console.")] = False,
) -> None:
    """Run every enabled task on its schedule (every_minutes) and at once when a webhook arrives.

    Stops cleanly on SIGTERM or Ctrl-C: the batch in flight finishes, nothing is half-written.
    """
    cfg = config_from(config)
    if tenants:
        return _serve_tenants(cfg, host, port)
    _refuse_open_console(cfg, host)
    done = threading.Event()

    def stop(signum, frame):
        err("stopping: letting the batch in flight finish ...")
        done.set()

    signal.signal(signal.SIGTERM, stop)  # before the (slower) start: a signal while starting still stops it
    signal.signal(signal.SIGINT, stop)
    server = Server(cfg, get_manager(), host=host, port=port, on_run=lambda s: emit(format_summary(s.as_dict())))
    server.start()
    err(f"connex serve: {len(server.next_due)} tasks; webhooks at {server.url}/webhooks/<connection>; "
        f"console at {server.url}/")
    while not done.wait(0.5):  # a bounded wait: the main thread runs Python often, so a signal's handler runs at once
        pass
    server.stop()
    err("stopped")


def _refuse_open_console(cfg, host: str) -> None:
    """Listening beyond this machine shows the console to the network: only behind a password."""
    import ipaddress

    from ..console import ConsoleSecrets, secrets_path
    from ..errors import ConfigurationError

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not ConsoleSecrets(secrets_path(cfg.path)).password_set:
        raise ConfigurationError(f"connex serve --host {host} would show the console to the network without a "
                                 "password: set one first with connex console set-password --config "
                                 f"{cfg.path or 'F'} (or listen on 127.0.0.1)")


def _serve_tenants(cfg, host: str, port: int) -> None:
    from ..errors import ConfigurationError
    from ..jobs import Jobs
    from ..scheduler import TenantScheduler
    from ..tenant_hooks import TenantWebhooks
    from ..tenants import registry_for

    if cfg.broker is None:
        raise ConfigurationError("connex serve --tenants sends task runs to workers: add a [broker] section",
                                 file=str(cfg.path or ""), key="broker")
    registry = registry_for(cfg)
    jobs = Jobs(cfg.broker.url, queue=cfg.broker.queue, heartbeat_seconds=cfg.broker.heartbeat_seconds)
    scheduler = TenantScheduler(cfg, jobs=jobs, registry=registry)
    hooks = TenantWebhooks(registry, get_manager(), jobs.send, host=host, port=port)

    def stop(signum, frame):
        scheduler.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    hooks.start()
    err(f"connex serve: scheduling {len(registry.list())} tenants on queue {cfg.broker.queue!r}; "
        f"webhooks at {hooks.url}/webhooks/<tenant>/<connection>")
    try:
        scheduler.run()
    finally:
        hooks.stop()
        jobs.broker.close()
        registry.close()
    err("stopped")
