"""The console's pages over HTTP against a running ``connex serve``: what each shows comes from real runs."""

from __future__ import annotations

import re
import time

from connex_core.state import LogEntry
from connex_core.state.sqlite import SQLiteStore
from tests.support.memory_plugin import api

from .conftest import RULES


def wait_finished(client, url: str, after: int, timeout: float = 30.0) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        page = client.get(f"{url}/tasks/orders/progress?after={after}", timeout=10).text
        if "Finished" in page:
            return page
        time.sleep(0.1)
    raise AssertionError("the run did not finish")


def test_dashboard_shows_each_task_with_its_last_run_and_next_run(client, served):
    page = client.get(f"{served.url}/", timeout=10).text
    first = served.runs[0]
    assert f">#{first.run_id}<" in page
    assert "created 4" in page and "held 1" in page and "read 5" in page
    assert "every 600 min" in page and "next run" in page
    assert "<h3>dst <small>memory</small></h3>" in page
    assert '<dt>token</dt><dd><span class="secret not-set">not set</span>' in page  # dst has none


def test_run_now_queues_a_run_and_its_progress_ends_with_the_counts(client, served):
    first = served.runs[0].run_id
    r = client.post(f"{served.url}/tasks/orders/run", timeout=10)
    assert r.status_code == 200 and 'hx-get="/tasks/orders/progress?after=%d"' % first in r.text
    page = wait_finished(client, served.url, first)
    assert f"run #{first + 1}" in page and "hx-get" not in page  # finished: polling stops
    end = time.monotonic() + 10
    while len(served.runs) < 2 and time.monotonic() < end:  # the server records it just after the store does
        time.sleep(0.05)
    assert [r.run_id for r in served.runs] == [first, first + 1]  # run by the server's own worker
    assert client.post(f"{served.url}/tasks/nope/run", timeout=10).status_code == 404


def test_the_log_filters_and_opens_an_order_with_its_diff(client, served):
    page = client.get(f"{served.url}/log?outcome=held", timeout=10).text
    rows = re.findall(r'<a href="/orders/(\d+)\?task=orders">', page)
    assert rows == ["1003"]
    assert "checked by hand" in page and "checked by hand, line 5" in page
    page = client.get(f"{served.url}/log?order=1002", timeout=10).text
    assert re.findall(r'<a href="/orders/(\d+)\?task=orders">', page) == ["1002"]
    order = client.get(f"{served.url}/orders/1002?task=orders", timeout=10).text
    assert "<code>class_name</code>" in order and '<td class="after">WEB</td>' in order
    assert "web class, line 2" in order
    assert "document <strong class=\"doc\">" in order and "done" in order
    held = client.get(f"{served.url}/orders/1003", timeout=10).text
    assert "checked by hand" in held and "rule <code>checked by hand, line 5</code> in orders.rules" in held
    assert "not in the log" in client.get(f"{served.url}/orders/999999", timeout=10).text


def test_log_paging_is_keyset_and_fast_over_tens_of_thousands_of_lines(client, served, console_config):
    store = SQLiteStore(console_config.parent / "connex.db")
    try:
        batch = [LogEntry(task="orders", source_key=f"k{i}", outcome="held" if i % 10 == 0 else "created",
                          order_number=str(50000 + i), run_id=99) for i in range(30_000)]
        store.log(batch)
    finally:
        store.close()
    seen: list[str] = []
    url = f"{served.url}/log?task=orders"
    timings = []
    for _ in range(3):
        t0 = time.perf_counter()
        page = client.get(url, timeout=10).text
        timings.append(time.perf_counter() - t0)
        numbers = re.findall(r'<a href="/orders/(\d+)\?task=orders">', page)
        assert len(numbers) == 50
        seen.extend(numbers)
        url = served.url + re.search(r'href="(/log\?[^"]+)">Older lines', page).group(1).replace("&amp;", "&")
    assert seen == [str(50000 + i) for i in range(29_999, 29_849, -1)]  # newest first, no gap, no repeat
    # a page deep in the log (before a small id) with a filter is as quick as the first one
    t0 = time.perf_counter()
    page = client.get(f"{served.url}/log?task=orders&outcome=held&before=2000", timeout=10).text
    deep = time.perf_counter() - t0
    deep_numbers = re.findall(r'<a href="/orders/(\d+)\?task=orders">', page)
    assert len(deep_numbers) == 50 and all(int(n) % 10 == 0 for n in deep_numbers)  # held ones only
    assert int(deep_numbers[0]) < 50000 + 2000  # older than the id it was paged before
    assert max(timings + [deep]) < 2.0, (timings, deep)


def test_the_runs_page_draws_orders_per_day_by_outcome(client, served):
    page = client.get(f"{served.url}/runs", timeout=10).text
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert f"<title>{today}: 4 created</title>" in page and f"<title>{today}: 1 held</title>" in page
    assert page.count("<rect") == 2  # one day with runs, two outcomes
    assert f"#{served.runs[0].run_id}" in page


def test_the_review_queue_lists_held_orders_with_reason_rule_and_line(client, served):
    page = client.get(f"{served.url}/review", timeout=10).text
    assert re.findall(r'<a href="/orders/(\d+)\?task=orders">', page) == ["1003"]
    assert "checked by hand <small>(checked by hand, line 5)</small>" in page


def test_the_rule_editor_checks_tries_and_saves(client, served, console_config):
    path = console_config.parent / "rules" / "orders.rules"
    page = client.get(f"{served.url}/rules/orders/0", timeout=10).text
    assert "Checks clean" in page and "web class" in page
    broken = RULES.replace("set class = 'WEB'", "set clas = 'WEB'")
    r = client.post(f"{served.url}/rules/orders/0/check", data={"text": broken}, timeout=10)
    assert r.status_code == 200 and "1 error(s)" in r.text
    assert re.search(r'data-line="3" data-column="\d+">Line 3, column \d+: error: .*clas', r.text)
    r = client.post(f"{served.url}/rules/orders/0/save", data={"text": broken}, timeout=10)
    assert r.status_code == 200 and "Not saved" in r.text and path.read_text() == RULES
    tried = client.post(f"{served.url}/rules/orders/0/try", data={"text": RULES.replace("'1003'", "'9'")}, timeout=10)
    # the five orders the first run read (each once, newest first), 1003 no longer held by the edited text
    assert re.findall(r"<h3>Order (\d+):", tried.text) == ["1005", "1004", "1003", "1002", "1001"]
    assert tried.text.count('<span class="pill sync">sync</span>') == 5
    assert tried.text.count('<td class="after">WEB</td>') == 5
    held = client.post(f"{served.url}/rules/orders/0/try", data={"text": RULES}, timeout=10).text
    assert re.search(r"<h3>Order 1003: <span class=\"pill hold\">hold</span> — checked by hand", held)
    fixed = RULES.replace("'WEB'", "'SHOP'")
    r = client.post(f"{served.url}/rules/orders/0/save", data={"text": fixed}, timeout=10)
    assert "Saved orders.rules" in r.text
    assert path.read_text() == fixed and (path.parent / "orders.rules.bak").read_text() == RULES
    assert client.get(f"{served.url}/rules/orders/7", timeout=10).status_code == 404
    assert client.get(f"{served.url}/rules", timeout=10).text.count('href="/rules/orders/0"') == 1


def test_the_test_button_makes_the_connectors_check_call(client, served):
    r = client.post(f"{served.url}/connections/src/test", timeout=10)
    assert r.status_code == 200 and '<span class="ok">' in r.text and "memory space src: 5 orders" in r.text
    api("src").revoked = True
    r = client.post(f"{served.url}/connections/src/test", timeout=10)
    assert '<span class="error">' in r.text and "refused the token" in r.text
    assert "tok-src-very-secret" not in r.text
    assert client.post(f"{served.url}/connections/nope/test", timeout=10).status_code == 404
    assert 'hx-post="/connections/dst/test"' in client.get(f"{served.url}/", timeout=10).text


def test_try_it_after_a_restart_uses_the_orders_the_ledger_keeps(served):
    from connex_core.console.rules_editor import RecentOrders, saved_orders

    fresh = RecentOrders()  # a console in a new process has seen no run yet
    assert [o.number for o in saved_orders(served.store, "orders", recent=fresh)] == ["1003"]  # the held one
    recent = served.console.recent
    assert [o.number for o in saved_orders(served.store, "orders", recent=recent, limit=3)] == ["1005", "1004", "1003"]


def test_stopping_the_server_takes_the_consoles_hook_out(manager, console_config):
    from connex_core.config import load_config
    from connex_core.serve import Server

    server = Server(load_config(console_config), manager, port=0)
    name = server.console._recent_name
    assert manager.pm.get_plugin(name) is server.console.recent
    server.start()
    server.stop()
    assert manager.pm.get_plugin(name) is None
