"""The file system as this connector's "API": list, read, append, with its errors as Connex errors.

A file system has no rate limit, but it has transient failures, the file system's 429: a file another
program holds locked (a spreadsheet open on Windows: a sharing violation), a network share that stalls
(EAGAIN, EBUSY, ETIMEDOUT, ESTALE, EIO). Those are retried with the core's :class:`RetryPolicy` on the
connector's clock. A folder Connex may not read or write is the file system's 401: an
:class:`AuthenticationError` that names the account to fix. A folder that is missing is a
:class:`ConfigurationError`.

:class:`LocalFiles` is what runs in production. The sandbox's :class:`~connex_csv.sim.folder.FolderService`
subclasses it to inject faults before the real call, as the HTTP simulators do before they answer.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import os
import time
from pathlib import Path
from typing import Callable, TypeVar

from connex_core.api import AuthenticationError, ConfigurationError, FatalAPIError, RetriableAPIError, RetryPolicy

T = TypeVar("T")

#: errno values that pass: try again (a lock released, a share back).
TRANSIENT = frozenset({errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.ESTALE, errno.EIO, errno.EINTR})
#: Windows: ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION (a spreadsheet program has the file open).
WINDOWS_LOCKED = frozenset({32, 33})
DENIED = frozenset({errno.EACCES, errno.EPERM})


class LocalFiles:
    """The real file system."""

    def list(self, folder: Path, pattern: str) -> list[Path]:
        return sorted(p for p in folder.iterdir() if p.is_file() and fnmatch.fnmatch(p.name, pattern))

    def read(self, path: Path) -> bytes:
        return path.read_bytes()

    def age(self, path: Path) -> float:
        """Seconds since the file last changed (by the real wall clock: the file system's own)."""
        return time.time() - path.stat().st_mtime

    def append(self, path: Path, data: bytes) -> None:
        """Append in one write, then flush to the disk: the rows are there before the ledger says so."""
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)

    def truncate(self, path: Path, size: int) -> None:
        os.truncate(path, size)

    def makedirs(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def as_connex_error(exc: OSError, what: str, where: Path) -> Exception:
    """An OS error as the Connex error its kind leads to (see the module docstring)."""
    if exc.errno in TRANSIENT or getattr(exc, "winerror", None) in WINDOWS_LOCKED:
        return RetriableAPIError(f"{what} {where}: {exc.strerror or exc} (trying again)", connector="csv")
    if exc.errno in DENIED:
        return AuthenticationError(f"{what} {where}: permission denied; check the credentials of the account "
                                   "Connex runs as (it needs to read and write this folder)", connector="csv")
    if isinstance(exc, FileNotFoundError) and not where.suffix:
        return ConfigurationError(f"the folder {where} does not exist; check the connection's folder setting")
    return FatalAPIError(f"{what} {where}: {exc.strerror or exc}", connector="csv")


def call(policy: RetryPolicy, fn: Callable[[], T], what: str, where: Path) -> T:
    """``fn()``, with transient OS errors retried by ``policy`` and the rest as Connex errors."""
    def attempt() -> T:
        try:
            return fn()
        except OSError as exc:
            raise as_connex_error(exc, what, where) from exc

    return policy.call(attempt, what=f"{what} {where.name}")
