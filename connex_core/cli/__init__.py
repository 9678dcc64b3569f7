"""The ``connex`` command line.

Data goes to stdout (JSON with ``--json``); progress, logs and errors go to stderr. Exit codes:
0 ok, 1 unexpected, 2 usage, 3 rule error, 4 configuration error, 5 some orders failed or were
held, 6 fatal API or authentication error. No traceback for a user error unless ``--debug``.
"""

from __future__ import annotations

import importlib.util
from typing import Annotated

import typer

from .. import __version__
from ..plugins import get_manager
from . import config as config_cmd
from . import console as console_cmd
from . import held as held_cmd
from . import plugins as plugins_cmd
from . import tenants as tenants_cmd
from .common import STATE, setup_logging
from .connect import connect
from .demo import demo
from .log import log_command
from .run import run
from .report import report
from .resync import resync
from .runs import runs
from .undo import undo

app = typer.Typer(
    name="connex",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # tracebacks must never print local variables (API keys)
    help="Connex: sync orders between ShipStation, QuickBooks Online and Xero, through rules you write.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"connex {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens (stderr).")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs (stderr; secrets still redacted).")] = False,
) -> None:
    STATE.debug, STATE.verbose = debug, verbose
    setup_logging(verbose=verbose, debug=debug)


app.command("run")(run)
app.command("runs")(runs)
app.command("resync")(resync)
app.command("report")(report)
app.command("undo")(undo)
app.command("log")(log_command)
app.command("connect")(connect)
app.command("demo")(demo)
app.add_typer(plugins_cmd.app, name="plugins")
app.add_typer(tenants_cmd.app, name="tenants")
app.add_typer(config_cmd.app, name="config")
app.add_typer(console_cmd.app, name="console")
app.add_typer(held_cmd.app, name="held")

if importlib.util.find_spec("connex_core.cli.rules") is not None:
    from . import rules as rules_cmd

    app.add_typer(rules_cmd.app, name="rules", help="Check rule files and try them on saved orders.")

for _extra in ("sandbox", "serve", "worker"):
    if importlib.util.find_spec(f"connex_core.cli.{_extra}") is not None:
        _mod = importlib.import_module(f"connex_core.cli.{_extra}")
        app.command(_extra)(getattr(_mod, _extra))

_commands_added = False


def build_app() -> typer.Typer:
    """The app with the plugins' commands added (once)."""
    global _commands_added
    if not _commands_added:
        _commands_added = True
        get_manager().hook.register_commands(app=app)
    return app


def main() -> None:
    build_app()(prog_name="connex")
