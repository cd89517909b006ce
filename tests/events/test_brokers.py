"""The broker adapters against the real servers on this machine (NATS JetStream on
127.0.0.1:4222, RabbitMQ on 127.0.0.1:5672), each through a TCP proxy the test can cut:
every event arrives, in order per aggregate; an outage mid-stream loses and reorders nothing;
two relays at once publish each event once (a copy carries the same id). Kafka through its
producer seam with a fake. Each test uses a stream / exchange of its own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any

import aio_pika
import nats
import pytest
from prometheus_client import REGISTRY

from cartwright.events import brokers
from cartwright.events import relay as relay_module
from cartwright.events import service as events
from cartwright.events.brokers.job import RelayJob
from cartwright.events.brokers.kafka import KafkaPublisher
from cartwright.events.brokers.nats import NatsPublisher
from cartwright.events.brokers.rabbitmq import RabbitPublisher
from cartwright.events.relay import Relay
from cartwright.events.service import Event, FeedEvent
from cartwright.kit import ids
from cartwright.kit.db import Database
from cartwright.kit.settings import Settings
from cartwright.ops import worker

NATS = ("127.0.0.1", 4222)
RABBIT = ("127.0.0.1", 5672)


def _reachable(address: tuple[str, int]) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(address, timeout=1):
        return True
    return False


# A developer's machine without the brokers skips these; CI (where bin/test starts both)
# never does: an unreachable broker there fails the tests instead of hiding them.
_IN_CI = bool(os.environ.get("CI"))
needs_nats = pytest.mark.skipif(
    not _IN_CI and not _reachable(NATS),
    reason="NATS JetStream is not reachable on 127.0.0.1:4222",
)
needs_rabbit = pytest.mark.skipif(
    not _IN_CI and not _reachable(RABBIT),
    reason="RabbitMQ is not reachable on 127.0.0.1:5672",
)


class Proxy:
    """A TCP proxy in front of a broker; `cut` drops every connection and refuses new ones
    until `restore` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    async def restore(self) -> None:
        await self.start()


class CutAfter:
    """Passes publishes through and cuts the proxy once `after` events of `aggregate` were
    confirmed (the broker goes away mid-stream, between two confirmed events)."""

    def __init__(self, inner: brokers.Broker, proxy: Proxy, aggregate: str, after: int) -> None:
        self.inner, self.proxy, self.aggregate, self.after = inner, proxy, aggregate, after
        self.name = inner.name
        self.count = 0

    async def publish_many(self, messages: Sequence[tuple[FeedEvent, dict[str, Any]]]) -> None:
        # The page up to the cut-off event goes through; then the proxy is cut and the rest
        # of the page fails.
        for i, (event, _) in enumerate(messages):
            if event.aggregate_id == self.aggregate:
                self.count += 1
                if self.count == self.after:
                    await self.inner.publish_many(messages[: i + 1])
                    await self.proxy.cut()
                    await self.inner.publish_many(messages[i + 1 :])
                    return
        await self.inner.publish_many(messages)

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture
def partition(monkeypatch: pytest.MonkeyPatch) -> str:
    name = ids.new_id("part")
    monkeypatch.setattr(relay_module, "PARTITION", name)
    return name


async def _write(
    db: Database, aggregates: list[str], n: int, start: int = 0
) -> dict[str, list[int]]:
    """n events per aggregate, interleaved; {aggregate: [their `n`, in written order]}."""
    written: dict[str, list[int]] = {a: [] for a in aggregates}
    for i in range(start, start + n):
        for aggregate in aggregates:
            async with db.transaction() as conn:
                await events.record(conn, [Event("test.broker", aggregate, {"n": i})])
            written[aggregate].append(i)
    return written


async def _drain(relay: Relay, aggregates: set[str], passes: int = 600) -> None:
    for _ in range(passes):
        with contextlib.suppress(Exception):  # a broker failure: the relay backs off
            if (
                not await relay.run_once()
                and not relay.skip
                and (await relay_module.backlog(relay.db))[0] == 0
            ):
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the relay did not drain the outbox")


async def _until_it_fails(relay: Relay, publisher: CutAfter) -> None:
    """Passes until the cut makes one fail (the feed may serve the events over several pages:
    PostgreSQL holds back rows newer than any transaction open in the cluster)."""
    for _ in range(200):
        try:
            await relay.run_once()
        except Exception:
            assert publisher.count == publisher.after  # it failed on the publish after the cut
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the relay never met the outage")


def _by_aggregate(received: list[dict[str, Any]], aggregates: set[str]) -> dict[str, list[int]]:
    """What arrived of each aggregate's events (their `n`, in arrival order), after checking
    that a copy of an event carries the id of the first (one id per event, one event per id)."""
    out: dict[str, list[int]] = {a: [] for a in aggregates}
    pairs = set()
    for document in received:
        if document["subject"] in aggregates:
            out[document["subject"]].append(document["data"]["n"])
            pairs.add((document["subject"], document["data"]["n"], document["id"]))
    assert len({(a, n) for a, n, _ in pairs}) == len(pairs) == len({i for *_, i in pairs})
    return out


def _first_seen(values: list[int]) -> list[int]:
    return list(dict.fromkeys(values))


# -- NATS JetStream ---------------------------------------------------------------------------


@pytest.fixture
async def jetstream() -> Any:
    run = ids.new_id("run").replace("_", "")
    stream, prefix = f"CW_{run}".upper(), f"cwtest{run}"
    yield stream, prefix
    nc = await nats.connect(f"nats://{NATS[0]}:{NATS[1]}")
    with contextlib.suppress(Exception):
        await nc.jetstream().delete_stream(stream)
    await nc.close()


async def _stream_documents(stream: str, prefix: str) -> list[dict[str, Any]]:
    nc = await nats.connect(f"nats://{NATS[0]}:{NATS[1]}")
    js = nc.jetstream()
    info = await js.stream_info(stream)
    documents = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        message = await js.get_msg(stream, seq)
        assert message.headers is not None
        document = json.loads(message.data or b"")
        # The session's other tests' events are in the feed too: each under its own type.
        assert message.subject == f"{prefix}.{document['type']}"
        assert message.headers["Nats-Msg-Id"] == document["id"]
        documents.append(document)
    await nc.close()
    return documents


def _nats(proxy: Proxy, stream: str, prefix: str) -> NatsPublisher:
    return NatsPublisher(
        f"nats://127.0.0.1:{proxy.port}", stream=stream, prefix=prefix, timeout_s=1.0
    )


@needs_nats
async def test_nats_every_event_arrives_in_order_per_aggregate(
    pg_db: Database, partition: str, jetstream: tuple[str, str]
) -> None:
    stream, prefix = jetstream
    proxy = Proxy(NATS)
    await proxy.start()
    aggregates = [ids.new_id("agg") for _ in range(3)]
    written = await _write(pg_db, aggregates, 4)
    publisher = _nats(proxy, stream, prefix)
    await _drain(Relay(pg_db, publisher, holder="w1", batch=5), set(aggregates))
    await publisher.close()
    await proxy.cut()
    documents = await _stream_documents(stream, prefix)
    assert _by_aggregate(documents, set(aggregates)) == written
    assert all(d["specversion"] == "1.0" and d["id"].startswith("evt_") for d in documents)


@needs_nats
async def test_nats_outage_mid_stream_loses_and_reorders_nothing(
    pg_db: Database, partition: str, jetstream: tuple[str, str]
) -> None:
    stream, prefix = jetstream
    proxy = Proxy(NATS)
    await proxy.start()
    aggregates = [ids.new_id("agg") for _ in range(2)]
    written = await _write(pg_db, aggregates, 5)
    publisher = CutAfter(_nats(proxy, stream, prefix), proxy, aggregates[0], after=3)
    relay = Relay(pg_db, publisher, holder="w1", batch=10_000)
    await _until_it_fails(relay, publisher)
    assert (await relay_module.backlog(pg_db))[0] > 0  # the failed page was not marked
    more = await _write(pg_db, aggregates, 2, start=5)
    await proxy.restore()
    await _drain(relay, set(aggregates))
    await publisher.close()
    await proxy.cut()
    documents = await _stream_documents(stream, prefix)
    # JetStream dropped the events sent again (same Nats-Msg-Id): each is in the stream once.
    assert _by_aggregate(documents, set(aggregates)) == {
        a: written[a] + more[a] for a in aggregates
    }


@needs_nats
async def test_nats_two_relays_at_once_publish_each_event_once(
    pg_db: Database, partition: str, jetstream: tuple[str, str]
) -> None:
    stream, prefix = jetstream
    proxy = Proxy(NATS)
    await proxy.start()
    aggregates = [ids.new_id("agg") for _ in range(2)]
    written = await _write(pg_db, aggregates, 6)
    first, second = _nats(proxy, stream, prefix), _nats(proxy, stream, prefix)
    await asyncio.gather(
        _drain(Relay(pg_db, first, holder="w1", batch=3), set(aggregates)),
        _drain(Relay(pg_db, second, holder="w2", batch=3), set(aggregates)),
    )
    await first.close()
    await second.close()
    await proxy.cut()
    documents = await _stream_documents(stream, prefix)
    assert _by_aggregate(documents, set(aggregates)) == written


# -- RabbitMQ ---------------------------------------------------------------------------------


@pytest.fixture
async def rabbit_queue() -> Any:
    """A unique exchange, and a queue bound to all of it (declared before anything is sent)."""
    exchange_name = ids.new_id("cwtest.events")
    conn = await aio_pika.connect(f"amqp://guest:guest@{RABBIT[0]}:{RABBIT[1]}/")
    channel = await conn.channel()
    exchange = await channel.declare_exchange(
        exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="#")
    yield exchange_name, queue
    await exchange.delete()
    await conn.close()


async def _queued(queue: aio_pika.abc.AbstractQueue) -> list[dict[str, Any]]:
    documents = []
    while (message := await queue.get(no_ack=True, fail=False, timeout=5)) is not None:
        document = json.loads(message.body)
        assert message.message_id == document["id"]
        assert message.routing_key == document["type"]
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        documents.append(document)
    return documents


def _rabbit(proxy: Proxy, exchange: str) -> RabbitPublisher:
    return RabbitPublisher(
        f"amqp://guest:guest@127.0.0.1:{proxy.port}/", exchange=exchange, timeout_s=2.0
    )


@needs_rabbit
async def test_rabbitmq_every_event_arrives_in_order_per_aggregate(
    pg_db: Database, partition: str, rabbit_queue: Any
) -> None:
    exchange, queue = rabbit_queue
    proxy = Proxy(RABBIT)
    await proxy.start()
    aggregates = [ids.new_id("agg") for _ in range(3)]
    written = await _write(pg_db, aggregates, 4)
    publisher = _rabbit(proxy, exchange)
    await _drain(Relay(pg_db, publisher, holder="w1", batch=5), set(aggregates))
    await publisher.close()
    await proxy.cut()
    assert _by_aggregate(await _queued(queue), set(aggregates)) == written


@needs_rabbit
async def test_rabbitmq_outage_mid_stream_loses_and_reorders_nothing(
    pg_db: Database, partition: str, rabbit_queue: Any
) -> None:
    exchange, queue = rabbit_queue
    proxy = Proxy(RABBIT)
    await proxy.start()
    aggregates = [ids.new_id("agg") for _ in range(2)]
    written = await _write(pg_db, aggregates, 5)
    publisher = CutAfter(_rabbit(proxy, exchange), proxy, aggregates[0], after=3)
    relay = Relay(pg_db, publisher, holder="w1", batch=10_000)
    await _until_it_fails(relay, publisher)
    assert (await relay_module.backlog(pg_db))[0] > 0  # the failed page was not marked
    more = await _write(pg_db, aggregates, 2, start=5)
    await proxy.restore()
    await _drain(relay, set(aggregates))
    await publisher.close()
    await proxy.cut()
    got = _by_aggregate(await _queued(queue), set(aggregates))
    for aggregate in aggregates:
        expected = written[aggregate] + more[aggregate]
        # At least once: the confirmed ones come again, with the same ids, and the first
        # sighting of each id is in the order it was written.
        assert _first_seen(got[aggregate]) == expected
        assert set(got[aggregate]) == set(expected)


@needs_rabbit
async def test_rabbitmq_two_relays_at_once_publish_each_event_once(
    pg_db: Database, partition: str, rabbit_queue: Any
) -> None:
    exchange, queue = rabbit_queue
    proxy = Proxy(RABBIT)
    await proxy.start()
    aggregates = [ids.new_id("agg") for _ in range(2)]
    written = await _write(pg_db, aggregates, 6)
    first, second = _rabbit(proxy, exchange), _rabbit(proxy, exchange)
    await asyncio.gather(
        _drain(Relay(pg_db, first, holder="w1", batch=3), set(aggregates)),
        _drain(Relay(pg_db, second, holder="w2", batch=3), set(aggregates)),
    )
    await first.close()
    await second.close()
    await proxy.cut()
    assert _by_aggregate(await _queued(queue), set(aggregates)) == written


# -- Kafka, through the producer seam ---------------------------------------------------------


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, dict[str, bytes]]] = []
        self.started = self.stopped = 0
        self.fail_next = False
        self.broken = False

    async def start(self) -> None:
        self.started += 1

    async def stop(self) -> None:
        self.stopped += 1
        self.broken = False

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]:
        delivery: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail_next or self.broken:  # the connection broke: nothing more is acknowledged
            self.fail_next, self.broken = False, True
            delivery.set_exception(ConnectionError("kafka unavailable"))
            return delivery
        assert value is not None and key is not None
        self.sent.append((topic, key, value, dict(headers or [])))
        delivery.set_result(None)
        return delivery


async def test_kafka_keys_by_aggregate_and_reconnects_after_a_failure(
    sqlite_db: Database, partition: str
) -> None:
    producer = FakeProducer()
    publisher = KafkaPublisher("127.0.0.1:9092", make_producer=lambda _: producer)
    aggregates = [ids.new_id("agg") for _ in range(2)]
    written = await _write(sqlite_db, aggregates, 3)
    producer.fail_next = True
    relay = Relay(sqlite_db, publisher, holder="w1")
    await _drain(relay, set(aggregates))
    assert producer.stopped == 1 and producer.started == 2  # dropped, then connected again
    ours = [s for s in producer.sent if s[1].decode() in aggregates]
    assert {topic for topic, *_ in ours} == {"cartwright.events"}
    for aggregate in aggregates:
        sent = [json.loads(value) for _, key, value, _ in ours if key.decode() == aggregate]
        assert [d["data"]["n"] for d in sent] == written[aggregate]
    for _, _, value, headers in ours:
        assert json.loads(value)["id"] == headers["ce_id"].decode()


# -- The URL ----------------------------------------------------------------------------------


def test_the_factory_builds_the_adapter_the_url_names() -> None:
    nats_publisher = brokers.from_url("nats://127.0.0.1:4222/ORDERS")
    assert isinstance(nats_publisher, NatsPublisher) and nats_publisher.stream == "ORDERS"
    assert nats_publisher.servers == "nats://127.0.0.1:4222"
    assert isinstance(brokers.from_url("nats://127.0.0.1:4222"), NatsPublisher)
    assert isinstance(brokers.from_url("amqp://guest:guest@127.0.0.1:5672/%2F"), RabbitPublisher)
    kafka = brokers.from_url("kafka://k1:9092,k2:9092")
    assert isinstance(kafka, KafkaPublisher) and kafka.bootstrap_servers == "k1:9092,k2:9092"
    for bad in ("redis://127.0.0.1:6379", "127.0.0.1:4222", "nats://", "nats://h:port"):
        with pytest.raises(brokers.BrokerURLError):
            brokers.from_url(bad)


def test_a_bad_broker_url_is_a_configuration_problem() -> None:
    assert not [p for p in Settings().configuration_problems() if "BROKER" in p]
    assert not [
        p
        for p in Settings(broker_url="nats://127.0.0.1:4222").configuration_problems()
        if "BROKER" in p
    ]
    [problem] = [
        p for p in Settings(broker_url="redis://x:1").configuration_problems() if "BROKER" in p
    ]
    assert problem.startswith("CARTWRIGHT_BROKER_URL must be")


# -- The worker job ---------------------------------------------------------------------------


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


@needs_rabbit
async def test_the_worker_job_relays_reconnects_after_an_outage_and_counts(
    pg_db: Database, partition: str
) -> None:
    proxy = Proxy(RABBIT)
    await proxy.start()
    # The job's default exchange (cartwright.events), a queue of this test's own bound to it.
    conn = await aio_pika.connect(f"amqp://guest:guest@{RABBIT[0]}:{RABBIT[1]}/")
    channel = await conn.channel()
    exchange = await channel.declare_exchange(
        "cartwright.events", aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="test.broker")
    settings = Settings(broker_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}/")
    job = RelayJob(pg_db, settings)
    published_before = _sample("cartwright_events_published_total", {"broker": "rabbitmq"})
    errors_before = _sample("cartwright_event_relay_errors_total", {"broker": "rabbitmq"})
    aggregate = ids.new_id("agg")
    written = await _write(pg_db, [aggregate], 3)

    async def drain() -> None:
        for _ in range(600):
            with contextlib.suppress(Exception):
                await job.run()
                if _sample("cartwright_outbox_backlog") == 0:
                    return
            await asyncio.sleep(0.01)
        raise AssertionError("the job did not drain the outbox")

    await drain()
    await proxy.cut()  # the broker goes away between two passes
    more = await _write(pg_db, [aggregate], 2, start=3)
    with pytest.raises(Exception):  # noqa: B017 - whatever the client raises for a lost server
        for _ in range(200):  # the feed may serve the new events a little later (see above)
            await job.run()
            await asyncio.sleep(0.01)
    assert _sample("cartwright_event_relay_errors_total", {"broker": "rabbitmq"}) > errors_before
    assert _sample("cartwright_outbox_backlog") >= 2
    await proxy.restore()
    await drain()  # a new connection, once the backoff is over
    assert _sample("cartwright_outbox_oldest_unpublished_seconds") == 0
    assert _sample("cartwright_events_published_total", {"broker": "rabbitmq"}) >= (
        published_before + 5
    )
    await job.close()
    await proxy.cut()
    got = _by_aggregate(await _queued(queue), {aggregate})
    assert _first_seen(got[aggregate]) == written[aggregate] + more[aggregate]
    await conn.close()


async def test_without_a_broker_url_the_job_publishes_nothing(
    sqlite_db: Database, partition: str
) -> None:
    await _write(sqlite_db, [ids.new_id("agg")], 1)
    job = RelayJob(sqlite_db, Settings(broker_url=None))
    assert not job.enabled
    assert await job.run() == 0
    assert (await relay_module.backlog(sqlite_db))[0] >= 1  # the events stay in the database
    assert "event_relay" in [name for name, _, _ in worker.JOBS]


def test_a_bad_broker_url_stops_the_worker_at_start_with_one_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CARTWRIGHT_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "CARTWRIGHT_BROKER_URL": "redis://127.0.0.1:6379",
    }
    result = subprocess.run(
        [sys.executable, "-m", "cartwright.cli", "worker"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = [x for x in result.stderr.splitlines() if "CARTWRIGHT_BROKER_URL" in x]
    assert line.startswith("invalid configuration: CARTWRIGHT_BROKER_URL must be nats://")
