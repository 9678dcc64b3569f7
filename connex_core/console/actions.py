"""The review queue's buttons: release, ignore and resync a held or failed order.

Each calls the code the command line calls (:func:`connex_core.sync.review.decide` for ``connex held release``
and ``connex held ignore``, :func:`connex_core.sync.resync.resync_orders` for ``connex resync``); the console
adds nothing of its own but the way the answer is shown. "Release and post now" releases the order, then queues a
run of its task with the ledger's copy of it, as ``connex held release --now`` runs it.
"""

from __future__ import annotations

import logging
from typing import Any

from ..errors import ConnexError
from ..models import Order
from ..state import LedgerState
from ..state.lease import TaskBusy, holder_name
from ..sync.resync import resync_orders
from ..sync.review import decide, order_number

log = logging.getLogger("connex.console")


def _answer(ok: bool, message: str) -> dict[str, Any]:
    return {"ok": ok, "message": message}


def release(console, task: str, order: str, reason: str, now: bool) -> dict[str, Any]:
    try:
        entry = decide(console.store, task, order, LedgerState.RELEASED, reason or "released in the console")
    except ConnexError as exc:
        return _answer(False, str(exc))
    number = order_number(entry) or order
    if not entry.snapshot:
        return _answer(False, f"order {number} has no saved copy to post; run the task over its date "
                              "(connex run --since DATE) to read it again")
    if not now:
        return _answer(True, f"{number} released: the next run posts it")
    console.run(task, "console release", orders=[Order.model_validate_json(entry.snapshot)])
    return _answer(True, f"{number} released and queued: a run of {task} posts it now (see the log)")


def ignore(console, task: str, order: str, reason: str) -> dict[str, Any]:
    if not reason.strip():
        return _answer(False, "say why it is never to be posted (the reason is kept in the log)")
    try:
        entry = decide(console.store, task, order, LedgerState.IGNORED, reason.strip())
    except ConnexError as exc:
        return _answer(False, str(exc))
    return _answer(True, f"{order_number(entry) or order} ignored: it will not be posted")


def resync(console, task: str, order: str) -> dict[str, Any]:
    """``connex resync`` of one order, in this request (a connector of its own, under the task's lease)."""
    from ..engine import SyncEngine

    engine = SyncEngine(console.config, console.manager, console.store, connector_options=console.connector_options)
    try:
        [result] = resync_orders(engine, task, [order], holder_name("connex console"))
    except TaskBusy:
        return _answer(False, f"{task} is running now; resync when its run has finished")
    except ConnexError as exc:
        return _answer(False, str(exc))
    except Exception as exc:  # a bug or a network error: its kind only, the details in the log
        log.warning("resync of %s in %s failed", order, task, exc_info=True)
        return _answer(False, f"the resync failed ({type(exc).__name__})")
    finally:
        engine.close()
    return _answer(result.ok, f"{result.order} {result.action}: {result.message}")


def routes(console, guard) -> list:
    """``POST /review/release|ignore|resync`` (fields ``task``, ``order``, ``reason``; ``now`` to post at once)."""
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    def act(what: str):
        def view(request):
            form = request.state.form
            task, order = str(form.get("task", "")), str(form.get("order", "")).strip()
            if task not in console.config.tasks:
                return HTMLResponse("no such task", status_code=404)
            reason = str(form.get("reason", ""))
            if what == "release":
                answer = release(console, task, order, reason, now=bool(form.get("now")))
            elif what == "ignore":
                answer = ignore(console, task, order, reason)
            else:
                answer = resync(console, task, order)
            # 200 either way: htmx swaps in only successful answers, and a refusal is the message
            return console._page(request, "_acted.html", answer=answer)
        return view

    return [Route(f"/review/{what}", guard(act(what)), methods=["POST"]) for what in ("release", "ignore", "resync")]
