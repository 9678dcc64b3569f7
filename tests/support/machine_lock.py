"""A lock across processes for tests that use one of the machine's services in a way another test would notice.

The chaos harness restarts the machine's RabbitMQ (``rabbitmqctl stop_app`` / ``start_app``); a test whose workers
consume from it at that moment would lose its connection. Under pytest-xdist (``python3 dev.py test`` runs several
workers) and when two suites run on one machine, such tests take the service's lock, so they run one after another.
"""

from __future__ import annotations

import contextlib
import fcntl
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def machine_service(name: str) -> Iterator[None]:
    """Hold the machine-wide lock of service ``name`` (a file lock under the temporary folder) while in the block."""
    with open(Path(tempfile.gettempdir()) / f"connex-tests-{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
