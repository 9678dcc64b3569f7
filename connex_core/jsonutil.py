"""One JSON encoding for what Connex sends to APIs and what the simulators answer.

``Decimal`` becomes a JSON number (``2`` stays ``2``, ``12.50`` becomes ``12.5``): the float's
shortest repr is the Decimal's own digits for any amount of up to 15 significant digits, which
covers money; a Decimal that a float cannot carry exactly (more digits, or beyond a float's
range) is refused rather than silently changed. ``datetime`` and ``date`` become ISO 8601 text.
Anything else is a :class:`TypeError`, as with :func:`json.dumps`.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["json_default", "dumps", "dumps_bytes"]


def json_default(value: Any) -> Any:
    """The ``default=`` hook of :func:`json.dumps` for Decimal, datetime and date."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        if value == value.to_integral_value():
            return int(value)
        number = float(value)
        if Decimal(repr(number)) != value:
            raise ValueError(f"{value} has more digits than a JSON number carries exactly")
        return number
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(obj: Any, **kwargs: Any) -> str:
    """:func:`json.dumps` with :func:`json_default`."""
    return json.dumps(obj, default=json_default, **kwargs)


def dumps_bytes(obj: Any, **kwargs: Any) -> bytes:
    """:func:`dumps` as UTF-8 bytes (an HTTP body)."""
    return dumps(obj, **kwargs).encode("utf-8")
