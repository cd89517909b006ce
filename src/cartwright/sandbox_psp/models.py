import sqlalchemy as sa

from cartwright.kit.schema import Timestamp, metadata

# The simulated provider's own books (it runs in-process for now): what it authorized,
# keyed by the merchant's idempotency key, so a retried or recovered call finds it again.
sandbox_psp_payments = sa.Table(
    "sandbox_psp_payments",
    metadata,
    sa.Column("idempotency_key", sa.String(255), primary_key=True),
    sa.Column("reference", sa.String(64), nullable=False),
    # What the token did (a decline's reason); the token itself is never kept.
    sa.Column("decline_code", sa.String(64), nullable=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("amount_captured", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", Timestamp, nullable=False),
)
