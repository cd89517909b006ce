"""Fraud screening: the order's risk (score, decision, reasons) and its review, and the
denylist the built-in rules read (ADR 0024).

Revision ID: 0022
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0022"
down_revision = "0024"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("risk", _JSON, nullable=True))
        batch.add_column(sa.Column("risk_review", sa.String(16), nullable=True))
    op.create_table(
        "risk_denylist",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(320), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "value", name="uq_risk_denylist_kind_value"),
    )


def downgrade() -> None:
    op.drop_table("risk_denylist")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("risk_review")
        batch.drop_column("risk")
