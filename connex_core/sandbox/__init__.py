"""A base for simulated APIs, served on loopback.

Each connector plugin ships a simulator of its service built on :class:`SimulatedService`, and
contributes it through the ``register_sandbox`` hook. :class:`SandboxServer` serves any number of
them from one loopback HTTP server, each mounted at ``/<name>``. The clients under test talk to
them over real HTTP (requests, urllib3), exactly as to the real hosts.

What the base gives a simulator:

* routing: ``@route("GET", "/orders/{order_id}")`` on methods of the subclass;
* auth: override :meth:`SimulatedService.authenticate` (return a :class:`Response` to refuse);
* rate limits: :class:`WindowLimiter` on a :class:`SimClock` that can run faster than real time;
* fault injection: :class:`FaultPlan` (errors, slow and dropped responses, a write committed
  whose response is lost), deterministic by seed;
* counters: :attr:`SimulatedService.calls` (per route), for the benchmarks' call counts.
"""

from .clock import SimClock, SteppedClock
from .server import SandboxServer
from .service import Fault, FaultPlan, Request, Response, SimulatedService, WindowLimiter, json_response, route

__all__ = [
    "SimClock", "SteppedClock", "Request", "Response", "route", "SimulatedService", "WindowLimiter",
    "Fault", "FaultPlan", "SandboxServer", "json_response",
]
