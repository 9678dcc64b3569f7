"""The console's locks: no password, no console; login rate-limited; signed HttpOnly SameSite=Strict sessions;
CSRF on every POST; no secret in any page; no listening beyond loopback without a password."""

from __future__ import annotations

import os
import stat

import requests
from typer.testing import CliRunner

from connex_core.cli import app
from connex_core.console import ConsoleSecrets, secrets_path
from connex_core.console.auth import verify_password

from .conftest import PASSWORD, csrf_of

runner = CliRunner()


def nothing_queued(server) -> bool:
    """No run was queued: once every run the server queued has finished (a refused request that queued one
    anyway is queued before it is answered), the store still holds only the first run."""
    return server.wait_idle(30) and len(server.store.runs("orders")) == 1


def test_no_password_means_no_console_and_the_page_says_how_to_set_one(served):
    for path in ("/", "/log", "/login", "/rules"):
        r = requests.get(f"{served.url}{path}", timeout=10, allow_redirects=False)
        assert r.status_code == 503 and "connex console set-password --config" in r.text
        assert "orders" not in r.text.split("<main>")[1]  # no task shown
    r = requests.post(f"{served.url}/tasks/orders/run", timeout=10)
    assert r.status_code == 503 and nothing_queued(served)
    # the webhooks and /health are not behind the console
    assert requests.get(f"{served.url}/health", timeout=10).json()["ok"] is True


def test_set_password_stores_an_scrypt_hash_owner_only(console_config):
    result = runner.invoke(app, ["console", "set-password", "--config", str(console_config), "--stdin"],
                           input="s3cret-enough\n")
    assert result.exit_code == 0, result.output
    path = secrets_path(console_config)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    assert "s3cret-enough" not in text
    stored = __import__("json").loads(text)
    assert stored["password"].startswith("scrypt$16384$8$1$") and len(stored["secret"]) == 64
    assert verify_password("s3cret-enough", stored["password"]) and not verify_password("s3cret-enougH", stored["password"])
    # two hashes of one password differ (random salt)
    runner.invoke(app, ["console", "set-password", "--config", str(console_config), "--stdin"], input="s3cret-enough\n")
    assert __import__("json").loads(path.read_text())["password"] != stored["password"]


def test_a_short_password_is_refused(console_config):
    result = runner.invoke(app, ["console", "set-password", "--config", str(console_config), "--stdin"], input="short\n")
    assert result.exit_code == 4 and "at least 8 characters" in result.output
    assert not ConsoleSecrets(secrets_path(console_config)).password_set


def test_pages_need_a_session(served, with_password):
    r = requests.get(f"{served.url}/log", timeout=10, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/log"
    r = requests.get(f"{served.url}/tasks/orders/progress", headers={"HX-Request": "true"}, timeout=10,
                     allow_redirects=False)
    assert r.status_code == 401 and r.headers["HX-Redirect"] == "/login"
    # a forged cookie (not signed with the stored key) is no session
    r = requests.get(f"{served.url}/", cookies={"connex_console": "eyJ1c2VyIjogImFkbWluIn0=.x.y"}, timeout=10,
                     allow_redirects=False)
    assert r.status_code == 303


def test_login_sets_an_httponly_samesite_strict_cookie(served, with_password):
    s = requests.Session()
    page = s.get(f"{served.url}/login", timeout=10)
    r = s.post(f"{served.url}/login?next=/runs", data={"password": PASSWORD, "csrf": csrf_of(page.text)},
               timeout=10, allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/runs"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "connex_console=" in cookie
    assert s.get(f"{served.url}/runs", timeout=10).status_code == 200
    # an outside address in next= is not followed
    r = s.post(f"{served.url}/login?next=//evil.example/", data={"password": PASSWORD, "csrf": csrf_of(
        s.get(f"{served.url}/login", timeout=10).text)}, timeout=10, allow_redirects=False)
    assert r.headers["location"] == "/"


def test_login_without_the_form_token_is_refused(served, with_password):
    r = requests.post(f"{served.url}/login", data={"password": PASSWORD}, timeout=10, allow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in {k.lower() for k in r.headers if "user" in r.text}


def test_failed_logins_are_rate_limited_per_client(served, with_password):
    s = requests.Session()
    token = csrf_of(s.get(f"{served.url}/login", timeout=10).text)
    codes = [s.post(f"{served.url}/login", data={"password": f"wrong-{i}", "csrf": token}, timeout=10,
                    allow_redirects=False).status_code for i in range(5)]
    assert codes == [401] * 5
    r = s.post(f"{served.url}/login", data={"password": PASSWORD, "csrf": token}, timeout=10, allow_redirects=False)
    assert r.status_code == 429 and "Too many failed attempts" in r.text  # even the right password waits


def test_every_post_needs_the_csrf_token(client, served):
    url = f"{served.url}/rules/orders/0/check"
    bare = requests.Session()
    bare.cookies.update(client.cookies)
    r = bare.post(url, data={"text": "x"}, timeout=10)
    assert r.status_code == 403 and "security token" in r.text
    r = bare.post(url, data={"text": "x", "csrf": "not-the-token"}, timeout=10)
    assert r.status_code == 403
    r = bare.post(f"{served.url}/tasks/orders/run", timeout=10)
    assert r.status_code == 403 and nothing_queued(served)
    assert client.post(url, data={"text": "x"}, timeout=10).status_code == 200  # with the header htmx sends


def test_no_secret_reaches_the_browser(client, served):
    page = client.get(f"{served.url}/", timeout=10).text
    assert "tok-src-very-secret" not in page
    assert '<dt>token</dt><dd><span class="secret set">set</span>' in page
    for path in ("/log", "/runs", "/review", "/rules", "/rules/orders/0", "/orders/1001"):
        assert "tok-src-very-secret" not in client.get(f"{served.url}{path}", timeout=10).text


def test_logout_ends_the_session(client, served):
    token = client.headers["X-CSRF-Token"]
    r = client.post(f"{served.url}/logout", data={"csrf": token}, timeout=10, allow_redirects=False)
    assert r.status_code == 303
    assert client.get(f"{served.url}/", timeout=10, allow_redirects=False).status_code == 303


def test_serve_beyond_loopback_is_refused_without_a_password(manager, console_config):
    result = runner.invoke(app, ["serve", "--config", str(console_config), "--host", "0.0.0.0"])
    assert result.exit_code == 4 and "connex console set-password" in result.output
    result = runner.invoke(app, ["serve", "--config", str(console_config), "--host", "192.168.1.20"])
    assert result.exit_code == 4


def test_the_nothing_queued_check_sees_a_run_that_was_queued(client, served):
    """The check the refused requests above rely on fails when a request did queue a run."""
    r = client.post(f"{served.url}/tasks/orders/run", timeout=10)
    assert r.status_code == 200 and not nothing_queued(served)
