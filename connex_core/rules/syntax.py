"""Syntax error messages: a Lark parse error turned into one helpful, positioned diagnostic
(``use '==' to compare``, ``missing 'then'``...)."""

from __future__ import annotations

import re

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .diagnostics import ERROR, Diagnostic

_STRINGS = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|#.*")


# -- syntax error messages -------------------------------------------------------------------------
_WORDS = {
    "NAME": "a field name", "STRING": "a text in quotes", "NUMBER": "a number", "DATE": "a date (@2026-09-15)",
    "COMPOP": "a comparison (== != < <= > >=)", "STROP": "endswith, startswith, contains or matches",
    "QUANT": "any, all or none", "$END": "the end of the file",
}
_VALUE_STARTS = {"NAME", "STRING", "NUMBER", "DATE", "TRUE", "FALSE", "NULL", "LPAR", "LSQB", "MINUS"}
_CONDITION_STARTS = _VALUE_STARTS | {"NOT", "QUANT"}
_ACTION_STARTS = {"SKIP", "HOLD", "STOP", "SET", "STRIP", "MARK", "TAG", "DROP", "MAP"}
_KEYWORDS = {"RULE", "WHEN", "THEN", "SKIP", "HOLD", "STOP", "SET", "STRIP", "FROM", "MARK", "TAG", "FOR", "EACH",
             "DROP", "MAP", "USING", "NOT", "_AND",
             "_OR", "_IN", "_IS", "NULL", "EMPTY", "TRUE", "FALSE", "CI", "QUANT", "STROP"}


def _describe_terminal(name: str, lark: Lark) -> str:
    if name in _WORDS:
        return _WORDS[name]
    try:
        pattern = lark.get_terminal(name).pattern
    except KeyError:
        return name
    return f"'{pattern.value}'" if pattern.type == "str" else name.lower()


def _describe_expected(expected: set[str], lark: Lark) -> str:
    expected = set(expected)
    parts = []
    if _ACTION_STARTS <= expected:
        parts.append("an action (skip, hold, stop, set, strip, mark, tag, drop, map...)")
        expected -= _ACTION_STARTS | {"NAME"}
    if {"NAME", "STRING", "NUMBER"} <= expected:
        parts.append("a condition" if "NOT" in expected else "a value")
        expected -= _CONDITION_STARTS
    parts += sorted(_describe_terminal(t, lark) for t in expected)
    if len(parts) > 7:
        parts = parts[:7] + ["..."]
    return ", ".join(parts) if len(parts) < 3 else "one of: " + ", ".join(parts)


def _token_text(tok: Token) -> str:
    return "the end of the file" if tok.type == "$END" else f"'{tok}'"


def _syntax_message(err: UnexpectedInput, lark: Lark) -> tuple[str, int]:
    """A helpful message for a parse error, and how many characters to underline."""
    if isinstance(err, UnexpectedCharacters):
        c = err.char
        if c in "'\"":
            return "unterminated text: the closing quote is missing", 1
        if c == "=":
            return "use '==' to compare ('=' only follows 'set FIELD')", 1
        if c in "&|":
            return f"write '{'and' if c == '&' else 'or'}' instead of '{c}{c}'", 2
        if c == "!":
            return "write 'not' to negate a condition, or '!=' to compare", 1
        return f"unexpected character {c!r}", 1
    assert isinstance(err, UnexpectedToken)
    tok, expected = err.token, set(err.expected)
    length = max(1, len(str(tok))) if tok.type != "$END" else 1
    if tok.type == "EQUAL" and "COMPOP" in expected:
        return "use '==' to compare ('=' only follows 'set FIELD')", length
    if tok.type in _ACTION_STARTS and "THEN" not in expected:
        return f"'{tok}' starts an action: separate actions with ',' (not 'and')", length
    if "THEN" in expected and (tok.type in _ACTION_STARTS or tok.type == "NAME" and _CONDITION_STARTS.isdisjoint(expected)):
        return f"missing 'then' before {_token_text(tok)}", length
    if "THEN" in expected and tok.type in _CONDITION_STARTS:
        return f"missing 'then' or an operator (and, or, ==...) before {_token_text(tok)}", length
    if tok.type in ("WHEN", "RULE", "$END") and _ACTION_STARTS <= expected:
        return "missing action after 'then'", length
    if tok.type in ("WHEN", "RULE", "$END", "THEN") and {"NAME", "STRING", "NUMBER"} <= expected:
        return f"incomplete condition: expected a value before {_token_text(tok)}", length
    if tok.type in _KEYWORDS and "NAME" in expected:
        return f"'{tok}' is a reserved word and cannot be used as a name here", length
    return f"unexpected {_token_text(tok)}; expected {_describe_expected(expected, lark)}", length


def syntax_diagnostic(err: UnexpectedInput, piece: str, first_line: int, file: str, lines: list[str],
                      lark: Lark) -> Diagnostic:
    """The diagnostic for a parse error in ``piece`` (which starts at ``first_line`` of the file)."""
    message, length = _syntax_message(err, lark)
    line, col = getattr(err, "line", -1), getattr(err, "column", -1)
    if line is None or line < 1:
        # The end of the piece: point just after its last non-blank, non-comment character.
        body = piece.split("\n")
        line, col = 1, 1
        for n, text in enumerate(body, start=1):
            stripped = _STRINGS.sub(lambda m: m.group(0) if not m.group(0).startswith("#") else "", text).rstrip()
            if stripped:
                line, col = n, len(stripped) + 1
    line += first_line - 1
    src = lines[line - 1] if 0 < line <= len(lines) else ""
    return Diagnostic(file, line, max(1, col), ERROR, message, src, length, code="syntax")
