"""Documentation that must match the code."""

from __future__ import annotations

import inspect
from pathlib import Path

from connex_core import hookspecs
from connex_core.plugins import PluginManager

ROOT = Path(__file__).resolve().parents[1]


def _hooks():
    m = PluginManager(load_entrypoints=False)
    for name in dir(m.pm.hook):
        if name.startswith("_"):
            continue
        spec = getattr(hookspecs, name, None)
        if callable(spec) and hasattr(spec, "connex_spec"):
            yield name, list(inspect.signature(spec).parameters)


def test_every_hook_is_documented_with_its_exact_signature():
    doc = (ROOT / "docs" / "plugin_hooks.md").read_text()
    hooks = list(_hooks())
    assert len(hooks) >= 8
    missing = [f"{n}({', '.join(args)})" for n, args in hooks if f"### {n}({', '.join(args)})" not in doc]
    assert missing == [], f"undocumented hooks (add a section to docs/plugin_hooks.md): {missing}"


def test_every_hook_spec_has_a_docstring_saying_when_it_is_called():
    for name, _ in _hooks():
        doc = getattr(hookspecs, name).__doc__ or ""
        assert "Called" in doc and ":param" in doc, name


def test_every_canonical_field_is_documented():
    from connex_core.models import Address, Customer, LineItem, Order, Shipment

    undocumented = [f"{m.__name__}.{n}" for m in (Order, Address, Customer, LineItem, Shipment)
                    for n, f in m.model_fields.items() if not f.description]
    assert undocumented == []


def test_the_readme_opens_with_the_demo_and_test_commands_and_ci_runs_the_same():
    lines = [l.strip() for l in (ROOT / "README.md").read_text().splitlines() if l.strip().startswith("python3 ")]
    assert lines[:2] == ["python3 dev.py demo", "python3 dev.py test"]
    assert "python3 dev.py test" in (ROOT / ".ci" / "run").read_text()
