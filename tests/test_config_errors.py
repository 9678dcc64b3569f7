"""Config and state mistakes that used to end in "unexpected error" (exit 1) or in a message blaming
the API (issue 15, finding 7): each is now exit 4 with the file, the key and the real cause."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connex_core.cli import app
from connex_core.config import load_config
from connex_core.engine import SyncEngine
from connex_core.errors import ConfigurationError
from connex_core.plugins import PluginManager, set_manager
from connex_core.state import SQLiteStore
from connex_core.tokens import TokenStore
from tests.test_config_check import CONNECTIONS, closed_port

runner = CliRunner()
CONNEX = str(Path(sys.executable).with_name("connex"))
MEMORY = """
[connections.src]
type = "memory"
[connections.dst]
type = "memory"
[tasks.orders]
source = "src"
target = "dst"
"""


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


def both(*args: str) -> tuple:
    """``connex config check`` and ``connex run --dry-run`` on the same config: (check, run)."""
    check = runner.invoke(app, ["config", "check", *args])
    run = runner.invoke(app, ["run", "--dry-run", *args])
    return check, run


def assert_refused(check, run, expected: str) -> None:
    assert check.exit_code == 4, check.output
    assert lines(check.stderr) == [expected, "1 problem in connex.toml"]
    assert run.exit_code == 4, run.output
    assert lines(run.stderr) == [f"error: {expected}"]
    assert "unexpected error" not in check.output + run.output


def test_a_config_that_is_not_utf8_is_named_as_such(manager, tmp_path):
    (tmp_path / "connex.toml").write_bytes(MEMORY.encode() + b'[tasks.orders.source_options]\nstatus = "caf\xe9"\n')
    assert_refused(*both("--config", "connex.toml"),
                   "connex.toml: not UTF-8 text (byte 0xe9 on line 10); save the file as UTF-8")


def test_a_config_path_that_is_a_folder(manager, tmp_path):
    (tmp_path / "connex.toml").mkdir()
    check, run = both("--config", "connex.toml")
    assert lines(check.stderr)[0] == "connex.toml: is a folder, not a config file" and check.exit_code == 4
    assert lines(run.stderr) == ["error: connex.toml: is a folder, not a config file"] and run.exit_code == 4


def test_a_state_path_that_is_a_folder(manager, tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "connex.toml").write_text('[state]\npath = "state"\n' + MEMORY)
    assert_refused(*both("--config", "connex.toml"),
                   f"connex.toml: state.path: {str(tmp_path / 'state')!r} is a folder; give a file name, such as connex.db")


def test_a_state_path_that_is_not_sqlite(manager, tmp_path):
    (tmp_path / "notes.txt").write_text("my shopping list\n")
    (tmp_path / "connex.toml").write_text('[state]\npath = "notes.txt"\n' + MEMORY)
    assert_refused(*both("--config", "connex.toml"),
                   f"connex.toml: state.path: {str(tmp_path / 'notes.txt')!r} is not an SQLite database (Connex keeps "
                   "its state in one); point state.path at a new file, or at the state file Connex wrote")
    assert (tmp_path / "notes.txt").read_text() == "my shopping list\n"  # untouched


def test_a_state_path_under_a_file(manager, tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "connex.toml").write_text('[state]\npath = "afile/connex.db"\n' + MEMORY)
    assert_refused(*both("--config", "connex.toml"),
                   f"connex.toml: state.path: cannot create {str(tmp_path / 'afile' / 'connex.db')!r}: "
                   f"{str(tmp_path / 'afile')!r} is a file, not a folder")


def test_a_state_file_written_by_connex_is_accepted(manager, tmp_path):
    SQLiteStore(tmp_path / "connex.db").close()
    (tmp_path / "connex.toml").write_text(MEMORY)
    check, run = both("--config", "connex.toml")
    assert (check.exit_code, run.exit_code) == (0, 0), check.output + run.output


def test_a_state_folder_this_user_cannot_write_in(tmp_path):
    """Run as a user without write access (as root: the installed connex as 'nobody', whom the mode binds)."""
    folder = Path(tempfile.mkdtemp(prefix="connex-perm-"))
    try:
        os.chmod(folder, 0o755)
        (folder / "state").mkdir(mode=0o755)
        (folder / "connex.toml").write_text('[state]\npath = "state/connex.db"\n' + CONNECTIONS +
                                            '[tasks.t]\nsource = "shipstation"\ntarget = "quickbooks"\n')
        os.chmod(folder / "connex.toml", 0o644)
        kwargs = {}
        if os.geteuid() == 0:
            kwargs = {"user": 65534, "group": 65534}
        else:
            os.chmod(folder / "state", 0o555)
        env = {**os.environ, "CC_SECRET": "secret-value-for-tests", "HOME": str(folder)}
        expected = (f"connex.toml: state.path: cannot write in the folder {str(folder / 'state')!r} (SQLite keeps its "
                    "journal beside the state file); choose a folder this user can write in")
        for args, prefix in ((["config", "check"], ""), (["run", "--dry-run"], "error: ")):
            p = subprocess.run([CONNEX, *args, "--config", "connex.toml"], cwd=folder, env=env, capture_output=True,
                               text=True, timeout=120, **kwargs)
            assert p.returncode == 4, p.stderr
            assert lines(p.stderr)[0] == prefix + expected
    finally:
        os.chmod(folder / "state", 0o755)
        shutil.rmtree(folder)


@pytest.fixture
def plugins(monkeypatch):
    monkeypatch.setenv("CC_SECRET", "secret-value-for-tests")
    manager = PluginManager().load()
    set_manager(manager)
    return manager


def test_timeout_zero_is_refused_at_load_with_its_key(plugins, tmp_path):
    """It was reported as "shipstation sent a record Connex could not read"."""
    (tmp_path / "connex.toml").write_text(
        CONNECTIONS.replace('base_url = "http://127.0.0.1', 'timeout = 0\nbase_url = "http://127.0.0.1', 1)
        + '[tasks.t]\nsource = "shipstation"\ntarget = "quickbooks"\n')
    assert_refused(*both("--config", "connex.toml"),
                   "connex.toml: connections.shipstation.timeout: Input should be greater than 0")


XERO_TASK = '[tasks.t]\nsource = "xero"\ntarget = "shipstation"\n'


def damage(tmp_path) -> Path:
    path = tmp_path / ".connex" / "xero.tokens.json"
    path.parent.mkdir()
    path.write_text('{"access_token": "eyJhbGciOi-secret-access", "refresh_token": "rt-se')  # cut off mid-write
    path.chmod(0o600)  # as Connex writes it (a file readable by others would add a warning of its own)
    return path


def test_a_damaged_token_file_is_named_with_its_repair(plugins, tmp_path):
    """It was reported as "xero sent a record Connex could not read"."""
    (tmp_path / "connex.toml").write_text(CONNECTIONS + XERO_TASK)
    tokens = damage(tmp_path)
    assert_refused(*both("--config", "connex.toml"),
                   f"connex.toml: connections.xero: {tokens}: the token file of connection 'xero' is damaged (not valid "
                   "JSON at line 1, column 63: unterminated string; it looks cut off); connect "
                   "again with `connex connect xero`, which sets it aside and stores new tokens")


def test_a_damaged_token_file_met_during_a_run_is_a_config_error_not_an_api_error(plugins, tmp_path):
    """What ``connex serve`` meets when the file is damaged after it started: the engine stops with the same cause."""
    (tmp_path / "connex.toml").write_text(CONNECTIONS + XERO_TASK)
    cfg = load_config(tmp_path / "connex.toml")
    tokens = damage(tmp_path)
    store = SQLiteStore(cfg.state_path)
    engine = SyncEngine(cfg, plugins, store, dry_run=True)
    try:
        with pytest.raises(ConfigurationError) as info:
            engine.run_task("t")
    finally:
        engine.close()
        store.close()
    assert str(info.value).startswith(f"{tokens}: the token file of connection 'xero' is damaged (not valid JSON")
    assert "connex connect xero" in str(info.value)
    assert "secret" not in str(info.value)
    assert info.value.exit_code == 4


@pytest.mark.parametrize("content,why", [
    (b"", "it is empty"),
    (b'{"access_token": "a",}', "not valid JSON at line 1, column 22: expecting property name enclosed in double quotes"),
    (b'["a"]', "it holds a JSON list, not an object"),
    (b'{"access_token": "\xff"}', "it is not UTF-8 text"),
])
def test_token_files_damaged_in_other_ways(tmp_path, content, why):
    store = TokenStore(tmp_path, "quickbooks")
    store.path.write_bytes(content)
    with pytest.raises(ConfigurationError, match="damaged") as info:
        store.load()
    assert f"is damaged ({why}); connect again with `connex connect quickbooks`" in str(info.value)
    assert info.value.file == str(store.path)


def test_connect_sets_a_damaged_token_file_aside(tmp_path):
    store = TokenStore(tmp_path, "xero")
    assert store.set_aside_if_damaged() is None  # no file: nothing to do
    store.save({"refresh_token": "r"})
    assert store.set_aside_if_damaged() is None and store.load() == {"refresh_token": "r"}  # a good file stays
    store.path.write_text('{"refresh_token": ')
    aside = store.set_aside_if_damaged()
    assert aside == tmp_path / "xero.tokens.json.damaged" and aside.read_text() == '{"refresh_token": '
    assert store.load() is None  # connect now stores new tokens over nothing
    store.save({"refresh_token": "new"})
    assert store.load() == {"refresh_token": "new"}


def test_a_closed_port_is_closed():
    """The premise of the "no network call" tests: nothing answers on the port their URLs use."""
    import socket

    port = closed_port()
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", port))


@pytest.mark.parametrize("connection,line,expected", [
    ("xero", "redirect_port = 70000", "connections.xero.redirect_port: Input should be less than or equal to 65535"),
    ("xero", "max_retries = 0", "connections.xero.max_retries: Input should be greater than or equal to 1"),
    ("xero", "due_days = -3", "connections.xero.due_days: Input should be greater than or equal to 0"),
    ("quickbooks", "redirect_port = -1", "connections.quickbooks.redirect_port: Input should be greater than or equal to 0"),
    ("shipstation", "timeout = nan", "connections.shipstation.timeout: must be a finite number (not nan or inf)"),
    ("shipstation", "timeout = 1e308", "connections.shipstation.timeout: Input should be less than or equal to 600"),
])
def test_connection_numbers_out_of_range_are_refused(plugins, tmp_path, connection, line, expected):
    marker = f'[connections.{connection}]\ntype = "{connection}"\n'
    assert marker in CONNECTIONS
    (tmp_path / "connex.toml").write_text(CONNECTIONS.replace(marker, marker + line + "\n")
                                          + '[tasks.t]\nsource = "shipstation"\ntarget = "quickbooks"\n')
    assert_refused(*both("--config", "connex.toml"), f"connex.toml: {expected}")
