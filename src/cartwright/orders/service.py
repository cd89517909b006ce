"""Orders: placement from a priced cart, reads, and the payment side of the lifecycle.

An order exists once its payment was authorized, or might have been (3-D Secure pending,
an unknown provider answer). A declined payment places no order at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from cartwright.events.service import Event
from cartwright.kit import clock, privacy
from cartwright.kit.crypto import SecretKeys
from cartwright.kit.db import Conn, Database, Row, Stmt
from cartwright.kit.errors import NotFound
from cartwright.orders import repository


class OrderStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class NewOrderLine:
    sku: str
    variant_id: str
    title: str
    quantity: int
    unit_price: int
    subtotal: int
    tax: int
    # The line's share of the order's discount (snapshots from before 0026 have none).
    discount: int = 0


@dataclass(frozen=True, slots=True)
class NewOrder:
    """Everything an order is placed from; also the checkout's durable snapshot."""

    order_id: str
    number: int
    cart_id: str
    currency: str
    email: str | None
    shipping_address: dict[str, Any] | None
    billing_address: dict[str, Any] | None
    shipping_method: str | None
    lines: list[NewOrderLine]
    subtotal: int
    discount: int
    shipping: int
    tax: int
    total: int
    # The signed-in customer whose cart this was (snapshots from before 0007 have none).
    customer_id: str | None = None
    # The shipping price is the flat rate the carrier's outage fell back to (ADR 0026).
    shipping_fallback: bool = False
    # The code of the channel of its cart (snapshots from before 0019: the default one).
    channel: str = "default"
    # Tax (ADR 0025; snapshots from before 0023 have none).
    tax_id: str | None = None
    tax_exempt_reason: str | None = None
    tax_estimated: bool = False
    # The fraud screening's verdict (`risk.rules.Verdict.as_json`); None before 0022.
    risk: dict[str, Any] | None = None
    # The promotions it gets (`promotions.service.Applied.as_json`); none before 0026.
    promotions: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return orjson.dumps(self).decode()

    @classmethod
    def from_json(cls, raw: str | bytes | dict[str, Any]) -> NewOrder:
        data = dict(orjson.loads(raw) if isinstance(raw, str | bytes) else raw)
        data["lines"] = [NewOrderLine(**line) for line in data["lines"]]
        return cls(**data)


# A storefront proves it may read an order with this header (the checkout's access token).
ORDER_TOKEN_HEADER = "cartwright-order-token"


ORDER_TOKEN_PREFIX = "otok_"
_ORDER_TOKEN_PURPOSE = "order-access"


def order_token(keys: SecretKeys, order_id: str) -> str:
    """The order's access token: an HMAC of its id under the server's secret key, so it is
    stored nowhere and every process can recompute it (kit/crypto.py)."""
    return ORDER_TOKEN_PREFIX + keys.derive(_ORDER_TOKEN_PURPOSE, order_id)


def token_opens(keys: SecretKeys, order_id: str, access_token: str | None) -> bool:
    if access_token is None or not access_token.startswith(ORDER_TOKEN_PREFIX):
        return False
    return keys.verify(_ORDER_TOKEN_PURPOSE, order_id, access_token[len(ORDER_TOKEN_PREFIX) :])


async def require_token_access(
    conn: Conn,
    keys: SecretKeys,
    order_id: str,
    access_token: str | None,
    customer_id: str | None = None,
) -> None:
    """For a publishable key: the order opens only with its token, or for the signed-in
    customer it belongs to; otherwise it is as good as missing (404), so order ids cannot
    be probed."""
    if token_opens(keys, order_id, access_token):
        return
    if customer_id is not None and await repository.owner_of(conn, order_id) == customer_id:
        return
    raise NotFound(f"No order {order_id}.")


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def present(order: Row, lines: Sequence[Row]) -> dict[str, Any]:
    currency = order["currency"]

    def money(amount: int) -> dict[str, Any]:
        return {"amount": amount, "currency": currency}

    return {
        "id": order["id"],
        "number": order["number"],
        "status": order["status"],
        "payment_status": order["payment_status"],
        "fulfillment_status": order["fulfillment_status"],
        "currency": currency,
        "email": order["email"],
        "lines": [
            {
                "id": line["id"],
                "sku": line["sku"],
                "variant_id": line["variant_id"],
                "title": line["title"],
                "quantity": line["quantity"],
                "quantity_fulfilled": line["quantity_fulfilled"],
                "unit_price": money(line["unit_price"]),
                "total": money(line["subtotal"]),
                "discount": money(line["discount"]),
                "tax": money(line["tax"]),
            }
            for line in lines
        ],
        "shipping_address": _json(order["shipping_address"]),
        "billing_address": _json(order["billing_address"]),
        "shipping_method": order["shipping_method"],
        # The carrier could not be asked: the shipping price is the zone's flat rate.
        "shipping_fallback": bool(order["shipping_fallback"]),
        "totals": {
            "subtotal": money(order["subtotal"]),
            "discount": money(order["discount"]),
            "shipping": money(order["shipping"]),
            "tax": money(order["tax"]),
            "total": money(order["total"]),
        },
        "amount_captured": money(order["amount_captured"]),
        "amount_refunded": money(order["amount_refunded"]),
        "next_action": _json(order["next_action"]),
        "cart_id": order["cart_id"],
        "customer_id": order["customer_id"],
        "channel": order["channel"],
        "dispute": _json(order["dispute"]),
        "tax": {
            "tax_id": order["tax_id"],
            "exempt_reason": order["tax_exempt_reason"],
            "estimated": bool(order["tax_estimated"]),
        },
        "risk": present_risk(order["risk"], order["risk_review"]),
        "promotions": [
            {"id": x["id"], "name": x["name"], "code": x["code"], "amount": money(x["amount"])}
            for x in _json(order["promotions"]) or []
        ],
        "created_at": clock.isoformat(order["created_at"]),
        "updated_at": clock.isoformat(order["updated_at"]),
    }


def present_risk(risk: Any, review: str | None) -> dict[str, Any] | None:
    """The screening's verdict as the order shows it, with where its review is (`pending`,
    `approved`, `rejected`; None when it was not sent to review)."""
    doc = _json(risk)
    if doc is None:
        return None
    return {**doc, "review": review}


RISK_REVIEW_PENDING = "pending"


def _risk_review(order: NewOrder) -> str | None:
    if order.risk is not None and order.risk.get("decision") == "review":
        return RISK_REVIEW_PENDING
    return None


def _line_rows(order: NewOrder) -> list[tuple[object, ...]]:
    return [
        (
            f"{order.order_id.replace('ord_', 'oli_', 1)}_{position}",
            order.order_id,
            position,
            line.sku,
            line.variant_id,
            line.title,
            line.quantity,
            line.unit_price,
            line.subtotal,
            line.tax,
            line.discount,
        )
        for position, line in enumerate(order.lines)
    ]


def _line_views(line_rows: list[tuple[object, ...]]) -> list[dict[str, Any]]:
    """Line rows as `present` reads them, without a round trip through the database."""
    return [
        {
            "id": row[0],
            "sku": row[3],
            "variant_id": row[4],
            "title": row[5],
            "quantity": row[6],
            "unit_price": row[7],
            "subtotal": row[8],
            "tax": row[9],
            "discount": row[10],
            "quantity_fulfilled": 0,
        }
        for row in line_rows
    ]


class OrderNumbers:
    """Hands out order numbers from blocks of `BLOCK` taken from the database (a sequence
    on PostgreSQL, a counter row on SQLite), so a checkout needs no round trip for its
    number. Numbers are unique and increase within a process; across processes they
    interleave, and a process that stops leaves the rest of its block unused."""

    BLOCK = 20

    def __init__(self) -> None:
        self._next = 0
        self._end = 0
        self._lock = asyncio.Lock()

    async def take(self, db: Database) -> int:
        if self._next >= self._end:
            async with self._lock:
                if self._next >= self._end:
                    async with db.connection() as conn:
                        block = await repository.next_block(conn)
                    self._next, self._end = block * self.BLOCK + 1, (block + 1) * self.BLOCK + 1
        number = self._next
        self._next += 1
        return number


def plan_placement(
    order: NewOrder,
    *,
    payment_status: str,
    amount_captured: int,
    next_action: dict[str, Any] | None,
) -> tuple[dict[str, Any], list[Event], list[Stmt]]:
    """The order as it will read, its events, and the writes that place it (for the
    caller's batch). `order.placed` when it is paid for, else `order.created` (the payment
    is still pending or needs the shopper)."""
    now = clock.utcnow()
    values = (
        order.number,
        order.order_id,
        order.cart_id,
        OrderStatus.OPEN,
        payment_status,
        "unfulfilled",
        order.currency,
        order.email,
        orjson.dumps(order.shipping_address).decode() if order.shipping_address else None,
        orjson.dumps(order.billing_address).decode() if order.billing_address else None,
        order.shipping_method,
        order.subtotal,
        order.discount,
        order.shipping,
        order.tax,
        order.total,
        amount_captured,
        orjson.dumps(next_action).decode() if next_action else None,
        now,
        order.customer_id,
        order.shipping_fallback,
        order.channel,
        order.tax_id,
        order.tax_exempt_reason,
        order.tax_estimated,
        orjson.dumps(order.risk).decode() if order.risk is not None else None,
        _risk_review(order),
        _promotions_json(order),
    )
    row: dict[str, Any] = dict(zip(_ORDER_FIELDS, values, strict=True))
    # `present` takes the documents as they are, not as the JSON text written for them.
    row.update(
        updated_at=now,
        amount_refunded=0,
        shipping_address=order.shipping_address,
        billing_address=order.billing_address,
        next_action=next_action,
        dispute=None,
        risk=order.risk,
        promotions=order.promotions,
    )
    line_rows = _line_rows(order)
    view = present(row, _line_views(line_rows))
    paid = payment_status in ("authorized", "captured")
    recorded = [Event("order.placed" if paid else "order.created", order.order_id, view)]
    if row["risk_review"] == RISK_REVIEW_PENDING:
        recorded.append(Event("order.risk_review", order.order_id, view))
    statements = [repository.insert_order_stmt(values), repository.insert_lines_stmt(line_rows)]
    return view, recorded, statements


_ORDER_FIELDS = (
    "number",
    "id",
    "cart_id",
    "status",
    "payment_status",
    "fulfillment_status",
    "currency",
    "email",
    "shipping_address",
    "billing_address",
    "shipping_method",
    "subtotal",
    "discount",
    "shipping",
    "tax",
    "total",
    "amount_captured",
    "next_action",
    "created_at",
    "customer_id",
    "shipping_fallback",
    "channel",
    "tax_id",
    "tax_exempt_reason",
    "tax_estimated",
    "risk",
    "risk_review",
    "promotions",
)


def _promotions_json(order: NewOrder) -> str | None:
    if not order.promotions:
        return None
    return orjson.dumps(
        [
            {k: x[k] for k in ("id", "name", "code", "amount", "line_shares")}
            for x in order.promotions
        ]
    ).decode()


async def record_payment_outcome(
    conn: Conn,
    order_id: str,
    *,
    from_statuses: Sequence[str],
    payment_status: str,
    amount_captured: int | None,
    next_action: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[Event]] | None:
    """Move an awaiting order on after its payment resolved: paid → `order.placed`;
    failed → canceled (`order.canceled`; the caller releases its stock)."""
    failed = payment_status in ("failed", "voided")
    row = await repository.set_payment_state(
        conn,
        order_id,
        from_statuses=from_statuses,
        payment_status=payment_status,
        status=OrderStatus.CANCELED if failed else OrderStatus.OPEN,
        amount_captured=amount_captured,
        next_action=orjson.dumps(next_action).decode() if next_action else None,
        now=clock.utcnow(),
    )
    if row is None:
        return None
    view = present(row, await repository.lines_of(conn, [order_id]))
    if failed:
        return view, [Event("order.canceled", order_id, view)]
    if payment_status in ("authorized", "captured"):
        return view, [Event("order.placed", order_id, view)]
    return view, []


async def record_dispute(
    conn: Conn, order_id: str, dispute: dict[str, Any]
) -> dict[str, Any] | None:
    """Show the payment's dispute on the order (`{id, status, amount, reason}`, the latest
    one); the order as it reads now, or None when there is no such order."""
    row = await repository.set_dispute(
        conn, order_id, orjson.dumps(dispute).decode(), clock.utcnow()
    )
    if row is None:
        return None
    return present(row, await repository.lines_of(conn, [order_id]))


async def get_order(conn: Conn, order_id: str) -> dict[str, Any]:
    """The order (callers with a publishable key check `require_token_access` first)."""
    row = await repository.get_order(conn, order_id)
    if row is None:
        raise NotFound(f"No order {order_id}.")
    return present(row, await repository.lines_of(conn, [order_id]))


async def list_orders(
    conn: Conn, *, limit: int, starting_after: str | None, customer_id: str | None = None
) -> dict[str, Any]:
    """Newest first; with `customer_id`, only that customer's orders."""
    rows = await repository.list_orders(
        conn, limit=limit + 1, starting_after=starting_after, customer_id=customer_id
    )
    page = rows[:limit]
    return {"data": await _views(conn, page), "has_more": len(rows) > limit}


async def _views(conn: Conn, rows: Sequence[Row]) -> list[dict[str, Any]]:
    lines: dict[str, list[Row]] = {r["id"]: [] for r in rows}
    if rows:
        for line in await repository.lines_of(conn, list(lines)):
            lines[line["order_id"]].append(line)
    return [present(r, lines[r["id"]]) for r in rows]


async def orders_of_customer(conn: Conn, customer_id: str) -> list[dict[str, Any]]:
    """Every order of the customer with its lines and addresses (for their export)."""
    return await _views(conn, await repository.orders_of(conn, customer_id))


async def erase_customer(conn: Conn, customer_id: str) -> list[str]:
    """Replace the personal data of the customer's orders (email, addresses but their
    country); amounts, numbers and lines stay. Returns the orders' ids."""
    rows = await repository.orders_of(conn, customer_id)
    for row in rows:
        await repository.set_personal_data(conn, row["id"], **privacy.erased_contact(row))
    return [r["id"] for r in rows]
