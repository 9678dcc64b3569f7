"""``connex console``: set the web console's password (the console is off until one is set)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..console.auth import MIN_PASSWORD, ConsoleSecrets, secrets_path
from ..errors import ConfigurationError
from .common import ConfigOption, config_from, err, handle_errors

app = typer.Typer(help="The web console that connex serve shows at / (docs/console.md).", no_args_is_help=True)


@app.command("set-password")
@handle_errors
def set_password(
    config: ConfigOption = None,
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the password from standard input (first line).")] = False,
) -> None:
    """Set the console password: kept as a scrypt hash beside the config (mode 0600), never in clear."""
    cfg = config_from(config)
    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Console password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        raise ConfigurationError(f"the console password must have at least {MIN_PASSWORD} characters")
    path = secrets_path(cfg.path)
    ConsoleSecrets(path).set_password(password)
    err(f"console password set (hash in {path}); open connex serve's address in a browser and log in")
