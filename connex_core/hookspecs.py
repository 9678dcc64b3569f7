"""Hook specifications: what a Connex plugin can implement.

A plugin is a module (or object) with functions marked ``@connex_core.hookimpl`` whose names are
the hooks below. It is found through the ``connex`` entry-point group of its distribution::

    [project.entry-points.connex]
    shipstation = "connex_shipstation"

Every hook here is documented in ``docs/plugin_hooks.md``; a test fails when one is not.
Hook implementations must not give their arguments default values (pluggy does not pass them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pluggy

if TYPE_CHECKING:
    import typer

    from .connector import Connector
    from .models import Order

PROJECT = "connex"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ================================================================================================
# Registration: called once at startup, after all plugins are loaded
# ================================================================================================


@hookspec
def register_connectors(register: Callable[[type["Connector"]], None]) -> None:
    """Register connector classes.

    :param register: call ``register(ConnectorClass)`` once per connector. A name already taken
        by another plugin is an error (:class:`~connex_core.errors.PluginError`), not a silent rename.

    Called when the plugin manager builds its connector registry, once per process.
    """


@hookspec
def register_rule_actions(register: Callable[..., None]) -> None:
    """Register actions for the rule language (``then notify 'ops'``).

    :param register: call ``register(name, function, params=[...], doc="...")``; ``function``
        receives the order being changed and the action's typed arguments and returns the
        changed order. ``params`` is a list of ``(name, type)`` pairs the checker enforces.

    Called when a rule file is checked or compiled, once per process.
    """


@hookspec
def register_rule_functions(register: Callable[..., None]) -> None:
    """Register functions for rule expressions (``when lower(customer.email) == ...``).

    :param register: call ``register(name, function, params=[...], returns=type, doc="...")``.
        Functions must be pure: no I/O, no change to the order.

    Called when a rule file is checked or compiled, once per process.
    """


@hookspec
def register_sandbox(register: Callable[..., None]) -> None:
    """Register a simulated API for ``connex sandbox`` and ``connex demo``.

    :param register: call ``register(name, factory)``; ``factory(clock=..., seed=...)`` returns a
        :class:`connex_core.sandbox.SimulatedService` that is mounted at ``/<name>`` on the
        sandbox's loopback server.

    Called when the sandbox starts.
    """


@hookspec
def register_commands(app: "typer.Typer") -> None:
    """Add sub-commands to the ``connex`` command line.

    :param app: the root :class:`typer.Typer`; add commands with ``app.command()`` or groups
        with ``app.add_typer()``.

    Called when the command line is built, before arguments are parsed.
    """


@hookspec
def register_demo(register: Callable[..., None]) -> None:
    """Contribute flows to ``connex demo`` and ``connex sandbox --write-config``.

    :param register: call ``register(name, part)`` once, with a
        :class:`connex_core.sandbox.flows.DemoPart`: the title the demo's report gives the plugin's
        simulated service, the tasks the plugin can run against the simulators (each a
        :class:`~connex_core.sandbox.flows.DemoTask`: its ``[tasks.NAME]`` table and its stage,
        ``documents`` or ``write_back``), and any extra simulator instances those tasks need. A task
        is left out when one of its connections has no simulator. Seed data comes from the
        simulator's own ``seed`` and ``simulate_activity``.

    Called when the demo starts and when the sandbox writes a config. Within a stage, tasks run part by
    part in the order of the names they are registered under, each part's in the order it lists them.
    """


# ================================================================================================
# Per order: called by the sync engine for every order of a run
# ================================================================================================


@hookspec
def before_rules(order: "Order", task: str) -> "Order | None":
    """Adjust an order after the source mapped it and before the rules see it.

    :param order: the canonical order as the source mapped it.
    :param task: the task's name.
    :return: a changed copy of the order, or ``None`` to leave it as it is.

    Called for every order of every run, as a chain in plugin registration order (``tryfirst``
    first, ``trylast`` last): each plugin receives the previous plugin's result, and the rules see
    the last one's (:meth:`connex_core.plugins.PluginManager.before_rules`).
    """


@hookspec
def after_dispatch(order: "Order", task: str, outcome: str, target_id: "str | None") -> None:
    """Be told what happened to an order (for notifications, metrics, audit trails).

    :param order: the order as the rules left it.
    :param task: the task's name.
    :param outcome: ``created``, ``updated``, ``duplicate``, ``skipped``, ``held`` or ``failed``.
    :param target_id: the target's document id when one was created or found.

    Called after the ledger has recorded the outcome; an exception here is logged, never fatal.
    """


# ================================================================================================
# Shutdown
# ================================================================================================


@hookspec
def run_finished(task: str, summary: dict[str, Any]) -> None:
    """Be told that a task run ended.

    :param task: the task's name.
    :param summary: the run summary (counts by outcome, cursor, duration) as ``connex run --json`` prints it.

    Called once per task run, after its state is committed.
    """
