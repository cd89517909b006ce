"""Tax: a variant's tax class; a cart's tax id; an order's tax id, exemption reason and
whether its tax was estimated from the built-in rates because the tax provider did not
answer (ADR 0025).

Revision ID: 0023
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("variants") as batch:
        batch.add_column(
            sa.Column("tax_class", sa.String(16), server_default="standard", nullable=False)
        )
    with op.batch_alter_table("carts") as batch:
        batch.add_column(sa.Column("tax_id", sa.String(32), nullable=True))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("tax_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("tax_exempt_reason", sa.String(32), nullable=True))
        batch.add_column(
            sa.Column("tax_estimated", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("tax_estimated")
        batch.drop_column("tax_exempt_reason")
        batch.drop_column("tax_id")
    with op.batch_alter_table("carts") as batch:
        batch.drop_column("tax_id")
    with op.batch_alter_table("variants") as batch:
        batch.drop_column("tax_class")
