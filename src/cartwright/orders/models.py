import sqlalchemy as sa

from cartwright.kit.schema import Json, Serial, metadata, money_columns, timestamps

orders = sa.Table(
    "orders",
    metadata,
    # `number` is the human-facing order number; `id` the API's opaque id.
    sa.Column("number", Serial, sa.Identity(start=1001), primary_key=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("cart_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("payment_status", sa.String(24), nullable=False),
    sa.Column("fulfillment_status", sa.String(24), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("shipping_address", Json, nullable=True),
    sa.Column("billing_address", Json, nullable=True),
    sa.Column("shipping_method", sa.String(64), nullable=True),
    *money_columns(
        "subtotal", "discount", "shipping", "tax", "total", "amount_captured", "amount_refunded"
    ),
    sa.Column("next_action", Json, nullable=True),
    *timestamps(),
    # The signed-in customer whose cart it was (None: a guest's order).
    sa.Column("customer_id", sa.String(64), nullable=True),
    # The payment's latest dispute as the order shows it (`{id, status, amount, reason}`).
    sa.Column("dispute", Json, nullable=True),
    sa.Index("ix_orders_customer_id_id", "customer_id", "id"),
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("order_id", sa.String(64), sa.ForeignKey("orders.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("variant_id", sa.String(64), nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    *money_columns("unit_price", "subtotal", "tax", "total"),
    sa.Column("quantity_fulfilled", sa.BigInteger, nullable=False, server_default="0"),
)
