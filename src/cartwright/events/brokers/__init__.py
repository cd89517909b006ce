"""Broker adapters for the outbox relay (events/relay.py's `Publisher`), one per broker, built
from `CARTWRIGHT_BROKER_URL` by `from_url`.

Every adapter publishes the CloudEvents document as the message body with the event id as the
broker's message id. `publish_many` sends a page of events in order over one connection
without waiting between them (the broker stores them in the order sent), then waits for
every confirmation, and returns only once all of them came; it connects lazily and, after
any failure, drops its connection so the next call connects again (the relay's backoff
paces the attempts). A connection lost mid-page loses a suffix of the page: the relay sends
the whole page again, and the copies of the prefix carry the same ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from cartwright.events.service import FeedEvent

SCHEMES = ("nats", "amqp", "amqps", "kafka")


class BrokerURLError(ValueError):
    pass


Message = tuple[FeedEvent, dict[str, Any]]  # the event and its CloudEvents document


class Broker(Protocol):
    name: str

    async def publish_many(self, messages: Sequence[Message]) -> None: ...

    async def close(self) -> None: ...


def check_url(url: str) -> None:
    """Raises BrokerURLError with one line saying what is wrong with `url`."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise BrokerURLError(
            f"scheme {parts.scheme or '(none)'!r} is not one of nats, amqp, amqps or kafka"
        )
    if not parts.hostname:
        raise BrokerURLError("names no host")
    for host in parts.netloc.rpartition("@")[2].split(","):  # kafka:// may list several
        port = host.rpartition(":")[2] if ":" in host else ""
        if port and not port.isdigit():
            raise BrokerURLError(f"has a port that is not a number: {host!r}")


def from_url(url: str) -> Broker:
    """The adapter for `url` (nats://host:port[/stream], amqp://user:pass@host:port/vhost,
    kafka://host:port[,host:port...])."""
    check_url(url)
    scheme = urlsplit(url).scheme
    if scheme == "nats":
        from cartwright.events.brokers.nats import NatsPublisher

        return NatsPublisher.from_url(url)
    if scheme in ("amqp", "amqps"):
        from cartwright.events.brokers.rabbitmq import RabbitPublisher

        return RabbitPublisher(url)
    from cartwright.events.brokers.kafka import KafkaPublisher

    return KafkaPublisher.from_url(url)


def body(document: dict[str, Any]) -> bytes:
    import json

    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
