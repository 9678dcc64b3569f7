"""What the rule engine is given from outside: the functions and actions rules may call.

The caller builds it (``PluginManager.rule_environment()`` from the plugins' registrations); the rule
engine never sees the plugin manager.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class RuleEnvironment:
    """``functions`` and ``actions`` by name; each value describes one extension (``function``, ``params``,
    ``returns``, ``doc``, ``plugin``: see :class:`connex_core.plugins.RuleExtension`)."""

    functions: Mapping[str, Any] = field(default_factory=dict)
    actions: Mapping[str, Any] = field(default_factory=dict)
