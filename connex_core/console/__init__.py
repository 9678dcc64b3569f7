"""The web console of ``connex serve`` (docs/console.md): Starlette, Jinja2 templates and htmx (vendored).

:func:`build_console` makes the ASGI app that ``connex serve`` mounts at ``/`` beside its webhooks.
"""

from .app import Console, build_console
from .auth import ConsoleSecrets, secrets_path

__all__ = ["Console", "ConsoleSecrets", "build_console", "secrets_path"]
