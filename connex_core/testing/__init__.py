"""The kit for connector authors: a pytest plugin with fixtures, and contract tests to subclass.

Installed with connex-core as the pytest plugin ``connex`` (entry point ``pytest11``), so a
connector's test suite gets the fixtures with no import:

* ``canonical_order(**overrides)``: a realistic canonical :class:`~connex_core.models.Order`;
* ``plugin_manager``: a fresh plugin manager with no installed plugins loaded, to register yours;
* ``sim_clock``: a :class:`~connex_core.sandbox.SimClock` running 1,000 times faster than real time;
* ``serve``: ``serve(service, ...)`` starts simulated services on loopback and stops them after the test.

and :class:`ConnectorContractTests` to subclass (see its docstring).
"""

from .contract import ConnectorContractTests
from .factories import make_order

__all__ = ["ConnectorContractTests", "make_order"]
