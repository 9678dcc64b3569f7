"""Errors as behaviour.

Every error Connex raises on purpose is a :class:`ConnexError`. Its ``exit_code`` is what the
command line exits with, and the sync engine decides what to do from its class:

* :class:`RetriableAPIError`: the engine (or the client) waits and tries again;
* :class:`OrderError`: this order failed; it is recorded with its reason and the run goes on;
* :class:`FatalAPIError` / :class:`AuthenticationError`: the task stops with a clear message.

Messages never contain secrets: build them from what the user needs (which connection, which
order, what to do), never from full request URLs, headers or bodies.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of the ``connex`` command (contract: DESIGN "Command line")."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    RULE_ERROR = 3
    CONFIG_ERROR = 4
    ORDERS_FAILED = 5
    FATAL_API = 6


class ConnexError(Exception):
    """Root of every error Connex raises on purpose."""

    exit_code: ExitCode = ExitCode.UNEXPECTED


class UsageError(ConnexError):
    """The command was called wrongly (a missing file, an unknown task name...)."""

    exit_code = ExitCode.USAGE


class ConfigurationError(ConnexError):
    """The config is wrong. The message names the file, the key and what was expected."""

    exit_code = ExitCode.CONFIG_ERROR

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        self.message = message
        self.file = file
        self.key = key
        where = ""
        if file and key:
            where = f"{file}: {key}: "
        elif file:
            where = f"{file}: "
        elif key:
            where = f"{key}: "
        super().__init__(f"{where}{message}")

    def under(self, prefix: str) -> "ConfigurationError":
        """The same complaint with ``prefix`` put before its key (``source_options.x`` under ``tasks.NAME``
        is ``tasks.NAME.source_options.x``): who raised it may know only part of where the key lives."""
        key = f"{prefix}.{self.key}" if self.key else prefix
        return ConfigurationError(self.message, file=self.file, key=key)


class PluginError(ConnexError):
    """A plugin is broken: a duplicate connector name, a bad hook implementation, an unknown name."""

    exit_code = ExitCode.CONFIG_ERROR


class RuleError(ConnexError):
    """Root of rule-language errors (syntax, checking, evaluation)."""

    exit_code = ExitCode.RULE_ERROR


class ConnectorError(ConnexError):
    """Root of errors raised by a connector while talking to its API."""

    exit_code = ExitCode.FATAL_API

    def __init__(self, message: str, *, connector: str | None = None, status: int | None = None):
        self.connector = connector
        self.status = status
        super().__init__(message)


class RetriableAPIError(ConnectorError):
    """A transient failure (429, 5xx, timeout, dropped connection): try again later.

    ``retry_after`` is the number of seconds the API asked us to wait, when it said.
    """

    def __init__(self, message: str, *, connector: str | None = None, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message, connector=connector, status=status)
        self.retry_after = retry_after


class FatalAPIError(ConnectorError):
    """The API refused in a way retrying will not fix; the task stops."""


class AuthenticationError(FatalAPIError):
    """The credential is missing, expired or revoked. The message says how to reconnect."""


class RateLimitExhausted(FatalAPIError):
    """A quota that does not reset soon (Xero's day limit) is used up; the task resumes later."""

    def __init__(self, message: str, *, connector: str | None = None, resume_at=None):
        super().__init__(message, connector=connector, status=429)
        self.resume_at = resume_at


class OrderError(ConnectorError):
    """One order (or shipment) cannot be written; the run records it and goes on with the others."""

    exit_code = ExitCode.ORDERS_FAILED

    def __init__(self, message: str, *, order_key: str | None = None, connector: str | None = None,
                 status: int | None = None, code: str | None = None):
        super().__init__(message, connector=connector, status=status)
        self.order_key = order_key
        self.code = code


class DryRunWriteError(ConnexError):
    """A connector's write method was called in dry-run mode. This is a bug, never a user error."""

    exit_code = ExitCode.UNEXPECTED


class WebhookRejected(ConnexError):
    """A webhook's signature or secret did not verify; it is refused and logged."""

    exit_code = ExitCode.USAGE
