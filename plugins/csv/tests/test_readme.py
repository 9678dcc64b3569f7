"""The README documents every setting, task option and column the code has (so it cannot go stale)."""

from __future__ import annotations

from pathlib import Path

from connex_csv import CsvSettings, SourceOptions, TargetOptions
from connex_csv.columns import COLUMNS, OUTPUT

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_and_option_is_in_the_readme():
    names = [n for n in CsvSettings.model_fields if n not in ("type", "timeout")]
    names += list(SourceOptions.model_fields) + list(TargetOptions.model_fields)
    missing = [n for n in names if f"| `{n}` |" not in README]
    assert not missing, missing


def test_every_column_is_in_the_readme_and_so_is_the_header_the_files_have():
    missing = [c for c in COLUMNS if f"| `{c}` |" not in README]
    assert not missing, missing
    assert set(OUTPUT) <= set(COLUMNS)
    assert "\n" + ",".join(OUTPUT) + "\n" in README
