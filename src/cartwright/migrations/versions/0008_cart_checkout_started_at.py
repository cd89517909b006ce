"""Carts remember that a checkout started, so the purge of abandoned carts never deletes
a cart some checkout (and so a payment or an order) refers to.

`carts.checkout_started_at` is set by the same statement that freezes the cart for a
checkout; carts with a checkout from before this migration get it from their checkouts.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("carts") as batch:
        batch.add_column(sa.Column("checkout_started_at", sa.DateTime(timezone=True)))
    op.execute(
        "UPDATE carts SET checkout_started_at = updated_at"
        " WHERE id IN (SELECT cart_id FROM checkouts)"
    )


def downgrade() -> None:
    with op.batch_alter_table("carts") as batch:
        batch.drop_column("checkout_started_at")
