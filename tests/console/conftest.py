"""A running ``connex serve`` (memory connectors) with its console, and a logged-in HTTP client."""

from __future__ import annotations

import re
import textwrap
import time

import pytest
import requests

from connex_core.config import load_config
from connex_core.console import ConsoleSecrets, secrets_path
from connex_core.serve import Server
from tests.support.memory_plugin import api, seed

PASSWORD = "correct horse battery"

RULES = textwrap.dedent("""\
    # Console test rules.
    rule "web class":
      when total > 0 then set class = 'WEB'

    rule "checked by hand":
      when number == '1003' then hold 'checked by hand'
""")


@pytest.fixture
def console_config(write_config, tmp_path):
    (tmp_path / "src.token").write_text("tok-src-very-secret\n")  # a secret is given by reference, never inline
    (tmp_path / "src.token").chmod(0o600)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "orders.rules").write_text(RULES)
    return write_config("""
        # The console tests' config: its comments must survive the settings form.
        [connections.src]
        type = "memory"
        space = "src"
        token = { file = "src.token" }

        [connections.dst]
        type = "memory"
        space = "dst"

        [tasks.orders]
        source = "src"
        target = "dst"
        initial_days = 30
        every_minutes = 600   # ten hours: only the first run and Run now happen in a test
        rules = ["rules/orders.rules"]
    """)


@pytest.fixture
def with_password(console_config):
    ConsoleSecrets(secrets_path(console_config)).set_password(PASSWORD)
    return PASSWORD


@pytest.fixture
def served(manager, console_config):
    """``connex serve`` on a free loopback port; its first scheduled run has finished (5 orders, one held)."""
    seed("src", 5)
    api("dst")
    server = Server(load_config(console_config), manager, port=0, tick=0.05).start()
    try:
        deadline = time.monotonic() + 30
        while not server.runs and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.runs, "the first scheduled run did not finish"
        yield server
    finally:
        server.stop()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def login(url: str, password: str = PASSWORD) -> requests.Session:
    s = requests.Session()
    page = s.get(f"{url}/login", timeout=10)
    r = s.post(f"{url}/login", data={"password": password, "csrf": csrf_of(page.text)}, timeout=10,
               allow_redirects=False)
    assert r.status_code == 303, r.text
    s.headers["X-CSRF-Token"] = csrf_of(s.get(f"{url}/", timeout=10).text)
    return s


@pytest.fixture
def client(served, with_password):
    return login(served.url)
