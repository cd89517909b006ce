"""Kafka: topic `cartwright.events`, key = aggregate id (one partition per aggregate keeps its
order), `acks=all` and the idempotent producer; the event id travels in the `ce_id` header. A page
is appended to the producer in order (`send`), then every delivery is awaited."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from cartwright.events.brokers import Message, body

TOPIC = "cartwright.events"


class Producer(Protocol):
    """The part of aiokafka's AIOKafkaProducer the adapter uses (the seam tests fake)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]:
        """Appends the message to its partition's batch; the result completes once the
        broker acknowledged it."""


def aiokafka_producer(bootstrap_servers: str) -> Producer:
    from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

    producer: Producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        # The idempotent producer: a retried batch is written once and never reordered.
        enable_idempotence=True,
    )
    return producer


@dataclass
class KafkaPublisher:
    bootstrap_servers: str
    topic: str = TOPIC
    make_producer: Callable[[str], Producer] = aiokafka_producer
    name: str = "kafka"
    _producer: Producer | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str) -> KafkaPublisher:
        return cls(urlsplit(url).netloc)

    async def publish_many(self, messages: Sequence[Message]) -> None:
        try:
            if self._producer is None:
                producer = self.make_producer(self.bootstrap_servers)
                await producer.start()
                self._producer = producer
            deliveries = [
                await self._producer.send(
                    self.topic,
                    body(document),
                    key=event.aggregate_id.encode(),
                    headers=[
                        ("ce_id", event.id.encode()),
                        ("ce_type", event.type.encode()),
                        ("content-type", b"application/cloudevents+json"),
                    ],
                )
                for event, document in messages
            ]
            await asyncio.gather(*deliveries)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):  # stopping a broken producer may fail too
                await producer.stop()
