"""RabbitMQ: a durable topic exchange `cartwright.events`, routing key = event type, the
event id as `message_id`, persistent messages; a page is published in order on one channel
with publisher confirms, and every confirm awaited."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractExchange

from cartwright.events.brokers import Message, body

EXCHANGE = "cartwright.events"


@dataclass
class RabbitPublisher:
    url: str = field(repr=False)  # it may hold the password
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

    async def publish_many(self, messages: Sequence[Message]) -> None:
        try:
            exchange = await self._connect()
            # The tasks start in order and take the channel's (first-come) lock in order, so
            # the frames go out in feed order; each returns once the broker confirmed it.
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            body(document),
                            message_id=event.id,
                            content_type="application/cloudevents+json",
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                            type=event.type,
                        ),
                        routing_key=event.type,
                        timeout=self.timeout_s,
                    )
                    for event, document in messages
                )
            )
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        conn, self._conn, self._exchange = self._conn, None, None
        if conn is not None and not conn.is_closed:
            with contextlib.suppress(Exception):  # closing a broken connection may fail too
                await conn.close()
