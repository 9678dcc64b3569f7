"""Golden dry-run cases: ``cases/NAME.rules`` on ``cases/NAME.orders.json`` prints exactly
``cases/NAME.expected.json`` with ``connex rules dry-run --json`` (and NAME.expected.txt without).

The rule files of ``split_and_unpaid`` and ``xero_flag`` are copies of the defaults in rules/
(a test checks they are still identical). Regenerate with ``CONNEX_UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connex_core.cli.rules import app

from .conftest import ROOT

CASES = Path(__file__).parent / "cases"
NAMES = sorted(p.stem for p in CASES.glob("*.rules"))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("fmt", ["json", "txt"])
def test_dry_run_golden(name, fmt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(CASES / f"{name}.rules", tmp_path / f"{name}.rules")
    args = ["dry-run", f"{name}.rules", "--orders", str(CASES / f"{name}.orders.json")]
    result = CliRunner().invoke(app, args + (["--json"] if fmt == "json" else []))
    assert result.exit_code == 0, result.output
    expected = CASES / f"{name}.expected.{fmt}"
    if os.environ.get("CONNEX_UPDATE_GOLDEN"):
        expected.write_text(result.stdout)
    assert result.stdout == expected.read_text()


@pytest.mark.parametrize("name, default", [("split_and_unpaid", "shipstation-to-quickbooks.rules"),
                                           ("xero_flag", "xero-to-shipstation.rules")])
def test_cases_use_the_default_rule_files(name, default):
    assert (CASES / f"{name}.rules").read_text() == (ROOT / "rules" / default).read_text()
