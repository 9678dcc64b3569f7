"""Reading a folder: each file's orders until a completed run has booked them, by content hash, on a real folder.

The engine's side of the protocol is played as it plays it: a run reads the window
``FetchQuery(modified_since=cursor - overlap)``, and only a run that recorded every order moves the cursor
to the newest ``modified_at`` it read (connex_core/sync/orders.py). The end-to-end version through
``connex run`` (a killed run, then every order booked once) is tests/e2e/test_csv.py.
"""

from __future__ import annotations

import errno
import json
import os
import time
from datetime import timedelta

import pytest

from connex_core.api import (AuthenticationError, ConfigurationError, FetchQuery, Order, RetriableAPIError,
                             UnreadableOrder)
from connex_core.sandbox import Fault


class Task:
    """A task's cursor, moved as the engine moves it (only after a run read and recorded everything)."""

    def __init__(self, connector, overlap: timedelta = timedelta(0)):
        self.connector, self.overlap, self.cursor = connector, overlap, None

    def run(self, complete: bool = True, take: int | None = None) -> list:
        start = self.cursor - self.overlap if self.cursor else self.connector.clock.utcnow() - timedelta(days=7)
        stream = self.connector.fetch_orders(FetchQuery(modified_since=start))
        orders = [o for _, o in zip(range(take), stream)] if take is not None else list(stream)
        if complete:
            newest = max((o.modified_at for o in orders if isinstance(o, Order)), default=None)
            if newest and (self.cursor is None or newest > self.cursor):
                self.cursor = newest
        return orders


def numbers(orders) -> list[str]:
    """The numbers of the orders read (an order that could not be read is not one of them)."""
    return sorted(o.number for o in orders if isinstance(o, Order))


def test_a_files_orders_are_read_until_a_completed_run_booked_them_then_never_again(folder, make_csv, sim_clock):
    folder.seed_orders(6, per_file=3)
    task = Task(make_csv())
    assert numbers(task.run()) == ["1001", "1002", "1003", "1004", "1005", "1006"]
    sim_clock.advance(60)
    assert task.run() == [], "a booked file was read again"
    folder.seed_orders(2, prefix="later")
    sim_clock.advance(60)
    assert numbers(task.run()) == ["1007", "1008"]
    assert task.run() == []


def test_a_run_that_stops_mid_file_leaves_the_file_to_be_read_again_whole(folder, make_csv, sim_clock):
    folder.seed_orders(5, per_file=5)
    task = Task(make_csv())
    assert len(task.run(complete=False, take=2)) == 2  # a crash after two orders: the cursor stays
    sim_clock.advance(60)
    assert numbers(task.run()) == ["1001", "1002", "1003", "1004", "1005"]
    assert task.run() == []


def test_with_an_overlap_files_are_read_again_until_a_newer_file_moves_the_cursor_past_them(folder, make_csv, sim_clock):
    """The engine's overlap re-reads the window before the cursor; the ledger drops the repeats (same keys, same
    content). Without new files the cursor stays, so the newest file is read again: overlap_minutes = 0 avoids it."""
    folder.seed_orders(2)
    task = Task(make_csv(), overlap=timedelta(minutes=60))
    assert len(task.run()) == 2
    sim_clock.advance(60)
    assert numbers(task.run()) == ["1001", "1002"]
    sim_clock.advance(7200)
    folder.seed_orders(1, prefix="two-hours-later")
    assert numbers(task.run()) == ["1001", "1002", "1003"]  # the window still starts before the first file
    sim_clock.advance(60)
    assert numbers(task.run()) == ["1003"]  # the cursor is two hours past the first file now


def test_a_changed_file_is_read_again_and_a_copy_is_not(folder, make_csv, sim_clock):
    [path] = folder.seed_orders(2)
    task = Task(make_csv())
    task.run()
    sim_clock.advance(60)
    (folder.folder / "copy.csv").write_bytes(path.read_bytes())
    assert task.run() == []
    sim_clock.advance(60)
    path.write_text(path.read_text() + "#1099,x@shop.test,paid,,,USD,,0,0,5.00,0,2026-09-15 10:00:00 +0000,1,Mug,5.00,MUG\n")
    assert numbers(task.run()) == ["1001", "1002", "1099"]  # the ledger drops 1001 and 1002 as repeats


def test_a_file_with_a_malformed_order_is_read_at_every_run_until_fixed(folder, make_csv, sim_clock, caplog):
    [path] = folder.seed_orders(3)
    good = path.read_text()
    path.write_text(good.replace("#1002,buyer.1002@shop.test,paid", "#1002,buyer.1002@shop.test,who-knows", 1))
    connector = make_csv()
    task = Task(connector)
    first = task.run()
    assert numbers(first) == ["1001", "1003"]
    [failed] = [o for o in first if isinstance(o, UnreadableOrder)]  # that order fails in the run, naming the place
    assert failed.key == "csv:1002" and failed.number == "1002" and "column Financial Status" in failed.reason
    [problem] = connector.problems
    assert problem.startswith(f"{path.name} row ") and "(order 1002), column Financial Status: 'who-knows'" in problem
    assert "fix the file and the next run reads it" in problem and problem in caplog.text
    sim_clock.advance(60)
    assert numbers(task.run()) == ["1001", "1003"]  # still there: nothing is lost
    sim_clock.advance(60)
    path.write_text(good)
    assert numbers(task.run()) == ["1001", "1002", "1003"]
    sim_clock.advance(60)
    assert task.run() == []


def test_tasks_with_different_patterns_share_the_folder(folder, make_csv, sim_clock):
    folder.seed_orders(2, prefix="etsy")
    folder.seed_orders(1, prefix="amazon")
    connector = make_csv()
    etsy = connector.fetch_orders(FetchQuery(options={"pattern": "etsy-*.csv"}))
    assert numbers(etsy) == ["1001", "1002"]
    assert numbers(connector.fetch_orders(FetchQuery(options={"pattern": "amazon-*"}))) == ["1003"]


def test_since_and_until_select_by_order_date(folder, make_csv):
    folder.seed_orders(10)  # one every 7 minutes from 2026-09-14 09:00 UTC
    window = FetchQuery(since=folder.seeded["1003"].created, until=folder.seeded["1006"].created)
    assert numbers(make_csv().fetch_orders(window)) == ["1003", "1004", "1005"]


def test_a_dry_run_reads_but_records_no_file_as_seen(folder, make_csv, tmp_path):
    folder.seed_orders(2)
    assert len(list(make_csv(dry_run=True).fetch_orders(FetchQuery()))) == 2
    assert not (tmp_path / ".connex" / "csv-shop.files.json").exists()
    list(make_csv().fetch_orders(FetchQuery()))
    saved = json.loads((tmp_path / ".connex" / "csv-shop.files.json").read_text())
    assert [e["name"] for e in saved.values()] == ["shopify-orders-1001.csv"]


def test_files_gone_from_the_folder_are_forgotten(folder, make_csv, tmp_path):
    [a] = folder.seed_orders(1, prefix="a")
    folder.seed_orders(1, prefix="b")
    list(make_csv().fetch_orders(FetchQuery()))
    a.unlink()
    list(make_csv().fetch_orders(FetchQuery()))
    saved = json.loads((tmp_path / ".connex" / "csv-shop.files.json").read_text())
    assert [e["name"] for e in saved.values()] == ["b-1002.csv"]


def test_a_lasting_transient_error_is_retried_then_reported_as_retriable(folder, make_csv):
    folder.seed_orders(1)
    folder.faults.add(Fault(kind="error", body=b"ETIMEDOUT", methods=("READ",)))
    with pytest.raises(RetriableAPIError, match="trying again"):
        list(make_csv().fetch_orders(FetchQuery()))
    assert folder.faults.injected["error"] == 5  # the retry policy's five tries


def test_a_missing_folder_is_a_configuration_error_and_a_refused_one_says_whose_credentials(folder, make_csv, tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist; check the connection's folder setting"):
        make_csv(folder=str(tmp_path / "nowhere")).check()
    with pytest.raises(AuthenticationError, match="credentials of the account"):
        list(make_csv(bad_credentials=True).fetch_orders(FetchQuery()))
    assert errno.EACCES  # the errno the simulator raises for a refused folder


def test_a_file_changed_within_the_settle_time_is_left_for_the_next_run(folder, make_csv):
    [path] = folder.seed_orders(2)
    os.utime(path, (time.time(), time.time()))  # still being copied in, as far as anyone can tell
    connector = make_csv(settle_seconds=60)
    assert list(connector.fetch_orders(FetchQuery())) == []
    past = time.time() - 61
    os.utime(path, (past, past))
    assert numbers(connector.fetch_orders(FetchQuery())) == ["1001", "1002"]
