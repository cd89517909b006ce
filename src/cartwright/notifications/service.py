"""Notifications: mail to shoppers about their orders and low-stock alerts for operators,
both read models of the event feed.

Two consumers (`events.consumers.ConsumerJob`, run by the worker) feed them, each event
applied once through the inbox: `order_mail` queues one notification per order event a
shopper is told about; `stock_alerts` records one alert per `inventory.low`. The sender job
hands queued notifications to a `Notifier`: the default logs them (without the address),
so nothing leaves the platform until a real notifier is configured.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Protocol

import orjson
import structlog

from cartwright.audit import service as audit
from cartwright.events.service import FeedEvent
from cartwright.kit import clock, context, ids
from cartwright.kit.db import Conn, Database, Row
from cartwright.notifications import repository
from cartwright.notifications.errors import StockAlertNotFound

log = structlog.get_logger("cartwright.notifications")

# The order events a shopper is told about, and the notification each queues.
ORDER_MAIL: dict[str, str] = {
    "order.placed": "order_confirmation",
    "order.fulfilled": "shipment",
    "order.canceled": "cancellation",
    "order.completed": "order_completed",
}
ORDER_MAIL_CONSUMER = "order_mail"
STOCK_ALERTS_CONSUMER = "stock_alerts"
LOW_STOCK_TYPES = ("inventory.low",)
# A notification the notifier refused this many times is `failed` (looked at by hand).
MAX_SEND_ATTEMPTS = 5
SEND_BATCH = 100


class NotificationStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class Notifier(Protocol):
    """Delivers one notification (mail, SMS, a CRM's API); raises when it could not."""

    async def send(self, kind: str, recipient: str, payload: dict[str, Any]) -> None: ...


class LogNotifier:
    """The default: each notification is logged (kind and order, never the address)."""

    async def send(self, kind: str, recipient: str, payload: dict[str, Any]) -> None:
        log.info("notification", kind=kind, order_id=payload.get("order_id"))


async def queue_order_mail(conn: Conn, event: FeedEvent) -> None:
    """`order_mail`'s handler: the notification for an order event (guests included: the
    order's email). An order without an email (erased) is told nothing."""
    kind = ORDER_MAIL.get(event.type)
    if kind is None:
        return
    order = event.data
    payload = {
        "order_id": order["id"],
        "number": order.get("number"),
        "status": order.get("status"),
        "totals": order.get("totals"),
    }
    await repository.queue(
        conn,
        ids.new_id("ntf"),
        event.id,
        kind,
        order["id"],
        order.get("email"),
        payload,
        clock.utcnow(),
    )


async def record_stock_alert(conn: Conn, event: FeedEvent) -> None:
    """`stock_alerts`' handler: one alert per `inventory.low`."""
    stock = event.data
    await repository.record_alert(
        conn,
        ids.new_id("salrt"),
        event.id,
        stock["sku"],
        int(stock["available"]),
        int(stock["threshold"]),
        clock.utcnow(),
    )


async def send_queued(db: Database, notifier: Notifier, limit: int = SEND_BATCH) -> int:
    """Hand queued notifications to `notifier`; how many were sent. A notification is
    settled with a guarded update, so two senders racing settle it once (the notifier may
    then have been called twice: at least once, like every delivery)."""
    async with db.connection() as conn:
        rows = await repository.queued(conn, limit)
    sent = 0
    for row in rows:
        status = NotificationStatus.SENT
        if row["recipient"] is None:
            status = NotificationStatus.FAILED  # erased: nobody to tell
        else:
            try:
                await notifier.send(row["kind"], row["recipient"], _payload(row))
            except Exception:
                log.warning("notification not sent", notification_id=row["id"], kind=row["kind"])
                status = (
                    NotificationStatus.FAILED
                    if row["attempts"] + 1 >= MAX_SEND_ATTEMPTS
                    else NotificationStatus.QUEUED
                )
        async with db.transaction() as conn:
            await repository.finish(conn, row["id"], status.value, clock.utcnow())
        sent += status is NotificationStatus.SENT
    return sent


def _payload(row: Row) -> dict[str, Any]:
    raw = row["payload"]
    value: dict[str, Any] = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    return value


async def of_orders(conn: Conn, order_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The notifications about these orders (a customer's export)."""
    return [
        {
            "id": r["id"],
            "kind": r["kind"],
            "order_id": r["order_id"],
            "recipient": r["recipient"],
            "status": r["status"],
            "created_at": clock.isoformat(r["created_at"]),
        }
        for r in await repository.of_orders(conn, order_ids)
    ]


async def erase_orders(conn: Conn, order_ids: Sequence[str]) -> int:
    """Erasure: the notifications about these orders keep no address and no content."""
    return await repository.erase_recipients(conn, order_ids, clock.utcnow())


def _alert(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "sku": row["sku"],
        "available": row["available"],
        "threshold": row["threshold"],
        "acknowledged": row["acknowledged_at"] is not None,
        "acknowledged_at": clock.isoformat(row["acknowledged_at"])
        if row["acknowledged_at"]
        else None,
        "acknowledged_by": row["acknowledged_by"],
        "created_at": clock.isoformat(row["created_at"]),
    }


async def list_stock_alerts(
    conn: Conn, *, open_only: bool, starting_after: str | None, limit: int
) -> dict[str, Any]:
    rows = await repository.alerts(
        conn, open_only=open_only, starting_after=starting_after, limit=limit + 1
    )
    return {"data": [_alert(r) for r in rows[:limit]], "has_more": len(rows) > limit}


async def acknowledge_stock_alert(conn: Conn, alert_id: str) -> dict[str, Any]:
    """Mark an alert seen, audited; acknowledging it again changes nothing (and answers
    it as it stands: who acknowledged it first, and when)."""
    row = await repository.alert(conn, alert_id)
    if row is None:
        raise StockAlertNotFound(f"no stock alert {alert_id}")
    info = context.current()
    by = info.actor_key_id if info else None
    if not await repository.acknowledge(conn, alert_id, by, clock.utcnow()):
        return _alert(row)
    await audit.record(
        conn, "stock_alert.acknowledged", "stock_alert", alert_id, {"sku": row["sku"]}
    )
    found = await repository.alert(conn, alert_id)
    assert found is not None
    return _alert(found)
