"""The command line: output contract, exit codes, no tracebacks for user errors, no secrets."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from connex_core import __version__
from connex_core.cli import app
from tests.support.memory_plugin import api, seed

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(args))


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"connex {__version__}"


def test_run_json_prints_one_summary_per_task_and_log_shows_every_order(manager, memory_config):
    seed("src", 12)
    result = invoke("run", "--json")
    assert result.exit_code == 0, result.output
    summaries = json.loads(result.stdout)
    assert [(s["task"], s["read"], s["created"], s["failed"]) for s in summaries] == [("orders", 12, 12, 0)]
    log = json.loads(invoke("log", "--json").stdout)
    assert len(log) == 12 and {e["outcome"] for e in log} == {"created"}
    assert all(e["target_id"].startswith("doc-") for e in log)
    one = json.loads(invoke("log", "--json", "--order", "1005").stdout)
    assert [e["order_number"] for e in one] == ["1005"]


def test_failed_orders_exit_5_and_log_filters_by_outcome(manager, memory_config):
    seed("src", 5)
    api("dst").reject_numbers = {"1002"}
    result = invoke("run")
    assert result.exit_code == 5
    assert "orders: read 5, created 4, failed 1" in result.stdout
    assert "connex log --outcome held" in result.stderr
    failed = invoke("log", "--outcome", "failed")
    assert failed.exit_code == 0
    assert "1002  failed: order 1002: item not found" in failed.stdout
    assert "1001" not in failed.stdout


def test_dry_run_reports_what_would_be_written(manager, memory_config):
    seed("src", 7)
    result = invoke("run", "--dry-run", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)[0]["would_create"] == 7
    assert api("dst").documents == {}


def test_a_config_error_exits_4_without_a_traceback(manager, write_config):
    write_config('[tasks.t]\nsource = "a"\n')
    result = invoke("run")
    assert result.exit_code == 4
    assert "tasks.t.target: required key is missing" in result.stderr
    assert "Traceback" not in result.output


def test_an_unknown_task_is_a_clear_error(manager, memory_config):
    result = invoke("run", "--task", "nope")
    assert result.exit_code == 4 and "no task named 'nope' (tasks: orders)" in result.stderr


def test_a_bad_date_is_a_usage_error(manager, memory_config):
    result = invoke("run", "--since", "15/09/2026")
    assert result.exit_code == 2 and "is not a date (YYYY-MM-DD)" in result.stderr


def test_a_revoked_credential_exits_6_with_how_to_reconnect(manager, memory_config):
    seed("src", 2)
    api("dst").revoked = True
    result = invoke("run")
    assert result.exit_code == 6
    assert "reconnect with `connex connect memory`" in result.stderr


def test_plugins_list_json_lists_the_built_in_connector_plugins():
    # the real, entry-point-loaded manager (the three plugins are installed)
    result = invoke("plugins", "list", "--json")
    assert result.exit_code == 0
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    for name in ("shipstation", "quickbooks", "xero"):
        assert plugins[name]["version"] and plugins[name]["connectors"] == [name]


def test_secrets_in_the_config_never_reach_output(manager, write_config, monkeypatch):
    monkeypatch.setenv("DST_TOKEN", "very-secret-token-123")
    write_config("""
        [connections.src]
        type = "memory"
        space = "src"
        [connections.dst]
        type = "memory"
        space = "dst"
        token = { env = "DST_TOKEN" }
        [tasks.orders]
        source = "src"
        target = "dst"
    """)
    seed("src", 2)
    api("dst").revoked = True
    for args in (("run",), ("run", "--json"), ("log", "--json"), ("connect", "dst")):
        result = invoke(*args)
        assert "very-secret-token-123" not in result.output


def _commands(group, prefix=()):
    import typer.main

    click_group = typer.main.get_command(group) if not hasattr(group, "commands") else group
    for name, cmd in click_group.commands.items():
        yield prefix + (name,), cmd
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, prefix + (name,))


def test_every_command_has_help_and_is_in_the_readme():
    readme = (__import__("pathlib").Path(__file__).resolve().parents[1] / "README.md").read_text()
    seen = []
    for path, cmd in _commands(app):
        assert (cmd.help or "").strip(), f"connex {' '.join(path)} has no help"
        result = invoke(*path, "--help")
        assert result.exit_code == 0, path
        if len(path) == 1:
            assert f"connex {path[0]}" in readme, f"connex {path[0]} is not in the README"
        seen.append(path)
    assert {("run",), ("log",), ("demo",), ("sandbox",), ("serve",), ("connect",), ("plugins", "list")} <= set(seen)


def test_every_run_warns_when_a_stored_refresh_token_ends_within_14_days(manager, memory_config):
    import time

    from connex_core.tokens import TokenStore

    seed("src", 1)
    store = TokenStore(memory_config.parent / ".connex", "dst")
    store.save({"access_token": "a", "refresh_token": "r", "refresh_expires_at": time.time() + 10 * 86400 + 60})
    result = invoke("run")
    assert result.exit_code == 0, result.output
    assert "warning: the refresh token of connection 'dst' expires on" in result.stderr
    assert "in 10 days" in result.stderr and "connex connect dst" in result.stderr
    assert "'src'" not in result.stderr  # no tokens stored for it: nothing to say
    store.save({"access_token": "a", "refresh_token": "r", "refresh_expires_at": time.time() + 30 * 86400})
    assert "warning" not in invoke("run").stderr
