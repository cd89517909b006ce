"""Shipping: an order records whether its shipping price is the zone's flat rate taken
because the carrier could not be asked (ADR 0026).

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(
            sa.Column("shipping_fallback", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("shipping_fallback")
