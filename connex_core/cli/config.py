"""``connex config check``: the whole config validated, with no network call.

Every problem is printed as ``FILE: KEY: message`` (stderr; ``--json``: a JSON object on stdout) and
the command exits 4 on any problem, 0 otherwise. ``connex run`` checks the config the same way
(:func:`checked_config`) before it reads anything, dry run or not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..config import Config, default_config_path
from ..configcheck import check_config
from ..errors import ExitCode
from ..plugins import get_manager
from ..problems import Problem
from .common import ConfigOption, JsonOption, emit_json, err, handle_errors

app = typer.Typer(help="Check the config file (connections, tasks, options, rules, state) without any network call.",
                  no_args_is_help=True)


def report(problems: list[Problem], prefix: str = "") -> None:
    """Each problem on its own line (stderr)."""
    for problem in problems:
        err(f"{prefix}{problem}")


def checked_config(path: Optional[Path], manager: Any) -> Config:
    """The config at ``path`` (default: ``$CONNEX_CONFIG`` or ``./connex.toml``) when it has no problem;
    otherwise every problem is printed (``error: FILE: KEY: message``) and the command exits 4."""
    cfg, problems = check_config(path or default_config_path(), manager)
    if problems or cfg is None:
        report(problems, prefix="error: ")
        # Only errors inside rule files: the rule-error exit code of DESIGN (3); anything in the config itself: 4.
        only_rules = bool(problems) and all(p.in_rules for p in problems)
        raise typer.Exit(int(ExitCode.RULE_ERROR if only_rules else ExitCode.CONFIG_ERROR))
    return cfg


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@app.command()
@handle_errors
def check(config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """Validate the whole config: connections (settings, secrets), tasks (connections, kinds, the options of
    every connector, engine keys), rule files and the state path. No network call.

    Prints every problem as FILE: KEY: message; exit 4 on any problem, 0 otherwise.
    """
    path = config or default_config_path()
    cfg, problems = check_config(path, get_manager())
    if json_out:
        emit_json({"ok": not problems, "file": str(path), "problems": [p.to_json() for p in problems]})
    else:
        report(problems)
    if problems:
        if not json_out:
            err(f"{_count(len(problems), 'problem')} in {path}")
        raise typer.Exit(int(ExitCode.CONFIG_ERROR))
    assert cfg is not None
    rules = len({r for t in cfg.tasks.values() for r in t.rules})
    err(f"ok: {path}: {_count(len(cfg.connections), 'connection')}, {_count(len(cfg.tasks), 'task')}, "
        f"{_count(rules, 'rule file')}")
