"""Fewer indexes on the checkout path.

Every index on a table the checkout writes is maintained on each checkout, and an update of
an indexed column (a checkout's or payment's status) rewrites every index of the row.
Dropped: indexes no query uses. The recovery worker's index now covers only unfinished
checkouts, the only ones it looks for.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("status IN ('processing', 'awaiting_payment')")


def upgrade() -> None:
    op.drop_index("ix_payments_status_updated_at", table_name="payments")
    op.drop_index("ix_checkouts_cart_id", table_name="checkouts")
    op.drop_index("ix_checkouts_status_next_check_at", table_name="checkouts")
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    with op.batch_alter_table("checkouts") as batch:
        batch.drop_constraint("uq_checkouts_payment_id", type_="unique")
    op.create_index(
        "ix_checkouts_unfinished_next_check_at",
        "checkouts",
        ["next_check_at"],
        postgresql_where=UNFINISHED,
        sqlite_where=UNFINISHED,
    )


def downgrade() -> None:
    op.drop_index("ix_checkouts_unfinished_next_check_at", table_name="checkouts")
    with op.batch_alter_table("checkouts") as batch:
        batch.create_unique_constraint("uq_checkouts_payment_id", ["payment_id"])
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    op.create_index("ix_checkouts_status_next_check_at", "checkouts", ["status", "next_check_at"])
    op.create_index("ix_checkouts_cart_id", "checkouts", ["cart_id"])
    op.create_index("ix_payments_status_updated_at", "payments", ["status", "updated_at"])
