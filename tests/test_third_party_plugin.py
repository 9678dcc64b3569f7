"""A plugin installed with pip is found with no other step."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

PLUGIN_PY = '''
from connex_core import hookimpl
from connex_core.connector import Capability, Connector, ConnectorSettings


class AcmeSettings(ConnectorSettings):
    type: str = "acme"


class AcmeConnector(Connector):
    name = "acme"
    settings_model = AcmeSettings
    capabilities = frozenset({Capability.READ_ORDERS})


@hookimpl
def register_connectors(register):
    register(AcmeConnector)


@hookimpl
def register_commands(app):
    @app.command("acme-hello")
    def acme_hello(name: str = "world"):
        """Say hello from the Acme plugin."""
        print(f"hello {name} from acme")
'''


@pytest.mark.slow
def test_pip_install_of_a_third_party_plugin_is_discovered(tmp_path):
    dist = tmp_path / "connex-acme"
    (dist / "connex_acme").mkdir(parents=True)
    (dist / "connex_acme" / "__init__.py").write_text(PLUGIN_PY)
    (dist / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "connex-acme"
        version = "2.3.4"
        dependencies = []

        [project.entry-points.connex]
        acme = "connex_acme"
    """))
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    py = env / "bin" / "python"
    # The fresh environment sees this environment's packages (connex-core among them) through a .pth
    # file, so the test needs no network; the plugin itself is installed into it by pip, as a user would.
    env_site = Path(subprocess.check_output([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                            text=True).strip())
    # addsitedir (not a bare path) so the editable installs' own .pth files are processed too
    (env_site / "outer.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in site.getsitepackages()))
    # Built with this environment's setuptools (no network), installed into the fresh one by pip.
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(dist)], check=True, capture_output=True)
    pip = subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", *map(str, wheels.glob("*.whl"))],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    out = subprocess.run([py, "-m", "connex_core", "plugins", "list", "--json"], check=True, capture_output=True,
                         text=True)
    plugins = {p["name"]: p for p in json.loads(out.stdout)}
    assert plugins["acme"]["version"] == "2.3.4"
    assert plugins["acme"]["distribution"] == "connex-acme"
    assert plugins["acme"]["connectors"] == ["acme"]
    assert {"shipstation", "quickbooks", "xero"} <= set(plugins)
    assert "register_commands" in plugins["acme"]["hooks"]
    hello = subprocess.run([py, "-m", "connex_core", "acme-hello", "--name", "Ana"], capture_output=True, text=True)
    assert (hello.returncode, hello.stdout.strip()) == (0, "hello Ana from acme")
