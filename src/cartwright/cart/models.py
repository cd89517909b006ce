import sqlalchemy as sa

from cartwright.kit.schema import Json, Timestamp, id_column, metadata, timestamps

carts = sa.Table(
    "carts",
    metadata,
    id_column(),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("shipping_address", Json, nullable=True),
    sa.Column("billing_address", Json, nullable=True),
    sa.Column("shipping_method", sa.String(64), nullable=True),
    sa.Column("order_id", sa.String(64), nullable=True),
    # When a checkout last froze the cart: such a cart is never purged (a checkout, a
    # payment or an order refers to it).
    sa.Column("checkout_started_at", Timestamp, nullable=True),
    *timestamps(),
    # The signed-in customer the cart belongs to (None: a guest's cart).
    sa.Column("customer_id", sa.String(64), nullable=True),
    sa.Index("ix_carts_customer_id", "customer_id"),
    # The code of the channel the cart was made in (channels.channels).
    sa.Column("channel", sa.String(64), nullable=False, server_default="default"),
    # A business customer's tax id (normalized; an EU VAT number's format checked).
    sa.Column("tax_id", sa.String(32), nullable=True),
    # The promotion codes the shopper applied, as a JSON list, in the order applied.
    sa.Column("promotion_codes", Json, nullable=True),
    # The promotions the cart was last shown with after a change (`{id: amount}`):
    # checkout refuses to charge more than that unseen when one ran out (ADR 0028).
    sa.Column("promotions_shown", Json, nullable=True),
)

cart_lines = sa.Table(
    "cart_lines",
    metadata,
    id_column(),
    sa.Column("cart_id", sa.String(64), sa.ForeignKey("carts.id"), nullable=False),
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.UniqueConstraint("cart_id", "sku"),
)
