"""connex_core.money (one rounding rule), connex_core.jsonutil (one encoder) and connex_core.clock."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from connex_core import jsonutil
from connex_core.clock import REAL_CLOCK, Clock, wall_time
from connex_core.money import allocate, to_cents, to_decimal
from connex_core.sandbox import SimClock


@pytest.mark.parametrize("value, cents", [
    ("0.125", "0.13"), ("0.135", "0.14"), ("-0.125", "-0.13"), ("2.675", "2.68"), ("1.004", "1.00"),
    ("1.005", "1.01"), (2.675, "2.68"), (49.99, "49.99"), (3, "3.00"), (None, "0.00"), ("", "0.00"),
    (Decimal("10.4449"), "10.44"),
])
def test_cents_round_half_up_from_the_text_of_the_number(value, cents):
    assert to_cents(value) == Decimal(cents) and str(to_cents(value)) == cents


def test_half_up_differs_from_pythons_default_half_even():
    assert round(Decimal("0.125"), 2) == Decimal("0.12")  # banker's rounding, which Connex does not use
    assert to_cents("0.125") == Decimal("0.13")


def test_other_places_and_exact_decimals():
    assert to_cents("12.34565", places=4) == Decimal("12.3457")
    assert to_decimal(49.99) == Decimal("49.99") and to_decimal("12.500") == Decimal("12.500")
    assert str(to_decimal(" 7 ")) == "7"


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", True, "1,5"])
def test_what_is_not_an_amount_is_a_value_error(bad):
    with pytest.raises(ValueError, match="not an amount"):
        to_decimal(bad)


def test_allocation_adds_up_exactly_and_rounds_each_share_half_up():
    shares = allocate(Decimal("10.00"), [1, 1, 1])
    assert shares == [Decimal("3.33"), Decimal("3.33"), Decimal("3.34")] and sum(shares) == Decimal("10.00")
    shares = allocate("0.05", [Decimal("1"), Decimal("1")])
    assert shares == [Decimal("0.03"), Decimal("0.02")]
    assert allocate("5", [0, 0]) == [Decimal(0), Decimal(5)]
    assert allocate("5", []) == []


def test_the_encoder_writes_decimals_as_numbers_and_dates_as_iso():
    text = jsonutil.dumps({"a": Decimal("12.50"), "b": Decimal("2"), "c": Decimal("0.1"), "d": date(2026, 1, 2),
                           "e": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "f": Decimal("-3.00")})
    assert text == ('{"a": 12.5, "b": 2, "c": 0.1, "d": "2026-01-02", "e": "2026-01-02T03:04:05+00:00", '
                    '"f": -3}')
    back = json.loads(text, parse_float=Decimal)
    assert back["a"] == Decimal("12.50") and back["c"] == Decimal("0.1")
    assert jsonutil.dumps_bytes({"x": Decimal("1.5")}) == b'{"x": 1.5}'


def test_the_encoder_refuses_what_a_json_number_would_change():
    with pytest.raises(ValueError, match="more digits"):
        jsonutil.dumps({"x": Decimal("0.12345678901234567890")})
    with pytest.raises(ValueError):
        jsonutil.dumps({"x": Decimal("NaN")})
    with pytest.raises(TypeError, match="not JSON serialisable: set"):
        jsonutil.dumps({"x": {1}})


def test_the_sandbox_answers_with_the_same_encoder():
    from connex_core.sandbox import json_response

    assert json_response({"n": Decimal("49.990"), "d": date(2026, 5, 1)}).body == b'{"n": 49.99, "d": "2026-05-01"}'


def test_the_real_and_the_simulated_clock_are_both_clocks():
    sim = SimClock(speed=1000)
    for clock in (REAL_CLOCK, sim):
        assert isinstance(clock, Clock)
        assert clock.utcnow().tzinfo is not None
    before = sim.now()
    sim.sleep(2.0)  # two simulated seconds, two real milliseconds
    assert sim.now() - before >= 2.0
    sim.advance(3600)
    assert abs(wall_time(sim) - (time.time() + 3600)) < 30
    assert abs(wall_time(REAL_CLOCK) - time.time()) < 1 and abs(wall_time(None) - time.time()) < 1
    start = REAL_CLOCK.now()
    REAL_CLOCK.sleep(0.01)
    REAL_CLOCK.sleep(-1)
    assert REAL_CLOCK.now() - start >= 0.01


def test_connectors_default_to_the_real_clock(tmp_path):
    from connex_core.connector import Connector, ConnectorContext, ConnectorSettings

    connector = Connector(ConnectorSettings(type="x"), ConnectorContext(connection="x", state_dir=tmp_path))
    assert connector.clock is REAL_CLOCK
    sim = SimClock()
    connector = Connector(ConnectorSettings(type="x"),
                          ConnectorContext(connection="x", state_dir=tmp_path, options={"clock": sim}))
    assert connector.clock is sim
