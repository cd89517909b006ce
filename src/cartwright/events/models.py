import sqlalchemy as sa

from cartwright.kit.schema import Json, Serial, Timestamp, metadata

# The transactional outbox: written in the same transaction as the state change it reports.
# `seq` numbers events as they were inserted; `txid` (PostgreSQL only: the inserting
# transaction's id, a column default, so the checkout's INSERT is unchanged) lets the feed
# serve only rows no open transaction can precede (events/service.py `feed`, ADR 0019).
# `published_at` is set by the broker relay once the broker confirmed the event.
events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", Serial, sa.Identity(), primary_key=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("aggregate_id", sa.String(64), nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("published_at", Timestamp, nullable=True),
    sa.Column("txid", sa.BigInteger, nullable=True),
    # The feed's order (PostgreSQL: txid, then seq; SQLite: txid is NULL, seq alone).
    sa.Index("ix_events_txid_seq", "txid", "seq"),
    sa.Index("ix_events_type_txid_seq", "type", "txid", "seq"),
    # Events about one thing: its history, a customer's export and erasure.
    sa.Index("ix_events_aggregate_id_seq", "aggregate_id", "seq"),
)

# Where each relay partition has got to in the feed, and which worker holds it (a lease taken
# with a guarded update; a worker that lost it can no longer move the cursor).
event_relay_leases = sa.Table(
    "event_relay_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=True),
    sa.Column("lease_until", Timestamp, nullable=True),
    sa.Column("cursor_txid", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cursor_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", Timestamp, nullable=False),
)

# Idempotent consumers (events/consumers.py): an event handled by a consumer, once.
event_inbox = sa.Table(
    "event_inbox",
    metadata,
    sa.Column("consumer", sa.String(64), primary_key=True),
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("handled_at", Timestamp, nullable=False),
)

# The first consumer's read model (events/consumers.py): orders placed per customer,
# counted from `order.placed` events through the inbox (a redelivery counts nothing).
customer_order_counts = sa.Table(
    "customer_order_counts",
    metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("orders_placed", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", Timestamp, nullable=False),
)

# Each platform consumer's place in the feed (events/consumers.py `ConsumerJob`) and the
# worker holding it: a lease taken with a guarded update, as the relay's partitions.
event_consumers = sa.Table(
    "event_consumers",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=True),
    sa.Column("lease_until", Timestamp, nullable=True),
    sa.Column("cursor_txid", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cursor_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", Timestamp, nullable=False),
)

# Events a consumer gave up on after its handler failed on every attempt: set aside (and
# marked handled in the inbox) so the consumer goes on; listed for an operator to look at.
event_parked = sa.Table(
    "event_parked",
    metadata,
    sa.Column("consumer", sa.String(64), primary_key=True),
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.String(500), nullable=False),
    sa.Column("parked_at", Timestamp, nullable=False),
)
