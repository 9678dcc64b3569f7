"""The layout the plumbing relies on: small core files, simulators apart from the connectors."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = {"shipstation": "connex_shipstation", "quickbooks": "connex_quickbooks", "xero": "connex_xero"}


PLUMBING = ["clock.py", "oauth", "paging.py", "money.py", "jsonutil.py", "webhooks.py", "connector.py", "sandbox"]


def test_the_plumbing_files_of_connex_core_stay_below_400_lines():
    """(The whole-core rule is checked where the engine is split; these are the files the plumbing owns.)"""
    paths = [p for name in PLUMBING for p in ((ROOT / "connex_core" / name).rglob("*.py")
                                              if (ROOT / "connex_core" / name).is_dir() else [ROOT / "connex_core" / name])]
    assert len(paths) >= 8
    long = {str(p.relative_to(ROOT)): n for p in paths if p.exists() and (n := len(p.read_text().splitlines())) >= 400}
    assert long == {}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_connector_code_never_imports_the_simulators():
    """Only the sandbox hook in a plugin's ``__init__`` reaches into ``sim``; the connectors stand without it."""
    offenders = []
    for plugin, package in PLUGINS.items():
        folder = ROOT / "plugins" / plugin / package
        assert (folder / "sim" / "__init__.py").exists() and (folder / "sim" / "simulator.py").exists()
        for path in folder.glob("*.py"):
            if path.name == "__init__.py":
                continue
            bad = {n for n in _imports(path) if n.startswith((".sim", f"{package}.sim"))}
            if bad:
                offenders.append((path.name, sorted(bad)))
    assert offenders == []
