"""Natural keys for rows the checkout writes.

Each index on those tables is written on every checkout. A reservation is identified by
what it holds stock for and which stock (reference, warehouse, SKU), and an order line by
its order and position, so those become the primary keys and the surrogate-key indexes
go. The sandbox provider's reference needs no unique index of its own (it is a fresh
time-ordered id).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reservations") as batch:
        batch.drop_index("ix_reservations_reference")
        batch.drop_constraint("pk_reservations", type_="primary")
        batch.drop_column("id")
        batch.create_primary_key("pk_reservations", ["reference", "warehouse_id", "sku"])
    with op.batch_alter_table("order_lines") as batch:
        batch.drop_index("ix_order_lines_order_id")
        batch.drop_constraint("pk_order_lines", type_="primary")
        batch.create_primary_key("pk_order_lines", ["order_id", "position"])
    with op.batch_alter_table("sandbox_psp_payments") as batch:
        batch.drop_constraint("uq_sandbox_psp_payments_reference", type_="unique")


def downgrade() -> None:
    import sqlalchemy as sa

    with op.batch_alter_table("sandbox_psp_payments") as batch:
        batch.create_unique_constraint("uq_sandbox_psp_payments_reference", ["reference"])
    with op.batch_alter_table("order_lines") as batch:
        batch.drop_constraint("pk_order_lines", type_="primary")
        batch.create_primary_key("pk_order_lines", ["id"])
        batch.create_index("ix_order_lines_order_id", ["order_id"])
    with op.batch_alter_table("reservations") as batch:
        batch.drop_constraint("pk_reservations", type_="primary")
        batch.add_column(sa.Column("id", sa.String(64), nullable=True))
        batch.create_index("ix_reservations_reference", ["reference"])
