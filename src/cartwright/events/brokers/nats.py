"""NATS JetStream: the stream (subjects `<prefix>.>`) created if missing, each event published
to `<prefix>.<type>` with `Nats-Msg-Id` = event id (JetStream drops a copy within its
duplicate window). A page is sent in order with `publish_async`, then every PubAck is
awaited."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from cartwright.events.brokers import Message, body

STREAM = "CARTWRIGHT"
PREFIX = "cartwright"


@dataclass
class NatsPublisher:
    servers: str
    stream: str = STREAM
    prefix: str = PREFIX
    timeout_s: float = 5.0
    name: str = "nats"
    _nc: Client | None = field(default=None, repr=False)
    _js: JetStreamContext | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str) -> NatsPublisher:
        parts = urlsplit(url)
        stream = parts.path.strip("/") or STREAM
        return cls(urlunsplit((parts.scheme, parts.netloc, "", "", "")), stream=stream)

    async def _connect(self) -> JetStreamContext:
        if self._js is not None and self._nc is not None and self._nc.is_connected:
            return self._js
        await self.close()
        # No reconnecting inside the client: a failure surfaces to the relay, which backs off
        # and publishes the same events again through a new connection.
        nc = await nats.connect(
            self.servers,
            connect_timeout=self.timeout_s,
            allow_reconnect=False,
            max_reconnect_attempts=0,
        )
        js = nc.jetstream(timeout=self.timeout_s)
        try:
            await js.stream_info(self.stream)
        except NotFoundError:
            await js.add_stream(name=self.stream, subjects=[f"{self.prefix}.>"])
        self._nc, self._js = nc, js
        return js

    async def publish_many(self, messages: Sequence[Message]) -> None:
        try:
            js = await self._connect()
            acks = [
                await js.publish_async(
                    f"{self.prefix}.{event.type}",
                    body(document),
                    wait_stall=self.timeout_s,
                    stream=self.stream,
                    headers={
                        "Nats-Msg-Id": event.id,
                        "Content-Type": "application/cloudevents+json",
                    },
                )
                for event, document in messages
            ]
            await asyncio.wait_for(asyncio.gather(*acks), self.timeout_s)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):  # closing a broken connection may fail too
                await nc.close()
