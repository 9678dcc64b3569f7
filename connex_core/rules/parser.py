"""Parsing rule files: the packaged Lark grammar, turned straight into :mod:`.ast` nodes.

The parser is LALR with the grammar's transformer applied inline (no intermediate parse tree),
which keeps a 5,000-rule file well under a second. A file that parses is parsed in one call;
a file with syntax errors is parsed again rule by rule so that every broken rule gets its own
diagnostic in the same pass (a rule starts on a line beginning with ``rule`` or ``when``).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Optional

from lark import Lark, Token, Transformer
from lark import __version__ as lark_version
from lark.exceptions import UnexpectedInput

from . import ast
from .diagnostics import ERROR, Diagnostic, source_lines
from .depth import MAX_DEPTH, too_deep
from .syntax import _STRINGS, syntax_diagnostic
from .templates import MIN_RULES, parse_shapes

GRAMMAR_PACKAGE = "connex_core.grammar"
GRAMMAR_FILE = "rules.lark"


def grammar_text() -> str:
    """The grammar, read from the installed package (a wheel, or an editable install of the checkout)."""
    return resources.files(GRAMMAR_PACKAGE).joinpath(GRAMMAR_FILE).read_text(encoding="utf-8")


def build_lark(strict: bool = False, transformer: Optional[Transformer] = None, cache: bool | str = False) -> Lark:
    """A Lark parser for the grammar (``strict=True`` fails on any conflict: used by a test).

    ``cache`` is a file where Lark keeps the analysed grammar (see :func:`cache_file`), which takes
    building the parser from ~200 ms to a few ms on later runs.
    """
    return Lark(grammar_text(), parser="lalr", lexer="contextual", strict=strict, transformer=transformer,
                maybe_placeholders=True, cache=cache)


def cache_file() -> str | bool:
    """Where to cache the analysed grammar: a file in the user's own cache folder, named after the
    grammar's hash and the Lark and Python versions; False if that folder cannot be made.

    Never the shared temporary folder (Lark's default): the cache is a pickle, and loading one that
    another user planted there would run their code.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(base) / "connex"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return False
    digest = hashlib.sha256(grammar_text().encode("utf-8")).hexdigest()[:16]
    return str(folder / f"rules-grammar-{digest}-lark{lark_version}-py{sys.version_info[0]}{sys.version_info[1]}")


def unquote(raw: str) -> str:
    """The text of a quoted literal: ``\\'``, ``\\"`` and ``\\\\`` are unescaped, other backslashes kept
    (so a regular expression such as ``'\\d+'`` means what it says)."""
    return re.sub(r"\\([\\'\"])", r"\1", raw[1:-1])


class _Builder(Transformer):
    """Builds AST nodes from the LALR parser's reductions. Positions are shifted by ``line_offset``
    and ``pos_offset`` when a single rule is parsed out of a larger file."""

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)
        self.file = ""
        self.stem = ""
        self.line_offset = 0
        self.pos_offset = 0

    # -- positions ------------------------------------------------------------------------------
    def tp(self, tok: Token) -> ast.Pos:
        lo, po = self.line_offset, self.pos_offset
        return ast.Pos(tok.line + lo, tok.column, tok.end_line + lo, tok.end_column, tok.start_pos + po, tok.end_pos + po)

    def lit(self, tok: Token, value, kind: str) -> ast.Literal:
        return ast.Literal(self.tp(tok), value, kind)

    # -- rules ----------------------------------------------------------------------------------
    def start(self, rules):
        return rules

    def named_rule(self, children):
        rule_tok, name, (_when_pos, cond, actions, extra) = children
        label = unquote(name) if name.type == "STRING" else str(name)
        return ast.Rule(self.tp(rule_tok), label, True, cond, actions, self.file, **extra)

    def anon_rule(self, children):
        (when_pos, cond, actions, extra), = children
        return ast.Rule(when_pos, f"{self.stem}:{when_pos.line}", False, cond, actions, self.file, **extra)

    def when_clause(self, children):
        when_tok, cond, _then, *actions = children
        return self.tp(when_tok), cond, actions, {}

    def line_clause(self, children):
        for_tok, _each, word, _when, cond, _then, *actions = children
        return self.tp(for_tok), cond, actions, {"scope": "line", "scope_word": (str(word), self.tp(word))}

    def map_clause(self, children):
        action = self.map_(children)
        scope = "line" if action.target[0][0] == "line" else "order"
        always = ast.Literal(action.pos, True, "bool")
        return action.pos, always, [action], {"scope": scope, "statement": True}

    # -- actions --------------------------------------------------------------------------------
    def _text(self, tok):
        return None if tok is None else self.lit(tok, unquote(tok), "text")

    def skip(self, children):
        kw, reason = children
        return ast.Action(self.tp(kw), "skip", text=self._text(reason))

    def hold(self, children):
        kw, reason = children
        return ast.Action(self.tp(kw), "hold", text=self._text(reason))

    def stop(self, children):
        return ast.Action(self.tp(children[0]), "stop")

    def set(self, children):
        kw, target, value = children
        return ast.Action(self.tp(kw).to(value.pos), "set", target=target, value=value)

    def strip(self, children):
        kw, side, text, _from, target = children
        return ast.Action(self.tp(kw).to(self.tp(side)), "strip", name=str(side), name_pos=self.tp(side),
                          text=self._text(text), target=target)

    def mark(self, children):
        kw, word = children
        return ast.Action(self.tp(kw).to(self.tp(word)), "mark", name=str(word), name_pos=self.tp(word))

    def tag(self, children):
        kw, value = children
        return ast.Action(self.tp(kw).to(value.pos), "tag", value=value)

    def drop(self, children):
        kw, word, reason = children
        return ast.Action(self.tp(kw).to(self.tp(word)), "drop", name=str(word), name_pos=self.tp(word),
                          text=self._text(reason))

    def map_(self, children):
        kw, target, _using, path = children
        return ast.Action(self.tp(kw).to(self.tp(path)), "map", target=target, path=self._text(path))

    def call_action(self, children):
        name, *args, rpar = children
        args = [a for a in args if a is not None]
        return ast.Action(self.tp(name).to(self.tp(rpar)), "call", name=str(name), name_pos=self.tp(name), args=args)

    def call_action_short(self, children):
        name, arg = children
        return ast.Action(self.tp(name), "call", name=str(name), name_pos=self.tp(name),
                          args=[] if arg is None else [arg])

    def target(self, names):
        return [(str(n), self.tp(n)) for n in names]

    # -- conditions -----------------------------------------------------------------------------
    def or_test(self, items):
        return ast.BoolOp(items[0].pos.to(items[-1].pos), "or", list(items))

    def and_test(self, items):
        return ast.BoolOp(items[0].pos.to(items[-1].pos), "and", list(items))

    def not_(self, children):
        kw, operand = children
        return ast.Not(self.tp(kw).to(operand.pos), operand)

    def quant(self, children):
        kw, body = children
        return ast.Quant(self.tp(kw).to(body.pos), str(kw), body)

    def compare(self, children):
        left, op, right = children
        return ast.Compare(left.pos.to(right.pos), str(op), left, right, self.tp(op))

    def strop(self, children):
        left, op, ci, right = children
        return ast.StrOp(left.pos.to(right.pos), str(op), ci is not None, left, right, self.tp(op))

    def in_(self, children):
        left, right = children
        return ast.In(left.pos.to(right.pos), False, left, right)

    def not_in(self, children):
        left, _not, right = children
        return ast.In(left.pos.to(right.pos), True, left, right)

    def _is(self, children, test):
        operand, last = children[0], children[-1]
        return ast.Is(operand.pos.to(self.tp(last)), test, operand)

    def is_set(self, children):
        return self._is(children, "set")

    def is_null(self, children):
        return self._is(children, "null")

    def is_empty(self, children):
        return self._is(children, "empty")

    def is_not_empty(self, children):
        return self._is(children, "not_empty")

    # -- values ---------------------------------------------------------------------------------
    def binop(self, children):
        left, op, right = children
        return ast.BinOp(left.pos.to(right.pos), str(op), left, right, self.tp(op))

    def neg(self, children):
        kw, operand = children
        pos = self.tp(kw).to(operand.pos)
        if isinstance(operand, ast.Literal) and operand.kind == "number":
            return ast.Literal(pos, -operand.value, "number")  # -5 is a number (usable in lists)
        return ast.Neg(pos, operand)

    def attr(self, children):
        obj, name = children
        return ast.Attr(obj.pos.to(self.tp(name)), obj, str(name), self.tp(name))

    def index(self, children):
        obj, key, rsqb = children
        return ast.Index(obj.pos.to(self.tp(rsqb)), obj, key)

    def name(self, children):
        tok, = children
        return ast.Name(self.tp(tok), str(tok))

    def call(self, children):
        name, *args, rpar = children
        args = [a for a in args if a is not None]
        return ast.Call(self.tp(name).to(self.tp(rpar)), str(name), args)

    def paren(self, children):
        return children[1]

    def list_(self, children):
        lsqb, *items, rsqb = children
        items = [i for i in items if i is not None]
        return ast.ListLit(self.tp(lsqb).to(self.tp(rsqb)), items)

    def string(self, children):
        tok, = children
        return self.lit(tok, unquote(tok), "text")

    def number(self, children):
        from decimal import Decimal

        tok, = children
        return self.lit(tok, Decimal(str(tok)), "number")

    def date(self, children):
        tok, = children
        return self.lit(tok, str(tok)[1:], "date")

    def true(self, children):
        return self.lit(children[0], True, "bool")

    def false(self, children):
        return self.lit(children[0], False, "bool")

    def null(self, children):
        return self.lit(children[0], None, "null")


_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _parser() -> tuple[Lark, _Builder]:
    builder = _Builder()
    return build_lark(transformer=builder, cache=cache_file()), builder


# -- rule-by-rule splitting (for error recovery) ------------------------------------------------------
_RULE_START = re.compile(r"[ \t]*(rule|when|for|map)\b")


def split_rules(text: str) -> list[tuple[int, int, str]]:
    """Cut a file into pieces of one rule each: ``(first line, offset, text)``.

    A piece starts at a line that begins with ``rule``, or with ``when``, ``for`` or ``map`` unless it
    continues a rule whose first line has no ``when`` yet (``rule "x":`` or ``for each line``).
    """
    pieces: list[tuple[int, int]] = []  # (line index, offset)
    offset = 0
    header_open = False
    for i, line in enumerate(re.split(r"(?<=\n)", text)):
        m = _RULE_START.match(line)
        if m:
            word = m.group(1)
            complete = re.search(r"\b(when|map)\b", _STRINGS.sub("", line[m.end(1):] if word == "for" else line))
            if word == "rule":
                pieces.append((i, offset))
                header_open = not complete
            elif header_open:
                header_open = word == "for" and not complete
            else:
                pieces.append((i, offset))
                header_open = word == "for" and not complete
        offset += len(line)
    if not pieces or pieces[0][1] != 0:
        pieces.insert(0, (0, 0))
    out = []
    for n, (line_index, start) in enumerate(pieces):
        end = pieces[n + 1][1] if n + 1 < len(pieces) else len(text)
        out.append((line_index + 1, start, text[start:end]))
    return out


def parse_text(text: str, file: str) -> tuple[list[ast.Rule], list[Diagnostic]]:
    """Parse one file's text: its rules, and a diagnostic for each rule that does not parse."""
    lark, builder = _parser()
    lines = source_lines(text)
    with _LOCK:
        builder.file, builder.stem = file, Path(file).name
        builder.line_offset = builder.pos_offset = 0
        pieces = split_rules(text)
        fast = parse_shapes(pieces, lark.parse, file, builder.stem, unquote) if len(pieces) >= MIN_RULES else None
        if fast is not None:
            return fast, []  # (each shape was checked against the depth limit)
        try:
            return bounded(lark.parse(text), file, lines)
        except UnexpectedInput:
            pass
        rules: list[ast.Rule] = []
        diags: list[Diagnostic] = []
        for first_line, offset, piece in pieces:
            builder.line_offset, builder.pos_offset = first_line - 1, offset
            try:
                rules.extend(lark.parse(piece))
            except UnexpectedInput as err:
                diags.append(syntax_diagnostic(err, piece, first_line, file, lines, lark))
        builder.line_offset = builder.pos_offset = 0
        rules, deep = bounded(rules, file, lines)
        return rules, sorted(diags + deep, key=lambda d: (d.line, d.col))


def bounded(rules: list[ast.Rule], file: str, lines: list[str]) -> tuple[list[ast.Rule], list[Diagnostic]]:
    """The rules nested at most :data:`~.depth.MAX_DEPTH` deep, and an error for each other rule."""
    kept: list[ast.Rule] = []
    diags: list[Diagnostic] = []
    for rule in rules:
        found = too_deep(rule)
        if found is None:
            kept.append(rule)
            continue
        depth, node = found
        pos = node.pos
        src = lines[pos.line - 1] if 0 < pos.line <= len(lines) else ""
        length = pos.end - pos.start if pos.end_line == pos.line else len(src) - pos.col + 1
        diags.append(Diagnostic(file, pos.line, pos.col, ERROR, f"this rule nests {depth} levels deep; at most "
                                f"{MAX_DEPTH} are allowed (split the condition, or use 'in [...]' for long lists of "
                                f"alternatives)", src, max(1, length), rule.name, code="too-deep"))
    return kept, diags
