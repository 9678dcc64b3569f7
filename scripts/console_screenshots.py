#!/usr/bin/env python3
"""The screenshots of docs/console.md, taken from the demo's data in Debian's Chromium (Playwright).

    .venv/bin/python scripts/console_screenshots.py [--out docs/images]

Runs the demo (simulated APIs on loopback), serves the console as ``connex demo --console`` does, and saves one
PNG per page at 1280x800 (the first screen, not the whole page) and the rule editor at phone width.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def shoot(url: str, password: str, config: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    from connex_core.config import load_config
    from connex_core.state import LogQuery
    from connex_core.state.factory import open_store

    store = open_store(load_config(config))
    changed = next(e for e in store.query_log(LogQuery(task="shipstation-to-quickbooks", newest_first=True))
                   if e.changes and e.order_number and e.outcome in ("created", "updated"))
    store.close()
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url + "/login")
        page.screenshot(path=str(out / "console-login.png"))
        page.get_by_label("Console password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(url + "/")
        page.locator(".task").first.get_by_text("Run now").click()
        page.locator(".task").first.get_by_text("Finished").wait_for()
        page.screenshot(path=str(out / "console-dashboard.png"))
        page.locator(".health").first.scroll_into_view_if_needed()
        page.screenshot(path=str(out / "console-connections.png"))
        page.goto(url + "/tasks/shipstation-to-quickbooks")
        page.get_by_label("document").select_option("sales_receipt")
        page.get_by_label("every_minutes").fill("-5")
        page.get_by_role("button", name="Save").click()
        page.locator(".problems").wait_for()
        page.screenshot(path=str(out / "console-task.png"))
        page.goto(url + "/log?task=shipstation-to-quickbooks")
        page.screenshot(path=str(out / "console-log.png"))
        page.goto(f"{url}/orders/{changed.order_number}?task=shipstation-to-quickbooks")
        page.screenshot(path=str(out / "console-order.png"))
        page.goto(url + "/runs")
        page.screenshot(path=str(out / "console-runs.png"))
        page.goto(url + "/review")
        page.screenshot(path=str(out / "console-review.png"))
        page.goto(url + "/rules")
        page.get_by_role("link", name="rules/shipstation-to-quickbooks.rules").first.click()
        editor = page.get_by_label("Rule file")
        editor.fill(editor.input_value().replace("amount_paid == 0", "amount_payed == 0"))
        page.locator("#diagnostics li.diag.error").first.wait_for()
        page.screenshot(path=str(out / "console-rules.png"))
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(out / "console-rules-phone.png"))
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "images")
    args = parser.parse_args()
    from connex_core.cli.demo import serve_console
    from connex_core.demo import run_demo
    from connex_core.plugins import get_manager

    stop = threading.Event()

    def ready(server, password):
        try:
            shoot(server.url, password, result_box[0].config, args.out)
        finally:
            stop.set()

    result_box = []

    def then(result, options):
        result_box.append(result)
        serve_console(result, options, port=0, stop=stop, ready=ready)

    with tempfile.TemporaryDirectory() as tmp:
        run_demo(get_manager(), Path(tmp) / "demo", orders=24, seed=7, then=then)
    print(f"screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
