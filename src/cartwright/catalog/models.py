import sqlalchemy as sa

from cartwright.kit.schema import id_column, metadata, timestamps

products = sa.Table(
    "products",
    metadata,
    id_column(),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    *timestamps(),
)

variants = sa.Table(
    "variants",
    metadata,
    id_column(),
    sa.Column(
        "product_id", sa.String(64), sa.ForeignKey("products.id"), nullable=False, index=True
    ),
    sa.Column("sku", sa.String(100), nullable=False, unique=True),
    sa.Column("title", sa.String(500), nullable=True),
    sa.Column("weight_grams", sa.Integer, nullable=True),
    sa.Column("position", sa.Integer, nullable=False),
    # The product tax class: standard, reduced, zero, exempt (ADR 0025).
    sa.Column("tax_class", sa.String(16), server_default="standard", nullable=False),
)

# Base prices per currency. The pricing module (price lists per channel, promotions)
# resolves on top of these when it arrives.
variant_prices = sa.Table(
    "variant_prices",
    metadata,
    sa.Column("variant_id", sa.String(64), sa.ForeignKey("variants.id"), primary_key=True),
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
)
