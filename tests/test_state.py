"""The SQLite state store."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from connex_core.state import LedgerEntry, LogEntry, LogQuery, SQLiteStore
from connex_core.state.sqlite import MIGRATIONS


def test_the_state_file_is_owner_only_and_in_wal_mode(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    assert stat.S_IMODE(os.stat(tmp_path / "s.db").st_mode) == 0o600
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version == len(MIGRATIONS)


def test_a_file_from_a_newer_connex_is_refused(tmp_path):
    db = sqlite3.connect(tmp_path / "s.db")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(RuntimeError, match="newer Connex"):
        SQLiteStore(tmp_path / "s.db")


def test_ledger_upserts_and_retry_queue(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.ledger_put([LedgerEntry("t", "a", "pending", snapshot="{}"), LedgerEntry("t", "b", "done", target_id="9"),
                      LedgerEntry("t", "c", "held", snapshot="{}"), LedgerEntry("u", "a", "failed")])
    store.ledger_put([LedgerEntry("t", "a", "failed", attempts=2, last_error="boom", snapshot="{}")])
    assert store.ledger_get("t", ["a"])["a"].last_error == "boom"
    assert sorted(e.source_key for e in store.ledger_retry_queue("t")) == ["a", "c"]
    assert store.ledger_find_target("b", ["t"]).target_id == "9"
    assert store.ledger_find_target("b", ["u"]) is None


def test_state_survives_reopening(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    store.set_cursor("t", "2026-09-15T00:00:00+00:00")
    store.log([LogEntry("t", "k", "skipped", order_number="1", reason="test order", rule="skip tests", line=4)])
    store.close()
    again = SQLiteStore(tmp_path / "s.db")
    assert again.get_cursor("t") == "2026-09-15T00:00:00+00:00"
    [entry] = again.query_log(LogQuery(outcome="skipped"))
    assert (entry.reason, entry.rule, entry.line) == ("test order", "skip tests", 4)
