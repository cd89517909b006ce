"""RabbitMQ: a durable topic exchange `cartwright.events`, routing key = event type, the
event id as `message_id`, persistent messages, each publish awaiting the publisher confirm."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractExchange

from cartwright.events.brokers import body
from cartwright.events.service import FeedEvent

EXCHANGE = "cartwright.events"


@dataclass
class RabbitPublisher:
    url: str
    exchange: str = EXCHANGE
    timeout_s: float = 5.0
    name: str = "rabbitmq"
    _conn: AbstractConnection | None = field(default=None, repr=False)
    _exchange: AbstractExchange | None = field(default=None, repr=False)

    async def _connect(self) -> AbstractExchange:
        if self._exchange is not None and self._conn is not None and not self._conn.is_closed:
            return self._exchange
        await self.close()
        # A plain connection (not `connect_robust`): a failure surfaces to the relay, which
        # publishes the unconfirmed events again through a new connection.
        conn = await aio_pika.connect(self.url, timeout=self.timeout_s)
        try:
            channel = await conn.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange(
                self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
        except BaseException:
            await conn.close()
            raise
        self._conn, self._exchange = conn, exchange
        return exchange

    async def publish(self, event: FeedEvent, document: dict[str, Any]) -> None:
        try:
            exchange = await self._connect()
            message = aio_pika.Message(
                body(document),
                message_id=event.id,
                content_type="application/cloudevents+json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                type=event.type,
            )
            # With publisher confirms this returns once the broker took the message.
            await exchange.publish(message, routing_key=event.type, timeout=self.timeout_s)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        conn, self._conn, self._exchange = self._conn, None, None
        if conn is not None and not conn.is_closed:
            with contextlib.suppress(Exception):  # closing a broken connection may fail too
                await conn.close()
