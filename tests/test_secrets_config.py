"""Secrets are what the settings models say (``SecretStr`` fields): given by reference, never inline; redacted
because the model says so, not because of the key's name; and the files holding secrets or customer data are
kept owner-only (issue 15, item 8)."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
from pydantic import SecretStr

from connex_core.config import REDACTOR, load_config
from connex_core.connector import ConnectorSettings
from connex_core.errors import ConfigurationError, ExitCode
from connex_core.plugins import PluginManager
from connex_core.secrets import redact_settings, secret_fields, tighten
from connex_core.state import SQLiteStore
from connex_core.tokens import TokenStore

CONNEX = str(Path(sys.executable).with_name("connex"))


class OddSettings(ConnectorSettings):
    """Secret-ness by type, whatever the names: ``pin`` is a secret, ``api_key_hint`` is not."""

    type: str = "odd"
    pin: SecretStr
    backup_pins: list[SecretStr] = []
    maybe: Optional[SecretStr] = None
    api_key_hint: str = ""
    token_url: str = "https://example.test/token"


def test_secret_fields_are_the_fields_typed_secretstr():
    assert secret_fields(OddSettings) == ["pin", "backup_pins", "maybe"]


@pytest.fixture(scope="module")
def installed():
    return PluginManager().load()


def test_every_plugin_declares_its_secrets_in_its_settings_model(installed):
    """The secrets issue 12 lists, as each plugin's model declares them (and nothing that is not one)."""
    found = {name: set(secret_fields(cls.settings_model)) for name, cls in installed.connectors.items()}
    assert {"api_key", "api_secret", "webhook_secret"} == found["shipstation"]
    assert {"client_secret", "refresh_token", "verifier_token"} == found["quickbooks"]
    assert {"client_secret", "refresh_token", "webhook_key"} == found["xero"]


def test_redaction_follows_the_model_not_the_key_name():
    settings = OddSettings(pin="4321-pin-value", api_key_hint="visible-hint-value", backup_pins=["second-pin-99"])
    redact_settings(settings)
    assert REDACTOR("4321-pin-value second-pin-99 visible-hint-value") == "*** *** visible-hint-value"


def _connections(installed, folder: Path, inline: tuple[str, str]) -> str:
    """A config with one connection of the connector ``inline[0]``: every secret by file reference, except
    ``inline[1]``, written inline."""
    connector, key = inline
    model = installed.connector(connector).settings_model
    lines = [f"[connections.c1]", f'type = "{connector}"']
    for name, info in model.model_fields.items():
        if name == key:
            lines.append(f'{name} = "inline-{connector}-{name}-value"')
        elif name in secret_fields(model):
            (folder / f"{name}.txt").write_text("from-a-file-1234")
            lines.append(f'{name} = {{ file = "{name}.txt" }}')
        elif info.is_required() and name != "type":
            lines.append(f'{name} = "x"')
    return "\n".join(lines) + "\n"


def _every_secret(installed):
    return [(c, k) for c, cls in sorted(installed.connectors.items()) for k in secret_fields(cls.settings_model)]


@pytest.mark.parametrize("connector,key", _every_secret(PluginManager().load()))
def test_an_inline_secret_is_refused_with_file_key_and_the_reference_form(installed, tmp_path, connector, key):
    path = tmp_path / "connex.toml"
    path.write_text(_connections(installed, tmp_path, (connector, key)))
    cfg = load_config(path)
    with pytest.raises(ConfigurationError) as caught:
        cfg.connection_settings("c1", installed)
    message = str(caught.value)
    assert caught.value.exit_code == ExitCode.CONFIG_ERROR == 4
    assert message.startswith(f"{path.resolve()}: connections.c1.{key}: a secret cannot be written inline")
    assert f'{key} = {{ env = "C1_{key.upper()}" }}' in message
    assert f'{key} = {{ file = "secrets/c1.{key}" }}' in message
    value = f"inline-{connector}-{key}-value"
    assert value not in message and REDACTOR(f"x {value}") == "x ***"


def test_an_inline_secret_in_a_list_of_secrets_is_refused_too(tmp_path):
    from connex_core.secrets import refuse_inline_secrets

    (tmp_path / "p.txt").write_text("pin-from-file")
    refuse_inline_secrets({"pin": {"file": "p.txt"}, "backup_pins": [{"env": "X"}]}, OddSettings, connection="o",
                          file="c.toml")  # references only: accepted
    with pytest.raises(ConfigurationError, match=r"c.toml: connections.o.backup_pins: a secret cannot be written inline"):
        refuse_inline_secrets({"pin": {"file": "p.txt"}, "backup_pins": [{"env": "X"}, "inline-pin-5555"]},
                              OddSettings, connection="o", file="c.toml")
    assert REDACTOR("inline-pin-5555") == "***"


def test_the_same_config_with_the_secret_by_reference_loads(installed, tmp_path):
    """The refusal is about the inline value, not the key: every secret by reference is accepted."""
    path = tmp_path / "connex.toml"
    path.write_text(_connections(installed, tmp_path, ("shipstation", "")))
    settings = load_config(path).connection_settings("c1", installed)
    assert settings.api_key.get_secret_value() == "from-a-file-1234"


def test_connex_run_refuses_an_inline_secret_with_exit_4(tmp_path):
    (tmp_path / "s.txt").write_text("ss-secret-from-file")
    (tmp_path / "connex.toml").write_text("""
[connections.shop]
type = "shipstation"
api_key = "ssINLINE-77aa88bb"
api_secret = { file = "s.txt" }
base_url = "http://127.0.0.1:9/shipstation"

[connections.books]
type = "xero"
client_id = "id"
client_secret = { file = "s.txt" }

[tasks.t]
source = "shop"
target = "books"
""")
    p = subprocess.run([CONNEX, "run", "--dry-run", "--config", str(tmp_path / "connex.toml")], capture_output=True,
                       text=True, cwd=tmp_path, timeout=60)
    assert p.returncode == 4, p.stderr
    assert "connex.toml: connections.shop.api_key: a secret cannot be written inline in the config" in p.stderr
    assert 'api_key = { env = "SHOP_API_KEY" }' in p.stderr and 'api_key = { file = "secrets/shop.api_key" }' in p.stderr
    assert "ssINLINE-77aa88bb" not in p.stdout + p.stderr
    assert "Traceback" not in p.stderr


# -- files readable by others ---------------------------------------------------------------------------------

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def warnings_seen():
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger = logging.getLogger("connex.secrets")
    handler = Keep(level=logging.WARNING)
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)


def test_an_existing_state_file_readable_by_others_is_made_0600_with_a_warning(tmp_path, warnings_seen):
    path = tmp_path / "connex.db"
    SQLiteStore(path).close()
    assert _mode(path) == 0o600  # created owner-only
    assert warnings_seen == []
    os.chmod(path, 0o644)
    store = SQLiteStore(path)
    store.close()
    assert _mode(path) == 0o600
    assert warnings_seen == [f"state file {path} was readable by others (mode 0644); changed it to 0600"]
    SQLiteStore(path).close()
    assert len(warnings_seen) == 1  # an owner-only file draws no warning


def test_a_token_file_readable_by_others_is_made_0600_with_a_warning(tmp_path, warnings_seen):
    tokens = TokenStore(tmp_path, "books")
    tokens.save({"refresh_token": "rt-1"})
    assert _mode(tokens.path) == 0o600 and warnings_seen == []
    os.chmod(tokens.path, 0o640)
    assert tokens.load() == {"refresh_token": "rt-1"}
    assert _mode(tokens.path) == 0o600
    assert warnings_seen == [f"token file {tokens.path} was readable by others (mode 0640); changed it to 0600"]


def test_tighten_leaves_an_owner_only_or_missing_file_alone(tmp_path):
    private = tmp_path / "p"
    private.write_text("x")
    os.chmod(private, 0o400)
    assert tighten(private, "file") is False and _mode(private) == 0o400
    assert tighten(tmp_path / "missing", "file") is False


def test_the_warning_reaches_stderr_of_the_command_line(tmp_path):
    (tmp_path / "connex.toml").write_text('[state]\npath = "connex.db"\n')
    SQLiteStore(tmp_path / "connex.db").close()
    os.chmod(tmp_path / "connex.db", 0o644)
    p = subprocess.run([CONNEX, "log", "--config", str(tmp_path / "connex.toml")], capture_output=True, text=True,
                       cwd=tmp_path, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "was readable by others (mode 0644); changed it to 0600" in p.stderr
    assert _mode(tmp_path / "connex.db") == 0o600
