"""Xero's date formats, both ways.

Xero answers with Microsoft JSON dates (``"/Date(1539993600000+0000)/"``) and accepts plain ISO
dates (``"2026-01-02"``) in requests. ``If-Modified-Since`` travels as ISO 8601 from xero-python
and as an RFC 1123 date from other clients; :func:`parse_http_date` reads both.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Optional, Union

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def to_ms_date(value: Union[date, datetime]) -> str:
    """A date or aware datetime as Xero writes it: ``/Date(<ms since epoch>+0000)/``."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    return f"/Date({int(value.timestamp() * 1000)}+0000)/"


def parse_ms_date(text: Optional[str]) -> Optional[datetime]:
    """A Xero date string (MS JSON or ISO) as an aware UTC datetime; None for empty input.

    The offset in an MS date describes the local time it was taken in; the milliseconds are
    always UTC, so the offset does not change the instant.
    """
    if not text:
        return None
    m = _MS_DATE.match(text.strip())
    if m:
        return datetime.fromtimestamp(int(m.group(1)) / 1000, tz=timezone.utc)
    parsed = datetime.fromisoformat(text.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def parse_http_date(text: Optional[str]) -> Optional[datetime]:
    """An ``If-Modified-Since`` value (ISO 8601 or RFC 1123) as an aware UTC datetime."""
    if not text:
        return None
    try:
        return parse_ms_date(text)
    except ValueError:
        parsed = parsedate_to_datetime(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
