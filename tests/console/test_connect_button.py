"""The console's Connect button in a real browser: the OAuth sign-in of a QuickBooks connection through
``connex serve``'s own callback, against the QuickBooks simulator on loopback.

The connection names no ``redirect_uri``, so the console sends the vendor its own address
(``http://127.0.0.1:PORT/oauth/qbo/callback``), which the simulator's sandbox keys have registered.
"""

from __future__ import annotations

import pytest
import requests

from connex_core.config import load_config
from connex_core.console import ConsoleSecrets, secrets_path
from connex_core.plugins import PluginManager
from connex_core.sandbox import SandboxServer, SimClock
from connex_core.serve import Server
from connex_core.tokens import TokenStore

from .conftest import PASSWORD, csrf_of, login
from .test_browser import DESKTOP, browser, log_in, shot  # noqa: F401 - the browser fixture


@pytest.fixture
def qbo_served(tmp_path):
    from connex_quickbooks.sim.simulator import QuickBooksSimulator

    clock = SimClock(speed=1.0)
    sim = QuickBooksSimulator(clock=clock)
    sandbox = SandboxServer([sim]).start()
    sim.base_url = sandbox.url(sim.name)
    (tmp_path / "qbo.secret").write_text(sim.client_secret + "\n")
    (tmp_path / "qbo.secret").chmod(0o600)
    path = tmp_path / "connex.toml"
    path.write_text(f"""
[connections.qbo]
type = "quickbooks"
environment = "sandbox"
client_id = "{sim.client_id}"
client_secret = {{ file = "qbo.secret" }}
base_url = "{sim.base_url}"
token_url = "{sim.base_url}/oauth2/v1/tokens/bearer"
authorize_url = "{sim.base_url}/connect/oauth2"
""")
    ConsoleSecrets(secrets_path(path)).set_password(PASSWORD)
    server = Server(load_config(path), PluginManager().load(), port=0, tick=0.05,
                    connector_options={"clock": clock}).start()
    sim.register_redirect_uri(f"{server.url}/oauth/qbo/callback")  # the app's keys list serve's address
    try:
        yield server, sim, tmp_path
    finally:
        server.stop()
        sandbox.stop()


def test_the_connect_button_signs_in_and_lands_back_on_the_console(browser, qbo_served):  # noqa: F811
    server, sim, folder = qbo_served
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.base = server.url
    try:
        log_in(page)
        assert TokenStore(folder / ".connex", "qbo").load() is None
        shot(page, "connect-before")
        page.get_by_role("button", name="Connect qbo").click()
        page.wait_for_url(f"{server.url}/connections/qbo/signed-in?sign_in=*")
        status = page.get_by_role("status").inner_text()
        assert f"qbo is connected: connected to {sim.company_name} (realm {sim.realm_id})" in status
        shot(page, "connect-done")
    finally:
        context.close()
    stored = TokenStore(folder / ".connex", "qbo").load()
    assert stored["realm_id"] == sim.realm_id and sim.access_valid(stored["access_token"])


def test_connect_needs_the_session_and_its_form_token(qbo_served):
    server, sim, folder = qbo_served
    assert requests.post(f"{server.url}/connections/qbo/connect", allow_redirects=False, timeout=10).status_code == 303
    client = login(server.url)
    refused = requests.post(f"{server.url}/connections/qbo/connect", cookies=client.cookies, allow_redirects=False,
                            timeout=10)  # the session without its CSRF token
    assert refused.status_code == 403
    sent = client.post(f"{server.url}/connections/qbo/connect", data={"csrf": csrf_of(client.get(server.url).text)},
                       allow_redirects=False, timeout=10)
    assert sent.status_code == 303 and sent.headers["location"].startswith(f"{sim.base_url}/connect/oauth2?")
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in sent.headers["location"]
    missing = client.post(f"{server.url}/connections/nope/connect", data={"csrf": csrf_of(client.get(server.url).text)},
                          allow_redirects=False, timeout=10)
    assert missing.status_code == 404 and "no connection named" in missing.text
