"""The sandbox payment provider keeps its books itself: it is a server of its own now
(`cartwright sandbox-psp`, or embedded in-process), creating its tables on its own
database at start, so its old table leaves the platform's schema.

The old books are test money only and are not carried over: a sandbox payment whose
result was still unknown is then unknown to the provider, and recovery voids and fails
it as for any payment the provider never saw.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("sandbox_psp_payments")


def downgrade() -> None:
    # Back as 0010 left it, empty.
    op.create_table(
        "sandbox_psp_payments",
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("amount_captured", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decline_code", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_sandbox_psp_payments")),
    )
