"""Config: validation errors name the file and key; secrets by reference; secrets redacted."""

from __future__ import annotations

import logging

import pytest

from connex_core.config import REDACTOR, RedactingFilter, load_config
from connex_core.errors import ConfigurationError


def test_secrets_come_from_the_environment_or_a_file(manager, write_config, tmp_path, monkeypatch):
    monkeypatch.setenv("MEM_TOKEN", "env-secret-value-1")
    (tmp_path / "token.txt").write_text("file-secret-value-2\n")
    path = write_config("""
        [connections.a]
        type = "memory"
        token = { env = "MEM_TOKEN" }
        [connections.b]
        type = "memory"
        token = { file = "token.txt" }
    """)
    cfg = load_config(path)
    assert cfg.connection_settings("a", manager).token.get_secret_value() == "env-secret-value-1"
    assert cfg.connection_settings("b", manager).token.get_secret_value() == "file-secret-value-2"
    assert REDACTOR("token env-secret-value-1 and file-secret-value-2") == "token *** and ***"


def test_a_missing_environment_variable_names_the_key(manager, write_config, monkeypatch):
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    path = write_config("""
        [connections.a]
        type = "memory"
        token = { env = "NOPE_TOKEN" }
    """)
    with pytest.raises(ConfigurationError) as info:
        load_config(path).connection_settings("a", manager)
    assert str(info.value) == f"{path.resolve()}: connections.a.token: environment variable NOPE_TOKEN is not set (expected the secret here)"


def test_an_unknown_key_and_a_wrong_type_are_named(manager, write_config):
    path = write_config("""
        [connections.a]
        type = "memory"
        spaec = "x"
        timeout = "soon"
    """)
    with pytest.raises(ConfigurationError) as info:
        load_config(path).connection_settings("a", manager)
    text = str(info.value)
    assert "connections.a.spaec: unknown key" in text
    assert "connections.a.timeout: Input should be a valid number" in text
    assert str(path.resolve()) in text


def test_a_task_error_names_the_key(write_config):
    path = write_config("""
        [tasks.t]
        source = "a"
        kind = "sometimes"
    """)
    with pytest.raises(ConfigurationError) as info:
        load_config(path)
    text = str(info.value)
    assert "tasks.t.target: required key is missing" in text
    assert "tasks.t.kind: 'sometimes' is not one of orders, tracking, daily_summary" in text


def test_broken_toml_names_the_file_and_line(write_config):
    path = write_config("[connections.a\ntype = 1\n")
    with pytest.raises(ConfigurationError, match=r"connex.toml: not valid TOML: .*line 1"):
        load_config(path)


def test_an_unknown_connector_type_lists_the_installed_ones(manager, write_config):
    path = write_config("""
        [connections.a]
        type = "shopfiy"
    """)
    with pytest.raises(ConfigurationError, match=r"connections.a.type: no connector named 'shopfiy' \(installed: memory\)"):
        load_config(path).connection_settings("a", manager)


def test_log_records_are_redacted(caplog):
    REDACTOR.add("sk_live_abcdef123456")
    logger = logging.getLogger("connex.test")
    handler_filter = RedactingFilter()
    record = logger.makeRecord("connex.test", logging.WARNING, __file__, 1, "auth failed for %s", ("sk_live_abcdef123456",), None)
    handler_filter.filter(record)
    assert record.getMessage() == "auth failed for ***"
