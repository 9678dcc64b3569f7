"""Golden files for error messages: ``errors/NAME.rules`` checked gives exactly ``errors/NAME.expected``.

Regenerate after an intended change with ``CONNEX_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connex_core.rules import RuleCheckError, check_text, format_report, load_rules
from connex_core.rules.diagnostics import Diagnostic, format_diagnostic

ERRORS = Path(__file__).parent / "errors"
CASES = sorted(ERRORS.glob("*.rules"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_diagnostics(path, manager):
    _, diags = check_text({f"errors/{path.name}": path.read_text()}, manager)
    report = format_report(diags) + "\n"
    expected = path.with_suffix(".expected")
    if os.environ.get("CONNEX_UPDATE_GOLDEN"):
        expected.write_text(report)
    assert report == expected.read_text()


def test_every_golden_file_reports_something_positioned(manager):
    assert len(CASES) >= 7
    for path in CASES:
        _, diags = check_text({path.name: path.read_text()}, manager)
        lines = path.read_text().splitlines()
        assert diags, path.name
        for d in diags:
            assert d.source_line == lines[d.line - 1] and 1 <= d.col <= len(d.source_line) + 1


def test_all_syntax_errors_in_one_pass(manager):
    _, diags = check_text({"s.rules": (ERRORS / "syntax.rules").read_text()}, manager)
    broken = [n for n, line in enumerate((ERRORS / "syntax.rules").read_text().splitlines(), 1)
              if line.startswith(("when", "  when")) and "fine" not in line]
    assert sorted({d.line for d in diags}) == broken


def test_format_is_file_line_col_severity_message_source_caret():
    d = Diagnostic("r.rules", 2, 6, "error", "unknown field 'x'", "when x == 1 then stop", 1)
    assert format_diagnostic(d) == "r.rules:2:6: error: unknown field 'x'\nwhen x == 1 then stop\n     ^"


def test_load_rules_raises_one_error_listing_every_diagnostic(tmp_path, manager):
    (tmp_path / "a.rules").write_text("when numbr == '1' then stop\nwhen status == 'shiped' then stop\n")
    with pytest.raises(RuleCheckError) as info:
        load_rules([tmp_path / "a.rules"], manager=manager)
    err = info.value
    assert [d.line for d in err.errors] == [1, 2]
    assert str(err).count(": error: ") == 2 and "did you mean 'number'" in str(err)
    assert err.exit_code == 3


def test_warnings_load_unless_strict(tmp_path, manager):
    (tmp_path / "w.rules").write_text("when total is null then stop\n")
    assert len(load_rules([tmp_path / "w.rules"], manager=manager).warnings) == 1
    with pytest.raises(RuleCheckError) as info:
        load_rules([tmp_path / "w.rules"], manager=manager, strict=True)
    assert "w.rules:1:6: error: 'total' is never null" in str(info.value)
