"""The review queue's buttons and a task's settings form, over HTTP against a running ``connex serve``: each
checked in the ledger, the log, the target and the config file, not in the page alone."""

from __future__ import annotations

import html
import re
import time

import pytest
from typer.testing import CliRunner

from connex_core.cli import app
from connex_core.config import load_config
from connex_core.serve import Server
from connex_core.state import LedgerState, LogQuery
from tests.support.memory_plugin import api, seed

from .conftest import login


def held_key(served, number: str = "1003") -> str:
    [line] = served.store.query_log(LogQuery(task="orders", order_number=number, outcome="held"))
    return line.source_key


def ledger_state(served, key: str) -> str:
    return str(served.store.ledger_get("orders", [key])[key].state)


def wait_for(what, timeout: float = 30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = what()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_release_marks_it_and_the_next_run_posts_it_once(client, served):
    key = held_key(served)
    r = client.post(f"{served.url}/review/release", data={"task": "orders", "order": key, "reason": "checked"},
                    timeout=10)
    assert r.status_code == 200 and "1003 released: the next run posts it" in r.text
    assert ledger_state(served, key) == LedgerState.RELEASED
    [line] = served.store.query_log(LogQuery(task="orders", order_number="1003", outcome="released"))
    assert line.reason == "checked" and "checked by hand" in line.message
    assert "1003" not in api("dst").numbers()
    client.post(f"{served.url}/tasks/orders/run", timeout=10)
    wait_for(lambda: ledger_state(served, key) == LedgerState.DONE)
    assert api("dst").numbers().count("1003") == 1
    assert "Nothing held or failed." in client.get(f"{served.url}/review", timeout=10).text


def test_release_and_post_now_runs_the_task_on_that_order(client, served):
    key = held_key(served)
    r = client.post(f"{served.url}/review/release", data={"task": "orders", "order": "1003", "now": "1"}, timeout=10)
    assert "1003 released and queued" in r.text
    wait_for(lambda: ledger_state(served, key) == LedgerState.DONE)
    doc = served.store.ledger_get("orders", [key])[key]
    assert api("dst").documents[doc.target_id]["number"] == "1003"
    assert api("dst").numbers().count("1003") == 1


def test_ignore_needs_a_reason_and_later_runs_skip_the_order(client, served):
    key = held_key(served)
    r = client.post(f"{served.url}/review/ignore", data={"task": "orders", "order": key, "reason": " "}, timeout=10)
    assert "say why" in r.text and ledger_state(served, key) == LedgerState.HELD
    r = client.post(f"{served.url}/review/ignore", data={"task": "orders", "order": key, "reason": "a test order"},
                    timeout=10)
    assert "1003 ignored: it will not be posted" in r.text and ledger_state(served, key) == LedgerState.IGNORED
    again = client.post(f"{served.url}/review/ignore", data={"task": "orders", "order": key, "reason": "x"}, timeout=10)
    assert "is not held or failed in task 'orders'" in html.unescape(again.text)
    before = served.runs[-1].run_id
    client.post(f"{served.url}/tasks/orders/run", timeout=10)
    wait_for(lambda: served.runs[-1].run_id > before)
    assert "1003" not in api("dst").numbers() and ledger_state(served, key) == LedgerState.IGNORED
    assert "Nothing held or failed." in client.get(f"{served.url}/review", timeout=10).text


def test_resync_runs_connex_resync_on_the_order(client, served, console_config):
    r = client.post(f"{served.url}/review/resync", data={"task": "orders", "order": "1003"}, timeout=10)
    assert "1003 not-posted: the rules hold it now: checked by hand" in r.text
    assert "1003" not in api("dst").numbers()
    rules = console_config.parent / "rules" / "orders.rules"
    rules.write_text(rules.read_text().replace("'1003'", "'nothing'"))
    r = client.post(f"{served.url}/review/resync", data={"task": "orders", "order": "1003"}, timeout=10)
    assert "1003 gone-reposted: not in memory; posted again as 1003" in r.text
    assert api("dst").numbers().count("1003") == 1
    assert served.store.runs("orders", limit=1)[0]["summary"]  # recorded as a run, like `connex resync`


def test_the_buttons_need_the_csrf_token(client, served):
    key = held_key(served)
    token = client.headers.pop("X-CSRF-Token")
    for what in ("release", "ignore", "resync"):
        r = client.post(f"{served.url}/review/{what}", data={"task": "orders", "order": key, "reason": "r"}, timeout=10)
        assert r.status_code == 403
    assert ledger_state(served, key) == LedgerState.HELD
    client.headers["X-CSRF-Token"] = token
    assert client.post(f"{served.url}/review/release", data={"task": "nope", "order": key}, timeout=10).status_code == 404


def test_the_review_page_has_the_buttons_with_confirmations(client, served):
    page = client.get(f"{served.url}/review", timeout=10).text
    assert 'hx-post="/review/release"' in page and 'hx-confirm="Never post order 1003?' in page
    assert 'hx-confirm="Read order 1003 again' in page


# -- the settings form -------------------------------------------------------------------------------------------

def form_page(client, served, task: str = "orders") -> str:
    r = client.get(f"{served.url}/tasks/{task}", timeout=10)
    assert r.status_code == 200
    return r.text


def seen_of(page: str) -> str:
    return re.search(r'name="seen" value="([0-9a-f]+)"', page).group(1)


def config_check(path) -> list[str]:
    result = CliRunner().invoke(app, ["config", "check", "--config", str(path)])
    return [line for line in result.output.splitlines() if ": tasks." in line]


def test_the_form_is_made_from_the_typed_models(client, served):
    page = form_page(client, served)
    assert '<label for="f-every_minutes">every_minutes</label>' in page and 'value="600"' in page
    assert re.search(r'<select id="f-enabled" name="enabled".*?<option value="true">true</option>', page, re.S)
    assert '<option value="book">book</option>' in page  # cancelled_orders: a Literal
    assert "summary_prefix" not in page  # a daily_summary key: not for an orders task
    assert 'name="source_options.status"' in page and "Read only orders in this status." in page
    assert "Source options (src: memory)" in page


def test_a_bad_option_is_refused_with_config_checks_message_and_the_file_is_unchanged(client, served, console_config):
    before = console_config.read_bytes()
    page = form_page(client, served)
    r = client.post(f"{served.url}/tasks/orders/settings", data={"every_minutes": "0", "seen": seen_of(page)},
                    timeout=10)
    assert r.status_code == 422 and "Not saved" in r.text
    assert console_config.read_bytes() == before and not console_config.with_name("connex.toml.bak").exists()
    # the message `connex config check` gives for a file with that value
    bad = console_config.with_name("bad.toml")
    bad.write_text(before.decode().replace("every_minutes = 600", "every_minutes = 0"))
    [expected] = config_check(bad)
    assert expected.replace(str(bad), str(console_config)).split(": ", 1)[1] in r.text
    assert "tasks.orders.every_minutes: Input should be greater than 0" in r.text
    assert served.config.tasks["orders"].every_minutes == 600
    r = client.post(f"{served.url}/tasks/orders/settings", data={"every_minutes": "soon", "seen": seen_of(page)},
                    timeout=10)
    assert r.status_code == 422 and "Input should be a valid number" in r.text and 'value="soon"' in r.text


def test_a_good_option_is_saved_keeping_comments_and_layout(client, served, console_config):
    before = console_config.read_text()
    page = form_page(client, served)
    r = client.post(f"{served.url}/tasks/orders/settings",
                    data={"every_minutes": "30", "source_options.status": "paid", "on_update": "hold",
                          "initial_days": "30", "seen": seen_of(page)}, timeout=10)
    assert r.status_code == 200 and "Saved" in r.text
    after = console_config.read_text()
    assert "every_minutes = 30   # ten hours: only the first run and Run now happen in a test" in after
    assert "# The console tests' config: its comments must survive the settings form." in after
    changed = [line for line in after.splitlines() if line not in before.splitlines()]
    assert sorted(changed) == sorted(["every_minutes = 30   # ten hours: only the first run and Run now happen in a test",
                                      'on_update = "hold"', 'source_options = {status = "paid"}'])
    assert console_config.with_name("connex.toml.bak").read_text() == before
    assert config_check(console_config) == []
    task = load_config(console_config).tasks["orders"]
    assert (task.every_minutes, task.on_update, task.source_options) == (30, "hold", {"status": "paid"})
    assert served.config.tasks["orders"].every_minutes == 30  # the running server took it
    assert "every 30 min" in client.get(f"{served.url}/", timeout=10).text
    # emptied: back to the default, the key taken out
    page = form_page(client, served)
    client.post(f"{served.url}/tasks/orders/settings", data={"on_update": "", "seen": seen_of(page)}, timeout=10)
    assert "on_update" not in console_config.read_text()


def test_a_file_changed_since_the_page_was_loaded_is_not_overwritten(client, served, console_config):
    page = form_page(client, served)
    console_config.write_text(console_config.read_text() + "\n# edited by hand meanwhile\n")
    edited = console_config.read_text()
    r = client.post(f"{served.url}/tasks/orders/settings", data={"every_minutes": "30", "seen": seen_of(page)},
                    timeout=10)
    assert r.status_code == 422 and "changed since this page was loaded" in r.text
    assert console_config.read_text() == edited


@pytest.fixture
def two_tasks(manager, write_config, with_password):
    path = write_config("""
        [connections.src]
        type = "memory"
        space = "src"

        [connections.dst]
        type = "memory"
        space = "dst"

        [connections.other]
        type = "memory"
        space = "other"

        [tasks.orders]
        source = "src"
        target = "dst"
        every_minutes = 0.005   # every 0.3 s

        [tasks.tick]
        source = "src"
        target = "other"
        every_minutes = 0.005
    """)
    seed("src", 2)
    server = Server(load_config(path), manager, port=0, tick=0.05).start()
    try:
        wait_for(lambda: {r.task for r in server.runs} == {"orders", "tick"})
        yield server, path
    finally:
        server.stop()


def count_runs(server, task: str) -> int:
    return sum(1 for r in server.runs if r.task == task)


def test_a_disabled_task_leaves_the_schedule(two_tasks):
    server, path = two_tasks
    client = login(server.url)
    page = form_page(client, server)
    r = client.post(f"{server.url}/tasks/orders/settings", data={"enabled": "false", "seen": seen_of(page)}, timeout=10)
    assert r.status_code == 200 and "It is disabled" in r.text
    assert "enabled = false" in path.read_text()
    # a run of "orders" queued before the save finishes before the second "tick" run queued after it (one worker)
    ticks = count_runs(server, "tick")
    wait_for(lambda: count_runs(server, "tick") >= ticks + 2)
    orders = count_runs(server, "orders")
    wait_for(lambda: count_runs(server, "tick") >= ticks + 6)
    assert count_runs(server, "orders") == orders
    assert "orders" not in server.next_due
    assert '<span class="off">disabled</span>' in client.get(f"{server.url}/", timeout=10).text
    # enabled again: due at once
    page = form_page(client, server)
    client.post(f"{server.url}/tasks/orders/settings", data={"enabled": "", "seen": seen_of(page)}, timeout=10)
    wait_for(lambda: count_runs(server, "orders") > orders)
