"""``connex connect quickbooks`` the ways a self-hosted tool can get tokens, through the simulator on loopback:
paste-back for a registered https redirect URI (the realm comes from the pasted address), and a fixed
loopback port from the ``redirect_uri`` setting."""

from __future__ import annotations

import re
import socket
import threading

import pytest
import requests

from connex_core.errors import AuthenticationError


def test_paste_back_stores_tokens_and_the_realm_of_the_pasted_address(sim, make_connector):
    connector = make_connector(refresh_token=None, realm_id="",
                               redirect_uri="https://connex.example.org/oauth/quickbooks/callback")
    printed: list[str] = []

    def pasted(prompt: str) -> str:  # the user allows access; the browser lands on the registered https page
        return requests.get(printed[0].splitlines()[-1], allow_redirects=False, timeout=5).headers["Location"]

    description = connector.connect(echo=printed.append, input_fn=pasted)
    assert description == f"connected to {sim.company_name} (realm {sim.realm_id})"
    assert "redirect_uri=https%3A%2F%2Fconnex.example.org%2Foauth%2Fquickbooks%2Fcallback" in printed[0]
    stored = connector.tokens.store.load()
    assert stored["realm_id"] == sim.realm_id and stored["refresh_token"] and stored["refresh_expires_at"]


def test_paste_back_without_a_realm_is_refused(sim, make_connector):
    connector = make_connector(refresh_token=None, realm_id="", redirect_uri="https://connex.example.org/cb")
    printed: list[str] = []

    def pasted(prompt: str) -> str:
        location = requests.get(printed[0].splitlines()[-1], allow_redirects=False, timeout=5).headers["Location"]
        return location.split("&realmId=")[0]

    with pytest.raises(AuthenticationError, match=r"did not grant access \(no realmId\)"):
        connector.connect(echo=printed.append, input_fn=pasted)
    assert connector.tokens.store.load() is None


def test_a_fixed_loopback_port_from_the_settings(sim, make_connector):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    connector = make_connector(refresh_token=None, realm_id="", redirect_uri=f"http://localhost:{port}/qbo/callback")
    printed: list[str] = []

    def browser(text: str) -> None:
        printed.append(text)
        threading.Thread(target=lambda: requests.get(text.splitlines()[-1], timeout=5), daemon=True).start()

    assert connector.connect(echo=browser).startswith("connected to")
    assert f"redirect_uri=http%3A%2F%2Flocalhost%3A{port}%2Fqbo%2Fcallback" in printed[0]
    assert connector.tokens.store.load()["realm_id"] == sim.realm_id


def test_a_lost_token_answer_after_a_rotation_is_explained_and_one_connect_repairs_it(sim, make_connector, clock):
    from connex_core.errors import RetriableAPIError
    from connex_core.sandbox import Fault

    make_connector().check()
    clock.advance(86401)  # the refresh token is a day old: the next refresh replaces it
    sim.faults.add(Fault(kind="lost_response", path="tokens/bearer", times=1))
    with pytest.raises(RetriableAPIError):
        make_connector().tokens.access_token()
    with pytest.raises(AuthenticationError) as info:
        make_connector().check()
    message = str(info.value)
    assert "got no answer" in message and "had replaced that token" in message
    assert "reconnect with `connex connect quickbooks`" in message

    def browser(text: str) -> None:
        threading.Thread(target=lambda: requests.get(text.splitlines()[-1], timeout=5), daemon=True).start()

    assert make_connector().connect(echo=browser).startswith("connected to")
    assert make_connector().check().startswith("connected to")


# -- production redirect rules, the CLI's --redirect-uri, the refresh token's expiries -------------------------

def _browser_to(url: str) -> requests.Response:
    """What the user's browser gets from the authorize address (the simulator allows at once)."""
    return requests.get(url, allow_redirects=False, timeout=5)


def test_production_keys_take_only_registered_https_redirect_uris(clock, mount):
    from connex_quickbooks.sim.simulator import QuickBooksSimulator

    prod = mount(QuickBooksSimulator(clock=clock, environment="production",
                                     redirect_uris=["https://connex.example.org/oauth/quickbooks/callback"]))
    for uri in ("http://localhost:8765/callback", "https://localhost:8765/callback", "http://connex.example.org/cb"):
        with pytest.raises(ValueError, match="only https redirect URIs that are not localhost"):
            prod.register_redirect_uri(uri)
    base = f"{prod.base_url}/connect/oauth2?client_id={prod.client_id}&response_type=code&state=s&redirect_uri="
    refused = _browser_to(base + "http%3A%2F%2Flocalhost%3A8765%2Fcallback")
    assert refused.status_code == 400 and "redirect_uri query parameter value is invalid" in refused.text
    other = _browser_to(base + "https%3A%2F%2Fconnex.example.org%2Fother")  # registered URIs match exactly
    assert other.status_code == 400
    allowed = _browser_to(base + "https%3A%2F%2Fconnex.example.org%2Foauth%2Fquickbooks%2Fcallback")
    assert allowed.status_code == 302 and "code=" in allowed.headers["Location"]


def test_sandbox_keys_take_a_registered_localhost_uri(clock, mount, make_connector):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from connex_quickbooks.sim.simulator import QuickBooksSimulator

    uri = f"http://localhost:{port}/callback"
    mount(QuickBooksSimulator(clock=clock, redirect_uris=[uri]))
    connector = make_connector(refresh_token=None, realm_id="", redirect_uri=uri)

    def browser(text: str) -> None:
        threading.Thread(target=lambda: _browser_to(text.splitlines()[-1]).status_code
                         and requests.get(_browser_to(text.splitlines()[-1]).headers["Location"], timeout=5),
                         daemon=True).start()

    assert connector.connect(echo=browser).startswith("connected to")


def test_connect_with_production_keys_by_paste_back_stores_both_refresh_expiries(clock, mount, make_connector):
    from connex_quickbooks.sim.simulator import QuickBooksSimulator

    uri = "https://connex.example.org/oauth/quickbooks/callback"
    prod = mount(QuickBooksSimulator(clock=clock, environment="production", redirect_uris=[uri]))
    connector = make_connector(refresh_token=None, realm_id="", redirect_uri=uri, environment="production")
    printed: list[str] = []
    assert connector.connect(echo=printed.append,
                             input_fn=lambda _: _browser_to(printed[0].splitlines()[-1]).headers["Location"])
    stored = connector.tokens.store.load()
    now = clock.utcnow().timestamp()
    hour = 3600  # the simulated clock runs 1,000 times real time: allow for the machine's load
    assert abs(stored["refresh_expires_at"] - (now + prod.refresh_idle_seconds)) < hour
    assert abs(stored["refresh_hard_expires_at"] - (now + prod.refresh_hard_seconds)) < hour  # opted in: 5 years
    clock.advance(2 * 86400)  # a refresh two days later renews the rolling expiry, not the hard one
    connector.tokens.refresh()
    later = connector.tokens.store.load()
    assert later["refresh_expires_at"] - stored["refresh_expires_at"] > 86400
    assert abs(later["refresh_hard_expires_at"] - stored["refresh_hard_expires_at"]) < hour


def test_past_the_hard_expiry_a_refresh_is_refused_and_the_run_warns_two_weeks_before(clock, mount, make_connector):
    from connex_core.oauth import warn_expiring_tokens
    from connex_quickbooks.sim.simulator import QuickBooksSimulator

    sim = mount(QuickBooksSimulator(clock=clock))
    sim.consent_at -= sim.refresh_hard_seconds - 20 * 86400  # consented 5 years less 20 days ago
    connector = make_connector()
    connector.check()
    said: list[str] = []
    assert warn_expiring_tokens([connector], said.append) == []  # 20 days left: not yet
    clock.advance(7 * 86400)
    connector.tokens.refresh()
    warnings = warn_expiring_tokens([connector], said.append)
    assert len(warnings) == 1 and said == warnings
    assert "connection 'quickbooks' expires on" in warnings[0]
    assert re.search(r"in 1[123] days, its hard limit", warnings[0])  # the simulated clock runs on meanwhile
    assert "connex connect quickbooks" in warnings[0]
    clock.advance(14 * 86400)
    with pytest.raises(AuthenticationError, match="invalid_grant"):
        connector.tokens.refresh()
    assert "expired on" in warn_expiring_tokens([connector], said.append)[0]


def test_an_idle_refresh_token_is_warned_about_by_its_rolling_expiry(clock, mount, make_connector):
    from connex_core.oauth import warn_expiring_tokens
    from connex_quickbooks.sim.simulator import QuickBooksSimulator

    mount(QuickBooksSimulator(clock=clock))
    connector = make_connector()
    connector.check()
    clock.advance(85 * 86400)  # unused for 85 of its 100 days
    assert warn_expiring_tokens([connector], lambda _: None) == []
    clock.advance(2 * 86400)
    (warning,) = warn_expiring_tokens([connector], lambda _: None)
    assert re.search(r"in 1[123] days, unless a run uses it before then", warning)


def test_cli_connect_with_redirect_uri_pastes_back_and_checks_state(clock, mount, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import importlib

    from connex_core.cli import app
    from connex_core.tokens import TokenStore
    from connex_quickbooks.sim.simulator import QuickBooksSimulator

    uri = "https://connex.example.org/oauth/quickbooks/callback"
    prod = mount(QuickBooksSimulator(clock=clock, environment="production", redirect_uris=[uri]))
    (tmp_path / "qb.secret").write_text(prod.client_secret)
    (tmp_path / "connex.toml").write_text(f"""
[connections.books]
type = "quickbooks"
environment = "production"
base_url = "{prod.base_url}"
token_url = "{prod.base_url}/oauth2/v1/tokens/bearer"
authorize_url = "{prod.base_url}/connect/oauth2"
client_id = "{prod.client_id}"
client_secret = {{ file = "qb.secret" }}
""")
    monkeypatch.chdir(tmp_path)
    cli_connect = importlib.import_module("connex_core.cli.connect")  # the module (the package exports a function)
    said: list[str] = []
    monkeypatch.setattr(cli_connect, "err", said.append)
    tamper = {"state": False}

    def user_pastes(prompt: str, **_) -> str:  # the person at the terminal: opens the address, pastes where it led
        address = next(line for text in said for line in text.splitlines() if "/connect/oauth2?" in line)
        landed = _browser_to(address).headers["Location"]
        return landed.replace("state=", "state=x") if tamper["state"] else landed

    monkeypatch.setattr(cli_connect.typer, "prompt", user_pastes)
    result = CliRunner().invoke(app, ["connect", "quickbooks", "--redirect-uri", uri])
    assert result.exit_code == 0, result.output
    assert f"realm {prod.realm_id}" in result.stdout
    stored = TokenStore(tmp_path / ".connex", "books").load()
    assert stored["realm_id"] == prod.realm_id and stored["refresh_hard_expires_at"]

    said.clear()
    tamper["state"] = True
    result = CliRunner().invoke(app, ["connect", "books", "--redirect-uri", uri])
    assert result.exit_code == 6 and "state mismatch" in result.output

    said.clear()
    result = CliRunner().invoke(app, ["connect", "books", "--redirect-uri", "http://connex.example.org/cb"])
    assert result.exit_code != 0 and "must be https" in result.output
