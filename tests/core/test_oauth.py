"""connex_core.oauth against a simulator built on connex_core.sandbox.oauth, over loopback HTTP.

Rotation: two refreshers at once spend the refresh token once (a barrier starts them together; the first
holds the grant until the second is seen waiting for the lock), the rotated token is saved before it is
used, a refused grant says how to reconnect. Connecting: the loopback flow on a fixed port, and the
paste-back flow for an https redirect URI, with ``state`` checked.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from typing import Any, Optional

import pytest
import requests

from connex_core.errors import AuthenticationError, RetriableAPIError, UsageError
from connex_core.oauth import OAuthApp, OAuthTokens, TokenEndpointUnreachable, connect, requests_transport
from connex_core.sandbox import Fault, Request, Response, SandboxServer, SimClock, SimulatedService, route
from connex_core.sandbox.oauth import OAuthServer
from connex_core.tokens import TokenStore


class IdP(OAuthServer, SimulatedService):
    """A bare authorization server: rotating refresh tokens, no grace, codes bound to their redirect URI."""

    name = "idp"
    client_id, client_secret = "app-id", "app-secret"

    def __init__(self, clock: SimClock):
        super().__init__(clock=clock)
        self.oauth_setup("refresh-0")

    @route("GET", "/authorize")
    def authorize(self, request: Request) -> Response:
        return self.oauth_authorize(request)

    @route("POST", "/token")
    def token(self, request: Request) -> Response:
        return self.oauth_token(request)


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def idp(clock):
    service = IdP(clock)
    with SandboxServer([service]):
        yield service


def app_for(idp: IdP, **kw: Any) -> OAuthApp:
    return OAuthApp(vendor="Acme", connector="acme", client_id=idp.client_id, client_secret=kw.pop("secret", idp.client_secret),
                    token_url=f"{idp.base_url}/token", authorize_url=f"{idp.base_url}/authorize", scopes=["read"], **kw)


def tokens_for(idp: IdP, store: TokenStore, clock: SimClock, transport=None, **kw: Any) -> OAuthTokens:
    return OAuthTokens(app_for(idp, **kw), store, transport or requests_transport(requests.Session(), 5.0), clock=clock,
                       connection="acme", initial_refresh_token="refresh-0")


# -- rotation ------------------------------------------------------------------------------------------------

class WatchedStore(TokenStore):
    """A token store that tells when a thread starts waiting for its refresh lock."""

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.waiting: list[str] = []
        self.second_is_waiting = threading.Event()

    @contextlib.contextmanager
    def refreshing(self):
        self.waiting.append(threading.current_thread().name)
        if len(self.waiting) >= 2:
            self.second_is_waiting.set()
        with super().refreshing():
            yield self


def run_two_refreshers(idp, clock, store, lock_free: bool = False) -> tuple[list[str], int, bool]:
    real = requests_transport(requests.Session(), 5.0)
    overlapped = []

    def transport(url, form, headers):
        # Inside the first grant: hold it until the other thread is known to be waiting (or 2 s, when it never comes).
        overlapped.append(store.second_is_waiting.wait(2.0))
        return real(url, form, headers)

    barrier = threading.Barrier(2)
    results: list[str] = []

    def worker() -> None:
        tokens = tokens_for(idp, store, clock, transport)
        barrier.wait()
        try:
            results.append(tokens.access_token())
        except AuthenticationError as exc:  # the control experiment: the loser spent a rotated-away token
            results.append(f"refused: {exc}")

    if lock_free:
        store.refreshing = lambda: _no_lock(store)  # type: ignore[method-assign]
    threads = [threading.Thread(target=worker, name=f"refresher-{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return results, idp.calls["POST /token"], bool(overlapped and overlapped[0])


@contextlib.contextmanager
def _no_lock(store):
    store.waiting.append(threading.current_thread().name)
    if len(store.waiting) >= 2:
        store.second_is_waiting.set()
    yield store


def test_two_refreshers_at_once_spend_the_refresh_token_once(idp, clock, tmp_path):
    store = WatchedStore(tmp_path, "acme")
    results, requests_sent, overlapped = run_two_refreshers(idp, clock, store)
    assert overlapped, "the second refresher was waiting for the lock while the first one held the grant"
    assert requests_sent == 1 and len(results) == 2 and results[0] == results[1]
    assert store.load()["refresh_token"] not in (None, "refresh-0")


def test_without_the_lock_the_same_race_spends_it_twice(idp, clock, tmp_path):
    """The control experiment: the test above can fail."""
    store = WatchedStore(tmp_path, "acme")
    results, requests_sent, overlapped = run_two_refreshers(idp, clock, store, lock_free=True)
    assert overlapped and requests_sent == 2
    assert any(r.startswith("refused: ") and "invalid_grant" in r for r in results), results


def test_a_second_instance_reloads_and_uses_the_winners_token(idp, clock, tmp_path):
    store = TokenStore(tmp_path, "acme")
    a, b = tokens_for(idp, store, clock), tokens_for(idp, store, clock)
    first = a.access_token()
    assert b.access_token() == first and idp.token_answers == 1
    clock.advance(3600)
    second = a.access_token()
    assert second != first and b.access_token() == second and idp.token_answers == 2
    assert idp.access_valid(second) and not idp.access_valid(first)


def test_a_rejected_access_token_is_refreshed_even_when_it_looks_fresh(idp, clock, tmp_path):
    tokens = tokens_for(idp, TokenStore(tmp_path, "acme"), clock)
    first = tokens.access_token()
    renewed = tokens.refresh(rejected=first)
    assert renewed["access_token"] != first and idp.token_answers == 2


def test_the_rotated_token_is_saved_before_it_is_used(idp, clock, tmp_path):
    class FullDisk(TokenStore):
        def save(self, tokens):
            if "access_token" in tokens:  # the note before the grant fits; the answer does not
                raise OSError("no space left on device")
            super().save(tokens)

    tokens = tokens_for(idp, FullDisk(tmp_path, "acme"), clock)
    with pytest.raises(OSError):
        tokens.access_token()
    assert idp.token_answers == 1 and tokens._tokens is None, "a token that could not be stored is never handed out"


def test_what_is_stored_of_an_answer(idp, clock, tmp_path):
    store = TokenStore(tmp_path, "acme")
    tokens = tokens_for(idp, store, clock)
    tokens.access_token()
    saved = store.load()
    assert set(saved) >= {"access_token", "refresh_token", "expires_at", "obtained_at", "token_type", "scope"}
    assert saved["expires_at"] == pytest.approx(clock.utcnow().timestamp() + 3600, abs=5)
    assert (store.path.stat().st_mode & 0o777) == 0o600


def test_a_spent_refresh_token_says_how_to_reconnect(idp, clock, tmp_path):
    tokens_for(idp, TokenStore(tmp_path / "a", "acme"), clock).access_token()  # rotates refresh-0 away
    with pytest.raises(AuthenticationError) as info:
        tokens_for(idp, TokenStore(tmp_path / "b", "acme"), clock).access_token()
    text = str(info.value)
    assert "invalid_grant" in text and "reconnect with `connex connect acme`" in text and "refresh-0" not in text


def test_a_wrong_secret_is_named_and_not_shown(idp, clock, tmp_path):
    with pytest.raises(AuthenticationError) as info:
        tokens_for(idp, TokenStore(tmp_path, "acme"), clock, secret="wrong-secret-value").access_token()
    assert "invalid_client" in str(info.value) and "wrong-secret-value" not in str(info.value)


def test_an_unreachable_or_busy_token_endpoint_is_retriable(idp, clock, tmp_path):
    def unreachable(url, form, headers):
        raise TokenEndpointUnreachable("ConnectionError")

    with pytest.raises(RetriableAPIError, match="could not reach Acme's token endpoint"):
        tokens_for(idp, TokenStore(tmp_path, "acme"), clock, unreachable).access_token()
    noted = TokenStore(tmp_path, "acme").load()
    assert "access_token" not in noted and noted["refresh_sent_for"] and noted["refresh_sent_at"]
    assert "refresh-0" not in json.dumps(noted), "the note holds a fingerprint, never the token"
    with pytest.raises(RetriableAPIError, match="answered 503"):
        tokens_for(idp, TokenStore(tmp_path, "acme"), clock, lambda *a: (503, b"busy")).access_token()
    assert TokenStore(tmp_path, "acme").load() == {}, "an answer came: nothing outstanding"


def test_not_connected_yet(idp, clock, tmp_path):
    tokens = OAuthTokens(app_for(idp), TokenStore(tmp_path, "acme"), requests_transport(requests.Session(), 5),
                         clock=clock, connection="acme")
    with pytest.raises(AuthenticationError, match="not connected yet: connect with `connex connect acme`"):
        tokens.access_token()


# -- connecting ------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser(lines: list[str]):
    """What the user's browser does: open the printed address and follow the redirect to the callback."""
    def echo(message: str) -> None:
        lines.append(message)
        if message.startswith("Open"):
            url = message.splitlines()[-1]
            threading.Thread(target=lambda: requests.get(url, timeout=10), daemon=True).start()

    return echo


def fresh_tokens(idp, clock, tmp_path) -> OAuthTokens:
    return OAuthTokens(app_for(idp), TokenStore(tmp_path, "acme"), requests_transport(requests.Session(), 5),
                       clock=clock, connection="acme")


def test_loopback_on_a_fixed_port_from_the_redirect_uri(idp, clock, tmp_path):
    port = free_port()
    tokens, lines = fresh_tokens(idp, clock, tmp_path), []
    answer = connect(tokens, redirect_uri=f"http://127.0.0.1:{port}/connex/callback", echo=browser(lines),
                     input_fn=lambda _: pytest.fail("nothing to paste on loopback"))
    assert f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fconnex%2Fcallback" in lines[0]
    assert answer["code"] and tokens.store.load()["refresh_token"] and idp.token_answers == 1


def test_loopback_on_a_fixed_port_option_with_a_host_name(idp, clock, tmp_path):
    port = free_port()
    tokens, lines = fresh_tokens(idp, clock, tmp_path), []
    connect(tokens, port=port, host_name="localhost", echo=browser(lines))
    assert f"redirect_uri=http%3A%2F%2Flocalhost%3A{port}%2Fcallback" in lines[0]
    assert tokens.access_token() and idp.token_answers == 1


def paste(redirected: dict):
    """The user's part of paste-back: open the address, allow, copy where the browser ended up."""
    def input_fn(prompt: str) -> str:
        url = redirected["printed"].splitlines()[-1]
        return requests.get(url, allow_redirects=False, timeout=10).headers["Location"]

    def echo(message: str) -> None:
        if message.startswith("Open"):
            redirected["printed"] = message

    return echo, input_fn


def test_paste_back_exchanges_the_code_for_an_https_redirect_uri(idp, clock, tmp_path):
    tokens, seen = fresh_tokens(idp, clock, tmp_path), {}
    echo, input_fn = paste(seen)
    answer = connect(tokens, redirect_uri="https://connex.example.org/oauth/acme/callback", echo=echo, input_fn=input_fn)
    assert "redirect_uri=https%3A%2F%2Fconnex.example.org" in seen["printed"]
    assert answer["code"] and tokens.store.load()["access_token"] and idp.token_answers == 1


def test_paste_back_refuses_an_address_of_another_login(idp, clock, tmp_path):
    tokens, seen = fresh_tokens(idp, clock, tmp_path), {}
    echo, _ = paste(seen)
    forged = "https://connex.example.org/oauth/acme/callback?code=stolen&state=forged"
    with pytest.raises(AuthenticationError, match="state mismatch"):
        connect(tokens, redirect_uri="https://connex.example.org/oauth/acme/callback", echo=echo, input_fn=lambda _: forged)
    assert tokens.store.load() is None and idp.token_answers == 0


def test_paste_back_refuses_an_address_that_is_not_the_redirect_uri(idp, clock, tmp_path):
    tokens = fresh_tokens(idp, clock, tmp_path)
    with pytest.raises(UsageError, match="does not start with the redirect URI"):
        connect(tokens, redirect_uri="https://connex.example.org/cb", echo=lambda _: None,
                input_fn=lambda _: "https://evil.example.org/cb?code=x&state=y")


def test_a_refusal_on_the_consent_page_is_reported(idp, clock, tmp_path):
    tokens, seen = fresh_tokens(idp, clock, tmp_path), {}

    def denied(prompt: str) -> str:
        state = requests.utils.urlparse(seen["printed"].splitlines()[-1]).query.split("state=")[1].split("&")[0]
        return f"https://connex.example.org/cb?error=access_denied&state={state}"

    echo, _ = paste(seen)
    with pytest.raises(AuthenticationError, match=r"did not grant access \(access_denied\)"):
        connect(tokens, redirect_uri="https://connex.example.org/cb", echo=echo, input_fn=denied)


@pytest.mark.parametrize("uri, message", [("http://connex.example.org/cb", "must be https"),
                                          ("http://localhost/cb", "needs a port")])
def test_redirect_uris_that_cannot_work_are_refused(idp, clock, tmp_path, uri, message):
    with pytest.raises(UsageError, match=message):
        connect(fresh_tokens(idp, clock, tmp_path), redirect_uri=uri, echo=lambda _: None)


# -- the simulators' OAuth server ------------------------------------------------------------------------------

def grant(idp: IdP, secret: Optional[str] = None, **form: str) -> requests.Response:
    return requests.post(f"{idp.base_url}/token", data=form, auth=(idp.client_id, secret or idp.client_secret), timeout=5)


def test_server_rotation_grace_and_idle_expiry(idp, clock):
    first = grant(idp, grant_type="refresh_token", refresh_token="refresh-0").json()
    assert first["refresh_token"] != "refresh-0"
    assert grant(idp, grant_type="refresh_token", refresh_token="refresh-0").json() == {"error": "invalid_grant"}
    idp.refresh_grace_seconds, idp.grace_answer = 600.0, "successor"
    second = grant(idp, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    retried = grant(idp, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    assert retried["refresh_token"] == second["refresh_token"], "within the grace period: the successor again"
    clock.advance(601)
    assert grant(idp, grant_type="refresh_token", refresh_token=first["refresh_token"]).status_code == 400
    idp.refresh_idle_seconds = 3600.0
    clock.advance(3601)
    assert grant(idp, grant_type="refresh_token", refresh_token=second["refresh_token"]).status_code == 400


def test_server_keeps_a_young_refresh_token_when_rotation_is_not_due(idp, clock):
    idp.rotate_after_seconds = 86400.0
    first = grant(idp, grant_type="refresh_token", refresh_token="refresh-0").json()
    assert first["refresh_token"] == "refresh-0", "younger than a day: answered with the same refresh token"
    clock.advance(86401)
    later = grant(idp, grant_type="refresh_token", refresh_token="refresh-0").json()
    assert later["refresh_token"] != "refresh-0"


def test_server_codes_are_single_use_bound_to_their_redirect_and_clients_checked(idp, clock):
    r = requests.get(f"{idp.base_url}/authorize", params={"client_id": idp.client_id, "redirect_uri": "http://127.0.0.1:9/cb",
                                                         "state": "s"}, allow_redirects=False, timeout=5)
    code = requests.utils.urlparse(r.headers["Location"]).query.split("code=")[1].split("&")[0]
    assert grant(idp, grant_type="authorization_code", code=code, redirect_uri="http://127.0.0.1:9/other").status_code == 400
    r = requests.get(f"{idp.base_url}/authorize", params={"client_id": idp.client_id, "redirect_uri": "http://127.0.0.1:9/cb",
                                                         "state": "s"}, allow_redirects=False, timeout=5)
    code = requests.utils.urlparse(r.headers["Location"]).query.split("code=")[1].split("&")[0]
    assert grant(idp, grant_type="authorization_code", code=code, redirect_uri="http://127.0.0.1:9/cb").status_code == 200
    assert grant(idp, grant_type="authorization_code", code=code, redirect_uri="http://127.0.0.1:9/cb").status_code == 400
    assert grant(idp, "nope", grant_type="refresh_token", refresh_token="refresh-0").json() == {"error": "invalid_client"}
    assert grant(idp, grant_type="password").json() == {"error": "unsupported_grant_type"}
    assert requests.get(f"{idp.base_url}/authorize", params={"client_id": "other"}, timeout=5).status_code == 400


# -- a refresh whose answer was lost ---------------------------------------------------------------------------

def test_a_lost_answer_is_recovered_while_the_token_is_not_replaced(idp, clock, tmp_path):
    """Intuit answers a refresh token younger than a day with itself: retrying after a lost answer works."""
    idp.rotate_after_seconds = 86400.0
    store = TokenStore(tmp_path, "acme")
    idp.faults.add(Fault(kind="lost_response", path="^/token$", times=1))
    with pytest.raises(RetriableAPIError):
        tokens_for(idp, store, clock).access_token()
    assert store.load()["refresh_sent_for"]
    assert tokens_for(idp, store, clock).access_token()
    assert "refresh_sent_for" not in store.load() and idp.token_answers == 2


def test_a_lost_answer_after_a_rotation_says_what_happened_and_connect_repairs_it(idp, clock, tmp_path):
    store = TokenStore(tmp_path, "acme")
    idp.faults.add(Fault(kind="lost_response", path="^/token$", times=1))
    with pytest.raises(RetriableAPIError):
        tokens_for(idp, store, clock).access_token()  # the server rotated refresh-0; the answer never came
    for _ in range(2):  # every later run says the same, exactly
        with pytest.raises(AuthenticationError) as info:
            tokens_for(idp, store, clock).access_token()
        text = str(info.value)
        assert "got no answer" in text and "reconnect with `connex connect acme`" in text and "refresh-0" not in text
    tokens = tokens_for(idp, store, clock)
    connect(tokens, port=free_port(), echo=browser([]))
    assert "refresh_sent_for" not in store.load() and tokens_for(idp, store, clock).access_token()
