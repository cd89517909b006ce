import sqlalchemy as sa

from cartwright.kit.schema import Json, Timestamp, id_column, metadata, timestamps

# One attempt to turn a cart into an order: the saga's durable state between its commits.
# `snapshot` is the priced cart (lines, totals, addresses) the payment was asked for, so
# recovery can place exactly that order after a crash.
checkouts = sa.Table(
    "checkouts",
    metadata,
    id_column(),
    sa.Column("cart_id", sa.String(64), nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False, unique=True),
    sa.Column("payment_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("snapshot", Json, nullable=False),
    # When the recovery worker should look at it next (a lease while it does).
    sa.Column("next_check_at", Timestamp, nullable=False),
    # The idempotency record of the request that started it, to complete on recovery.
    sa.Column("idempotency_owner", sa.String(64), nullable=True),
    sa.Column("idempotency_route", sa.String(300), nullable=True),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    # The W3C traceparent of the request that started it (when traced), for recovery's
    # span to link to.
    sa.Column("trace_context", sa.String(64), nullable=True),
    *timestamps(),
    # Only unfinished checkouts are ever looked for, so only they are indexed.
    sa.Index(
        "ix_checkouts_unfinished_next_check_at",
        "next_check_at",
        postgresql_where=sa.text("status IN ('processing', 'awaiting_payment', 'canceling')"),
        sqlite_where=sa.text("status IN ('processing', 'awaiting_payment', 'canceling')"),
    ),
)
