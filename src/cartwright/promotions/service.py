"""Promotions: managed by back offices, applied to carts, taken at checkout, given back.

- **Definitions** (`create`, `update`, `deactivate`, `generate_codes`): a promotion without
  a code applies by itself; one with a code, or with single-use codes generated in bulk,
  only to carts holding one of its codes.
- **Pricing** (`PromotionBook.price`): which promotions a cart gets is decided by the pure
  engine (`engine.py`, docs/promotions.md). The automatic promotions are read through a
  short per-process cache (`CARTWRIGHT_PROMOTION_CACHE_TTL_S`); codes are read with the cart.
  The `promotions` kill switch turns every promotion off at once (carts priced without).
- **Checkout** (`take_stmts`): each promotion an order gets is taken by guarded writes in
  checkout's first atomic batch: a limited promotion's counters (`uses < usage_limit`,
  `granted + amount <= budget`), a single-use code once, a customer's use within their
  limit, and the redemption. A promotion with neither limit nor budget takes no lock: its
  redemption is written only if it is still running. When a guard fails nothing applies,
  and the checkout answers 409 `promotion_unavailable` with the cart re-priced.
- **Give back** (`give_back`): a checkout that failed, a canceled or a fully refunded order
  returns what it took, once (ADR 0028).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from cartwright.audit import service as audit
from cartwright.kit import clock, ids
from cartwright.kit.db import Conn, Row, Stmt, UniqueViolation, guarded
from cartwright.kit.errors import ValidationFailed
from cartwright.kit.money import allocate
from cartwright.promotions import engine, repository
from cartwright.promotions.engine import Kind, Reason, Stacking
from cartwright.promotions.errors import PromotionCodeTaken, PromotionInvalid, PromotionNotFound

# A cart holds at most this many codes.
MAX_CART_CODES = 5
# Generated codes: `prefix` + this many characters of an alphabet without 0/O and 1/I
# (32 symbols: 60 random bits per code).
CODE_LENGTH = 12
_ALPHABET = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_TO_ALPHABET = bytes(_ALPHABET[b % 32] for b in range(256))
# The reasons a code is refused when a shopper applies it (422 `promotion_invalid`): the
# code cannot be used for this cart whatever it holds. The others (a minimum subtotal,
# SKUs, the customer's group) may come true as the cart changes: the code stays, and the
# cart says why it does not apply yet.
_REFUSING = frozenset(
    {
        Reason.INACTIVE,
        Reason.NOT_STARTED,
        Reason.EXPIRED,
        Reason.CURRENCY_MISMATCH,
        Reason.CHANNEL_NOT_ELIGIBLE,
        Reason.USED_UP,
        Reason.BUDGET_EXHAUSTED,
    }
)


def normalize_code(code: str) -> str:
    return code.strip().upper()


# ---------------------------------------------------------------------------- definitions


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _check(fields: dict[str, Any]) -> None:
    """The rules between fields (422 naming the field)."""
    kind = Kind(fields["kind"])
    value, currency = fields.get("value"), fields.get("currency")
    if kind is Kind.PERCENTAGE and (value is None or not 1 <= value <= 100):
        raise ValidationFailed.field("value", "a percentage needs a whole percent from 1 to 100")
    if kind is Kind.FIXED_AMOUNT:
        if value is None:
            raise ValidationFailed.field("value", "a fixed amount needs its minor units")
        if currency is None:
            raise ValidationFailed.field("currency", "a fixed amount needs its currency")
    if kind in (Kind.FREE_SHIPPING, Kind.BUY_X_GET_Y) and value is not None:
        raise ValidationFailed.field("value", f"{kind.value} takes no value")
    rule = fields.get("rule") or {}
    if kind is Kind.BUY_X_GET_Y:
        for name in ("buy", "get"):
            if rule.get(name) is None:
                raise ValidationFailed.field(name, "buy_x_get_y needs both buy and get")
    elif rule:
        raise ValidationFailed.field("buy", "only buy_x_get_y takes buy and get")
    for name in ("min_subtotal", "budget"):
        if fields.get(name) is not None and currency is None:
            raise ValidationFailed.field(name, f"{name} is in minor units: set the currency")
    starts, ends = fields.get("starts_at"), fields.get("ends_at")
    if starts is not None and ends is not None and ends <= starts:
        raise ValidationFailed.field("ends_at", "must be later than starts_at")


def _stored(data: dict[str, Any]) -> dict[str, Any]:
    """A request's fields as columns: `buy` and `get` go in `rule`."""
    fields = {k: v for k, v in data.items() if k not in ("buy", "get")}
    if data.get("buy") is not None or data.get("get") is not None:
        fields["rule"] = {"buy": data.get("buy"), "get": data.get("get")}
    return fields


def present(row: Row | dict[str, Any], usage: tuple[int, int] = (0, 0)) -> dict[str, Any]:
    currency = row["currency"]
    rule = _json(row["rule"]) or {}

    def money(amount: int | None) -> dict[str, Any] | None:
        if amount is None or currency is None:
            return None
        return {"amount": int(amount), "currency": currency}

    return {
        "id": row["id"],
        "name": row["name"],
        "code": row["code"],
        "kind": row["kind"],
        "value": row["value"],
        "currency": currency,
        "buy": rule.get("buy"),
        "get": rule.get("get"),
        "min_subtotal": money(row["min_subtotal"]),
        "skus": _json(row["skus"]),
        "customer_groups": _json(row["customer_groups"]),
        "channels": _json(row["channels"]),
        "stacking": row["stacking"],
        "priority": row["priority"],
        "starts_at": clock.isoformat(row["starts_at"]) if row["starts_at"] else None,
        "ends_at": clock.isoformat(row["ends_at"]) if row["ends_at"] else None,
        "usage_limit": row["usage_limit"],
        "usage_limit_per_customer": row["usage_limit_per_customer"],
        "budget": money(row["budget"]),
        # From the redemptions not given back (the row's counters are kept only for
        # limited promotions, as checkout's guards).
        "uses": usage[0],
        "granted": money(usage[1]),
        "active": bool(row["active"]),
        "created_at": clock.isoformat(row["created_at"]),
        "updated_at": clock.isoformat(row["updated_at"]),
    }


def _audited(body: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in body.items()
        if k not in ("id", "uses", "granted", "created_at", "updated_at")
    }


async def _row(conn: Conn, promotion_id: str) -> Row:
    row = await repository.get(conn, promotion_id)
    if row is None:
        raise PromotionNotFound(f"No promotion {promotion_id}.")
    return row


async def create(conn: Conn, data: dict[str, Any]) -> dict[str, Any]:
    """A new promotion (its code, if any, unique among all codes: 409 otherwise)."""
    fields = _stored(data)
    if fields.get("code") is not None:
        fields["code"] = normalize_code(fields["code"])
    _check(fields)
    now = clock.utcnow()
    row = await repository.insert(conn, {**fields, "id": ids.new_id("promo")}, now)
    if row["code"] is not None:
        try:
            await repository.insert_code(conn, row["code"], row["id"], single_use=False, now=now)
        except UniqueViolation:
            raise PromotionCodeTaken(f"The code {row['code']!r} is already in use.") from None
    body = present(row)
    await audit.record(conn, "promotion.created", "promotion", row["id"], _audited(body))
    return body


async def get(conn: Conn, promotion_id: str) -> dict[str, Any]:
    row = await _row(conn, promotion_id)
    usage = await repository.usage(conn, [promotion_id])
    return present(row, usage.get(promotion_id, (0, 0)))


async def list_page(conn: Conn, *, limit: int, starting_after: str | None) -> dict[str, Any]:
    rows = await repository.page(conn, limit=limit + 1, starting_after=starting_after)
    shown = rows[:limit]
    usage = await repository.usage(conn, [r["id"] for r in shown])
    return {
        "data": [present(r, usage.get(r["id"], (0, 0))) for r in shown],
        "has_more": len(rows) > limit,
    }


def _limited(row: Row | dict[str, Any]) -> bool:
    return row["usage_limit"] is not None or row["budget"] is not None


async def update(conn: Conn, promotion_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Change the fields given (`None` clears a nullable one); checked as a whole, audited
    with what changed. Setting the first limit or budget counts the uses so far."""
    before = await _row(conn, promotion_id)
    fields = {k: v for k, v in data.items() if k not in ("buy", "get")}
    if "buy" in data or "get" in data:
        rule = _json(before["rule"]) or {}
        fields["rule"] = {
            "buy": data.get("buy", rule.get("buy")),
            "get": data.get("get", rule.get("get")),
        }
    merged = {**dict(before), **fields}
    merged["rule"] = _json(merged["rule"])
    _check(merged)
    row = await repository.update(conn, promotion_id, fields, clock.utcnow())
    assert row is not None
    if _limited(row) and not _limited(before):
        await repository.recount(conn, promotion_id)
    usage = (await repository.usage(conn, [promotion_id])).get(promotion_id, (0, 0))
    body, old = present(row, usage), present(before, usage)
    changed = {k: body[k] for k in _audited(body) if body[k] != old[k]}
    await audit.record(conn, "promotion.updated", "promotion", promotion_id, changed)
    return body


async def deactivate(conn: Conn, promotion_id: str) -> dict[str, Any]:
    """No cart gets it any more and no checkout takes it (idempotent)."""
    before = await _row(conn, promotion_id)
    row = before
    if before["active"]:
        updated = await repository.update(conn, promotion_id, {"active": False}, clock.utcnow())
        assert updated is not None
        row = updated
        await audit.record(conn, "promotion.deactivated", "promotion", promotion_id, {})
    usage = (await repository.usage(conn, [promotion_id])).get(promotion_id, (0, 0))
    return present(row, usage)


def new_codes(count: int, prefix: str | None) -> list[str]:
    """`count` distinct random codes (`prefix` upper-cased, then CODE_LENGTH symbols)."""
    head = normalize_code(prefix or "")
    codes: set[str] = set()
    while len(codes) < count:
        missing = count - len(codes)
        raw = secrets.token_bytes(missing * CODE_LENGTH).translate(_TO_ALPHABET).decode()
        codes.update(head + raw[i : i + CODE_LENGTH] for i in range(0, len(raw), CODE_LENGTH))
    return sorted(codes)


async def generate_codes(
    conn: Conn, promotion_id: str, count: int, prefix: str | None
) -> dict[str, Any]:
    """`count` single-use codes for the promotion, each usable by one order. A code that
    happens to exist already raises `UniqueViolation` (nothing kept; the caller tries
    again with new codes)."""
    await _row(conn, promotion_id)
    codes = new_codes(count, prefix)
    await repository.insert_codes(conn, promotion_id, codes, clock.utcnow())
    await audit.record(
        conn, "promotion.codes_generated", "promotion", promotion_id, {"count": count}
    )
    return {"promotion_id": promotion_id, "count": len(codes), "codes": codes}


async def list_codes(
    conn: Conn, promotion_id: str, *, limit: int, starting_after: str | None
) -> dict[str, Any]:
    await _row(conn, promotion_id)
    rows = await repository.codes_page(
        conn, promotion_id, limit=limit + 1, starting_after=starting_after
    )
    return {
        "data": [
            {
                "code": r["code"],
                "single_use": bool(r["single_use"]),
                "order_id": r["order_id"],
                "created_at": clock.isoformat(r["created_at"]),
            }
            for r in rows[:limit]
        ],
        "has_more": len(rows) > limit,
    }


# -------------------------------------------------------------------------------- pricing


@dataclass(frozen=True, slots=True)
class Offer:
    """A promotion a cart may get, as read, with what checkout must take for it."""

    promotion: engine.Promotion
    usage_limit_per_customer: int | None = None
    single_use: bool = False  # brought by a single-use code
    counted: bool = False  # it has a usage limit or a budget: its counters are guards


def _offer(row: Row, *, code: str | None = None, single_use: bool = False) -> Offer:
    rule = _json(row["rule"]) or {}

    def names(column: str) -> frozenset[str] | None:
        found = _json(row[column])
        return None if found is None else frozenset(found)

    return Offer(
        engine.Promotion(
            id=row["id"],
            name=row["name"],
            kind=Kind(row["kind"]),
            stacking=Stacking(row["stacking"]),
            priority=int(row["priority"]),
            code=code,
            value=row["value"],
            currency=row["currency"],
            buy=rule.get("buy"),
            get=rule.get("get"),
            min_subtotal=row["min_subtotal"],
            skus=names("skus"),
            customer_groups=names("customer_groups"),
            channels=names("channels"),
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            usage_limit=row["usage_limit"],
            uses=int(row["uses"]),
            budget=row["budget"],
            granted=int(row["granted"]),
            active=bool(row["active"]),
        ),
        usage_limit_per_customer=row["usage_limit_per_customer"],
        single_use=single_use,
        counted=_limited(row),
    )


@dataclass(frozen=True, slots=True)
class Applied:
    """A promotion the cart gets: its amount, each line's share (its part of a shipping
    discount included) and what checkout takes for it."""

    id: str
    name: str
    code: str | None
    amount: int
    line_shares: tuple[int, ...]
    single_use: bool = False
    counted: bool = False
    usage_limit_per_customer: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "code": self.code,
            "amount": self.amount,
            "line_shares": list(self.line_shares),
            "single_use": self.single_use,
            "counted": self.counted,
            "usage_limit_per_customer": self.usage_limit_per_customer,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Applied:
        return cls(**{**doc, "line_shares": tuple(doc["line_shares"])})


@dataclass(frozen=True, slots=True)
class Considered:
    id: str
    name: str
    code: str | None
    reason: Reason


@dataclass(frozen=True, slots=True)
class Priced:
    """What the promotions do to a cart."""

    applied: tuple[Applied, ...]
    considered: tuple[Considered, ...]
    # Taken off each line's goods before tax (the lines' own discounts).
    line_discounts: tuple[int, ...]
    shipping_discount: int
    # Each line's whole share: its discount and its part of the shipping discount.
    line_shares: tuple[int, ...]

    @property
    def discount(self) -> int:
        return sum(self.line_discounts) + self.shipping_discount


def _priced(cart: engine.Cart, outcome: engine.Outcome, offers: dict[str, Offer]) -> Priced:
    weights = [line.subtotal for line in cart.lines]
    applied = []
    totals = [0] * len(cart.lines)
    for grant in outcome.grants:
        shares = list(grant.line_shares)
        if grant.shipping and weights:
            shares = [s + x for s, x in zip(shares, allocate(grant.shipping, weights), strict=True)]
        totals = [t + s for t, s in zip(totals, shares, strict=True)]
        offer = offers[grant.promotion.id]
        applied.append(
            Applied(
                id=grant.promotion.id,
                name=grant.promotion.name,
                code=grant.promotion.code,
                amount=grant.amount,
                line_shares=tuple(shares),
                single_use=offer.single_use,
                counted=offer.counted,
                usage_limit_per_customer=offer.usage_limit_per_customer,
            )
        )
    return Priced(
        applied=tuple(applied),
        considered=tuple(
            Considered(c.promotion.id, c.promotion.name, c.promotion.code, c.reason)
            for c in outcome.considered
        ),
        line_discounts=outcome.line_discounts,
        shipping_discount=outcome.shipping_discount,
        line_shares=tuple(totals),
    )


class PromotionBook:
    """The promotions carts are priced with: the automatic ones read through a short
    per-process cache (few, and read by every quote), codes read as a cart holds them.
    `switch` is the `promotions` kill switch (off: carts are priced without any)."""

    def __init__(
        self,
        ttl_s: float = 2.0,
        switch: Callable[[], bool] | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.switch = switch or (lambda: True)
        self._now = now
        self._automatic: tuple[float, tuple[Offer, ...]] | None = None

    def forget(self) -> None:
        """Read the automatic promotions again next time (after a change, or when a
        checkout found one used up)."""
        self._automatic = None

    async def automatic(self, conn: Conn) -> tuple[Offer, ...]:
        now = self._now()
        if self._automatic is not None and self._automatic[0] > now:
            return self._automatic[1]
        found = tuple(_offer(r) for r in await repository.automatic(conn, clock.utcnow()))
        if self.ttl_s > 0:
            self._automatic = (now + self.ttl_s, found)
        return found

    async def price(
        self, conn: Conn, cart: engine.Cart, codes: Sequence[str] = ()
    ) -> Priced | None:
        """What the promotions do to `cart` (None: none is active, or they are off)."""
        if not self.switch():
            return None
        offers = {o.promotion.id: o for o in await self.automatic(conn)}
        if codes:
            for offer in _code_offers(await repository.by_codes(conn, list(codes))):
                offers.setdefault(offer.promotion.id, offer)
        if not offers:
            return None
        await _customer_limits(conn, cart.customer_id, offers)
        outcome = engine.evaluate(cart, [o.promotion for o in offers.values()])
        return _priced(cart, outcome, offers)


def _code_offers(rows: Sequence[Row]) -> list[Offer]:
    """The promotions codes brought (rows of `repository.by_codes`); a spent single-use
    code's promotion is used up."""
    offers = []
    for row in rows:
        offer = _offer(row, code=row["brought_by"], single_use=bool(row["single_use"]))
        offers.append(_used_up(offer) if row["code_order_id"] is not None else offer)
    return offers


async def _customer_limits(conn: Conn, customer_id: str | None, offers: dict[str, Offer]) -> None:
    """Mark used up, in place, the offers whose per-customer limit the customer reached."""
    limited = [o.promotion.id for o in offers.values() if o.usage_limit_per_customer]
    if customer_id is None or not limited:
        return
    uses = await repository.customer_uses(conn, customer_id, limited)
    for pid in limited:
        offer = offers[pid]
        assert offer.usage_limit_per_customer is not None
        if uses.get(pid, 0) >= offer.usage_limit_per_customer:
            offers[pid] = _used_up(offer)


def _used_up(offer: Offer) -> Offer:
    return dataclasses.replace(
        offer, promotion=dataclasses.replace(offer.promotion, used_up_for_customer=True)
    )


async def check_code(conn: Conn, code: str, cart: engine.Cart, held: Sequence[str] = ()) -> str:
    """The code, normalized, if `cart` (holding the codes `held`) may take it: an unknown
    code, one of a promotion the cart holds a code of already, or one whose promotion
    cannot apply to this cart whatever it holds, is 422 `promotion_invalid` (with `reason`)."""
    normalized = normalize_code(code)
    rows = {r["brought_by"]: r for r in await repository.by_codes(conn, [normalized, *held])}
    row = rows.get(normalized)
    if row is None:
        raise PromotionInvalid(
            f"No promotion has the code {normalized!r}.", extensions={"reason": "unknown_code"}
        )
    twin = next((c for c, r in rows.items() if c != normalized and r["id"] == row["id"]), None)
    if twin is not None:
        raise PromotionInvalid(
            f"The cart already holds a code of this promotion ({twin!r}).",
            extensions={"reason": "promotion_already_applied"},
        )
    (offer,) = _code_offers([row])
    offers = {offer.promotion.id: offer}
    await _customer_limits(conn, cart.customer_id, offers)
    reason = engine.refusal(offers[offer.promotion.id].promotion, cart)
    if reason in _REFUSING:
        assert reason is not None
        raise PromotionInvalid(
            f"The code {normalized!r} cannot be used: {reason.value.replace('_', ' ')}.",
            extensions={"reason": reason.value},
        )
    return normalized


# ------------------------------------------------------------------------------- checkout


def take_stmts(
    order_id: str,
    customer_id: str | None,
    currency: str,
    applied: Sequence[Applied],
    now: datetime,
) -> list[Stmt]:
    """Checkout's guarded writes taking what the order gets (for its atomic batch)."""
    writes: list[Stmt] = []
    for a in applied:
        if a.counted:
            writes.append(guarded(repository.take_counted_stmt(a.id, a.amount, now)))
        if a.single_use and a.code is not None:
            writes.append(guarded(repository.take_code_stmt(a.code, order_id)))
        if customer_id is not None:
            writes.append(
                guarded(
                    repository.take_customer_use_stmt(a.id, customer_id, a.usage_limit_per_customer)
                )
            )
        writes.append(
            guarded(
                repository.redemption_stmt(
                    order_id,
                    a.id,
                    a.code,
                    customer_id,
                    a.amount,
                    currency,
                    now,
                    check_unlimited=not a.counted,
                )
            )
        )
    return writes


async def give_back(conn: Conn, order_id: str) -> int:
    """Return what the order took (its checkout failed, it was canceled or fully
    refunded): uses, budget, the customer's use and a single-use code, once however often
    it is called. How many promotions were given back."""
    returned = await repository.return_redemptions(conn, order_id, clock.utcnow())
    for r in returned:
        await repository.give_back_counted(conn, r["promotion_id"], int(r["amount"]))
        if r["customer_id"] is not None:
            await repository.give_back_customer_use(conn, r["promotion_id"], r["customer_id"])
        if r["code"] is not None:
            await repository.free_code(conn, r["code"], order_id)
    return len(returned)
