"""Which settings are secrets, and keeping them out of the config file and away from other users.

Secret-ness is declared once, in a connector's settings model: a field typed
:class:`pydantic.SecretStr` (or ``Optional[SecretStr]``) is a secret. From that:

* :func:`secret_fields` names them (the config's redaction and the sandbox's config writer use it);
* :func:`refuse_inline_secrets` refuses a secret written inline in the config (``api_key = "..."``) and shows
  the reference form to use instead (``{ env = "NAME" }`` or ``{ file = "path" }``);
* :func:`tighten` makes a file that holds secrets or customer data (the state file, a token file)
  readable by its owner only, warning when it was not.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import threading
import typing
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, SecretStr

from .errors import ConfigurationError

log = logging.getLogger("connex.secrets")


class Redactor:
    """Remembers secret values and replaces them with ``***`` wherever text leaves the process."""

    MASK = "***"

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: Optional[re.Pattern] = None
        self._lock = threading.Lock()

    def add(self, secret: Optional[str]) -> None:
        if secret and len(secret) >= 4:
            with self._lock:
                if secret not in self._secrets:
                    self._secrets.add(secret)
                    alts = sorted(self._secrets, key=len, reverse=True)
                    self._pattern = re.compile("|".join(re.escape(s) for s in alts))

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(self.MASK, text)


#: The process's redactor: every secret read from the config (or found in validated settings) is added.
REDACTOR = Redactor()


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr or (isinstance(annotation, type) and issubclass(annotation, SecretStr)):
        return True
    return any(_is_secret(arg) for arg in typing.get_args(annotation))


def secret_fields(model: type[BaseModel]) -> list[str]:
    """The fields of ``model`` typed ``SecretStr`` (also inside ``Optional[...]``, ``list[...]``), in model order."""
    return [name for name, info in model.model_fields.items() if _is_secret(info.annotation)]


def env_name(connection: str, key: str) -> str:
    """An environment variable name suggested for a secret: ``SHOP_API_KEY`` for ``connections.shop.api_key``."""
    return "".join(c if c.isalnum() else "_" for c in f"{connection}_{key}").upper()


def refuse_inline_secrets(raw: dict[str, Any], model: type[BaseModel], *, connection: str,
                          file: Optional[str]) -> None:
    """Raise :class:`ConfigurationError` (exit 4) when a secret field of ``raw`` is written inline.

    The value itself never appears in the message; it is handed to the redactor all the same, since it
    has been read from disk and must not leak through any later message.
    """
    for key in secret_fields(model):
        value = raw.get(key)
        if isinstance(value, list):  # list[SecretStr]: each item by reference too
            inline = [v for v in value if isinstance(v, str)]
        else:
            inline = [value] if isinstance(value, str) else []
        if inline:
            for text in inline:
                REDACTOR.add(text)
            raise ConfigurationError(
                "a secret cannot be written inline in the config; give it by reference, "
                f"from an environment variable: {key} = {{ env = \"{env_name(connection, key)}\" }}, "
                f"or from a file readable only by you: {key} = {{ file = \"secrets/{connection}.{key}\" }}",
                file=file, key=f"connections.{connection}.{key}")


def redact_settings(settings: BaseModel) -> None:
    """Hand every secret value of validated settings to the redactor (whatever gave them: config, code)."""
    for key in secret_fields(type(settings)):
        value = getattr(settings, key, None)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, SecretStr):
                REDACTOR.add(item.get_secret_value())


def tighten(path: Path, what: str) -> bool:
    """Make ``path`` readable and writable by its owner only (0600) if others could read or write it.

    Returns True (and logs a warning, which the command line prints on stderr) when the mode was changed.
    """
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return False
    if not mode & 0o077:
        return False
    os.chmod(path, 0o600)
    log.warning("%s %s was readable by others (mode %04o); changed it to 0600", what, path, mode)
    return True
