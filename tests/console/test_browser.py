"""The console in a real browser: Debian's Chromium driven by Playwright (never a downloaded browser).

Each test saves screenshots under tests/console/screenshots/ (ignored by git) for a reviewer to look at, at
1280x800 and at phone width. No browser: skipped with the reason, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from .conftest import PASSWORD, RULES

CHROMIUM = os.environ.get("CONNEX_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).parent / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not installed ({exc}); pip install -e '.[test]'")
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
    except Exception as exc:  # the browser would not start here
        pw.stop()
        _unavailable(f"Chromium did not start: {exc}")
    yield b
    b.close()
    pw.stop()


def shot(page, name: str) -> Path:
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def page(browser, served, with_password):
    context = browser.new_context(viewport=DESKTOP)
    p = context.new_page()
    p.set_default_timeout(20_000)
    p.base = served.url
    yield p
    context.close()


def log_in(page) -> None:
    page.goto(page.base + "/")
    assert page.url.startswith(page.base + "/login")
    page.get_by_label("Console password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(page.base + "/")


def test_log_in(page):
    page.goto(page.base + "/login")
    page.get_by_label("Console password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong password."
    shot(page, "login-refused")
    log_in(page)
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    assert page.locator("#task-orders").get_by_text("created 4").is_visible()
    assert "tok-src-very-secret" not in page.content()
    page.get_by_role("button", name="Test src").click()
    page.locator("#check-src").get_by_text("memory space src: 5 orders").wait_for()
    shot(page, "dashboard")
    page.set_viewport_size(PHONE)
    shot(page, "dashboard-phone")


def test_run_a_task_and_watch_it_finish(page, served):
    log_in(page)
    page.locator("#task-orders").get_by_role("button", name="Run orders now").click()
    status = page.locator("#run-orders [role=status]")
    status.get_by_text("Finished").wait_for()
    assert f"run #{served.runs[0].run_id + 1}" in status.inner_text()
    shot(page, "run-now-finished")


def test_find_an_order_in_the_log_and_open_its_diff(page):
    log_in(page)
    page.get_by_role("link", name="Log").click()
    page.get_by_label("Order number").fill("1002")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.log tbody tr")
    assert rows.count() == 1
    shot(page, "log-filtered")
    page.get_by_role("link", name="1002").click()
    page.wait_for_url(re.compile(r".*/orders/1002.*"))
    diff = page.locator("table.diff").first
    assert diff.locator("td.after").inner_text() == "WEB"
    assert diff.locator("td").first.inner_text() == "class_name"
    shot(page, "order-diff")
    page.goto(page.base + "/log")
    shot(page, "log")
    page.set_viewport_size(PHONE)
    shot(page, "log-phone")


def test_type_a_rule_error_see_it_at_its_line_fix_try_and_save(page, console_config):
    log_in(page)
    page.get_by_role("link", name="Rules").click()
    page.get_by_role("link", name="rules/orders.rules").click()
    editor = page.get_by_label("Rule file")
    editor.fill(RULES.replace("set class = 'WEB'", "set clas = 'WEB'"))
    diag = page.locator("#diagnostics li.diag.error")
    diag.first.wait_for()
    assert diag.count() == 1 and diag.first.get_attribute("data-line") == "3"
    assert diag.first.inner_text().startswith("Line 3, column ")
    assert "set clas" in page.locator("#diagnostics #line-3").inner_text()  # the marked line is line 3
    shot(page, "rules-error")
    page.get_by_role("button", name="Save").click()
    page.locator("#saved").get_by_text("Not saved").wait_for()
    path = console_config.parent / "rules" / "orders.rules"
    assert path.read_text() == RULES
    editor.fill(RULES.replace("'WEB'", "'SHOP'"))
    page.locator("#diagnostics").get_by_text("Checks clean").wait_for()
    assert page.locator("#saved").inner_text() == ""  # the refusal went with the edit
    page.get_by_role("button", name="Try it").click()
    page.locator("#tried").get_by_text("Order 1003").wait_for()
    assert page.locator("#tried td.after").first.inner_text() == "SHOP"
    shot(page, "rules-tried")
    page.get_by_role("button", name="Save").click()
    page.locator("#saved").get_by_text("Saved orders.rules").wait_for()
    assert path.read_text() == RULES.replace("'WEB'", "'SHOP'")
    assert (path.parent / "orders.rules.bak").read_text() == RULES
    shot(page, "rules-saved")
    page.set_viewport_size(PHONE)
    shot(page, "rules-phone")


def test_runs_and_review_pages(page):
    log_in(page)
    page.get_by_role("link", name="Runs").click()
    assert page.locator("svg.chart rect").count() == 2
    shot(page, "runs")
    page.get_by_role("link", name="Review").click()
    assert page.locator("tbody tr").count() == 1 and "checked by hand" in page.locator("tbody").inner_text()
    shot(page, "review")
    page.set_viewport_size(PHONE)
    shot(page, "review-phone")
