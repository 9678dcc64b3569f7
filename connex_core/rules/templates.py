"""Parsing large rule files quickly: rules that differ only in their texts are parsed once.

A file of thousands of SKU rules (``for each line when line.sku == 'MUG-BLK' then set line.sku =
'...'``) repeats a handful of shapes. Each rule is cut out (:func:`~.parser.split_rules`) and its
texts in quotes replaced by placeholders of the same length; the first rule of a shape is parsed
by Lark, and the others are copies of its tree with their own texts, positions and names. The
result is exactly what parsing the whole file gives (a test compares the two); anything unusual
(a rule that does not parse, a rule nested past the limit, a long rule) makes :func:`parse_shapes`
return None and the file is parsed as a whole.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable, Optional

from . import ast
from .depth import too_deep

#: Files with fewer rules are parsed in one go (the shapes would not pay for themselves).
MIN_RULES = 200
#: Longer rules are parsed as written (they rarely repeat, and their trees may be deep).
MAX_RULE_CHARS = 400
_STRING = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|#[^\n]*")
_FILL = "\x01"


def parse_shapes(pieces: list[tuple[int, int, str]], parse: Callable[[str], list[ast.Rule]], file: str, stem: str,
                 unquote: Callable[[str], str]) -> Optional[list[ast.Rule]]:
    """The rules of ``pieces`` (``(first line, offset, text)``), parsing each shape once with ``parse``
    (which parses one piece as if it started the file, raising on a syntax error); None to say
    "parse the file as a whole"."""
    if len(pieces) < MIN_RULES:
        return None
    shapes: dict[str, Optional[list[ast.Rule]]] = {}
    out: list[ast.Rule] = []
    for first_line, offset, piece in pieces:
        if len(piece) > MAX_RULE_CHARS:
            return None
        strings = [m for m in _STRING.finditer(piece) if m.group(0)[0] != "#"]
        shape = piece
        for m in reversed(strings):
            raw = m.group(0)
            shape = shape[:m.start()] + raw[0] + _FILL * (len(raw) - 2) + raw[-1] + shape[m.end():]
        if shape not in shapes:
            try:
                parsed = parse(shape)
            except Exception:  # a syntax error: the whole-file parse reports it properly
                return None
            if any(too_deep(rule) for rule in parsed):
                return None
            shapes[shape] = parsed
        texts = {m.start(): unquote(m.group(0)) for m in strings}
        placeholders = {m.start(): _FILL * (len(m.group(0)) - 2) for m in strings}
        for rule in shapes[shape] or []:
            copy = _clone(rule, first_line - 1, offset, texts)
            if rule.named and strings and rule.name == placeholders[strings[0].start()]:
                copy.name = texts[strings[0].start()]
            elif not rule.named:
                copy.name = f"{stem}:{copy.pos.line}"
            copy.file = file
            out.append(copy)
    return out


_FIELDS: dict[type, tuple[str, ...]] = {}
_ATOMS = (str, int, bool, float, type(None))


def _clone(node: Any, lines: int, chars: int, texts: dict[int, str]) -> Any:
    """A copy of a parsed tree moved down ``lines`` lines and ``chars`` characters, with the texts in
    quotes that start at each offset of the piece (``texts``) put back."""
    kind = type(node)
    if kind in _ATOMS:
        return node
    if kind is ast.Pos:
        return ast.Pos(node.line + lines, node.col, node.end_line + lines, node.end_col, node.start + chars,
                       node.end + chars)
    if kind is list:
        return [_clone(item, lines, chars, texts) for item in node]
    if kind is tuple:
        return tuple(_clone(item, lines, chars, texts) for item in node)
    names = _FIELDS.get(kind)
    if names is None:
        if not dataclasses.is_dataclass(node):
            return node
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(node))
    copy = object.__new__(kind)
    for name in names:
        object.__setattr__(copy, name, _clone(getattr(node, name), lines, chars, texts))
    if kind is ast.Literal and node.kind == "text" and node.pos.start in texts:
        copy.value = texts[node.pos.start]
    return copy
