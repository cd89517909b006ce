"""The order lifecycle after checkout (ADR 0017): fulfilments, returns, the units refunded
by lines, a cancellation begun, and the breakdown of a refund.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "fulfillments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(64), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("lines", _JSON, nullable=False),
        sa.Column("tracking_number", sa.String(200), nullable=True),
        sa.Column("carrier", sa.String(100), nullable=True),
        sa.Column("capture_status", sa.String(16), nullable=False),
        sa.Column("capture_amount", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("capture_final", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("capture_check_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
    )
    op.create_index("ix_fulfillments_order_id", "fulfillments", ["order_id"])
    op.create_table(
        "order_returns",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(64), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("lines", _JSON, nullable=False),
        sa.Column("received", _JSON, nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("refund_id", sa.String(64), nullable=True),
        *_timestamps(),
    )
    op.create_index("ix_order_returns_order_id", "order_returns", ["order_id"])
    op.create_table(
        "order_refund_units",
        sa.Column("operation_id", sa.String(64), primary_key=True),
        sa.Column("line_id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
    )
    with op.batch_alter_table("order_lines") as batch:
        batch.add_column(
            sa.Column("quantity_refunded", sa.BigInteger, nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("quantity_returned", sa.BigInteger, nullable=False, server_default="0")
        )
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("cancel_requested_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("cancel_check_at", sa.DateTime(timezone=True)))
    with op.batch_alter_table("payment_operations") as batch:
        batch.add_column(sa.Column("breakdown", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment_operations") as batch:
        batch.drop_column("breakdown")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("cancel_check_at")
        batch.drop_column("cancel_requested_at")
    with op.batch_alter_table("order_lines") as batch:
        batch.drop_column("quantity_returned")
        batch.drop_column("quantity_refunded")
    op.drop_table("order_refund_units")
    op.drop_index("ix_order_returns_order_id", table_name="order_returns")
    op.drop_table("order_returns")
    op.drop_index("ix_fulfillments_order_id", table_name="fulfillments")
    op.drop_table("fulfillments")
