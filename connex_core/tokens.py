"""OAuth token storage that never loses a rotated refresh token.

QuickBooks and Xero rotate the refresh token on every refresh: the old one stops working
(QuickBooks after a grace period, Xero 30 minutes later), so the new one must be on disk before
anything else happens. :class:`TokenStore` keeps one JSON file per connection:

* written atomically (a temporary file in the same folder, ``fsync``, ``os.replace``), mode 0600;
* :meth:`TokenStore.refreshing` holds an exclusive ``flock`` on a lock file, so two processes
  never refresh at once: the second one waits, then re-reads the file and finds the first one's
  fresh token instead of spending the (now revoked) old refresh token.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Optional

from .errors import ConfigurationError
from .secrets import tighten


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dirfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)


class TokenStore:
    """Tokens of one connection, in ``<folder>/<connection>.tokens.json``."""

    def __init__(self, folder: Path, connection: str):
        self.connection = connection
        self.path = Path(folder) / f"{connection}.tokens.json"
        self._lock_path = Path(folder) / f".{connection}.tokens.lock"

    def load(self) -> Optional[dict[str, Any]]:
        """The stored tokens, ``None`` when there are none yet.

        A file that is not a JSON object (truncated by a full disk, edited by hand) raises a
        :class:`~connex_core.errors.ConfigurationError` naming it and the repair: ``connex connect``
        (which sets the damaged file aside, see :meth:`set_aside_if_damaged`). Token values are never shown.
        """
        tighten(self.path, "token file")  # one made readable by others is made owner-only, with a warning
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise self._damaged("it is a folder") from None
        if not data.strip():
            raise self._damaged("it is empty")
        try:
            tokens = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise self._damaged("it is not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            cut = "" if data.rstrip().endswith(b"}") else "; it looks cut off"
            what = exc.msg.removesuffix(" starting at").lower()
            raise self._damaged(f"not valid JSON at line {exc.lineno}, column {exc.colno}: {what}{cut}") from None
        if not isinstance(tokens, dict):
            raise self._damaged(f"it holds a JSON {type(tokens).__name__}, not an object")
        return tokens

    def _damaged(self, why: str) -> ConfigurationError:
        return ConfigurationError(f"the token file of connection {self.connection!r} is damaged ({why}); "
                                  f"connect again with `connex connect {self.connection}`, which sets it aside "
                                  "and stores new tokens", file=str(self.path))

    def set_aside_if_damaged(self) -> Optional[Path]:
        """Rename a damaged token file to ``<name>.damaged`` (so ``connex connect`` can store new tokens); its new path."""
        try:
            self.load()
        except ConfigurationError:
            aside = self.path.with_name(self.path.name + ".damaged")
            os.replace(self.path, aside)
            return aside
        return None

    def save(self, tokens: dict[str, Any]) -> None:
        write_private(self.path, json.dumps(tokens, indent=2, sort_keys=True).encode())

    @contextlib.contextmanager
    def refreshing(self) -> Iterator["TokenStore"]:
        """Hold the connection's refresh lock (across processes) for the block."""
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
