"""The HTTP side of ``connex serve``: a small Starlette app on uvicorn, hardened for the open internet.

Every request gets an HTTP answer and a log line, never a traceback:

* a body over ``max_body`` bytes is refused with 413 from its ``Content-Length`` before it is read (and while
  it streams, for a chunked one); a malformed or negative ``Content-Length`` is answered 400 by the HTTP
  parser (h11) before Connex sees the request;
* a header that is not ASCII, a signature that does not compare, any error while verifying: 401;
* at most ``concurrency`` requests are handled at once (503 beyond, from uvicorn) and each client address at
  most ``per_client`` requests a minute (429);
* the work behind a webhook is not done while the sender waits: the receiver verifies it and keeps it in the
  durable inbox, and the answer goes out at once (the APIs retry, then disable, slow endpoints).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict, deque
from typing import Any, Callable, Optional

log = logging.getLogger("connex.serve")

#: Bodies bigger than this are refused unread: webhooks from the three APIs are a few kilobytes.
MAX_BODY = 1 << 20


class _ClientLimit:
    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._hits: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        with self._lock:
            hits = self._hits[client]
            while hits and now - hits[0] > 60:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return False
            hits.append(now)
            if len(self._hits) > 10_000:  # forget quiet clients so the table stays small
                for key in [k for k, v in self._hits.items() if not v][:5_000]:
                    del self._hits[key]
            return True


def _json(status: int, body: Any) -> Any:
    from starlette.responses import Response

    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(payload, status_code=status, media_type="application/json")


def _beside(webhooks: Any, console: Any, answered: Callable[[Any], Any]) -> Any:
    async def app(scope, receive, send):
        path = scope.get("path", "")
        if scope["type"] != "http" or path in ("/health", "/webhooks") or path.startswith(("/webhooks/", "/oauth/")):
            await webhooks(scope, receive, send)
        else:
            await console(scope, receive, send)
            answered(None)  # counted like every other answer
    return app


def _page(answer: Any) -> Any:
    """The HTML page of an OAuth callback's :class:`~connex_core.oauth.callback.Answer`. With a ``location`` (the
    console's page) the page moves on there itself: a navigation from this page is same-site, so the console's
    SameSite=Strict session cookie goes with it (after a redirect from the vendor's site it would not)."""
    from html import escape

    from starlette.responses import HTMLResponse

    title, message = escape(answer.title), escape(answer.message)
    head = body = ""
    if answer.location:
        where = escape(answer.location)
        head = f'<meta http-equiv="refresh" content="0;url={where}">'
        body = f'<p><a href="{where}">Back to the console</a></p>'
    return HTMLResponse(f'<!doctype html><html lang="en"><head><meta charset="utf-8">{head}<title>Connex: {title}'
                        f'</title></head><body><main><h1>{title}</h1><p role="status">{message}</p>{body}</main>'
                        f'</body></html>', status_code=answer.status,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


class WebhookHTTP:
    """Serves ``GET /health``, ``POST /webhooks/CONNECTION[/SECRET]`` and ``GET /oauth/CONNECTION/callback`` on a
    uvicorn server in a thread.

    ``receive(connection, secret, headers, body) -> (status, body)`` is called in a worker thread with the
    lower-cased headers and the whole body; ``health() -> dict`` answers ``/health``; ``oauth(connection, query)
    -> Answer`` answers the OAuth callback (:mod:`connex_core.oauth.callback`). ``console``, an ASGI app, answers
    every other path (the web console, :mod:`connex_core.console`).

    ``tenants``: the paths are ``/webhooks/TENANT/CONNECTION[/SECRET]`` and ``receive`` takes the tenant first
    (``connex serve --tenants``, :mod:`connex_core.tenant_hooks`).
    """

    def __init__(self, receive: Callable[[str, Optional[str], dict[str, str], bytes], tuple[int, bytes]],
                 health: Callable[[], dict], *, host: str = "127.0.0.1", port: int = 8787,
                 max_body: int = MAX_BODY, concurrency: int = 64, per_client: int = 600, console: Any = None,
                 oauth: Optional[Callable[[str, dict[str, str]], Any]] = None, tenants: bool = False):
        import uvicorn
        from starlette.applications import Starlette
        from starlette.concurrency import run_in_threadpool
        from starlette.routing import Route

        self.max_body = max_body
        self.counts = {"answered": 0, "too_large": 0, "bad_request": 0, "limited": 0}
        """Requests answered, by kind (tests and ``/health`` read them)."""
        self._answered = threading.Condition()
        limit = _ClientLimit(per_client)

        async def health_view(request):
            return self._done(_json(200, health()))

        async def hook_view(request):
            client = request.client.host if request.client else "?"
            connection = request.path_params["connection"]
            secret = request.path_params.get("secret")
            first = (request.path_params["tenant"],) if tenants else ()
            if not limit.allow(client):
                log.warning("webhook from %s for %s: too many requests", client, connection)
                return self._done(_json(429, {"error": "too many requests"}), "limited")
            declared = request.headers.get("content-length")
            if declared is not None and int(declared) > self.max_body:  # h11 has checked it is a whole number
                log.warning("webhook from %s for %s: body of %s bytes refused unread", client, connection, declared)
                return self._done(_json(413, {"error": "body too large"}), "too_large")
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_body:
                    log.warning("webhook from %s for %s: body over %d bytes refused", client, connection,
                                self.max_body)
                    return self._done(_json(413, {"error": "body too large"}), "too_large")
                chunks.append(chunk)
            headers = {k.lower(): v for k, v in request.headers.items()}
            try:
                status, reply = await run_in_threadpool(receive, *first, connection, secret, headers, b"".join(chunks))
            except Exception:  # the receiver's own bug: still an answer, and the details in the log
                log.exception("webhook for %s could not be received", connection)
                status, reply = 500, b'{"error": "internal error"}'
            return self._done(_json(status, reply or b""))

        async def oauth_view(request):
            client = request.client.host if request.client else "?"
            connection = request.path_params["connection"]
            if not limit.allow(client):
                return self._done(_json(429, {"error": "too many requests"}), "limited")
            if oauth is None:
                return self._done(_json(404, {"error": "not found"}))
            query = {k: v for k, v in request.query_params.items()}  # never logged: it carries the code
            try:
                answer = await run_in_threadpool(oauth, connection, query)
            except Exception:  # the callback's own bug: still an answer, and the details in the log
                log.exception("OAuth callback for %s could not be answered", connection)
                from types import SimpleNamespace

                answer = SimpleNamespace(status=500, title="Not connected", location=None,
                                         message="The sign-in could not be finished; the details are in serve's log.")
            return self._done(_page(answer))

        async def not_found(request, exc=None):
            return self._done(_json(404, {"error": "not found"}))

        async def not_allowed(request, exc=None):
            return self._done(_json(405, {"error": "method not allowed"}))

        async def bad_request(request, exc=None):
            return self._done(_json(400, {"error": "bad request"}), "bad_request")

        hooks = "/webhooks/{tenant}/{connection}" if tenants else "/webhooks/{connection}"
        app = Starlette(routes=[Route("/health", health_view, methods=["GET"]),
                                Route(hooks, hook_view, methods=["POST"]),
                                Route(hooks + "/{secret}", hook_view, methods=["POST"]),
                                Route("/oauth/{connection}/callback", oauth_view, methods=["GET"])],
                        exception_handlers={404: not_found, 405: not_allowed, 400: bad_request,
                                            ValueError: bad_request, UnicodeError: bad_request})
        if console is not None:  # the web console answers every path but the webhooks' and /health
            app = _beside(app, console, self._done)
        self.server = uvicorn.Server(uvicorn.Config(
            app, host=host, port=port, log_level="critical", access_log=False, lifespan="off",
            limit_concurrency=concurrency, timeout_keep_alive=5, h11_max_incomplete_event_size=16 * 1024))
        self._thread: Optional[threading.Thread] = None
        self.host, self.port = host, port

    def _done(self, response: Any, kind: Optional[str] = None) -> Any:
        with self._answered:
            self.counts["answered"] += 1
            if kind:
                self.counts[kind] += 1
            self._answered.notify_all()
        return response

    def wait_answered(self, n: int, timeout: float = 10.0) -> bool:
        """Block until ``n`` requests in all have been answered (tests wait on this, not on a sleep)."""
        with self._answered:
            return self._answered.wait_for(lambda: self.counts["answered"] >= n, timeout)

    def start(self) -> "WebhookHTTP":
        self._thread = threading.Thread(target=self.server.run, name="connex-webhooks", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise OSError(f"the webhook receiver could not listen on {self.host}:{self.port}")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
