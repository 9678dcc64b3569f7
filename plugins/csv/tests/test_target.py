"""Writing order files: the column set, one file per run or per day, found again by key, torn tails repaired."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from connex_core.api import LineItem, OrderWrite
from connex_core.testing import make_order
from connex_csv.columns import OUTPUT


def write(connector, *orders, **options):
    return connector.write_orders([OrderWrite(order=o, idempotency_key=f"k-{o.number}", options=options) for o in orders])


def rows_of(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def orders(n: int, start: int = 1):
    return [make_order(source="shipstation", source_id=str(i), number=f"S-{i}") for i in range(start, start + n)]


def test_each_line_is_a_row_with_the_orders_values_and_the_documented_header(folder, make_csv):
    order = make_order(number="S-1", source="shipstation", source_id="1", notes="leave at\nthe door, \"please\"",
                       lines=[LineItem(sku="MUG", name="Mug, blue", quantity=Decimal("2"), unit_price=Decimal("12.50")),
                              LineItem(sku="TEE", name="Tee", quantity=Decimal("1.5"), unit_price=Decimal("20"))])
    [result] = write(make_csv(), order)
    path = folder.folder / result.target_id.split("#")[0]
    assert result.ok and result.target_id.endswith("#2") and result.target_number == "S-1"
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(OUTPUT) and len(text.splitlines()) == 3  # one line per row
    first, second = rows_of(path)
    assert (first["sku"], first["quantity"], first["unit_price"], first["line_amount"]) == ("MUG", "2", "12.50", "25.00")
    assert (second["sku"], second["quantity"], second["line_amount"]) == ("TEE", "1.5", "30.0")
    for row in (first, second):
        assert (row["order_number"], row["total"], row["lines_in_order"], row["order_key"]) == \
            ("S-1", str(order.total), "2", "shipstation:1")
        assert row["notes"] == 'leave at the door, "please"' and row["order_date"] == "2026-09-15T18:30:00+00:00"


def test_one_file_per_run_and_one_per_day(folder, make_csv, sim_clock):
    write(make_csv(), *orders(2))
    sim_clock.advance(5)
    write(make_csv(), *orders(1, start=3))
    assert len(list(folder.folder.glob("orders-*T*Z.csv"))) == 2
    for n in range(2):
        write(make_csv(), *orders(1, start=10 + n), per="day", prefix="daily")
    [daily] = folder.folder.glob("daily-*.csv")
    assert [r["order_number"] for r in rows_of(daily)] == ["S-10", "S-10", "S-11", "S-11"]


def test_written_orders_are_found_by_a_new_connector_and_never_written_twice(folder, make_csv):
    first = orders(3)
    write(make_csv(), *first)
    later = make_csv()  # the ledger lost, or the answer lost: the folder still says what is there
    writes = [OrderWrite(order=o, idempotency_key="k") for o in first + orders(1, start=4)]
    found = later.find_orders(writes)
    assert sorted(found) == ["shipstation:1", "shipstation:2", "shipstation:3"]
    assert found["shipstation:2"].target_number == "S-2"
    results = later.write_orders(writes)
    assert [r.duplicate for r in results] == [True, True, True, False]
    numbers = [r["order_number"] for p in folder.folder.glob("*.csv") for r in rows_of(p)]
    assert sorted(numbers) == sorted(["S-1", "S-1", "S-2", "S-2", "S-3", "S-3", "S-4", "S-4"])


def test_an_order_cut_short_by_an_interrupted_write_is_removed_and_written_again(folder, make_csv, caplog):
    [result] = write(make_csv(), *orders(1), per="day")
    path = folder.folder / result.target_id.split("#")[0]
    whole = path.read_bytes()
    write(make_csv(), *orders(1, start=2), per="day")
    path.write_bytes(path.read_bytes()[:len(whole) + 40])  # the crash: S-2's first row half written
    again = make_csv()
    assert sorted(again.find_orders([OrderWrite(order=o, idempotency_key="k") for o in orders(2)])) == ["shipstation:1"]
    assert path.read_bytes() == whole and "cut short" in caplog.text
    write(again, *orders(2), per="day")
    assert [r["order_number"] for r in rows_of(path)] == ["S-1", "S-1", "S-2", "S-2"]


def test_an_order_without_lines_fails_alone(folder, make_csv):
    empty = make_order(number="S-9", source_id="9", source="shipstation", lines=[LineItem(sku="X")])
    empty = empty.model_copy(update={"lines": []})
    results = write(make_csv(), empty, *orders(1))
    assert [r.ok for r in results] == [False, True] and "no lines" in results[0].error


def test_a_prefix_that_is_not_a_file_name_is_refused():
    from connex_csv import TargetOptions
    with pytest.raises(ValueError):
        TargetOptions(prefix="../elsewhere")
