"""Shared helpers of the rule-language tests."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from connex_core.plugins import PluginManager
from connex_core.rules import RuleSet, load_rules

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


@pytest.fixture
def manager() -> PluginManager:
    """A plugin manager with only connex_core's built-in plugin (lower, upper, round)."""
    return PluginManager(load_entrypoints=False).load()


@pytest.fixture
def rules_from(tmp_path: Path, manager: PluginManager) -> Callable[..., RuleSet]:
    """``rules_from(text, name="test.rules", strict=False)``: load rules from text via a real file."""

    def load(text: str, name: str = "test.rules", strict: bool = False) -> RuleSet:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return load_rules([path], manager=manager, strict=strict)

    return load
