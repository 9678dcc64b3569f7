"""The console's Starlette app: pages, htmx fragments, login, sessions and CSRF.

Every page but ``/login`` and ``/static`` needs a session; with no password set every page says how to set one.
Every POST (forms and htmx) carries the session's CSRF token (a form field ``csrf`` or the ``X-CSRF-Token``
header htmx sends from ``hx-headers``) and is refused (403) without it.
"""

from __future__ import annotations

import hmac
import inspect
import secrets
from pathlib import Path
from typing import Any, Callable, Optional

from . import actions, data, rules_editor, settings, signin
from .health import Health
from .auth import ConsoleSecrets, LoginLimit, secrets_path
from .runner import ThreadRunner, last_run_id, progress

HERE = Path(__file__).parent
SESSION_COOKIE = "connex_console"
SESSION_HOURS = 8


class Console:
    """The console of one config: ``app`` is the ASGI app to mount at ``/``."""

    def __init__(self, config, manager, store, *, run: Optional[Callable[..., bool]] = None,
                 next_due: Optional[Callable[[], dict[str, float]]] = None,
                 connector_options: Optional[dict[str, Any]] = None, login_limit: Optional[LoginLimit] = None,
                 on_tasks: Optional[Callable[[], None]] = None):
        self.config, self.manager, self.store = config, manager, store
        self.connector_options = dict(connector_options or {})
        self.recent = rules_editor.RecentOrders()
        self._recent_name = manager.register(self.recent, name=f"connex-console-recent-{id(self)}")  # "Try it"
        self.secrets = ConsoleSecrets(secrets_path(config.path))
        self.runner = ThreadRunner(config, manager, store, connector_options) if run is None else None
        self.run = run or self.runner
        self.next_due = next_due or (lambda: {})
        self.limit = login_limit or LoginLimit()
        self.on_tasks = on_tasks or (lambda: None)
        self.health = Health(config, manager, connector_options)
        self.app = self._build()

    # -- helpers ---------------------------------------------------------------------------------
    def _page(self, request, template: str, status: int = 200, **context):
        context.setdefault("csrf", request.session.get("csrf", "") if "session" in request.scope else "")
        context.setdefault("nav", template.split(".")[0])
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    @staticmethod
    def _csrf(request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = secrets.token_urlsafe(32)
        return token

    async def _form(self, request):
        """The POSTed form, once its CSRF token matched the session's; None otherwise."""
        form = await request.form()
        sent = request.headers.get("x-csrf-token") or form.get("csrf") or ""
        expected = request.session.get("csrf") or ""
        if not expected or not hmac.compare_digest(str(sent), expected):
            return None
        return form

    def close(self) -> None:
        """Stop keeping the orders runs read (the hook leaves the plugin manager)."""
        if self._recent_name:
            self.manager.unregister(self._recent_name)
            self._recent_name = ""
        self.health.close()

    def tasks_saved(self, config, task: str) -> None:
        """The task's settings form was saved: the running config takes the task's new settings (the same
        object the server runs from), then the server reschedules (``on_tasks``)."""
        self.config.tasks[task] = config.tasks[task]
        self.on_tasks()

    def test_connection(self, name: str) -> tuple[bool, str]:
        """One cheap authenticated call through the connection's connector (its ``check``)."""
        from ..engine import SyncEngine
        from ..errors import ConnexError

        engine = SyncEngine(self.config, self.manager, self.store, connector_options=self.connector_options)
        try:
            return True, engine.connector(name).check()
        except ConnexError as exc:  # the connectors' messages name no secret
            return False, str(exc)
        except Exception as exc:  # a bug or a network error: its kind only, the details in the log
            import logging

            logging.getLogger("connex.console").warning("testing %s failed", name, exc_info=True)
            return False, f"the check failed ({type(exc).__name__})"
        finally:
            engine.close()

    # -- the app ---------------------------------------------------------------------------------
    def _build(self):
        from starlette.applications import Starlette
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import HTMLResponse, RedirectResponse, Response
        from starlette.routing import Mount, Route
        from starlette.staticfiles import StaticFiles
        from starlette.templating import Jinja2Templates

        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        console = self

        def guard(view):
            """No password: the how-to page. No session: the login page. Otherwise the view."""
            async def wrapped(request):
                if not console.secrets.password_set:
                    return console._page(request, "nopassword.html", 503, config=str(console.config.path or "F"))
                if not request.session.get("user"):
                    if request.headers.get("hx-request"):
                        return Response(status_code=401, headers={"HX-Redirect": "/login"})
                    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
                console._csrf(request)
                if request.method == "POST":
                    form = await console._form(request)
                    if form is None:
                        return HTMLResponse("refused: the form's security token is missing or stale; reload the page",
                                            status_code=403)
                    request.state.form = form
                if inspect.iscoroutinefunction(view):
                    return await view(request)
                # pages read the state store and render: in a worker thread, so the event loop (which also
                # answers the webhooks) never waits on them
                return await run_in_threadpool(view, request)
            return wrapped

        async def login(request):
            if not console.secrets.password_set:
                return console._page(request, "nopassword.html", 503, config=str(console.config.path or "F"))
            console._csrf(request)
            target = request.query_params.get("next", "/")
            target = target if target.startswith("/") and not target.startswith("//") else "/"
            if request.method == "GET":
                return console._page(request, "login.html", next=target)
            client = request.client.host if request.client else "?"
            form = await console._form(request)
            if form is None:
                return console._page(request, "login.html", 403, next=target,
                                     error="The form expired; try again.")
            if not console.limit.allowed(client):
                return console._page(request, "login.html", 429, next=target,
                                     error="Too many failed attempts; wait a few minutes.")
            if not await run_in_threadpool(console.secrets.check, str(form.get("password", ""))):  # scrypt: ~50 ms
                console.limit.failed(client)
                return console._page(request, "login.html", 401, next=target, error="Wrong password.")
            console.limit.succeeded(client)
            request.session.clear()
            request.session["user"] = "admin"
            request.session["csrf"] = secrets.token_urlsafe(32)  # a new token after login
            return RedirectResponse(target, status_code=303)

        async def logout(request):
            request.session.clear()
            return RedirectResponse("/login", status_code=303)

        def dashboard(request):
            connections, health = data.connections(console.config, console.manager), console.health.of()
            last_good = data.last_good(console.config, console.store)
            for c in connections:
                c["health"], c["last_good"] = health.get(c["name"]), last_good.get(c["name"])
            return console._page(request, "dashboard.html", tasks=data.tasks(console.config, console.store,
                                                                             console.next_due()),
                                 connections=connections, signs_in=signin.signs_in(console.config, console.manager))

        def log_view(request):
            q = request.query_params
            before = q.get("before")
            page = data.log_page(console.store, task=q.get("task", ""), outcome=q.get("outcome", ""),
                                 order=q.get("order", ""), since=q.get("since", ""), until=q.get("until", ""),
                                 before=int(before) if before and before.isdigit() else None)
            filters = {k: q.get(k, "") for k in ("task", "outcome", "order", "since", "until")}
            return console._page(request, "log.html", page=page, filters=filters, tasks=list(console.config.tasks),
                                 outcomes=("created", "updated", "duplicate", "skipped", "held", "failed",
                                           "would_create", "resynced"))

        def order_view(request):
            number = request.path_params["number"]
            return console._page(request, "order.html", nav="log",
                                 order=data.order_history(console.config, console.store, number,
                                                          request.query_params.get("task", "")))

        def runs_view(request):
            days = data.per_day(console.store)
            return console._page(request, "runs.html", runs=data.runs_history(console.store),
                                 chart=data.chart_svg(days), legend=data.CHART_OUTCOMES)

        def review_view(request):
            return console._page(request, "review.html", queue=data.review_queue(console.config, console.store))

        def run_now(request):
            task = request.path_params["task"]
            if task not in console.config.tasks:
                return HTMLResponse("no such task", status_code=404)
            after = last_run_id(console.store, task)
            console.run(task, "console")
            return console._page(request, "_progress.html", task=task, after=after,
                                 p={"state": "queued", "error": None})

        def run_progress(request):
            task = request.path_params["task"]
            if task not in console.config.tasks:
                return HTMLResponse("no such task", status_code=404)
            after = int(request.query_params.get("after", "0") or 0)
            errors = console.runner.errors if console.runner else {}
            return console._page(request, "_progress.html", task=task, after=after,
                                 p=progress(console.store, task, after, errors))

        def connection_test(request):
            name = request.path_params["name"]
            if name not in console.config.connections:
                return HTMLResponse("no such connection", status_code=404)
            ok, message = console.test_connection(name)
            return console._page(request, "_checked.html", ok=ok, message=message)

        def _rule_target(request):
            task = request.path_params["task"]
            index = int(request.path_params["index"])
            if task not in console.config.tasks:
                raise rules_editor.RuleFileError(f"no task named {task!r}")
            return task, rules_editor.rule_file(console.config, task, index)

        def rules_view(request):
            files = {name: [str(p.relative_to(console.config.folder)) if p.is_relative_to(console.config.folder)
                            else str(p) for p in rules_editor.rule_files(console.config, name)]
                     for name in console.config.tasks}
            return console._page(request, "rules.html", files=files)

        def rule_edit(request):
            try:
                task, path = _rule_target(request)
            except rules_editor.RuleFileError as exc:
                return HTMLResponse(str(exc), status_code=404)
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            return console._page(request, "rule_edit.html", nav="rules", task=task,
                                 index=request.path_params["index"], path=path.name, text=text,
                                 result=rules_editor.check(text, path.name, console.manager))

        def rule_check(request):
            try:
                _, path = _rule_target(request)
            except rules_editor.RuleFileError as exc:
                return HTMLResponse(str(exc), status_code=404)
            text = str(request.state.form.get("text", ""))
            return console._page(request, "_diagnostics.html", oob=True,  # also clears a stale "saved" note
                                 result=rules_editor.check(text, path.name, console.manager))

        def rule_try(request):
            try:
                task, path = _rule_target(request)
            except rules_editor.RuleFileError as exc:
                return HTMLResponse(str(exc), status_code=404)
            text = str(request.state.form.get("text", ""))
            orders = rules_editor.saved_orders(console.store, task, recent=console.recent)
            return console._page(request, "_try.html", tried=rules_editor.try_rules(text, path.name, orders,
                                                                                   console.manager))

        def rule_save(request):
            try:
                _, path = _rule_target(request)
            except rules_editor.RuleFileError as exc:
                return HTMLResponse(str(exc), status_code=404)
            text = str(request.state.form.get("text", ""))
            result = rules_editor.save(path, text, console.manager)
            # 200 either way: htmx swaps in only successful answers, and the refusal is the message
            return console._page(request, "_saved.html", result=result, path=path.name)

        routes = [
            Route("/login", login, methods=["GET", "POST"]),
            Route("/logout", guard(logout), methods=["POST"]),
            Route("/", guard(dashboard)),
            Route("/log", guard(log_view)),
            Route("/orders/{number}", guard(order_view)),
            Route("/runs", guard(runs_view)),
            Route("/review", guard(review_view)),
            Route("/tasks/{task}/run", guard(run_now), methods=["POST"]),
            Route("/tasks/{task}/progress", guard(run_progress)),
            Route("/connections/{name}/test", guard(connection_test), methods=["POST"]),
            Route("/connections/{name}/connect", guard(lambda r: signin.start(console, r)), methods=["POST"]),
            Route("/connections/{name}/signed-in", guard(lambda r: signin.signed_in(console, r))),
            Route("/rules", guard(rules_view)),
            Route("/rules/{task}/{index:int}", guard(rule_edit)),
            Route("/rules/{task}/{index:int}/check", guard(rule_check), methods=["POST"]),
            Route("/rules/{task}/{index:int}/try", guard(rule_try), methods=["POST"]),
            Route("/rules/{task}/{index:int}/save", guard(rule_save), methods=["POST"]),
            *actions.routes(console, guard),
            *settings.routes(console, guard),
            Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
        ]
        key = self.secrets.session_key() if self.secrets.password_set else secrets.token_hex(32)
        return _Rekeying(self, Starlette(routes=routes), key)


class _Rekeying:
    """The session middleware around the routes, rebuilt with the stored key once a password is set (the key is
    made by ``connex console set-password``, possibly while the server runs)."""

    def __init__(self, console: Console, routes_app, key: str):
        self.console, self.routes_app = console, routes_app
        self._key = None
        self._wrap(key)

    def _wrap(self, key: str) -> None:
        from starlette.middleware.sessions import SessionMiddleware

        if key != self._key:
            self._key = key
            self.inner = SessionMiddleware(self.routes_app, secret_key=key, session_cookie=SESSION_COOKIE,
                                           max_age=SESSION_HOURS * 3600, same_site="strict", https_only=False)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.console.secrets.password_set:
            self._wrap(self.console.secrets.session_key())
        await self.inner(scope, receive, send)


def build_console(config, manager, store, **kwargs) -> Console:
    return Console(config, manager, store, **kwargs)
