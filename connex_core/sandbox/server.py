"""The loopback HTTP server that serves simulated services, each mounted at ``/<name>``."""

from __future__ import annotations

import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

from .service import Request, SimulatedService, json_response


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: without this, ~40 ms per request
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the tests read stderr
        return

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        segments = parts.path.split("/", 2)
        name = segments[1] if len(segments) > 1 else ""
        service = self.server.services.get(name.lower())
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if service is None:
            response = json_response({"message": f"no simulated service at /{name}"}, 404)
        else:
            request = Request(
                method=self.command,
                path="/" + (segments[2] if len(segments) > 2 else ""),
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            response = service.handle(request)
        if response.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, services):
        self.services = services
        super().__init__(addr, _Handler)

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up (a test's timeout, a dropped connection) is normal here; anything else is printed."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class SandboxServer:
    """Serves simulated services on loopback, each at ``http://127.0.0.1:PORT/<name>``.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, services: list[SimulatedService] | dict[str, SimulatedService], port: int = 0,
                 host: str = "127.0.0.1"):
        if isinstance(services, dict):
            self.services = {k.lower(): v for k, v in services.items()}
        else:
            self.services = {s.name.lower(): s for s in services}
        if not host.startswith("127.") and host not in ("localhost", "::1"):
            raise ValueError("the sandbox serves on loopback only")
        self._server = _Server((host, port), self.services)
        self.host, self.port = self._server.server_address[:2]
        for name, service in self.services.items():
            service.base_url = self.url(name)
        self._thread: Optional[threading.Thread] = None

    def url(self, name: str) -> str:
        return f"http://{self.host}:{self.port}/{name}"

    def start(self) -> "SandboxServer":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="connex-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def describe(self) -> dict[str, Any]:
        """Per service: base URL and the credentials a client needs (``connex sandbox --json``), by mount name
        with ``-`` written ``_`` (``/shipstation-v2`` is ``shipstation_v2``)."""
        return {name.replace("-", "_"): service.client_config() for name, service in self.services.items()}
