"""``connex rules``: check rule files, and try them on saved orders without writing anything.

Mounted by the main CLI with ``root.add_typer(rules.app, name="rules")``. Data goes to stdout
(JSON with ``--json``), messages (diagnostics, summaries of ``--json`` runs) to stderr. Exit
codes: 0 clean, 3 any rule error (:attr:`~connex_core.errors.ExitCode.RULE_ERROR`), 4 an
unknown ``--source`` plugin, 2 unreadable orders.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, List, Optional

import typer
from pydantic import TypeAdapter

from ..errors import ConnexError, ExitCode
from ..models import Order
from ..rules import RuleCheckError, RuleResult, RuleSet, check_files, format_report, load_rules
from ..rules.diagnostics import sort_key
from ..rules.schema import canonical_fields

app = typer.Typer(help="Check rule files, and try them on saved orders (writes nothing).", no_args_is_help=True)

PATHS = typer.Argument(..., exists=True, help="Rule files, or folders of *.rules files.")


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _plain(value: Any) -> Any:
    """A JSON-friendly value: money as text (exact), enums as their value, dates in ISO form."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _show(value: Any) -> str:
    value = _plain(value)
    return "null" if value is None else repr(value) if isinstance(value, str) else str(value)


def _environment():
    """The functions and actions the installed plugins register for rules."""
    from ..plugins import get_manager

    return get_manager().rule_environment()


# -- check ----------------------------------------------------------------------------------------
@app.command()
def check(
    paths: List[Path] = PATHS,
    json_output: bool = typer.Option(False, "--json", help="Print the diagnostics as JSON on stdout."),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
) -> None:
    """Validate rule files against the canonical model; exit 3 on any error."""
    try:
        rules, diags, sources = check_files(paths, _environment())
    except RuleCheckError as exc:
        rules, diags, sources = [], exc.diagnostics, {}
    if strict:
        diags = [d.as_error() for d in diags]
    diags = sorted(diags, key=sort_key)
    errors = sum(1 for d in diags if d.is_error)
    warnings = len(diags) - errors
    if json_output:
        typer.echo(json.dumps({"ok": errors == 0, "files": list(sources), "rules": len(rules), "errors": errors,
                               "warnings": warnings, "diagnostics": [d.to_json() for d in diags]}, indent=2))
    else:
        if diags:
            _err(format_report(diags))
        _err(f"{len(rules)} rule(s) in {len(sources)} file(s): {errors} error(s), {warnings} warning(s)")
    if errors:
        raise typer.Exit(int(ExitCode.RULE_ERROR))


# -- dry-run ----------------------------------------------------------------------------------------
_ORDER_LIST = TypeAdapter(list[Order])


def _load_json(text: str) -> Any:
    """A JSON document, or a list of the objects of a JSON-lines file."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def read_orders(path: Path, source: Optional[str]) -> list[Order]:
    """Orders from a file: canonical JSON (a list, ``{"orders": [...]}``, one order, or JSON lines),
    or with ``source`` that plugin's own API payload, mapped by the plugin's ``parse_orders``."""
    text = path.read_text(encoding="utf-8")
    if source is not None:
        from ..connector import ConnectorContext
        from ..plugins import get_manager

        cls = get_manager().connector(source)
        settings = cls.settings_model.model_construct(type=source)
        with tempfile.TemporaryDirectory() as state_dir:
            ctx = ConnectorContext(connection=source, state_dir=Path(state_dir), dry_run=True)
            try:
                return list(cls(settings, ctx).parse_orders(_load_json(text)))
            except (ConnexError, json.JSONDecodeError):
                raise
            except Exception as exc:  # the plugin's mapping met a payload it does not understand
                raise ValueError(f"the {source} mapping could not read it ({type(exc).__name__}: {exc})") from exc
    if text.lstrip().startswith("["):
        return _ORDER_LIST.validate_json(text)  # parsed and validated in one pass (large files)
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines[:2]):  # JSON lines
        return [Order.model_validate_json(line) for line in lines]
    data = json.loads(text)
    if isinstance(data, dict) and "orders" in data:
        data = data["orders"]
    return _ORDER_LIST.validate_python(data if isinstance(data, list) else [data])


def _order_json(order: Order, result: RuleResult) -> dict[str, Any]:
    return {
        "order": order.number,
        "outcome": result.outcome,
        "reason": result.reason,
        "fired": list(result.fired),
        "changes": [{"field": c.field, "before": _plain(c.before), "after": _plain(c.after), "rule": c.rule,
                     "line": c.line, **({"reason": c.reason} if c.reason is not None else {})}
                    for c in result.changes],
    }


def _order_text(order: Order, result: RuleResult) -> Iterable[str]:
    head = f"order {order.number}: {result.outcome}"
    if result.outcome != "sync":
        head += f" ({result.reason})"
    head += "   fired: " + (", ".join(result.fired) if result.fired else "none")
    yield head
    last_writer = {c.field: c for c in result.changes}
    for change in result.changes:
        winner = last_writer[change.field]
        overridden = winner is not change and not isinstance(change.after, list)  # tags add up
        note = f"   (overridden by {winner.rule!r}, line {winner.line})" if overridden else ""
        after = f"dropped ({change.reason})" if change.reason is not None else _show(change.after)
        yield f"  {change.field}: {_show(change.before)} -> {after}   {_who(change)}{note}"


def _who(change: Any) -> str:
    """``NAME (file:line)`` for a named rule; ``file:line`` for a one-line rule (named after it)."""
    where = f"{change.file}:{change.line}"
    return where if change.rule == f"{Path(change.file or '').name}:{change.line}" else f"{change.rule} ({where})"


def _summary(ruleset: RuleSet, results: list[RuleResult]) -> list[str]:
    outcomes = Counter(r.outcome for r in results)
    fired = Counter(name for r in results for name in r.fired)
    lines = [f"summary: {len(results)} order(s): {outcomes['sync']} sync, {outcomes['skip']} skip, "
             f"{outcomes['hold']} hold"]
    failed = Counter(r.rule for r in results if r.outcome == "hold" and r.rule not in r.fired)
    for rule in ruleset.rules:
        if fired[rule.name]:
            lines.append(f"  {rule.name} ({rule.file}:{rule.line}): fired {fired[rule.name]} time(s)")
        if failed[rule.name]:
            lines.append(f"  {rule.name} ({rule.file}:{rule.line}): failed on {failed[rule.name]} order(s), held")
    never = [f"{r.name} ({r.file}:{r.line})" for r in ruleset.rules if not fired[r.name]]
    if never:
        lines.append("  never fired: " + ", ".join(never))
    return lines


def _trace_json(traces: list) -> list[dict[str, Any]]:
    from ..rules.explain import NOT_EVALUATED

    def node(t) -> dict[str, Any]:
        return {"text": t.text, "value": None if t.value is NOT_EVALUATED else _plain(t.value),
                "evaluated": t.value is not NOT_EVALUATED, "reads": {p: _plain(v) for p, v in t.reads},
                "children": [node(c) for c in t.children]}

    return [{"rule": r.rule.name, "file": r.rule.file, "line": r.rule.line, "evaluated": r.evaluated,
             "fired": r.fired, "error": r.error, "condition": node(r.trace) if r.trace else None} for r in traces]


def _with_defaults(result: RuleResult) -> RuleResult:
    """The engine's defaults after the rules, as a task with default options applies them (cancelled orders
    skipped, suspicious amounts held: ``connex_core.sync.books``)."""
    from ..sync.books import book_check

    if result.outcome == "sync" and (verdict := book_check(result.order)) is not None:
        result.outcome, result.reason = verdict
        result.rule = "task defaults"
    return result


@app.command("dry-run")
def dry_run(
    paths: List[Path] = PATHS,
    orders: Path = typer.Option(..., "--orders", exists=True, dir_okay=False,
                                help="Saved orders: canonical JSON, or with --source the source's own payload."),
    source: Optional[str] = typer.Option(None, "--source", help="Parse --orders with this plugin's mapping."),
    json_output: bool = typer.Option(False, "--json", help="One JSON object per order on stdout."),
    explain: Optional[str] = typer.Option(None, "--explain", metavar="ORDER",
                                          help="Show every rule's condition tree with values for this order."),
    strict: bool = typer.Option(False, "--strict", help="Treat rule warnings as errors."),
) -> None:
    """Apply rules to saved orders and show what each rule would do. Writes nothing."""
    try:
        ruleset = load_rules(paths, _environment(), strict=strict)
    except RuleCheckError as exc:
        _err(str(exc))
        raise typer.Exit(int(ExitCode.RULE_ERROR))
    if ruleset.warnings:
        _err(format_report(ruleset.warnings))
    try:
        loaded = read_orders(orders, source)
    except ConnexError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(int(exc.exit_code))
    except (ValueError, TypeError, KeyError) as exc:
        _err(f"error: cannot read orders from {orders}: {exc}")
        raise typer.Exit(int(ExitCode.USAGE))
    results = [_with_defaults(ruleset.apply(order)) for order in loaded]
    explained, target = None, None
    if explain is not None:
        target = next((o for o in loaded if explain in (o.number, o.source_id, o.key)), None)
        if target is None:
            _err(f"error: no order {explain!r} in {orders}")
            raise typer.Exit(int(ExitCode.USAGE))
        explained = ruleset.explain(target)[1]
    if json_output:
        out = [_order_json(o, r) for o, r in zip(loaded, results)]
        if explained is not None:
            for item, order in zip(out, loaded):
                if order is target:
                    item["explain"] = _trace_json(explained)
        typer.echo(json.dumps(out, indent=2))
        _err("\n".join(_summary(ruleset, results)))
        return
    for order, result in zip(loaded, results):
        typer.echo("\n".join(_order_text(order, result)))
    typer.echo("\n".join(_summary(ruleset, results)))
    if explained is not None:
        from ..rules.explain import format_trace

        typer.echo(f"\nexplain order {explain}:")
        typer.echo(format_trace(explained))


# -- fields -----------------------------------------------------------------------------------------
def field_rows() -> list[dict[str, Any]]:
    """Every field rules can use: path, type, nullable, writable, alias, predicate, description."""
    from ..models import FIELD_ALIASES, PREDICATES

    aliases = {v: k for k, v in FIELD_ALIASES.items()}
    aliases.update({f"line.{v}": f"line.{k}" for k, v in FIELD_ALIASES.items()})
    return [{"field": path, "type": info.type.describe(), "nullable": info.type.nullable,
             "writable": info.writable, "alias": aliases.get(path),
             "predicate": path in PREDICATES, "description": info.description}
            for path, info in canonical_fields()]


def field_table_markdown() -> str:
    """The field table of docs/rules.md (a test keeps the two identical)."""
    out = ["| field | type | can be null | rules can set it | description |", "|---|---|---|---|---|"]
    for row in field_rows():
        name = f"`{row['field']}`" + (f" (`{row['alias']}`)" if row["alias"] else "")
        out.append(f"| {name} | {row['type']} | {'yes' if row['nullable'] else 'no'} | "
                   f"{'yes' if row['writable'] else 'no'} | {row['description'].replace('|', '/')} |")
    return "\n".join(out) + "\n"


@app.command()
def fields(
    json_output: bool = typer.Option(False, "--json", help="Print the fields as JSON."),
    markdown: bool = typer.Option(False, "--markdown", help="Print the table of docs/rules.md."),
) -> None:
    """List the order fields rules can use, with their types and descriptions."""
    rows = field_rows()
    if json_output:
        typer.echo(json.dumps(rows, indent=2))
        return
    if markdown:
        typer.echo(field_table_markdown(), nl=False)
        return
    for row in rows:
        name = row["field"] + (f" (or {row['alias']})" if row["alias"] else "")
        flags = ("" if row["writable"] else "read-only, ") + ("may be null" if row["nullable"] else "never null")
        typer.echo(f"{name:32} {row['type'][:40]:40} {flags}\n    {row['description']}")


# -- unmapped ---------------------------------------------------------------------------------------------
@app.command()
def unmapped(
    task: str = typer.Option(..., "--task", help="The task whose failed orders to look at."),
    since: Optional[str] = typer.Option(None, "--since", help="Only log entries on or after this date (YYYY-MM-DD, UTC) "
                                        "or datetime."),
    csv_file: Optional[Path] = typer.Option(None, "--csv", dir_okay=False, help="Write the table to this file; an "
                                            "existing table keeps its rows and gets the new SKUs added."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="The config file (default: $CONNEX_CONFIG or "
                                          "./connex.toml).", show_default=False),
) -> None:
    """List the SKUs the target did not know, in orders still failing, as a mapping table to fill in."""
    from .common import config_from, handle_errors, parse_when

    handle_errors(_unmapped)(task, parse_when(since, "UTC") if since else None, csv_file, config_from, config)


def _unmapped(task: str, since: Optional[datetime], csv_file: Optional[Path], config_from: Any,
              config: Optional[Path]) -> None:
    from ..rules.maps import split_cells
    from ..rules.unmapped import NOTE_COLUMNS, table_rows, unmapped_skus
    from ..state import LogQuery, SQLiteStore

    cfg = config_from(config)
    cfg.task(task)  # an unknown task is a config error naming the tasks there are
    store = SQLiteStore(cfg.state_path)
    try:
        items = unmapped_skus(store.query_log(LogQuery(task=task, since=since)))
    finally:
        store.close()
    orders = len({key for item in items for key in item.orders})
    if csv_file is None:
        typer.echo("\n".join(["from,to," + ",".join(NOTE_COLUMNS)] + table_rows(items)))
    elif csv_file.exists():
        text = csv_file.read_text(encoding="utf-8-sig")
        lines = [line for line in text.splitlines() if line.strip()]
        header = [name for name, _ in split_cells(lines[0]) or []] if lines else []
        if header[:2] != ["from", "to"]:
            _err(f"error: {csv_file} is not a mapping table (its first line must start with 'from,to')")
            raise typer.Exit(int(ExitCode.USAGE))
        known = {cells[0][0] for cells in map(split_cells, lines[1:]) if cells}
        new = [item for item in items if item.sku not in known]
        notes = header[-len(NOTE_COLUMNS):] == list(NOTE_COLUMNS)
        rows = table_rows(new, width=len(header) - (len(NOTE_COLUMNS) if notes else 0), notes=notes)
        csv_file.write_text(text + ("" if text.endswith("\n") or not text else "\n") + "".join(r + "\n" for r in rows),
                            encoding="utf-8")
        items = new
    else:
        csv_file.write_text("\n".join(["from,to," + ",".join(NOTE_COLUMNS)] + table_rows(items)) + "\n", encoding="utf-8")
    where = f"added to {csv_file}" if csv_file else "above"
    _err(f"{len(items)} unknown SKU(s) in {orders} failing order(s) of task {task!r} ({where}). Fill in 'to' (and "
         f"delete the rows you leave empty), then add to the task's rules: map line.sku using 'FILE'")
