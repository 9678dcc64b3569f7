"""Finding and loading plugins, and the registries they fill.

Loading order (once per process, on first use):

1. ``CONNEX_DISABLE_PLUGINS`` (comma-separated names) are blocked;
2. ``CONNEX_LOAD_PLUGINS`` set: only the named entry points of the ``connex`` group are loaded;
   otherwise every entry point of the group is;
3. the built-in plugin modules of ``DEFAULT_PLUGINS``;
4. ``check_pending()``: a hook implementation with no matching spec (a typo) is an error.

``CONNEX_TRACE_PLUGINS=1`` prints every hook call to stderr.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

import pluggy

from . import hookspecs
from .connector import Connector
from .errors import PluginError

if TYPE_CHECKING:
    from .models import Order
    from .rules.env import RuleEnvironment

ENTRY_POINT_GROUP = "connex"

#: Built-in plugin modules of connex_core itself (none are connectors: those are distributions).
DEFAULT_PLUGINS: tuple[str, ...] = ("connex_core.builtin",)


def _env_names(var: str) -> list[str]:
    return [n.strip() for n in os.environ.get(var, "").split(",") if n.strip()]


@dataclass
class RuleExtension:
    """An action or function a plugin registered for the rule language."""

    name: str
    function: Callable[..., Any]
    params: list[tuple[str, Any]] = field(default_factory=list)
    returns: Any = None
    doc: str = ""
    plugin: str = ""


class PluginManager:
    """A typed facade over :class:`pluggy.PluginManager` and the registries filled by registrar hooks."""

    def __init__(self, *, load_entrypoints: bool = True, builtins: Iterable[str] = DEFAULT_PLUGINS):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._load_entrypoints = load_entrypoints
        self._builtins = tuple(builtins)
        self._loaded = False
        self._connectors: dict[str, type[Connector]] | None = None
        self._connector_owner: dict[str, str] = {}
        self._actions: dict[str, RuleExtension] | None = None
        self._functions: dict[str, RuleExtension] | None = None
        self._sandboxes: dict[str, Callable[..., Any]] | None = None
        self._demos: dict[str, Callable[..., Any]] | None = None

    # -- loading ---------------------------------------------------------------------------------
    def load(self) -> "PluginManager":
        if self._loaded:
            return self
        self._loaded = True
        for name in _env_names("CONNEX_DISABLE_PLUGINS"):
            self.pm.set_blocked(name)
        if self._load_entrypoints:
            only = _env_names("CONNEX_LOAD_PLUGINS")
            if only:
                for name in only:
                    self.pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
            else:
                self.pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        for modname in self._builtins:
            if self.pm.is_blocked(modname) or self.pm.has_plugin(modname):
                continue
            self.pm.register(importlib.import_module(modname), name=modname)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            msg = f"a plugin implements a hook Connex does not have: {exc}"
            raise PluginError(msg) from exc
        if os.environ.get("CONNEX_TRACE_PLUGINS"):
            self.pm.trace.root.setwriter(lambda s: sys.stderr.write(s))
            self.pm.enable_tracing()
        self._invalidate()
        return self

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin object by hand (tests, embedding). Registries are rebuilt on next use."""
        self.load()
        registered = self.pm.register(plugin, name=name)
        self._invalidate()
        return registered or ""

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self._invalidate()

    def _invalidate(self) -> None:
        self._connectors = self._actions = self._functions = self._sandboxes = self._demos = None

    @property
    def hook(self):
        self.load()
        return self.pm.hook

    # -- registries --------------------------------------------------------------------------------
    def _collect(self, hookname: str, make_register: Callable[[str], Callable[..., None]]) -> None:
        """Call a registrar hook once per plugin, telling each call which plugin registers."""
        self.load()
        caller = getattr(self.pm.hook, hookname)
        for impl in caller.get_hookimpls():  # in registration order: the first plugin owns a name
            plugin_name = self.pm.get_name(impl.plugin) or "?"
            impl.function(make_register(plugin_name))

    @property
    def connectors(self) -> dict[str, type[Connector]]:
        if self._connectors is None:
            found: dict[str, type[Connector]] = {}
            owner: dict[str, str] = {}

            def make(plugin_name: str):
                def register(cls: type[Connector]) -> None:
                    if not (isinstance(cls, type) and issubclass(cls, Connector)) or not cls.name:
                        raise PluginError(f"plugin {plugin_name!r} registered {cls!r}, which is not a named Connector class")
                    if cls.name in found:
                        raise PluginError(
                            f"connector name {cls.name!r} is registered twice: by plugin {owner[cls.name]!r} "
                            f"and by plugin {plugin_name!r}; disable one with CONNEX_DISABLE_PLUGINS"
                        )
                    found[cls.name] = cls
                    owner[cls.name] = plugin_name

                return register

            self._collect("register_connectors", make)
            self._connectors, self._connector_owner = found, owner
        return self._connectors

    def connector(self, name: str) -> type[Connector]:
        """The connector class registered under ``name`` (dispatch goes through here, never a broadcast)."""
        try:
            return self.connectors[name]
        except KeyError:
            known = ", ".join(sorted(self.connectors)) or "none"
            raise PluginError(f"no connector named {name!r} (installed: {known})") from None

    def _extensions(self, hookname: str) -> dict[str, RuleExtension]:
        found: dict[str, RuleExtension] = {}

        def make(plugin_name: str):
            def register(name: str, function: Callable[..., Any], params=None, returns=None, doc: str = "") -> None:
                if name in found:
                    raise PluginError(f"rule {hookname.split('_')[-1][:-1]} {name!r} is registered twice "
                                      f"(by {found[name].plugin!r} and {plugin_name!r})")
                found[name] = RuleExtension(name, function, list(params or []), returns, doc, plugin_name)

            return register

        self._collect(hookname, make)
        return found

    @property
    def rule_actions(self) -> dict[str, RuleExtension]:
        if self._actions is None:
            self._actions = self._extensions("register_rule_actions")
        return self._actions

    @property
    def rule_functions(self) -> dict[str, RuleExtension]:
        if self._functions is None:
            self._functions = self._extensions("register_rule_functions")
        return self._functions

    def _named(self, hookname: str) -> dict[str, Callable[..., Any]]:
        found: dict[str, Callable[..., Any]] = {}

        def make(plugin_name: str):
            def register(name: str, factory: Callable[..., Any]) -> None:
                if name in found:
                    raise PluginError(f"{hookname}: {name!r} is registered twice")
                found[name] = factory

            return register

        self._collect(hookname, make)
        return found

    @property
    def sandboxes(self) -> dict[str, Callable[..., Any]]:
        if self._sandboxes is None:
            self._sandboxes = self._named("register_sandbox")
        return self._sandboxes

    @property
    def demos(self) -> dict[str, Callable[..., Any]]:
        if self._demos is None:
            self._demos = self._named("register_demo")
        return self._demos

    def rule_environment(self) -> "RuleEnvironment":
        """What the rule engine may call: the functions and actions the plugins registered."""
        from .rules.env import RuleEnvironment

        return RuleEnvironment(functions=self.rule_functions, actions=self.rule_actions)

    # -- per-order hooks (typed: the engine calls these, never ``hook.<name>`` directly) -----------
    def before_rules(self, order: "Order", task: str) -> "Order":
        """The ``before_rules`` chain: each plugin, in registration order, gets the order as the previous one
        left it (``None``: unchanged). Returns the last plugin's order."""
        for impl in self._chain("before_rules"):
            changed = impl.function(**{name: (order if name == "order" else task) for name in impl.argnames})
            if changed is not None:
                order = changed
        return order

    def after_dispatch(self, order: "Order", task: str, outcome: str, target_id: Optional[str]) -> None:
        """Tell every plugin what happened to an order (exceptions propagate; the engine logs them)."""
        self.hook.after_dispatch(order=order, task=task, outcome=str(outcome), target_id=target_id)

    def run_finished(self, task: str, summary: dict[str, Any]) -> None:
        self.hook.run_finished(task=task, summary=summary)

    def _chain(self, hookname: str) -> list[Any]:
        """The implementations of a hook in the order a chain calls them: ``tryfirst`` ones, then the rest in
        registration order, then ``trylast`` ones (pluggy itself calls the last registered first)."""
        impls = getattr(self.hook, hookname).get_hookimpls()
        if not impls:  # the usual case, on the per-order path
            return impls
        first, middle, last = [], [], []
        for impl in impls:
            if not (impl.hookwrapper or impl.wrapper):
                (first if impl.tryfirst else last if impl.trylast else middle).append(impl)
        return first + middle + last[::-1]

    # -- describing ------------------------------------------------------------------------------
    def describe(self, include_builtins: bool = False) -> list[dict[str, Any]]:
        """One entry per plugin: name, version, distribution, connectors, hooks (``connex plugins list``)."""
        self.load()
        dists = {id(plugin): dist for plugin, dist in self.pm.list_plugin_distinfo()}
        connectors = self.connectors
        by_plugin: dict[str, list[str]] = {}
        for cname, pname in self._connector_owner.items():
            by_plugin.setdefault(pname, []).append(cname)
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda np: np[0] or ""):
            if plugin is None:
                continue
            is_builtin = name in self._builtins
            if is_builtin and not include_builtins:
                continue
            dist = dists.get(id(plugin))
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            out.append({
                "name": name,
                "version": dist.version if dist is not None else None,
                "distribution": dist.project_name if dist is not None else None,
                "connectors": sorted(by_plugin.get(name, [])),
                "hooks": hooks,
                "builtin": is_builtin,
            })
        del connectors
        return out


_MANAGER: PluginManager | None = None


def get_manager() -> PluginManager:
    """The process-wide plugin manager, loaded on first use."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = PluginManager()
    return _MANAGER.load()


def set_manager(manager: PluginManager | None) -> None:
    """Replace the process-wide manager (tests)."""
    global _MANAGER
    _MANAGER = manager
