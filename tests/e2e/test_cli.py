"""The commands a user meets, as child processes: ``connex sandbox``, ``connex run``, ``connex demo``, ``connex log``."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from tests.e2e.helpers import child_env, pacific, ss_order, task_table

CREDENTIALS = {
    "shipstation": {"base_url", "api_key", "api_secret"},
    "quickbooks": {"base_url", "client_id", "client_secret", "refresh_token", "token_url", "realm_id"},
    "xero": {"base_url", "client_id", "client_secret", "refresh_token", "token_url", "tenant_id"},
}


@pytest.fixture
def sandbox_process(tmp_path):
    """``connex sandbox --json --port 0 --seed-orders 8 --write-config ...`` running; yields (description, config)."""
    config = tmp_path / "sandbox" / "connex.toml"
    proc = subprocess.Popen([sys.executable, "-m", "connex_core", "sandbox", "--json", "--port", "0",
                             "--seed-orders", "8", "--write-config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(), cwd=tmp_path)
    try:
        first = proc.stdout.readline()
        assert first, proc.stderr.read()
        yield json.loads(first), config
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_sandbox_prints_each_service_and_its_credentials_then_a_run_against_it_works(sandbox_process, connex):
    described, config = sandbox_process
    for service, keys in CREDENTIALS.items():
        assert keys <= set(described[service]), (service, described[service])
        assert described[service]["base_url"].startswith("http://127.0.0.1:")
        assert described[service]["base_url"].endswith(f"/{service}")
    ss = described["shipstation"]
    listed = requests.get(f"{ss['base_url']}/orders", auth=(ss["api_key"], ss["api_secret"]), timeout=5)
    assert listed.status_code == 200 and listed.json()["total"] == 8

    assert config.exists() and 'api_secret = { "file" = ' in config.read_text()
    secrets = [p for p in (config.parent / "connex.secrets").iterdir()]
    assert secrets and all(p.stat().st_mode & 0o777 == 0o600 for p in secrets)

    out = connex("run", "--config", config, "--json")  # every standard flow, rules copied beside the config
    results = {r["task"]: r for r in out.json}
    assert all(r["status"] == "ok" for r in results.values()), out.stdout
    assert results["quickbooks-to-shipstation"]["created"] == 8, out.stdout
    assert results["shipstation-to-quickbooks"]["created"] > 0 and results["xero-to-shipstation"]["created"] > 0
    assert (config.parent / "rules" / "xero-to-shipstation.rules").is_file()
    after = requests.get(f"{ss['base_url']}/orders", params={"pageSize": 100},
                         auth=(ss["api_key"], ss["api_secret"]), timeout=5).json()
    assert sum(o["orderKey"].startswith("connex:quickbooks:") for o in after["orders"]) == 8
    assert after["total"] == 16 + results["xero-to-shipstation"]["created"]
    for secret in (ss["api_secret"], described["quickbooks"]["client_secret"], described["shipstation_v2"]["api_key"]):
        assert secret not in out.stdout + out.stderr

    # ShipStation API v2 beside v1: listed as shipstation_v2, mounted at /shipstation-v2, its flows written and run.
    v2 = described["shipstation_v2"]
    assert {"base_url", "api_key"} <= set(v2) and v2["base_url"].endswith("/shipstation-v2/v2")
    assert 'api = "v2"' in config.read_text()
    listed = requests.get(f"{v2['base_url']}/shipments", params={"page_size": 100}, headers={"api-key": v2["api_key"]},
                          timeout=5).json()
    assert sum(s["external_shipment_id"].startswith("connex:quickbooks:") for s in listed["shipments"]) == 8
    assert results["quickbooks-to-shipstation-v2"]["created"] == 8, out.stdout
    assert results["shipstation-v2-to-quickbooks"]["created"] > 0 and results["xero-to-shipstation-v2"]["created"] > 0


def test_demo_reports_flows_reasons_with_rule_and_line_and_the_state_file(tmp_path, connex):
    out = connex("demo", "--dir", tmp_path / "demo", "--orders", "16", timeout=60)

    report = out.stdout
    for flow in ("shipstation-to-quickbooks", "daily-summary", "quickbooks-to-shipstation", "xero-to-shipstation",
                 "shipstation-to-xero", "tracking-to-quickbooks", "tracking-to-xero"):
        assert re.search(rf"^\s+{flow}\s+read\s+\d+:", report, re.M), flow
    assert re.search(r"skipped: not flagged for ShipStation \(rule 'only invoices flagged for ShipStation', "
                     r"xero-to-shipstation\.rules line 8\)", report), report
    assert re.search(r"number: '(\d+)-1' -> '\1'\s+rule .*line 10", report), report
    state = tmp_path / "demo" / "connex.db"
    assert f"State: {state}" in report and state.exists()
    assert "Second run of every flow: 0 posted" in report
    assert not re.search(r"\d+ failed", report), report


def test_demo_shows_a_cancelled_an_unpaid_a_part_paid_and_a_split_order_and_what_landed(tmp_path, connex):
    out = connex("demo", "--dir", tmp_path / "demo", "--orders", "40", timeout=120)

    report = out.stdout
    section = report[report.index("The books, case by case"):].split("\n\n")[0]
    lines = {line.split()[0]: line for line in section.splitlines()[1:]}
    assert "cancelled in the source: not booked" in lines["cancelled"], section
    assert re.search(r"order (\d+) -> \1: [\d.]+ with nothing paid: booked, left open", lines["unpaid"]), section
    part = re.search(r"order (\d+) -> \1: ([\d.]+) of ([\d.]+) paid: part paid: payment of \2 of \3; payment \d+ "
                     r"recorded", section)
    assert part and Decimal(part[2]) < Decimal(part[3]), section
    assert re.search(r"split\s+\S+ order (\d+)-1 -> \1: updated: split off order \1; its lines \(.+\) added to \1",
                     section), section


def test_log_filters_by_task_outcome_order_and_date_and_explains_skips_in_json(sandbox, connex):
    ss = sandbox.shipstation
    shipped = ss.add_order(ss_order("4001", pacific(2026, 9, 16)))
    split = ss.add_order(ss_order("4001-1", pacific(2026, 9, 16), parent_id=shipped["orderId"]))
    for order in (shipped, split):
        ss.ship_order(order["orderId"], "ups", f"1Z{order['orderId']}", date(2026, 9, 17), Decimal("6"))
    from_qb = ss.add_order(dict(ss_order("QB-77", pacific(2026, 9, 16)), orderKey="connex:quickbooks:Invoice-77"))
    ss.ship_order(from_qb["orderId"], "ups", "1ZQB77", date(2026, 9, 17), Decimal("6"))
    config = sandbox.write([task_table("shipstation-to-quickbooks"), task_table("shipstation-to-xero")])
    connex("run", "--config", config, "--since", "2026-09-10", "--json")

    everything = connex("log", "--config", config, "--json").json
    assert {(e["task"], e["order_number"], e["outcome"]) for e in everything} == {
        ("shipstation-to-quickbooks", "4001", "created"), ("shipstation-to-quickbooks", "4001-1", "duplicate"),
        ("shipstation-to-quickbooks", "QB-77", "skipped"), ("shipstation-to-xero", "4001", "created"),
        ("shipstation-to-xero", "4001-1", "duplicate"), ("shipstation-to-xero", "QB-77", "skipped")}

    skips = connex("log", "--config", config, "--task", "shipstation-to-xero", "--outcome", "skipped", "--json").json
    [skip] = skips
    assert skip["order_number"] == "QB-77" and skip["reason"].startswith("came into ShipStation from an accounting")
    assert skip["rule"] == "only orders that started in ShipStation"
    rule_line = Path(skip["rule_file"]).read_text().splitlines()[skip["line"] - 1]
    assert skip["rule"] in rule_line, (skip["rule_file"], skip["line"], rule_line)

    [created] = connex("log", "--config", config, "--task", "shipstation-to-quickbooks", "--order", "4001",
                       "--json").json
    assert created["outcome"] == "created" and created["target_id"].startswith("Invoice-")

    # the log's dates are when Connex wrote each line (today), not the orders' dates
    today = datetime.now(timezone.utc).date()
    assert len(connex("log", "--config", config, "--since", today.isoformat(), "--json").json) == 6
    assert connex("log", "--config", config, "--since", (today + timedelta(days=1)).isoformat(), "--json").json == []
    assert len(connex("log", "--config", config, "--until", (today + timedelta(days=1)).isoformat(),
                      "--json").json) == 6
    assert connex("log", "--config", config, "--until", "2020-01-01", "--json").json == []
    text = connex("log", "--config", config, "--outcome", "skipped").stdout
    assert f"(rule 'only orders that started in ShipStation', line {skip['line']})" in text
    assert connex("log", "--config", config, "--outcome", "nonsense", expect=2).code == 2


def test_a_dry_run_reports_what_it_would_post_and_writes_nothing(sandbox, connex):
    ss = sandbox.shipstation
    for number in ("4101", "4102"):
        order = ss.add_order(ss_order(number, pacific(2026, 9, 16)))
        ss.ship_order(order["orderId"], "ups", f"1Z{number}", date(2026, 9, 17), Decimal("6"))
    config = sandbox.write([task_table("shipstation-to-quickbooks"), task_table("shipstation-to-xero")])
    writes = {name: service.write_calls for name, service in sandbox.server.services.items()}

    out = connex("run", "--config", config, "--since", "2026-09-10", "--dry-run", "--json")

    assert [(r["task"], r["would_create"], r["created"]) for r in out.json] == [
        ("shipstation-to-quickbooks", 2, 0), ("shipstation-to-xero", 2, 0)]
    assert {name: service.write_calls for name, service in sandbox.server.services.items()} == writes
    assert sandbox.quickbooks.entities("Invoice") == [] and sandbox.xero.invoices == {}
    assert connex("log", "--config", config, "--json").json == []


def test_a_held_order_exits_5_says_why_and_syncs_once_the_rule_is_fixed(sandbox, connex):
    ss = sandbox.shipstation
    for number, country in (("4201", "US"), ("4202", "CA")):
        payload = ss_order(number, pacific(2026, 9, 16))
        payload["shipTo"]["country"] = country
        order = ss.add_order(payload)
        ss.ship_order(order["orderId"], "ups", f"1Z{number}", date(2026, 9, 17), Decimal("6"))
    rules = sandbox.folder / "rules" / "hold.rules"
    rules.write_text("# hold exports abroad until customs is sorted\n"
                     "rule \"customs check\":\n  when ship_to.country != 'US' then hold 'customs papers missing'\n")
    table = task_table("shipstation-to-quickbooks")
    table[1]["rules"] = table[1]["rules"] + ["rules/hold.rules"]
    config = sandbox.write([table])

    held = connex("run", "--config", config, "--since", "2026-09-10", "--json", expect=5)
    assert held.json[0]["held"] == 1 and held.json[0]["created"] == 1
    [entry] = connex("log", "--config", config, "--outcome", "held", "--json").json
    assert (entry["order_number"], entry["reason"], entry["rule"], entry["line"]) == \
        ("4202", "customs papers missing", "customs check", 2)
    assert list(by_doc_number(sandbox)) == ["4201"]

    rules.write_text("# customs sorted\n")
    released = connex("run", "--config", config, "--json")  # no window: the held order comes from the retry queue
    assert released.json[0]["created"] == 1
    assert sorted(by_doc_number(sandbox)) == ["4201", "4202"]


def by_doc_number(sandbox) -> dict[str, dict]:
    return {d["DocNumber"]: d for d in sandbox.quickbooks.entities("Invoice")}
