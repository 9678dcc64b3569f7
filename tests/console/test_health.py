"""The dashboard's connection health: the stored tokens' ends with ``connex run``'s warning, what is left of each
API budget (``Connector.api_budgets``) and the last successful call (the last run through it without an error),
read without any call."""

from __future__ import annotations

import html
import json
import time

from connex_core.oauth.expiry import refresh_token_warning
from tests.support.memory_plugin import api


def store_tokens(console_config, connection: str, **tokens) -> None:
    folder = console_config.parent / ".connex"
    folder.mkdir(exist_ok=True)
    path = folder / f"{connection}.tokens.json"
    path.write_text(json.dumps(tokens))
    path.chmod(0o600)


def health_of(client, served, name: str) -> str:
    page = html.unescape(client.get(f"{served.url}/", timeout=10).text)
    start = page.index(f'aria-label="Health of {name}"')
    return page[start:page.index("</div>", start)]


def test_a_refresh_token_ending_soon_is_warned_of_as_connex_run_does(client, served, console_config):
    now = time.time()
    stored = {"access_token": "acc-very-secret", "refresh_token": "ref-very-secret", "expires_at": now + 1800,
              "refresh_expires_at": now + 5 * 86400 + 600}
    store_tokens(console_config, "src", **stored)
    shown = health_of(client, served, "src")
    warning = refresh_token_warning(stored, time.time(), "src")
    assert "expires on" in warning and "(in 5 days" in warning
    assert warning in shown and 'class="warn" role="alert"' in shown
    assert "Refresh token ends " + time.strftime("%Y-%m-%d", time.gmtime(now + 5 * 86400 + 600)) in shown
    assert "Access token valid until" in shown
    assert "very-secret" not in client.get(f"{served.url}/", timeout=10).text


def test_a_refresh_token_far_from_its_end_shows_the_day_without_a_warning(client, served, console_config):
    now = time.time()
    store_tokens(console_config, "src", access_token="a", refresh_token="r", expires_at=now - 60,
                 refresh_expires_at=now + 90 * 86400, refresh_hard_expires_at=now + 60 * 86400)
    shown = health_of(client, served, "src")
    assert "Refresh token ends " + time.strftime("%Y-%m-%d", time.gmtime(now + 60 * 86400)) in shown  # the sooner
    assert "warning" not in shown and "(the next call refreshes it)" in shown


def test_a_damaged_token_file_says_how_to_repair_it(client, served, console_config):
    folder = console_config.parent / ".connex"
    folder.mkdir(exist_ok=True)
    (folder / "src.tokens.json").write_text('{"refresh_token": "cut-off-secr')
    (folder / "src.tokens.json").chmod(0o600)
    shown = health_of(client, served, "src")
    assert "is damaged" in shown and "connex connect src" in shown and "cut-off-secr" not in shown


def test_the_api_budget_left_is_what_the_connector_says(client, served):
    assert "API calls left" not in health_of(client, served, "dst")  # the API says nothing: nothing shown
    api("dst").day_limit = 1000
    used = api("dst").list_calls + api("dst").write_calls + api("dst").find_calls
    assert used > 0  # the first run wrote to it
    shown = health_of(client, served, "dst")
    assert f"API calls left this day: <strong>{1000 - used}</strong> of 1000 <small>(the memory API)</small>" in shown
    assert api("dst").list_calls + api("dst").write_calls + api("dst").find_calls == used  # no call made


def test_each_connection_shows_its_last_successful_call_a_failed_run_is_not_one(client, served):
    def shown(name: str) -> str:
        part = health_of(client, served, name)
        start = part.index("Last successful call: ")
        return part[start:part.index("</p>", start)]

    [first] = served.store.runs("orders", limit=1)
    assert first["status"] == "ok"
    for name in ("src", "dst"):  # the first scheduled run read src and wrote dst: both answered
        assert shown(name) == f"Last successful call: <time>{first['finished_at']}</time> (run {first['id']} of orders)"
    api("src").revoked = True  # the source refuses every call: the next run ends with an error
    try:
        assert served.enqueue("orders", "test") and served.wait_idle(30)
    finally:
        api("src").revoked = False
    [failed] = served.store.runs("orders", limit=1)
    assert failed["id"] > first["id"] and failed["status"] == "error"
    assert f"(run {first['id']} of orders)" in shown("src")  # still the run before the failure
    assert served.enqueue("orders", "test") and served.wait_idle(30)
    [good] = served.store.runs("orders", limit=1)
    assert good["status"] == "ok" and f"(run {good['id']} of orders)" in shown("src")
