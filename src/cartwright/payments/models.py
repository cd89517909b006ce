import sqlalchemy as sa

from cartwright.kit.schema import Json, Timestamp, id_column, metadata, money_columns, timestamps

# One payment of an order. Its id is the idempotency key sent to the provider, so a retry
# or a recovery lookup can never create a second charge.
payments = sa.Table(
    "payments",
    metadata,
    id_column(),
    sa.Column("order_id", sa.String(64), nullable=False, index=True),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    *money_columns("amount", "amount_authorized", "amount_captured", "amount_refunded"),
    sa.Column("capture_method", sa.String(16), nullable=False),
    sa.Column("provider_reference", sa.String(200), nullable=True),
    sa.Column("failure_code", sa.String(64), nullable=True),
    sa.Column("failure_message", sa.String(500), nullable=True),
    sa.Column("next_action", Json, nullable=True),
    # When the result became unknown (timeout, crash): recovery asks the provider after a while.
    sa.Column("unknown_since", Timestamp, nullable=True),
    *timestamps(),
    # Only payments whose result is unknown are counted (the unknown-payments gauge), so
    # only they are indexed: the checkout's inserts and moves never touch it.
    sa.Index(
        "ix_payments_unknown_since",
        "unknown_since",
        postgresql_where=sa.text("status = 'unknown'"),
        sqlite_where=sa.text("status = 'unknown'"),
    ),
)
