"""The price a line pays (channels.pricing.resolve): property tests against a plain
restatement of the rule, and the cases the rule names."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cartwright.channels.pricing import (
    BASE,
    Context,
    ListPrice,
    PriceKind,
    PriceList,
    resolve,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
CHANNELS = ["web", "pos"]
GROUPS = ["vip", "staff"]


def _bound(offset: int | None) -> datetime | None:
    return None if offset is None else NOW + timedelta(hours=offset)


price_lists = st.builds(
    lambda i, channel, group, start, end, priority: PriceList(
        f"pl_{i:03d}", f"list {i}", channel, group, _bound(start), _bound(end), priority
    ),
    st.integers(0, 999),
    st.sampled_from([None, *CHANNELS]),
    st.sampled_from([None, *GROUPS]),
    st.one_of(st.none(), st.integers(-3, 3)),
    st.one_of(st.none(), st.integers(-3, 3)),
    st.integers(-2, 2),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[PriceList], list[ListPrice], int, Context]:
    lists = draw(st.lists(price_lists, max_size=6, unique_by=lambda pl: pl.id))
    prices = []
    for pl in lists:
        tiers = draw(st.lists(st.integers(1, 20), min_size=0, max_size=3, unique=True))
        prices.extend(
            ListPrice(pl.id, "SKU", "EUR", draw(st.integers(0, 10_000)), t) for t in tiers
        )
    quantity = draw(st.integers(1, 25))
    context = Context(
        draw(st.sampled_from(CHANNELS)),
        draw(st.sampled_from([None, *GROUPS])),
        NOW,
        draw(st.sampled_from([None, *(pl.id for pl in lists)])),
    )
    return lists, prices, quantity, context


def _oracle(
    base: int, lists: list[PriceList], prices: list[ListPrice], quantity: int, c: Context
) -> tuple[int, str | None, int | None]:
    """The rule as the brief states it, written the plain way."""

    def valid(pl: PriceList) -> bool:
        return (pl.starts_at is None or pl.starts_at <= c.now) and (
            pl.ends_at is None or c.now < pl.ends_at
        )

    def for_channel(pl: PriceList) -> bool:
        return pl.channel == c.channel or pl.id == c.channel_list_id

    def matches(pl: PriceList) -> bool:
        return (pl.channel is None or for_channel(pl)) and pl.customer_group in (
            None,
            c.customer_group,
        )

    def rank(pl: PriceList) -> int:
        group, channel = pl.customer_group is not None, for_channel(pl)
        return 3 if group and channel else 2 if group else 1 if channel else 0

    eligible = []
    for pl in lists:
        tiers = [p for p in prices if p.price_list_id == pl.id and p.min_quantity <= quantity]
        if tiers and valid(pl) and matches(pl):
            eligible.append((pl, max(tiers, key=lambda p: p.min_quantity)))
    if not eligible:
        return base, None, None
    eligible.sort(key=lambda e: (-rank(e[0]), -e[0].priority, e[0].id))
    winner, tier = eligible[0]
    return tier.amount, winner.id, tier.min_quantity


@settings(max_examples=400)
@given(scenarios(), st.randoms(use_true_random=False))
def test_resolution_follows_the_rule_whatever_the_order(
    scenario: tuple[list[PriceList], list[ListPrice], int, Context], rnd: random.Random
) -> None:
    lists, prices, quantity, context = scenario
    amount, source = resolve(1999, quantity, lists, prices, context)
    expected_amount, expected_list, expected_tier = _oracle(1999, lists, prices, quantity, context)
    assert amount == expected_amount
    assert source.price_list_id == expected_list
    assert source.min_quantity == expected_tier
    assert (source.kind is PriceKind.BASE) == (expected_list is None)
    assert source.reason  # always says why
    # The order lists and prices are read in changes nothing.
    shuffled_lists, shuffled_prices = list(lists), list(prices)
    rnd.shuffle(shuffled_lists)
    rnd.shuffle(shuffled_prices)
    assert resolve(1999, quantity, shuffled_lists, shuffled_prices, context) == (amount, source)


@given(scenarios())
def test_the_winner_is_valid_matching_and_reached(
    scenario: tuple[list[PriceList], list[ListPrice], int, Context],
) -> None:
    lists, prices, quantity, context = scenario
    _, source = resolve(500, quantity, lists, prices, context)
    if source.kind is PriceKind.PRICE_LIST:
        winner = next(pl for pl in lists if pl.id == source.price_list_id)
        assert winner.valid_at(context.now)
        assert winner.matches(context.channel, context.customer_group, context.channel_list_id)
        assert source.min_quantity is not None and source.min_quantity <= quantity


def _list(pl_id: str, **fields: object) -> PriceList:
    values: dict[str, object] = {
        "channel": None,
        "customer_group": None,
        "starts_at": None,
        "ends_at": None,
        "priority": 0,
        **fields,
    }
    return PriceList(pl_id, pl_id, **values)  # type: ignore[arg-type]


def test_specificity_beats_priority() -> None:
    lists = [
        _list("pl_any", priority=100),
        _list("pl_web", channel="web", priority=50),
        _list("pl_vip", customer_group="vip", priority=10),
        _list("pl_vip_web", channel="web", customer_group="vip"),
    ]
    prices = [ListPrice(pl.id, "S", "EUR", 100 + i, 1) for i, pl in enumerate(lists)]
    vip_web = Context("web", "vip", NOW)
    assert resolve(999, 1, lists, prices, vip_web)[1].price_list_id == "pl_vip_web"
    assert resolve(999, 1, lists, prices, Context("pos", "vip", NOW))[1].price_list_id == "pl_vip"
    assert resolve(999, 1, lists, prices, Context("web", None, NOW))[1].price_list_id == "pl_web"
    assert resolve(999, 1, lists, prices, Context("pos", None, NOW))[1].price_list_id == "pl_any"


def test_tiers_take_the_largest_reached() -> None:
    lists = [_list("pl_tiers")]
    prices = [
        ListPrice("pl_tiers", "S", "EUR", 1000, 1),
        ListPrice("pl_tiers", "S", "EUR", 900, 10),
        ListPrice("pl_tiers", "S", "EUR", 800, 50),
    ]
    context = Context("web", None, NOW)
    assert resolve(1200, 9, lists, prices, context)[0] == 1000
    assert resolve(1200, 10, lists, prices, context)[0] == 900
    assert resolve(1200, 49, lists, prices, context)[0] == 900
    amount, source = resolve(1200, 50, lists, prices, context)
    assert amount == 800 and source.min_quantity == 50
    assert "from 50 units" in source.reason


def test_a_tier_not_reached_falls_back_to_the_base_price() -> None:
    lists = [_list("pl_bulk")]
    prices = [ListPrice("pl_bulk", "S", "EUR", 500, 100)]
    assert resolve(700, 3, lists, prices, Context("web", None, NOW)) == (700, BASE)


def test_windows_are_half_open() -> None:
    start, end = NOW, NOW + timedelta(days=1)
    lists = [_list("pl_sale", starts_at=start, ends_at=end)]
    prices = [ListPrice("pl_sale", "S", "EUR", 500, 1)]
    before = Context("web", None, start - timedelta(microseconds=1))
    assert resolve(700, 1, lists, prices, before)[0] == 700
    assert resolve(700, 1, lists, prices, Context("web", None, start))[0] == 500
    assert resolve(700, 1, lists, prices, Context("web", None, end))[0] == 700


def test_the_channels_own_list_counts_as_the_channels() -> None:
    lists = [_list("pl_any", priority=5), _list("pl_own")]
    prices = [ListPrice("pl_any", "S", "EUR", 100, 1), ListPrice("pl_own", "S", "EUR", 200, 1)]
    own = Context("web", None, NOW, channel_list_id="pl_own")
    assert resolve(999, 1, lists, prices, own)[1].price_list_id == "pl_own"
    assert resolve(999, 1, lists, prices, Context("web", None, NOW))[1].price_list_id == "pl_any"
