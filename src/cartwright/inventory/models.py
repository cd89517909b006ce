import sqlalchemy as sa

from cartwright.kit.schema import Timestamp, id_column, metadata

# Stock locations. A checkout takes a SKU's units from the warehouses that serve the
# shipping country (`countries` empty: every country), lowest `priority` first (ADR 0016).
warehouses = sa.Table(
    "warehouses",
    metadata,
    id_column(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("code", sa.String(32), nullable=True, unique=True),
    sa.Column("priority", sa.Integer, nullable=False, server_default="100"),
    # ISO 3166-1 alpha-2 codes, comma-separated, sorted; empty: serves every country.
    sa.Column("countries", sa.String(1000), nullable=False, server_default=""),
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

# The inventory journal: one row for every change of a stock level, written in the same
# transaction (or atomic batch) as the change. For every (warehouse, sku) the sums of the
# deltas are the level's on_hand and reserved (ADR 0016). Append-only.
inventory_movements = sa.Table(
    "inventory_movements",
    metadata,
    id_column(),  # im_…, time-ordered: the journal's order and the low-stock job's feed
    sa.Column("warehouse_id", sa.String(64), nullable=False),
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("delta_on_hand", sa.BigInteger, nullable=False),
    sa.Column("delta_reserved", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    # What caused it: an order id (reserved, released, shipped, restocked), the caller's
    # reference of an adjustment or count (a delivery note, a stock-take).
    sa.Column("reference", sa.String(200), nullable=True),
    sa.Column("note", sa.String(1000), nullable=True),
    sa.Column("actor_key_id", sa.String(64), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index("ix_inventory_movements_sku_id", "sku", "id"),
)

# Per-SKU low-stock watch: the threshold (NULL: CARTWRIGHT_LOW_STOCK_THRESHOLD, if set)
# and whether `inventory.low` has fired since available stock was last above it.
stock_alerts = sa.Table(
    "stock_alerts",
    metadata,
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("threshold", sa.BigInteger, nullable=True),
    sa.Column("low", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("updated_at", Timestamp, nullable=False),
)

# Where a background job of the inventory stopped reading the journal, and its lease.
inventory_cursors = sa.Table(
    "inventory_cursors",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("position", Timestamp, nullable=True),
    sa.Column("leased_until", Timestamp, nullable=True),
)
