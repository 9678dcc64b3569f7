"""``connex report``: each day of the source (its own time zone) reconciled with the ledger and the target."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from typer.testing import CliRunner

from connex_core.cli import app
from tests.support.memory_plugin import api, seed

runner = CliRunner()
DAY = ["--since", "2026-09-15", "--until", "2026-09-15"]


def report(*args: str):
    result = runner.invoke(app, ["report", "--json", *DAY, *args])
    return result.exit_code, json.loads(result.stdout or "[]")


def test_report_accounts_for_each_order_and_finds_what_is_missing(manager, memory_config, write_config):
    # 23:30 UTC on the 15th is the 15th in UTC (the memory source's zone): four orders, one day.
    orders = seed("src", 4, start=datetime(2026, 9, 15, 23, 30, tzinfo=timezone.utc) - timedelta(minutes=10))
    api("dst").reject_numbers = {"1003"}
    assert runner.invoke(app, ["run", *DAY]).exit_code == 5
    dst = api("dst")
    del dst.documents[next(t for t, d in dst.documents.items() if d["number"] == "1002")]  # deleted by hand
    code, [task] = report()
    assert code == 5 and task["task"] == "orders" and task["timezone"] == "UTC" and not task["accounted"]
    [day] = task["days"]
    total = sum(o.total for o in orders)
    assert (day["day"], day["orders"], day["total"]) == ("2026-09-15", 4, f"{total:.2f}")
    assert day["booked"] == 3 and day["booked_total"] == f"{total - orders[2].total:.2f}"
    assert day["failed_by_reason"] == {"order 1003: item not found": 1} and day["failed"] == 1
    assert day["gone"] == ["1002: 1002"] and day["not_seen"] == []
    text = runner.invoke(app, ["report", *DAY]).stdout
    assert "2026-09-15: 4 orders" in text and "failed 1 (order 1003: item not found)" in text
    assert "gone from the target: 1002: 1002" in text and "NOT ACCOUNTED FOR" in text
    # Put right: the failure retried, the deleted document posted again.
    api("dst").reject_numbers = set()
    assert runner.invoke(app, ["run", *DAY]).exit_code == 0
    assert runner.invoke(app, ["resync", "--task", "orders", "1002"]).exit_code == 0
    code, [task] = report("--task", "orders")
    assert code == 0 and task["accounted"] and task["days"][0]["booked"] == 4, task
    assert "  ok" in runner.invoke(app, ["report", *DAY]).stdout


def test_orders_no_run_has_seen_are_not_accounted_for_and_days_follow_the_source_zone(manager, write_config):
    write_config("""
        [connections.src]
        type = "memory"
        space = "src"
        timezone = "America/Los_Angeles"

        [connections.dst]
        type = "memory"
        space = "dst"

        [tasks.orders]
        source = "src"
        target = "dst"
    """)
    # 06:00 UTC on the 16th is 23:00 on the 15th in Los Angeles: the 15th's order.
    seed("src", 1, start=datetime(2026, 9, 16, 6, 0, tzinfo=timezone.utc))
    code, [task] = report()
    assert code == 5 and task["timezone"] == "America/Los_Angeles"
    [day] = task["days"]
    assert day["day"] == "2026-09-15" and day["not_seen"] == ["1001"] and day["booked"] == 0


def test_report_of_a_day_without_orders_is_accounted_for(manager, memory_config):
    code, [task] = report()
    assert code == 0 and task["days"] == []
    assert runner.invoke(app, ["report", "--since", "2026-09-15", "--until", "2026-09-14"]).exit_code == 2
