"""The write path of daily summaries (``OrderWriter`` as ``connex_core/sync/summary.py`` uses it): a day booked
before whose orders changed since is updated in place where the target upserts and left as booked where it does
not; a kill during that update leaves the intent pointing at the document it updates; a summary run on a shared
worker's slice waits out a rate limit on its look-up instead of yielding (only an orders run stops cleanly there).

Assertions ``python3 dev.py mutation write`` found missing; the books checked are the target's documents."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from connex_core.config import load_config
from connex_core.engine import SyncEngine
from connex_core.http import RateLimiter
from connex_core.state import LedgerState, LogQuery, SQLiteStore
from connex_core.sync.slices import Slice
from tests.support.memory_plugin import Crash, api, daily_config, make_order

UTC = ZoneInfo("UTC")
NOW = datetime(2026, 9, 17, 12, 0, tzinfo=UTC)
DAYS = ("20260915", "20260916")


@pytest.fixture
def daily(manager, write_config):
    """``daily(since=None, slice=None)``: one run of a daily summary task over 15 and 16 September (one order each)."""
    path = write_config(daily_config())
    for n, day in enumerate((15, 16)):
        add(f"D{n}", day)

    def run(engine=None, **kw):
        return (engine or make(manager, path)).run_task("daily", **kw)

    run.engine = lambda: make(manager, path)
    return run


def make(manager, path) -> SyncEngine:
    cfg = load_config(path)
    return SyncEngine(cfg, manager, SQLiteStore(cfg.state_path), now=lambda: NOW)


def add(number: str, day: int) -> None:
    when = datetime(2026, 9, day, 10, 0, tzinfo=UTC)
    api("src").orders.append(make_order(source="memory", source_id=number.lower(), number=number, created_at=when,
                                        modified_at=when))


def totals() -> dict[str, object]:
    return {d["number"]: d["order"].total for d in api("dst").documents.values()}


def ledger(run) -> dict[str, object]:
    store = run.engine().store
    return {e.target_number: e for e in store.ledger_in_states(list(LedgerState), "daily")}


@pytest.mark.parametrize("upserts", [True, False])
def test_a_booked_day_changed_since_is_updated_in_place_only_where_the_target_upserts(daily, upserts):
    api("dst").upsert = upserts
    first = daily()
    assert first.counts["created"] == 2
    booked = totals()
    add("D2", 15)  # a late order on a day already booked
    summary = daily(since=datetime(2026, 9, 15, tzinfo=UTC))
    lines = [(e.order_number, e.outcome) for e in daily.engine().store.query_log(LogQuery(task="daily"))]
    if upserts:
        assert (summary.counts["updated"], summary.counts["already_synced"]) == (1, 1)
        assert totals() == {"DS-20260915": booked["DS-20260915"] + api("src").orders[2].total,
                            "DS-20260916": booked["DS-20260916"]}  # one document a day, the changed one updated
        assert lines[-1] == ("DS-20260915", "updated")
    else:
        assert (summary.counts["updated"], summary.counts["already_synced"]) == (0, 2)
        assert totals() == booked and api("dst").write_calls == 1  # left as booked: nothing written
        assert len(lines) == 2
    assert sum(summary.counts[k] for k in ("created", "duplicate", "failed")) == 0


def test_a_kill_while_a_changed_day_is_updated_leaves_its_intent_on_the_booked_document(daily):
    api("dst").upsert = True
    daily()
    before = ledger(daily)["DS-20260915"]
    add("D2", 15)
    api("dst").crash_on_write = {api("dst").write_calls + 1}  # killed before the update is sent
    with pytest.raises(Crash):
        daily(since=datetime(2026, 9, 15, tzinfo=UTC))
    [intent] = [e for e in ledger(daily).values() if e.state == LedgerState.PENDING]
    assert (intent.target_id, intent.target_number, intent.attempts) == (before.target_id, "DS-20260915", 2)
    api("dst").crash_on_write = set()
    rerun = daily(since=datetime(2026, 9, 15, tzinfo=UTC))
    assert rerun.counts["updated"] == 1 and len(api("dst").documents) == 2
    assert ledger(daily)["DS-20260915"].state == LedgerState.DONE


def test_a_summary_run_on_a_slice_waits_out_a_rate_limit_on_its_look_up(daily):
    now, slept = [0.0], []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    engine = daily.engine()
    target = engine.connector("dst")
    target.write_batch_size = 1  # a look-up per day
    limiter, original = RateLimiter(1, 60.0, clock=lambda: now[0], sleep=sleep), target.find_orders

    def limited(writes):
        limiter.acquire()  # one look-up a minute: the second day's waits 60 s, past the slice's bound of 5
        return original(writes)

    target.find_orders = limited
    summary = daily(engine, slice=Slice(wait_seconds=5.0))
    assert summary.status == "ok" and summary.yielded is None and slept == [60.0]
    assert sorted(totals()) == ["DS-" + d for d in DAYS]
