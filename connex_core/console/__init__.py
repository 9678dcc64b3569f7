"""The web console of ``connex serve`` (docs/console.md): Starlette, Jinja2 templates and htmx (vendored).

:func:`build_console` makes the ASGI app that ``connex serve`` mounts at ``/`` beside its webhooks. The app is
imported on first use: the command line (``connex console set-password``) needs only :mod:`.auth`.
"""

from typing import Any

from .auth import ConsoleSecrets, secrets_path

__all__ = ["Console", "ConsoleSecrets", "build_console", "secrets_path"]


def __getattr__(name: str) -> Any:
    if name in ("Console", "build_console"):
        from . import app

        return getattr(app, name)
    raise AttributeError(name)
