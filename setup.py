"""Only the package list lives here; everything else is in pyproject.toml.

``connex_core.grammar`` is the top-level ``grammar/`` folder (``package-dir`` in pyproject.toml).
setuptools' ``packages.find`` cannot add a remapped package, so the list is built here: every
``connex_core`` package found on disk, plus the grammar (tests/rules/test_wheel.py checks it ships).
"""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["connex_core", "connex_core.*"]) + ["connex_core.grammar"])
