"""The QuickBooks Online API client: python-quickbooks, with what it lacks for unattended syncs.

python-quickbooks 0.9.12 builds the URLs, adds ``minorversion`` and ``requestid`` and raises on
a Fault (even inside a 200). :class:`QuickBooksSession` subclasses it to add what it has not:

* a timeout on every request, TLS verification, no implicit retries (``make_session``);
* a base URL override (the simulator), and no ``OAuth2Session`` (so plain-HTTP loopback works
  without ``OAUTHLIB_INSECURE_TRANSPORT``);
* the bearer token from :class:`~.auth.TokenManager`, refreshed once on a 401;
* pacing under the per-realm throttles (500 per minute, 10 per second) and both batch throttles: per app and
  company (40 a minute by default) and per company across all apps (120 a minute since 2025), each set by a
  connection setting; connections of one process (or of every process, with shared limits) to one company
  share the company's.

:class:`QuickBooksAPI` wraps it with the calls the connector makes (query with paging, our own
``/batch`` with a ``requestid`` and short ``bId``s, which ``batch_create`` cannot do, company
info and preferences) and maps every failure to :mod:`connex_core.errors`: the XML 429 and 3001 to a
retriable error with a 60-second wait, 5xx and dropped connections to retriable, auth failures
to :class:`~connex_core.errors.AuthenticationError`, 6190 to fatal, and any other Fault to
:class:`QuickBooksFault` (an :class:`~connex_core.errors.OrderError` carrying the code).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Optional, TypeVar

import requests
from quickbooks import QuickBooks
from quickbooks.exceptions import QuickbooksException

from connex_core.api import jsonutil
from connex_core.api import AuthenticationError, FatalAPIError, OrderError, RetriableAPIError
from connex_core.api import RateLimiter, RetryPolicy, limiter_for, make_session, short_body
from connex_core.api import OffsetPaginator, PagingLoopError

from .auth import TokenManager

T = TypeVar("T")

PRODUCTION_API = "https://quickbooks.api.intuit.com"
SANDBOX_API = "https://sandbox-quickbooks.api.intuit.com"
THROTTLE_WAIT = 60.0
"""Seconds to back off after a throttle (Intuit sends no Retry-After; its docs say about a minute)."""
BATCH_LIMIT = 30


class QuickBooksFault(OrderError):
    """A QuickBooks Fault that concerns the data sent (``code``: "6240", "2500", "5010", ...)."""

    def __init__(self, code: str, message: str, detail: str = ""):
        self.message, self.detail = message, detail
        extra = f" ({short_body(detail, 200)})" if detail and detail != message else ""
        super().__init__(f"QuickBooks error {code}: {message}{extra}", connector="quickbooks", code=code)


def fault_error(code: str, message: str, detail: str = "", connection: str = "quickbooks") -> Exception:
    """The connex error for one QuickBooks Fault error entry."""
    if code == "3001" or "ThrottleExceeded" in message:
        return RetriableAPIError("QuickBooks throttled the request (ThrottleExceeded)", connector="quickbooks",
                                 status=429, retry_after=THROTTLE_WAIT)
    if code.isdigit() and 0 < int(code) < 500:
        return AuthenticationError(f"QuickBooks refused the authorization ({code} {message}); reconnect with "
                                   f"`connex connect {connection}`", connector="quickbooks")
    if code == "6190":
        return FatalAPIError(f"QuickBooks company is not usable ({code} {message}: the subscription may have lapsed)",
                             connector="quickbooks")
    return QuickBooksFault(code, message, detail)


def _first_id(rows: list[dict[str, Any]]) -> Any:
    """What tells one page of query rows from another: its first row's ``Id`` (None for an empty page)."""
    return rows[0].get("Id", rows[0]) if rows and isinstance(rows[0], dict) else None


def dumps(body: Any) -> str:
    """A request body: Decimal money as JSON numbers (2 stays 2, 12.50 becomes 12.5)."""
    return jsonutil.dumps(body)


class QuickBooksSession(QuickBooks):
    """python-quickbooks with timeouts, a base URL override, managed tokens and pacing."""

    def __init__(self, *, company_id: str, minorversion: int, api_base: str, tokens: TokenManager,
                 timeout: float, limiters: tuple[RateLimiter, ...], connection: str,
                 batch_limiters: tuple[RateLimiter, ...] = (), **_: Any):
        self.api_url_v3 = self.sandbox_api_url_v3 = api_base.rstrip("/") + "/v3"
        self.session = make_session("connex-quickbooks")
        self.tokens, self.timeout, self.limiters, self.connection = tokens, timeout, limiters, connection
        self.batch_limiters = batch_limiters
        """Pace ``/batch`` calls under Intuit's batch throttles (per app and company; per company)."""
        self.use_decimal = True

    def _pace(self, url: str) -> None:
        """Wait for a turn under every throttle that counts a request to ``url``.

        Called right before each request is sent, after the token is at hand: a turn taken before a
        token refresh would be stamped too early, and the request would land in the next window
        with one too many (Intuit answers that with a minute's 429).
        """
        for limiter in self.limiters:
            limiter.acquire()
        if url.split("?", 1)[0].endswith("/batch"):
            for limiter in self.batch_limiters:
                limiter.acquire()

    def process_request(self, request_type, url, headers="", params="", data=""):
        token = self.tokens.access_token()
        for attempt in (1, 2):
            self._pace(url)
            try:
                response = self.session.request(request_type, url, headers=dict(headers, Authorization=f"Bearer {token}"),
                                                params=params, data=data, timeout=self.timeout)
            except requests.RequestException as exc:
                raise RetriableAPIError(f"QuickBooks did not answer ({type(exc).__name__})", connector="quickbooks") from None
            if response.status_code != 401 or attempt == 2:
                break
            token = self.tokens.refresh(rejected=token)["access_token"]
        if response.status_code == 401:
            raise AuthenticationError(f"QuickBooks refused the access token after a refresh; reconnect with "
                                      f"`connex connect {self.connection}`", connector="quickbooks", status=401)
        if response.status_code == 429 or (response.status_code != 200 and b"ThrottleExceeded" in response.content[:2000]):
            for limiter in (*self.limiters, *self.batch_limiters):
                limiter.block_for(THROTTLE_WAIT)
            raise RetriableAPIError("QuickBooks throttled the request (429 ThrottleExceeded)", connector="quickbooks",
                                    status=429, retry_after=THROTTLE_WAIT)
        if response.status_code >= 500:
            raise RetriableAPIError(f"QuickBooks answered HTTP {response.status_code}", connector="quickbooks",
                                    status=response.status_code)
        return response


class QuickBooksAPI:
    """The calls the connector makes, each retried on retriable failures with waits on the connector's clock."""

    def __init__(self, session: QuickBooksSession, retry: RetryPolicy):
        self.qb, self.retry = session, retry

    @classmethod
    def create(cls, *, realm_id: str, api_base: str, tokens: TokenManager, timeout: float, minorversion: int,
               clock: Any, connection: str, client_id: str = "", batch_per_minute: int = 40,
               company_batch_per_minute: int = 120) -> "QuickBooksAPI":
        def pace(name: Any, limit: int, window: float, margin: float) -> RateLimiter:
            return limiter_for(("quickbooks", realm_id, name, id(clock)),
                               lambda: RateLimiter(limit, window, clock=clock.now, sleep=clock.sleep, margin=margin))

        # Margins: a throttle answer blocks us for THROTTLE_WAIT, so each limit is kept with room for the
        # time a request takes to arrive (a quarter of the one-second window; a second of the minute ones).
        limiters = (pace("minute", 500, 60.0, 1.0), pace("second", 10, 1.0, 0.25))
        session = QuickBooksSession(company_id=realm_id, minorversion=minorversion, api_base=api_base,
                                    tokens=tokens, timeout=timeout, limiters=limiters, connection=connection,
                                    batch_limiters=(pace(f"batch:{client_id}", batch_per_minute, 60.0, 1.0),
                                                    pace("company-batch", company_batch_per_minute, 60.0, 1.0)))
        return cls(session, RetryPolicy(max_tries=5, cap=THROTTLE_WAIT, max_time=600.0, sleep=clock.sleep))

    def _url(self, path: str) -> str:
        return f"{self.qb.api_url}/company/{self.qb.company_id}/{path}"

    def _call(self, fn: Callable[[], Any], what: str, pick: Callable[[dict[str, Any]], T] = lambda a: a) -> T:
        """``fn`` retried; its answer must be a JSON object, from which ``pick`` takes (and checks) what is used."""
        def attempt() -> T:
            try:
                answer = fn()
            except QuickbooksException as exc:
                code = str(exc.error_code)
                if code == "10000":  # not JSON, or a status python-quickbooks does not know
                    raise RetriableAPIError(f"QuickBooks answered something unexpected: {short_body(exc.message, 120)}",
                                            connector="quickbooks") from None
                raise fault_error(code, exc.message, exc.detail or "", self.qb.connection) from None
            except TypeError:  # python-quickbooks looks for "Fault" in a JSON null or number
                answer = None
            if not isinstance(answer, dict):
                raise RetriableAPIError(f"QuickBooks answered its {what} with something that is not the JSON object "
                                        f"it documents ({short_body(str(answer), 120)})", connector="quickbooks")
            return pick(answer)

        return self.retry.call(attempt, f"QuickBooks {what}")

    # -- reading ---------------------------------------------------------------------------------
    def query(self, text: str) -> dict[str, Any]:
        """One query; returns the ``QueryResponse`` object (empty results have no entity key)."""
        return self._call(lambda: self.qb.query(text), "query", lambda a: part(a, "QueryResponse", "query"))

    def query_all(self, select: str, entity: str, page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Every row of ``select`` (no STARTPOSITION/MAXRESULTS in it), page by page; a server that
        answers the same page again (its first row repeats) is a paging loop, not followed."""
        def fetch(start: int) -> list[dict[str, Any]]:
            return records(self.query(f"{select} STARTPOSITION {start} MAXRESULTS {page_size}"), entity, "query")

        paginator = OffsetPaginator(items=lambda rows: rows, page_size=page_size, start=1,
                                    fingerprint=lambda rows: _first_id(rows))
        try:
            for rows in paginator.pages(fetch):
                yield from rows
        except PagingLoopError as exc:
            raise FatalAPIError(f"QuickBooks query of {entity}: {exc}", connector="quickbooks") from None

    def preferences(self) -> dict[str, Any]:
        return self._call(lambda: self.qb.get(self._url("preferences")), "preferences",
                          lambda a: part(a, "Preferences", "preferences"))

    def company_info(self) -> dict[str, Any]:
        realm = self.qb.company_id
        return self._call(lambda: self.qb.get(self._url(f"companyinfo/{realm}")), "company info",
                          lambda a: part(a, "CompanyInfo", "company info"))

    # -- writing ---------------------------------------------------------------------------------
    def batch(self, items: list[dict[str, Any]], request_id: Optional[str]) -> dict[str, dict[str, Any]]:
        """POST one ``/batch`` (at most 30 items); returns each item's answer by ``bId``.

        The ``requestid`` makes a retried batch (a lost answer) replay instead of writing twice.
        """
        if len(items) > BATCH_LIMIT:
            raise ValueError(f"a QuickBooks batch holds at most {BATCH_LIMIT} items")
        body = dumps({"BatchItemRequest": items})
        return self._call(lambda: self.qb.make_request("POST", self._url("batch"), request_body=body,
                                                       request_id=request_id), "batch",
                          lambda a: {str(item.get("bId")): item for item in records(a, "BatchItemResponse", "batch",
                                                                                   required=True)})


def part(answer: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    """The object ``key`` of an answer; missing, or of another type, it is a malformed answer (retriable)."""
    value = answer.get(key)
    if not isinstance(value, dict):
        raise RetriableAPIError(f"QuickBooks answered a {what} without its {key} object "
                                f"({short_body(str(answer), 120)})", connector="quickbooks")
    return value


def records(answer: dict[str, Any], key: str, what: str, required: bool = False) -> list[dict[str, Any]]:
    """The list ``key`` of an answer (absent: none, unless ``required``); another type is a malformed answer (retriable)."""
    value = answer.get(key, None if required else [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RetriableAPIError(f"QuickBooks answered a {what} whose {key} is not a list of records",
                                connector="quickbooks")
    return value


def item_error(answer: dict[str, Any]) -> Optional[Exception]:
    """The error of one batch item's answer (a Fault), or None when it succeeded."""
    fault = answer.get("Fault")
    if not fault:
        return None
    error = (fault.get("Error") or [{}])[0]
    return fault_error(str(error.get("code", "")), error.get("Message", ""), error.get("Detail", ""))
