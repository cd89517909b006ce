"""Inventory: the journal of stock movements, stock locations (code, priority, countries
served), the per-SKU low-stock watch and the cursor of the job that reads the journal.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from cartwright.kit.ids import new_id

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("warehouses") as batch:
        batch.add_column(sa.Column("code", sa.String(32), nullable=True))
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="100"))
        batch.add_column(sa.Column("countries", sa.String(1000), nullable=False, server_default=""))
        batch.create_unique_constraint("uq_warehouses_code", ["code"])
    op.create_table(
        "inventory_movements",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("warehouse_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(100), nullable=False),
        sa.Column("delta_on_hand", sa.BigInteger, nullable=False),
        sa.Column("delta_reserved", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.Column("actor_key_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inventory_movements"),
    )
    op.create_index("ix_inventory_movements_sku_id", "inventory_movements", ["sku", "id"])
    # Stock that existed before the journal: one `opening` movement per level, so the sums
    # of the deltas are the levels from the start.
    bind = op.get_bind()
    levels = bind.execute(
        sa.text("SELECT warehouse_id, sku, on_hand, reserved, updated_at FROM stock_levels")
    ).fetchall()
    if levels:
        movements = sa.table(
            "inventory_movements",
            *(sa.column(c) for c in ("id", "warehouse_id", "sku", "delta_on_hand")),
            *(sa.column(c) for c in ("delta_reserved", "reason", "note", "created_at")),
        )
        op.bulk_insert(
            movements,
            [
                {
                    "id": new_id("im"),
                    "warehouse_id": row.warehouse_id,
                    "sku": row.sku,
                    "delta_on_hand": row.on_hand,
                    "delta_reserved": row.reserved,
                    "reason": "opening",
                    "note": "the level before the journal began",
                    "created_at": row.updated_at,
                }
                for row in levels
            ],
        )
    op.create_table(
        "stock_alerts",
        sa.Column("sku", sa.String(100), nullable=False),
        sa.Column("threshold", sa.BigInteger, nullable=True),
        sa.Column("low", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sku", name="pk_stock_alerts"),
    )
    op.create_table(
        "inventory_cursors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_inventory_cursors"),
    )


def downgrade() -> None:
    op.drop_table("inventory_cursors")
    op.drop_table("stock_alerts")
    op.drop_index("ix_inventory_movements_sku_id", table_name="inventory_movements")
    op.drop_table("inventory_movements")
    with op.batch_alter_table("warehouses") as batch:
        batch.drop_constraint("uq_warehouses_code", type_="unique")
        batch.drop_column("countries")
        batch.drop_column("priority")
        batch.drop_column("code")
