from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cartwright.kit.db import Conn, Row, Stmt, placeholders, stmt

PAYMENT_COLUMNS = (
    "id, order_id, provider, status, currency, amount, amount_authorized, amount_captured,"
    " amount_refunded, capture_pending, refund_pending, capture_method, provider_reference,"
    " failure_code, failure_message,"
    " next_action, unknown_since, created_at, updated_at"
)


def insert_payment_stmt(
    *,
    payment_id: str,
    order_id: str,
    provider: str,
    status: str,
    currency: str,
    amount: int,
    capture_method: str,
    now: datetime,
) -> Stmt:
    return stmt(
        "INSERT INTO payments (id, order_id, provider, status, currency, amount,"
        " capture_method, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        payment_id,
        order_id,
        provider,
        status,
        currency,
        amount,
        capture_method,
        now,
    )


def move_stmt(
    payment_id: str,
    *,
    sources: Sequence[str],
    target: str,
    reference: str | None,
    amount_authorized: int | None,
    amount_captured: int | None,
    failure_code: str | None,
    failure_message: str | None,
    next_action: str | None,
    unknown_since: datetime | None,
    now: datetime,
) -> Stmt:
    """Move the payment to `target` only from one of `sources` (the state machine's guard):
    its row count is 0 when the payment is not in one of them."""
    return stmt(
        "UPDATE payments SET status = $2, provider_reference = COALESCE($3, provider_reference),"
        " amount_authorized = COALESCE($4, amount_authorized),"
        " amount_captured = COALESCE($5, amount_captured), failure_code = $6,"
        " failure_message = $7, next_action = $8, unknown_since = $9, updated_at = $10"
        f" WHERE id = $1 AND status IN ({placeholders(11, len(sources))})",
        payment_id,
        target,
        reference,
        amount_authorized,
        amount_captured,
        failure_code,
        failure_message,
        next_action,
        unknown_since,
        now,
        *sources,
    )


async def get(conn: Conn, payment_id: str) -> Row | None:
    return await conn.fetchrow(f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1", payment_id)


async def for_order(conn: Conn, order_id: str) -> list[Row]:
    return await conn.fetch(
        f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id = $1 ORDER BY created_at",
        order_id,
    )


async def unknown_summary(conn: Conn) -> tuple[int, datetime | None]:
    """How many payments have an unknown result, and since when the oldest has."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n, min(unknown_since) AS oldest FROM payments WHERE status = 'unknown'"
    )
    assert row is not None
    return int(row["n"]), row["oldest"]


# --------------------------------------------------------------------------- operations

OPERATION_COLUMNS = (
    "id, payment_id, order_id, kind, status, currency, amount, final, reason,"
    " provider_reference, failure_code, next_check_at, created_at, updated_at, breakdown"
)

# Reserve an amount for an operation about to be asked of the provider. Each is one guarded
# UPDATE (row count 0: the state or the amounts do not allow it), so two concurrent
# requests can never both take the same money. A final capture and a void close
# capturing: each reserves the whole remainder, so no capture can start while it runs,
# and starts only when no capture is in flight.
_RESERVE = {
    "capture": (
        "UPDATE payments SET capture_pending = capture_pending + $2, updated_at = $3"
        " WHERE id = $1 AND status IN ('authorized', 'partially_captured')"
        " AND amount_captured + capture_pending + $2 <= amount_authorized"
    ),
    "capture_final": (
        "UPDATE payments SET capture_pending = amount_authorized - amount_captured,"
        " updated_at = $3 WHERE id = $1 AND status IN ('authorized', 'partially_captured')"
        " AND capture_pending = 0 AND amount_captured + $2 <= amount_authorized"
    ),
    "refund": (
        "UPDATE payments SET refund_pending = refund_pending + $2, updated_at = $3"
        " WHERE id = $1 AND status IN ('captured', 'partially_refunded')"
        " AND amount_refunded + refund_pending + $2 <= amount_captured"
    ),
    "void": (
        "UPDATE payments SET capture_pending = capture_pending + $2, updated_at = $3"
        " WHERE id = $1 AND status IN ('authorized', 'partially_captured')"
        " AND capture_pending = 0 AND amount_authorized - amount_captured = $2"
    ),
}

# Apply a succeeded operation to the payment: the money moves.
_SETTLE = {
    "capture": (
        "UPDATE payments SET amount_captured = amount_captured + $2,"
        " capture_pending = capture_pending - $2, status = CASE"
        " WHEN amount_captured + $2 >= amount_authorized THEN 'captured'"
        " ELSE 'partially_captured' END, updated_at = $3"
        " WHERE id = $1 AND status IN ('authorized', 'partially_captured')"
    ),
    "capture_final": (
        "UPDATE payments SET amount_captured = amount_captured + $2, capture_pending = 0,"
        " status = 'captured', updated_at = $3"
        " WHERE id = $1 AND status IN ('authorized', 'partially_captured')"
    ),
    "refund": (
        "UPDATE payments SET amount_refunded = amount_refunded + $2,"
        " refund_pending = refund_pending - $2, status = CASE"
        " WHEN amount_refunded + $2 >= amount_captured THEN 'refunded'"
        " ELSE 'partially_refunded' END, updated_at = $3"
        " WHERE id = $1 AND status IN ('captured', 'partially_refunded')"
    ),
    "void": (
        "UPDATE payments SET capture_pending = 0, status = CASE WHEN amount_captured > 0"
        " THEN 'captured' ELSE 'voided' END, updated_at = $3"
        " WHERE id = $1 AND status IN ('authorized', 'partially_captured') AND $2 >= 0"
    ),
}
# A failed operation only gives its reservation back.
_RELEASE = {
    "capture": (
        "UPDATE payments SET capture_pending = capture_pending - $2, updated_at = $3 WHERE id = $1"
    ),
    "capture_final": (
        "UPDATE payments SET capture_pending = 0, updated_at = $3 WHERE id = $1 AND $2 >= 0"
    ),
    "refund": (
        "UPDATE payments SET refund_pending = refund_pending - $2, updated_at = $3 WHERE id = $1"
    ),
}
_RELEASE["void"] = _RELEASE["capture_final"]


def _variant(kind: str, final: bool) -> str:
    return "capture_final" if kind == "capture" and final else kind


async def reserve(
    conn: Conn, kind: str, payment_id: str, amount: int, final: bool, now: datetime
) -> bool:
    return await conn.execute(_RESERVE[_variant(kind, final)], payment_id, amount, now) == 1


async def insert_operation(
    conn: Conn,
    *,
    operation_id: str,
    payment_id: str,
    order_id: str,
    kind: str,
    currency: str,
    amount: int,
    final: bool,
    reason: str | None,
    next_check_at: datetime,
    now: datetime,
    breakdown: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO payment_operations (id, payment_id, order_id, kind, status, currency,"
        " amount, final, reason, next_check_at, created_at, updated_at, breakdown)"
        " VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10, $10, $11)",
        operation_id,
        payment_id,
        order_id,
        kind,
        currency,
        amount,
        final,
        reason,
        next_check_at,
        now,
        breakdown,
    )


async def get_operation(conn: Conn, operation_id: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {OPERATION_COLUMNS} FROM payment_operations WHERE id = $1", operation_id
    )


async def operations_of_order(conn: Conn, order_id: str) -> list[Row]:
    return await conn.fetch(
        f"SELECT {OPERATION_COLUMNS} FROM payment_operations WHERE order_id = $1"
        " ORDER BY created_at, id",
        order_id,
    )


async def close_operation(
    conn: Conn,
    operation_id: str,
    *,
    status: str,
    reference: str | None,
    failure_code: str | None,
    now: datetime,
) -> Row | None:
    """Settle a pending operation; None when it was settled already (by a webhook, the
    janitor or the request: whichever came first)."""
    return await conn.fetchrow(
        "UPDATE payment_operations SET status = $2,"
        " provider_reference = COALESCE($3, provider_reference), failure_code = $4,"
        f" next_check_at = NULL, updated_at = $5 WHERE id = $1 AND status = 'pending'"
        f" RETURNING {OPERATION_COLUMNS}",
        operation_id,
        status,
        reference,
        failure_code,
        now,
    )


async def settle_payment(
    conn: Conn, kind: str, status: str, payment_id: str, amount: int, final: bool, now: datetime
) -> Row | None:
    sql = (_SETTLE if status == "succeeded" else _RELEASE)[_variant(kind, final)]
    return await conn.fetchrow(sql + f" RETURNING {PAYMENT_COLUMNS}", payment_id, amount, now)


async def reschedule_operation(conn: Conn, operation_id: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE payment_operations SET next_check_at = $2 WHERE id = $1 AND status = 'pending'",
        operation_id,
        at,
    )


async def lease_due_operations(
    conn: Conn, *, now: datetime, lease_until: datetime, limit: int
) -> list[Row]:
    """Pending operations due a look, leased (their next look pushed back) so two
    workers do not both take one."""
    rows = await conn.fetch(
        f"SELECT {OPERATION_COLUMNS} FROM payment_operations"
        " WHERE status = 'pending' AND next_check_at <= $1 ORDER BY next_check_at LIMIT $2",
        now,
        limit,
    )
    leased = []
    for row in rows:
        taken = await conn.execute(
            "UPDATE payment_operations SET next_check_at = $3"
            " WHERE id = $1 AND status = 'pending' AND next_check_at = $2",
            row["id"],
            row["next_check_at"],
            lease_until,
        )
        if taken == 1:
            leased.append(row)
    return leased


# ----------------------------------------------------------------------------- webhooks


async def record_webhook(
    conn: Conn,
    *,
    provider: str,
    event_id: str,
    type_: str,
    payment_id: str | None,
    outcome: str,
    now: datetime,
) -> bool:
    """Note a provider event as received; False when it was already (a redelivery)."""
    inserted = await conn.execute(
        "INSERT INTO psp_webhook_events (provider, event_id, type, payment_id, outcome,"
        " received_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        provider,
        event_id,
        type_,
        payment_id,
        outcome,
        now,
    )
    return inserted == 1


async def webhook_seen(conn: Conn, provider: str, event_id: str) -> bool:
    row = await conn.fetchrow(
        "SELECT 1 AS seen FROM psp_webhook_events WHERE provider = $1 AND event_id = $2",
        provider,
        event_id,
    )
    return row is not None


# ----------------------------------------------------------------------------- disputes

DISPUTE_COLUMNS = (
    "id, payment_id, order_id, provider, provider_reference, currency, amount, reason, status,"
    " created_at, updated_at, closed_at"
)


async def payment_by_reference(conn: Conn, provider: str, reference: str) -> Row | None:
    """The payment a provider knows by `reference` (for a notice that names only that)."""
    return await conn.fetchrow(
        f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE provider = $1 AND provider_reference = $2"
        " ORDER BY created_at LIMIT 1",
        provider,
        reference,
    )


# ------------------------------------------------------------------------ reconciliation


async def get_dispute(conn: Conn, provider: str, reference: str) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {DISPUTE_COLUMNS} FROM payment_disputes"
        " WHERE provider = $1 AND provider_reference = $2",
        provider,
        reference,
    )


async def operation_by_provider_reference(conn: Conn, provider: str, reference: str) -> Row | None:
    columns = ", ".join(f"o.{c.strip()}" for c in OPERATION_COLUMNS.split(","))
    return await conn.fetchrow(
        f"SELECT {columns} FROM payment_operations o JOIN payments p ON p.id = o.payment_id"
        " WHERE p.provider = $1 AND o.provider_reference = $2 ORDER BY o.created_at LIMIT 1",
        provider,
        reference,
    )


async def insert_dispute(
    conn: Conn,
    *,
    dispute_id: str,
    payment_id: str,
    order_id: str,
    provider: str,
    reference: str,
    currency: str,
    amount: int,
    reason: str | None,
    status: str,
    now: datetime,
) -> Row | None:
    """The dispute, or None when the provider's dispute is recorded already."""
    return await conn.fetchrow(
        "INSERT INTO payment_disputes (id, payment_id, order_id, provider, provider_reference,"
        " currency, amount, reason, status, created_at, updated_at, closed_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)"
        f" ON CONFLICT (provider, provider_reference) DO NOTHING RETURNING {DISPUTE_COLUMNS}",
        dispute_id,
        payment_id,
        order_id,
        provider,
        reference,
        currency,
        amount,
        reason,
        status,
        now,
        None if status == "opened" else now,
    )


async def close_dispute(conn: Conn, dispute_id: str, status: str, now: datetime) -> Row | None:
    """opened → won or lost; None when it was closed already."""
    return await conn.fetchrow(
        "UPDATE payment_disputes SET status = $2, updated_at = $3, closed_at = $3"
        f" WHERE id = $1 AND status = 'opened' RETURNING {DISPUTE_COLUMNS}",
        dispute_id,
        status,
        now,
    )


async def disputes_of_order(conn: Conn, order_id: str) -> list[Row]:
    return await conn.fetch(
        f"SELECT {DISPUTE_COLUMNS} FROM payment_disputes WHERE order_id = $1"
        " ORDER BY created_at, id",
        order_id,
    )


async def operations_of_payment(conn: Conn, payment_id: str) -> list[Row]:
    return await conn.fetch(
        f"SELECT {OPERATION_COLUMNS} FROM payment_operations WHERE payment_id = $1"
        " ORDER BY created_at, id",
        payment_id,
    )


async def captured_at_authorization(
    conn: Conn, provider: str, start: datetime, end: datetime
) -> list[Row]:
    """Payments of `provider` created in [start, end) that were captured with their
    authorization (automatic capture) and still hold that money's trace."""
    return await conn.fetch(
        f"SELECT {PAYMENT_COLUMNS} FROM payments WHERE provider = $1"
        " AND created_at >= $2 AND created_at < $3 AND capture_method = 'automatic'"
        " AND status IN ('captured', 'partially_refunded', 'refunded')"
        " ORDER BY created_at, id",
        provider,
        start,
        end,
    )


async def succeeded_operations(
    conn: Conn, provider: str, start: datetime, end: datetime
) -> list[Row]:
    """Captures and refunds of `provider`'s payments created in [start, end) that
    succeeded."""
    columns = ", ".join(f"o.{c.strip()}" for c in OPERATION_COLUMNS.split(","))
    return await conn.fetch(
        f"SELECT {columns} FROM payment_operations o JOIN payments p ON p.id = o.payment_id"
        " WHERE p.provider = $1 AND o.created_at >= $2 AND o.created_at < $3"
        " AND o.status = 'succeeded' AND o.kind IN ('capture', 'refund')"
        " ORDER BY o.created_at, o.id",
        provider,
        start,
        end,
    )
