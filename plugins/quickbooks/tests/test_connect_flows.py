"""``connex connect quickbooks`` the ways a self-hosted tool can get tokens, through the simulator on loopback:
paste-back for a registered https redirect URI (the realm comes from the pasted address), and a fixed
loopback port from the ``redirect_uri`` setting."""

from __future__ import annotations

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
