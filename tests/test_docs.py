"""Documentation that must match the code."""

from __future__ import annotations

import inspect
import re
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


def test_the_connect_guide_quotes_the_messages_the_code_and_simulators_produce():
    """docs/connect.md's table of mistakes: each quoted message is what the code (or a simulator) says."""
    guide = (ROOT / "docs" / "connect.md").read_text()
    sources = "".join(p.read_text() for p in [
        *(ROOT / "connex_core" / "oauth").glob("*.py"), ROOT / "connex_core" / "cli" / "connect.py",
        ROOT / "plugins" / "quickbooks" / "connex_quickbooks" / "sim" / "simulator.py",
        ROOT / "plugins" / "xero" / "connex_xero" / "sim" / "simulator.py",
        ROOT / "plugins" / "xero" / "connex_xero" / "connect_flow.py"])
    sources = re.sub(r"\"\s*\n\s*f?\"", "", sources)  # adjacent string literals, joined as Python joins them
    fragments = [
        "The redirect_uri query parameter value is invalid. Make sure it is listed",
        "unauthorized_client: Invalid redirect_uri", "invalid_scope: ",
        "production keys take only https redirect URIs that are not localhost",
        "must be https (or http on localhost/127.0.0.1)", "needs a port (http://localhost:PORT/...)",
        "give --redirect-uri or --port, not both", "the pasted address does not start with the redirect URI",
        "does not belong to this login (state mismatch: a stale or forged address)", "did not grant access (",
        "(invalid_client): check them in the config, then",
        "(invalid_grant: expired, used already, or sent with another redirect URI)",
        "(invalid_grant: expired, revoked, or already spent by another process)",
        "its hard limit: only a new sign-in renews it",
        "receives the sign-in of connection", "carries no sign-in state, so it cannot belong to a sign-in Connex",
        "This sign-in is unknown: Connex did not start it, or forgot it a day after it expired.",
        "This sign-in was used already: each one can connect once.", "This sign-in expired: it waits",
        "This sign-in was started for another connection.", "Set tenant_id in connection",
    ]
    missing_in_guide = [f for f in fragments if f not in guide]
    missing_in_code = [f for f in fragments if f not in sources]
    assert missing_in_guide == [] and missing_in_code == []
