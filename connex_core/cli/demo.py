"""``connex demo``: the embedded default."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    shipstation_api: Annotated[str, typer.Option("--shipstation-api", help="Which ShipStation API the flows use: "
                                                 "v1 (legacy) or v2.")] = "v1",
) -> None:
    """Start the simulated APIs on loopback, seed them, run every flow through the real connectors,
    and show what was created, skipped and held, and why. No credentials needed."""
    if shipstation_api not in ("v1", "v2"):
        raise UsageError(f"--shipstation-api must be v1 or v2, not {shipstation_api!r}")
    result = run_demo(get_manager(), folder, orders=orders, seed=seed, say=err, shipstation_api=shipstation_api)
    if json_out:
        emit_json({"runs": [s.as_dict() for s in result.runs], "reruns": [s.as_dict() for s in result.reruns],
                   "config": str(result.config), "seconds": round(result.seconds, 2)})
    else:
        emit(report(result))
