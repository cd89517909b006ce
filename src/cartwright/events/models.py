import sqlalchemy as sa

from cartwright.kit.schema import Json, Serial, Timestamp, metadata

# The transactional outbox: written in the same transaction as the state change it reports.
# `seq` orders events as they were written; `published_at` is for the broker relay.
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
    sa.Index("ix_events_type_seq", "type", "seq"),
    # Events about one thing: its history, a customer's export and erasure.
    sa.Index("ix_events_aggregate_id_seq", "aggregate_id", "seq"),
)
