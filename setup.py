"""Only the package list lives here; everything else is in pyproject.toml.

Folders outside ``connex_core/`` ship inside it through ``package-dir`` in pyproject.toml (the
top-level ``grammar/`` is ``connex_core.grammar``). setuptools' ``packages.find`` cannot add such
remapped packages, so the list is built here: every ``connex_core`` package found on disk, plus
every package named in that ``package-dir`` table (tests/rules/test_wheel.py checks the grammar ships).
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

_PYPROJECT = (Path(__file__).parent / "pyproject.toml").read_text(encoding="utf-8")
_PACKAGE_DIR = re.search(r"^package-dir\s*=\s*\{(.*)\}", _PYPROJECT, re.M)
REMAPPED = re.findall(r'"([\w.]+)"\s*=', _PACKAGE_DIR.group(1)) if _PACKAGE_DIR else []

setup(packages=find_packages(include=["connex_core", "connex_core.*"]) + REMAPPED)
