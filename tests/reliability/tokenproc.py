"""A process that needs an access token, for the credentials tests (run as a script).

``python tokenproc.py CONFIG CONNECTION crash``: refresh, and die by SIGKILL at the moment the
rotated refresh token is about to be stored (after the token endpoint answered).
``python tokenproc.py CONFIG CONNECTION race EVENTS``: get a token, print its SHA-256 (never the token);
append ``begin PID`` to the file ``EVENTS`` before asking for it and ``end PID`` after (the test holds the
token endpoint until both processes have begun, so they are inside a refresh together).
``... race-unlocked EVENTS``: the same without the store's lock (the control experiment).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sys
from pathlib import Path

from connex_core.config import load_config
from connex_core.engine import SyncEngine
from connex_core.plugins import get_manager
from connex_core.tokens import TokenStore


def access_token(connector) -> str:
    """The connector's access token, through its own token code (QuickBooks: ``tokens``; Xero: ``auth``)."""
    auth = connector.tokens if connector.name == "quickbooks" else connector.auth
    return auth.access_token()


def die_before_storing_a_rotated_token() -> None:
    real = TokenStore.save

    def save(self: TokenStore, tokens: dict) -> None:
        if tokens.get("refresh_token") != (self.load() or {}).get("refresh_token"):
            os.kill(os.getpid(), signal.SIGKILL)
        real(self, tokens)

    TokenStore.save = save


def note(events: Path, what: str) -> None:
    """One line appended in one write (O_APPEND): the two processes' lines never mix."""
    fd = os.open(events, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, f"{what} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


if __name__ == "__main__":
    config, connection, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    engine = SyncEngine(load_config(config), get_manager(), store=None)  # type: ignore[arg-type]
    connector = engine.connector(connection)
    if mode == "crash":
        die_before_storing_a_rotated_token()
    else:
        if mode == "race-unlocked":
            TokenStore.refreshing = contextlib.contextmanager(lambda self: (yield self))
        events = Path(sys.argv[4])
        note(events, "begin")
        try:
            print(hashlib.sha256(access_token(connector).encode()).hexdigest())
        finally:
            note(events, "end")
        sys.exit(0)
    print(hashlib.sha256(access_token(connector).encode()).hexdigest())
