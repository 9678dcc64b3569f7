"""``connex demo``: the embedded default."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from ..demo import DemoResult, report, run_demo
from ..errors import UsageError
from ..plugins import get_manager
from .common import emit, emit_json, err, handle_errors


@handle_errors
def demo(
    folder: Annotated[Path, typer.Option("--dir", help="Where the demo writes its config, rules and state (replaced).")] = Path("connex-demo"),
    orders: Annotated[int, typer.Option(help="Orders (and documents, invoices) to seed each simulated service with.")] = 40,
    seed: Annotated[int, typer.Option(help="Random seed of the generated data.")] = 7,
    json_out: Annotated[bool, typer.Option("--json", help="Print the run summaries as JSON instead of the report.")] = False,
    api: Annotated[Optional[list[str]], typer.Option("--api", help="Run a service's flows on another version of "
                                                     "its API, as NAME=VERSION (for example shipstation=v2).")] = None,
    console: Annotated[bool, typer.Option("--console", help="Then keep the simulated APIs up and serve the web console on loopback (prints its address and a one-time password) until Ctrl-C.")] = False,
    port: Annotated[int, typer.Option(help="With --console: the console's port (0: any free one).")] = 8787,
) -> None:
    """Start the simulated APIs on loopback, seed them, run every flow through the real connectors,
    and show what was created, skipped and held, and why. No credentials needed."""
    apis = {}
    for item in api or []:
        name, _, version = item.partition("=")
        if not name or not version:
            raise UsageError(f"--api takes NAME=VERSION (a service and one of its API versions), not {item!r}")
        apis[name.strip()] = version.strip()
    then = None
    if console:
        then = lambda result, options: serve_console(result, options, port=port)  # noqa: E731
    try:
        result = run_demo(get_manager(), folder, orders=orders, seed=seed, say=err, apis=apis, then=then)
    except ValueError as exc:  # an unknown service or version: say which ones there are
        raise UsageError(f"--api: {exc}") from None
    if json_out:
        emit_json({"runs": [s.as_dict() for s in result.runs], "reruns": [s.as_dict() for s in result.reruns],
                   "config": str(result.config), "seconds": round(result.seconds, 2)})
    else:
        emit(report(result))


def serve_console(result: DemoResult, options: dict, *, port: int = 8787, stop: Optional[threading.Event] = None,
                  ready: Optional[Callable[..., None]] = None) -> None:
    """``connex serve`` on the demo's config with the console on 127.0.0.1, a fresh password printed, until
    Ctrl-C (or ``stop``). ``ready(server, password)`` is called once it listens (tests)."""
    import signal

    from ..config import load_config
    from ..console import ConsoleSecrets, secrets_path
    from ..serve import Server

    password = secrets.token_urlsafe(12)
    ConsoleSecrets(secrets_path(result.config)).set_password(password)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = Server(load_config(result.config), get_manager(), host="127.0.0.1", port=port,
                    connector_options=options).start()
    try:
        err(f"console: {server.url}/   password: {password}   (Ctrl-C to stop)")
        if ready is not None:
            ready(server, password)
        while not stop.wait(0.5):  # bounded, as `connex serve` waits: the main thread runs the signal's handler at once
            pass
    finally:
        server.stop()
