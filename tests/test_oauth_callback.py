"""Signing in through ``connex serve``: its ``/oauth/<connection>/callback`` finishes a sign-in started through the
state store, over loopback against the simulators' OAuth servers.

The apps register ``https://connex.example.org/oauth/NAME/callback`` (QuickBooks with production keys, which
take only registered https addresses). The browser opens the authorize address, the simulator sends it to that
https address, and the merchant's TLS proxy forwards the request to serve on loopback: the test plays the
browser and the proxy (:meth:`World.browse`), so serve sees exactly what it would behind a proxy.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connex_core.clock import wall_time
from connex_core.config import load_config
from connex_core.connections import Connections
from connex_core.oauth.callback import PENDING_SECONDS, begin
from connex_core.plugins import PluginManager
from connex_core.sandbox import SandboxServer, SimClock
from connex_core.serve import Server
from connex_core.state.factory import open_store

HOST = "https://connex.example.org"
PG_URL = os.environ.get("CONNEX_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def sandbox():
    from connex_quickbooks.sim.simulator import QuickBooksSimulator

    server = SandboxServer([QuickBooksSimulator()]).start()
    yield server
    server.stop()


def write_config(folder: Path, qbo, xero, state: str = "") -> Path:
    for name, sim in (("qbo", qbo), ("xero", xero)):
        (folder / f"{name}.secret").write_text(sim.client_secret + "\n")
        (folder / f"{name}.secret").chmod(0o600)
    path = folder / "connex.toml"
    path.write_text(f"""
[connections.qbo]
type = "quickbooks"
environment = "production"
client_id = "{qbo.client_id}"
client_secret = {{ file = "qbo.secret" }}
base_url = "{qbo.base_url}"
token_url = "{qbo.base_url}/oauth2/v1/tokens/bearer"
authorize_url = "{qbo.base_url}/connect/oauth2"
redirect_uri = "{HOST}/oauth/qbo/callback"

[connections.xero]
type = "xero"
client_id = "{xero.client_id}"
client_secret = {{ file = "xero.secret" }}
base_url = "{xero.base_url}"
token_url = "{xero.base_url}/connect/token"
authorize_url = "{xero.base_url}/connect/authorize"
redirect_uri = "{HOST}/oauth/xero/callback"
{state}
""")
    return path


class World:
    """Both simulators with the https redirect URIs registered, a config naming them, and ``connex serve``."""

    def __init__(self, sandbox, folder: Path, clock, state: str = ""):
        from connex_quickbooks.sim.simulator import QuickBooksSimulator
        from connex_xero.sim.simulator import XeroSimulator

        self.clock = clock
        self.qbo = QuickBooksSimulator(clock=clock, environment="production",
                                       redirect_uris=[f"{HOST}/oauth/qbo/callback"])
        self.xero = XeroSimulator(clock=clock, redirect_uris=[f"{HOST}/oauth/xero/callback"])
        for sim in (self.qbo, self.xero):
            sandbox.services[sim.name] = sim
            sim.base_url = sandbox.url(sim.name)
        self.path = write_config(folder, self.qbo, self.xero, state)
        self.config = load_config(self.path)
        self.manager = PluginManager().load()
        self.options = {"clock": clock} if clock is not None else {}
        self.server = Server(self.config, self.manager, port=0, tick=0.05, connector_options=self.options,
                             console=False).start()
        self.store = open_store(self.config)  # a store of its own, as another process has

    def close(self) -> None:
        self.server.stop()
        self.store.close()

    def begin(self, name: str):
        """What `connex connect NAME --via-serve` does first."""
        with Connections(self.config, self.manager, options=self.options) as connections:
            return begin(connections.get(name), self.store, name, f"{HOST}/oauth/{name}/callback", started_by="cli",
                         now=wall_time(self.clock))

    def allow(self, authorize_url: str) -> str:
        """The browser opens the authorize address and is sent to the registered https address: that address."""
        sent = requests.get(authorize_url, allow_redirects=False, timeout=10)
        assert sent.status_code == 302, sent.text
        assert sent.headers["Location"].startswith(HOST + "/oauth/")
        return sent.headers["Location"]

    def forward(self, address: str, path: str | None = None) -> requests.Response:
        """The TLS proxy in front of serve: the https address's path and query, to serve on loopback."""
        parts = urlsplit(address)
        return requests.get(f"{self.server.url}{path or parts.path}?{parts.query}", allow_redirects=False, timeout=30)

    def browse(self, authorize_url: str) -> requests.Response:
        return self.forward(self.allow(authorize_url))

    def tokens(self, name: str) -> dict | None:
        with Connections(self.config, self.manager, options=self.options) as connections:
            connector = connections.get(name)
            store = connector.tokens.store if name == "qbo" else connector.auth.store
            return store.load()


@pytest.fixture
def world(sandbox, tmp_path):
    w = World(sandbox, tmp_path, SimClock(speed=1.0))
    yield w
    w.close()


def test_quickbooks_production_keys_connect_through_serve(world, caplog):
    caplog.set_level(logging.DEBUG)
    started = world.begin("qbo")
    assert "redirect_uri=https%3A%2F%2Fconnex.example.org%2Foauth%2Fqbo%2Fcallback" in started.url
    assert world.store.oauth_status(started.digest)["state"] == "pending"
    address = world.allow(started.url)
    page = world.forward(address)

    assert page.status_code == 200, page.text
    assert f"connected to {world.qbo.company_name} (realm {world.qbo.realm_id})" in page.text
    stored = world.tokens("qbo")
    assert stored["realm_id"] == world.qbo.realm_id and world.qbo.access_valid(stored["access_token"])
    assert stored["refresh_expires_at"] and stored["refresh_hard_expires_at"]  # as `connex connect` stores them
    row = world.store.oauth_status(started.digest)
    assert row["state"] == "done" and row["message"].startswith("connected to")
    with Connections(world.config, world.manager, options=world.options) as connections:  # a later run's connector
        assert connections.get("qbo").check() == f"connected to {world.qbo.company_name} (realm {world.qbo.realm_id})"

    # no secret anywhere but the token store: not in the page, the log, or the pending sign-in's row
    query = {k: v[-1] for k, v in parse_qs(urlsplit(address).query).items()}
    secrets = [query["code"], query["state"], stored["access_token"], stored["refresh_token"],
               world.qbo.client_secret]
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert query["state"] in everything  # the capture sees addresses: here in the test browser's own urllib3 lines
    logged = [r.getMessage() for r in caplog.records if not r.name.startswith("urllib3")]
    seen = page.text + "\n".join(logged) + repr(sorted(row.items()))
    assert [s for s in secrets if s in seen] == []


def test_xero_connects_through_serve_and_takes_the_only_organisation(world):
    started = world.begin("xero")
    assert "redirect_uri=https%3A%2F%2Fconnex.example.org%2Foauth%2Fxero%2Fcallback" in started.url
    page = world.browse(started.url)
    assert page.status_code == 200 and "connected to Connex Demo Ltd" in page.text, page.text
    stored = world.tokens("xero")
    assert stored["tenant_id"] == world.xero.tenant_id and world.xero.access_valid(stored["access_token"])


def test_xero_with_several_organisations_names_them_to_pick_from(world):
    other = world.xero.add_tenant("Second Shop Ltd")
    page = world.browse(world.begin("xero").url)
    assert page.status_code == 400
    assert "allowed 2 organisations" in page.text and f"Second Shop Ltd ({other})" in page.text
    assert "Set tenant_id in connection" in page.text
    assert "tenant_id" not in world.tokens("xero")  # the tokens are kept; no organisation was guessed


# -- state misuse: never a connection, always a page that says why ---------------------------------------------

def _refused(page: requests.Response, why: str) -> None:
    assert page.status_code == 400, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "Sign-in refused" in page.text and why in page.text and "Traceback" not in page.text


def test_a_callback_without_state_or_with_a_forged_one_is_refused(world):
    _refused(requests.get(f"{world.server.url}/oauth/qbo/callback", timeout=10), "carries no sign-in state")
    forged = requests.get(f"{world.server.url}/oauth/qbo/callback?code=abc&state=forged&realmId=1", timeout=10)
    _refused(forged, "This sign-in is unknown")
    unknown = requests.get(f"{world.server.url}/oauth/nope/callback?code=abc&state=forged", timeout=10)
    assert unknown.status_code == 404 and "no connection named" in unknown.text
    assert world.tokens("qbo") is None


def test_a_callback_used_twice_connects_once(world):
    address = world.allow(world.begin("qbo").url)
    assert world.forward(address).status_code == 200
    first = world.tokens("qbo")
    _refused(world.forward(address), "each one can connect once")
    assert world.tokens("qbo") == first


def test_concurrent_callbacks_of_one_sign_in_connect_once(world):
    address = world.allow(world.begin("qbo").url)
    pages: list[requests.Response] = []
    threads = [threading.Thread(target=lambda: pages.append(world.forward(address))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(p.status_code for p in pages) == [200, 400, 400, 400]
    assert sum("each one can connect once" in p.text for p in pages) == 3  # refused by the claim, not by QuickBooks
    assert world.qbo.token_answers == 1  # one code exchange


def test_an_expired_sign_in_is_refused(world):
    started = world.begin("qbo")
    world.clock.advance(PENDING_SECONDS + 1)
    _refused(world.browse(started.url), "expired")
    assert world.tokens("qbo") is None and world.qbo.token_answers == 0


def test_a_sign_in_cannot_connect_another_connection(world):
    address = world.allow(world.begin("qbo").url)
    _refused(world.forward(address, "/oauth/xero/callback"), "started for another connection")
    assert world.tokens("xero") is None
    assert world.forward(address).status_code == 200  # still the qbo sign-in's, unspent


def test_declined_access_says_so_and_spends_the_sign_in(world):
    started = world.begin("qbo")
    state = parse_qs(urlsplit(world.allow(started.url)).query)["state"][0]
    declined = f"{HOST}/oauth/qbo/callback?error=access_denied&state={state}"
    page = world.forward(declined)
    assert page.status_code == 400 and "did not grant access (access_denied)" in page.text
    assert world.store.oauth_status(started.digest)["state"] == "failed"
    _refused(world.forward(declined), "each one can connect once")
    assert world.tokens("qbo") is None


def test_a_redirect_uri_that_serve_does_not_answer_is_refused_before_anything_starts(world):
    from connex_core.errors import UsageError

    with Connections(world.config, world.manager, options=world.options) as connections:
        with pytest.raises(UsageError, match="receives the sign-in of connection 'qbo' at /oauth/qbo/callback"):
            begin(connections.get("qbo"), world.store, "qbo", f"{HOST}/somewhere", started_by="cli", now=0)
        with pytest.raises(UsageError, match="must be https"):
            begin(connections.get("qbo"), world.store, "qbo", "http://example.org/oauth/qbo/callback",
                  started_by="cli", now=0)


# -- `connex connect --via-serve`: another process starts the sign-in and waits for serve -----------------------

def _pg_state() -> str:
    try:
        import psycopg

        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 - any failure means: not there
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and PostgreSQL is not reachable ({type(exc).__name__})")
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL}")
    return f'[state]\nurl = "{PG_URL}"\nschema = "connex_oauth_{uuid.uuid4().hex[:10]}"\n'


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_connex_connect_via_serve_waits_for_serve_to_store_the_tokens(sandbox, tmp_path, store):
    state = _pg_state() if store == "postgres" else ""
    world = World(sandbox, tmp_path, None, state)  # the command runs on the real clock: so does serve here
    try:
        proc = subprocess.Popen([sys.executable, "-m", "connex_core", "connect", "qbo", "--via-serve", "--config",
                                 str(world.path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            printed = []
            for line in proc.stderr:  # the command prints the address to open, then waits
                printed.append(line)
                if line.startswith("http"):
                    break
            assert printed and printed[-1].startswith(world.qbo.base_url), "".join(printed)
            page = world.browse(printed[-1].strip())
            assert page.status_code == 200, page.text
            out, rest = proc.communicate(timeout=60)
        finally:
            proc.kill()
        assert proc.returncode == 0, rest
        assert out.strip() == f"connected to {world.qbo.company_name} (realm {world.qbo.realm_id})"
        assert world.tokens("qbo")["realm_id"] == world.qbo.realm_id
    finally:
        world.close()
        if store == "postgres":
            import psycopg

            with psycopg.connect(PG_URL, autocommit=True) as db:
                db.execute(f'DROP SCHEMA IF EXISTS "{world.config.state.db_schema}" CASCADE')


def test_connect_via_serve_says_what_it_needs(sandbox, tmp_path):
    from typer.testing import CliRunner

    from connex_core.cli import app
    from connex_core.plugins import set_manager
    from connex_quickbooks.sim.simulator import QuickBooksSimulator
    from connex_xero.sim.simulator import XeroSimulator

    path = write_config(tmp_path, QuickBooksSimulator(), XeroSimulator())
    path.write_text(path.read_text().replace(f'redirect_uri = "{HOST}/oauth/qbo/callback"\n', ""))
    set_manager(PluginManager().load())
    runner = CliRunner()
    unset = runner.invoke(app, ["connect", "qbo", "--via-serve", "--config", str(path)])
    assert unset.exit_code != 0 and "connection 'qbo' has no redirect_uri: give --redirect-uri" in unset.output
    elsewhere = runner.invoke(app, ["connect", "qbo", "--via-serve", "--redirect-uri", f"{HOST}/cb", "--config", str(path)])
    assert elsewhere.exit_code != 0 and "receives the sign-in of connection 'qbo' at /oauth/qbo/callback" in elsewhere.output
    both = runner.invoke(app, ["connect", "qbo", "--via-serve", "--port", "8765", "--config", str(path)])
    assert both.exit_code != 0 and "give --via-serve or --port, not both" in both.output
    store = open_store(load_config(path))
    try:  # nothing was started
        assert store.db.execute("SELECT COUNT(*) FROM oauth_pending").fetchone()[0] == 0
    finally:
        store.close()
