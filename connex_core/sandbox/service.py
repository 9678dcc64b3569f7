"""What a simulated service is made of: requests, responses, routes, rate windows, faults, and the base class."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..jsonutil import json_default
from .clock import SimClock


@dataclass
class Request:
    method: str
    path: str
    """The path below the service's mount point, without the query string ('/orders/1')."""
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)
    """Values of the route's ``{placeholders}``."""

    def arg(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """A query parameter, matched case-insensitively (as the real APIs do)."""
        for key, values in self.query.items():
            if key.lower() == name.lower() and values:
                return values[-1]
        return default

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    """Close the connection without answering (the client sees a dropped connection)."""

def json_response(obj: Any, status: int = 200, headers: Optional[dict[str, str]] = None) -> Response:
    body = json.dumps(obj, default=json_default).encode("utf-8")
    h = {"Content-Type": "application/json; charset=utf-8"}
    h.update(headers or {})
    return Response(status, body, h)


def route(method: str, pattern: str) -> Callable:
    """Mark a simulator method as the handler of ``METHOD /pattern`` (``{name}`` matches one segment)."""

    def mark(fn: Callable) -> Callable:
        fn.__sim_routes__ = getattr(fn, "__sim_routes__", []) + [(method.upper(), pattern)]
        return fn

    return mark


class WindowLimiter:
    """A fixed-window request limiter per key on a :class:`SimClock` (what ShipStation and Xero do)."""

    def __init__(self, limit: int, window: float, clock: SimClock):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str = "") -> tuple[bool, int, float]:
        """Count one request. Returns (allowed, remaining, seconds until the window resets)."""
        with self._lock:
            now = self.clock.now()
            start, count = self._windows.get(key, (now, 0))
            if now - start >= self.window:
                start, count = now, 0
            reset = max(0.0, self.window - (now - start))
            if count >= self.limit:
                self._windows[key] = (start, count)
                return False, 0, reset
            count += 1
            self._windows[key] = (start, count)
            return True, self.limit - count, reset


@dataclass
class Fault:
    """One kind of fault, injected into matching requests.

    ``kind``: ``error`` (answer ``status`` with ``body``), ``slow`` (wait ``delay`` real seconds,
    then answer normally), ``drop`` (close the connection before handling: nothing happened),
    ``lost_response`` (handle the request, so a write is committed, then close the connection).
    It applies to requests whose method is in ``methods`` (all when empty) and whose path matches
    the regular expression ``path``; ``times`` limits how often (None: no limit) and ``rate``
    is the probability per matching request.
    """

    kind: str
    status: int = 500
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    methods: tuple[str, ...] = ()
    path: str = ""
    rate: float = 1.0
    times: Optional[int] = None

    def matches(self, request: Request) -> bool:
        if self.methods and request.method not in self.methods:
            return False
        return not self.path or re.search(self.path, request.path) is not None


class FaultPlan:
    """The faults a simulator injects, drawn from a seeded random generator (repeatable)."""

    def __init__(self, seed: int = 0):
        self.faults: list[Fault] = []
        self.injected: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def draw(self, request: Request) -> Optional[Fault]:
        with self._lock:
            for fault in self.faults:
                if fault.times is not None and fault.times <= 0:
                    continue
                if not fault.matches(request):
                    continue
                if fault.rate < 1.0 and self._rng.random() >= fault.rate:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                self.injected[fault.kind] += 1
                return fault
        return None


class SimulatedService:
    """Base of a simulated API. Subclasses define routes with :func:`route` and override hooks."""

    name: str = "service"

    @classmethod
    def account_credentials(cls, n: int) -> dict[str, Any]:
        """Constructor arguments that give simulated account ``n`` (1, 2, ...) credentials of its own, for
        ``connex sandbox --accounts N`` (many sellers, each with its own data, limits and keys). A simulator
        whose credentials are constructor arguments overrides this; the default shares them."""
        return {}

    def __init__(self, clock: Optional[SimClock] = None, seed: int = 0):
        self.clock = clock or SimClock()
        self.faults = FaultPlan(seed)
        self.calls: Counter[str] = Counter()
        self.lock = threading.RLock()
        """Held while a request is handled: the simulated state changes one request at a time."""
        self.base_url: str = ""
        self._routes: list[tuple[str, re.Pattern, str, Callable]] = []
        for attr in dir(type(self)):
            fn = getattr(type(self), attr, None)
            for method, pattern in getattr(fn, "__sim_routes__", []):
                regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern.rstrip("/")) + "/?$", re.I)
                self._routes.append((method, regex, pattern, getattr(self, attr)))

    # -- hooks for subclasses -------------------------------------------------------------------
    def authenticate(self, request: Request) -> Optional[Response]:
        """Return a Response to refuse the request (401), or None to let it through."""
        return None

    def rate_limit(self, request: Request) -> tuple[Optional[Response], dict[str, str]]:
        """Return (a 429 Response or None, headers to add to the answer)."""
        return None, {}

    def not_found(self, request: Request) -> Response:
        return json_response({"message": f"No route for {request.method} {request.path}"}, 404)

    def seed(self, n: int) -> int:
        """Put ``n`` realistic records (orders, documents, invoices) into the service; returns how many.

        ``connex sandbox --seed-orders N`` and ``connex demo`` call it. Deterministic by the service's seed.
        """
        return 0

    def simulate_activity(self) -> dict[str, int]:
        """Let time pass in the simulated business (the warehouse ships open orders, say); returns counts.

        ``connex demo`` calls it between the flows that create orders and those that write tracking back.
        """
        return {}

    def client_config(self) -> dict[str, Any]:
        """What a client needs to talk to this simulator: ``base_url`` and credentials (``connex sandbox --json``)."""
        return {"base_url": self.base_url}

    # -- dispatch --------------------------------------------------------------------------------
    def match(self, request: Request) -> tuple[Optional[Callable], str]:
        for method, regex, pattern, handler in self._routes:
            if method != request.method:
                continue
            m = regex.match(request.path)
            if m:
                request.params = m.groupdict()
                return handler, f"{method} {pattern}"
        return None, f"{request.method} ?"

    def handle(self, request: Request) -> Response:
        """Answer one request: faults, then auth, then rate limit, then the route."""
        handler, label = self.match(request)
        fault = self.faults.draw(request)
        if fault is not None:
            if fault.kind == "drop":
                return Response(drop=True)
            if fault.kind == "error":
                self.calls[label] += 1
                return Response(fault.status, fault.body, dict(fault.headers))
            if fault.kind == "slow":
                time.sleep(fault.delay)
        with self.lock:
            self.calls[label] += 1
            refused = self.authenticate(request)
            if refused is not None:
                return refused
            limited, extra = self.rate_limit(request)
            if limited is not None:
                self.calls["429"] += 1
                return limited
            if handler is None:
                response = self.not_found(request)
            else:
                try:
                    response = handler(request)
                except Exception as exc:  # a simulator bug answers 500, like a real server would
                    response = json_response({"message": f"simulator error: {type(exc).__name__}: {exc}"}, 500)
            response.headers.update(extra)
        if fault is not None and fault.kind == "lost_response":
            return Response(drop=True)
        return response

    @property
    def total_calls(self) -> int:
        return sum(n for label, n in self.calls.items() if label != "429")
