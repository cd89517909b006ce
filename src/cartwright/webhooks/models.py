import sqlalchemy as sa

from cartwright.kit.schema import Json, Timestamp, id_column, metadata, timestamps

# A merchant's receiver of events. `events`: the types it subscribed to (`*` for all).
# `consecutive_failures` / `failing_since` count the failed attempts since its last success,
# for disabling an endpoint that keeps failing.
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    id_column(),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("events", Json, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("description", sa.String(500), nullable=True),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failing_since", Timestamp, nullable=True),
    sa.Column("disabled_reason", sa.String(200), nullable=True),
    *timestamps(),
)

# Signing secrets, sealed with the server's secret key (kit/crypto.py, ADR 0007). While a
# secret is rotated, the old one keeps signing until `expires_at`.
webhook_secrets = sa.Table(
    "webhook_secrets",
    metadata,
    id_column(),
    sa.Column("endpoint_id", sa.String(64), sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("sealed", sa.String(500), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=True),
    sa.Index(None, "endpoint_id"),
)

# One event for one endpoint. `generation` 0 is the first delivery; every replay of the event
# to the endpoint is a new delivery with the next generation (same event id).
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    id_column(),
    sa.Column("endpoint_id", sa.String(64), sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Timestamp, nullable=True),
    sa.Column("leased_until", Timestamp, nullable=True),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.String(200), nullable=True),
    *timestamps(),
    sa.UniqueConstraint("endpoint_id", "event_id", "generation"),
    sa.Index(None, "endpoint_id", "created_at"),
    sa.Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        postgresql_where=sa.text("status IN ('pending', 'failed')"),
        sqlite_where=sa.text("status IN ('pending', 'failed')"),
    ),
)

# Every attempt of a delivery: what the receiver answered (or why nothing came back).
webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    id_column(),
    sa.Column("delivery_id", sa.String(64), sa.ForeignKey("webhook_deliveries.id"), nullable=False),
    sa.Column("attempted_at", Timestamp, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("error", sa.String(200), nullable=True),
    sa.Column("response_excerpt", sa.String(1024), nullable=True),
    sa.Index(None, "delivery_id", "attempted_at"),
)

# How far each dispatcher has read the outbox (one row per dispatcher name): just after the
# event at (last_txid, last_seq). `last_txid` is for the commit-ordered feed (0 until then).
webhook_dispatch_cursors = sa.Table(
    "webhook_dispatch_cursors",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("last_txid", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)
