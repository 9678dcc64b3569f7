#!/usr/bin/env python3
"""Mutation testing of the modules whose tests must catch every wrong line (run on demand, not in CI).

    python3 dev.py mutation                 # every module in MODULES
    python3 dev.py mutation state write     # some of them (state: sqlite.py and the SQL it shares, sql.py)
    python3 dev.py mutation compiler --jobs 2 --budget 600 --show survivors

Mutants come from cosmic-ray's operators (comparison, boolean, unary, arithmetic, numbers, loops,
break/continue, exception types, decorators) plus statement deletion (a line replaced by ``pass``).
Each mutant is applied to a private copy of the checkout (one per worker, put first on
``sys.path``), and the module's own fast tests run against it with ``pytest -x``: a failure or a
timeout kills the mutant. To keep a run affordable on a shared machine, the clean run records which lines of
the module each test reaches (``mutation_trace.py``); a mutant first runs against the tests that reach its
statement, and only a survivor (or a mutant of code run at import) against all of the module's tests, so the
outcome is the same as with all of them (``--all-tests`` skips the selection). The score printed per module is killed / (total - equivalent), where the
equivalent mutants are the reviewed list in ``scripts/mutation_equivalents.toml`` (each with the
reason it cannot change behaviour). Survivors are printed as diffs: each is a missing assertion.

To add a module, add a row to MODULES: the file, the functions to mutate (None: the whole file),
and its tests (keep them to a few seconds: they run once per mutant).
"""

from __future__ import annotations

import argparse
import ast as pyast
import difflib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENTS = ROOT / "scripts" / "mutation_equivalents.toml"


@dataclass
class Module:
    path: str
    tests: list[str]
    functions: Optional[set[str]] = None  # None: every function (and module-level code) of the file
    hypothesis: bool = False  # load hypothesis's pytest plugin (seconds of start-up per mutant)
    args: list[str] = field(default_factory=list)  # more pytest arguments (``-k``), for every run


def _existing(*paths: str) -> list[str]:
    """The test files of a row that exist (a row may name a test file another branch adds)."""
    return [t for t in paths if (ROOT / t).exists()]


def _write_path() -> Module:
    """The exactly-once write protocol: its own module once the engine is split, else the engine's functions."""
    tests = _existing("tests/test_write_path_mutants.py", "tests/test_write_path_undo.py",
                      "tests/test_write_path_daily.py", "tests/test_slices.py",
                      "tests/test_write_path.py", "tests/test_held_command.py",
                      "tests/test_engine.py")  # the quick ones first: pytest -x stops at a mutant's first failure
    if (ROOT / "connex_core" / "sync" / "write.py").exists():
        return Module("connex_core/sync/write.py", tests)
    return Module("connex_core/engine.py", tests,
                  {"_dispatch", "_reconcile", "_record_results", "_record_failures", "_write"})


#: The state store's tests: the SQLite store and the SQL both stores share (``tests/state`` runs every store
#: kind; PostgreSQL's skip unless it is up and ``CI=true``, and SQLite's alone kill the shared SQL's mutants).
STATE_TESTS = _existing("tests/test_state.py", "tests/state/test_stores.py", "tests/state/test_sql_mutants.py")
STATE_ARGS = ["-k", "not postgres"]  # these rows mutate SQLite's store: PostgreSQL's runs add minutes, not kills

# name -> module under test. Edit freely: the tests listed run once per mutant.
MODULES: dict[str, Module] = {
    "compiler": Module("connex_core/rules/compiler.py",
                       ["tests/rules/test_semantics.py", "tests/rules/test_operands.py",
                        "tests/rules/test_cases.py", "tests/rules/test_extensions.py"]),
    "sqlite": Module("connex_core/state/sqlite.py", STATE_TESTS, args=STATE_ARGS),
    "sql": Module("connex_core/state/sql.py", STATE_TESTS, args=STATE_ARGS),
    "write": _write_path(),
    # Tracking write-back: exactly once too (its own dispatch and ledger), and when a shipment waits for its order.
    "tracking": Module("connex_core/sync/tracking.py",
                       _existing("tests/test_engine.py", "tests/reliability/test_tracking_retry.py",
                                 "tests/e2e/test_shipstation_to_quickbooks.py",
                                 "tests/e2e/test_quickbooks_to_shipstation.py",
                                 "plugins/xero/tests/test_engine_flows.py", "tests/e2e/test_xero.py")),
}

#: Names that stand for several rows: the state store is ``sqlite.py`` plus the SQL it shares (``sql.py``).
GROUPS: dict[str, list[str]] = {"state": ["sqlite", "sql"]}

# cosmic-ray operators used (the full arithmetic cross product would only add near-duplicates).
OPERATORS = [
    *(f"core/ReplaceComparisonOperator_{a}_{b}" for a, b in [
        ("Eq", "NotEq"), ("NotEq", "Eq"), ("Lt", "LtE"), ("Lt", "GtE"), ("LtE", "Lt"), ("LtE", "Gt"),
        ("Gt", "GtE"), ("Gt", "LtE"), ("GtE", "Gt"), ("GtE", "Lt"), ("Is", "IsNot"), ("IsNot", "Is")]),
    *(f"core/ReplaceBinaryOperator_{a}_{b}" for a, b in [
        ("Add", "Sub"), ("Sub", "Add"), ("Mul", "Div"), ("Div", "Mul"), ("FloorDiv", "Div"), ("Mod", "FloorDiv"),
        ("BitOr", "BitAnd"), ("BitAnd", "BitOr")]),
    "core/ReplaceUnaryOperator_Delete_Not", "core/ReplaceUnaryOperator_USub_UAdd", "core/AddNot",
    "core/ReplaceTrueWithFalse", "core/ReplaceFalseWithTrue", "core/ReplaceAndWithOr", "core/ReplaceOrWithAnd",
    "core/ReplaceBreakWithContinue", "core/ReplaceContinueWithBreak", "core/ExceptionReplacer",
    "core/NumberReplacer", "core/RemoveDecorator", "core/ZeroIterationForLoop",
]
DELETE = "delete-statement"


@dataclass
class Mutant:
    module: str
    operator: str
    function: Optional[str]
    line: int
    source: str  # the whole mutated file
    before: str = ""  # the changed lines, stripped and joined (what equivalents match on)
    after: str = ""
    outcome: str = ""  # killed, survived, timeout, equivalent, not run
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def diff(self, original: str) -> str:
        return "".join(difflib.unified_diff(original.splitlines(True), self.source.splitlines(True),
                                            self.module, self.module, n=1))


def _changed(original: str, mutated: str) -> tuple[int, str, str]:
    a, b = original.splitlines(), mutated.splitlines()
    sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag != "equal":
            return i1 + 1, " | ".join(s.strip() for s in a[i1:i2]), " | ".join(s.strip() for s in b[j1:j2])
    return 0, "", ""


def _enclosing(tree: pyast.AST) -> dict[int, str]:
    """Line -> name of the innermost function or class defining it."""
    out: dict[int, str] = {}

    def walk(node: pyast.AST, name: Optional[str]) -> None:
        for child in pyast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (pyast.FunctionDef, pyast.AsyncFunctionDef,
                                                      pyast.ClassDef)) else name
            if inner is not None and hasattr(child, "lineno"):
                for ln in range(child.lineno, (child.end_lineno or child.lineno) + 1):
                    out[ln] = inner
            walk(child, inner)

    walk(tree, None)
    return out


def _statements(tree: pyast.AST) -> dict[int, tuple[int, int]]:
    """Line -> the innermost statement inside a function body that holds it (first and last line). Lines
    missing (module and class level, a ``def`` line with its defaults and decorators) run at import, before
    any test begins: their mutants are run against every test of the module."""
    out: dict[int, tuple[int, int]] = {}

    def walk(node: pyast.AST, in_function: bool) -> None:
        for child in pyast.iter_child_nodes(node):
            if in_function and isinstance(child, pyast.stmt):
                for ln in range(child.lineno, (child.end_lineno or child.lineno) + 1):
                    out[ln] = (child.lineno, child.end_lineno or child.lineno)
            if isinstance(child, (pyast.FunctionDef, pyast.AsyncFunctionDef)):
                for part in child.body:
                    walk_stmt(part)
                continue
            walk(child, in_function)

    def walk_stmt(stmt: pyast.stmt) -> None:
        walk(pyast.Module(body=[stmt], type_ignores=[]), True)

    walk(tree, False)
    return out


def _docstring_lines(tree: pyast.AST) -> set[int]:
    lines = set()
    for node in pyast.walk(tree):
        if isinstance(node, (pyast.Module, pyast.FunctionDef, pyast.AsyncFunctionDef, pyast.ClassDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], pyast.Expr) and isinstance(body[0].value, pyast.Constant) \
                    and isinstance(body[0].value.value, str):
                lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def _deletions(original: str, tree: pyast.AST) -> list[tuple[int, str]]:
    """Each simple statement (a call, an assignment, a raise, a return, a break) replaced by ``pass``."""
    kinds = (pyast.Expr, pyast.Assign, pyast.AugAssign, pyast.AnnAssign, pyast.Raise, pyast.Return,
             pyast.Break, pyast.Continue, pyast.Delete)
    lines = original.splitlines(True)
    doc = _docstring_lines(tree)
    out = []
    for node in pyast.walk(tree):
        if not isinstance(node, kinds) or node.lineno in doc:
            continue
        if isinstance(node, pyast.AnnAssign) and node.value is None:
            continue
        first, last = node.lineno - 1, node.end_lineno - 1
        head, tail = lines[first][:node.col_offset], lines[last][node.end_col_offset:]
        if head.strip() or tail.strip() not in ("", ";") and not tail.lstrip().startswith("#"):
            continue  # shares its line with other code (``if x: return``): skipped, not guessed at
        new = lines[:first] + [head + "pass" + ("\n" if lines[last].endswith("\n") else "")] + lines[last + 1:]
        out.append((node.lineno, "".join(new)))
    return out


def mutants(name: str, mod: Module) -> list[Mutant]:
    from cosmic_ray.ast import ast_nodes, get_ast
    from cosmic_ray.mutating import mutate_code
    from cosmic_ray.plugins import get_operator

    original = (ROOT / mod.path).read_text(encoding="utf-8")
    tree = pyast.parse(original)
    owner = _enclosing(tree)
    doc = _docstring_lines(tree)
    out: list[Mutant] = []

    def add(op: str, source: Optional[str]) -> None:
        if source is None or source == original:
            return
        line, before, after = _changed(original, source)
        if line in doc:
            return
        fn = owner.get(line)
        if mod.functions is not None and fn not in mod.functions:
            return
        try:
            compile(source, mod.path, "exec")
        except SyntaxError:
            return
        out.append(Mutant(name, op, fn, line, source, before, after))

    parsed = get_ast(original)
    for op_name in OPERATORS:
        operator = get_operator(op_name)()
        positions = [start for node in ast_nodes(parsed) for start, _end in operator.mutation_positions(node)]
        for occurrence, (line, _col) in enumerate(positions):
            if line in doc or (mod.functions is not None and owner.get(line) not in mod.functions):
                continue  # not parsed and mutated only to be dropped (a big file has thousands of sites)
            add(op_name, mutate_code(original, operator, occurrence))
    for _line, source in _deletions(original, tree):
        add(DELETE, source)
    return out


def load_equivalents() -> dict[str, list[dict]]:
    if not EQUIVALENTS.exists():
        return {}
    return tomllib.loads(EQUIVALENTS.read_text(encoding="utf-8"))


def is_equivalent(m: Mutant, known: list[dict]) -> Optional[dict]:
    for e in known:
        if e["before"] == m.before and e["after"] == m.after and e.get("operator", m.operator) == m.operator \
                and e.get("function", m.function) == m.function:
            return e
    return None


def _reaching(trace: Path, statements: dict[int, tuple[int, int]]) -> Callable[[int], list[str]]:
    """line -> the tests (node ids) that ran the statement holding it in the clean run, quickest first (``-x``
    stops at the first failure); [] (all the module's tests) when the line runs at import, or nothing was traced."""
    try:
        traced = json.loads(trace.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return lambda line: []
    quickest = sorted(traced, key=lambda node: traced[node]["seconds"])
    lines = {node: set(traced[node]["lines"]) for node in quickest}

    def reach(line: int) -> list[str]:
        if line not in statements:
            return []
        first, last = statements[line]
        span = set(range(first, last + 1))
        return [node for node, hit in lines.items() if hit & span]

    return reach


class Workers:
    """Private copies of the checkout, one per worker; connex_core is imported from the copy."""

    def __init__(self, jobs: int):
        self.base = Path(tempfile.mkdtemp(prefix="connex-mutation-"))
        self.free: list[Path] = []
        self.lock = threading.Lock()
        for n in range(jobs):
            d = self.base / f"w{n}"
            d.mkdir()
            shutil.copytree(ROOT / "connex_core", d / "connex_core",
                            ignore=shutil.ignore_patterns("__pycache__"))
            shutil.copytree(ROOT / "grammar", d / "connex_core" / "grammar",
                            ignore=shutil.ignore_patterns("__pycache__"))
            for item in ("tests", "grammar", "rules", "examples", "docs", "benchmarks", "scripts"):
                if (ROOT / item).exists():
                    shutil.copytree(ROOT / item, d / item, ignore=shutil.ignore_patterns("__pycache__"))
            for item in ("pyproject.toml", "setup.py", "README.md", "dev.py"):
                if (ROOT / item).exists():
                    shutil.copy2(ROOT / item, d / item)
            (d / "plugins").symlink_to(ROOT / "plugins")
            self.free.append(d)

    def take(self) -> Path:
        with self.lock:
            return self.free.pop()

    def give(self, d: Path) -> None:
        with self.lock:
            self.free.append(d)

    def close(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


def run_tests(workdir: Path, mod: Module, tests: list[str], timeout: float,
              trace: Optional[Path] = None) -> tuple[str, float, str]:
    """``pytest -x`` on ``tests`` in ``workdir``; ``trace``: also write there which lines of the module each test
    reaches (``mutation_trace.py``)."""
    env = dict(os.environ, PYTHONPATH=str(workdir), PYTHONDONTWRITEBYTECODE="1")
    plugin: list[str] = []
    if trace is not None:
        env.update(PYTHONPATH=os.pathsep.join([str(workdir), str(workdir / "scripts")]),
                   CONNEX_MUTATION_TRACE_FILE=mod.path, CONNEX_MUTATION_TRACE_OUT=str(trace))
        plugin = ["-p", "mutation_trace"]
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
           *([] if mod.hypothesis else ["-p", "no:hypothesispytest"]), *plugin, *mod.args, *tests]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout,
                              start_new_session=True)
    except subprocess.TimeoutExpired as exc:
        return "timeout", time.monotonic() - start, (exc.stdout or b"")[-2000:] if isinstance(exc.stdout, bytes) \
            else str(exc.stdout or "")[-2000:]
    outcome = "survived" if proc.returncode == 0 else "killed"
    return outcome, time.monotonic() - start, (proc.stdout + proc.stderr)[-2000:]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modules", nargs="*", help=f"modules to mutate (default: all of {', '.join(MODULES)}; "
                    f"{', '.join(g + ' = ' + ' + '.join(m) for g, m in GROUPS.items())})")
    ap.add_argument("--jobs", "-j", type=int, default=1, help="mutants tested at once (default 1)")
    ap.add_argument("--budget", type=float, default=0,
                    help="seconds per module; mutants not reached in time are reported as not run (default: none)")
    ap.add_argument("--timeout-factor", type=float, default=4.0,
                    help="a mutant whose tests take this many times the clean run (plus 10 s) is killed by timeout")
    ap.add_argument("--list", action="store_true", help="only list the mutants")
    ap.add_argument("--operator", action="append", default=[], help="only mutants of operators containing this text")
    ap.add_argument("--line", type=int, action="append", default=[], help="only mutants on this line")
    ap.add_argument("--function", action="append", default=[], help="only mutants in this function (or class)")
    ap.add_argument("--shuffle", type=int, metavar="SEED",
                    help="run the mutants in a random order (this seed): with --budget, a random sample of them, "
                         "whose score estimates the whole module's")
    ap.add_argument("--show", choices=["survivors", "all", "none"], default="survivors")
    ap.add_argument("--all-tests", action="store_true",
                    help="run every test of the module against each mutant (default: first the tests that reach "
                         "the mutated statement, then, for a survivor, all of them)")
    args = ap.parse_args(argv)
    names = [n for given in (args.modules or list(MODULES)) for n in GROUPS.get(given, [given])]
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        ap.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join([*MODULES, *GROUPS])}")
    equivalents = load_equivalents()
    scores = []
    print_lock = threading.Lock()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the copies are removed
    workers = None if args.list else Workers(max(1, args.jobs))
    try:
        for name in names:
            mod = MODULES[name]
            original = (ROOT / mod.path).read_text(encoding="utf-8")
            todo = mutants(name, mod)
            if args.operator:
                todo = [m for m in todo if any(o in m.operator for o in args.operator)]
            if args.line:
                todo = [m for m in todo if m.line in args.line]
            if args.function:
                todo = [m for m in todo if m.function in args.function]
            if args.shuffle is not None:
                random.Random(args.shuffle).shuffle(todo)
            known = equivalents.get(name, [])
            for m in todo:
                if is_equivalent(m, known):
                    m.outcome = "equivalent"
            if args.list:
                for m in todo:
                    print(f"{name}:{m.line} {m.function} {m.operator} {m.outcome}\n    - {m.before}\n    + {m.after}")
                print(f"{name}: {len(todo)} mutants")
                continue
            tests = [t for t in mod.tests if (ROOT / t).exists()]
            assert workers is not None
            d = workers.take()
            trace = workers.base / f"{name}-lines.json"
            clean, clean_s, out = run_tests(d, mod, tests, 1200, trace=None if args.all_tests else trace)
            workers.give(d)
            if clean != "survived":
                print(f"{name}: the tests fail without any mutant; fix them first\n{out}", file=sys.stderr)
                return 2
            reach = _reaching(trace, _statements(pyast.parse(original)))
            timeout = clean_s * args.timeout_factor + 10
            print(f"{name}: {mod.path}, {len(todo)} mutants, tests {' '.join(tests)} ({clean_s:.1f} s clean"
                  f"{'' if args.all_tests else ', traced'})", flush=True)
            deadline = time.monotonic() + args.budget if args.budget else None

            def one(m: Mutant) -> None:
                if m.outcome == "equivalent":
                    return
                if deadline is not None and time.monotonic() > deadline:
                    m.outcome = "not run"
                    return
                w = workers.take()
                target = w / mod.path
                try:
                    target.write_text(m.source, encoding="utf-8")
                    chosen = reach(m.line)
                    m.outcome, m.seconds, m.extra["output"] = run_tests(w, mod, chosen or tests, timeout)
                    if m.outcome == "survived" and chosen:  # a test reaching it in a child process, unseen
                        m.outcome, m.seconds, m.extra["output"] = run_tests(w, mod, tests, timeout)
                finally:
                    target.write_text(original, encoding="utf-8")
                    workers.give(w)
                mark = {"killed": ".", "timeout": "T", "survived": "S"}[m.outcome]
                with print_lock:
                    if m.outcome == "survived" and args.show != "none":
                        print(f"\n--- survived: {m.operator} in {m.function} (line {m.line})\n{m.diff(original)}",
                              flush=True)
                    else:
                        print(mark, end="", flush=True)

            with ThreadPoolExecutor(max(1, args.jobs)) as pool:
                list(pool.map(one, todo))
            print()
            count = {k: sum(1 for m in todo if m.outcome == k)
                     for k in ("killed", "timeout", "survived", "equivalent", "not run")}
            for m in todo:
                if args.show == "all" and m.outcome != "survived":
                    print(f"--- {m.outcome}: {m.operator} in {m.function} (line {m.line})")
                    print(m.diff(original))
            ran = count["killed"] + count["timeout"] + count["survived"]
            score = (count["killed"] + count["timeout"]) / ran if ran else 0.0
            scores.append((name, mod.path, count, score))
    finally:
        if workers is not None:
            workers.close()
    if scores:
        print("\nmodule     file                           killed timeout survived equivalent not-run  score")
        for name, path, c, score in scores:
            print(f"{name:<10} {path:<30} {c['killed']:>6} {c['timeout']:>7} {c['survived']:>8} {c['equivalent']:>10}"
                  f" {c['not run']:>7} {score:>6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
