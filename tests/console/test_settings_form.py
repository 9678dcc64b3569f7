"""The settings form on the real connectors' option models (the example config of ShipStation -> QuickBooks):
fields made from the models, edits written with the file's comments, refusals worded as `connex config check`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connex_core.cli import app
from connex_core.config import load_config
from connex_core.console import settings
from connex_core.plugins import PluginManager

ROOT = Path(__file__).resolve().parents[2]
TASK = "shipstation-to-quickbooks"


@pytest.fixture
def example(tmp_path, monkeypatch):
    for name in ("SHIPSTATION_API_KEY", "SHIPSTATION_API_SECRET", "QUICKBOOKS_CLIENT_SECRET"):
        monkeypatch.setenv(name, f"{name.lower()}-value")
    (tmp_path / "examples").mkdir()
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    path = tmp_path / "examples" / "connex.toml"
    shutil.copy(ROOT / "examples" / "shipstation-to-quickbooks.toml", path)
    manager = PluginManager().load()
    return load_config(path), manager, path


def fields(sections) -> dict[str, dict]:
    return {f["name"]: f for s in sections for f in s["fields"]}


def test_the_form_has_each_connectors_typed_options(example):
    config, manager, _ = example
    sections = settings.form(config, manager, TASK)
    assert [s["title"] for s in sections] == ["Task", "Source options (shipstation: shipstation)",
                                             "Target options (quickbooks: quickbooks)"]
    f = fields(sections)
    assert f["target_options.document"]["choices"] == ("auto", "sales_receipt", "invoice")
    assert f["target_options.document"]["value"] == "invoice" and f["target_options.document"]["default"] == "auto"
    assert f["target_options.create_customers"]["kind"] == "bool"
    assert f["target_options.tax_codes"]["kind"] == "toml"  # a table, written as TOML
    assert f["source_options.status"]["value"] == "shipped" and "awaiting_shipment" in f["source_options.status"]["choices"]
    assert f["every_minutes"]["value"] == "15" and "summary_prefix" not in f  # an orders task: no summary keys
    assert "Sales of Product Income" == f["target_options.income_account"]["default"]


def test_an_edit_keeps_every_comment_and_changes_only_its_lines(example):
    config, manager, path = example
    before = path.read_text()
    sent = {"target_options.document": "sales_receipt", "target_options.tax_codes": '{ taxable = "TAX" }',
            "every_minutes": "30", "target_options.unknown_items": "flag", "source_options.status": "shipped"}
    result = settings.save(config, manager, TASK, sent, settings.digest(before))
    assert result["saved"], result["problems"]
    after = path.read_text()
    gone = [line for line in before.splitlines() if line not in after.splitlines()]
    new = [line for line in after.splitlines() if line not in before.splitlines()]
    assert gone == ["every_minutes = 15",
                    'document = "invoice"          # "sales_receipt" or "invoice" (+ a payment when paid); '
                    "rules may choose per order"]
    assert new == ["every_minutes = 30",
                   'document = "sales_receipt"          # "sales_receipt" or "invoice" (+ a payment when paid); '
                   "rules may choose per order",
                   'tax_codes = {taxable = "TAX"}']
    lines = after.splitlines()  # the new key is in its table, before the next one's comment
    assert lines.index('tax_codes = {taxable = "TAX"}') == lines.index("# Flow 4: one summary document per Pacific "
                                                                        "day instead of one per order (use one or the other).") - 2
    task = load_config(path).tasks[TASK]
    assert task.target_options["tax_codes"] == {"taxable": "TAX"} and task.every_minutes == 30
    assert CliRunner().invoke(app, ["config", "check", "--config", str(path)]).exit_code == 0


@pytest.mark.parametrize("name, value", [("target_options.document", "receipt"),
                                         ("target_options.tax_codes", '{ wrong = "x" }'),
                                         ("target_options.create_customers", "maybe"),
                                         ("initial_days", "-1")])
def test_a_bad_option_gets_config_checks_message_and_nothing_is_written(example, name, value):
    config, manager, path = example
    before = path.read_text()
    result = settings.save(config, manager, TASK, {name: value}, settings.digest(before))
    assert not result["saved"] and path.read_text() == before
    # the same edit made by hand: `connex config check` says the same thing
    edited, _ = settings.edit(before, config, manager, TASK, {name: value})
    by_hand = path.with_name("by-hand.toml")
    by_hand.write_text(edited)
    checked = CliRunner().invoke(app, ["config", "check", "--config", str(by_hand)])
    expected = [line.replace(str(by_hand), config.label) for line in checked.output.splitlines() if ": tasks." in line]
    assert checked.exit_code == 4 and expected and result["problems"] == expected
    assert result["by_field"][name]


def test_a_value_that_is_not_toml_is_refused_before_the_check(example):
    config, manager, path = example
    before = path.read_text()
    result = settings.save(config, manager, TASK, {"target_options.tax_codes": "{ taxable = "}, "")
    assert not result["saved"] and path.read_text() == before
    assert "not a TOML value" in result["by_field"]["target_options.tax_codes"]


def test_fields_sent_back_as_shown_change_nothing(example):
    config, manager, path = example
    before = path.read_text()
    shown = {f["name"]: f["value"] for s in settings.form(config, manager, TASK) for f in s["fields"]}
    shown["target_options.tax_codes"] = "{ }"  # not set before: now set, the only change
    edited, problems = settings.edit(before, config, manager, TASK, shown)
    assert problems == []
    assert [line for line in edited.splitlines() if line not in before.splitlines()] == ["tax_codes = {}"]
    assert [line for line in before.splitlines() if line not in edited.splitlines()] == []


def test_a_secret_option_is_never_shown_nor_written(example):
    from pydantic import BaseModel, ConfigDict, SecretStr

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        signing_key: SecretStr | None = None

    [field] = settings._model_fields(Options, {"signing_key": {"env": "KEY"}}, "target_options.")
    assert (field["kind"], field["value"]) == ("secret", "set") and "KEY" not in str(field["value"])


def test_tasks_written_as_inline_tables_and_older_key_places_are_edited_in_place(tmp_path, manager):
    path = tmp_path / "connex.toml"
    path.write_text('# inline tasks\n[connections.src]\ntype = "memory"\n\n[connections.dst]\ntype = "memory"\n\n'
                    '[tasks]\nsummary = { source = "src", target = "dst", kind = "daily_summary", '
                    'target_options = { timezone = "Europe/Paris" } }  # one line\n')
    config = load_config(path)
    f = fields(settings.form(config, manager, "summary", settings._parse_file(path.read_text(), "x", "summary")[1]))
    assert f["timezone"]["value"] == "Europe/Paris" and f["timezone"]["set"]  # read from its older place
    result = settings.save(config, manager, "summary", {"timezone": "", "every_minutes": "60"}, "")
    assert result["saved"], result["problems"]
    assert path.read_text().splitlines()[-1] == ('summary = { source = "src", target = "dst", kind = "daily_summary", '
                                                 'target_options = {  }, every_minutes = 60 }  # one line')
    assert load_config(path).tasks["summary"].timezone is None


def test_a_file_broken_by_hand_is_said_so_and_left_alone(client, served, console_config):
    console_config.write_text(console_config.read_text() + "\n[tasks.orders\n")
    broken = console_config.read_text()
    r = client.get(f"{served.url}/tasks/orders", timeout=10)
    assert r.status_code == 409 and "not valid TOML now" in r.text
    r = client.post(f"{served.url}/tasks/orders/settings", data={"every_minutes": "5"}, timeout=10)
    assert r.status_code == 409 and "not valid TOML now" in r.text and console_config.read_text() == broken
