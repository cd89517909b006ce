"""The allocation rule (property-based): line parts sum to the order's total, and any
sequence of partial refunds by lines sums to what the lines are worth, all of them to the
total."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cartwright.orders.allocation import Breakdown, lines_of_order, split, units

lines_st = st.lists(
    st.tuples(st.integers(0, 10**7), st.integers(1, 50), st.integers(0, 10**6)),
    min_size=1,
    max_size=8,
)


@st.composite
def orders(draw: st.DrawFn) -> tuple[list[tuple[int, int, int]], int, int, int]:
    lines = draw(lines_st)
    goods = sum(price * q for price, q, _ in lines)
    discount = draw(st.integers(0, goods))
    shipping = draw(st.integers(0, 10**6))
    extra_tax = draw(st.integers(0, 10**5))
    return lines, discount, shipping, extra_tax


@given(orders(), st.data())
def test_any_partial_refunds_sum_exactly(
    order: tuple[list[tuple[int, int, int]], int, int, int], data: st.DataObject
) -> None:
    lines, discount, shipping, extra_tax = order
    tax = sum(t for _, _, t in lines) + extra_tax
    total = sum(p * q for p, q, _ in lines) - discount + shipping + tax
    parts = lines_of_order(
        [(p * q, t) for p, q, t in lines], discount=discount, shipping=shipping, tax=tax
    )
    assert sum(part.total for part in parts) == total
    assert sum(part.discount for part in parts) == discount
    assert sum(part.shipping for part in parts) == shipping
    refunded = Breakdown()
    done = [0] * len(lines)
    # Refund every unit in random chunks, in a random line order.
    while any(d < q for d, (_, q, _) in zip(done, lines, strict=True)):
        i = data.draw(st.sampled_from([i for i, (_, q, _) in enumerate(lines) if done[i] < q]))
        count = data.draw(st.integers(1, lines[i][1] - done[i]))
        share = units(parts[i], lines[i][1], done[i], count)
        assert share.goods >= 0 and share.shipping >= 0 and share.discount >= 0
        refunded += share
        done[i] += count
        assert refunded.total <= total
    assert refunded.total == total
    assert refunded == Breakdown(sum(p * q for p, q, _ in lines), discount, shipping, tax)


@given(st.integers(-(10**9), 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=10))
def test_split_is_exact_and_deterministic(amount: int, weights: list[int]) -> None:
    parts = split(amount, weights)
    assert sum(parts) == amount and parts == split(amount, weights)


def test_ties_go_to_the_earlier_line() -> None:
    assert split(1, [1, 1]) == [1, 0]
    assert [
        p.shipping for p in lines_of_order([(100, 0), (100, 0)], discount=0, shipping=3, tax=0)
    ] == [2, 1]
