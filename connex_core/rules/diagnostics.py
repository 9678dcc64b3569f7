"""Diagnostics: what ``connex rules check`` prints, and the errors the rule engine raises.

Every problem is one :class:`Diagnostic` with a file position; :func:`format_diagnostic` renders
it the way compilers do::

    rules/main.rules:3:14: error: unknown field 'order.numbr'; did you mean 'number'?
    when order.numbr endswith '-1' then strip suffix
               ^~~~~
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

from ..errors import RuleError

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a rule file."""

    file: str
    line: int
    col: int
    severity: str
    message: str
    source_line: str = ""
    length: int = 1
    """How many characters the caret line underlines (at least one)."""
    rule: Optional[str] = None
    code: str = ""
    """A short stable identifier of the kind of problem (``unknown-field``, ``syntax``...)."""

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def as_error(self) -> "Diagnostic":
        """This diagnostic as an error (``--strict`` turns warnings into errors)."""
        if self.is_error:
            return self
        return Diagnostic(self.file, self.line, self.col, ERROR, self.message, self.source_line,
                          self.length, self.rule, self.code)

    def to_json(self) -> dict:
        return {"file": self.file, "line": self.line, "column": self.col, "severity": self.severity,
                "code": self.code, "rule": self.rule, "message": self.message}


def source_lines(text: str) -> list[str]:
    """The lines of a rule file as the parser counts them (only ``\n`` ends a line)."""
    return [line.rstrip("\r") for line in text.split("\n")]


def format_diagnostic(d: Diagnostic) -> str:
    """``FILE:LINE:COL: severity: MESSAGE`` followed by the source line and a caret under the column."""
    head = f"{d.file}:{d.line}:{d.col}: {d.severity}: {d.message}"
    if not d.source_line:
        return head
    src = d.source_line.expandtabs(1)
    width = max(1, min(d.length, len(src) - d.col + 1))
    caret = " " * (d.col - 1) + "^" + "~" * (width - 1)
    return f"{head}\n{src}\n{caret}"


def format_report(diagnostics: Iterable[Diagnostic]) -> str:
    return "\n".join(format_diagnostic(d) for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple:
    return (d.file, d.line, d.col, d.severity != ERROR, d.message)


def did_you_mean(word: str, candidates: Iterable[str], quote: str = "'") -> str:
    """``"; did you mean 'x'?"`` for the closest candidates, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=2, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"{quote}{c}{quote}" for c in close) + "?"


class RuleCheckError(RuleError):
    """Rule files have errors (syntax or checking). ``str()`` is the full report.

    ``diagnostics`` lists every problem found in one pass (warnings included, so a caller can
    show them too); ``errors`` only those that stop the rules from loading.
    """

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=sort_key)
        super().__init__(format_report(self.diagnostics))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


class RuleRuntimeError(RuleError):
    """A rule failed while running on one order. The engine holds the order with this message."""

    def __init__(self, message: str, *, rule: str, file: str, line: int, named: bool = True):
        self.rule = rule
        self.file = file
        self.line = line
        where = f"rule {rule!r} ({file}:{line})" if named else f"the rule at {file}:{line}"
        super().__init__(f"{where} failed: {message}")
