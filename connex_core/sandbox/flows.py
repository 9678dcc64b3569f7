"""The demo's flows, as the plugins contribute them through the ``register_demo`` hook.

The core knows no connector by name: each plugin registers a :class:`DemoPart` with the tasks it
can run against the simulators (between its own connector and others), the extra simulator instances
those tasks need, and the name the demo's report gives its simulated service. :func:`demo_plan`
assembles every installed plugin's part; ``connex demo`` runs the plan and
``connex sandbox --write-config`` writes its tasks into the config.

Order: tasks of the ``documents`` stage run first (flows that create orders and documents), then the
simulated businesses move on (:meth:`SimulatedService.simulate_activity`), then the ``write_back``
stage (tracking written back). Within a stage, tasks run part by part in the order of the names the
parts are registered under, and within a part in the order the plugin lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from ..plugins import PluginManager

Stage = Literal["documents", "write_back"]
STAGES: tuple[Stage, ...] = ("documents", "write_back")


@dataclass(frozen=True)
class DemoTask:
    """One task of the demo: its name and its ``[tasks.NAME]`` table (source, target, kind, rules, options)."""

    name: str
    table: dict[str, Any]
    stage: Stage = "documents"
    """``documents``: runs before the simulated businesses move on; ``write_back``: after (tracking)."""

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"demo task {self.name!r}: stage must be one of {', '.join(STAGES)}, not {self.stage!r}")
        missing = {"source", "target"} - set(self.table)
        if missing:
            raise ValueError(f"demo task {self.name!r}: its table needs {', '.join(sorted(missing))}")


@dataclass(frozen=True)
class DemoPart:
    """What one plugin brings to ``connex demo`` (its simulator's seed data comes from the simulator itself:
    :meth:`SimulatedService.seed` and :meth:`SimulatedService.simulate_activity`)."""

    title: str
    """How the demo's report names the simulated service ("Acme Shipping")."""
    tasks: tuple[DemoTask, ...] = ()
    mounts: dict[str, str] = field(default_factory=dict)
    """More instances of a registered simulator the tasks need, seeded with nothing: {mount: simulator name}
    (a second company to receive daily summaries, say)."""
    variants: dict[str, dict[str, str]] = field(default_factory=dict)
    """Other API versions of this plugin's service, each as the connections it replaces:
    ``{"v2": {"acme": "acme-v2"}}`` makes every task that reads or writes ``acme`` also run against the
    ``acme-v2`` simulator (``connex demo --api acme=v2``; ``connex sandbox --write-config`` writes both)."""


@dataclass
class DemoPlan:
    """Every installed plugin's demo part, assembled."""

    parts: dict[str, DemoPart]

    @property
    def titles(self) -> list[str]:
        return [part.title for part in self.parts.values() if part.title]

    @property
    def tasks(self) -> list[DemoTask]:
        """Every task, in the order the config lists them (part by part)."""
        return [task for part in self.parts.values() for task in part.tasks]

    def stage(self, stage: Stage) -> list[str]:
        """Names of the tasks of one stage, in the order they run."""
        return [task.name for task in self.tasks if task.stage == stage]

    @property
    def order(self) -> list[str]:
        """Names of every task in the order the demo runs them (one stage after the other)."""
        return [name for stage in STAGES for name in self.stage(stage)]

    @property
    def mounts(self) -> dict[str, str]:
        return {mount: sim for part in self.parts.values() for mount, sim in part.mounts.items()}

    def tables(self) -> list[tuple[str, dict[str, Any]]]:
        """The tasks as ``(name, table)`` pairs, the form :func:`~connex_core.sandbox.runner.write_config` takes."""
        return [(task.name, dict(task.table)) for task in self.tasks]

    def variant(self, part: str, version: str) -> dict[str, str]:
        """The connection renames of one plugin's API version; a clear error for an unknown one."""
        if part not in self.parts:
            raise ValueError(f"no demo part named {part!r} (parts: {', '.join(self.parts) or 'none'})")
        known = self.parts[part].variants
        if version not in known:
            raise ValueError(f"{part} has no API version {version!r} in the demo (versions: "
                             f"{', '.join(known) or 'none besides the default'})")
        return known[version]

    def renamed(self, renames: dict[str, str], suffix: str) -> list[DemoTask]:
        """The tasks touching a renamed connection, against the other connection: a task named after the
        connection takes the new name in its own (``acme-to-books`` -> ``acme-v2-to-books``), others take
        ``-SUFFIX`` (``tracking-to-books`` -> ``tracking-to-books-v2``)."""
        out = []
        for task in self.tasks:
            ends = {end: renames[task.table[end]] for end in ("source", "target") if task.table[end] in renames}
            if not ends:
                continue
            name = task.name
            for old, new in renames.items():
                name = name.replace(old, new) if old in name else name
            if name == task.name:
                name = f"{task.name}-{suffix}"
            out.append(DemoTask(name=name, table=dict(task.table, **ends), stage=task.stage))
        return out

    def all_variant_tables(self) -> list[tuple[str, dict[str, Any]]]:
        """Every task of every API variant every plugin declares (written beside the default tasks)."""
        return [(t.name, dict(t.table)) for part in self.parts.values() for version, renames in part.variants.items()
                for t in self.renamed(renames, version)]


def demo_plan(manager: PluginManager) -> DemoPlan:
    """Assemble the parts the plugins registered; a task name used twice is an error (a silent override
    would run the wrong flow)."""
    parts: dict[str, DemoPart] = {}
    seen: dict[str, str] = {}
    for name, part in sorted(manager.demos.items()):
        if not isinstance(part, DemoPart):
            raise TypeError(f"register_demo: {name!r} registered {type(part).__name__}, not a DemoPart")
        for task in part.tasks:
            if task.name in seen:
                raise ValueError(f"demo task {task.name!r} is registered twice (by {seen[task.name]!r} and {name!r})")
            seen[task.name] = name
        parts[name] = part
    return DemoPlan(parts)


def default_rules_dir() -> Optional[Path]:
    """The default rule files (the demo's tasks name them as ``rules/NAME``): packaged with connex_core, or
    the checkout's ``rules/`` folder."""
    try:
        from importlib.resources import files

        packaged = Path(str(files("connex_core.default_rules")))
        if packaged.is_dir():
            return packaged
    except (ModuleNotFoundError, TypeError):
        pass
    here = Path(__file__).resolve().parents[2] / "rules"
    return here if here.is_dir() else None
