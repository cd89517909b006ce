import sqlalchemy as sa

from cartwright.kit.schema import Json, Timestamp, id_column, metadata, timestamps

# Mail to shoppers about their orders, queued by the `order_mail` consumer from the feed
# (one per event: `event_id` is unique) and handed to the notifier by the sender job.
notifications = sa.Table(
    "notifications",
    metadata,
    id_column(),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=True),  # None once erased
    sa.Column("payload", Json, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("sent_at", Timestamp, nullable=True),
    *timestamps(),
    sa.Index("ix_notifications_status_created_at", "status", "created_at"),
    sa.Index("ix_notifications_order_id", "order_id"),
)

# Low stock for operators, recorded by the `stock_alerts` consumer from `inventory.low`
# (one per event) and acknowledged by an operator.
low_stock_alerts = sa.Table(
    "low_stock_alerts",
    metadata,
    id_column(),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("available", sa.Integer, nullable=False),
    sa.Column("threshold", sa.Integer, nullable=False),
    sa.Column("acknowledged_at", Timestamp, nullable=True),
    sa.Column("acknowledged_by", sa.String(64), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index("ix_low_stock_alerts_created_at", "created_at"),
)
