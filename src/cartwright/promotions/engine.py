"""Which promotions a priced cart gets, and what each grants (pure: no I/O, no clock).

The rules (docs/promotions.md has worked examples, ADR 0028 the reasons):

- Every promotion is first checked on its own, in this order, and the first failing check
  is its reason: `inactive`, `not_started`, `expired`, `currency_mismatch`,
  `group_not_eligible`, `channel_not_eligible`, `used_up` (usage limit, per-customer
  limit or single-use code), `budget_exhausted`, `min_subtotal_not_met` (the cart's
  subtotal before any discount), `no_matching_sku`.
- Promotions are taken in one total order that never depends on when they were created:
  higher `priority` first, then `id` ascending (ids are unique).
- Stackable promotions combine in that order, each applying to what the earlier ones left
  of each line (and of shipping).
- An exclusive promotion never combines. Each eligible exclusive is priced alone against
  the whole cart; the best one (largest amount, ties by the order above) competes with the
  stackable set priced together. The shopper gets whichever gives more; on a tie the
  stackable set wins. The losers say `lost_to_better_deal` (an exclusive) or
  `not_combinable` (a stackable beaten by an exclusive).
- An eligible promotion that finds nothing left to discount says `nothing_to_discount`.
- Amounts: `percentage` takes `value`% (floored) of what is left of its lines;
  `fixed_amount` takes `value` but never more than is left of its lines; `free_shipping`
  takes what is left of shipping; `buy_x_get_y` sorts the qualifying units by price
  (dearest first, ties by line), cuts them into groups of buy+get and makes the `get`
  cheapest units of each full group free (each line's free units take their per-unit
  share of what is left of that line). A budget caps the amount at what is left of it.
- Allocation: a line-level amount is split over its lines by what is left of each with
  `kit.money.allocate` (largest remainder, ties to the earlier line), the rule the refunds
  use, so shares sum exactly to the amount and never exceed a line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from cartwright.kit.money import allocate


class Kind(StrEnum):
    PERCENTAGE = "percentage"
    FIXED_AMOUNT = "fixed_amount"
    FREE_SHIPPING = "free_shipping"
    BUY_X_GET_Y = "buy_x_get_y"


class Stacking(StrEnum):
    EXCLUSIVE = "exclusive"
    STACKABLE = "stackable"


class Reason(StrEnum):
    APPLIED = "applied"
    NOT_COMBINABLE = "not_combinable"
    LOST_TO_BETTER_DEAL = "lost_to_better_deal"
    NOTHING_TO_DISCOUNT = "nothing_to_discount"
    INACTIVE = "inactive"
    NOT_STARTED = "not_started"
    EXPIRED = "expired"
    CURRENCY_MISMATCH = "currency_mismatch"
    GROUP_NOT_ELIGIBLE = "group_not_eligible"
    CHANNEL_NOT_ELIGIBLE = "channel_not_eligible"
    USED_UP = "used_up"
    BUDGET_EXHAUSTED = "budget_exhausted"
    MIN_SUBTOTAL_NOT_MET = "min_subtotal_not_met"
    NO_MATCHING_SKU = "no_matching_sku"


@dataclass(frozen=True, slots=True)
class Promotion:
    """A promotion as the engine sees it, with its counters as last read."""

    id: str
    name: str
    kind: Kind
    stacking: Stacking
    priority: int = 0
    code: str | None = None  # the code that brought it to this cart (None: automatic)
    value: int | None = None  # percent, or minor units of `currency`
    currency: str | None = None
    buy: int | None = None
    get: int | None = None
    min_subtotal: int | None = None
    skus: frozenset[str] | None = None
    customer_groups: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    usage_limit: int | None = None
    uses: int = 0
    budget: int | None = None
    granted: int = 0
    active: bool = True
    # The caller's findings: this customer's limit is reached, or the code is spent.
    used_up_for_customer: bool = False

    @property
    def order_key(self) -> tuple[int, str]:
        return (-self.priority, self.id)


@dataclass(frozen=True, slots=True)
class Line:
    line_id: str
    sku: str
    quantity: int
    unit_price: int
    subtotal: int


@dataclass(frozen=True, slots=True)
class Cart:
    lines: Sequence[Line]
    shipping: int
    currency: str
    now: datetime
    customer_id: str | None = None
    customer_group: str | None = None
    channel: str = "default"

    @property
    def subtotal(self) -> int:
        return sum(line.subtotal for line in self.lines)


@dataclass(frozen=True, slots=True)
class Grant:
    """What one applied promotion grants: a share per line (in the cart's line order) and
    a shipping discount; `amount` is their sum."""

    promotion: Promotion
    line_shares: tuple[int, ...]
    shipping: int

    @property
    def amount(self) -> int:
        return sum(self.line_shares) + self.shipping


@dataclass(frozen=True, slots=True)
class Considered:
    promotion: Promotion
    reason: Reason


@dataclass(frozen=True, slots=True)
class Outcome:
    grants: tuple[Grant, ...]
    considered: tuple[Considered, ...]
    line_discounts: tuple[int, ...]
    shipping_discount: int
    stacked: bool = field(default=True)  # False when an exclusive promotion won

    @property
    def discount(self) -> int:
        return sum(self.line_discounts) + self.shipping_discount


def refusal(p: Promotion, cart: Cart) -> Reason | None:
    if not p.active:
        return Reason.INACTIVE
    if p.starts_at is not None and cart.now < p.starts_at:
        return Reason.NOT_STARTED
    if p.ends_at is not None and cart.now >= p.ends_at:
        return Reason.EXPIRED
    if p.currency is not None and p.currency != cart.currency:
        return Reason.CURRENCY_MISMATCH
    if p.channels is not None and cart.channel not in p.channels:
        return Reason.CHANNEL_NOT_ELIGIBLE
    if p.customer_groups is not None and cart.customer_group not in p.customer_groups:
        return Reason.GROUP_NOT_ELIGIBLE
    if p.used_up_for_customer or (p.usage_limit is not None and p.uses >= p.usage_limit):
        return Reason.USED_UP
    if p.budget is not None and p.granted >= p.budget:
        return Reason.BUDGET_EXHAUSTED
    if p.min_subtotal is not None and cart.subtotal < p.min_subtotal:
        return Reason.MIN_SUBTOTAL_NOT_MET
    skus = _qualifying_skus(p)
    if skus is not None and not any(line.sku in skus and line.quantity for line in cart.lines):
        return Reason.NO_MATCHING_SKU
    return None


def _qualifying_skus(p: Promotion) -> frozenset[str] | None:
    return p.skus


def _grant(p: Promotion, cart: Cart, left: Sequence[int], shipping_left: int) -> Grant:
    """What `p` grants against what is left of each line and of shipping."""
    skus = _qualifying_skus(p)
    mask = [skus is None or line.sku in skus for line in cart.lines]
    weights = [w if m else 0 for w, m in zip(left, mask, strict=True)]
    base = sum(weights)
    shares: list[int]
    shipping = 0
    if p.kind is Kind.FREE_SHIPPING:
        shares = [0] * len(left)
        shipping = shipping_left
    elif p.kind is Kind.BUY_X_GET_Y:
        shares = _free_units(p, cart, left, mask)
    else:
        if p.kind is Kind.PERCENTAGE:
            amount = base * min(max(p.value or 0, 0), 100) // 100
        else:
            amount = min(max(p.value or 0, 0), base)
        shares = allocate(amount, weights) if weights else []
    if p.budget is not None:
        room = max(p.budget - p.granted, 0)
        total = sum(shares) + shipping
        if total > room:
            capped = allocate(room, [*shares, shipping])
            shares, shipping = capped[:-1], capped[-1]
    return Grant(p, tuple(shares), shipping)


def _free_units(p: Promotion, cart: Cart, left: Sequence[int], mask: Sequence[bool]) -> list[int]:
    buy, get = p.buy or 0, p.get or 0
    shares = [0] * len(left)
    if buy < 1 or get < 1:
        return shares
    # Dearest first (ties by line), in groups of buy + get: the last `get` of each full
    # group are free. Counted per line, never unit by unit (a line may hold thousands).
    ranked = sorted(
        (i for i, m in enumerate(mask) if m and cart.lines[i].quantity > 0),
        key=lambda i: (-cart.lines[i].unit_price, i),
    )
    group = buy + get
    total_units = sum(cart.lines[i].quantity for i in ranked)
    full = total_units // group * group
    free = [0] * len(left)
    position = 0  # index of the next unit in the ranking
    for i in ranked:
        quantity = cart.lines[i].quantity
        start, end = position, min(position + quantity, full)
        if end > start:
            free[i] = _free_in(start, end, buy, group)
        position += quantity
    for i, units in enumerate(free):
        if units:
            quantity = cart.lines[i].quantity
            shares[i] = left[i] * units // quantity
    return shares


def _free_in(start: int, end: int, buy: int, group: int) -> int:
    """How many positions in [start, end) fall on a free slot (offset >= buy in a group)."""

    def upto(n: int) -> int:  # free slots in [0, n)
        whole, rest = divmod(n, group)
        return whole * (group - buy) + max(rest - buy, 0)

    return upto(end) - upto(start)


def _stack(promotions: Sequence[Promotion], cart: Cart) -> tuple[list[Grant], list[int], int]:
    left = [line.subtotal for line in cart.lines]
    shipping_left = cart.shipping
    grants = []
    for p in promotions:
        g = _grant(p, cart, left, shipping_left)
        grants.append(g)
        left = [x - s for x, s in zip(left, g.line_shares, strict=True)]
        shipping_left -= g.shipping
    return grants, left, shipping_left


def evaluate(cart: Cart, promotions: Sequence[Promotion]) -> Outcome:
    """The promotions `cart` gets of `promotions` (automatic ones and those its codes
    brought), each with its reason; independent of the order `promotions` come in."""
    ordered = sorted({p.id: p for p in promotions}.values(), key=lambda p: p.order_key)
    reasons: dict[str, Reason] = {}
    eligible = []
    for p in ordered:
        why = refusal(p, cart)
        if why is None:
            eligible.append(p)
        else:
            reasons[p.id] = why
    stackable = [p for p in eligible if p.stacking is Stacking.STACKABLE]
    exclusives = [p for p in eligible if p.stacking is Stacking.EXCLUSIVE]

    stack_grants, _, _ = _stack(stackable, cart)
    stack_total = sum(g.amount for g in stack_grants)
    best: Grant | None = None
    for p in exclusives:
        g = _grant(p, cart, [line.subtotal for line in cart.lines], cart.shipping)
        if g.amount == 0:
            reasons[p.id] = Reason.NOTHING_TO_DISCOUNT
        elif best is None or g.amount > best.amount:
            best = g

    if best is not None and best.amount > stack_total:
        grants = [best]
        for p in exclusives:
            reasons.setdefault(
                p.id, Reason.APPLIED if p.id == best.promotion.id else Reason.LOST_TO_BETTER_DEAL
            )
        for p in stackable:
            reasons[p.id] = Reason.NOT_COMBINABLE
        stacked = False
    else:
        grants = [g for g in stack_grants if g.amount > 0]
        for g in stack_grants:
            reasons[g.promotion.id] = Reason.APPLIED if g.amount > 0 else Reason.NOTHING_TO_DISCOUNT
        for p in exclusives:
            reasons.setdefault(p.id, Reason.LOST_TO_BETTER_DEAL)
        stacked = True

    line_discounts = [0] * len(cart.lines)
    for g in grants:
        line_discounts = [d + s for d, s in zip(line_discounts, g.line_shares, strict=True)]
    return Outcome(
        grants=tuple(grants),
        considered=tuple(Considered(p, reasons[p.id]) for p in ordered),
        line_discounts=tuple(line_discounts),
        shipping_discount=sum(g.shipping for g in grants),
        stacked=stacked,
    )
