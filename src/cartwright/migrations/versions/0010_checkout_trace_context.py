"""Observability: the trace a checkout started in (W3C traceparent), so the recovery
worker's run that finishes it links to the checkout's trace; and a partial index of the
payments whose result is unknown, which the worker counts for its gauges.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checkouts") as batch:
        batch.add_column(sa.Column("trace_context", sa.String(64), nullable=True))
    op.create_index(
        "ix_payments_unknown_since",
        "payments",
        ["unknown_since"],
        postgresql_where=sa.text("status = 'unknown'"),
        sqlite_where=sa.text("status = 'unknown'"),
    )


def downgrade() -> None:
    op.drop_index("ix_payments_unknown_since", table_name="payments")
    with op.batch_alter_table("checkouts") as batch:
        batch.drop_column("trace_context")
