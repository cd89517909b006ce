"""Order numbers in blocks.

A process takes a block of 20 order numbers at a time (`orders.service.OrderNumbers`), so
a checkout spends no round trip on its number. Block `n` holds numbers 20n+1 .. 20n+20.
PostgreSQL keeps the block counter in a sequence, SQLite in a one-row table (it replaces
the per-number counter of 0002). Both start past any number already given out.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The first block whose numbers all lie above the highest number given out (1000 if none).
FIRST_FREE_BLOCK = "(SELECT (COALESCE(MAX(number), 1000) + 19) / 20 FROM orders)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_table("order_number_counter")
        op.create_table(
            "order_number_blocks",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("value", sa.BigInteger, nullable=False),
        )
        # `value` is the last block taken; the next UPDATE ... RETURNING takes the one after.
        op.execute(
            f"INSERT INTO order_number_blocks (id, value) VALUES (1, {FIRST_FREE_BLOCK} - 1)"
        )
        return
    op.execute("CREATE SEQUENCE order_number_blocks")
    op.execute(f"SELECT setval('order_number_blocks', {FIRST_FREE_BLOCK}, false)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_table("order_number_blocks")
        op.create_table(
            "order_number_counter",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("value", sa.BigInteger, nullable=False),
        )
        op.execute(
            "INSERT INTO order_number_counter (id, value)"
            " SELECT 1, COALESCE(MAX(number), 1000) FROM orders"
        )
        return
    op.execute("DROP SEQUENCE order_number_blocks")
