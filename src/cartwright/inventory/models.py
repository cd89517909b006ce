import sqlalchemy as sa

from cartwright.kit.schema import Timestamp, id_column, metadata

warehouses = sa.Table(
    "warehouses",
    metadata,
    id_column(),
    sa.Column("name", sa.String(200), nullable=False),
)

stock_levels = sa.Table(
    "stock_levels",
    metadata,
    sa.Column("warehouse_id", sa.String(64), sa.ForeignKey("warehouses.id"), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("on_hand", sa.BigInteger, nullable=False),
    sa.Column("reserved", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.CheckConstraint("on_hand >= 0", name="on_hand_non_negative"),
    sa.CheckConstraint("reserved >= 0", name="reserved_non_negative"),
)

# Units held for one reference (an order being paid for, then an open order) until they are
# released (payment failed, order canceled) or shipped.
reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("reference", sa.String(64), primary_key=True),
    sa.Column("warehouse_id", sa.String(64), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)
