"""The console's secrets: the password hash and the session-signing key, and the login rate limit.

Both live in one JSON file beside the config (``<config stem>.console.json``, created mode 0600):

* ``password``: ``scrypt$N$r$p$SALT$HASH`` made by :func:`hashlib.scrypt` with N=2**14, r=8, p=1, a random
  16-byte salt and a 32-byte key (RFC 7914's interactive-login parameters, about 16 MiB and 50 ms a check);
* ``secret``: 32 random bytes (hex) that sign the session cookie; made once, when the password is first set.

No password in the file: no console (every page says how to set one).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Optional

SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES, SALT_BYTES = 2 ** 14, 8, 1, 32, 16
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    salt = os.urandom(SALT_BYTES)
    key = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=KEY_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${key.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, key = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(bytes.fromhex(key)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, bytes.fromhex(key))


def secrets_path(config_path: Optional[Path]) -> Path:
    """Where the console's password hash and session key are kept: beside the config file."""
    base = Path(config_path) if config_path else Path.cwd() / "connex.toml"
    return base.with_name(base.stem + ".console.json")


class ConsoleSecrets:
    """The file holding the password hash and the session key (read again when it changes)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}

    def _write(self, data: dict) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    @property
    def password_set(self) -> bool:
        return bool(self._read().get("password"))

    def set_password(self, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"the console password must have at least {MIN_PASSWORD} characters")
        data = self._read()
        data["password"] = hash_password(password)
        data.setdefault("secret", secrets.token_hex(32))
        self._write(data)

    def check(self, password: str) -> bool:
        stored = self._read().get("password")
        return bool(stored) and verify_password(password, stored)

    def session_key(self) -> str:
        data = self._read()
        if not data.get("secret"):
            data["secret"] = secrets.token_hex(32)
            self._write(data)
        return data["secret"]


class LoginLimit:
    """At most ``per_client`` failed logins per client address in ``window`` seconds, and ``overall`` in all."""

    def __init__(self, per_client: int = 5, overall: int = 50, window: float = 300.0):
        self.per_client, self.overall, self.window = per_client, overall, window
        self._fails: dict[str, deque] = defaultdict(deque)
        self._all: deque = deque()
        self._lock = threading.Lock()

    def _trim(self, q: deque, now: float) -> None:
        while q and now - q[0] > self.window:
            q.popleft()

    def allowed(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            mine = self._fails[client]
            self._trim(mine, now)
            self._trim(self._all, now)
            return len(mine) < self.per_client and len(self._all) < self.overall

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._fails[client].append(now)
            self._all.append(now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._fails.pop(client, None)
