"""What every command shares: options, output, error handling, logging."""

from __future__ import annotations

import functools
import json
import logging
import sys
import traceback
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Callable, Optional
from zoneinfo import ZoneInfo

import typer

from ..config import REDACTOR, RedactingFilter, default_config_path, load_config
from ..errors import ConnexError, ExitCode, UsageError

ConfigOption = Annotated[Optional[Path], typer.Option("--config", "-c", help="The config file (default: $CONNEX_CONFIG or ./connex.toml).",
                                                       show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of text.")]


class _State:
    debug = False
    verbose = False


STATE = _State()


def setup_logging(verbose: bool = False, debug: bool = False) -> None:
    root = logging.getLogger("connex")
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)
    root.propagate = False


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    return str(obj)


def emit_json(obj: Any) -> None:
    """Data on stdout, secrets redacted."""
    typer.echo(REDACTOR(json.dumps(obj, default=_default, ensure_ascii=False, indent=2)))


def emit(text: str = "") -> None:
    typer.echo(REDACTOR(text))


def err(text: str) -> None:
    typer.echo(REDACTOR(text), err=True)


def handle_errors(fn: Callable) -> Callable:
    """Turn ConnexError into a message on stderr and its exit code; no traceback unless --debug."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except ConnexError as exc:
            if STATE.debug:
                err(REDACTOR("".join(traceback.format_exception(exc))))
            err(f"error: {exc}")
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            err("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:  # a bug: say so plainly, keep the traceback for --debug
            if STATE.debug:
                err(REDACTOR("".join(traceback.format_exception(exc))))
            else:
                err(f"unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)")
            raise typer.Exit(int(ExitCode.UNEXPECTED)) from None

    return wrapper


def config_from(path: Optional[Path]):
    return load_config(path or default_config_path())


def parse_when(text: Optional[str], tz: str, *, end: bool = False) -> Optional[datetime]:
    """A date (``2026-09-15``: that day in the source's time zone) or a datetime with an offset."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            if end:  # --until 2026-09-15 includes the whole of the 15th
                d = d + timedelta(days=1)
            return datetime.combine(d, time.min, ZoneInfo(tz))
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a date (YYYY-MM-DD) or a datetime (YYYY-MM-DDTHH:MM+HH:MM)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=ZoneInfo(tz))
