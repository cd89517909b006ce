"""Carts: lines, addresses, the shipping choice, and the priced quote behind the totals.

A cart is `open` while the shopper edits it, `checking_out` while a payment for it is in
flight, and `completed` once an order exists; only an open cart changes (`CartClosed`).
Every change first locks the cart row (`touch_open_cart`), which orders it against a
checkout of the same cart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from cartwright.cart import repository
from cartwright.cart.errors import CartClosed, CartLineLimit, CartNotReady
from cartwright.cart.schemas import MAX_LINE_QUANTITY, CartIn, CartUpdate, LineIn
from cartwright.cart.schemas import CartStatus as CartStatus  # re-exported: the saga reads it
from cartwright.catalog import service as catalog
from cartwright.channels import pricing as price_lists
from cartwright.channels import service as channels
from cartwright.channels.pricing import PriceLists, PriceSource
from cartwright.kit import clock, ids, privacy
from cartwright.kit.db import Conn, Row, Stmt
from cartwright.kit.errors import AppError, NotFound, ValidationFailed
from cartwright.kit.viewer import Viewer
from cartwright.promotions import engine as promotion_engine
from cartwright.promotions import service as promotions
from cartwright.promotions.service import Priced, PromotionBook
from cartwright.providers import service as providers
from cartwright.providers.service import Providers, TaxClass, TaxLine, TaxRequest, normalize_tax_id

# One anonymous shopper's cart stays small: a cart holds at most this many lines.
MAX_CART_LINES = 100
# Abandoned carts are deleted in batches of this many, each in a transaction of its own.
PURGE_BATCH = 500


# The customer group of a customer (the composition root passes customers' own lookup:
# customers import the cart module, so the cart cannot import them).
GroupLookup = Callable[[Conn, str], Awaitable[str | None]]


async def _no_groups(conn: Conn, customer_id: str) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class Pricing:
    """What a cart is priced with: the catalog's base prices, the price lists, the
    customers' groups, the promotions, and the tax and shipping providers."""

    prices: catalog.PriceBook
    providers: Providers
    price_lists: PriceLists = field(default_factory=PriceLists)
    customer_group: GroupLookup = _no_groups
    promotions: PromotionBook = field(default_factory=PromotionBook)


@dataclass(frozen=True, slots=True)
class QuotedLine:
    line_id: str
    sku: str
    variant_id: str | None
    title: str
    quantity: int
    unit_price: int | None
    subtotal: int
    tax: int
    # Which price applied and why (a price list's, or the variant's base price).
    price_source: PriceSource = price_lists.BASE
    # The line's share of the discount (its part of a shipping discount included), and of
    # each promotion: (promotion id, amount).
    discount: int = 0
    discounts: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Quote:
    """The cart priced: what the shopper sees and what checkout charges."""

    cart_id: str
    currency: str
    email: str | None
    shipping_address: dict[str, Any] | None
    billing_address: dict[str, Any] | None
    shipping_method: str | None
    lines: list[QuotedLine]
    subtotal: int
    discount: int
    shipping: int
    tax: int
    customer_id: str | None = None  # the signed-in customer the cart belongs to
    # The chosen method is no longer offered for the cart (its address or contents changed).
    shipping_method_unavailable: bool = False
    # The carrier could not be asked: the shipping price is the zone's configured rate.
    shipping_fallback: bool = False
    shipping_weight_grams: int = 0
    # The methods the cart's channel allows (empty: all).
    allowed_shipping: tuple[str, ...] = ()
    channel: str = channels.DEFAULT_CHANNEL  # the code of the cart's channel
    customer_group: str | None = None  # the group of the cart's customer, if any
    tax_id: str | None = None  # a business customer's tax id (e.g. an EU VAT number)
    tax_missing: str | None = None  # why no tax rate applies: the cart is not ready
    tax_exempt_reason: str | None = None  # e.g. reverse_charge
    tax_estimated: bool = False  # the tax provider did not answer: the tables' rates
    prices_include_tax: bool = False
    promotion_codes: tuple[str, ...] = ()  # the codes the shopper applied
    promotions: Priced | None = None  # what the promotions did (None: none active)

    @property
    def total(self) -> int:
        return self.subtotal - self.discount + self.shipping + self.tax

    def not_ready_reasons(self) -> list[str]:
        reasons = []
        if not self.lines:
            reasons.append("the cart has no lines")
        if any(line.unit_price is None or line.variant_id is None for line in self.lines):
            reasons.append("a line's product is not sold in the cart's currency")
        if self.shipping_address is None:
            reasons.append("the cart has no shipping address")
        if self.shipping_method is None:
            reasons.append("the cart has no shipping method")
        elif self.shipping_method_unavailable:
            reasons.append("the cart's shipping method is not offered for its address")
        if self.tax_missing is not None:
            reasons.append(self.tax_missing)
        return reasons


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def codes_of(cart: Row) -> tuple[str, ...]:
    """The promotion codes applied to the cart."""
    return tuple(_json(cart["promotion_codes"]) or ())


def _country(address: dict[str, Any] | None) -> str | None:
    return None if address is None else address.get("country")


def _destination(address: dict[str, Any] | None) -> providers.Destination:
    if address is None:
        return providers.Destination(None)
    return providers.Destination(
        address.get("country"), address.get("region"), address.get("postal_code")
    )


async def quote(
    conn: Conn,
    pricing: Pricing,
    cart: Row,
    line_rows: Sequence[Row] | None = None,
    *,
    prices_include_tax: bool | None = None,
) -> Quote:
    """The cart priced. `prices_include_tax` is the channel's unless given (the tax is
    extracted from the prices, the total unchanged; line and shipping amounts shown net).
    The promotions' line discounts are taken off the lines before tax, and a shipping
    discount off the shipping; each line's share shows both."""
    if line_rows is None:
        line_rows = await repository.lines(conn, cart["id"])
    currency = cart["currency"]
    skus = [r["sku"] for r in line_rows]
    variants = await pricing.prices.priced_variants(conn, skus, currency)
    channel = await channels.lookup(conn, cart["channel"])
    customer_id = cart["customer_id"]
    group = None if customer_id is None else await pricing.customer_group(conn, customer_id)
    lists = await pricing.price_lists.lists(conn)  # cached: no query in most quotes
    list_prices = await pricing.price_lists.prices(conn, skus, currency) if lists else {}
    context = price_lists.Context(channel.code, group, clock.utcnow(), channel.price_list_id)
    shipping_address = _json(cart["shipping_address"])
    country = _country(shipping_address)
    priced = []
    for row in line_rows:
        variant = variants.get(row["sku"])
        unit_price = variant.unit_price if variant else None
        source = price_lists.BASE
        found = list_prices.get(row["sku"])
        if variant is not None and found:
            unit_price, source = price_lists.resolve(
                unit_price, row["quantity"], lists, found, context
            )
        priced.append((row, variant, unit_price, source))
    amounts = [(p or 0) * r["quantity"] for r, _, p, _ in priced]
    method_code = cart["shipping_method"]
    method = None
    weight = sum((v.weight_grams or 0) * r["quantity"] for r, v, _, _ in priced if v)
    if method_code:
        shipment = providers.Shipment(
            _destination(shipping_address), currency, weight_grams=weight, value=sum(amounts)
        )
        method = await providers.find(
            pricing.providers.shipping, method_code, shipment, channel.shipping_methods
        )
    shipping = method.price if method else 0
    if prices_include_tax is None:
        prices_include_tax = channel.prices_include_tax
    codes = codes_of(cart)
    offer = promotion_engine.Cart(
        lines=[
            promotion_engine.Line(row["id"], row["sku"], row["quantity"], unit_price or 0, amount)
            for (row, _, unit_price, _), amount in zip(priced, amounts, strict=True)
        ],
        shipping=shipping,
        currency=currency,
        now=clock.utcnow(),
        customer_id=customer_id,
        customer_group=group,
        channel=channel.code,
    )
    promoted = await pricing.promotions.price(conn, offer, codes)
    discounts = list(promoted.line_discounts) if promoted else [0] * len(priced)
    shipping_discount = promoted.shipping_discount if promoted else 0
    shares = promoted.line_shares if promoted else (0,) * len(priced)
    per_line: list[list[tuple[str, int]]] = [[] for _ in priced]
    for applied in promoted.applied if promoted else ():
        for i, share in enumerate(applied.line_shares):
            if share:
                per_line[i].append((applied.id, share))
    taxes = await pricing.providers.tax.quote(
        TaxRequest(
            currency=currency,
            country=country,
            region=None if shipping_address is None else shipping_address.get("region"),
            postal_code=None if shipping_address is None else shipping_address.get("postal_code"),
            lines=[
                TaxLine(
                    amount,
                    TaxClass(variant.tax_class) if variant else TaxClass.STANDARD,
                    discount,
                    row["sku"],
                )
                for (row, variant, _, _), amount, discount in zip(
                    priced, amounts, discounts, strict=True
                )
            ],
            shipping=shipping - shipping_discount,
            prices_include_tax=prices_include_tax,
            tax_id=cart["tax_id"],
        )
    )
    # Net of tax (and of the line discounts, which are the quote's discount).
    amounts = [net + d for net, d in zip(taxes.line_nets, discounts, strict=True)]
    shipping = taxes.shipping_net + shipping_discount
    lines = [
        QuotedLine(
            line_id=row["id"],
            sku=row["sku"],
            variant_id=variant.variant_id if variant else None,
            title=variant.title if variant else row["sku"],
            quantity=row["quantity"],
            unit_price=unit_price,
            subtotal=amount,
            tax=tax,
            price_source=source,
            discount=share,
            discounts=tuple(mine),
        )
        for (row, variant, unit_price, source), amount, tax, share, mine in zip(
            priced, amounts, taxes.line_taxes, shares, per_line, strict=True
        )
    ]
    return Quote(
        cart_id=cart["id"],
        currency=currency,
        email=cart["email"],
        shipping_address=shipping_address,
        billing_address=_json(cart["billing_address"]),
        shipping_method=method_code,
        lines=lines,
        subtotal=sum(amounts),
        discount=sum(discounts) + shipping_discount,
        shipping=shipping,
        tax=taxes.total,
        shipping_method_unavailable=method_code is not None and method is None,
        shipping_fallback=method is not None and method.estimated,
        shipping_weight_grams=weight,
        allowed_shipping=channel.shipping_methods,
        customer_id=customer_id,
        channel=channel.code,
        customer_group=group,
        tax_id=cart["tax_id"],
        tax_missing=taxes.missing,
        tax_exempt_reason=None if taxes.exempt_reason is None else taxes.exempt_reason.value,
        tax_estimated=taxes.estimated,
        prices_include_tax=prices_include_tax,
        promotion_codes=codes,
        promotions=promoted,
    )


def present(cart: Row, q: Quote) -> dict[str, Any]:
    currency = q.currency

    def money(amount: int | None) -> dict[str, Any] | None:
        return None if amount is None else {"amount": amount, "currency": currency}

    return {
        "id": cart["id"],
        "status": cart["status"],
        "currency": currency,
        "email": q.email,
        "lines": [
            {
                "id": line.line_id,
                "sku": line.sku,
                "variant_id": line.variant_id,
                "title": line.title,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price),
                "price_source": line.price_source.present(),
                "total": money(line.subtotal),
                "discount": money(line.discount),
                "discounts": [
                    {"promotion_id": pid, "amount": money(amount)} for pid, amount in line.discounts
                ],
                "tax": money(line.tax),
            }
            for line in q.lines
        ],
        "shipping_address": q.shipping_address,
        "billing_address": q.billing_address,
        "shipping_method": q.shipping_method,
        "totals": {
            "subtotal": money(q.subtotal),
            "discount": money(q.discount),
            "shipping": money(q.shipping),
            "tax": money(q.tax),
            "total": money(q.total),
        },
        "tax": {
            "tax_id": q.tax_id,
            "exempt_reason": q.tax_exempt_reason,
            "estimated": q.tax_estimated,
            "prices_include_tax": q.prices_include_tax,
        },
        "promotion_codes": list(q.promotion_codes),
        "promotions": [
            {"id": a.id, "name": a.name, "code": a.code, "amount": money(a.amount)}
            for a in (q.promotions.applied if q.promotions else ())
        ],
        "promotions_considered": [
            {"id": c.id, "name": c.name, "code": c.code, "reason": c.reason.value}
            for c in (q.promotions.considered if q.promotions else ())
        ],
        "order_id": cart["order_id"],
        "customer_id": cart["customer_id"],
        "channel": q.channel,
        "created_at": clock.isoformat(cart["created_at"]),
        "updated_at": clock.isoformat(cart["updated_at"]),
    }


async def _view(conn: Conn, pricing: Pricing, cart: Row, *, shown: bool = True) -> dict[str, Any]:
    """The cart priced, for an answer. `shown`: after a change, the promotions it shows are
    remembered as what the shopper saw (`lost_promotions`)."""
    q = await quote(conn, pricing, cart)
    if shown:
        await remember_shown(conn, cart, q)
    return present(cart, q)


def _deal(q: Quote) -> dict[str, int]:
    return {a.id: a.amount for a in q.promotions.applied} if q.promotions else {}


async def remember_shown(conn: Conn, cart: Row, q: Quote) -> None:
    deal = _deal(q)
    if deal != (_json(cart["promotions_shown"]) or {}):
        await repository.set_promotions_shown(
            conn, cart["id"], orjson.dumps(deal).decode() if deal else None
        )


# Why a promotion shown may no longer apply without a promotion having run out: the cart's
# contents, or a better deal.
_CONTENT_REASONS = frozenset(
    {
        promotion_engine.Reason.MIN_SUBTOTAL_NOT_MET,
        promotion_engine.Reason.NO_MATCHING_SKU,
        promotion_engine.Reason.GROUP_NOT_ELIGIBLE,
        promotion_engine.Reason.NOT_COMBINABLE,
        promotion_engine.Reason.LOST_TO_BETTER_DEAL,
        promotion_engine.Reason.NOTHING_TO_DISCOUNT,
    }
)


def lost_promotions(cart: Row, q: Quote) -> list[str]:
    """The promotions the shopper was shown that now give less because one ran out (used
    up, its budget spent, ended or deactivated): checkout must not charge the difference
    unseen."""
    shown: dict[str, int] = _json(cart["promotions_shown"]) or {}
    if not shown:
        return []
    deal = _deal(q)
    reasons = {c.id: c.reason for c in q.promotions.considered} if q.promotions else {}
    return [
        pid
        for pid, amount in shown.items()
        if deal.get(pid, 0) < amount and reasons.get(pid) not in _CONTENT_REASONS
    ]


def require_visible(viewer: Viewer, cart_id: str, owner: str | None) -> None:
    """Another customer's cart is answered exactly as a missing one (404)."""
    if not viewer.may_see(owner):
        raise NotFound(f"No cart {cart_id}.")


async def ensure_visible(conn: Conn, viewer: Viewer, cart_id: str) -> None:
    """404 for a cart that is missing or not the viewer's: checked before the body is read,
    so someone else's cart never answers a validation error."""
    cart = await repository.get_cart(conn, cart_id)
    if cart is None:
        raise NotFound(f"No cart {cart_id}.")
    require_visible(viewer, cart_id, cart["customer_id"])


async def _open_cart(conn: Conn, viewer: Viewer, cart_id: str) -> Row:
    """Lock the open cart for a change (the caller's transaction rolls back on a refusal,
    taking the touch back with it)."""
    cart = await repository.touch_open_cart(conn, cart_id, clock.utcnow())
    if cart is None:
        await _raise_missing_or_closed(conn, viewer, cart_id)
    assert cart is not None
    require_visible(viewer, cart_id, cart["customer_id"])
    return cart


async def _raise_missing_or_closed(conn: Conn, viewer: Viewer, cart_id: str) -> None:
    cart = await repository.get_cart(conn, cart_id)
    if cart is None:
        raise NotFound(f"No cart {cart_id}.")
    require_visible(viewer, cart_id, cart["customer_id"])
    raise CartClosed(f"Cart {cart_id} has been checked out and can no longer change.")


async def create_cart(
    conn: Conn,
    pricing: Pricing,
    data: CartIn,
    *,
    customer_id: str | None = None,
    customer_email: str | None = None,
    channel: str = channels.DEFAULT_CHANNEL,
) -> dict[str, Any]:
    """A new open cart in `channel`; with a customer, it is theirs (and has their email
    unless another was given). A currency the channel does not sell is 422."""
    found = await channels.lookup(conn, channel)
    if not found.sells(data.currency):
        raise ValidationFailed.field(
            "currency",
            f"the channel {found.code!r} sells in {', '.join(found.currencies)}, not"
            f" {data.currency}",
        )
    email = data.email if data.email is not None or customer_id is None else customer_email
    cart = await repository.insert_cart(
        conn,
        ids.new_secret_id("cart"),
        data.currency,
        email,
        clock.utcnow(),
        customer_id,
        found.code,
    )
    return present(cart, await quote(conn, pricing, cart))


async def get_cart(conn: Conn, pricing: Pricing, viewer: Viewer, cart_id: str) -> dict[str, Any]:
    cart = await repository.get_cart(conn, cart_id)
    if cart is None:
        raise NotFound(f"No cart {cart_id}.")
    require_visible(viewer, cart_id, cart["customer_id"])
    return await _view(conn, pricing, cart, shown=False)


async def add_line(
    conn: Conn, pricing: Pricing, viewer: Viewer, cart_id: str, data: LineIn
) -> dict[str, Any]:
    cart = await _open_cart(conn, viewer, cart_id)
    variant = (await pricing.prices.priced_variants(conn, [data.sku], cart["currency"])).get(
        data.sku
    )
    if variant is None:
        raise ValidationFailed.field("sku", f"no variant has the SKU {data.sku!r}")
    if variant.unit_price is None:
        raise ValidationFailed.field("sku", f"{data.sku!r} has no price in {cart['currency']}")
    # Adding a SKU the cart holds merges into its line, which stays within the line limit.
    # (`_open_cart` locked the cart's row: concurrent additions to it wait, then count.)
    lines = await repository.lines(conn, cart_id)
    held = sum(r["quantity"] for r in lines if r["sku"] == data.sku)
    if not held and len(lines) >= MAX_CART_LINES:
        raise CartLineLimit(
            f"A cart holds at most {MAX_CART_LINES} lines; remove one to add {data.sku!r}."
        )
    if held + data.quantity > MAX_LINE_QUANTITY:
        raise ValidationFailed.field(
            "quantity", f"a line holds at most {MAX_LINE_QUANTITY} units; the cart has {held}"
        )
    await repository.add_line(
        conn, ids.new_id("line"), cart_id, data.sku, data.quantity, clock.utcnow()
    )
    return await _view(conn, pricing, cart)


async def change_line(
    conn: Conn, pricing: Pricing, viewer: Viewer, cart_id: str, line_id: str, quantity: int
) -> dict[str, Any]:
    cart = await _open_cart(conn, viewer, cart_id)
    if quantity == 0:
        found = await repository.delete_line(conn, cart_id, line_id)
    else:
        found = await repository.set_line_quantity(conn, cart_id, line_id, quantity)
    if not found:
        raise NotFound(f"Cart {cart_id} has no line {line_id}.")
    return await _view(conn, pricing, cart)


async def remove_line(
    conn: Conn, pricing: Pricing, viewer: Viewer, cart_id: str, line_id: str
) -> dict[str, Any]:
    return await change_line(conn, pricing, viewer, cart_id, line_id, 0)


async def update_cart(
    conn: Conn, pricing: Pricing, viewer: Viewer, cart_id: str, data: CartUpdate
) -> dict[str, Any]:
    sent = data.model_fields_set
    fields: dict[str, Any] = {}
    if "email" in sent:
        fields["email"] = data.email
    for name in ("shipping_address", "billing_address"):
        if name in sent:
            address = getattr(data, name)
            fields[name] = None if address is None else orjson.dumps(address.model_dump()).decode()
    if "tax_id" in sent:
        fields["tax_id"] = None if data.tax_id is None else normalize_tax_id(data.tax_id)
    if "shipping_method" in sent and data.shipping_method is not None:
        cart = await repository.get_cart(conn, cart_id)
        if cart is not None:
            require_visible(viewer, cart_id, cart["customer_id"])
            # The cart as it would be: the method must be offered for its address and lines.
            candidate = {**cart, **fields, "shipping_method": data.shipping_method}
            if (await quote(conn, pricing, candidate)).shipping_method_unavailable:
                raise ValidationFailed.field(
                    "shipping_method", f"{data.shipping_method!r} is not offered for this cart"
                )
    if "shipping_method" in sent:
        fields["shipping_method"] = data.shipping_method
    if not fields:
        cart = await _open_cart(conn, viewer, cart_id)
        return await _view(conn, pricing, cart)
    updated = await repository.update_fields(conn, cart_id, fields, clock.utcnow())
    if updated is None:
        await _raise_missing_or_closed(conn, viewer, cart_id)
    assert updated is not None
    require_visible(viewer, cart_id, updated["customer_id"])
    return await _view(conn, pricing, updated)


async def shipping_methods(
    conn: Conn, pricing: Pricing, viewer: Viewer, cart_id: str
) -> dict[str, Any]:
    cart = await repository.get_cart(conn, cart_id)
    if cart is None:
        raise NotFound(f"No cart {cart_id}.")
    require_visible(viewer, cart_id, cart["customer_id"])
    q = await quote(conn, pricing, {**cart, "shipping_method": None})
    shipment = providers.Shipment(
        _destination(q.shipping_address),
        q.currency,
        weight_grams=q.shipping_weight_grams,
        value=q.subtotal,
    )
    currency = q.currency
    return {
        "data": [
            {
                "code": m.code,
                "title": m.title,
                "price": {"amount": m.price, "currency": currency},
            }
            for m in providers.offered(
                await pricing.providers.shipping.methods(shipment), q.allowed_shipping
            )
        ]
    }


# ---------------------------------------------------------------------------- promotions


async def add_code(
    conn: Conn, pricing: Pricing, viewer: Viewer, cart_id: str, code: str
) -> dict[str, Any]:
    """Apply a promotion code to the open cart (again: the cart as it is). An unknown code,
    or one that cannot apply to this cart whatever it holds, is 422 `promotion_invalid`;
    one whose conditions the cart does not meet yet stays, and the cart says why."""
    cart = await _open_cart(conn, viewer, cart_id)
    codes = codes_of(cart)
    group = None
    if cart["customer_id"] is not None:
        group = await pricing.customer_group(conn, cart["customer_id"])
    offer = promotion_engine.Cart(
        lines=(),
        shipping=0,
        currency=cart["currency"],
        now=clock.utcnow(),
        customer_id=cart["customer_id"],
        customer_group=group,
        channel=cart["channel"],
    )
    normalized = await promotions.check_code(conn, code, offer, codes)
    if normalized in codes:
        return await _view(conn, pricing, cart)
    if len(codes) >= promotions.MAX_CART_CODES:
        raise ValidationFailed.field(
            "code", f"a cart holds at most {promotions.MAX_CART_CODES} promotion codes"
        )
    updated = await repository.update_fields(
        conn,
        cart_id,
        {"promotion_codes": orjson.dumps([*codes, normalized]).decode()},
        clock.utcnow(),
    )
    assert updated is not None  # the cart's row is locked, open
    return await _view(conn, pricing, updated)


async def remove_code(
    conn: Conn, pricing: Pricing, viewer: Viewer, cart_id: str, code: str
) -> dict[str, Any]:
    cart = await _open_cart(conn, viewer, cart_id)
    codes = codes_of(cart)
    normalized = promotions.normalize_code(code)
    if normalized not in codes:
        raise NotFound(f"Cart {cart_id} holds no promotion code {normalized!r}.")
    kept = [c for c in codes if c != normalized]
    updated = await repository.update_fields(
        conn,
        cart_id,
        {"promotion_codes": orjson.dumps(kept).decode() if kept else None},
        clock.utcnow(),
    )
    assert updated is not None
    return await _view(conn, pricing, updated)


# ------------------------------------------------------------------------------ customers


async def claim(
    conn: Conn, pricing: Pricing, cart_id: str, *, customer_id: str, email: str | None
) -> dict[str, Any]:
    """Make an open guest cart the customer's. Theirs already: the cart as it is
    (idempotent); another customer's: 404 as if missing; checked out: `CartClosed`."""
    cart = await repository.claim(conn, cart_id, customer_id, clock.utcnow())
    if cart is None:
        cart = await repository.get_cart(conn, cart_id)
        if cart is None or cart["customer_id"] not in (None, customer_id):
            raise NotFound(f"No cart {cart_id}.")
        if cart["customer_id"] is None:
            raise CartClosed(f"Cart {cart_id} has been checked out and can no longer change.")
    elif cart["email"] is None and email is not None:
        await repository.fill_email(conn, cart_id, email)
        cart = {**cart, "email": email}
    return await _view(conn, pricing, cart)


def _stored(cart: Row, lines: Sequence[Row]) -> dict[str, Any]:
    """A cart as it is held (for a customer's export): no prices, which are not its own."""
    return {
        "id": cart["id"],
        "status": cart["status"],
        "currency": cart["currency"],
        "email": cart["email"],
        "shipping_address": _json(cart["shipping_address"]),
        "billing_address": _json(cart["billing_address"]),
        "shipping_method": cart["shipping_method"],
        "order_id": cart["order_id"],
        "customer_id": cart["customer_id"],
        "channel": cart["channel"],
        "lines": [
            {"id": line["id"], "sku": line["sku"], "quantity": line["quantity"]} for line in lines
        ],
        "created_at": clock.isoformat(cart["created_at"]),
        "updated_at": clock.isoformat(cart["updated_at"]),
    }


async def carts_of_customer(conn: Conn, customer_id: str) -> list[dict[str, Any]]:
    """Every cart the customer holds, with its lines, as stored."""
    carts = await repository.carts_of(conn, customer_id)
    if not carts:
        return []
    lines: dict[str, list[Row]] = {c["id"]: [] for c in carts}
    for line in await repository.lines_of(conn, list(lines)):
        lines[line["cart_id"]].append(line)
    return [_stored(c, lines[c["id"]]) for c in carts]


async def erase_customer(conn: Conn, customer_id: str) -> list[str]:
    """Replace the personal data of the customer's carts (email, addresses but their
    country); returns the carts' ids."""
    carts = await repository.carts_of(conn, customer_id)
    for c in carts:
        await repository.set_personal_data(conn, c["id"], **privacy.erased_contact(c))
    return [c["id"] for c in carts]


# --------------------------------------------------------------- used by the checkout saga


@dataclass(frozen=True, slots=True)
class CheckoutView:
    """A cart as read for checkout: priced, and the version it was priced at."""

    quote: Quote
    status: CartStatus
    updated_at: datetime
    row: Row | None = None  # the cart as read (to show it re-priced)


async def read_for_checkout(conn: Conn, pricing: Pricing, cart_id: str) -> CheckoutView:
    """Price the cart as it is now (no lock: `freeze_stmt` checks it has not changed)."""
    found = await repository.get_with_lines(conn, cart_id)
    if found is None:
        raise NotFound(f"No cart {cart_id}.")
    cart, line_rows = found
    q = await quote(conn, pricing, cart, line_rows)
    return CheckoutView(q, CartStatus(cart["status"]), cart["updated_at"], cart)


def refusal(view: CheckoutView) -> AppError | None:
    """Why this cart cannot be checked out now, if it cannot."""
    if view.status is not CartStatus.OPEN:
        return CartClosed(
            f"Cart {view.quote.cart_id} has been checked out and can no longer change."
        )
    reasons = view.quote.not_ready_reasons()
    if reasons:
        return CartNotReady(f"The cart is not ready for checkout: {'; '.join(reasons)}.")
    return None


def freeze_stmt(view: CheckoutView) -> Stmt:
    """Freeze the cart for checkout, only if it is still open and unchanged since it was
    read (a guard for the checkout's batch)."""
    return repository.freeze_stmt(
        view.quote.cart_id,
        seen_updated_at=view.updated_at,
        from_status=CartStatus.OPEN,
        to_status=CartStatus.CHECKING_OUT,
        now=clock.utcnow(),
    )


def complete_checkout_stmt(cart_id: str, order_id: str) -> Stmt:
    """Mark the cart checked out (row count 1 unless it was not `checking_out`)."""
    return repository.set_status_stmt(
        cart_id,
        from_status=CartStatus.CHECKING_OUT,
        to_status=CartStatus.COMPLETED,
        order_id=order_id,
        now=clock.utcnow(),
    )


async def reopen(conn: Conn, cart_id: str) -> None:
    """After a failed payment the shopper can change the cart and pay again."""
    await repository.set_status(
        conn,
        cart_id,
        from_status=CartStatus.CHECKING_OUT,
        to_status=CartStatus.OPEN,
        order_id=None,
        now=clock.utcnow(),
    )


async def purge_abandoned(conn: Conn, *, ttl_days: int, limit: int = PURGE_BATCH) -> int:
    """Delete up to `limit` open carts untouched for `ttl_days` that no checkout ever
    froze (so nothing refers to them); how many were deleted."""
    cutoff = clock.utcnow() - timedelta(days=ttl_days)
    return await repository.purge_stale(conn, untouched_since=cutoff, limit=limit)
