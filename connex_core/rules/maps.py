"""Mapping tables: ``map line.sku using 'maps/sku.csv'``.

A table is a CSV file (UTF-8, a header row ``from,to``, optionally more columns named after other
fields of the same scope to set as well, such as ``item_name,class,tax_code``), found relative to
the rule file; columns whose name starts with ``#`` are notes and are ignored. The checker loads
it once and validates all of it: a missing file, a wrong header,
unknown or unsettable columns, rows of the wrong length, empty cells, values a field cannot take,
and duplicate ``from`` values are errors positioned in the CSV file (``maps/sku.csv:LINE:COL``).
The loaded :class:`MapTable` is kept on the action; running it is one dictionary lookup.

Cells are taken as written, except that spaces around an unquoted cell are dropped; a cell in
double quotes may hold commas (``"Mug, black"``) and doubled quotes (``""``), on one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from itertools import accumulate
from pathlib import Path
from typing import Any, Callable, Optional

from . import ast
from .diagnostics import ERROR, Diagnostic, did_you_mean, source_lines
from ..models import FIELD_ALIASES
from .schema import FieldRef, fields_of
from .values import parse_date_literal

#: How many problems of one table are listed before the rest are summed up in one line.
MAX_TABLE_ERRORS = 50

_NOTE_COLUMN: Any = object()
_QUOTED_CELL = re.compile(r'\s*"((?:[^"]|"")*)"\s*(?:,|$)|([^,"]*)(?:,|$)')


@dataclass
class MapTable:
    """A checked mapping table: ``rows[from] = (value for each of targets)``."""

    path: str
    """The file, as messages show it (the rule file's folder joined with the path written)."""
    key: FieldRef
    """The field looked up (``line.sku``); the ``to`` column writes it too."""
    targets: list[FieldRef]
    rows: dict[str, tuple]


def split_cells(line: str) -> Optional[list[tuple[str, int]]]:
    """The cells of one CSV line with their 1-based columns; None for an unterminated quote."""
    if '"' not in line:
        parts = line.split(",")
        starts = accumulate((len(p) + 1 for p in parts[:-1]), initial=1)
        return [(p.strip(), col + len(p) - len(p.lstrip())) for p, col in zip(parts, starts)]
    cells: list[tuple[str, int]] = []
    pos = 0
    while pos <= len(line):
        m = _QUOTED_CELL.match(line, pos)
        if m is None or m.end() == pos and pos < len(line):
            return None
        if m.group(1) is not None:
            cells.append((m.group(1).replace('""', '"'), line.index('"', pos) + 1))
        else:
            raw = m.group(2)
            cells.append((raw.strip(), pos + 1 + len(raw) - len(raw.lstrip())))
        if m.end() >= len(line) and not line.endswith(","):
            break
        pos = m.end()
        if pos == len(line):  # a trailing comma: one more, empty cell
            cells.append(("", pos + 1))
            break
    return cells


def _converter(ref: FieldRef) -> Optional[Callable[[str], Any]]:
    """How a cell becomes a value of the field (raising ValueError with a reason); None if the field
    cannot be written from a table."""
    ty = ref.type
    if ty.kind == "text":
        return str
    if ty.kind == "enum" and ty.enum is not None:
        enum = ty.enum

        def to_enum(cell: str) -> Any:
            try:
                return enum(cell)
            except ValueError:
                values = [m.value for m in enum]
                raise ValueError(f"'{cell}' is not a possible value of '{ref.path}'" +
                                 (did_you_mean(cell, values) or "; it is one of " + ", ".join(map(repr, values))))
        return to_enum
    if ty.numeric:
        def to_number(cell: str) -> Decimal:
            try:
                value = Decimal(cell)
            except InvalidOperation:
                raise ValueError(f"'{ref.path}' is {ty.describe()}, not '{cell}'") from None
            if not value.is_finite():
                raise ValueError(f"'{ref.path}' is {ty.describe()}, not '{cell}'")
            return value
        return to_number
    if ty.kind == "bool":
        def to_bool(cell: str) -> bool:
            if cell.lower() not in ("true", "false"):
                raise ValueError(f"'{ref.path}' is true or false, not '{cell}'")
            return cell.lower() == "true"
        return to_bool
    if ty.temporal:
        def to_date(cell: str) -> date | datetime:
            value = parse_date_literal(cell)
            if (ty.kind == "date") != (type(value) is date):
                raise ValueError(f"'{ref.path}' is {ty.describe()}, not '{cell}'")
            return value
        return to_date
    return None


class MapChecks:
    """The checker's part for ``map``: the action, and its table (mixed into the Checker)."""

    rule: Optional[ast.Rule]
    diags: list[Diagnostic]
    tables: dict
    report: Callable[..., None]
    resolve: Callable[..., Optional[FieldRef]]
    _target: Callable[..., Optional[FieldRef]]

    def a_map(self, action: ast.Action, rule: ast.Rule) -> None:
        ref = self._target(action.target or [], "map")
        if ref is None or action.path is None:
            return
        whole = action.target[0][1].to(action.target[-1][1])  # type: ignore[index]
        if ref.type.kind not in ("text", "enum"):
            self.report(whole, f"a map looks up text; '{ref.path}' is {ref.type.describe()}", "map")
            return
        folder = Path(rule.file).parent if rule.file else Path(".")
        file = folder / action.path.value
        key = (str(file), ref.path)
        if key not in self.tables:
            self.tables[key] = self.load_table(file, ref, action.path)
        action.table = self.tables[key]
        action.writes = ref if action.table is not None else None

    def load_table(self, file: Path, key: FieldRef, where: ast.Literal) -> Optional[MapTable]:
        """Read and check one table; every problem becomes a diagnostic. None if it has errors."""
        shown = str(file)
        try:
            text = file.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            self.report(where.pos, f"map file '{where.value}' not found (looked for {shown})", "map")
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.report(where.pos, f"cannot read map file {shown}: {exc}", "map")
            return None
        lines = source_lines(text)
        errors: list[Diagnostic] = []

        def error(line: int, col: int, message: str, length: int = 1) -> None:
            src = lines[line - 1] if 0 < line <= len(lines) else ""
            errors.append(Diagnostic(shown, line, col, ERROR, message, src, max(1, length),
                                     self.rule.name if self.rule else None, "map"))

        first = next((n for n, line in enumerate(lines) if line.strip()), None)
        if first is None:
            error(1, 1, "the map is empty: its first line must be the header 'from,to'")
            self.diags.extend(errors)
            return None
        header = split_cells(lines[first]) or []
        names = [name for name, _ in header]
        if names[:2] != ["from", "to"]:
            error(first + 1, 1, f"the header must start with 'from,to' (then other fields to set), not "
                  f"'{','.join(names[:2])}'", len(lines[first]))
            self.diags.extend(errors)
            return None
        targets = [key]
        converters: list[Optional[Callable[[str], Any]]] = [_converter(key)]  # per column after 'from'
        seen_columns: dict[str, int] = {}
        for name, col in header[2:]:
            if name.startswith("#"):  # a note (``connex rules unmapped`` writes #orders, #example order)
                converters.append(_NOTE_COLUMN)
                continue
            at = _pos(first + 1, col, name)
            chain = ([("line", at)] if key.scope == "line" else []) + [(part, at) for part in name.split(".")]
            ref = self.resolve(chain, _line_scope()) if name else None
            if ref is None and name:
                # resolve() reported against the rule file; say it where the column is
                self.diags.pop()
            if ref is None:
                known = [f for f, info in fields_of(_model(key)).items() if info.writable]
                known += [alias for alias, field in FIELD_ALIASES.items() if field in known]
                error(first + 1, col, f"unknown column '{name}'{did_you_mean(name, known)}", len(name))
                converters.append(None)
                continue
            convert = _converter(ref)
            if not ref.info.writable or convert is None or ref.path in seen_columns or ref.path == key.path:
                why = "appears twice" if ref.path in seen_columns or ref.path == key.path else "cannot be set by a map"
                error(first + 1, col, f"column '{name}' {why}", len(name))
                converters.append(None)
                continue
            seen_columns[ref.path] = col
            targets.append(ref)
            converters.append(convert)
        width = len(header)
        rows: dict[str, tuple] = {}
        first_seen: dict[str, int] = {}
        for n in range(first + 1, len(lines)):
            line = lines[n]
            if not line.strip():
                continue
            cells = split_cells(line)
            if cells is None:
                error(n + 1, 1, "unterminated quote (a cell in quotes must end on its line)", len(line))
                continue
            if len(cells) != width:
                error(n + 1, 1, f"this row has {len(cells)} cell(s); the header has {width}", len(line))
                continue
            (source, source_col) = cells[0]
            values: list[Any] = []
            ok = True
            for column, ((cell, col), convert) in enumerate(zip(cells[1:], converters), start=1):
                if convert is _NOTE_COLUMN:
                    continue
                if cell == "":
                    error(n + 1, col, f"empty cell in column '{names[column]}'")
                    ok = False
                    continue
                if convert is None:  # a column with an error of its own
                    continue
                try:
                    values.append(convert(cell))
                except ValueError as exc:
                    error(n + 1, col, str(exc), len(cell))
                    ok = False
            if source == "":
                error(n + 1, source_col, "empty cell in column 'from'")
                ok = False
            elif source in first_seen:
                error(n + 1, source_col, f"duplicate 'from' value {source!r} (first on line {first_seen[source]})",
                      len(source))
                ok = False
            else:
                first_seen[source] = n + 1
            if ok and len(errors) == 0:
                rows[source] = tuple(values)
        if errors:
            shown_errors = errors[:MAX_TABLE_ERRORS]
            if len(errors) > MAX_TABLE_ERRORS:
                last = errors[MAX_TABLE_ERRORS]
                shown_errors.append(Diagnostic(shown, last.line, 1, ERROR, f"... and {len(errors) - MAX_TABLE_ERRORS} "
                                               f"more problem(s) in this map", "", 1, last.rule, "map"))
            self.diags.extend(shown_errors)
            return None
        return MapTable(shown, key, targets, rows)


def _pos(line: int, col: int, text: str) -> ast.Pos:
    return ast.Pos(line, col, line, col + len(text), 0, len(text))


def _line_scope() -> Any:
    from .expressions import _Scope

    return _Scope(line_rule=True)


def _model(ref: FieldRef) -> type:
    from .. import models

    return models.LineItem if ref.scope == "line" else models.Order
