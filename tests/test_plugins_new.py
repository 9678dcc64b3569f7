"""``connex plugins new``: the distribution it writes installs, registers and passes its own tests."""

from __future__ import annotations

import ast
import json
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connex_core.cli import app
from connex_core.scaffold import Scaffold
from tests.test_public_api import private_imports

runner = CliRunner()


def new(tmp_path: Path, *args: str):
    return runner.invoke(app, ["plugins", "new", *args, "--path", str(tmp_path)])


def test_it_writes_a_distribution_of_parseable_python_on_the_public_api_only(tmp_path):
    result = new(tmp_path, "acme")
    assert result.exit_code == 0, result.output
    dist = tmp_path / "connex-acme"
    names = {str(p.relative_to(dist)) for p in dist.rglob("*") if p.is_file()}
    assert {"pyproject.toml", "README.md", "connex_acme/__init__.py", "connex_acme/connector.py",
            "connex_acme/settings.py", "connex_acme/sim/simulator.py", "tests/test_contract.py"} <= names
    assert "tests/test_webhooks.py" not in names and "tests/test_oauth.py" not in names
    for path in dist.rglob("*.py"):
        source = path.read_text()
        ast.parse(source)  # a template error would be a syntax error here
        if "connex_acme/" in str(path.relative_to(dist)):
            assert private_imports(source) == [], path
        assert "{{" not in source and "#{{" not in source, path
    pyproject = (dist / "pyproject.toml").read_text()
    assert '[project.entry-points.connex]\nacme = "connex_acme"' in pyproject
    assert "verify_webhook" not in (dist / "connex_acme" / "connector.py").read_text()
    assert "| `api_key` |" in (dist / "README.md").read_text()


def test_webhooks_adds_the_methods_the_setting_and_their_tests(tmp_path):
    assert new(tmp_path, "acme", "--webhooks").exit_code == 0
    dist = tmp_path / "connex-acme"
    assert "def verify_webhook" in (dist / "connex_acme" / "connector.py").read_text()
    assert "webhook_key" in (dist / "connex_acme" / "settings.py").read_text()
    assert (dist / "tests" / "test_webhooks.py").exists()


def test_oauth_swaps_the_api_key_for_an_oauth_client_with_its_simulator_server(tmp_path):
    assert new(tmp_path, "acme", "--oauth").exit_code == 0
    dist = tmp_path / "connex-acme"
    settings = (dist / "connex_acme" / "settings.py").read_text()
    assert "client_secret: SecretStr" in settings and "api_key" not in settings
    assert "OAuthTokens(" in (dist / "connex_acme" / "connector.py").read_text()
    assert "class AcmeSimulator(OAuthServer, SimulatedService)" in (dist / "connex_acme" / "sim" / "simulator.py").read_text()
    assert (dist / "tests" / "test_oauth.py").exists()
    for path in dist.rglob("*.py"):
        ast.parse(path.read_text())
    assert "| `client_secret` |" in (dist / "README.md").read_text()


@pytest.mark.parametrize("name", ["Acme", "1acme", "acme-shop", "class", "a", "x" * 41])
def test_a_bad_name_is_a_usage_error_and_writes_nothing(tmp_path, name):
    result = new(tmp_path, name)
    assert result.exit_code == 2, result.output
    assert "plugin name" in result.output
    assert list(tmp_path.iterdir()) == []


def test_it_does_not_overwrite_a_folder_with_files(tmp_path):
    (tmp_path / "connex-acme").mkdir()
    (tmp_path / "connex-acme" / "mine.py").write_text("# keep me\n")
    result = new(tmp_path, "acme")
    assert result.exit_code == 2 and "not empty" in result.output
    assert (tmp_path / "connex-acme" / "mine.py").read_text() == "# keep me\n"


def test_names_become_package_class_and_distribution():
    values = Scaffold("acme_shop").values
    assert (values["package"], values["Name"], values["dist"]) == ("connex_acme_shop", "AcmeShop", "connex-acme-shop")


def fresh_env(tmp_path: Path) -> Path:
    """A new virtual environment that sees this one's packages (connex-core, pytest) through a .pth file, so no
    network is needed; what is installed into it is installed by its own pip."""
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    py = env / "bin" / "python"
    purelib = subprocess.check_output([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                      text=True).strip()
    (Path(purelib) / "outer.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n"
                                                     for p in site.getsitepackages()))
    return py


@pytest.mark.slow
@pytest.mark.parametrize("flags", [(), ("--oauth", "--webhooks")])
def test_the_generated_plugin_installs_into_a_fresh_venv_and_its_tests_pass_there(tmp_path, flags):
    assert new(tmp_path, "acme", *flags).exit_code == 0
    dist = tmp_path / "connex-acme"
    py = fresh_env(tmp_path)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(dist)], check=True, capture_output=True)
    pip = subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", *map(str, wheels.glob("*.whl"))],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    # its tests, run from a copy of the tests folder alone, so the package comes from the installed wheel
    (tmp_path / "run").mkdir()
    tests = subprocess.run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(dist / "tests")],
                           cwd=tmp_path / "run", capture_output=True, text=True)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout
    where = subprocess.run([py, "-c", "import connex_acme; print(connex_acme.__file__)"], cwd=tmp_path / "run",
                           capture_output=True, text=True, check=True)
    assert str(tmp_path / "venv") in where.stdout
    out = subprocess.run([py, "-m", "connex_core", "plugins", "list", "--json"], check=True, capture_output=True,
                         text=True)
    plugins = {p["name"]: p for p in json.loads(out.stdout)}
    assert plugins["acme"]["distribution"] == "connex-acme"
    assert plugins["acme"]["connectors"] == ["acme"]
    [details] = plugins["acme"]["connector_details"]
    assert details["capabilities"] == ["read_orders", "write_orders"]
    assert details["source_options"] == ["status"] and details["target_options"] == ["tag"]
