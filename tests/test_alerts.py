"""Alerts (``[alerts]``): a run with held or failed orders is told by e-mail (a real SMTP server on loopback,
aiosmtpd) and by a JSON POST (a loopback HTTP receiver); at most one message per task per interval, later ones
gathered into the next; a task gone quiet is told once; ``connex report --send`` sends the report. The SMTP
password is a secret: given by reference only, used for the login, never printed."""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from typer.testing import CliRunner

from connex_core.alerts.policy import after_run, state_key
from connex_core.alerts.settings import AlertsConfig
from connex_core.cli import app
from connex_core.state import SQLiteStore
from tests.support.memory_plugin import api, seed

runner = CliRunner()
PASSWORD = "smtp-pa55word-do-not-print"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """What the SMTP server received, and the logins it was given."""

    def __init__(self):
        self.messages, self.logins = [], []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=email_policy))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password.decode() == PASSWORD)


@pytest.fixture
def smtp():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), authenticator=box.authenticate,
                            auth_require_tls=False)
    controller.start()
    box.port = controller.port
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def hook():
    """A loopback HTTP receiver: the JSON bodies POSTed to it (answers ``hook.status``)."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(server.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.status, server.received = 200, received
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def alerts_config(write_config, tmp_path, smtp, hook, extra: str = "") -> None:
    (tmp_path / "hold.rules").write_text("when order.number == '1002' then hold 'check the address'\n")
    write_config(f"""
        [connections.src]
        type = "memory"
        space = "src"

        [connections.dst]
        type = "memory"
        space = "dst"

        [tasks.orders]
        source = "src"
        target = "dst"
        initial_days = 30
        rules = ["hold.rules"]

        [alerts]
        webhook_url = "{hook.url}"
        {extra}

        [alerts.email]
        host = "127.0.0.1"
        port = {smtp.port}
        tls = "none"
        from = "connex@shop.test"
        to = ["books@shop.test", "ops@shop.test"]
        user = "connex"
        password = {{ env = "CONNEX_TEST_SMTP_PASSWORD" }}
    """)


def test_a_run_with_held_and_failed_orders_is_told_once_and_later_news_is_gathered(
        manager, write_config, tmp_path, smtp, hook, monkeypatch):
    monkeypatch.setenv("CONNEX_TEST_SMTP_PASSWORD", PASSWORD)
    alerts_config(write_config, tmp_path, smtp, hook)
    seed("src", 3)
    api("dst").reject_numbers = {"1003"}
    first = runner.invoke(app, ["run"])
    assert first.exit_code == 5
    [mail] = smtp.messages
    assert smtp.logins == [("connex", PASSWORD)]  # the secret reached the server, by reference
    assert mail["Subject"] == "Connex: task orders needs a look"
    assert mail["To"] == "books@shop.test, ops@shop.test" and mail["From"] == "connex@shop.test"
    body = mail.get_content()
    assert "run #1: 1 failed, 1 held" in body
    assert "1002  held: check the address" in body and "1003  failed: order 1003: item not found" in body
    [posted] = hook.received
    assert posted["task"] == "orders" and posted["subject"] == mail["Subject"] and "run #1: 1 failed, 1 held" in posted["events"]
    assert PASSWORD not in first.stdout + first.stderr

    # Within the hour: nothing sent, the news kept.
    assert runner.invoke(app, ["run"]).exit_code == 5
    assert len(smtp.messages) == 1 and len(hook.received) == 1
    # Once the interval has passed (here: set to 0), the next run sends what was kept with its own news.
    alerts_config(write_config, tmp_path, smtp, hook, extra="min_interval_minutes = 0")
    assert runner.invoke(app, ["run"]).exit_code == 5
    assert len(smtp.messages) == 2 and len(hook.received) == 2
    gathered = smtp.messages[1].get_content()
    assert "run #2: 1 failed, 1 held" in gathered and "run #3: 1 failed, 1 held" in gathered
    assert hook.received[1]["events"][0].startswith("run #2")


def test_a_channel_that_fails_does_not_stop_the_other_nor_the_run(manager, write_config, tmp_path, smtp, hook,
                                                                  monkeypatch):
    monkeypatch.setenv("CONNEX_TEST_SMTP_PASSWORD", PASSWORD)
    smtp.port = free_port()  # the mail server is down
    alerts_config(write_config, tmp_path, smtp, hook)
    seed("src", 2)
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 5  # held: as without alerts
    assert smtp.messages == [] and len(hook.received) == 1  # the webhook took it
    assert "alert sent by webhook only: e-mail via 127.0.0.1" in result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    # Neither channel works: the run still ends as it would, the news is kept for the next message.
    hook.status = 500
    alerts_config(write_config, tmp_path, smtp, hook, extra="min_interval_minutes = 0")
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 5 and "alert not sent" in result.stderr and "the webhook answered 500" in result.stderr
    hook.status = 200
    assert runner.invoke(app, ["run"]).exit_code == 5
    assert [e for e in hook.received[-1]["events"] if e.startswith("run #")] == ["run #2: 1 held", "run #3: 1 held"]


def test_a_quiet_task_is_told_once_per_quiet_spell(tmp_path, smtp, hook):
    alerts = AlertsConfig.model_validate({"webhook_url": hook.url, "quiet_days": 2, "min_interval_minutes": 0})
    store = SQLiteStore(tmp_path / "state.db")
    t0 = datetime(2026, 9, 1, 8, tzinfo=timezone.utc)

    def run(n: int, read: int, days: float) -> list[str]:
        return after_run(alerts, store, {"task": "orders", "run_id": n, "status": "ok", "read": read},
                         t0 + timedelta(days=days))

    assert run(1, 5, 0) == [] and run(2, 0, 1) == []  # reading orders, then one quiet day: nothing to say
    assert run(3, 0, 2.5) == ["webhook"]
    assert "no orders read since 2026-09-01T08:00+00:00 (2 days; quiet_days = 2)" in hook.received[0]["events"][0]
    assert run(4, 0, 3) == [] and len(hook.received) == 1  # said once
    assert run(5, 7, 4) == [] and run(6, 0, 6.5) == ["webhook"]  # a new spell is told again
    assert json.loads(store.get_cursor(state_key("orders")))["last_read"] == (t0 + timedelta(days=4)).isoformat()


def test_report_send_mails_the_report(manager, write_config, tmp_path, smtp, hook, monkeypatch):
    monkeypatch.setenv("CONNEX_TEST_SMTP_PASSWORD", PASSWORD)
    alerts_config(write_config, tmp_path, smtp, hook)
    seed("src", 3, start=datetime(2026, 9, 15, 10, tzinfo=timezone.utc))
    day = ["--since", "2026-09-15", "--until", "2026-09-15"]
    assert runner.invoke(app, ["run", *day]).exit_code == 5
    sent_by_run = len(smtp.messages)
    result = runner.invoke(app, ["report", *day, "--send"])
    assert result.exit_code == 5 and "report sent (email, webhook)" in result.stderr
    mail = smtp.messages[sent_by_run]
    assert mail["Subject"] == "Connex report 2026-09-15: NOT ACCOUNTED FOR"
    assert "2026-09-15: 3 orders" in mail.get_content() and "held 1" in mail.get_content()
    report = hook.received[-1]
    assert report["accounted"] is False and report["report"][0]["days"][0]["held"] == 1


def test_report_send_without_alerts_is_a_usage_error(manager, memory_config):
    result = runner.invoke(app, ["report", "--since", "2026-09-15", "--send"])
    assert result.exit_code == 2 and "--send needs an [alerts] section" in result.stderr


@pytest.mark.parametrize("table, key, says", [
    ('[alerts.email]\nhost = "h"\nfrom = "a@b.c"\nto = ["x@y.z"]\npassword = "inline-secret-1"',
     "alerts.email.password", "a secret cannot be written inline"),
    ('[alerts.email]\nhost = "h"\nfrom = "a@b.c"\nto = ["x@y.z"]\npassword = { env = "CONNEX_TEST_UNSET_VAR" }',
     "alerts.email.password", "environment variable CONNEX_TEST_UNSET_VAR is not set"),
    ('[alerts.email]\nhost = "h"\nport = 70000\nfrom = "a@b.c"\nto = ["x@y.z"]', "alerts.email.port", "65535"),
    ('[alerts.email]\nhost = "h"\nfrom = "a@b.c"\nto = ["nobody"]', "alerts.email.to", "not an e-mail address"),
    ('[alerts]\nwebhook_url = "http://hooks.example.com/x"', "alerts.webhook_url", "must be an https:// URL"),
    ('[alerts]\nquiet_dayz = 2', "alerts.quiet_dayz", ""),
])
def test_config_check_names_each_bad_alerts_key(manager, write_config, table, key, says):
    write_config(table + "\n")
    result = runner.invoke(app, ["config", "check"])
    assert result.exit_code == 4, result.output
    assert f"connex.toml: {key}: " in result.stderr and says in result.stderr
    assert "inline-secret-1" not in result.stdout + result.stderr
