"""ShipStation's clock: US Pacific time, written without an offset.

ShipStation API v1 gives every timestamp as Pacific wall-clock time (America/Los_Angeles, with
daylight saving) and no offset (``2026-09-15T23:30:00.0000000``), and reads its date filters the
same way (``2026-09-15 00:00:00``). Everything here converts between those strings and the
timezone-aware datetimes of the canonical model, so that an order created at 23:30 Pacific on
the 15th belongs to the 15th, whatever the machine's own time zone.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Optional
from zoneinfo import ZoneInfo

PACIFIC_NAME = "America/Los_Angeles"
PACIFIC = ZoneInfo(PACIFIC_NAME)

_STAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?$")


def parse_timestamp(text: Optional[str]) -> Optional[datetime]:
    """A ShipStation timestamp (Pacific, no offset, up to 7 fractional digits) as an aware datetime.

    A string that carries an offset (``Z``, ``+00:00``) keeps it. Empty or missing gives None.
    """
    if not text:
        return None
    m = _STAMP.match(text.strip())
    if m is None:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=PACIFIC)
    year, month, day, hh, mm, ss, frac = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    return datetime(int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0), micro,
                    tzinfo=PACIFIC)


def parse_date(text: Optional[str]) -> Optional[date]:
    """A ShipStation date (``2015-06-29``, or a midnight timestamp as /fulfillments gives it): the Pacific day."""
    stamp = parse_timestamp(text)
    return stamp.date() if stamp else None


def to_pacific(moment: datetime) -> datetime:
    """An aware datetime as Pacific wall-clock time (a naive one is taken to be Pacific already)."""
    return moment.replace(tzinfo=PACIFIC) if moment.tzinfo is None else moment.astimezone(PACIFIC)


def format_filter(moment: datetime) -> str:
    """A datetime as a ShipStation date filter value: Pacific, ``yyyy-mm-dd hh:mm:ss``."""
    return to_pacific(moment).strftime("%Y-%m-%d %H:%M:%S")


def format_timestamp(moment: datetime) -> str:
    """A datetime as ShipStation writes timestamps: Pacific, no offset, 7 fractional digits."""
    local = to_pacific(moment)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0"


def pacific_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first and last second of a Pacific calendar day (what "15 September" means to ShipStation)."""
    start = datetime.combine(day, time(0, 0), tzinfo=PACIFIC)
    end = datetime.combine(day, time(23, 59, 59), tzinfo=PACIFIC)
    return start, end


def pacific_day(moment: datetime) -> date:
    """The Pacific calendar day a moment falls on."""
    return to_pacific(moment).date()

