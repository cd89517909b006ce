import sqlalchemy as sa

from cartwright.kit.schema import Json, Timestamp, id_column, metadata, timestamps

# Where a cart is made and an order placed: its currencies, whether its prices include tax,
# its capture policy, its price list, the warehouses and shipping methods it uses, and what
# checkout does when the fraud service cannot answer. Lists that are empty mean "all".
channels = sa.Table(
    "channels",
    metadata,
    id_column(),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("currencies", Json, nullable=False),
    sa.Column("prices_include_tax", sa.Boolean, nullable=False, server_default=sa.false()),
    # "automatic" | "manual"; None: the setting CARTWRIGHT_CAPTURE_METHOD.
    sa.Column("capture_method", sa.String(16), nullable=True),
    sa.Column("price_list_id", sa.String(64), nullable=True),
    sa.Column("warehouses", Json, nullable=False),
    sa.Column("shipping_methods", Json, nullable=False),
    sa.Column("fraud_failure_mode", sa.String(16), nullable=False, server_default="open"),
    *timestamps(),
)

# Prices on top of the variants' base prices, for a channel, a customer group, a time window
# (all optional); the most specific list valid now wins, then the highest priority.
price_lists = sa.Table(
    "price_lists",
    metadata,
    id_column(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(64), nullable=True),
    sa.Column("customer_group", sa.String(64), nullable=True),
    sa.Column("starts_at", Timestamp, nullable=True),
    sa.Column("ends_at", Timestamp, nullable=True),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    *timestamps(),
)

# One price of a list: for a SKU in a currency, from `min_quantity` units per line (tiers).
price_list_prices = sa.Table(
    "price_list_prices",
    metadata,
    sa.Column("price_list_id", sa.String(64), sa.ForeignKey("price_lists.id"), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("min_quantity", sa.BigInteger, primary_key=True, server_default="1"),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Index("ix_price_list_prices_sku_currency", "sku", "currency"),
)
