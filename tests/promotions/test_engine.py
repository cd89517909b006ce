"""The promotion engine: properties over any cart and any set of promotions, and the
worked examples of docs/promotions.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cartwright.promotions.engine import (
    Cart,
    Kind,
    Line,
    Promotion,
    Reason,
    Stacking,
    evaluate,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
SKUS = ["A", "B", "C", "D"]


@st.composite
def carts(draw: st.DrawFn) -> Cart:
    count = draw(st.integers(0, 6))
    lines = []
    for i in range(count):
        quantity = draw(st.integers(1, 12))
        price = draw(st.integers(0, 50_000))
        lines.append(
            Line(f"line_{i}", draw(st.sampled_from(SKUS)), quantity, price, price * quantity)
        )
    return Cart(
        lines=lines,
        shipping=draw(st.integers(0, 2_000)),
        currency="EUR",
        now=NOW,
        customer_group=draw(st.sampled_from([None, "vip", "staff"])),
    )


@st.composite
def promotions(draw: st.DrawFn, index: int) -> Promotion:
    kind = draw(st.sampled_from(list(Kind)))
    value = None
    if kind is Kind.PERCENTAGE:
        value = draw(st.integers(1, 100))
    elif kind is Kind.FIXED_AMOUNT:
        value = draw(st.integers(1, 200_000))
    skus = draw(st.none() | st.frozensets(st.sampled_from(SKUS), min_size=1))
    return Promotion(
        id=f"promo_{draw(st.text('abcdef0123', min_size=4, max_size=8))}{index}",
        name=f"P{index}",
        kind=kind,
        stacking=draw(st.sampled_from(list(Stacking))),
        priority=draw(st.integers(-2, 2)),
        value=value,
        currency=draw(st.sampled_from([None, "EUR", "USD"]))
        if kind is not Kind.FIXED_AMOUNT
        else "EUR",
        buy=draw(st.integers(1, 3)) if kind is Kind.BUY_X_GET_Y else None,
        get=draw(st.integers(1, 2)) if kind is Kind.BUY_X_GET_Y else None,
        min_subtotal=draw(st.none() | st.integers(0, 100_000)),
        skus=skus,
        customer_groups=draw(st.none() | st.just(frozenset({"vip"}))),
        starts_at=draw(
            st.none() | st.just(NOW - timedelta(days=1)) | st.just(NOW + timedelta(days=1))
        ),
        usage_limit=draw(st.none() | st.integers(0, 3)),
        uses=draw(st.integers(0, 3)),
        budget=draw(st.none() | st.integers(0, 50_000)),
        granted=draw(st.integers(0, 20_000)),
    )


@st.composite
def promotion_sets(draw: st.DrawFn) -> list[Promotion]:
    count = draw(st.integers(0, 8))
    return [draw(promotions(i)) for i in range(count)]


@settings(max_examples=150, deadline=None)
@given(cart=carts(), promos=promotion_sets())
def test_discounts_never_exceed_what_they_discount_and_add_up(
    cart: Cart, promos: list[Promotion]
) -> None:
    out = evaluate(cart, promos)
    # Each line's discount within the line; shipping's within shipping; all within the cart.
    for line, discount in zip(cart.lines, out.line_discounts, strict=True):
        assert 0 <= discount <= line.subtotal
    assert 0 <= out.shipping_discount <= cart.shipping
    assert 0 <= out.discount <= cart.subtotal + cart.shipping
    # Shares sum to each promotion's amount, and the promotions' amounts to the discount.
    assert sum(g.amount for g in out.grants) == out.discount
    for g in out.grants:
        assert len(g.line_shares) == len(cart.lines)
        assert all(s >= 0 for s in g.line_shares)
        assert sum(g.line_shares) + g.shipping == g.amount > 0
        if g.promotion.budget is not None:
            assert g.amount <= g.promotion.budget - g.promotion.granted
        if g.promotion.kind is Kind.FIXED_AMOUNT:
            assert g.amount <= (g.promotion.value or 0)
        if g.promotion.skus is not None:
            for line, share in zip(cart.lines, g.line_shares, strict=True):
                assert share == 0 or line.sku in g.promotion.skus
    # Per line, the promotions' shares add up to the line's discount.
    for i, discount in enumerate(out.line_discounts):
        assert sum(g.line_shares[i] for g in out.grants) == discount
    # Every promotion is considered once, with the reason "applied" exactly for the grants.
    assert sorted(c.promotion.id for c in out.considered) == sorted({p.id for p in promos})
    applied = {c.promotion.id for c in out.considered if c.reason is Reason.APPLIED}
    assert applied == {g.promotion.id for g in out.grants}


@settings(max_examples=100, deadline=None)
@given(cart=carts(), promos=promotion_sets(), data=st.data())
def test_the_result_does_not_depend_on_the_order_promotions_come_in(
    cart: Cart, promos: list[Promotion], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(promos))
    a, b = evaluate(cart, promos), evaluate(cart, shuffled)
    assert a == b


@settings(max_examples=100, deadline=None)
@given(cart=carts(), promos=promotion_sets())
def test_an_exclusive_promotion_never_combines(cart: Cart, promos: list[Promotion]) -> None:
    out = evaluate(cart, promos)
    exclusive = [g for g in out.grants if g.promotion.stacking is Stacking.EXCLUSIVE]
    if exclusive:
        assert len(out.grants) == 1
        assert not out.stacked


@settings(max_examples=100, deadline=None)
@given(cart=carts(), promos=promotion_sets())
def test_the_shopper_gets_the_best_deal_among_the_lanes(
    cart: Cart, promos: list[Promotion]
) -> None:
    out = evaluate(cart, promos)
    stackable = [p for p in promos if p.stacking is Stacking.STACKABLE]
    for p in promos:
        if p.stacking is Stacking.EXCLUSIVE:
            alone = evaluate(cart, [p])
            assert out.discount >= alone.discount
    assert out.discount >= evaluate(cart, stackable).discount


def _line(sku: str, quantity: int, price: int, i: int = 0) -> Line:
    return Line(f"line_{i}", sku, quantity, price, price * quantity)


def _cart(*lines: Line, shipping: int = 0, group: str | None = None) -> Cart:
    return Cart(list(lines), shipping, "EUR", NOW, customer_group=group)


def test_stacking_applies_each_to_what_is_left_in_priority_order() -> None:
    cart = _cart(_line("A", 2, 5_000, 0), _line("B", 1, 2_000, 1), shipping=500)
    ten = Promotion("promo_b", "10 %", Kind.PERCENTAGE, Stacking.STACKABLE, value=10)
    five_off = Promotion(
        "promo_a",
        "5 EUR",
        Kind.FIXED_AMOUNT,
        Stacking.STACKABLE,
        priority=1,
        value=500,
        currency="EUR",
    )
    ship = Promotion("promo_c", "ship", Kind.FREE_SHIPPING, Stacking.STACKABLE)
    out = evaluate(cart, [ten, ship, five_off])
    # 5 EUR first (priority 1): 12000 -> 500 over 10000:2000 = 417 + 83.
    # Then 10 % of what is left (11500) = 1150 over 9583:1917 = 958 + 192.
    assert [g.promotion.id for g in out.grants] == ["promo_a", "promo_b", "promo_c"]
    assert out.grants[0].line_shares == (417, 83)
    assert out.grants[1].line_shares == (958, 192)
    assert out.grants[2].shipping == 500
    assert out.line_discounts == (1375, 275)
    assert out.discount == 2150


def test_best_deal_exclusive_beats_a_smaller_stack_and_says_why() -> None:
    cart = _cart(_line("A", 1, 10_000))
    big = Promotion("promo_x", "25 %", Kind.PERCENTAGE, Stacking.EXCLUSIVE, value=25)
    small = Promotion("promo_y", "10 %", Kind.PERCENTAGE, Stacking.STACKABLE, value=10)
    other = Promotion("promo_z", "20 %", Kind.PERCENTAGE, Stacking.EXCLUSIVE, value=20)
    out = evaluate(cart, [small, big, other])
    assert out.discount == 2_500
    reasons = {c.promotion.id: c.reason for c in out.considered}
    assert reasons == {
        "promo_x": Reason.APPLIED,
        "promo_y": Reason.NOT_COMBINABLE,
        "promo_z": Reason.LOST_TO_BETTER_DEAL,
    }


def test_on_a_tie_the_stackable_set_wins() -> None:
    cart = _cart(_line("A", 1, 10_000))
    excl = Promotion("promo_x", "20 %", Kind.PERCENTAGE, Stacking.EXCLUSIVE, value=20)
    s1 = Promotion(
        "promo_y", "10 EUR", Kind.FIXED_AMOUNT, Stacking.STACKABLE, value=1_000, currency="EUR"
    )
    s2 = Promotion(
        "promo_z", "10 EUR", Kind.FIXED_AMOUNT, Stacking.STACKABLE, value=1_000, currency="EUR"
    )
    out = evaluate(cart, [excl, s1, s2])
    assert out.stacked and out.discount == 2_000
    assert {c.promotion.id: c.reason for c in out.considered}[
        "promo_x"
    ] is Reason.LOST_TO_BETTER_DEAL


def test_buy_two_get_one_makes_the_cheapest_of_each_group_free() -> None:
    # Units dearest first: 30 30 20 | 20 10 10 | 10 -> free: one 20 and one 10.
    cart = _cart(_line("A", 2, 3_000, 0), _line("B", 2, 2_000, 1), _line("C", 3, 1_000, 2))
    p = Promotion("promo_b", "3 for 2", Kind.BUY_X_GET_Y, Stacking.STACKABLE, buy=2, get=1)
    out = evaluate(cart, [p])
    assert out.line_discounts == (0, 2_000, 1_000)


def test_reasons_for_promotions_that_do_not_apply() -> None:
    cart = _cart(_line("A", 1, 1_000), group="staff")
    cases = {
        Reason.NOT_STARTED: {"starts_at": NOW + timedelta(hours=1)},
        Reason.EXPIRED: {"ends_at": NOW},
        Reason.CURRENCY_MISMATCH: {"currency": "USD"},
        Reason.GROUP_NOT_ELIGIBLE: {"customer_groups": frozenset({"vip"})},
        Reason.USED_UP: {"usage_limit": 3, "uses": 3},
        Reason.BUDGET_EXHAUSTED: {"budget": 100, "granted": 100},
        Reason.MIN_SUBTOTAL_NOT_MET: {"min_subtotal": 1_001},
        Reason.NO_MATCHING_SKU: {"skus": frozenset({"B"})},
        Reason.INACTIVE: {"active": False},
    }
    for reason, fields in cases.items():
        p = Promotion("promo_a", "p", Kind.PERCENTAGE, Stacking.STACKABLE, value=10, **fields)  # type: ignore[arg-type]
        assert [c.reason for c in evaluate(cart, [p]).considered] == [reason]


def test_a_budget_caps_the_last_grant_at_what_is_left_of_it() -> None:
    cart = _cart(_line("A", 1, 10_000), _line("B", 1, 10_000, 1))
    p = Promotion(
        "promo_a",
        "half",
        Kind.PERCENTAGE,
        Stacking.STACKABLE,
        value=50,
        budget=10_000,
        granted=9_001,
    )
    out = evaluate(cart, [p])
    assert out.discount == 999
    assert out.line_discounts == (500, 499)
