"""``connex demo``: the embedded default."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..demo import report, run_demo
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
) -> None:
    """Start the simulated APIs on loopback, seed them, run every flow through the real connectors,
    and show what was created, skipped and held, and why. No credentials needed."""
    apis = {}
    for item in api or []:
        name, _, version = item.partition("=")
        if not name or not version:
            raise UsageError(f"--api takes NAME=VERSION (a service and one of its API versions), not {item!r}")
        apis[name.strip()] = version.strip()
    try:
        result = run_demo(get_manager(), folder, orders=orders, seed=seed, say=err, apis=apis)
    except ValueError as exc:  # an unknown service or version: say which ones there are
        raise UsageError(f"--api: {exc}") from None
    if json_out:
        emit_json({"runs": [s.as_dict() for s in result.runs], "reruns": [s.as_dict() for s in result.reruns],
                   "config": str(result.config), "seconds": round(result.seconds, 2)})
    else:
        emit(report(result))
