"""Order numbers allocated before the order is written.

The checkout takes the order's number in its first commit (so the second commit can write
the order, its events and the stored response in one statement). PostgreSQL draws it from
the identity sequence of `orders.number`; SQLite has no sequences, so it gets a one-row
counter table.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_table(
        "order_number_counter",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO order_number_counter (id, value) VALUES (1, 1000)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_table("order_number_counter")
