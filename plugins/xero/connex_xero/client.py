"""xero-python, set up the way Connex needs it, and Xero's errors and limits turned into Connex's.

* **No hidden retries.** xero-python's urllib3 ``PoolManager`` retries GET and PUT three times on
  429/503 with ``Retry-After`` and on dropped connections, out of our sight (a retried PUT
  without an idempotency key can post twice). We replace it with one that has ``retries=False``,
  a timeout on every request, and TLS verification on; retries are ours, on the connector's
  clock, and every write carries an ``Idempotency-Key`` so a retried write is replayed, not
  repeated.
* **Our tokens.** xero-python is handed, per call and per thread, the access token
  :class:`~connex_xero.auth.XeroAuth` keeps valid (:class:`_CallToken`); it never refreshes on
  its own.
* **Limits per organisation.** 60 calls a minute (paced, and slowed further when
  ``X-MinLimit-Remaining`` reaches 0), 5 at once (a semaphore), and the day's budget as Xero counts it
  (``X-DayLimit-Remaining``: it depends on the app's pricing tier, 1,000 on the free one): a warning once
  when a tenth of the day's calls are left (the day's size is learnt from the header, never assumed),
  and a 429 with ``X-Rate-Limit-Problem: day`` stops the task with :class:`RateLimitExhausted` until the
  ``Retry-After`` has passed, and later calls in the process stop at once without calling.
* **Raw JSON.** Calls run with ``_preload_content=False`` and we parse the body ourselves with
  ``Decimal`` money, so the mapping reads exactly the payloads Xero documents (and the saved
  ones ``connex rules dry-run --source xero`` reads).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Optional

import certifi
import urllib3
from xero_python.accounting import AccountingApi
from xero_python.api_client import ApiClient
from xero_python.api_client.configuration import Configuration
from xero_python.api_client.oauth2 import OAuth2Token
from xero_python.exceptions import ApiException
from xero_python.identity import IdentityApi

from connex_core.api import wall_time
from connex_core.api import (AuthenticationError, FatalAPIError, RateLimitExhausted, RetriableAPIError)
from connex_core.api import ApiBudget, RateLimiter, RetryPolicy, limiter_for, short_body

from .auth import XeroAuth
from .settings import XeroSettings

log = logging.getLogger("connex.xero")

MINUTE_LIMIT, CONCURRENT_LIMIT = 60, 5
DAY_WARNING_SHARE = 0.1  # warn once when this share of the day's calls (as X-DayLimit-Remaining shows) is left


class NotFound(FatalAPIError):
    """Xero has no such record (404)."""


def make_pool(timeout: float) -> urllib3.PoolManager:
    """The HTTP pool for xero-python and the token endpoint: no implicit retries, a timeout, TLS verified.

    The pool's timeout covers our own token requests; xero-python's calls pass theirs explicitly
    (see :attr:`XeroClient.timeout`).
    """
    return urllib3.PoolManager(num_pools=4, maxsize=CONCURRENT_LIMIT, cert_reqs="CERT_REQUIRED",
                               ca_certs=certifi.where(), retries=False,
                               timeout=urllib3.Timeout(connect=min(timeout, 10.0), read=timeout))


@dataclass
class _Gate:
    """What one organisation's calls share in this process: the minute pacing, the 5 slots, the day stop."""

    limiter: RateLimiter
    slots: threading.BoundedSemaphore = field(default_factory=lambda: threading.BoundedSemaphore(CONCURRENT_LIMIT))
    day_blocked_until: float = 0.0
    day_remaining: Optional[int] = None
    """The last ``X-DayLimit-Remaining``: calls left today for the organisation (None: not seen yet)."""
    day_seen: int = 0
    """The most calls seen left in one day plus one: a lower bound of the day's size, from the API."""
    day_warned: bool = False


_GATES: dict[tuple, _Gate] = {}
_GATES_LOCK = threading.Lock()


def _gate(key: tuple, clock: Any) -> _Gate:
    limiter = limiter_for(("xero",) + key, lambda: RateLimiter(MINUTE_LIMIT, 60.0, clock=clock.now, sleep=clock.sleep))
    with _GATES_LOCK:
        return _GATES.setdefault(("xero",) + key, _Gate(limiter))


class _CallToken(OAuth2Token):
    """xero-python's token object, reduced to "the bearer token of the call in flight".

    The stock one keeps the token in shared mutable state (and xero-python's ``Configuration``
    hands every instance the same one), checks expiry on ``time.time()`` and refreshes by itself.
    Ours reads the token :class:`XeroClient` got from :class:`~connex_xero.auth.XeroAuth` for
    this thread, and never refreshes.
    """

    def __init__(self, current: Callable[[], str]):
        super().__init__()
        self._current = current

    def create_auth_settings(self, api_client: Any) -> dict[str, str]:
        return {"type": "oauth2", "in": "header", "key": "Authorization", "value": f"Bearer {self._current()}"}


def parse_json(data: bytes) -> Any:
    """A Xero body, with money as Decimal."""
    return json.loads(data.decode("utf-8") or "null", parse_float=Decimal)


def decode(what: str, status: int, data: bytes, shape: type) -> Any:
    """A 2xx body as JSON of the shape the API documents (``dict`` or ``list``).

    An empty answer, a cut-off one or a proxy's HTML page is not an answer: a retriable error that
    says what came back, never a JSONDecodeError or an AttributeError further on.
    """
    try:
        body = parse_json(data)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        body = None
    if not isinstance(body, shape):
        said = "an empty body" if not data.strip() else f"a body that is not a JSON {shape.__name__}"
        raise RetriableAPIError(f"Xero: {what}: answered {status} with {said} ({short_body(data, 120)})",
                                connector="xero", status=status)
    return body


def records(data: dict, key: str, what: str) -> list[dict]:
    """The list ``key`` of an answer; missing, or of another type, it is a malformed answer (retriable)."""
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RetriableAPIError(f"Xero: {what}: the answer's {key} is not a list of records", connector="xero")
    return value


class XeroClient:
    """Calls to one Xero organisation through xero-python, with Connex's auth, limits, retries and errors."""

    def __init__(self, settings: XeroSettings, auth: XeroAuth, clock: Any, connection: str,
                 http: urllib3.PoolManager):
        self.settings = settings
        self.auth = auth
        self.clock = clock
        self.connection = connection
        self._local = threading.local()  # the access token of the call in flight, per thread
        configuration = Configuration()  # a copy of xero-python's process-wide default...
        configuration.oauth2_token = _CallToken(lambda: getattr(self._local, "access", ""))  # ...with our own token
        api_client = ApiClient(configuration, pool_threads=1)
        api_client.rest_client.pool_manager = http
        self.api = AccountingApi(api_client, base_url=settings.base_url.rstrip("/") + "/api.xro/2.0")
        self.identity = IdentityApi(api_client, base_url=settings.base_url.rstrip("/"))
        self.policy = RetryPolicy(max_tries=settings.max_retries, sleep=clock.sleep, max_time=3600.0)
        self._tenant: Optional[str] = settings.tenant_id
        # Passed on every call: xero-python hands urllib3 ``timeout=None`` otherwise, overriding the pool's.
        self.timeout = (min(settings.timeout, 10.0), settings.timeout)

    # -- the organisation --------------------------------------------------------------------------
    def connections(self) -> list[dict[str, Any]]:
        """The organisations this token may use (``GET /connections``)."""
        return self._call("list organisations", lambda: self.identity.get_connections(
            _preload_content=False, _request_timeout=self.timeout), tenant=False)

    @property
    def tenant_id(self) -> str:
        """The organisation: from the settings, else chosen at ``connex connect``, else the only one connected."""
        if self._tenant:
            return self._tenant
        stored = self.auth.tokens().get("tenant_id")
        if stored:
            self._tenant = str(stored)
            return self._tenant
        tenants = self.connections()
        if len(tenants) != 1:
            raise AuthenticationError(
                f"Xero connection {self.connection!r} has {len(tenants)} organisations and none chosen: "
                f"run `connex connect {self.connection}` to pick one (or set tenant_id)", connector="xero")
        self._tenant = str(tenants[0]["tenantId"])
        return self._tenant

    # -- calls ------------------------------------------------------------------------------------
    def call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``AccountingApi.<method>(tenant, *args, **kwargs)`` and return the parsed JSON body."""
        fn = getattr(self.api, method)
        return self._call(what, lambda: fn(self.tenant_id, *args, _preload_content=False,
                                           _request_timeout=self.timeout, **kwargs))

    def _call(self, what: str, send: Callable[[], Any], tenant: bool = True) -> Any:
        gate = _gate((self.settings.client_id, self.tenant_id if tenant else "", id(self.clock)), self.clock)
        shape = dict if tenant else list  # the Accounting API answers objects; /connections a list
        return self.policy.call(lambda: self._once(what, send, gate, shape), what=f"Xero: {what}")

    def _once(self, what: str, send: Callable[[], Any], gate: _Gate, shape: type) -> Any:
        if gate.day_blocked_until > wall_time(self.clock):
            raise self._day_exhausted(gate)
        for attempt in (1, 2):
            gate.limiter.acquire()
            with gate.slots:
                self._local.access = self.auth.access_token()
                try:
                    response = send()
                except ApiException as exc:
                    if exc.status == 401 and attempt == 1:
                        self.auth.refresh(rejected=self._local.access)  # refresh once, then try again
                        continue
                    raise self._translate(what, exc, gate) from None
                except urllib3.exceptions.HTTPError as exc:
                    raise RetriableAPIError(f"Xero: {what}: the connection failed ({type(exc).__name__})",
                                            connector="xero") from None
            try:
                data = response.data
            finally:
                response.release_conn()
            self._note_limits(response.headers, gate)
            return decode(what, response.status, data, shape)
        raise AssertionError("unreachable")

    def _note_limits(self, headers: Any, gate: _Gate) -> None:
        minute = headers.get("X-MinLimit-Remaining")
        if minute is not None and minute.isdigit():
            gate.limiter.update(int(minute), 60.0)  # nothing left this minute: wait before the next call
        day = headers.get("X-DayLimit-Remaining")
        if day is None or not day.isdigit():
            return
        left = int(day)
        if gate.day_remaining is not None and left > gate.day_remaining + 1:
            gate.day_warned = False  # a new day began (more left than a moment ago)
        gate.day_remaining, gate.day_seen = left, max(gate.day_seen, left + 1)
        if not gate.day_warned and left <= gate.day_seen * DAY_WARNING_SHARE:
            gate.day_warned = True
            log.warning("Xero connection %r: %d calls left today for this organisation (X-DayLimit-Remaining); "
                        "at none the task stops until Xero's day resets", self.connection, left)

    def day_remaining(self) -> Optional[int]:
        """Calls left today for this organisation, as Xero last said (``X-DayLimit-Remaining``); None before any."""
        return _gate((self.settings.client_id, self.tenant_id, id(self.clock)), self.clock).day_remaining

    def budgets(self, tenant_id: str) -> list[ApiBudget]:
        """The organisation's day as Xero last said (once a call was made) and this minute's pacing; no call."""
        gate = _gate((self.settings.client_id, tenant_id, id(self.clock)), self.clock)
        out = [ApiBudget(remaining=gate.limiter.remaining(), per="minute", limit=MINUTE_LIMIT,
                         source="paced by Connex to Xero's 60 calls a minute per organisation")]
        if gate.day_remaining is not None:
            out.insert(0, ApiBudget(remaining=gate.day_remaining, per="day", source="X-DayLimit-Remaining"))
        return out

    def _day_exhausted(self, gate: _Gate) -> RateLimitExhausted:
        resume = datetime.fromtimestamp(gate.day_blocked_until, timezone.utc)
        return RateLimitExhausted(
            f"Xero's daily limit of calls for this organisation is used up (connection {self.connection!r}"
            f"{f'; the day allowed at least {gate.day_seen} calls' if gate.day_seen else ''}); "
            f"the task stops here and resumes after {resume:%Y-%m-%d %H:%M} UTC", connector="xero", resume_at=resume)

    def _translate(self, what: str, exc: ApiException, gate: _Gate) -> Exception:
        status = exc.status or 0
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        body = exc.body or b""
        retry_after = float(headers["retry-after"]) if headers.get("retry-after", "").isdigit() else None
        if status == 429:
            problem = headers.get("x-rate-limit-problem", "")
            if problem == "day":
                gate.day_blocked_until = wall_time(self.clock) + (retry_after or 3600.0)
                return self._day_exhausted(gate)
            if retry_after:
                gate.limiter.block_for(retry_after)
            return RetriableAPIError(f"Xero: {what}: rate limit ({problem or 'unknown'}) reached",
                                     connector="xero", status=429, retry_after=retry_after)
        if status == 401:
            return AuthenticationError(f"Xero rejected the access token of connection {self.connection!r} even "
                                       f"after a refresh: {self.auth.reconnect}", connector="xero", status=401)
        if status == 403:
            return AuthenticationError(
                f"Xero refused access to the organisation of connection {self.connection!r} (the app was "
                f"disconnected from it, or lacks a scope): {self.auth.reconnect}", connector="xero", status=403)
        if status == 404:
            return NotFound(f"Xero: {what}: not found", connector="xero", status=404)
        if status == 503 and b"offline" in body.lower():
            return RetriableAPIError(f"Xero: {what}: the organisation is offline (Xero is upgrading its data); "
                                     "try again later", connector="xero", status=503, retry_after=retry_after or 60.0)
        if status >= 500:
            return RetriableAPIError(f"Xero: {what}: server error {status}", connector="xero", status=status,
                                     retry_after=retry_after)
        return FatalAPIError(f"Xero: {what}: {status} {describe_error(body)}", connector="xero", status=status)


def describe_error(body: bytes) -> str:
    """A Xero error body as one line: its Type and Message, and each element's validation messages."""
    try:
        data = parse_json(body)
    except ValueError:
        return short_body(body)
    if not isinstance(data, dict):
        return short_body(body)
    messages = validation_messages(data.get("Elements") or [])
    head = " ".join(str(data.get(k)) for k in ("Type", "Message", "Title", "Detail") if data.get(k))
    return short_body("; ".join([head] + messages) if messages else head or body)


def validation_messages(elements: list[dict[str, Any]]) -> list[str]:
    """Every ``ValidationErrors[].Message`` of the elements, including those nested in lines and contacts."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for error in node.get("ValidationErrors") or []:
                text = error.get("Message") or error.get("Description")
                if text and text not in found:
                    found.append(str(text))
            for key, value in node.items():
                if key != "ValidationErrors":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(elements)
    return found
