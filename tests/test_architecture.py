"""The shape of the code, checked from the source (read with ast, never imported):

(a) no file under connex_core/ is over 400 lines;
(b) no import cycle among connex_core's modules, nor inside any plugin package (module-level and
    function-level imports count; imports under ``if TYPE_CHECKING:`` do not, they never run);
(c) connex_core names no plugin in code: no import of a plugin package, no identifier and no string
    containing a plugin's name (docstrings, comments and description/help texts may name a vendor as
    an example: they are documentation);
(d) a plugin imports connex_core, never another plugin;
(e) every module path docs/architecture.md names (in backticks) exists.

Each checker is first shown to fail on a small synthetic tree that breaks its rule.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import archcheck

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "connex_core"
PLUGIN_PACKAGES = sorted(p for p in (ROOT / "plugins").glob("*/connex_*") if (p / "__init__.py").is_file())
LINE_LIMIT = 400


def plugin_names() -> set[str]:
    """Every name a plugin goes by: its package, its entry-point names, and the connectors and simulators
    it registers (read from the installed plugins, so a new plugin is covered without editing this test)."""
    names = {p.name for p in PLUGIN_PACKAGES}
    for pyproject in (ROOT / "plugins").glob("*/pyproject.toml"):
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        names |= set(data.get("project", {}).get("entry-points", {}).get("connex", {}))
    from connex_core.plugins import PluginManager

    manager = PluginManager().load()
    names |= set(manager.connectors) | set(manager.sandboxes)
    names -= {"memory"}  # not a plugin of this repository (the tests' own in-memory connector)
    # The CSV connector's names are a file format the core reads itself (the rules' mapping tables are CSV
    # files): the word marks no dependency on the plugin. Its package, connex_csv, is still looked for.
    names -= {"csv"}
    return names


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


# -- (a) file length ------------------------------------------------------------------------------------

def test_the_length_check_finds_a_long_file(tmp_path):
    write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/short.py": "x = 1\n" * 400, "pkg/long.py": "x = 1\n" * 401})
    assert archcheck.long_files(tmp_path / "pkg", LINE_LIMIT) == [(tmp_path / "pkg" / "long.py", 401)]


def test_no_file_in_connex_core_is_over_400_lines():
    long = archcheck.long_files(CORE, LINE_LIMIT)
    assert not long, "over {} lines:\n{}".format(LINE_LIMIT, "\n".join(f"  {p.relative_to(ROOT)}: {n}" for p, n in long))


# -- (b) import cycles --------------------------------------------------------------------------------

CYCLIC = {
    "pkg/__init__.py": "",
    "pkg/a.py": "from .b import thing\n",
    "pkg/b.py": """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from .c import Only  # never runs: not an edge
        thing = 1
        def later():
            from pkg import c  # a function-level import is an edge
            return c
    """,
    "pkg/c.py": "import pkg.a\n",
    "pkg/d.py": "from . import a, b\n",  # imports into the cycle, not part of it
}


def test_the_cycle_check_reports_a_cycle_through_function_level_imports_with_its_path(tmp_path):
    graph = archcheck.import_graph(write_tree(tmp_path, CYCLIC) / "pkg")
    assert graph["pkg.d"] == {"pkg.a": 1, "pkg.b": 1}
    found = archcheck.cycles(graph)
    assert found == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]
    assert archcheck.describe_cycle(graph, found[0]) == (
        "pkg.a -> pkg.b (imported at pkg.a line 1) -> pkg.c (imported at pkg.b line 7) "
        "-> pkg.a (imported at pkg.c line 1)")


def test_the_cycle_check_passes_a_tree_without_cycles_and_ignores_type_checking_imports(tmp_path):
    files = dict(CYCLIC)
    files["pkg/b.py"] = files["pkg/b.py"].replace("from pkg import c", "import json as c")
    assert archcheck.cycles(archcheck.import_graph(write_tree(tmp_path, files) / "pkg")) == []


def test_a_package_importing_its_own_module_that_imports_it_back_is_a_cycle(tmp_path):
    """The shape of ``state/__init__.py`` <-> ``state/sqlite.py``: works only by import order."""
    write_tree(tmp_path, {"pkg/__init__.py": "", "pkg/state/__init__.py": "class Entry: ...\nfrom .sqlite import Store\n",
                          "pkg/state/sqlite.py": "from . import Entry\nclass Store: ...\n"})
    assert archcheck.cycles(archcheck.import_graph(tmp_path / "pkg")) == [["pkg.state", "pkg.state.sqlite", "pkg.state"]]


def _assert_no_cycles(package: Path) -> None:
    graph = archcheck.import_graph(package)
    assert len(graph) > 3, f"{package}: too few modules found; the checker is reading the wrong folder"
    found = archcheck.cycles(graph)
    assert not found, "import cycles:\n" + "\n".join("  " + archcheck.describe_cycle(graph, c) for c in found)


def test_no_import_cycle_in_connex_core():
    _assert_no_cycles(CORE)


def test_no_import_cycle_between_the_demo_and_the_sandbox_runner():
    """The cycle issue 12 found (demo.py <-> sandbox/runner.py) stays gone."""
    graph = archcheck.import_graph(CORE)
    assert "connex_core.sandbox.runner" in graph["connex_core.demo"]
    assert not any("connex_core.demo" in c and "connex_core.sandbox.runner" in c for c in archcheck.cycles(graph))


@pytest.mark.parametrize("package", PLUGIN_PACKAGES, ids=lambda p: p.name)
def test_no_import_cycle_in_a_plugin(package):
    _assert_no_cycles(package)


# -- (c) the core names no plugin -------------------------------------------------------------------------

def test_the_plugin_name_check_finds_code_and_leaves_documentation(tmp_path):
    write_tree(tmp_path, {"core/__init__.py": '''
        """Docs may say Acme as an example: `type = "acme"`."""
        # so may comments: acme
        from pydantic import Field
        FLOWS = ["acme-to-books"]
        def build(kind):
            """Build one (say, Acme)."""
            if kind == f"{kind}:ACME":
                from connex_acme import Client
            acme_client = None
            return Field(None, description="Acme's order key"), ACME_LIMIT
        name: str = "x"
        """An attribute docstring naming acme."""
    '''})
    found = [(f.line, f.what) for f in archcheck.plugin_mentions(tmp_path / "core", {"acme", "connex_acme"})]
    assert found == [
        (5, "string 'acme-to-books' names a plugin"),
        (8, "string ':ACME' names a plugin"),
        (9, "identifier 'connex_acme' names a plugin"),
        (10, "identifier 'acme_client' names a plugin"),
        (11, "identifier 'ACME_LIMIT' names a plugin"),
    ]


def test_connex_core_names_no_plugin_in_code():
    names = plugin_names()
    assert {"shipstation", "quickbooks", "xero"} <= names, names  # the installed plugins were found
    found = archcheck.plugin_mentions(CORE, names)
    assert not found, "connex_core names a plugin:\n" + archcheck.by_line(found)


def test_connex_core_imports_no_plugin():
    found = archcheck.foreign_imports(CORE, {p.name for p in PLUGIN_PACKAGES})
    assert not found, archcheck.by_line(found)


# -- (d) plugins import connex_core, never each other ----------------------------------------------------------

def test_the_foreign_import_check_finds_module_and_function_level_imports(tmp_path):
    write_tree(tmp_path, {"connex_a/__init__.py": "import connex_core\nfrom connex_b.client import C\n",
                          "connex_a/x.py": "def f():\n    import connex_b\n    from connex_core import hookimpl\n"})
    found = [(f.path.name, f.line, f.what) for f in archcheck.foreign_imports(tmp_path / "connex_a", {"connex_b"})]
    assert sorted(found) == [("__init__.py", 2, "imports connex_b.client"), ("x.py", 2, "imports connex_b")]


@pytest.mark.parametrize("package", PLUGIN_PACKAGES, ids=lambda p: p.name)
def test_a_plugin_imports_no_other_plugin(package):
    others = {p.name for p in PLUGIN_PACKAGES} - {package.name}
    assert others, "only one plugin found"
    found = archcheck.foreign_imports(package, others)
    assert not found, archcheck.by_line(found)


# -- (e) docs/architecture.md stays true ---------------------------------------------------------------------

DOC = ROOT / "docs" / "architecture.md"
_PATH = re.compile(r"`((?:connex_core|connex_\w+|plugins|tests|docs)[\w./-]*)`")


def named_paths(text: str) -> list[str]:
    """The module paths a document names in backticks: ``connex_core/sync/run.py``, ``connex_core/sync/``,
    ``connex_core.clock``, ``connex_shipstation.sim`` (a trailing ``.py`` or ``/`` is a file or folder path)."""
    return sorted(set(_PATH.findall(text)))


def missing_paths(names: list[str], root: Path) -> list[str]:
    missing = []
    for name in names:
        name = name.rstrip(".")
        if "/" in name:
            candidates = [root / name] + [p / name for p in (root / "plugins").glob("*")]
        else:  # a dotted module name: a module file or a package folder, in the core or in a plugin
            rel = Path(*name.split("."))
            bases = [root] + list((root / "plugins").glob("*"))
            candidates = [b / rel.with_suffix(".py") for b in bases] + [b / rel / "__init__.py" for b in bases]
        if not any(c.exists() for c in candidates):
            missing.append(name)
    return missing


def test_the_doc_check_finds_a_path_that_no_longer_exists(tmp_path):
    write_tree(tmp_path, {"connex_core/__init__.py": "", "connex_core/clock.py": "",
                          "plugins/acme/connex_acme/sim/__init__.py": ""})
    text = ("The clock is `connex_core/clock.py` (`connex_core.clock`); the simulator is `connex_acme.sim`, "
            "the engine `connex_core/engine.py` and `connex_core.sync.run`; `SyncEngine` is a class.")
    names = named_paths(text)
    assert names == ["connex_acme.sim", "connex_core.clock", "connex_core.sync.run", "connex_core/clock.py",
                     "connex_core/engine.py"]
    assert missing_paths(names, tmp_path) == ["connex_core.sync.run", "connex_core/engine.py"]


def test_the_architecture_page_names_the_modules_of_the_agreed_layout():
    names = named_paths(DOC.read_text(encoding="utf-8"))
    for module in ("connex_core/sync/run.py", "connex_core/sync/write.py", "connex_core/connections.py",
                   "connex_core/clock.py", "connex_core/oauth/", "connex_core/paging.py", "connex_core/money.py",
                   "connex_core/jsonutil.py", "connex_core/sandbox/oauth.py", "connex_core/sandbox/flows.py",
                   "connex_core/secrets.py", "connex_core/hookspecs.py"):
        assert module in names, f"docs/architecture.md does not name {module}"


def test_every_module_the_architecture_page_names_exists():
    missing = missing_paths(named_paths(DOC.read_text(encoding="utf-8")), ROOT)
    assert not missing, "docs/architecture.md names modules that do not exist: " + ", ".join(missing)
