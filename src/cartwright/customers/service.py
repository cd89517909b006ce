"""Customers: shoppers signed in through the merchant's OpenID Connect provider.

A customer is made on first sight of a verified token's (issuer, subject), race-safe
(`INSERT … ON CONFLICT DO NOTHING`, then read). Back offices list, read, export and
erase them. Erasure (GDPR art. 17) goes through each module's own service: carts, orders,
checkout snapshots, event payloads and stored idempotent answers have their personal
fields replaced by `kit.privacy.PLACEHOLDER`; amounts, order numbers, payments and the
ledger stay. The erased customer's subject is replaced too, so a later token for the same
person makes a new, empty customer (docs/adr/0010-customer-erasure.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cartwright.audit import service as audit
from cartwright.cart import service as cart
from cartwright.checkout import service as checkout
from cartwright.customers import repository
from cartwright.customers.tokens import CustomerClaims
from cartwright.events import service as events
from cartwright.events.service import Event
from cartwright.idempotency import service as idempotency
from cartwright.kit import clock, ids, privacy
from cartwright.kit.db import Conn, Row
from cartwright.kit.errors import NotFound
from cartwright.orders import service as orders


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    email: str | None


def _customer(row: Row) -> Customer:
    return Customer(row["id"], row["email"])


def present(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "email": row["email"],
        "status": row["status"],
        "issuer": row["issuer"],
        "subject": row["subject"],
        "created_at": clock.isoformat(row["created_at"]),
        "updated_at": clock.isoformat(row["updated_at"]),
        "erased_at": clock.isoformat(row["erased_at"]) if row["erased_at"] else None,
        "group": row["customer_group"],
    }


def _event_data(row: Row) -> dict[str, Any]:
    # Events carry no subject: it may be personal and events are fanned out.
    return {
        "id": row["id"],
        "email": row["email"],
        "status": row["status"],
        "created_at": clock.isoformat(row["created_at"]),
    }


async def find(conn: Conn, claims: CustomerClaims) -> Customer | None:
    """The customer a verified token names, if seen before (email kept current)."""
    row = await repository.find_by_subject(conn, claims.issuer, claims.subject)
    if row is None:
        return None
    if claims.email is not None and row["email"] != claims.email:
        row = await repository.set_email(conn, row["id"], claims.email, clock.utcnow()) or row
    return _customer(row)


async def sign_in(conn: Conn, claims: CustomerClaims) -> Customer:
    """The customer a verified token names, made on first sight (`customer.created`).
    Two first requests at once make one customer: the unique (issuer, subject) decides
    and the other reads it. Runs in the caller's transaction."""
    now = clock.utcnow()
    row = await repository.insert_if_new(
        conn, ids.new_id("cus"), claims.issuer, claims.subject, claims.email, now
    )
    if row is not None:
        await events.record(conn, [Event("customer.created", row["id"], _event_data(row))])
        return _customer(row)
    found = await find(conn, claims)
    if found is None:  # made and erased between our two statements
        raise NotFound("The customer was erased meanwhile; sign in again.")
    return found


async def get_customer(conn: Conn, customer_id: str) -> dict[str, Any]:
    row = await repository.get(conn, customer_id)
    if row is None:
        raise NotFound(f"No customer {customer_id}.")
    return present(row)


async def set_group(conn: Conn, customer_id: str, group: str | None) -> dict[str, Any]:
    """Put the customer in a group (None: in none), which price lists and promotions
    match on; audited."""
    before = await repository.get(conn, customer_id)
    if before is None:
        raise NotFound(f"No customer {customer_id}.")
    row = await repository.set_group(conn, customer_id, group, clock.utcnow())
    assert row is not None
    if before["customer_group"] != group:
        await audit.record(
            conn,
            "customer.updated",
            "customer",
            customer_id,
            {"group": {"from": before["customer_group"], "to": group}},
        )
    return present(row)


async def list_customers(
    conn: Conn, *, email: str | None, limit: int, starting_after: str | None
) -> dict[str, Any]:
    rows = await repository.list_customers(
        conn, email=email, limit=limit + 1, starting_after=starting_after
    )
    return {"data": [present(r) for r in rows[:limit]], "has_more": len(rows) > limit}


async def orders_of(
    conn: Conn, customer_id: str, *, limit: int, starting_after: str | None
) -> dict[str, Any]:
    """The customer's orders, newest first (list convention)."""
    return await orders.list_orders(
        conn, limit=limit, starting_after=starting_after, customer_id=customer_id
    )


async def export(conn: Conn, customer_id: str) -> dict[str, Any]:
    """Everything held about the customer: their row, carts (lines, addresses), orders
    (lines, addresses) and the events about any of them."""
    row = await repository.get(conn, customer_id)
    if row is None:
        raise NotFound(f"No customer {customer_id}.")
    carts = await cart.carts_of_customer(conn, customer_id)
    placed = await orders.orders_of_customer(conn, customer_id)
    about = [customer_id, *(c["id"] for c in carts), *(o["id"] for o in placed)]
    return {
        "customer": present(row),
        "carts": carts,
        "orders": placed,
        "events": await events.about(conn, about),
        "exported_at": clock.isoformat(clock.utcnow()),
    }


async def erase(conn: Conn, customer_id: str) -> dict[str, Any]:
    """Replace the customer's personal data everywhere it is held (idempotent: erasing
    again finds nothing left to replace). Money, numbers and the ledger stay."""
    row = await repository.get(conn, customer_id)
    if row is None:
        raise NotFound(f"No customer {customer_id}.")
    cart_ids = await cart.erase_customer(conn, customer_id)
    order_ids = await orders.erase_customer(conn, customer_id)
    checkout_orders = await checkout.erase_snapshots(conn, cart_ids)
    things = sorted({*cart_ids, *order_ids, *checkout_orders})
    await events.rewrite_payloads(conn, [customer_id, *things], privacy.redact)
    await idempotency.rewrite_answers(conn, things, privacy.redact)
    first_time = row["status"] != "erased"
    erased = await repository.erase(
        conn,
        customer_id,
        subject=f"erased:{customer_id}",
        email=privacy.erased(row["email"]),
        now=clock.utcnow(),
    )
    assert erased is not None
    if first_time:
        await events.record(
            conn,
            [Event("customer.erased", customer_id, {"id": customer_id, "status": "erased"})],
        )
        # Who erased whom, and how much: never the personal data itself.
        await audit.record(
            conn,
            "customer.erased",
            "customer",
            customer_id,
            {"carts": len(cart_ids), "orders": len(order_ids)},
        )
    return present(erased)
