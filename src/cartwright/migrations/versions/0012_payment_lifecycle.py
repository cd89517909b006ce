"""The payment lifecycle after checkout: the contract's payment states, amounts reserved
for captures and refunds in flight, the operations (captures, refunds, voids) with our
idempotency keys, the provider webhooks already applied, and checkouts `canceling`.

States renamed: `processing` → `pending`, `declined` → `failed` (the decline code stays in
`failure_code`), `canceled` → `voided` when something had been authorized, else `failed`
with `failure_code` `canceled`.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _unfinished_index(statuses: str) -> None:
    op.drop_index("ix_checkouts_unfinished_next_check_at", table_name="checkouts")
    op.create_index(
        "ix_checkouts_unfinished_next_check_at",
        "checkouts",
        ["next_check_at"],
        postgresql_where=sa.text(f"status IN ({statuses})"),
        sqlite_where=sa.text(f"status IN ({statuses})"),
    )


def upgrade() -> None:
    # A checkout whose awaited payment the worker is canceling is unfinished too.
    _unfinished_index("'processing', 'awaiting_payment', 'canceling'")
    with op.batch_alter_table("payments") as batch:
        batch.add_column(
            sa.Column("capture_pending", sa.BigInteger, nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("refund_pending", sa.BigInteger, nullable=False, server_default="0")
        )
    op.execute("UPDATE payments SET status = 'pending' WHERE status = 'processing'")
    op.execute("UPDATE payments SET status = 'failed' WHERE status = 'declined'")
    op.execute(
        "UPDATE payments SET status = CASE WHEN amount_authorized > 0 THEN 'voided'"
        " ELSE 'failed' END, failure_code = CASE WHEN amount_authorized > 0 THEN failure_code"
        " ELSE 'canceled' END WHERE status = 'canceled'"
    )
    op.create_table(
        "payment_operations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("payment_id", sa.String(64), sa.ForeignKey("payments.id"), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("final", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("provider_reference", sa.String(200), nullable=True),
        sa.Column("failure_code", sa.String(64), nullable=True),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
    )
    op.create_index("ix_payment_operations_order_id", "payment_operations", ["order_id"])
    op.create_index(
        "ix_payment_operations_pending",
        "payment_operations",
        ["next_check_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "psp_webhook_events",
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("payment_id", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    _unfinished_index("'processing', 'awaiting_payment'")
    op.drop_table("psp_webhook_events")
    op.drop_index("ix_payment_operations_pending", table_name="payment_operations")
    op.drop_index("ix_payment_operations_order_id", table_name="payment_operations")
    op.drop_table("payment_operations")
    op.execute("UPDATE payments SET status = 'processing' WHERE status = 'pending'")
    op.execute(
        "UPDATE payments SET status = 'canceled' WHERE status = 'voided'"
        " OR (status = 'failed' AND failure_code = 'canceled')"
    )
    op.execute(
        "UPDATE payments SET status = 'declined' WHERE status = 'failed'"
        " AND failure_code <> 'provider_unreachable'"
    )
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("refund_pending")
        batch.drop_column("capture_pending")
