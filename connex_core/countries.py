"""Countries as ISO 3166-1 codes, from pycountry (the ISO tables, kept up to date by its maintainers).

Sources write countries as they please ("USA", "United States", "us", "DEU", "Deutschland" is not
understood); APIs want one form (ISO alpha-2 for most, alpha-3 for some). :func:`alpha2` and
:func:`alpha3` accept an ISO alpha-2 or alpha-3 code, an ISO numeric code, or an English name (the
ISO short name, official name or common name: "United Kingdom", "Korea, Republic of", "South Korea"),
in any letter case, plus a few everyday names ISO does not list (:data:`ALIASES`: "UK", "England",
"Great Britain", ...). Anything else raises :class:`UnknownCountry`, naming the value and the field, so
the one order that carries it fails with a message instead of reaching an API as typed. Nothing is
guessed (no fuzzy matching).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

import pycountry

#: Everyday names that are not ISO names, by the alpha-2 code they mean.
ALIASES = {
    "uk": "GB", "u.k.": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB",
    "u.s.": "US", "u.s.a.": "US", "america": "US", "united states of america": "US",
}


class UnknownCountry(ValueError):
    """A country Connex cannot read as an ISO 3166-1 country; the message names the value and the field."""

    def __init__(self, value: str, field: str):
        self.value, self.field = value, field
        super().__init__(f"{field}: {value!r} is not a country Connex knows (give an ISO 3166-1 code such as 'US' "
                         f"or 'GBR', or the country's English name)")


@lru_cache(maxsize=4096)
def _lookup(text: str):
    key = text.strip().lower()
    if key in ALIASES:
        return pycountry.countries.get(alpha_2=ALIASES[key])
    try:
        return pycountry.countries.lookup(text.strip())
    except LookupError:
        return None


def alpha2(value: Optional[str], field: str = "country") -> Optional[str]:
    """The ISO alpha-2 code of ``value`` (None or blank stays None); :class:`UnknownCountry` when unknown."""
    if value is None or not str(value).strip():
        return None
    found = _lookup(str(value))
    if found is None:
        raise UnknownCountry(str(value), field)
    return found.alpha_2


def alpha3(value: Optional[str], field: str = "country") -> Optional[str]:
    """The ISO alpha-3 code of ``value`` (None or blank stays None); :class:`UnknownCountry` when unknown."""
    if value is None or not str(value).strip():
        return None
    found = _lookup(str(value))
    if found is None:
        raise UnknownCountry(str(value), field)
    return found.alpha_3


def normalised(value: Optional[str]) -> Optional[str]:
    """For reading: the alpha-2 code when ``value`` is a known country, else ``value`` as given (a writer
    that needs a country then names it)."""
    if value is None or not str(value).strip():
        return None
    found = _lookup(str(value))
    return found.alpha_2 if found is not None else str(value).strip()


def order_problems(order) -> list[str]:
    """One message per address of ``order`` (a canonical order) whose country is not known."""
    problems = []
    for field in ("bill_to", "ship_to"):
        try:
            alpha2(getattr(order, field).country, f"{field}.country")
        except UnknownCountry as exc:
            problems.append(str(exc))
    return problems
