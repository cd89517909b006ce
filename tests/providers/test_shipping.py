"""Shipping zones and rates: explicit prices in each currency's minor units, tiers chosen
monotonically by weight and value, free-shipping thresholds, zones by country, region and
postcode (the most specific wins)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartwright.kit.money import CURRENCY_EXPONENTS
from cartwright.providers.shipping import (
    DEFAULT_ZONES,
    EXPRESS_PRICES,
    STANDARD_PRICES,
    Destination,
    Method,
    Rate,
    RateKind,
    Shipment,
    TableRates,
    Tier,
    Zone,
    find,
    offered,
    postcode_matches,
    table_quotes,
    zone_for,
)

CURRENCIES = sorted(CURRENCY_EXPONENTS)


@st.composite
def tiers(draw: st.DrawFn) -> tuple[Tier, ...]:
    bounds = sorted(draw(st.sets(st.integers(0, 10**7), min_size=1, max_size=6)))
    prices = draw(st.lists(st.integers(0, 10**6), min_size=len(bounds), max_size=len(bounds)))
    found = [Tier(b, p) for b, p in zip(bounds, prices, strict=True)]
    if draw(st.booleans()):
        found.append(Tier(None, draw(st.integers(0, 10**6))))
    return tuple(found)


def _rank(index: int | None, size: int) -> int:
    return size if index is None else index  # beyond every tier ranks last


@given(tiers(), st.integers(0, 2 * 10**7), st.integers(0, 2 * 10**7))
def test_tier_selection_is_monotonic_in_the_measure(
    found: tuple[Tier, ...], a: int, b: int
) -> None:
    low, high = sorted((a, b))
    for kind in (RateKind.WEIGHT, RateKind.VALUE):
        rate = Rate(kind, tiers=found)
        assert _rank(rate.tier_index(low), len(found)) <= _rank(rate.tier_index(high), len(found))
        index = rate.tier_index(low)
        if index is not None:
            tier = found[index]
            assert tier.up_to is None or low <= tier.up_to
            assert all(t.up_to is not None and low > t.up_to for t in found[:index])


@given(tiers(), st.integers(0, 2 * 10**7), st.integers(0, 10**9))
def test_weight_rates_price_by_the_tier_and_refuse_beyond_the_last(
    found: tuple[Tier, ...], weight: int, value: int
) -> None:
    rate = Rate(RateKind.WEIGHT, tiers=found)
    index = rate.tier_index(weight)
    assert rate.quote(weight, value) == (None if index is None else found[index].price)
    assert (index is None) == (found[-1].up_to is not None and weight > found[-1].up_to)


@given(st.integers(0, 10**6), st.integers(0, 10**9), st.integers(0, 10**9))
def test_free_from_the_threshold_on(price: int, threshold: int, value: int) -> None:
    rate = Rate(RateKind.FLAT, price, free_from=threshold)
    assert rate.quote(0, value) == (0 if value >= threshold else price)


@given(st.sampled_from(CURRENCIES), st.integers(0, 10**9), st.integers(0, 10**6))
def test_the_world_zone_prices_every_currency_exactly(
    currency: str, value: int, weight: int
) -> None:
    shipment = Shipment(Destination("JP"), currency, weight_grams=weight, value=value)
    quoted = {m.code: m.price for m in table_quotes(DEFAULT_ZONES, shipment)}
    assert quoted == {"standard": STANDARD_PRICES[currency], "express": EXPRESS_PRICES[currency]}
    assert quoted["standard"] < quoted["express"]


def test_the_default_prices_are_chosen_per_currency_not_converted() -> None:
    assert (STANDARD_PRICES["JPY"], STANDARD_PRICES["EUR"], STANDARD_PRICES["BHD"]) == (
        800,
        500,
        2500,
    )
    assert set(STANDARD_PRICES) == set(EXPRESS_PRICES) == set(CURRENCY_EXPONENTS)


@pytest.mark.parametrize(
    ("currency", "price", "threshold"),
    [("JPY", 800, 8000), ("EUR", 590, 5000), ("BHD", 2500, 25000)],
)
@given(value=st.integers(0, 10**7))
def test_minor_units_and_thresholds_in_zero_two_and_three_decimals(
    currency: str, price: int, threshold: int, value: int
) -> None:
    zone = Zone(
        "w",
        "World",
        methods=(
            Method("standard", "Standard", {currency: Rate(price=price, free_from=threshold)}),
        ),
    )
    quoted = table_quotes((zone,), Shipment(Destination("DE"), currency, value=value))
    assert [m.price for m in quoted] == [0 if value >= threshold else price]
    # Not priced in another currency: not offered in it.
    other = "EUR" if currency != "EUR" else "JPY"
    assert table_quotes((zone,), Shipment(Destination("DE"), other, value=value)) == []


def _zone(zone_id: str, **where: object) -> Zone:
    method = Method(zone_id, zone_id, {"EUR": Rate(price=100)})
    return Zone(zone_id, zone_id, methods=(method,), **where)  # type: ignore[arg-type]


ZONES = (
    _zone("world"),
    _zone("de", countries=frozenset({"DE", "AT"})),
    _zone("bavaria", countries=frozenset({"DE"}), regions=frozenset({"BY"})),
    _zone("berlin", countries=frozenset({"DE"}), postcodes=("10000..14999",)),
    _zone("paris", countries=frozenset({"FR"}), postcodes=("75*",)),
    _zone("london", countries=frozenset({"GB"}), postcodes=("SW1A 1AA", "EC1*")),
)


@pytest.mark.parametrize(
    ("destination", "zone"),
    [
        (Destination("DE", None, "80331"), "de"),
        (Destination("AT"), "de"),
        (Destination("de", "by", "80331"), "bavaria"),
        (Destination("DE", "BE", "10115"), "berlin"),
        (Destination("DE", "BY", "10115"), "berlin"),  # a postcode beats a region
        (Destination("DE", None, "15000"), "de"),
        (Destination("DE", None, "1011"), "de"),  # not the range's length
        (Destination("FR", None, "75008"), "paris"),
        (Destination("FR", None, "69001"), "world"),
        (Destination("GB", None, "sw1a1aa"), "london"),
        (Destination("GB", None, "EC1V 9HX"), "london"),
        (Destination("US", "CA", "94117"), "world"),
        (Destination(None), "world"),
    ],
)
def test_the_most_specific_zone_covers_a_destination(destination: Destination, zone: str) -> None:
    found = zone_for(ZONES, destination)
    assert found is not None and found.id == zone


def test_no_zone_no_method() -> None:
    assert zone_for(ZONES[1:], Destination("US")) is None
    assert table_quotes(ZONES[1:], Shipment(Destination("US"), "EUR")) == []


@pytest.mark.parametrize(
    ("pattern", "postcode", "matches"),
    [
        ("75*", "75001", True),
        ("75*", "7500", True),
        ("75*", "76001", False),
        ("10000..14999", "12 345", True),
        ("10000..14999", "15000", False),
        ("10000..14999", "A1234", False),
        ("EC1*", "ec1a-1bb", True),
    ],
)
def test_postcode_patterns(pattern: str, postcode: str, matches: bool) -> None:
    assert postcode_matches(pattern, postcode) is matches


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Rate(price=-1),
        lambda: Rate(RateKind.WEIGHT),
        lambda: Rate(RateKind.WEIGHT, tiers=(Tier(None, 1), Tier(10, 2))),
        lambda: Rate(RateKind.VALUE, tiers=(Tier(10, 1), Tier(10, 2))),
        lambda: Rate(RateKind.VALUE, tiers=(Tier(20, 1), Tier(10, 2))),
        lambda: Rate(price=1, free_from=-1),
    ],
)
def test_rates_that_make_no_sense_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        bad()  # type: ignore[operator]


async def test_a_channel_filter_and_find() -> None:
    rates = TableRates(DEFAULT_ZONES)
    shipment = Shipment(Destination("DE"), "EUR")
    assert [m.code for m in offered(await rates.methods(shipment), {"express"})] == ["express"]
    assert [m.code for m in offered(await rates.methods(shipment))] == ["standard", "express"]
    assert await find(rates, "standard", shipment, {"express"}) is None
    chosen = await find(rates, "standard", shipment)
    assert chosen is not None and chosen.price == 500
