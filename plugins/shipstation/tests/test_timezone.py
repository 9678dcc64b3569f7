"""ShipStation's timestamps are US Pacific wall-clock time without an offset."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from connex_shipstation.timezone import (
    PACIFIC, format_filter, format_timestamp, pacific_day, pacific_day_bounds, parse_date, parse_timestamp,
)


def test_timestamp_is_pacific_in_summer_and_winter():
    summer = parse_timestamp("2026-09-15T23:30:00.0000000")
    winter = parse_timestamp("2026-01-15T23:30:00.0000000")
    assert summer.utcoffset() == timedelta(hours=-7)  # PDT
    assert winter.utcoffset() == timedelta(hours=-8)  # PST
    assert summer.astimezone(timezone.utc) == datetime(2026, 9, 16, 6, 30, tzinfo=timezone.utc)


def test_an_order_created_at_2330_pacific_belongs_to_the_15th():
    created = parse_timestamp("2026-09-15T23:30:00.0000000")
    assert created.astimezone(timezone.utc).date() == date(2026, 9, 16)
    assert pacific_day(created) == date(2026, 9, 15)


def test_seven_digit_fractions_and_short_forms_parse():
    assert parse_timestamp("2015-08-17T09:24:14.7800000").microsecond == 780000
    assert parse_timestamp("2015-07-16T14:00:34.823").microsecond == 823000
    assert parse_timestamp("2015-06-29") == datetime(2015, 6, 29, tzinfo=PACIFIC)
    assert parse_timestamp(None) is None and parse_timestamp("") is None


def test_a_timestamp_with_an_offset_keeps_it():
    assert parse_timestamp("2026-09-15T10:00:00Z") == datetime(2026, 9, 15, 10, tzinfo=timezone.utc)


def test_filters_are_sent_as_pacific_wall_clock_time():
    utc_moment = datetime(2026, 9, 16, 6, 30, tzinfo=timezone.utc)
    assert format_filter(utc_moment) == "2026-09-15 23:30:00"
    start, end = pacific_day_bounds(date(2026, 9, 15))
    assert (format_filter(start), format_filter(end)) == ("2026-09-15 00:00:00", "2026-09-15 23:59:59")


def test_timestamps_are_written_like_shipstation_and_read_back():
    moment = datetime(2026, 3, 8, 10, 0, 0, 123456, tzinfo=timezone.utc)  # the day DST starts
    text = format_timestamp(moment)
    assert text == "2026-03-08T03:00:00.1234560"
    assert parse_timestamp(text) == moment


def test_ship_dates_are_days():
    assert parse_date("2015-06-29") == date(2015, 6, 29)
    assert parse_date("2020-06-19T00:00:00.0000000") == date(2020, 6, 19)
