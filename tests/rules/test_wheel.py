"""Packaging: the grammar ships inside the connex-core wheel, and an installed wheel parses rules."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow


def test_installed_wheel_loads_the_grammar_and_checks_a_rule_file(tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in ("connex_core", "grammar"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
                    str(src)], check=True, capture_output=True, timeout=120)
    (wheel,) = dist.glob("connex_core-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "connex_core/grammar/rules.lark" in names and "connex_core/grammar/__init__.py" in names
    # the templates of `connex plugins new` ship too (package data of connex_core.scaffold)
    templates = ROOT / "connex_core" / "scaffold" / "template"
    expected = {f"connex_core/scaffold/template/{p.relative_to(templates).as_posix()}" for p in templates.rglob("*.tmpl")}
    assert len(expected) >= 10 and expected <= set(names), sorted(expected - set(names))

    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    rules = tmp_path / "main.rules"
    rules.write_text((ROOT / "rules" / "shipstation-to-quickbooks.rules").read_text())
    script = (
        "import sys, connex_core, connex_core.grammar\n"
        "from connex_core.rules import load_rules\n"
        "from connex_core.models import Order\n"
        "assert 'site-packages' in connex_core.__file__, connex_core.__file__\n"
        "rules = load_rules([sys.argv[1]])\n"
        "print(len(rules), rules.apply(Order(source='t', source_id='1', number='7-1')).order.number)\n"
    )
    out = subprocess.run([str(python), "-c", script, str(rules)], capture_output=True, text=True, timeout=60,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "7"]
