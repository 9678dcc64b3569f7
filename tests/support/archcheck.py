"""Structural checks of the source tree, read with :mod:`ast` (nothing is imported or executed).

* :func:`long_files`: files over a line limit;
* :func:`import_graph` and :func:`cycles`: the import graph of one package (module-level and
  function-level imports both count; imports under ``if TYPE_CHECKING:`` do not, as they never run)
  and every cycle in it, each as a path ``a -> b -> a``;
* :func:`plugin_mentions`: where code names a plugin: an import of its package, an identifier that
  contains its name, or a string that does. Documentation is not code: docstrings (any bare string
  statement), comments, and the ``description=``/``help=``/``doc=`` texts of fields and options may
  name a vendor as an example;
* :func:`foreign_imports`: imports of any of a set of packages (a plugin importing another plugin).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

DOC_KEYWORDS = {"description", "help", "doc"}


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def python_files(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*.py") if "__pycache__" not in p.parts)


def long_files(root: Path, limit: int) -> list[tuple[Path, int]]:
    """Every ``.py`` file under ``root`` with more than ``limit`` lines, with its line count."""
    out = []
    for path in python_files(root):
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            out.append((path, n))
    return out


def module_name(package_dir: Path, path: Path) -> str:
    """``pkg/sub/mod.py`` -> ``pkg.sub.mod``; ``pkg/sub/__init__.py`` -> ``pkg.sub`` (package_dir is ``pkg``)."""
    rel = path.relative_to(package_dir.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` (the else branch does run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_names(path: Path, module: str) -> list[tuple[str, int, list[str]]]:
    """``(module imported, line, names imported from it)`` for every import that runs, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, node.lineno, [alias.name for alias in node.names]))
    return out


def import_graph(package_dir: Path) -> dict[str, dict[str, int]]:
    """Module -> {module of the same package it imports: line of the first such import}.

    ``from pkg.a import b`` is an edge to ``pkg.a.b`` when that is a module, else to ``pkg.a``. Importing
    ``pkg.a.b`` runs ``pkg.a`` first, but a parent package is always initialised before its children, so
    that implicit step is not an edge (it cannot deadlock); an explicit ``from . import x`` of a package's
    own ``__init__`` is.
    """
    package_dir = Path(package_dir)
    files = {module_name(package_dir, p): p for p in python_files(package_dir)}
    top = package_dir.name
    graph: dict[str, dict[str, int]] = {m: {} for m in files}
    for module, path in files.items():
        for target, line, names in imported_names(path, module):
            if target != top and not target.startswith(top + "."):
                continue
            targets = [f"{target}.{n}" for n in names if f"{target}.{n}" in files] or [target]
            if len(targets) < len(names):  # some names are attributes of target itself
                targets.append(target)
            for t in targets:
                while t not in files and "." in t:  # `import pkg.a.attr` style: the longest module prefix
                    t = t.rpartition(".")[0]
                if t in files and t != module:
                    graph[module].setdefault(t, line)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module, as a path that ends where it
    starts (``[a, b, a]``); sorted, so that the report is stable."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, {})):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return sorted(_path_in(graph, comp) for comp in components)


def _path_in(graph: dict[str, dict[str, int]], component: list[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first, inside the component)."""
    start, members = component[0], set(component)
    parents: dict[str, Optional[str]] = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.get(v, {})):
            if w == start:
                back = [v]
                while parents[back[-1]] is not None:
                    back.append(parents[back[-1]])  # type: ignore[arg-type]
                return back[::-1] + [start]
            if w in members and w not in parents:
                parents[w] = v
                queue.append(w)
    raise AssertionError(f"no cycle through {start} in {component}")


def describe_cycle(graph: dict[str, dict[str, int]], path: list[str]) -> str:
    """``a -> b (line 3) -> a (line 7)``: each step with the line of the import that makes it."""
    steps = [path[0]]
    for a, b in zip(path, path[1:]):
        steps.append(f"{b} (imported at {a} line {graph[a][b]})")
    return " -> ".join(steps)


def _doc_strings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are documentation: bare string statements (docstrings, attribute
    docstrings) and the values of ``description=``/``help=``/``doc=`` keyword arguments (texts included)."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            ids.add(id(node.value))
        elif isinstance(node, ast.keyword) and node.arg in DOC_KEYWORDS:
            ids.update(id(n) for n in ast.walk(node.value) if isinstance(n, ast.Constant))
    return ids


def _identifiers(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Attribute):
        yield node.attr
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name
    elif isinstance(node, ast.arg):
        yield node.arg
    elif isinstance(node, ast.keyword) and node.arg:
        yield node.arg
    elif isinstance(node, ast.alias):
        yield node.name
        if node.asname:
            yield node.asname
    elif isinstance(node, ast.ImportFrom) and node.module:
        yield node.module


def plugin_mentions(root: Path, names: Iterable[str]) -> list[Finding]:
    """Where the code under ``root`` names one of ``names`` (plugin, package or connector names)."""
    names = sorted({n.lower() for n in names})
    pattern = re.compile("|".join(re.escape(n) for n in names), re.I)
    findings = []
    for path in python_files(root):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        docs = _doc_strings(tree)
        for node in ast.walk(tree):
            line = getattr(node, "lineno", 0)
            for ident in _identifiers(node):
                if pattern.search(ident):
                    findings.append(Finding(path, line, f"identifier {ident!r} names a plugin"))
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
                    and pattern.search(node.value)):
                findings.append(Finding(path, line, f"string {node.value[:60]!r} names a plugin"))
    return sorted(set(findings), key=lambda f: (str(f.path), f.line, f.what))


def foreign_imports(package_dir: Path, forbidden: Iterable[str]) -> list[Finding]:
    """Imports (module-level or in functions) of any of the ``forbidden`` top-level packages."""
    forbidden = set(forbidden)
    package_dir = Path(package_dir)
    out = []
    for path in python_files(package_dir):
        for target, line, _ in imported_names(path, module_name(package_dir, path)):
            if target.split(".")[0] in forbidden:
                out.append(Finding(path, line, f"imports {target}"))
    return out


def by_line(findings: Iterable[Finding]) -> str:
    return "\n".join(str(f) for f in findings)
