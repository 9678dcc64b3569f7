"""Delivering one alert: by SMTP (``[alerts.email]``) and/or as a JSON POST (``[alerts] webhook_url``)."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import requests

from ..errors import ConnexError, ExitCode
from ..jsonutil import dumps
from ..secrets import REDACTOR
from .settings import AlertsConfig, EmailAlerts

log = logging.getLogger("connex.alerts")


class AlertNotSent(ConnexError):
    """No channel took the message (each one's reason in the message; secrets redacted)."""

    exit_code = ExitCode.FATAL_API


@dataclass
class Message:
    subject: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    """What the webhook's JSON carries besides ``subject`` and ``text``."""


def send_email(email: EmailAlerts, message: Message) -> None:
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = message.subject, email.sender, ", ".join(email.to)
    mail.set_content(message.text)
    if email.tls == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(email.host, email.port, timeout=email.timeout,
                                              context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(email.host, email.port, timeout=email.timeout)
    with smtp:
        if email.tls == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if email.user:
            smtp.login(email.user, email.password.get_secret_value() if email.password else "")
        smtp.send_message(mail)


def post_webhook(url: str, message: Message, timeout: float = 15.0) -> None:
    body = dumps({"subject": message.subject, "text": message.text, **message.data})
    answer = requests.post(url, data=body.encode(), headers={"Content-Type": "application/json",
                                                             "User-Agent": "connex-alerts"}, timeout=timeout)
    if answer.status_code >= 300:
        raise OSError(f"the webhook answered {answer.status_code}")


def deliver(alerts: AlertsConfig, message: Message) -> list[str]:
    """Send ``message`` on every configured channel; the channels that took it. Raises :class:`AlertNotSent`
    when none did (a channel that failed while another worked is named in the log by the caller)."""
    sent, errors = [], []
    if alerts.email is not None:
        try:
            send_email(alerts.email, message)
            sent.append("email")
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            errors.append(f"e-mail via {alerts.email.host}:{alerts.email.port}: {type(exc).__name__}: {exc}")
    if alerts.webhook_url is not None:
        try:
            post_webhook(alerts.webhook_url, message)
            sent.append("webhook")
        except (OSError, requests.RequestException) as exc:
            errors.append(f"webhook: {type(exc).__name__}: {exc}")
    if errors and not sent:
        raise AlertNotSent(REDACTOR("alert not sent: " + "; ".join(errors)))
    if errors:
        log.warning("%s", REDACTOR(f"alert sent by {', '.join(sent)} only: {'; '.join(errors)}"))
    return sent
