"""``connex config check`` and the check ``connex run`` makes first: every problem of a config, as
``FILE: KEY: message``, exit 4, before any network call.

The connections point at a closed loopback port: a check that needed the network would fail there
with a connection error (exit 6), not with the config line the tests expect.
"""

from __future__ import annotations

import json
import socket
import textwrap

import pytest
from typer.testing import CliRunner

from connex_core.cli import app
from connex_core.plugins import PluginManager, set_manager

runner = CliRunner()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = closed_port()
CONNECTIONS = f"""
[connections.shipstation]
type = "shipstation"
api_key = {{ env = "CC_SECRET" }}
api_secret = {{ env = "CC_SECRET" }}
base_url = "http://127.0.0.1:{PORT}/shipstation"

[connections.quickbooks]
type = "quickbooks"
client_id = "app"
client_secret = {{ env = "CC_SECRET" }}
realm_id = "1"
refresh_token = {{ env = "CC_SECRET" }}
base_url = "http://127.0.0.1:{PORT}/quickbooks"
token_url = "http://127.0.0.1:{PORT}/oauth/token"

[connections.xero]
type = "xero"
client_id = "app"
client_secret = {{ env = "CC_SECRET" }}
refresh_token = {{ env = "CC_SECRET" }}
base_url = "http://127.0.0.1:{PORT}"
"""


@pytest.fixture
def plugins(monkeypatch):
    """The installed plugins (ShipStation, QuickBooks, Xero) and their secrets in the environment."""
    monkeypatch.setenv("CC_SECRET", "secret-value-for-tests")
    manager = PluginManager().load()
    assert {"shipstation", "quickbooks", "xero"} <= set(manager.connectors)
    set_manager(manager)
    return manager


def config(tmp_path, tasks: str, connections: str = CONNECTIONS):
    path = tmp_path / "connex.toml"
    path.write_text(connections + textwrap.dedent(tasks))
    return path


def invoke(*args):
    return runner.invoke(app, list(args))


def check(tmp_path, tasks: str, connections: str = CONNECTIONS):
    config(tmp_path, tasks, connections)
    return invoke("config", "check", "--config", "connex.toml")


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


BAD_OPTIONS = [
    # ShipStation as a source: status and store_id
    ('source = "shipstation"\ntarget = "quickbooks"\nsource_options = { statuss = "shipped" }',
     "connex.toml: tasks.t.source_options.statuss: unknown option; did you mean 'status'? "
     "(options of shipstation as a source: status, store_id)"),
    ('source = "shipstation"\ntarget = "quickbooks"\nsource_options = { status = "shiped" }',
     "connex.toml: tasks.t.source_options.status: 'shiped' is not one of awaiting_payment, awaiting_shipment, "
     "pending_fulfillment, shipped, on_hold, cancelled, rejected_fulfillment"),
    ('source = "shipstation"\ntarget = "quickbooks"\nsource_options = { store_id = "main" }',
     "connex.toml: tasks.t.source_options.store_id: Input should be a valid integer, unable to parse string as an integer"),
    # ShipStation as a target reads no option
    ('source = "xero"\ntarget = "shipstation"\ntarget_options = { document = "invoice" }',
     "connex.toml: tasks.t.target_options.document: unknown option (shipstation as a target reads no options)"),
    # QuickBooks as a target
    ('source = "shipstation"\ntarget = "quickbooks"\ntarget_options = { customer_match = "emial" }',
     "connex.toml: tasks.t.target_options.customer_match: 'emial' is not one of display_name, email, company, fixed"),
    ('source = "shipstation"\ntarget = "quickbooks"\ntarget_options = { shiping_item = "Freight" }',
     "connex.toml: tasks.t.target_options.shiping_item: unknown option; did you mean 'shipping_item'? "
     "(options of quickbooks as a target: create_customers, create_payments, customer_match, deposit_account, "
     "document, fixed_customer, income_account, item_match, payment_method, shipping_item, tax_codes, tax_inclusive, unknown_items)"),
    ('source = "shipstation"\ntarget = "quickbooks"\ntarget_options = { document = "receipt" }',
     "connex.toml: tasks.t.target_options.document: 'receipt' is not one of auto, sales_receipt, invoice"),
    # QuickBooks as a source
    ('source = "quickbooks"\ntarget = "shipstation"\nsource_options = { page_size = 5000 }',
     "connex.toml: tasks.t.source_options.page_size: Input should be less than or equal to 1000"),
    ('source = "quickbooks"\ntarget = "shipstation"\nsource_options = { document_types = ["estimate"] }',
     "connex.toml: tasks.t.source_options.document_types.0: 'estimate' is not one of invoice, sales_receipt"),
    ('source = "quickbooks"\ntarget = "shipstation"\nsource_options = { clas = "Web" }',
     "connex.toml: tasks.t.source_options.clas: unknown option; did you mean 'class'? "
     "(options of quickbooks as a source: class, document_types, include_tracked, page_size)"),
    # Xero as a source
    ('source = "xero"\ntarget = "shipstation"\nsource_options = { statuses = ["PAYD"] }',
     "connex.toml: tasks.t.source_options.statuses: 'PAYD' is not one of DRAFT, SUBMITTED, AUTHORISED, PAID, VOIDED, "
     "DELETED"),
    ('source = "xero"\ntarget = "shipstation"\nsource_options = { statues = "PAID" }',
     "connex.toml: tasks.t.source_options.statues: unknown option; did you mean 'statuses'? "
     "(options of xero as a source: status, statuses)"),
    # Xero as a target
    ('source = "shipstation"\ntarget = "xero"\nkind = "tracking"\ntarget_options = { tracking_note = "sometimes" }',
     "connex.toml: tasks.t.target_options.tracking_note: 'sometimes' is not one of always, when_not_editable"),
    ('source = "shipstation"\ntarget = "xero"\ntarget_options = { tracking_notes = "always" }',
     "connex.toml: tasks.t.target_options.tracking_notes: unknown option; did you mean 'tracking_note'? "
     "(options of xero as a target: cancel_paid, payment_account, record_payments, tracking_note)"),
]


@pytest.mark.parametrize("task,expected", BAD_OPTIONS)
def test_a_bad_option_of_each_connector_is_named_by_config_check_and_run(plugins, tmp_path, task, expected):
    result = check(tmp_path, f"[tasks.t]\n{task}\n")
    assert result.exit_code == 4, result.output
    assert lines(result.stderr) == [expected, "1 problem in connex.toml"]
    assert result.stdout == ""
    for args in (("run", "--dry-run"), ("run",)):
        run = invoke(*args, "--config", "connex.toml")
        assert run.exit_code == 4, run.output
        assert lines(run.stderr) == [f"error: {expected}"]
        assert run.stdout == ""


BAD_ENGINE_KEYS = [
    ("date_field = \"paied\"",
     "connex.toml: tasks.t.date_field: 'paied' is not one of created, order, modified, paid "
     "(the dates shipstation can select orders by)"),
    ("kind = \"tracking\"\ntarget = \"xero\"\ndate_field = \"paid\"",
     "connex.toml: tasks.t.date_field: 'paid' is not one of created, modified, shipped, ship "
     "(the dates shipstation can select shipments by)"),
    ("kind = \"daily_summary\"\ntimezone = \"Pacific/Nowhere\"",
     "connex.toml: tasks.t.timezone: 'Pacific/Nowhere' is not a time zone name (IANA, such as America/Los_Angeles)"),
    ("kind = \"daily_summary\"\nsummary_date = \"paid\"",
     "connex.toml: tasks.t.summary_date: 'paid' is not one of created, shipped"),
    ("kind = \"daily_summary\"\nsummary_prefix = 7",
     "connex.toml: tasks.t.summary_prefix: Input should be a valid string"),
    ("summary_prefix = \"X-\"",
     "connex.toml: tasks.t.summary_prefix: orders tasks do not use summary_prefix (it is for daily_summary tasks)"),
    ("kind = \"tracking\"\ntarget = \"xero\"\non_cancel = \"hold\"",
     "connex.toml: tasks.t.on_cancel: tracking tasks do not use on_cancel (it is for orders tasks)"),
    ("on_cancel = \"delete\"",
     "connex.toml: tasks.t.on_cancel: 'delete' is not one of void, hold, ignore"),
    ("cancelled_orders = \"keep\"",
     "connex.toml: tasks.t.cancelled_orders: 'keep' is not one of skip, book"),
    ("kind = \"daily_summary\"\ndate_field = \"paid\"",
     "connex.toml: tasks.t.date_field: daily_summary tasks do not use date_field (it is for orders and tracking tasks)"),
    ("kind = \"weekly\"", "connex.toml: tasks.t.kind: 'weekly' is not one of orders, tracking, daily_summary"),
    ("every_minutes = 0", "connex.toml: tasks.t.every_minutes: Input should be greater than 0"),
    ("initial_days = 1e308", "connex.toml: tasks.t.initial_days: Input should be less than or equal to 3650"),
    ("initial_days = nan", "connex.toml: tasks.t.initial_days: must be a finite number (not nan or inf)"),
    ("initial_days = -1", "connex.toml: tasks.t.initial_days: Input should be greater than or equal to 0"),
    ("overlap_minutes = -99999999999", "connex.toml: tasks.t.overlap_minutes: Input should be greater than or equal to 0"),
    ("overlap_minutes = inf", "connex.toml: tasks.t.overlap_minutes: must be a finite number (not nan or inf)"),
    ("inital_days = 3", "connex.toml: tasks.t.inital_days: unknown key; did you mean 'initial_days'?"),
    ("rules = [\"nope.rules\"]", None),  # the path is absolute in the message: checked below
    ("target = \"quickbok\"",
     "connex.toml: tasks.t.target: no connection named 'quickbok' (connections: quickbooks, shipstation, xero)"),
    ("source = \"xero\"\nkind = \"tracking\"",
     "connex.toml: tasks.t.source: connector 'xero' cannot read shipments, which a tracking task needs of its source"),
]


@pytest.mark.parametrize("keys,expected", BAD_ENGINE_KEYS)
def test_each_engine_key_is_checked(plugins, tmp_path, keys, expected):
    table = {"source": '"shipstation"', "target": '"quickbooks"'}
    for line in keys.splitlines():
        name, value = line.split(" = ", 1)
        table[name] = value
    result = check(tmp_path, "[tasks.t]\n" + "".join(f"{k} = {v}\n" for k, v in table.items()))
    assert result.exit_code == 4, result.output
    if expected is None:
        expected = f"connex.toml: tasks.t.rules[0]: rule file {str(tmp_path / 'nope.rules')!r} not found"
    assert lines(result.stderr) == [expected, "1 problem in connex.toml"]
    run = invoke("run", "--dry-run", "--config", "connex.toml")
    assert (run.exit_code, lines(run.stderr)) == (4, [f"error: {expected}"])


def test_every_problem_is_reported_at_once_sorted_by_key(plugins, tmp_path):
    result = check(tmp_path, """
        [tasks.a]
        source = "shipstation"
        target = "quickbooks"
        initial_days = 1e308
        source_options = { statuss = "shipped" }
        target_options = { customer_match = "emial" }

        [tasks.b]
        source = "xero"
        target = "shipstation"
        target_options = { tracking_note = "always" }
    """, CONNECTIONS.replace('realm_id = "1"', 'realm_id = "1"\ntimeout = 0'))
    assert result.exit_code == 4
    keys = [line.split(": ")[1] for line in lines(result.stderr)[:-1]]
    assert keys == ["connections.quickbooks.timeout", "tasks.a.initial_days", "tasks.a.source_options.statuss",
                    "tasks.a.target_options.customer_match", "tasks.b.target_options.tracking_note"]
    assert lines(result.stderr)[-1] == "5 problems in connex.toml"


def test_json_output(plugins, tmp_path):
    config(tmp_path, '[tasks.t]\nsource = "shipstation"\ntarget = "quickbooks"\n'
                     'target_options = { customer_match = "emial" }\n')
    result = invoke("config", "check", "--config", "connex.toml", "--json")
    assert result.exit_code == 4
    assert json.loads(result.stdout) == {"ok": False, "file": "connex.toml", "problems": [
        {"file": "connex.toml", "key": "tasks.t.target_options.customer_match",
         "message": "'emial' is not one of display_name, email, company, fixed"}]}


def test_a_good_config_is_ok_with_counts(plugins, tmp_path):
    (tmp_path / "a.rules").write_text("rule 'big' when total > 1000 then hold 'check it'\n")
    result = check(tmp_path, """
        [tasks.orders]
        source = "shipstation"
        target = "quickbooks"
        rules = ["a.rules"]
        date_field = "paid"
        source_options = { status = "shipped", store_id = 12 }
        target_options = { document = "invoice", customer_match = "email" }
    """)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert lines(result.stderr) == ["ok: connex.toml: 3 connections, 1 task, 1 rule file"]
    assert invoke("config", "check", "--config", "connex.toml", "--json").stdout.strip().startswith('{\n  "ok": true')


def test_older_placements_of_the_engine_keys_are_accepted(plugins, tmp_path):
    """date_field and timezone in source_options, summary_* in target_options: moved to the task at load."""
    from connex_core.config import load_config

    path = config(tmp_path, """
        [tasks.summary]
        source = "shipstation"
        target = "quickbooks"
        kind = "daily_summary"
        source_options = { timezone = "America/New_York" }
        target_options = { summary_date = "shipped", summary_prefix = "DSS-", customer_match = "fixed" }

        [tasks.orders]
        source = "shipstation"
        target = "quickbooks"
        source_options = { date_field = "paid", status = "shipped" }
    """)
    assert invoke("config", "check", "--config", str(path)).exit_code == 0
    cfg = load_config(path)
    summary, orders = cfg.tasks["summary"], cfg.tasks["orders"]
    assert (summary.timezone, summary.summary_date, summary.summary_prefix) == ("America/New_York", "shipped", "DSS-")
    assert orders.date_field == "paid"
    assert summary.connector_options("target_options") == {"customer_match": "fixed"}
    assert orders.connector_options("source_options") == {"status": "shipped"}


def test_an_engine_key_given_twice_or_misplaced(plugins, tmp_path):
    result = check(tmp_path, """
        [tasks.t]
        source = "shipstation"
        target = "quickbooks"
        date_field = "paid"
        source_options = { date_field = "created" }
        [tasks.u]
        source = "shipstation"
        target = "quickbooks"
        target_options = { date_field = "paid" }
    """)
    assert result.exit_code == 4
    assert lines(result.stderr)[:-1] == [
        "connex.toml: tasks.t: date_field is given twice, as date_field = 'paid' and in source_options as 'created'; "
        "keep only date_field",
        "connex.toml: tasks.u.target_options.date_field: date_field is a key of the task, not a target option: "
        "write it as tasks.u.date_field",
    ]


def test_run_with_a_misspelt_choice_stops_before_any_network_call(plugins, tmp_path):
    """The finding of issue 12: a dry run passed with customer_match = "emial", the real run failed later."""
    config(tmp_path, '[tasks.t]\nsource = "shipstation"\ntarget = "quickbooks"\n'
                     'target_options = { customer_match = "emial" }\n')
    dry = invoke("run", "--dry-run", "--config", "connex.toml")
    assert dry.exit_code == 4
    assert lines(dry.stderr) == ["error: connex.toml: tasks.t.target_options.customer_match: "
                                 "'emial' is not one of display_name, email, company, fixed"]
    assert not (tmp_path / "connex.db").exists()  # nothing was opened either
    # The same config spelt right does go to the network: the closed port answers with a connection error.
    config(tmp_path, '[tasks.t]\nsource = "shipstation"\ntarget = "quickbooks"\n'
                     'target_options = { customer_match = "email" }\n')
    reached = invoke("run", "--dry-run", "--config", "connex.toml")
    assert reached.exit_code == 6, reached.output
    assert "shipstation" in reached.stderr.lower()


EXAMPLES = sorted((__import__("pathlib").Path(__file__).resolve().parents[1] / "examples").glob("*.toml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_config_passes_the_check(plugins, monkeypatch, example):
    for name in ("QUICKBOOKS_CLIENT_SECRET", "SHIPSTATION_API_KEY", "SHIPSTATION_API_SECRET", "XERO_CLIENT_SECRET"):
        monkeypatch.setenv(name, "example-secret")
    result = invoke("config", "check", "--config", str(example))
    assert result.exit_code == 0, result.stderr
    assert lines(result.stderr)[0].startswith(f"ok: {example}: ")


def test_every_connector_option_is_described(plugins):
    """The option models are the documentation ``connex config check`` points at: every field says what it does."""
    from connex_core.connector import NoOptions

    declared = 0
    for name in ("shipstation", "quickbooks", "xero"):
        cls = plugins.connector(name)
        for side in ("source", "target"):
            model = getattr(cls, f"{side}_options_model")
            assert model.model_config.get("extra") == "forbid", (name, side)
            for field, info in model.model_fields.items():
                assert (info.description or "").strip(), f"{name} {side} option {field} has no description"
                declared += 1
        assert cls.source_options_model is not NoOptions, name
    assert declared == 2 + 4 + 13 + 2 + 4  # ShipStation source; QuickBooks source, target; Xero source, target
    assert plugins.connector("shipstation").target_options_model is NoOptions


def test_a_connector_that_declares_no_options_refuses_any(manager, write_config):
    """The in-memory test connector declares only a source option: as a target it refuses every key."""
    write_config("""
        [connections.a]
        type = "memory"
        [tasks.t]
        source = "a"
        target = "a"
        source_options = { status = "paid" }
        target_options = { status = "paid" }
    """)
    result = invoke("config", "check")
    assert result.exit_code == 4
    assert lines(result.stderr)[0].endswith(
        "connex.toml: tasks.t.target_options.status: unknown option (memory as a target reads no options)")
