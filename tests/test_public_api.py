"""The public API a connector may use (``connex_core.api``) is enough for the plugins of this repository.

The boundary applies to what a plugin distribution ships (its ``connex_<name>`` package, simulator
included). A plugin's own test suite may reach further (it drives the sync engine end to end), but the
code a user installs imports only the public API.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import connex_core.api as api

ROOT = Path(__file__).resolve().parents[1]

#: The modules of connex_core a connector may import (docs/writing-a-connector.md, "The public API").
PUBLIC_MODULES = frozenset({
    "connex_core.api",
    "connex_core.sandbox", "connex_core.sandbox.oauth", "connex_core.sandbox.flows",
    "connex_core.testing",
})
#: Names a connector may import from the top-level package itself.
PUBLIC_TOP_LEVEL = frozenset({"hookimpl", "api"})


def private_imports(source: str) -> list[tuple[int, str]]:
    """(line, what) for every import of a private part of connex_core in ``source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "connex_core" and alias.name not in PUBLIC_MODULES:
                    found.append((node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "connex_core" or node.module in PUBLIC_MODULES:
                continue
            if node.module == "connex_core":
                bad = [a.name for a in node.names if a.name not in PUBLIC_TOP_LEVEL]
                if bad:
                    found.append((node.lineno, f"from connex_core import {', '.join(bad)}"))
            else:
                found.append((node.lineno, f"from {node.module} import ..."))
    return found


def shipped_files() -> list[Path]:
    return sorted(p for p in ROOT.glob("plugins/*/connex_*/**/*.py"))


def test_the_plugins_ship_code_that_imports_only_the_public_api():
    files = shipped_files()
    assert len({p.relative_to(ROOT).parts[1] for p in files}) >= 4, "the plugins were not found"
    problems = [f"{p.relative_to(ROOT)}:{line}: {what}" for p in files for line, what in private_imports(p.read_text())]
    assert not problems, "private imports of connex_core (use connex_core.api):\n" + "\n".join(problems)


@pytest.mark.parametrize("source, expected", [
    ("from connex_core.engine import SyncEngine\n", [(1, "from connex_core.engine import ...")]),
    ("import connex_core.state.sqlite\n", [(1, "import connex_core.state.sqlite")]),
    ("from connex_core import hookimpl, config\n", [(1, "from connex_core import config")]),
    ("def f():\n    from connex_core.secrets import secret_fields\n", [(2, "from connex_core.secrets import ...")]),
    ("from connex_core.api import Order\nfrom connex_core import hookimpl\nfrom connex_core.sandbox import route\n"
     "from connex_core.testing import make_order\nfrom .mapping import x\nimport requests\n", []),
])
def test_the_check_tells_a_private_import_from_a_public_one(source, expected):
    assert private_imports(source) == expected


def test_every_public_name_resolves_and_nothing_else_is_listed():
    for name in api.__all__:
        assert getattr(api, name) is not None, name
    assert len(set(api.__all__)) == len(api.__all__)
    with pytest.raises(AttributeError):
        getattr(api, "SyncEngine")


def test_the_public_names_are_the_core_objects_themselves():
    # re-exports, not copies: an isinstance check against api.Order holds for the engine's orders
    from connex_core import connector, errors, models, sandbox, testing
    assert api.Order is models.Order and api.Connector is connector.Connector
    assert api.AuthenticationError is errors.AuthenticationError
    assert api.SimulatedService is sandbox.SimulatedService
    assert api.ConnectorContractTests is testing.ConnectorContractTests


def test_importing_the_api_does_not_load_the_engine_or_the_testing_kit():
    import subprocess
    import sys
    code = ("import sys, connex_core.api; "
            "print(sorted(m for m in sys.modules if m.startswith(('connex_core.sync', 'connex_core.state', "
            "'connex_core.testing', 'connex_core.sandbox', 'pytest'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module", sorted(PUBLIC_MODULES))
def test_each_public_module_imports(module):
    assert importlib.import_module(module)


def test_a_connector_without_find_booked_answers_it_with_find_orders(tmp_path):
    """``Connector.find_booked`` (the read-only look-up of ``connex report`` and ``connex resync``) is optional:
    a connector written before it keeps working, its ``find_orders`` asked instead."""
    from connex_core.testing import make_order

    class Old(api.Connector):
        name = "old"

        def find_orders(self, writes):
            return {w.key: api.Found(target_id=f"doc-{w.order.number}") for w in writes if w.order.number != "2"}

    writes = [api.OrderWrite(order=make_order(number=n), idempotency_key=n) for n in ("1", "2")]
    found = Old(api.ConnectorSettings(type="old"), api.ConnectorContext("old", tmp_path)).find_booked(writes)
    assert {k: f.target_id for k, f in found.items()} == {writes[0].key: "doc-1"}
