"""``[alerts]``: where Connex tells a person that something needs a look (docs/config.md, docs/operations.md).

::

    [alerts]
    webhook_url = "https://hooks.example.com/connex"   # a JSON POST per message
    quiet_days = 2              # a task that reads orders but has read none for this many days
    min_interval_minutes = 60   # at most one message per task in this time; later ones are gathered into the next

    [alerts.email]
    host = "smtp.example.com"
    port = 587
    tls = "starttls"            # starttls | ssl | none
    from = "connex@example.com"
    to = ["books@example.com"]
    user = "connex@example.com"
    password = { env = "SMTP_PASSWORD" }    # a secret: by reference only ({ env } or { file })

The password is resolved when the config is read (:func:`connex_core.config.read_config`), kept as a
``SecretStr`` and handed to the redactor: it never appears in output, logs or the state store.
"""

from __future__ import annotations

from typing import Literal, Optional
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def https_unless_loopback(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        raise ValueError("must be an https:// URL (plain http only on this machine: 127.0.0.1 or localhost)")
    if not parts.hostname:
        raise ValueError("must name a host (https://host/path)")
    return value


class EmailAlerts(BaseModel):
    """``[alerts.email]``: messages by SMTP."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    host: str = Field(min_length=1, description="The SMTP server's host name.")
    port: int = Field(587, ge=1, le=65535, description="The SMTP server's port (587 with starttls, 465 with ssl).")
    tls: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls (upgrade the connection, port 587), ssl (TLS from the start, port 465), "
                                "or none (only for a server on this machine).")
    sender: str = Field(alias="from", pattern=r"^[^@\s]+@[^@\s]+$", description="The From address.")
    to: list[str] = Field(min_length=1, description="Who gets the messages (one or more addresses).")
    user: Optional[str] = Field(None, description="The SMTP login, when the server asks for one.")
    password: Optional[SecretStr] = Field(None, description="The SMTP password, by reference: { env = \"NAME\" } "
                                                            "or { file = \"path\" }; never inline.")
    timeout: float = Field(30.0, gt=0, le=300, allow_inf_nan=False, description="Seconds before the SMTP server is given up on.")

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [a for a in value if "@" not in a or any(c.isspace() for c in a)]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(bad)}")
        return value


class AlertsConfig(BaseModel):
    """``[alerts]``: after a run with failures, held orders or a fatal error, and when a task goes quiet."""

    model_config = ConfigDict(extra="forbid")
    email: Optional[EmailAlerts] = Field(None, description="Send alerts by e-mail ([alerts.email]).")
    webhook_url: Optional[str] = Field(None, description="POST each alert as JSON to this URL (https; http only on loopback).")
    quiet_days: Optional[float] = Field(None, gt=0, le=365, allow_inf_nan=False,
                                        description="Alert when a task that reads orders has read none for this many days "
                                                    "(unset: no such alert).")
    min_interval_minutes: float = Field(60.0, ge=0, le=10080, allow_inf_nan=False,
                                        description="At most one message per task in this many minutes; what happens "
                                                    "meanwhile is gathered into the next message.")

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else https_unless_loopback(value)

    @property
    def enabled(self) -> bool:
        return self.email is not None or self.webhook_url is not None
