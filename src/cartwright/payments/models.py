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
    # Amounts asked of the provider and not yet answered: reserved in the same guarded
    # UPDATE that checks them, so concurrent captures can never exceed the authorization
    # and concurrent refunds never exceed what was captured.
    *money_columns("capture_pending", "refund_pending"),
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

# Captures, refunds and voids after the authorization. The id is ours and the idempotency
# key at the provider: a retried request or the janitor re-sends the same operation, never
# a second one.
payment_operations = sa.Table(
    "payment_operations",
    metadata,
    id_column(),
    sa.Column("payment_id", sa.String(64), sa.ForeignKey("payments.id"), nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # capture, refund, void
    sa.Column("status", sa.String(16), nullable=False),  # pending, succeeded, failed
    sa.Column("currency", sa.String(3), nullable=False),
    *money_columns("amount"),
    sa.Column("final", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("provider_reference", sa.String(200), nullable=True),
    sa.Column("failure_code", sa.String(64), nullable=True),
    # When the janitor next asks about a pending operation.
    sa.Column("next_check_at", Timestamp, nullable=True),
    *timestamps(),
    # What a refund gives back: {goods, discount, shipping, tax} (None: an amount alone).
    sa.Column("breakdown", Json, nullable=True),
    sa.Index(
        "ix_payment_operations_pending",
        "next_check_at",
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    ),
)

# Every verified provider webhook, by the provider's event id: a redelivery finds its row
# and changes nothing.
psp_webhook_events = sa.Table(
    "psp_webhook_events",
    metadata,
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("event_id", sa.String(255), primary_key=True),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("payment_id", sa.String(64), nullable=True),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("received_at", Timestamp, nullable=False),
)

# Disputes (chargebacks) of a payment, as its provider reported them: one row per dispute,
# by the provider's id of it, so a redelivered or reordered notice changes nothing twice.
payment_disputes = sa.Table(
    "payment_disputes",
    metadata,
    id_column(),
    sa.Column("payment_id", sa.String(64), sa.ForeignKey("payments.id"), nullable=False),
    sa.Column("order_id", sa.String(64), nullable=False, index=True),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("provider_reference", sa.String(200), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    *money_columns("amount"),
    sa.Column("reason", sa.String(200), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # opened, won, lost
    *timestamps(),
    sa.Column("closed_at", Timestamp, nullable=True),
    sa.UniqueConstraint("provider", "provider_reference"),
)
