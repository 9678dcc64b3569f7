"""ISO 3166-1 countries from pycountry: every accepted spelling gives one code; anything else names itself."""

from __future__ import annotations

import pytest

from connex_core import countries
from connex_core.models import Address
from connex_core.testing import make_order


@pytest.mark.parametrize("given, two, three", [
    ("US", "US", "USA"), ("us", "US", "USA"), ("USA", "US", "USA"), ("United States", "US", "USA"),
    ("united states of america", "US", "USA"), ("UK", "GB", "GBR"), ("England", "GB", "GBR"),
    ("United Kingdom", "GB", "GBR"), ("GBR", "GB", "GBR"), ("DEU", "DE", "DEU"), ("Germany", "DE", "DEU"),
    ("South Korea", "KR", "KOR"), ("Korea, Republic of", "KR", "KOR"), ("826", "GB", "GBR"), (" ca ", "CA", "CAN"),
])
def test_every_spelling_gives_one_code(given, two, three):
    assert countries.alpha2(given) == two and countries.alpha3(given) == three and countries.normalised(given) == two


@pytest.mark.parametrize("given", ["Atlantis", "Deutschland", "Untied States", "XX", "ZZZ"])
def test_an_unknown_country_names_the_value_and_the_field(given):
    with pytest.raises(countries.UnknownCountry) as raised:
        countries.alpha2(given, "ship_to.country")
    assert f"ship_to.country: {given!r}" in str(raised.value)
    assert countries.normalised(given) == given.strip()  # reading keeps it, for the writer to name


def test_blank_stays_blank_and_an_order_lists_its_unknown_countries():
    assert countries.alpha2(None) is None and countries.alpha3("  ") is None
    order = make_order(ship_to=Address(street1="1 Main", country="Narnia"), bill_to=Address(country="GBR"))
    assert countries.order_problems(order) == [str(countries.UnknownCountry("Narnia", "ship_to.country"))]
