"""docs/writing-a-connector.md cannot go stale: its ``console`` blocks are run, and the output they show is checked.

Every line of a ```console block that starts with ``$ `` is a command, run in order in one shell (so ``cd``
carries over) inside a fresh virtual environment; the other lines are output that must appear in what the
commands printed.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.test_plugins_new import fresh_env

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "writing-a-connector.md"


def console_blocks(text: str) -> list[tuple[list[str], list[str]]]:
    """(commands, shown output lines) of each ```console block."""
    blocks = []
    for body in re.findall(r"^```console\n(.*?)^```", text, re.S | re.M):
        lines = body.splitlines()
        blocks.append(([l[2:] for l in lines if l.startswith("$ ")],
                       [l.strip() for l in lines if l.strip() and not l.startswith("$ ")]))
    return blocks


def test_the_page_has_a_tutorial_to_run():
    blocks = console_blocks(DOC.read_text())
    commands = [c for block, _ in blocks for c in block]
    assert any(c.startswith("connex plugins new ") for c in commands)
    assert any(c.startswith("pytest") for c in commands)
    assert "connex plugins list" in commands


def test_the_page_names_every_public_method_of_the_contract():
    text = DOC.read_text()
    for name in ("fetch_orders", "find_orders", "find_booked", "write_orders", "verify_webhook", "read_webhook", "idempotency_key",
                 "DryRunWriteError", "AuthenticationError", "RetriableAPIError", "FatalAPIError", "ConfigurationError"):
        assert re.search(rf"`[\w.]*{name}\b", text), name
    # the checklist names what ConnectorContractTests runs
    from connex_core.testing import ConnectorContractTests
    tests = [n for n in dir(ConnectorContractTests) if n.startswith("test_")]
    words = {"test_paging_ends": "paging ends", "test_rate_limit_is_waited_out": "429",
             "test_unauthorised_is_fatal_and_says_how_to_fix": "refused credential",
             "test_mapping_round_trips": "round-trips", "test_dry_run_writes_nothing": "dry-run writes nothing"}
    assert sorted(tests) == sorted(words), "a contract test was added or renamed: add it to the page's checklist"
    checklist = text.split("## 5.")[1]
    for test, phrase in words.items():
        assert phrase in checklist, test


@pytest.mark.slow
def test_the_tutorial_commands_run_as_written(tmp_path):
    py = fresh_env(tmp_path)
    bin_dir = py.parent
    # the fresh environment's own `connex` and `pytest` (the outer ones would not see what pip installs here)
    for name, module in (("connex", "connex_core"), ("pytest", "pytest")):
        shim = bin_dir / name
        shim.write_text(f"#!{py}\nimport sys\nfrom runpy import run_module\n"
                        f"sys.argv[0] = {name!r}\nrun_module({module!r}, run_name='__main__')\n")
        shim.chmod(0o755)
    blocks = console_blocks(DOC.read_text())
    script = "set -e\n" + "\n".join(c for commands, _ in blocks for c in commands) + "\n"
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(py.parent.parent),
           # everything needed is installed already: no index, and the build uses this environment's setuptools
           # (pip reads PIP_NO_BUILD_ISOLATION=0 as --no-build-isolation: its "no-" options invert)
           "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    run = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    for _, shown in blocks:
        for line in shown:
            assert line in output, f"the page shows {line!r}, the commands did not print it:\n{output[-3000:]}"
    assert re.search(r"\b\d+ passed\b", output) and " failed" not in output
    assert (work / "connex-acme" / "connex_acme" / "connector.py").exists()
