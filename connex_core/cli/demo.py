"""``connex demo``: the embedded default (placeholder until the flows land)."""

from __future__ import annotations

from ..plugins import get_manager
from .common import emit, handle_errors


@handle_errors
def demo() -> None:
    """Start the simulated APIs, seed them, run the flows and show what happened."""
    manager = get_manager()
    emit("Connex demo")
    emit("installed connectors: " + ", ".join(sorted(manager.connectors)))
    emit("simulated APIs: " + (", ".join(sorted(manager.sandboxes)) or "none yet"))
