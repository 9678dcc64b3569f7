"""``connex sandbox``: every simulated API on one loopback server, until interrupted."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from ..plugins import get_manager
from ..sandbox import SimClock
from ..sandbox.runner import AccountView, build_sandbox, write_config
from .common import emit, err, handle_errors


@handle_errors
def sandbox(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 0,
    seed_orders: Annotated[int, typer.Option("--seed-orders", help="Seed each service with this many realistic records.")] = 0,
    write_config_to: Annotated[Optional[Path], typer.Option("--write-config", help="Write a config whose connections point at the sandbox (secrets in files beside it) and whose tasks are the plugins' demo flows.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the generated data.")] = 1,
    speed: Annotated[float, typer.Option(help="How much faster than real time the simulated clock runs "
                                              "(rate-limit windows, token expiry); 1 is real time.")] = 1.0,
    json_out: Annotated[bool, typer.Option("--json", help="First line of stdout: one JSON object with each service's base_url and credentials.")] = False,
    accounts: Annotated[int, typer.Option(min=1, max=500, help="Independent simulated accounts (many sellers): each with every service at /aN-NAME, its own credentials, data and limits; --write-config writes one config per account, each in a folder of its own (STEM-aN/FILE).")] = 1,
) -> None:
    """Serve the simulated API of every installed plugin on loopback (each at /NAME on one port)."""
    manager = get_manager()
    if speed <= 0:
        raise UsageError("--speed must be above 0")
    server = build_sandbox(manager, clock=SimClock(speed=speed), seed=seed, port=port, accounts=accounts)
    seeded = {name: service.seed(seed_orders) for name, service in server.services.items()} if seed_orders else {}
    server.start()
    if write_config_to and accounts > 1:
        for n in range(1, accounts + 1):  # a folder each: state, tokens and rules of one seller stay apart
            one = write_config_to.parent / f"{write_config_to.stem}-a{n}" / write_config_to.name
            write_config(AccountView(server, n), one, manager=manager)
        err(f"wrote {accounts} configs: {write_config_to.parent / (write_config_to.stem + '-a1')} .. -a{accounts}")
    elif write_config_to:
        path = write_config(server, write_config_to, manager=manager)
        err(f"wrote {path}")
    if json_out:
        typer.echo(json.dumps(server.describe()), nl=True)
    else:
        for name, service in server.services.items():
            emit(f"{name}: {service.base_url}" + (f"  ({seeded[name]} seeded)" if seeded.get(name) else ""))
    err("sandbox running; Ctrl-C to stop")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    done.wait()
    server.stop()
