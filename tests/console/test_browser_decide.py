"""The review queue's buttons and a task's settings form in a real browser (Debian's Chromium through Playwright,
as tests/console/test_browser.py): checked in the config file, the ledger, the target and the run history."""

from __future__ import annotations

import pytest

from connex_core.state import LedgerState, LogQuery
from tests.support.memory_plugin import api

from .test_browser import DESKTOP, PHONE, browser, log_in, page, shot  # noqa: F401 (fixtures)
from .test_decide import count_runs, two_tasks, wait_for  # noqa: F401 (fixture)


def test_a_bad_option_is_refused_by_the_form_and_the_file_is_unchanged(page, console_config):
    before = console_config.read_bytes()
    log_in(page)
    page.get_by_role("link", name="Settings of orders").click()
    page.wait_for_url(page.base + "/tasks/orders")
    page.get_by_label("every_minutes").fill("0")
    page.get_by_role("button", name="Save").click()
    alert = page.locator(".problems[role=alert]")
    alert.wait_for()
    assert f"{console_config}: tasks.orders.every_minutes: Input should be greater than 0" in alert.inner_text()
    field = page.locator(".field", has=page.get_by_label("every_minutes"))
    assert field.locator(".problem").inner_text() == "Input should be greater than 0"
    assert page.get_by_label("every_minutes").input_value() == "0"  # what was typed stays, to correct it
    assert console_config.read_bytes() == before
    shot(page, "settings-refused")
    page.set_viewport_size(PHONE)
    shot(page, "settings-refused-phone")


def test_a_good_option_is_saved_with_the_files_comments(page, served, console_config):
    log_in(page)
    page.goto(page.base + "/tasks/orders")
    page.get_by_label("every_minutes").fill("30")
    page.get_by_label("on_update").select_option("hold")
    page.get_by_label("status").fill("awaiting_shipment")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").get_by_text("Saved").wait_for()
    text = console_config.read_text()
    assert "every_minutes = 30   # ten hours: only the first run and Run now happen in a test" in text
    assert text.startswith("\n# The console tests' config: its comments must survive the settings form.\n")
    assert 'on_update = "hold"' in text and 'source_options = {status = "awaiting_shipment"}' in text
    assert served.config.tasks["orders"].on_update == "hold"
    shot(page, "settings-saved")
    page.get_by_role("link", name="Back to the dashboard").click()
    assert "every 30 min" in page.locator("#task-orders").inner_text()


def test_release_from_the_review_queue_posts_the_order(page, served):
    [held] = served.store.query_log(LogQuery(task="orders", order_number="1003", outcome="held"))
    log_in(page)
    page.get_by_role("link", name="Review").click()
    shot(page, "review-buttons")
    page.get_by_label("Reason for order 1003").fill("checked with the customer")
    page.get_by_role("button", name="Release order 1003 and post it now").click()
    page.get_by_role("status").get_by_text("1003 released and queued").wait_for()
    shot(page, "review-released")
    wait_for(lambda: served.store.ledger_get("orders", [held.source_key])[held.source_key].state == LedgerState.DONE)
    entry = served.store.ledger_get("orders", [held.source_key])[held.source_key]
    assert api("dst").documents[entry.target_id]["number"] == "1003" and api("dst").numbers().count("1003") == 1
    [released] = served.store.query_log(LogQuery(task="orders", order_number="1003", outcome="released"))
    assert released.reason == "checked with the customer"
    page.reload()
    assert page.locator("tbody").inner_text().strip() == "Nothing held or failed."


def test_ignore_asks_first_then_marks_the_order(page, served):
    [held] = served.store.query_log(LogQuery(task="orders", order_number="1003", outcome="held"))
    log_in(page)
    page.goto(page.base + "/review")
    asked: list[str] = []
    page.on("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.get_by_label("Reason for order 1003").fill("a test order")
    page.get_by_role("button", name="Ignore order 1003").click()
    page.get_by_role("status").get_by_text("1003 ignored").wait_for()
    assert asked == ["Never post order 1003? Later runs will skip it."]
    assert served.store.ledger_get("orders", [held.source_key])[held.source_key].state == LedgerState.IGNORED


@pytest.fixture
def page_two(browser, two_tasks, with_password):  # noqa: F811
    server, path = two_tasks
    context = browser.new_context(viewport=DESKTOP)
    p = context.new_page()
    p.set_default_timeout(20_000)
    p.base = server.url
    yield p, server, path
    context.close()


def test_disable_a_task_and_see_it_not_run(page_two):
    page, server, path = page_two
    log_in(page)
    page.goto(page.base + "/tasks/orders")
    page.get_by_label("enabled").select_option("false")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").get_by_text("It is disabled").wait_for()
    assert "enabled = false" in path.read_text()
    ticks = count_runs(server, "tick")
    wait_for(lambda: count_runs(server, "tick") >= ticks + 2)  # a run of orders queued before it is done by now
    orders = count_runs(server, "orders")
    wait_for(lambda: count_runs(server, "tick") >= ticks + 6)
    assert count_runs(server, "orders") == orders
    page.goto(page.base + "/")
    card = page.locator("#task-orders")
    assert "disabled" in card.inner_text() and "next run" not in card.inner_text()
    assert "next run" in page.locator("#task-tick").inner_text()
    shot(page, "dashboard-disabled")
